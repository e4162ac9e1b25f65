"""VTube Studio output: what it costs per camera frame and how late its values arrive.

1. Python per frame in Pyodide (the runner page, no camera): `mimic.vts.VtsSession.frame` for
   a model with 14 targets (VTS's 16 inputs + 14 Mimic parameters, one JSON message), and the
   same in CPython.
2. The studio in headless Chromium with the fake camera (a smiling face) and the fake VTube
   Studio (tests/vtsfake.py) on a real port:
   - latency: a camera frame's callback time in the page (the `now` the frame loop hands to
     Python, on the page's clock, `performance.timeOrigin + now`) to the fake VTube Studio
     receiving that frame's injection (its request ID carries the frame time), wall clock;
     the same machine, so both clocks agree to about a millisecond;
   - Python spent per frame on the outputs (`studio.outputs` filling the frame + the VTS
     sender; the VMC output off), two ways, as scripts/bench_core.py times the model: the
     parts repeated on the last camera frame (the shared frame, the session's frame, handing
     its message to the socket worker; the sender's whole `send` last, since repeating it
     floods the socket worker and the fake VTube Studio), and the hub's own median over its
     last frames in the live loop (where MediaPipe runs between frames and each starts with
     cold caches);
   - the tracker's share of the latency: the frame's start to MediaPipe's blendshapes (the
     page's own timer);
   - camera frames per second with the VTS output on and off, alternating windows in one run;
   - the outputs' Python per frame again with a trained model imported (trained on synthetic
     clips, for timing only), as a streamer runs it: without one, the output frame computes
     the rule targets from the blendshapes every frame;
   - then, in the live loop, the message handed to the socket worker through the shared ring
     (web/ring.js) against by postMessage, alternating windows in the same page.

Prints tables of medians. Usage: .venv/bin/python scripts/bench_vts.py [--windows 3]
[--seconds 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import harness
from vtsfake import FakeVTS

# the outputs' parts repeated on the last camera frame: {"fill": us, "<Sender>": us}
BATCHED = 300
PARTS_JS = (f"mimicApp.outputs.time_parts({BATCHED})"
            ".toJs({dict_converter: Object.fromEntries})")

CORE = """
import time, numpy as np
from mimic.vts import VtsSession
from mimic.blendshapes import COUNT
names = ("neutral", "happy", "angry", "sad", "relaxed", "surprised", "aa", "ih", "ou", "ee",
         "oh", "blink", "blinkLeft", "blinkRight")
s = VtsSession(token="t", names=names)
s.state = "live"; s._pending = set(); s._plan()
rng = np.random.default_rng(0)
arkit = rng.random(COUNT).astype(np.float32)
head = (rng.random(5).astype(np.float32) - 0.5)
w = rng.random(len(names)).astype(np.float32)
winners = ["happy"] * 30 + ["sad"] * 30
for i in range(200):
    s.frame(arkit, head, w, True, winners[i % 60], i / 30)
times = []
for i in range(3000):
    t0 = time.perf_counter()
    s.frame(arkit, head, w, True, winners[i % 60], 10 + i / 30)
    times.append(time.perf_counter() - t0)
times.sort()
[times[len(times) // 2] * 1e6, times[int(len(times) * 0.95)] * 1e6, len(s.inputs.ids)]
"""


# What handing a message of the injection's size to the socket worker (web/socket.js) costs,
# called from JavaScript (no Python) once per animation frame, as the page sends: the part of
# the sender's time that is the browser's. [median, p90] us.
JS_SEND = """port => new Promise(done => {
  const ws = mimicBridge.openSocket(`ws://localhost:${port}`);
  ws.onopen = () => {
    const msg = JSON.stringify({apiName: "VTubeStudioPublicAPI", apiVersion: "1.0",
      requestID: "bench", messageType: "APIStateRequest", data: {pad: "x".repeat(1000)}});
    const times = [];
    const step = () => {
      const t0 = performance.now();
      ws.send(msg);
      times.push((performance.now() - t0) * 1000);
      if (times.length < 120) return requestAnimationFrame(step);
      times.sort((a, b) => a - b);
      ws.close();
      done([times[times.length >> 1], times[Math.floor(times.length * 0.9)]]);
    };
    requestAnimationFrame(step);
  };
})"""


def core_in_cpython() -> tuple[float, float, int]:
    sys.path.insert(0, str(harness.ROOT / "py"))
    scope: dict = {}
    lines = CORE.strip().splitlines()
    exec("\n".join(lines[:-1]), scope)
    return eval(lines[-1], scope)


def core_in_pyodide(url: str) -> tuple[float, float, int]:
    with harness.browser() as b:
        page = harness.pyodide_page(b, url, ("numpy",))
        return tuple(harness.run_python(page, CORE))


def set_on(page, on: bool) -> None:
    state = page.evaluate("mimicApp.vts.on")
    if bool(state) != on:
        page.evaluate("mimicApp.vts.toggle()")


def window(page, seconds: float) -> tuple[float, float]:
    """(camera frames/s, the outputs' median Python us per frame) over one window."""
    f0 = page.evaluate("mimicBridge.stats.frames")
    t0 = time.monotonic()
    time.sleep(seconds)
    frames = page.evaluate("mimicBridge.stats.frames") - f0
    fps = frames / (time.monotonic() - t0)
    # the hub keeps each step's cost for its last frames: [median, worst] us
    median, _ = page.evaluate("mimicApp.outputs.cost_us().toJs()")
    return fps, median


# When each injection is handed to the socket worker, by its request ID (the frame's time):
# splits the latency into the page's part (face tracking + Python) and the socket's. The
# messages go through the shared ring (web/ring.js, the same module instance as the page's)
# or, without one, by postMessage.
SENT_HOOK = """async () => {
  window.__vtsSent = {};
  const note = (m) => {
    const at = m.indexOf('"requestID":"mimic-');
    if (at >= 0) __vtsSent[m.slice(at + 19, m.indexOf('"', at + 19))] = performance.now();
  };
  const decoder = new TextDecoder();
  const { MessageRing } = await import("/web/ring.js");
  const put = MessageRing.prototype.put;
  MessageRing.prototype.put = function (src, text, wake) {
    if (text) note(decoder.decode(src.subarray(0, 200)));
    return put.call(this, src, text, wake);
  };
  const send = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (msg) {
    let m = msg;
    if (m && m.text instanceof Uint8Array) m = decoder.decode(m.text);
    if (typeof m === "string") note(m);
    return send.apply(this, arguments);
  };
}"""


def studio(url: str, windows: int, seconds: float) -> dict:
    tmp = Path(__import__("tempfile").mkdtemp())
    video = harness.write_y4m(tmp / "smile.y4m", [(harness.astronaut_png(), 2)])
    out: dict = {"on": [], "off": [], "us": [], "latency": [], "page": [], "socket": [],
                 "parts": [], "track": []}
    with FakeVTS() as fake, harness.browser(video) as b:
        page = b.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url + "/")
        harness.wait_ready(page)
        page.evaluate(SENT_HOOK)
        origin = page.evaluate("performance.timeOrigin")
        page.click("#tab-output")
        page.fill("#vts-port", str(fake.port))
        page.dispatch_event("#vts-port", "change")
        page.click("#vts-connect")
        if not fake.wait(lambda: len(fake.injections) > 30, 30):
            raise RuntimeError(page.text_content("#vts-status"))
        out["js_send"] = page.evaluate(JS_SEND, fake.port)
        for _ in range(windows):
            set_on(page, True)
            fake.wait(lambda: fake.logins and len(fake.injections) > 0, 10)
            time.sleep(1.0)  # reconnected and settled
            start = len(fake.received)
            fps, us = window(page, seconds)
            out["on"].append(fps)
            out["us"].append(us)
            out["track"].append(page.evaluate("mimicBridge.stats.trackMedianMs"))
            with fake.lock:
                got = [m for m in fake.received[start:]
                       if m.get("messageType") == "InjectParameterDataRequest"]
            sent = page.evaluate("(() => { const s = __vtsSent; __vtsSent = {}; return s; })()")
            for m in got:
                rid = m["requestID"].removeprefix("mimic-")
                frame_ms = float(rid)
                out["latency"].append(m["wall"] * 1000 - (origin + frame_ms))
                if rid in sent:
                    out["page"].append(sent[rid] - frame_ms)
                    out["socket"].append(m["wall"] * 1000 - (origin + sent[rid]))
            # after the latency's messages are taken: this sends 300 more injections
            out["parts"].append(page.evaluate(PARTS_JS))
            set_on(page, False)
            time.sleep(1.0)
            fps, _ = window(page, seconds)
            out["off"].append(fps)
        # VTube Studio gone, the output still on: the sender returns at once, so the hub's
        # cost is the shared output frame's fill alone
        set_on(page, True)
        fake.stop()
        time.sleep(2.0)
        out["hub_only"] = window(page, seconds)[1]
        # with a trained model, as a streamer runs it (the model is trained on synthetic
        # clips: it times the path, it says nothing about quality): the output frame copies
        # the model's cleaned-up weights instead of computing the rules
        fake.start()
        page.click("#tab-train")
        page.set_input_files("#import-model", str(harness.synthetic_model(tmp)))
        if not fake.wait(lambda: "MimicRelaxed" in fake.last_values(), 60):
            raise RuntimeError(page.text_content("#vts-status"))
        time.sleep(1.0)
        out["model_us"] = window(page, seconds)[1]
        out["model_parts"] = page.evaluate(PARTS_JS)
        out["model_params"] = len(fake.last_values())
        out["handover"] = handover_ab(page, fake, seconds)
    return out


# The page's socket made with or without the shared ring (web/ring.js), for the A/B below.
RING_PATCH = """async (ring) => { const { OffThreadSocket } = await import("/web/socket.js");
  mimicBridge.openSocket = (url, drop = "") => new OffThreadSocket(url, drop, ring); }"""


def handover_ab(page, fake: FakeVTS, seconds: float, rounds: int = 2) -> dict[bool, list]:
    """The outputs' live-loop median with the message handed to the socket worker through
    the shared ring and by postMessage, alternating in the same page (reconnecting each
    time): {True: [us, ...], False: [...]}."""
    out: dict[bool, list] = {True: [], False: []}
    for _ in range(rounds):
        for ring in (True, False):
            page.evaluate(RING_PATCH, ring)
            set_on(page, False)
            time.sleep(0.5)
            start = len(fake.injections)
            set_on(page, True)
            fake.wait(lambda start=start: len(fake.injections) > start + 30, 30)
            if page.evaluate("!!mimicApp.vts.ws && !!mimicApp.vts.ws.ring") != ring:
                raise RuntimeError("the socket did not take the ring setting")
            out[ring].append(window(page, max(seconds, 9.0))[1])  # the hub keeps 256 frames
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=6.0)
    args = ap.parse_args()
    with harness.app_server() as url:
        py_med, py_p95, n = core_in_pyodide(url)
        cp_med, cp_p95, _ = core_in_cpython()
        s = studio(url, args.windows, args.seconds)
    lat = sorted(s["latency"])
    print(f"\nVTube Studio output, {n} parameters per injection\n")
    print("| measure | median | worst / p95 |")
    print("| --- | --- | --- |")
    print(f"| VtsSession.frame, Pyodide (us) | {py_med:.1f} | p95 {py_p95:.1f} |")
    print(f"| VtsSession.frame, CPython (us) | {cp_med:.1f} | p95 {cp_p95:.1f} |")
    def parts(runs: list[dict], label: str) -> None:
        got = {k: statistics.median(p[k] for p in runs) for k in runs[0]}
        own = got["fill"] + got["VtsSession.frame"] + got["VtsOutput._post"]
        print(f"| outputs' Python per camera frame, VTS on, {label}, repeated: filling the "
              f"output frame + the session's frame + handing its message over (us; budget "
              f"50) | {own:.1f} | |")
        print(f"| ... filling the output frame / VtsSession.frame / VtsOutput._post (us) | "
              f"{got['fill']:.1f} / {got['VtsSession.frame']:.1f} / "
              f"{got['VtsOutput._post']:.1f} | |")
        print(f"| ... the sender whole, {BATCHED} sends in a row (floods the socket worker) "
              f"(us) | {got['VtsOutput']:.1f} | |")

    parts(s["parts"], "no model (rule targets)")
    print(f"| ... the same in the live loop (us) | "
          f"{statistics.median(s['us']):.1f} | {max(s['us']):.1f} (worst window's median) |")
    print(f"| ... the shared output frame alone, VTS unreachable, live loop (us) | "
          f"{s['hub_only']:.1f} | |")
    parts([s["model_parts"]], f"a trained model ({s['model_params']} parameters)")
    print(f"| ... the same in the live loop (us) | {s['model_us']:.1f} | |")
    ab = s["handover"]
    print(f"| ... the same in the live loop, the message handed over through the shared ring / "
          f"by postMessage, alternating (us) | {statistics.median(ab[True]):.1f} / "
          f"{statistics.median(ab[False]):.1f} | {len(ab[True])} windows each |")
    print(f"| handing 1.1 kB to the socket worker, from JS once per frame (us) | "
          f"{s['js_send'][0]:.1f} | p90 {s['js_send'][1]:.1f} |")
    print(f"| camera frame to fake VTS receiving its injection (ms), {len(lat)} frames | "
          f"{statistics.median(lat):.1f} | {lat[-1]:.1f} |")
    print(f"| ... of which tracking (frame start to MediaPipe's blendshapes) (ms) | "
          f"{statistics.median(s['track']):.1f} | |")
    for key, what in (("page", "... of which frame to the socket (tracking + Python)"),
                      ("socket", "... of which the socket to the fake VTS")):
        got = sorted(s[key])
        if got:
            print(f"| {what} (ms) | {statistics.median(got):.1f} | {got[-1]:.1f} |")
    print(f"| camera frames/s, VTS on / off (alternating {args.seconds:g} s windows) | "
          f"{statistics.median(s['on']):.1f} / {statistics.median(s['off']):.1f} | "
          f"min {min(s['on']):.1f} / {min(s['off']):.1f} |")


if __name__ == "__main__":
    main()
