"""What sending to other apps costs: VMC latency, camera fps with the output on and off, and
Python time per frame spent on the outputs.

Headless Chromium, fake camera (the smiling face, 30 fps), the app served by
`serve.py --vmc` in its own process as a user runs it, and a UDP receiver here. Latency is
from the camera frame reaching the page (the frame callback's time, which the page sends
as /VMC/Ext/T) to the frame's last datagram (the one with Apply) arriving from the relay,
both on the wall clock. Fps: the page's processed camera frames per second, sampled once a
second, alternating off and on within the same page. Latency is split into the tracker's
share (the frame's start to MediaPipe's blendshapes, the page's own timer) and the rest.
Python per frame on the outputs two ways, as scripts/bench_core.py times the model: the
output's parts (filling the frame; filling the datagrams and posting them to the socket's
outbox) repeated on the last camera frame, and `studio.outputs`' own timer inside the live
loop, where MediaPipe runs between frames and every frame starts with cold caches. Beside
it, the JavaScript that hands the frame's datagrams to the socket worker right after
Python's frame (web/socket.js `flushSockets`), timed in the live loop by the page.

Usage: .venv/bin/python scripts/bench_output.py [--seconds 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

BUDGET_MS = 30.0
BUDGET_FPS_LOST = 1.0
BUDGET_US = 50.0

# the outputs' parts repeated on the last camera frame: {"fill": us, "<Sender>": us}
PARTS_JS = "mimicApp.outputs.time_parts(300).toJs({dict_converter: Object.fromEntries})"


class Receiver:
    """UDP on 127.0.0.1: per VMC frame, (page frame time in s, arrival on the wall clock)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.frames: list[tuple[float, float]] = []
        self.running = True
        self._t: float | None = None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        from pythonosc.osc_bundle import OscBundle

        while self.running:
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, OSError):
                continue
            arrived = time.time()
            for msg in OscBundle(data):
                if msg.address == "/VMC/Ext/T":
                    self._t = msg.params[0]
                elif msg.address == "/VMC/Ext/Blend/Apply" and self._t is not None:
                    self.frames.append((self._t, arrived))
                    self._t = None


def start_server(udp_port: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(harness.ROOT / "serve.py"), "--port", "0",
                             "--vmc", f"127.0.0.1:{udp_port}"], cwd=harness.ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for _ in range(50):
        found = re.search(r"running at (http://\S+?)/ ", proc.stdout.readline())
        if found:
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, found.group(1)
    proc.terminate()
    raise RuntimeError("serve.py did not start")


def sample_fps(page, seconds: int) -> list[float]:
    out = []
    for _ in range(seconds):
        time.sleep(1.0)
        out.append(page.evaluate("mimicBridge.stats.fps"))
    return out


def js_send_us(page, seconds: float = 3.0) -> float:
    """Handing one frame's datagrams to the socket worker (web/socket.js), timed from JS alone
    at the camera's rate on the page's open socket (the share no Python can save)."""
    page.evaluate("""() => { const ws = mimicApp.vmc.ws; window.__sendTimes = [];
      window.__sendTimer = setInterval(() => { const t0 = performance.now();
        ws.sendAttached(0); window.__sendTimes.push(performance.now() - t0); }, 33); }""")
    time.sleep(seconds)
    times = page.evaluate("clearInterval(window.__sendTimer), window.__sendTimes")
    return statistics.median(times) * 1000.0 if times else float("nan")


def set_vmc(page, on: bool) -> None:
    pressed = page.get_attribute("#vmc-on", "aria-pressed") == "true"
    if pressed != on:
        page.click("#vmc-on")
    if on:
        page.wait_for_function("document.getElementById('output-vmc').dataset.state === 'on'",
                               timeout=15_000)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    receiver = Receiver()
    proc, url = start_server(receiver.port)
    fps_on: list[float] = []
    fps_off: list[float] = []
    latencies: list[float] = []
    python_us: list[float] = []
    encode_us: list[float] = []
    parts: list[dict] = []
    track_ms: list[float] = []
    wait_ms: list[float] = []
    flush_us: list[float] = []
    send_us: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            video = harness.write_y4m(Path(tmp) / "smile.y4m", [(harness.astronaut_png(), 2)])
            with harness.browser(video) as browser:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url + "/")
                harness.wait_ready(page)
                page.wait_for_function("document.body.dataset.offline === 'ready'",
                                       timeout=180_000)
                page.click("#tab-output")
                page.check("#vmc-head")
                time.sleep(2)
                for _ in range(args.rounds):
                    set_vmc(page, False)
                    time.sleep(2)
                    fps_off += sample_fps(page, args.seconds)
                    set_vmc(page, True)
                    time.sleep(2)
                    first = len(receiver.frames)
                    # page clock -> wall clock, measured in the page itself
                    offset_ms = page.evaluate("Date.now() - performance.now()")
                    fps_on += sample_fps(page, args.seconds)
                    track_ms.append(page.evaluate("mimicBridge.stats.trackMedianMs"))
                    wait_ms.append(page.evaluate("mimicBridge.stats.waitMedianMs"))
                    flush_us.append(page.evaluate("mimicBridge.stats.outputsJsMedianUs"))
                    for t, arrived in receiver.frames[first:]:
                        latencies.append(arrived * 1000.0 - (offset_ms + t * 1000.0))
                    python_us.append(page.evaluate("mimicApp.outputs.cost_us().toJs()")[0])
                    encode_us.append(page.evaluate("mimicApp.vmc.time_encode(300)"))
                    parts.append(page.evaluate(PARTS_JS))
                    send_us.append(js_send_us(page))
    finally:
        receiver.running = False
        proc.terminate()
        proc.wait(timeout=10)
    if not latencies:
        print("no VMC frame arrived", file=sys.stderr)
        return 1
    lost = statistics.median(fps_off) - statistics.median(fps_on)
    latency = statistics.median(latencies)
    track = statistics.median(track_ms)
    fill = statistics.median(p["fill"] for p in parts)
    vmc = statistics.median(p["VmcOutput"] for p in parts)
    rows = [
        ("VMC latency, camera frame to datagram out of the relay, median",
         latency, "ms", f"<= {BUDGET_MS:g}"),
        ("... of which tracking (frame start to MediaPipe's blendshapes), median", track, "ms",
         ""),
        ("...... of which the frame waited for the page to run its callback",
         statistics.median(wait_ms), "ms", ""),
        ("... the rest (Python, the socket worker, the relay, UDP)", latency - track, "ms", ""),
        ("VMC latency, worst", max(latencies), "ms", f"<= {BUDGET_MS:g}"),
        ("camera frames per second, VMC off", statistics.median(fps_off), "fps", ""),
        ("camera frames per second, VMC on (perfect sync off, head on)",
         statistics.median(fps_on), "fps", ""),
        ("frames per second lost to the output", lost, "fps", f"<= {BUDGET_FPS_LOST:g}"),
        ("Python per frame on the outputs (fill + send), repeated, median", fill + vmc, "us",
         f"<= {BUDGET_US:g}"),
        ("... filling the output frame", fill, "us", ""),
        ("... VMC: filling the datagrams and posting them to the outbox", vmc, "us", ""),
        ("...... of which mimic.vmc filling the datagrams alone", statistics.median(encode_us),
         "us", ""),
        ("Python per frame on the outputs in the live loop, median (last 256 frames)",
         statistics.median(python_us), "us", ""),
        ("JS per frame handing the datagrams to the socket worker, in the live loop",
         statistics.median(flush_us), "us", ""),
        ("the same hand-over timed from JS alone, on a timer at the camera's rate",
         statistics.median(send_us), "us", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>8}  unit  budget")
    for name, value, unit, budget in rows:
        print(f"{name:<{width}}  {value:8.2f}  {unit:<4}  {budget}")
    print(f"\n{len(latencies)} VMC frames, {args.rounds} rounds x {args.seconds} s per state; "
          "headless Chromium with a fake camera, on a shared 2-core machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
