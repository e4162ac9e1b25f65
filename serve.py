"""Run Mimic locally, or build it as a static site.

    python serve.py                 # vendor the runtime if needed, serve on http://127.0.0.1:8000
    python serve.py --port 9000 --host 0.0.0.0
    python serve.py --build site/   # write a self-contained static site (e.g. for GitHub Pages)
    python serve.py --vmc           # also relay the page's VMC output to UDP 127.0.0.1:39539
    python serve.py --vmc 192.168.1.20:39540

Standard library only, so it works on a fresh machine before anything is installed.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import typing
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "scripts"))

import vendor  # noqa: E402
import vmcrelay  # noqa: E402

# What the site is made of; nothing else in the repository is served.
SITE_FILES = ("index.html", "pyscript.toml", "sw.js", "manifest.webmanifest")
SITE_DIRS = ("web", "py")
# py/mimic as one archive, unpacked by PyScript ([files] in pyscript.toml).
PACKAGE_ZIP = "mimic.zip"

MIME = {
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".wasm": "application/wasm",
    ".task": "application/octet-stream",
    ".toml": "text/plain; charset=utf-8",
    ".py": "text/plain; charset=utf-8",
    ".vrm": "model/gltf-binary",
    ".glb": "model/gltf-binary",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
    ".zip": "application/zip",
    ".whl": "application/zip",
}

ISOLATION_HEADERS = {
    # PyScript workers need SharedArrayBuffer, which needs cross-origin isolation.
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


PACKAGES = ("mimic", "studio")  # under py/: the core library and the page's views


def package_zip() -> bytes:
    """py/mimic and py/studio zipped, so the page fetches all its Python in one request."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for package in PACKAGES:
            for path in sorted((ROOT / "py" / package).rglob("*.py")):
                zf.write(path, path.relative_to(ROOT / "py").as_posix())
    return buf.getvalue()


PRECACHE = "precache.json"
# Runtime files the app never fetches (it installs nothing with micropip, and MediaPipe
# picks its SIMD build on every browser that runs the app). scikit-learn and what it needs
# (joblib, threadpoolctl) are kept: training offline tries its straight-line readout.
_NOT_PRECACHED = ("micropip-", "packaging-", "vision_wasm_nosimd_internal", ".stamp")


def precache_manifest() -> dict:
    """What the service worker keeps for offline use, and a version that changes with it.

    The version hashes names, sizes and modification times (cheap on every request) plus the
    Python package zip, so any change to what is served gives a new cache that replaces the
    old one. MIMIC_PRECACHE_SALT lets tests force a new version.
    """
    files = [name for name in SITE_FILES if (ROOT / name).exists() and name != "sw.js"]
    for top in SITE_DIRS:
        if top == "py":
            files.append("py/main.py")  # the packages are served inside mimic.zip
            continue
        for path in sorted((ROOT / top).rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            if (path.is_file() and _is_served(rel) and not rel.endswith(".map")
                    and not any(part in rel for part in _NOT_PRECACHED)):
                files.append(rel)
    digest = hashlib.sha256(os.environ.get("MIMIC_PRECACHE_SALT", "").encode())
    for rel in files:
        st = (ROOT / rel).stat()
        digest.update(f"{rel}:{st.st_size}:{st.st_mtime_ns};".encode())
    digest.update(package_zip())
    return {"version": digest.hexdigest()[:16], "files": ["./", PACKAGE_ZIP, *files]}


def _is_served(rel: str) -> bool:
    parts = Path(rel).parts
    if not parts or ".." in parts or any(p.startswith(".") and p != ".stamp" for p in parts):
        return False
    if "__pycache__" in parts:
        return False
    return rel in SITE_FILES or parts[0] in SITE_DIRS


VENDOR_PREFIX = "web/vendor/"


class QuietServer(http.server.ThreadingHTTPServer):
    """A browser cancels requests all the time (a reload, a closed tab, a fetch it no
    longer needs); that is normal, so it is not reported as an error with a traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError,
                                          ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with the right types and isolation headers, limited to the site files."""

    extensions_map: typing.ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        **MIME,
    }

    def end_headers(self) -> None:
        for key, value in ISOLATION_HEADERS.items():
            self.send_header(key, value)
        # The app's own files are revalidated on every load, as they are edited here. The
        # vendored runtime is pinned and hash-checked: like GitHub Pages (ten minutes for every
        # file), a returning visit reuses it without a round trip per file.
        vendored = self.path.lstrip("/").startswith(VENDOR_PREFIX)
        self.send_header("Cache-Control", "max-age=600" if vendored else "no-cache")
        super().end_headers()

    def do_GET(self) -> None:
        relay = getattr(self.server, "relay", None)
        if relay is not None and self.path.split("?", 1)[0] == vmcrelay.PATH:
            relay.handle(self)  # the page's VMC output, on to UDP (only with --vmc)
            return
        super().do_GET()

    def send_head(self):
        rel = self.path.split("?", 1)[0].split("#", 1)[0].lstrip("/")
        if rel in ("", PACKAGE_ZIP, PRECACHE):
            return self._send_generated(rel)
        if not _is_served(rel):
            self.send_error(404, "Not part of the site")
            return None
        return super().send_head()

    def _send_generated(self, rel: str):
        if rel == "":
            self.path = "/index.html"
            return super().send_head()
        if rel == PRECACHE:
            body, ctype = json.dumps(precache_manifest()).encode(), "application/json"
        else:
            body, ctype = package_zip(), "application/zip"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:  # type: ignore[attr-defined]
            super().log_message(format, *args)


def ensure_avatar() -> Path:
    """Generate the built-in avatar (scripts/make_avatar.py, not committed) if needed.

    Its geometry is numpy; on a machine without numpy, numpy is installed from PyPI into
    .vendor-cache/pylib for this purpose only.
    """
    try:
        import numpy  # noqa: F401
    except ImportError:
        target = ROOT / ".vendor-cache" / "pylib"
        if not (target / "numpy").is_dir():
            print("[vendor] numpy (to build the avatar) ...", flush=True)
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target",
                            str(target), "numpy==2.0.2"], check=True)
        sys.path.insert(0, str(target))
    import make_avatar

    return make_avatar.ensure()


def build(dest: Path) -> Path:
    """Write the static site: what serve() serves, plus mimic.zip, with no server logic."""
    dest = dest.resolve()
    if dest == ROOT or (ROOT in dest.parents and dest.name in SITE_DIRS):
        raise SystemExit(f"refusing to build into {dest}")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in SITE_FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    for top in SITE_DIRS:
        for path in sorted((ROOT / top).rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            if path.is_file() and _is_served(rel) and rel != "web/vendor/.stamp":
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest / rel)
    (dest / PACKAGE_ZIP).write_bytes(package_zip())
    (dest / PRECACHE).write_text(json.dumps(precache_manifest()))
    (dest / ".nojekyll").write_text("")  # GitHub Pages: serve files as they are
    return dest


def serve(host: str, port: int, verbose: bool = False,
          vmc: tuple[str, int] | None = None) -> None:
    handler = functools.partial(Handler, directory=str(ROOT))
    server = QuietServer((host, port), handler)
    server.verbose = verbose  # type: ignore[attr-defined]
    server.relay = vmcrelay.Relay(vmc) if vmc else None  # type: ignore[attr-defined]
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
    print(f"Mimic is running at http://{shown}:{server.server_address[1]}/  (Ctrl+C to stop)",
          flush=True)
    if vmc:
        print(f"VMC relay: the page's VMC output goes to {server.relay.describe()} "
              f"(and nowhere else)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped")
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve Mimic locally or build the static site.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--build", metavar="DIR", type=Path, help="write a static site to DIR")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument("--vmc", nargs="?", const="39539", metavar="[HOST:]PORT",
                        help="relay the page's VMC output to this UDP address "
                             "(default 127.0.0.1:39539)")
    args = parser.parse_args(argv)
    vmc = None
    if args.vmc is not None:
        try:
            vmc = vmcrelay.parse_target(args.vmc)
        except ValueError:
            parser.error(f"--vmc wants [HOST:]PORT, got {args.vmc!r}")
    try:
        vendor.ensure()
    except vendor.VendorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    ensure_avatar()
    if args.build:
        out = build(args.build)
        print(f"static site written to {out}")
        return 0
    serve(args.host, args.port, args.verbose, vmc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
