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

Usage: .venv/bin/python scripts/bench_voice.py [--seconds 12]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = harness.write_y4m(Path(tmp) / "neutral.y4m", [(harness.NEUTRAL_FACES[0], 2)])
        wav = burst_wav(Path(tmp) / "bursts.wav")
        with harness.app_server() as url, harness.browser(video, wav=wav) as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url + "/")
            harness.wait_ready(page)
            page.wait_for_function("window.mimicAvatar && mimicAvatar.input", timeout=60_000)
            time.sleep(3)
            fps_off = page.evaluate("mimicBridge.stats.fps")
            page.click("#btn-mic")
            page.wait_for_function("mimicApp.voice.hops > 50", timeout=20_000)
            page.evaluate(HOOKS)
            time.sleep(args.seconds)
            onsets = page.evaluate("__onsets")
            moves = page.evaluate("__moves")
            fps_on = page.evaluate("mimicBridge.stats.fps")
            hops = page.evaluate("mimicApp.voice.hops")
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
    print(f"camera frames per second: {fps_off:.1f} before the microphone, {fps_on:.1f} with it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
