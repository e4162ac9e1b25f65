"""Start-up and live frame-rate benchmark of the page in headless Chromium.

Measures, from navigation start, on this machine with the local server:
  - camera bars live (first frame with a face drawn), empty HTTP cache;
  - first live prediction with a stored model, empty HTTP cache and warm cache (service
    worker blocked, so these measure the HTTP cache alone), and from the offline copy a first
    visit stored (service worker on: what a returning user gets); each with the Python
    start-up snapshot the first visit made (web/python.mjs), and the two cache rows again
    without it (a browser that dropped it, or a first visit too short to make it);
  - which files were fetched (scikit-learn/scipy must not be, until the user trains);
  - processed camera frames per second while predicting, and Python's per-frame time.

Usage: .venv/bin/python scripts/bench_startup.py [--runs 3]
Prints a table of medians over the runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "py"))

import harness
from mimic import modelfile
from mimic.model import ExpressionModel
from mimic.synthetic import make_dataset


def model_file(directory: Path) -> Path:
    """A model trained natively on synthetic clips, imported through the page's UI."""
    model = ExpressionModel().fit(make_dataset(sessions=2, takes=2, seconds=2.0, seed=1))
    path = directory / "bench.mimic"
    path.write_bytes(modelfile.dumps(model))
    return path


def timings(page) -> dict[str, float]:
    page.wait_for_function("window.mimicBridge && window.mimicBridge.stats.firstBarsAt > 0",
                           timeout=60_000)
    return page.evaluate("({bars: mimicBridge.stats.firstBarsAt})")


def first_prediction(page) -> float:
    page.wait_for_function("window.mimicBridge && mimicBridge.stats.firstPredictionAt > 0",
                           timeout=60_000)
    return page.evaluate("mimicBridge.stats.firstPredictionAt")


def heavy(urls: list[str]) -> list[str]:
    return [u for u in urls if "scipy" in u or "scikit_learn" in u]


def phases(page) -> dict:
    marks = page.evaluate("Object.fromEntries(performance.getEntriesByType('mark')"
                          ".map(m => [m.name, m.startTime]))")
    started = [name.removeprefix("mimic:python-") for name in marks
               if name.startswith("mimic:python-")]
    return {"python_main_ms": marks.get("mimic:main-start", float("nan")),
            "python": started[0] if started else ""}


def run_first_visit(pw, url: str, video: Path) -> dict[str, float]:
    """A new profile: nothing cached, nothing stored."""
    with tempfile.TemporaryDirectory() as profile:
        ctx = launch(pw, profile, video)
        try:
            page = ctx.new_page()
            page.goto(url + "/")
            return {"bars_cold_ms": timings(page)["bars"]}
        finally:
            ctx.close()


def store_model(ctx, url: str, model: Path):
    """A first visit that imports the model through the page's UI, as a user would."""
    page = ctx.new_page()
    page.goto(url + "/")
    harness.wait_ready(page)
    page.wait_for_function("document.body.dataset.restored === 'true'")
    page.set_input_files("#import-model", str(model))
    page.wait_for_function("document.querySelectorAll('#model-list li').length === 1")
    wait_snapshot(page)
    return page


def wait_snapshot(page) -> str:
    """Until the page has made (or found) Python's start-up snapshot, a few seconds after it is
    up: what any visit longer than that leaves behind (web/python.mjs)."""
    page.wait_for_function(
        "!['checking', undefined].includes(document.body.dataset.pythonSnapshot)", timeout=60_000)
    state = page.evaluate("document.body.dataset.pythonSnapshot")
    assert state in ("made", "stored"), f"no Python snapshot: {state}"
    return state


def visit(ctx, url: str, clear_http: bool = False) -> tuple[object, dict[str, float]]:
    """A new visit: first prediction and bars from navigation start, how Python started."""
    if clear_http:
        cdp_page = ctx.new_page()
        ctx.new_cdp_session(cdp_page).send("Network.clearBrowserCache")
        cdp_page.close()
    page = ctx.new_page()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(url + "/")
    out = {"predict": first_prediction(page), "bars": timings(page)["bars"], **phases(page)}
    assert not heavy(urls), f"start-up fetched {heavy(urls)}"
    return page, out


def run_stored(pw, url: str, video: Path, model: Path) -> dict[str, float]:
    """A profile with a stored model and the Python snapshot its first visit made: empty
    HTTP cache, then warm (the disk cache a real browser keeps; a Playwright incognito
    context's memory cache drops files this big); then both again without the snapshot."""
    with tempfile.TemporaryDirectory() as profile:
        ctx = launch(pw, profile, video)
        try:
            store_model(ctx, url, model).close()
            page, cold = visit(ctx, url, clear_http=True)
            assert cold["python"] == "snapshot", cold["python"]
            out = {"predict_cold_ms": cold["predict"]}
            time.sleep(5)
            out["fps"] = page.evaluate("mimicBridge.stats.fps")
            out["python_us"] = page.evaluate("mimicBridge.stats.pythonMedianUs")
            out["python_tight_us"] = tight_loop_us(page)
            page.close()
            page, warm = visit(ctx, url)
            assert warm["python"] == "snapshot", warm["python"]
            out.update(bars_warm_ms=warm["bars"], predict_warm_ms=warm["predict"],
                       python_main_ms=warm["python_main_ms"])
            for clear_http, key in ((False, "predict_warm_fresh_ms"),
                                    (True, "predict_cold_fresh_ms")):
                wait_snapshot(page)
                page.evaluate("caches.delete('python-snapshot')")  # as if never made
                page.close()
                page, fresh = visit(ctx, url, clear_http=clear_http)
                assert fresh["python"] == "fresh", fresh["python"]
                out[key] = fresh["predict"]
            page.close()
            return out
        finally:
            ctx.close()


def run_offline_copy(pw, url: str, video: Path, model: Path) -> dict[str, float]:
    """A returning user: the first visit stored the app for offline use (service worker) and
    a model; the next visit starts from that copy."""
    with tempfile.TemporaryDirectory() as profile:
        ctx = launch(pw, profile, video, offline_copy=True)
        try:
            page = store_model(ctx, url, model)
            page.wait_for_function("document.body.dataset.offline === 'ready'", timeout=180_000)
            page.close()
            page = ctx.new_page()
            page.goto(url + "/")
            out = {"bars_sw_ms": timings(page)["bars"], "predict_sw_ms": first_prediction(page)}
            time.sleep(5)
            out["fps_sw"] = page.evaluate("mimicBridge.stats.fps")
            return out
        finally:
            ctx.close()


def tight_loop_us(page) -> float:
    """The same per-frame Python call, 500 times back to back: the cost without the cold
    caches the camera loop leaves between frames (MediaPipe runs in between)."""
    return page.evaluate("""() => {
      const f = mimicBridge.onFrame; let t = performance.now() + 1e6;
      const t0 = performance.now();
      for (let i = 0; i < 500; i++) f(t += 33.3, true);
      return (performance.now() - t0) * 2; }""")


def launch(pw, profile: str, video: Path, offline_copy: bool = False):
    """A browser profile; without `offline_copy` the service worker is blocked, so the cache
    rows measure the HTTP cache alone, not an offline copy being stored meanwhile."""
    return pw.chromium.launch_persistent_context(
        profile, executable_path=harness.chromium_path(), headless=True,
        args=harness.chromium_args(video, True),
        service_workers="allow" if offline_copy else "block")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        video = harness.write_y4m(tmpdir / "smile.y4m", [(harness.astronaut_png(), 2)])
        model = model_file(tmpdir)
        with harness.app_server() as url, sync_playwright() as pw:
            first = [run_first_visit(pw, url, video) for _ in range(args.runs)]
            stored = [run_stored(pw, url, video, model) for _ in range(args.runs)]
            copies = [run_offline_copy(pw, url, video, model) for _ in range(args.runs)]
    rows = [
        ("camera bars live, empty cache", [r["bars_cold_ms"] for r in first], "ms", 2000),
        ("first prediction, stored model, empty cache",
         [r["predict_cold_ms"] for r in stored], "ms", 5000),
        ("first prediction, stored model, warm cache",
         [r["predict_warm_ms"] for r in stored], "ms", 3000),
        ("... empty cache, no Python snapshot",
         [r["predict_cold_fresh_ms"] for r in stored], "ms", 5000),
        ("... warm cache, no Python snapshot",
         [r["predict_warm_fresh_ms"] for r in stored], "ms", 3000),
        ("camera bars live, warm cache", [r["bars_warm_ms"] for r in stored], "ms", 2000),
        ("first prediction, from the offline copy", [r["predict_sw_ms"] for r in copies], "ms",
         3000),
        ("camera bars live, from the offline copy", [r["bars_sw_ms"] for r in copies], "ms",
         2000),
        ("processed frames per second while predicting", [r["fps"] for r in stored], "fps", 25),
        ("... the same, from the offline copy", [r["fps_sw"] for r in copies], "fps", 25),
        ("Python per frame in the camera loop (median)", [r["python_us"] for r in stored],
         "us", None),
        ("Python per frame back to back (median)", [r["python_tight_us"] for r in stored],
         "us", None),
        ("warm: Python app starts (main.py)", [r["python_main_ms"] for r in stored], "ms",
         None),
    ]
    print(f"\n{'measure':48} {'median':>9} {'min':>9} {'max':>9}  budget")
    for name, values, unit, budget in rows:
        med = statistics.median(values)
        limit = f"{budget} {unit}" if budget is not None else unit
        print(f"{name:48} {med:9.0f} {min(values):9.0f} {max(values):9.0f}  {limit}")
    print(f"\nruns: {args.runs}; scikit-learn/scipy fetched at start-up: none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
