"""Drive the app in a real headless Chromium: local server, fake-camera video, browser launch.

Shared by the browser tests (tests/browser) and the benchmark scripts, so both measure the
same thing. Chromium is Debian's (/usr/bin/chromium), driven by Playwright from PyPI; the
fake camera plays a y4m file made here from the face photos in ../shared/fixtures.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def _fixtures() -> Path:
    """../shared/fixtures beside the project root; MIMIC_FIXTURES overrides it (a clone kept
    elsewhere), and the workplace's own copy is the last resort."""
    if os.environ.get("MIMIC_FIXTURES"):
        return Path(os.environ["MIMIC_FIXTURES"])
    for candidate in (ROOT.parent / "shared" / "fixtures", Path("/work/shared/fixtures")):
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "fixtures"


FIXTURES = _fixtures()
CACHE = ROOT / ".vendor-cache"
CHROMIUM = Path("/usr/bin/chromium")

NEUTRAL_FACES = (
    FIXTURES / "faces" / "andingomfoti-m-oB1mqkdDiU0-unsplash-960.jpg",
    FIXTURES / "faces" / "radu-florin-JyVcAIUAcPM-unsplash-960.jpg",
)
# A smiling face: scikit-image's public-domain astronaut photo, taken from its wheel.
ASTRONAUT_REQ = "scikit-image==0.25.2"
ASTRONAUT_SHA256 = "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"

QUIET_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--mute-audio",
)


def astronaut_png() -> Path:
    """The smiling test face, extracted once from the scikit-image wheel and hash-checked."""
    out = CACHE / "astronaut.png"
    if out.exists() and _sha256(out) == ASTRONAUT_SHA256:
        return out
    CACHE.mkdir(exist_ok=True)
    wheels = list(CACHE.glob("scikit_image-0.25.2-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
             "--disable-pip-version-check", "-d", str(CACHE), ASTRONAUT_REQ],
            check=True,
        )
        wheels = list(CACHE.glob("scikit_image-0.25.2-*.whl"))
    with zipfile.ZipFile(wheels[0]) as zf:
        out.write_bytes(zf.read("skimage/data/astronaut.png"))
    digest = _sha256(out)
    if digest != ASTRONAUT_SHA256:
        raise RuntimeError(f"astronaut.png sha256 {digest} is not the pinned one")
    return out


def synthetic_model(out: Path) -> Path:
    """A model file trained by the command line on synthetic clips (`mimic synth`, then
    `mimic train`), for tests and benchmarks that need a trained model in the page: it
    exercises the paths a user's model takes; it says nothing about quality."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "py")}
    run = [sys.executable, "-m", "mimic"]
    subprocess.run([*run, "synth", "-o", str(out / "clips"), "--sessions", "1"], check=True,
                   env=env, capture_output=True)
    clips = sorted(str(p) for p in (out / "clips").glob("*.json"))
    subprocess.run([*run, "train", *clips, "-o", str(out / "face.mimic")], check=True,
                   env=env, capture_output=True)
    return out / "face.mimic"


# An output's socket (mimicApp.vmc or .vts) handed a shared ring that its worker never reads,
# all but 60 bytes already taken: as if the worker had fallen a whole ring behind.
STALL_SOCKET = """async (output) => {
  const { MessageRing, RING_BYTES } = await import("/web/ring.js");
  const ring = new MessageRing();
  ring.put(new Uint8Array(RING_BYTES - 64), false);
  mimicApp[output].ws.ring = ring;
}"""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Letterbox a photo into the camera frame, the way a webcam would frame a face."""
    canvas = Image.new("RGB", size, (40, 40, 40))
    img = image.convert("RGB")
    img.thumbnail(size, Image.Resampling.LANCZOS)
    canvas.paste(img, ((size[0] - img.width) // 2, (size[1] - img.height) // 2))
    return canvas


def _yuv420(img: Image.Image) -> bytes:
    ycc = np.asarray(img.convert("YCbCr"))
    h, w = ycc.shape[:2]
    y = ycc[:, :, 0]
    chroma = ycc[:, :, 1:].reshape(h // 2, 2, w // 2, 2, 2).mean(axis=(1, 3))
    chroma = np.clip(np.rint(chroma), 0, 255).astype(np.uint8)
    return y.tobytes() + chroma[:, :, 0].tobytes() + chroma[:, :, 1].tobytes()


def write_y4m(path: Path, segments: Sequence[tuple[Path, int]], size=(640, 480), fps=30) -> Path:
    """A y4m (C420jpeg) that shows each image for the given number of frames, then loops."""
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for image_path, frames in segments:
            payload = _yuv420(_fit(Image.open(image_path), size))
            for _ in range(frames):
                f.write(b"FRAME\n")
                f.write(payload)
    return path


def _test_bundle() -> bytes:
    """py/mimic and the core tests as one zip, for running them inside Pyodide."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for sub in ("py/mimic", "tests/core", "tests/pyodide", "scripts"):
            for path in sorted((ROOT / sub).rglob("*.py")):
                zf.write(path, path.relative_to(ROOT).as_posix())
    return buf.getvalue()


def _with_test_routes(base: type) -> type:
    """serve.py's handler plus test-only routes, never part of the app: /__tests__/NAME serves
    tests/pages/NAME, /__tests__/bundle.zip the core and its tests, /__node__/ node_modules."""

    class TestHandler(base):
        def send_head(self):
            path = self.path.split("?", 1)[0]
            if path == "/__tests__/bundle.zip":
                return self._bytes(_test_bundle(), "application/zip")
            if path.startswith("/__tests__/"):
                return self._test_file(path.removeprefix("/__tests__/"))
            if path.startswith("/__node__/"):  # dev-only packages (TF.js baseline)
                return self._node_file(path.removeprefix("/__node__/"))
            return super().send_head()

        def _test_file(self, name: str):
            path = (ROOT / "tests" / "pages" / name).resolve()
            if (ROOT / "tests" / "pages") not in path.parents or not path.is_file():
                self.send_error(404)
                return None
            ctype = self.guess_type(str(path))
            return self._bytes(path.read_bytes(), ctype)

        def _node_file(self, name: str):
            path = (ROOT / "node_modules" / name).resolve()
            if (ROOT / "node_modules") not in path.parents or not path.is_file():
                self.send_error(404)
                return None
            ctype = self.guess_type(str(path))
            return self._bytes(path.read_bytes(), ctype)

        def _bytes(self, body: bytes, ctype: str):
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return io.BytesIO(body)

    return TestHandler


@contextlib.contextmanager
def app_server(root: Path | None = None, port: int = 0) -> Iterator[str]:
    """Serve the app (serve.py's handler, plus /__tests__/) or a built site on 127.0.0.1."""
    sys.path.insert(0, str(ROOT))
    import serve

    if root is None:
        serve.vendor.ensure(quiet=True)
        serve.ensure_avatar()
        handler = functools.partial(_with_test_routes(serve.Handler), directory=str(ROOT))
    else:
        handler = functools.partial(_PlainHandler, directory=str(root))
    server = serve.QuietServer(("127.0.0.1", port), handler)
    server.verbose = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _PlainHandler(http.server.SimpleHTTPRequestHandler):
    """What `python -m http.server` does, minus the request log."""

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def static_server(root: Path) -> Iterator[str]:
    """`python -m http.server` itself, as a user would run it on a built site."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "-d", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        line = proc.stdout.readline()  # "Serving HTTP on 127.0.0.1 port NNNN (...)"
        port = int(line.split(" port ")[1].split()[0])
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def chromium_args(y4m: Path | None = None, fake_ui: bool = True,
                  wav: Path | None = None) -> list[str]:
    args = list(QUIET_FLAGS)
    if y4m is not None:
        args += ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={y4m}"]
    if wav is not None:  # the fake microphone plays this file, looping
        args += [f"--use-file-for-fake-audio-capture={wav}",
                 "--autoplay-policy=no-user-gesture-required"]
    if fake_ui:
        args.append("--use-fake-ui-for-media-stream")
    return args


def chromium_path() -> str:
    if not CHROMIUM.exists():
        found = shutil.which("chromium")
        if not found:
            raise RuntimeError("Debian's chromium is not installed (apt-get install chromium)")
        return found
    return str(CHROMIUM)


@contextlib.contextmanager
def browser(y4m: Path | None = None, fake_ui: bool = True,
            wav: Path | None = None) -> Iterator[object]:
    """A headless Chromium with the fake camera playing `y4m` (None: no camera at all) and,
    with `wav`, a fake microphone playing it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True,
                              args=chromium_args(y4m, fake_ui, wav))
        try:
            yield b
        finally:
            b.close()


def wait_ready(page, timeout_ms: int = 90_000) -> None:
    """Until the loading screen is gone (camera live and Python attached), or an error shows."""
    page.wait_for_function(
        "document.body.dataset.ready === 'true' || !document.getElementById('error').hidden",
        timeout=timeout_ms,
    )
    error = page.locator("#error")
    if error.is_visible():
        raise AssertionError(f"the page showed an error: {error.text_content()}")


def pyodide_page(browser_, url: str, packages: Sequence[str] = ("numpy",)):
    """A page running plain Pyodide with the core library and its tests unpacked."""
    page = browser_.new_page()
    page.goto(f"{url}/__tests__/runner.html?packages={','.join(packages)}")
    page.wait_for_function("window.pyodideReady || window.pyodideError", timeout=120_000)
    error = page.evaluate("window.pyodideError || null")
    if error:
        raise RuntimeError(f"Pyodide did not start: {error}")
    return page


def run_python(page, code: str):
    """Run Python in the runner page; the last expression's value comes back (JSON-able)."""
    return page.evaluate("code => window.runPython(code).then(v => v && v.toJs ? "
                         "v.toJs({dict_converter: Object.fromEntries}) : v)", code)


def bar_value(page, name: str) -> float:
    return float(page.get_attribute(f'.bar[data-name="{name}"]', "aria-valuenow") or "nan")
