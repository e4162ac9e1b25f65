"""Does the stage keep moving when the studio is not in front? Measured in a real window.

Headless Chromium never hides a page, so this runs Chromium with windows on a virtual X
display (Xvfb) with a window manager (openbox), fake camera (the smiling face), local server.
The camera alternates a smiling and a neutral face every 1.5 s. The studio opens the stage
window; then the studio's window is shown, minimised (xdotool), and covered by the stage
window, and for each state it prints over --seconds: the studio's visibilityState, what
drives its loop, camera frames it processed per second, weight frames the stage received and
drew per second, and how many smile/neutral changes the stage's avatar followed.

Needs Debian's xvfb, openbox and xdotool (apt-get install xvfb openbox xdotool).
Usage: .venv/bin/python scripts/bench_background.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

STUDIO_TITLE = "Mimic: train a model of your face"


def x_display() -> tuple[subprocess.Popen, subprocess.Popen, str]:
    display = ":97"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    env = dict(os.environ, DISPLAY=display)
    wm = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return xvfb, wm, display


def xdo(display: str, *args: str) -> str:
    done = subprocess.run(["xdotool", *args], env=dict(os.environ, DISPLAY=display),
                          capture_output=True, text=True, timeout=10)
    return done.stdout.strip()


def measure(studio, stage, seconds: float) -> dict:
    read = ("() => ({frames: mimicBridge.stats.frames, vis: document.visibilityState, "
            "driver: document.body.dataset.loopDriver || 'video-frames'})")
    s0, t0 = studio.evaluate(read), time.monotonic()
    g0 = stage.evaluate("({...mimicStage.stats})")
    smiling, changes = None, 0  # the camera alternates faces: does the stage follow?
    while time.monotonic() - t0 < seconds:
        v = stage.evaluate("mimicStage.view.weightsNow().morphs.mouthSmileLeft || 0")
        now = True if v > 0.3 else False if v < 0.1 else smiling
        changes += smiling is not None and now is not None and now != smiling
        smiling = now if now is not None else smiling
        time.sleep(0.1)
    s1, t1 = studio.evaluate(read), time.monotonic()
    g1 = stage.evaluate("({...mimicStage.stats})")
    dt = t1 - t0
    return {"visibility": s1["vis"], "driver": s1["driver"],
            "studio fps": (s1["frames"] - s0["frames"]) / dt,
            "stage weights/s": (g1["frames"] - g0["frames"]) / dt,
            "stage draws/s": (g1["draws"] - g0["draws"]) / dt, "face changes": changes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    for tool in ("Xvfb", "openbox", "xdotool"):
        if not shutil.which(tool):
            print(f"{tool} is missing: apt-get install xvfb openbox xdotool", file=sys.stderr)
            return 2
    xvfb, wm, display = x_display()
    os.environ["DISPLAY"] = display
    rows = []
    try:
        from playwright.sync_api import sync_playwright

        with tempfile.TemporaryDirectory() as tmp, harness.app_server() as url, \
                sync_playwright() as p:
            video = harness.write_y4m(Path(tmp) / "alternating.y4m", [
                (harness.astronaut_png(), 45), (harness.NEUTRAL_FACES[0], 45)], fps=30)
            browser = p.chromium.launch(
                executable_path=harness.chromium_path(), headless=False,
                args=harness.chromium_args(video, True),
                # measure what a browser does by default, not Playwright's test settings
                ignore_default_args=["--disable-background-timer-throttling",
                                     "--disable-backgrounding-occluded-windows",
                                     "--disable-renderer-backgrounding"])
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            studio = context.new_page()
            studio.goto(url + "/")
            harness.wait_ready(studio)
            studio.wait_for_function("window.mimicAvatar && mimicAvatar.input", timeout=60_000)
            with studio.expect_popup() as popup:
                studio.click("#btn-stage")
            stage = popup.value
            stage.wait_for_function("window.mimicStage && mimicStage.stats.frames > 10",
                                    timeout=60_000)
            studio.bring_to_front()
            time.sleep(2)
            rows.append(("studio shown", measure(studio, stage, args.seconds)))
            window = xdo(display, "search", "--name", STUDIO_TITLE).split()[0]
            xdo(display, "windowminimize", window)
            time.sleep(2)
            rows.append(("studio minimised", measure(studio, stage, args.seconds)))
            xdo(display, "windowactivate", window)
            time.sleep(2)
            stage_win = xdo(display, "search", "--name", "Mimic stage").split()[0]
            xdo(display, "windowsize", stage_win, "1600", "1000")
            xdo(display, "windowmove", stage_win, "0", "0")
            xdo(display, "windowactivate", stage_win)
            time.sleep(2)
            rows.append(("studio covered by the stage", measure(studio, stage, args.seconds)))
            browser.close()
    finally:
        wm.terminate()
        xvfb.terminate()
    keys = ["visibility", "driver", "studio fps", "stage weights/s", "stage draws/s",
            "face changes"]
    print(f"\n{'state':30}" + "".join(f"{k:>18}" for k in keys))
    for name, row in rows:
        cells = [f"{row[k]:.1f}" if isinstance(row[k], float) else str(row[k]) for k in keys]
        print(f"{name:30}" + "".join(f"{c:>18}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
