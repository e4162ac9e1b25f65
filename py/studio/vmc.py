"""VMC output in the page: the Output tab's VMC box and the sender behind it.

Every frame the avatar's face (studio.outputs) is encoded by mimic.vmc into a few OSC
bundles and sent as binary WebSocket messages to serve.py's relay, which puts each on UDP to
the receiving app. The JS side is one WebSocket run in a worker (bridge.openSocket: a send
costs the camera loop a copy into a shared ring, not a network call), handed the encoder's
buffer once per layout with where each datagram ends; per frame one call sends them all.
While off, nothing is registered and the frame loop does not see this module at all.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import js
from pyodide.ffi import create_proxy, to_js

from mimic.vmc import NAME_SETS, VmcEncoder
from studio import outputs
from studio.dom import by_id, clear, el, on, spawn

SETTING = "vmc_output"
DEFAULTS: dict[str, Any] = {"on": False, "names": "vrm0", "perfect_sync": False, "head": True}
NAME_LABELS = {"vrm0": "VRM 0.x names (Joy, A, Blink_L …)",
               "vrm1": "VRM 1.0 names (happy, aa, blinkLeft …)"}
RETRY_S = 2.0
MAX_BUFFERED = 64 * 1024  # bytes queued in the socket: past this the relay is stalled, skip


def relay_url() -> str | None:
    """The relay on the page's own server, or None where the page cannot reach one."""
    loc = js.location
    if str(loc.protocol) != "http:":
        return None
    return f"ws://{loc.host}/vmc"


class VmcOutput:
    """Sender (studio.outputs) plus the box's controls and live status."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.settings = dict(DEFAULTS)
        self.ws: Any = None
        self.open = False
        self.ever_open = False
        self.encoder: VmcEncoder | None = None
        self.layout = -1
        self.sent = 0
        self.frames = 0
        self.outbox = outputs.Outbox()
        self._datagrams = 0  # per frame, in the encoder's buffer
        self.rate = 0.0
        self.lost = 0  # datagrams the socket could not hand over (its worker a ring behind)
        self.target = ""
        self.error = ""
        self._proxies: list[Any] = []
        self._retry: asyncio.Task | None = None
        self._build()

    # sender -------------------------------------------------------------------------------
    def send(self, frame: outputs.OutputFrame) -> None:
        if not self.open:
            return
        if frame.layout != self.layout or self.encoder is None:
            self._plan(frame)
        self.encoder.fill(frame.floats, frame.face, frame.t)
        self.outbox.post(0)  # the socket sends each datagram out of the buffer after the frame
        self.sent += self._datagrams
        self.frames += 1
        if not self.frames % 30 and self.ws.bufferedAmount > MAX_BUFFERED:
            self._stalled()

    def time_encode(self, n: int = 300) -> float:
        """Microseconds per `fill` of the current frame, alone (scripts/bench_output.py)."""
        import time

        f, enc = outputs.hub.frame, self.encoder
        if enc is None:
            return 0.0
        start = time.perf_counter()
        for _ in range(n):
            enc.fill(f.floats, f.face, f.t)
        return (time.perf_counter() - start) / n * 1e6

    def _plan(self, frame: outputs.OutputFrame) -> None:
        s = self.settings
        enc = VmcEncoder(frame.names, s["names"], s["perfect_sync"], s["head"])
        ends = to_js([end for _, end in enc.bounds])
        self.ws.attach(0, enc.buffer, ends)  # refilled in place per frame, sent as its slices
        self.encoder, self._datagrams = enc, len(enc.bounds)
        self.layout = frame.layout

    # connection ---------------------------------------------------------------------------
    def connect(self) -> None:
        url = relay_url()
        if url is None:
            self.error = ("this page is not served by Mimic's own server: open it from "
                          "python serve.py --vmc (http://127.0.0.1:8000) to send VMC")
            self.show()
            return
        self.close()
        ws = self.app.bridge.openSocket(url)
        ws.onopen = self._proxy(lambda _e: self._opened(ws))
        ws.onmessage = self._proxy(lambda e: self._message(ws, e))
        ws.onclose = self._proxy(lambda _e: self._closed(ws))
        self.ws = ws
        self.outbox.attach(ws)
        self.encoder = None  # attached to this socket on the first frame (`_plan`)
        self.show()

    def _stalled(self) -> None:
        """The relay stopped reading (a second of frames queued): drop the connection and
        reconnect rather than queue frames that would arrive late."""
        self.error = "the relay fell behind; reconnecting"
        self.close()
        self.show()
        if self.settings["on"]:
            self._retry = spawn(self._reconnect())

    def _proxy(self, fn: Any) -> Any:
        proxy = create_proxy(fn)
        self._proxies.append(proxy)
        return proxy

    def _opened(self, ws: Any) -> None:
        if ws is not self.ws:
            return
        self.open = self.ever_open = True
        self.error = ""
        self.show()

    def _message(self, ws: Any, event: Any) -> None:
        if ws is not self.ws or not isinstance(event.data, str):
            return
        try:
            info = json.loads(event.data)
        except ValueError:
            return
        self.target = str(info.get("target", self.target))
        if "error" in info:
            self.error = str(info["error"])
        self.show()

    def _closed(self, ws: Any) -> None:
        if ws is not self.ws:
            return
        was_open = self.open
        self.open = False
        self.ws = None
        if was_open:
            self.error = "the relay closed the connection (serve.py stopped?); retrying"
        self.show()
        if self.settings["on"]:
            self._retry = spawn(self._reconnect())

    async def _reconnect(self) -> None:
        await asyncio.sleep(RETRY_S)
        if self.settings["on"] and self.ws is None:
            self.connect()

    def close(self) -> None:
        """Drop the connection; its handlers go first, so no event reaches a freed proxy."""
        ws, self.ws, self.open = self.ws, None, False
        if ws is not None:
            ws.onopen = ws.onmessage = ws.onclose = None
            ws.close()
        for proxy in self._proxies:  # a closed socket's, never one running now
            proxy.destroy()
        self._proxies = []

    # settings and UI ----------------------------------------------------------------------
    async def restore(self) -> None:
        saved = await self.app.storage.get_setting(SETTING)
        if isinstance(saved, dict):
            self.settings.update({k: v for k, v in saved.items() if k in DEFAULTS})
            if self.settings["names"] not in NAME_SETS:
                self.settings["names"] = "vrm0"
        self._sync_controls()
        self.apply()

    def change(self, key: str, value: Any) -> None:
        self.settings[key] = value
        self.encoder = None  # a new name set or option: lay the datagrams out again
        spawn(self.app.storage.set_setting(SETTING, dict(self.settings)))
        self.apply()

    def apply(self) -> None:
        if self.settings["on"]:
            outputs.register(self)
            if self.ws is None:
                self.connect()
        else:
            outputs.unregister(self)
            self.close()
            self.error = ""
        self._sync_controls()
        self.show()

    def _build(self) -> None:
        box = by_id("output-vmc")
        clear(box)
        box.append(el("h3", "VMC protocol"))
        box.append(el("p", "VSeeFace, VNyan, Warudo, VMagicMirror and other VMC receivers: "
                      "your learned expressions, mouth and blinks (and optionally the head "
                      "and the 52 ARKit blendshapes).", "note"))
        bar = el("div", cls="toolbar")
        button = el("button", "VMC: off", "secondary", id="vmc-on", aria_pressed="false")
        on(button, "click", lambda _e: self.change("on", not self.settings["on"]))
        bar.append(button)
        names = el("select", id="vmc-names", aria_label="VMC blendshape names")
        for key in NAME_SETS:
            names.append(el("option", NAME_LABELS[key], value=key))
        on(names, "change", lambda e: self.change("names", str(e.target.value)))
        bar.append(names)
        for key, text in (("perfect_sync", "+ perfect sync (52 ARKit)"), ("head", "+ head")):
            label = el("label")
            box_ = el("input", type="checkbox", id=f"vmc-{key.replace('_', '-')}")
            on(box_, "change", lambda e, k=key: self.change(k, bool(e.target.checked)))
            label.append(box_)
            label.append(js.document.createTextNode(" " + text))
            bar.append(label)
        box.append(bar)
        box.append(el("p", "", "status-line", id="vmc-status", role="status",
                      aria_live="polite"))
        self._sync_controls()
        self.show()

    def _sync_controls(self) -> None:
        s = self.settings
        button = by_id("vmc-on")
        button.textContent = "VMC: on" if s["on"] else "VMC: off"
        button.setAttribute("aria-pressed", "true" if s["on"] else "false")
        by_id("vmc-names").value = s["names"]
        by_id("vmc-perfect-sync").checked = bool(s["perfect_sync"])
        by_id("vmc-head").checked = bool(s["head"])

    def show(self) -> None:
        """The status line: what is sent where, or why nothing is."""
        line = by_id("vmc-status")
        if line is None:
            return
        if not self.settings["on"]:
            state, text = "off", "Off."
        elif self.open:
            state = "on"
            text = (f"Connected: {self.rate:.0f} messages/s to "
                    f"{self.target or 'the relay'}.")
            if self.lost:
                text += (f" {self.lost} datagrams lost (the page's socket worker fell "
                         "behind).")
            if self.error:
                text += f" Last error: {self.error}."
        elif self.error and relay_url() is None:
            state, text = "error", f"Not sending: {self.error}."
        elif not self.ever_open:
            state = "no-relay"
            text = ("The relay is not running: start Mimic with python serve.py --vmc "
                    "(or --vmc HOST:PORT), then this page reconnects by itself.")
        else:
            state, text = "error", f"Reconnecting: {self.error or 'the relay went away'}."
        line.textContent = text
        line.dataset.state = state
        by_id("output-vmc").dataset.state = state

    async def tick(self) -> None:
        """Messages per second, once a second."""
        while True:
            before = self.sent
            await asyncio.sleep(1.0)
            self.rate = float(self.sent - before)
            if self.open:
                self.lost = int(self.ws.dropped)
            if self.settings["on"]:
                self.show()


def start(app: Any) -> VmcOutput:
    """Build the VMC box, bring back its settings, and send if it was on."""
    output = VmcOutput(app)
    app.vmc = output
    spawn(output.restore())
    spawn(output.tick())
    return output
