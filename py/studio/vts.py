"""VTube Studio output in the Output tab: the page talks to VTube Studio's plugin API directly
(a browser may open `ws://localhost`), no relay needed.

The protocol lives in `mimic.vts` (tested against a fake VTube Studio); this holds the socket,
the settings (`vts` key: on/off, port, the token so the allow dialog comes once, the expression
mapping per VTube Studio model), the status lines and the mapping table. Tracking never waits
on it: a closed or refusing VTube Studio is one status line, and the page tries again every two
seconds while the output is on.
"""

from __future__ import annotations

import time
from typing import Any

import js
from pyodide.ffi import create_proxy

from mimic.blendshapes import COUNT
from mimic.vts import DEFAULT_FADE_S, VtsSession
from studio import outputs
from studio.dom import by_id, clear, el, on, spawn

SETTING = "vts"
DEFAULT_PORT = 8001
RETRY_S = 2.0
TICK_MS = 250
ICON = "web/icon.svg"
ICON_PX = 128  # VTube Studio takes exactly 128x128
TEXT_CAP = 4096  # bytes: a message up to this goes to the socket as UTF-8 bytes, not a str
MAX_BUFFERED = 1 << 16  # bytes queued in the socket: beyond this a frame is dropped, not queued


class VtsOutput:
    """The sender registered with studio.outputs, plus its part of the Output tab."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.session = VtsSession()
        self.ws: Any = None
        self.on = False
        self.port = DEFAULT_PORT
        self.maps: dict[str, dict[str, str]] = {}  # VTS model id -> label -> expression file
        self.layout = -1
        self.labels: list[str] = []  # learned expressions shown in the mapping table
        self.dropped = 0
        self.lost = 0  # messages the socket could not hand over (its worker a ring behind)
        self._shown: tuple = ()
        self._rate = 0.0
        self._next_try = 0.0
        self._count = 0
        self._rate_t = time.monotonic()
        self._proxies: list[Any] = []
        self._build()
        self._gen = 0
        self._open = False  # the current socket is open (from its events)
        self._busy = False  # too much queued in it (checked on the timer)
        self._ws_send: Any = None
        self._ws_text: Any = None
        self._text = bytearray(TEXT_CAP)  # one message's UTF-8, refilled per message
        self._frame_text = bytearray(TEXT_CAP)  # the frame's injection, sent after the frame
        self.outbox: outputs.Outbox | None = None
        self._text_view = memoryview(self._text)
        self._handlers = (self._proxy(self._opened), self._proxy(self._message),
                          self._proxy(self._closed))
        self._tick = self._proxy(self._on_tick)
        js.setInterval(self._tick, TICK_MS)

    # page ------------------------------------------------------------------------------
    def _build(self) -> None:
        box = by_id("output-vts")
        clear(box)
        box.append(el("h3", "VTube Studio"))
        box.append(el("p", "Turn on the plugin API in VTube Studio's settings, then "
                      "Connect and click Allow there (once). Mimic sends its parameters "
                      "(Mimic + each learned label), fills VTube Studio's own face inputs "
                      "and switches the model's expressions with yours.", "note"))
        row = el("div", cls="row")
        self.button = el("button", "Connect", id="vts-connect", type="button")
        on(self.button, "click", lambda _e: self.toggle())
        label = el("label", "Port ")
        label.style.marginLeft = ".75rem"
        self.port_input = el("input", id="vts-port", type="number", min="1", max="65535",
                             value=str(self.port))
        self.port_input.style.width = "6rem"
        on(self.port_input, "change", lambda _e: self._port_changed())
        label.append(self.port_input)
        row.append(self.button, label)
        box.append(row)
        self.status = el("p", "Not connected.", "status-line", id="vts-status")
        self.stats = el("p", "", "status-line", id="vts-stats")
        box.append(self.status, self.stats)
        box.append(el("h4", "Your expressions \u2192 the model's expressions"))
        self.map_note = el("p", "Connect to list the loaded model's expressions.", "note",
                           id="vts-map-note")
        self.table = el("table", cls="vts-map", id="vts-map")
        self.table.setAttribute("aria-label", "Learned expression to VTube Studio expression")
        box.append(self.map_note, self.table)

    def _proxy(self, fn: Any) -> Any:
        proxy = create_proxy(fn)
        self._proxies.append(proxy)
        return proxy

    async def restore(self) -> None:
        await self._icon()
        saved = await self.app.storage.get_setting(SETTING, {})
        if not isinstance(saved, dict):
            saved = {}
        port = saved.get("port", DEFAULT_PORT)
        self.port = port if isinstance(port, int) and 0 < port < 65536 else DEFAULT_PORT
        self.port_input.value = str(self.port)
        token = saved.get("token")
        self.session.token = token if isinstance(token, str) and token else None
        maps = saved.get("maps")
        self.maps = maps if isinstance(maps, dict) else {}
        if saved.get("on"):
            self.connect()

    async def _icon(self) -> None:
        """The app's icon as the 128x128 PNG VTube Studio shows in its allow dialog; without
        it the dialog just shows no icon, so a failure here is only logged."""
        try:
            img = js.Image.new(ICON_PX, ICON_PX)
            img.src = ICON
            await img.decode()
            canvas = js.document.createElement("canvas")
            canvas.width = canvas.height = ICON_PX
            canvas.getContext("2d").drawImage(img, 0, 0, ICON_PX, ICON_PX)
            self.session.icon = str(canvas.toDataURL("image/png")).split(",", 1)[1]
        except Exception as exc:  # the icon is optional
            print(f"VTube Studio icon not made: {exc}")

    def _save(self) -> None:
        spawn(self.app.storage.set_setting(SETTING, {
            "on": self.on, "port": self.port, "token": self.session.token, "maps": self.maps}))

    def _port_changed(self) -> None:
        try:
            port = int(str(self.port_input.value))
        except ValueError:
            port = 0
        if not 0 < port < 65536:
            self.port_input.value = str(self.port)
            return
        self.port = port
        self._save()
        if self.on:
            self.disconnect(keep_on=True)
            self.connect()

    def toggle(self) -> None:
        if self.on:
            self.disconnect()
        else:
            self.connect()

    # socket ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ws://localhost:{self.port}"

    def connect(self) -> None:
        """Open the socket (again); the session decides what to say once it is open."""
        if not self.on:
            self.on = True
            self._save()
        outputs.register(self)  # frames come only while the output is on
        self._close_socket()
        self.button.textContent = "Disconnect"
        self._next_try = time.monotonic() + RETRY_S
        # in a worker: per frame a postMessage, and VTube Studio's answer to every
        # injection stays there
        ws = self.app.bridge.openSocket(self.url, "InjectParameterDataResponse")
        self._gen += 1
        ws.mimicGen = self._gen  # events of an older socket are ignored
        self.ws = ws
        self._ws_send = ws.send  # one bound method for the socket's life, not one per frame
        ws.attach(0, self._text)  # the socket reads each message out of it: one call each
        ws.attach(1, self._frame_text, None, True)  # ... and each frame's injection from here
        self.outbox = outputs.Outbox()  # ... after the frame, with no call (studio.outputs)
        self.outbox.attach(ws)
        self._ws_text = ws.sendAttached
        ws.onopen, ws.onmessage, ws.onclose = self._handlers
        if self.session.state in ("off", "denied"):
            self.session.status = f"Connecting to VTube Studio at {self.url}\u2026"
        self._render()

    def disconnect(self, keep_on: bool = False) -> None:
        self._close_socket()
        if not keep_on:
            self.on = False
            self._save()
            outputs.unregister(self)
        self.session.stop()
        self.button.textContent = "Connect"
        self._render()

    def _close_socket(self) -> None:
        ws, self.ws = self.ws, None
        self._open = self._busy = False
        if ws is not None:
            ws.onopen = ws.onmessage = ws.onclose = None
            ws.close()

    def _current(self, event: Any) -> bool:
        return self.ws is not None and int(getattr(event.target, "mimicGen", -1)) == self._gen

    def _opened(self, event: Any) -> None:
        if self._current(event):
            self._open = True
            self._send(self.session.opened())
            self._render()

    def _message(self, event: Any) -> None:
        text = str(event.data)
        if "InjectParameterDataResponse" in text:  # the answer to every frame: nothing to do
            return
        if not self._current(event):
            return
        self._send(self.session.received(text))
        s = self.session
        if s.token_changed:
            s.token_changed = False
            self._save()
        if s.expressions_changed:
            s.expressions_changed = False
            self._apply_mapping()
        if s.state == "denied":  # stay off until the user asks again (Connect)
            self._close_socket()
            self.on = False
            outputs.unregister(self)
            self._save()
        self._render()

    def _closed(self, event: Any) -> None:
        if not self._current(event):
            return
        self.ws = None
        self._open = self._busy = False
        if getattr(event, "refused", False):  # a page policy (Safari from https)
            self.session.state = "down"
            self.session.error = f"the browser refused to open {self.url}: {event.reason}"
            self.session.status = self.session.error[0].upper() + self.session.error[1:] + "."
            self._render()
            return
        if self.on:
            self.session.closed(self.url)
            self._next_try = time.monotonic() + RETRY_S
        self._render()

    def _send(self, messages: list[str]) -> None:
        """Send in order; the open state is tracked from the socket's events, not read from
        the socket per frame (each property read is a call into JavaScript)."""
        if not messages or not self._open:
            return
        view, text = self._text_view, self._ws_text
        for m in messages:
            data = m.encode()
            n = len(data)
            if n <= TEXT_CAP:  # a JS string from a Python str costs ~5 us per kB in Pyodide
                view[:n] = data
                text(0, n, True)
            else:
                self._ws_send(m)
        self._count += len(messages)

    def _post(self, message: str) -> None:
        """This frame's injection, sent by the camera loop right after the frame (Outbox)."""
        data = message.encode()
        n = len(data)
        if n > TEXT_CAP or self.outbox is None:
            self._send([message])
            return
        self._frame_text[:n] = data
        self.outbox.post(1, n)
        self._count += 1

    # per frame -------------------------------------------------------------------------
    def send(self, frame: Any) -> None:
        """The registered sender: this frame's injection and expression switches."""
        s = self.session
        if frame.layout != self.layout:
            self.layout = frame.layout
            self._send(s.set_names(frame.names))
            self.labels = [n for n, g in zip(frame.names, frame.groups, strict=True)
                           if g == "expression" and n != "neutral"]
            self._apply_mapping()
        if s.state != "live" or not self._open:
            return
        if self._busy:  # VTube Studio is not keeping up: drop frames rather than queue them
            self.dropped += 1
            return
        v, n = frame.floats, len(frame.names)  # Python floats, no numpy call per frame
        messages = s.frame(v[n:n + COUNT], v[n + COUNT + 1:], v[:n], frame.face, frame.winner,
                           frame.t)
        if messages:  # the injection first, then any expression switch
            self._post(messages[0])
            if len(messages) > 1:
                self._send(messages[1:])

    def time_parts(self, frame: Any, n: int = 300) -> dict[str, float]:
        """Microseconds per call of the session's frame and of posting its injection to the
        socket's outbox, `frame` repeated (studio.outputs.time_parts; scripts/bench_vts.py)."""
        s = self.session
        v, k = frame.floats, len(frame.names)
        args = (v[k:k + COUNT], v[k + COUNT + 1:], v[:k], frame.face, frame.winner, frame.t)
        messages = s.frame(*args)
        return {"VtsSession.frame": outputs.batched(lambda: s.frame(*args), n),
                "VtsOutput._post": outputs.batched(lambda: self._post(messages[0]), n)}

    def _on_tick(self) -> None:
        """Keep-alive (VTube Studio drops a parameter not sent for 1 s), retries, stats."""
        if not self.on:
            return
        self._send(self.session.keepalive(js.performance.now() * 0.001))
        if self._open:
            self._busy = self.ws.bufferedAmount > MAX_BUFFERED
            self.lost = int(self.ws.dropped)
        now = time.monotonic()
        if self.on and self.ws is None and now >= self._next_try:
            self.connect()
        if now - self._rate_t >= 1.0:
            self._rate = self._count / (now - self._rate_t)
            self._count, self._rate_t = 0, now
            self._render()

    # mapping ---------------------------------------------------------------------------
    def _apply_mapping(self) -> None:
        """The stored mapping for this VTube Studio model, or a guess by name; then the
        table."""
        s = self.session
        if not s.expressions:
            self.session.set_mapping({})
            self._render_table()
            return
        stored = self.maps.get(s.model_id, {})
        guess = s.guess_mapping(self.labels)
        mapping = {label: stored[label] if stored.get(label) in s.expressions or
                   stored.get(label) == "" else guess.get(label, "") for label in self.labels}
        s.set_mapping(mapping)
        self._render_table(mapping)

    def _render_table(self, mapping: dict[str, str] | None = None) -> None:
        s = self.session
        clear(self.table)
        if not s.expressions or not self.labels:
            self.map_note.textContent = (
                "Connect to list the loaded model's expressions." if s.state != "live" else
                "The loaded model has no expressions." if not s.expressions else
                "Train a model with expressions to map them.")
            return
        self.map_note.textContent = (f"Model \u201c{s.model_name}\u201d: the expression "
                                     f"shown switches with yours ({s.fade_s:g} s fade).")
        for label in self.labels:
            tr = el("tr")
            tr.append(el("th", label, scope="row"))
            select = el("select", data_label=label)
            select.setAttribute("aria-label", f"VTube Studio expression for {label}")
            select.append(el("option", "(none)", value=""))
            for file in s.expressions:
                select.append(el("option", file[: -len(".exp3.json")]
                                 if file.endswith(".exp3.json") else file, value=file))
            select.value = (mapping or {}).get(label, "")
            on(select, "change", lambda e, lb=label: self._choose(lb, str(e.target.value)))
            td = el("td")
            td.append(select)
            tr.append(td)
            self.table.append(tr)

    def _choose(self, label: str, file: str) -> None:
        s = self.session
        mapping = dict(s.switch.mapping)
        mapping[label] = file
        s.set_mapping(mapping)
        self.maps.setdefault(s.model_id, {})[label] = file
        self._save()

    # status ----------------------------------------------------------------------------
    def _render(self) -> None:
        """The status lines, written only when they change (each write costs the page a
        layout)."""
        s = self.session
        state = ("on" if s.state == "live" else
                 "error" if s.state in ("down", "denied") or s.error else "")
        if s.state == "live":
            text = f"{self._rate:.0f} messages/s"
            if self.dropped:
                text += f", {self.dropped} frames dropped (VTube Studio busy)"
            if self.lost:
                text += f", {self.lost} messages lost (the page's socket worker fell behind)"
        else:
            text = ""
        if s.error and s.error.lower() not in s.status.lower():  # not said twice
            text += ("; " if text else "") + f"last error: {s.error}"
        shown = (s.status, state, text, self.on)
        if shown == self._shown:
            return
        self._shown = shown
        self.status.textContent = s.status
        self.status.dataset.state = state
        self.stats.textContent = text
        self.button.textContent = "Disconnect" if self.on else "Connect"


def start(app: Any) -> VtsOutput:
    """Build the VTube Studio box and restore its settings (connecting if it was on)."""
    view = VtsOutput(app)
    app.vts = view
    spawn(view.restore())
    return view


__all__ = ["DEFAULT_FADE_S", "VtsOutput", "start"]
