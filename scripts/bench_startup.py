"""Start-up and live frame-rate benchmark of the page in headless Chromium.

Measures, from navigation start, on this machine with the local server:
  - camera bars live (first frame with a face drawn), empty HTTP cache;
  - first live prediction with a stored model, empty HTTP cache and warm cache;
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


def run_once(browser, url: str, state: dict | None) -> dict[str, float]:
    """Empty cache (new context), then warm cache (second page in the same context)."""
    ctx = browser.new_context(storage_state=state) if state else browser.new_context()
    try:
        page = ctx.new_page()
        urls: list[str] = []
        page.on("request", lambda r: urls.append(r.url))
        page.goto(url + "/")
        out = {"bars_cold_ms": timings(page)["bars"]}
        if state:
            out["predict_cold_ms"] = first_prediction(page)
            assert not heavy(urls), f"start-up fetched {heavy(urls)}"
            time.sleep(5)
            out["fps"] = page.evaluate("mimicBridge.stats.fps")
            out["python_us"] = page.evaluate("mimicBridge.stats.pythonMedianUs")
            page.close()
            page = ctx.new_page()
            page.goto(url + "/")
            out["bars_warm_ms"] = timings(page)["bars"]
            out["predict_warm_ms"] = first_prediction(page)
        return out
    finally:
        ctx.close()


def stored_model_state(browser, url: str, directory: Path) -> dict:
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(url + "/")
    harness.wait_ready(page)
    page.wait_for_function("document.body.dataset.restored === 'true'")
    page.set_input_files("#import-model", str(model_file(directory)))
    page.wait_for_function("document.querySelectorAll('#model-list li').length === 1")
    state = ctx.storage_state(indexed_db=True)
    ctx.close()
    return state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        video = harness.write_y4m(tmpdir / "smile.y4m", [(harness.astronaut_png(), 2)])
        with harness.app_server() as url, harness.browser(video) as browser:
            state = stored_model_state(browser, url, tmpdir)
            first = [run_once(browser, url, None) for _ in range(args.runs)]
            stored = [run_once(browser, url, state) for _ in range(args.runs)]
    rows = [
        ("camera bars live, empty cache", [r["bars_cold_ms"] for r in first], "ms", 2000),
        ("first prediction, stored model, empty cache",
         [r["predict_cold_ms"] for r in stored], "ms", 5000),
        ("first prediction, stored model, warm cache",
         [r["predict_warm_ms"] for r in stored], "ms", 3000),
        ("camera bars live, warm cache", [r["bars_warm_ms"] for r in stored], "ms", 2000),
        ("processed frames per second while predicting", [r["fps"] for r in stored], "fps", 25),
        ("Python per frame (median of last second)", [r["python_us"] for r in stored], "us", 50),
    ]
    print(f"\n{'measure':48} {'median':>9} {'min':>9} {'max':>9}  budget")
    for name, values, unit, budget in rows:
        med = statistics.median(values)
        print(f"{name:48} {med:9.0f} {min(values):9.0f} {max(values):9.0f}  {budget} {unit}")
    print(f"\nruns: {args.runs}; scikit-learn/scipy fetched at start-up: none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
