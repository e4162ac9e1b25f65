"""Voice to avatar: how long from a sound reaching the page to the avatar's jaw moving, what
a 10 ms audio hop costs Python, and whether the camera loop keeps its rate with the
microphone on.

Headless Chromium, fake camera (a neutral face, 30 fps), fake microphone playing a file
made here: a vowel burst of 0.25 s every 1.5 s, silence between. The page's own code is
instrumented from the outside: the microphone's read() notes when the first loud sample of
each burst reached the page (the newest sample in the ring arrived at the read; each older
one 1/48000 s earlier), the avatar's per-frame hand-over notes when its jaw first opened past
0.1. Latency = jaw moving - sound reaching the page, per burst. Not included: the capture
path before the page (device and browser buffers, about 10-20 ms in a browser) and the
avatar's next draw. Prints medians.

Usage: .venv/bin/python scripts/bench_voice.py [--seconds 12] [--pairs 6] [--window 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

RATE = 48000

HOOKS = """() => {
  const mic = mimicApp.voice.mic;
  const read = mic.read.bind(mic);
  window.__onsets = []; window.__moves = [];
  let loud = false, quietSince = 0;
  mic.read = () => {
    const head = Atomics.load(mic.head, 0);
    const n = read();
    const ctx = mic.ctx, now = performance.now();
    for (let i = 0; i < n; i++) {
      const a = Math.abs(mic.out[i]);
      const at = head - n + i;
      if (!loud && a > 0.05) {
        loud = true;
        // the newest sample arrived just now; this one (head - at) samples earlier
        __onsets.push(now - ((head - at) / ctx.sampleRate) * 1000);
      } else if (loud && a < 0.01) {
        if (!quietSince) quietSince = at;
        if (at - quietSince > 0.3 * ctx.sampleRate) { loud = false; quietSince = 0; }
      } else if (a >= 0.01) quietSince = 0;
    }
    return n;
  };
  const view = mimicAvatar;
  const jaw = view.layout.names.indexOf("jawOpen");
  const frame = view.cameraFrame.bind(view);
  let open = false;
  view.cameraFrame = () => {
    const v = view.input[jaw];
    if (!open && v > 0.1) { open = true; __moves.push(performance.now()); }
    if (open && v < 0.02) open = false;
    frame();
  };
}"""


def burst_wav(path: Path) -> Path:
    t = np.arange(int(0.25 * RATE)) / RATE
    vowel = sum(np.sin(2 * np.pi * k * 120 * t) * np.exp(-0.5 * ((k * 120 - 800) / 150) ** 2)
                for k in range(1, 30))
    vowel = 0.5 * vowel / np.abs(vowel).max()
    period = np.zeros(int(1.5 * RATE))
    period[: len(vowel)] = vowel
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.tile(period, 2) * 32767).astype("<i2").tobytes())
    return path


HOP = """
import sys, time, statistics, json
sys.path.insert(0, '/home/pyodide/bundle/tests')
import numpy as np
from scipy.signal import resample_poly
from core.test_voicemodel import voiced_takes, voice, HIGH
from mimic.model import ExpressionModel
from mimic.voice import VoiceFeatures, VoiceMouth
# the page hears 12 kHz (web/mic.js) and takes a camera frame's worth at a time (~33 ms)
signal = resample_poly(voice("aa", 4.0, 220.0, HIGH, 0.3, seed=1), 1, 4).astype(np.float32)
learned = ExpressionModel(max_iter=30, augment=0.0).fit(voiced_takes()).voice_
out = np.zeros(5, np.float32)
result = {}
for name, mouth in (("default", VoiceMouth()), ("learned", learned.mouth())):
    features = VoiceFeatures(12000)
    times = []
    for i in range(0, len(signal) - 400, 400):
        t0 = time.perf_counter()
        hops = features.push(signal[i:i + 400])
        for row in features.rows[:hops]:
            mouth.step(row, out)
        times.append((time.perf_counter() - t0) / max(hops, 1))
    result[name] = statistics.median(times) * 1e6
json.dumps(result)
"""


def camera_fps(page, seconds: float) -> float:
    """Camera frames the page handed to Python per second, over `seconds`."""
    start = page.evaluate("[mimicBridge.stats.pythonFrames, performance.now()]")
    time.sleep(seconds)
    end = page.evaluate("[mimicBridge.stats.pythonFrames, performance.now()]")
    return (end[0] - start[0]) * 1000.0 / (end[1] - start[1])


def camera_rates(page, pairs: int, window: float) -> dict[str, list[float]]:
    """Camera fps in alternating windows: microphone off, on, and capturing while Python
    reads nothing (the browser's audio work alone), so drift hits all three alike."""
    fps: dict[str, list[float]] = {"off": [], "capture": [], "on": []}
    for _ in range(pairs):
        page.click("#btn-mic")  # off
        fps["off"].append(camera_fps(page, window))
        page.click("#btn-mic")
        page.wait_for_function("mimicApp.voice.hops > 0", timeout=20_000)
        fps["on"].append(camera_fps(page, window))
        page.evaluate("window.__mic = mimicApp.voice.mic; mimicApp.voice.mic = null")
        fps["capture"].append(camera_fps(page, window))
        page.evaluate("mimicApp.voice.mic = window.__mic")
    return fps


def hop_cost(url: str) -> dict[str, float]:
    """Median microseconds per 10 ms hop (features + mouth) in Pyodide, default and learned."""
    import json

    with harness.browser() as browser:
        page = harness.pyodide_page(browser, url, ("numpy", "scipy"))
        return json.loads(harness.run_python(page, HOP))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12.0, help="latency measurement")
    ap.add_argument("--pairs", type=int, default=6, help="rounds of off / on / capture")
    ap.add_argument("--window", type=float, default=5.0, help="seconds per fps window")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = harness.write_y4m(Path(tmp) / "neutral.y4m", [(harness.NEUTRAL_FACES[0], 2)])
        wav = burst_wav(Path(tmp) / "bursts.wav")
        with harness.app_server() as url:
            with harness.browser(video, wav=wav) as browser:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(url + "/")
                harness.wait_ready(page)
                page.wait_for_function("window.mimicAvatar && mimicAvatar.input", timeout=60_000)
                time.sleep(5)  # warm-up: the first seconds run slower
                page.click("#btn-mic")
                page.wait_for_function("mimicApp.voice.hops > 50", timeout=20_000)
                page.evaluate(HOOKS)
                time.sleep(args.seconds)
                onsets = page.evaluate("__onsets")
                moves = page.evaluate("__moves")
                hops = page.evaluate("mimicApp.voice.hops")
                fps = camera_rates(page, args.pairs, args.window)
            hop = hop_cost(url)
    latencies = []
    for onset in onsets:
        after = [m for m in moves if m >= onset - 5]
        if after and after[0] - onset < 500:
            latencies.append(after[0] - onset)
    print(f"\nbursts heard {len(onsets)}, jaw openings {len(moves)}, matched {len(latencies)}, "
          f"hops processed {hops}")
    if latencies:
        print(f"voice to avatar latency, median {statistics.median(latencies):.0f} ms "
              f"(min {min(latencies):.0f}, max {max(latencies):.0f}); budget 80 ms")
    print(f"camera frames per second, {args.pairs} rounds of {args.window:g} s windows:")
    for key, what in (("off", "microphone off"), ("capture", "capturing, Python not reading"),
                      ("on", "microphone on")):
        values = fps[key]
        print(f"  {what:<32} median {statistics.median(values):5.1f}  "
              f"({' / '.join(f'{v:.1f}' for v in values)})")
    print(f"Python per 10 ms hop in Pyodide (features + mouth), median: default mapping "
          f"{hop['default']:.0f} us, learned voice {hop['learned']:.0f} us; budget 100 us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
