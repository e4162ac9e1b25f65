"""Does drawing the avatar cost camera frames? Processed camera fps with and without it.

Headless Chromium, fake camera (the smiling face, 30 fps), local server. For each run the
page loads and finishes storing itself for offline use, then the processed camera frame
rate (MediaPipe + Python per frame) is sampled once a second for --seconds: with the avatar
rendering, with the stage window open beside the studio (its own draw rate too), then with
the studio's avatar render loop stopped. Prints medians over the samples.

Usage: .venv/bin/python scripts/bench_avatar.py [--seconds 10] [--runs 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness


def sample(page, seconds: int) -> tuple[list[float], list[float], list[float]]:
    fps, avatar_fps, render_ms = [], [], []
    for _ in range(seconds):
        time.sleep(1.0)
        stats = page.evaluate("({fps: mimicBridge.stats.fps, a: mimicAvatar.fps,"
                              " ms: mimicAvatar.renderMs, on: mimicAvatar.running})")
        fps.append(stats["fps"])
        if stats["on"]:
            avatar_fps.append(stats["a"])
            render_ms.append(stats["ms"])
    return fps, avatar_fps, render_ms


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    on, off, drawn, ms, staged, stage_draws = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        video = harness.write_y4m(Path(tmp) / "smile.y4m", [(harness.astronaut_png(), 2)])
        with harness.app_server() as url, harness.browser(video) as browser:
            for _ in range(args.runs):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url + "/")
                harness.wait_ready(page)
                page.wait_for_function("window.mimicAvatar && mimicAvatar.info()")
                # the first visit stores the app for offline use in the background; measure
                # the steady state after it
                page.wait_for_function("document.body.dataset.offline === 'ready'",
                                       timeout=180_000)
                time.sleep(2)
                fps, avatar_fps, render_ms = sample(page, args.seconds)
                on += fps
                drawn += avatar_fps
                ms += render_ms
                with page.expect_popup() as popup:
                    page.click("#btn-stage")
                stage = popup.value
                stage.set_viewport_size({"width": 640, "height": 720})
                stage.wait_for_function("window.mimicStage && mimicStage.stats.frames > 10",
                                        timeout=60_000)
                time.sleep(2)
                d0, t0 = stage.evaluate("mimicStage.stats.draws"), time.monotonic()
                staged += sample(page, args.seconds)[0]
                d1, t1 = stage.evaluate("mimicStage.stats.draws"), time.monotonic()
                stage_draws.append((d1 - d0) / (t1 - t0))
                stage.close()
                time.sleep(1)
                page.evaluate("mimicAvatar.stop()")
                time.sleep(2)
                off += sample(page, args.seconds)[0]
                page.close()
    rows = [
        ("camera frames processed per second, avatar on", statistics.median(on), "fps"),
        ("... with the stage window open beside it", statistics.median(staged), "fps"),
        ("stage window: avatar frames drawn per second", statistics.median(stage_draws), "fps"),
        ("camera frames processed per second, avatar off", statistics.median(off), "fps"),
        ("avatar frames drawn per second", statistics.median(drawn), "fps"),
        ("avatar update + render per frame (main thread)", statistics.median(ms), "ms"),
    ]
    print(f"\n{'measure':50} {'median':>8}")
    for name, value, unit in rows:
        print(f"{name:50} {value:8.1f}  {unit}")
    print(f"\nruns: {args.runs} x {args.seconds} s; budget: at least 25 fps with the avatar on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
