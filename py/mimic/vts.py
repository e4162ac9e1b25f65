"""Mimic as a VTube Studio plugin: the API's messages and a session that says what to send.

VTube Studio (DenchiSoft/VTubeStudio, README "API Details") listens on a WebSocket, by
default `ws://localhost:8001`, for JSON messages `{"apiName": "VTubeStudioPublicAPI",
"apiVersion": "1.0", "requestID", "messageType", "data"}`. A plugin asks once for a token
(`AuthenticationTokenRequest`; the user clicks Allow in VTube Studio), logs in with it in every
session (`AuthenticationRequest`), creates its parameters (`ParameterCreationRequest`), injects
values (`InjectParameterDataRequest`, at least once a second or VTube Studio lets go of them),
lists the model's expressions (`ExpressionStateRequest`) and switches them
(`ExpressionActivationRequest`). Failures come back as `APIError` with an `errorID`
(Files/ErrorID.cs).

`VtsSession` is the whole protocol with no I/O: the page feeds it "opened", every text message
received, "closed" and each output frame, and sends the strings it returns. Its `status` is the
one line the page shows. It runs the same under CPython (the tests drive it against a fake
VTube Studio) and Pyodide.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from mimic.vtsinputs import DEFAULT_INPUTS, ExpressionSwitch, VtsInputs, guess_expressions

__all__ = [
    "API_NAME",
    "API_VERSION",
    "PLUGIN_DEVELOPER",
    "PLUGIN_NAME",
    "VtsSession",
    "activate_expression",
    "authenticate",
    "create_parameter",
    "expression_state",
    "inject",
    "request",
    "request_token",
]

API_NAME = "VTubeStudioPublicAPI"
API_VERSION = "1.0"
PLUGIN_NAME = "Mimic"  # 3..32 characters; a token is only valid for the same name + developer
PLUGIN_DEVELOPER = "Mimic face tracker"
TOKEN_REQUEST_ID = "mimic-token"
KEEPALIVE_S = 0.5  # VTube Studio lets go of a parameter not sent for 1 s
RELIST_S = 10.0  # the model's expressions again (the user may have loaded another model)
DEFAULT_FADE_S = 0.5

# Errors (Files/ErrorID.cs) the session answers; any other is reported with VTS's message.
API_ACCESS_DEACTIVATED = 1
REQUIRES_AUTHENTICATION = 8
TOKEN_DENIED = 50
TOKEN_ONGOING = 51
PARAM_OTHER_PLUGIN = 352
PARAM_DEFAULT_NAME = 354
PARAM_LIMIT_PLUGIN = 355
PARAM_LIMIT_TOTAL = 356
INJECT_NOT_FOUND = 453
INJECT_OTHER_PLUGIN = 454
EXPRESSION_INVALID = 650
EXPRESSION_NOT_FOUND = 651
EXPRESSION_NO_MODEL = 652


def request(message_type: str, data: Mapping[str, Any] | None = None,
            request_id: str | None = None) -> str:
    """One API request as the JSON text VTube Studio expects (it answers in kind)."""
    msg: dict[str, Any] = {"apiName": API_NAME, "apiVersion": API_VERSION,
                           "requestID": request_id or f"mimic-{message_type}"[:64],
                           "messageType": message_type}
    if data is not None:
        msg["data"] = dict(data)
    return json.dumps(msg, separators=(",", ":"))


def request_token(icon_png_b64: str | None = None) -> str:
    data = {"pluginName": PLUGIN_NAME, "pluginDeveloper": PLUGIN_DEVELOPER}
    if icon_png_b64:
        data["pluginIcon"] = icon_png_b64  # 128x128 PNG/JPG, base64
    return request("AuthenticationTokenRequest", data, TOKEN_REQUEST_ID)


def authenticate(token: str) -> str:
    return request("AuthenticationRequest", {"pluginName": PLUGIN_NAME,
                                             "pluginDeveloper": PLUGIN_DEVELOPER,
                                             "authenticationToken": token})


def create_parameter(name: str, explanation: str, lo: float = 0.0, hi: float = 1.0,
                     default: float = 0.0) -> str:
    return request("ParameterCreationRequest", {
        "parameterName": name, "explanation": explanation[:255],
        "min": lo, "max": hi, "defaultValue": default})


def inject(values: Mapping[str, float], face_found: bool) -> str:
    """Readable form of the per-frame message (the session formats it from a template)."""
    return request("InjectParameterDataRequest", {
        "faceFound": bool(face_found), "mode": "set",
        "parameterValues": [{"id": k, "value": float(v)} for k, v in values.items()]})


def expression_state() -> str:
    return request("ExpressionStateRequest", {"details": False})


def activate_expression(file: str, active: bool, fade_s: float = DEFAULT_FADE_S) -> str:
    """Turn one expression file on or off; VTube Studio clamps the fade to 0..2 s and fades
    out with the time it faded in."""
    return request("ExpressionActivationRequest", {
        "expressionFile": file, "fadeTime": max(0.0, min(2.0, fade_s)), "active": bool(active)})


def inject_template(ids: Sequence[str]) -> str:
    """The injection message with `%s` for the request ID and for faceFound, then `%.4f` per
    value: formatting one string is the cheapest way to a JSON message each frame. The ID
    carries the camera frame's time (ms), so a log line or a latency figure finds its frame."""
    head = request("InjectParameterDataRequest", {"faceFound": True, "mode": "set",
                                                  "parameterValues": []}, "RID")
    body = ",".join('{"id":"' + i + '","value":%.4f}' for i in ids)
    return (head.replace('"RID"', '"mimic-%s"').replace('"faceFound":true', '"faceFound":%s')
            .replace('"parameterValues":[]', '"parameterValues":[' + body + "]"))


class VtsSession:
    """The plugin's side of one connection at a time, with no I/O.

    Feed it `opened()`, `received(text)` for every message, `closed()`, and per camera frame
    `frame(...)` (plus `keepalive(t)` from a timer); send whatever strings they return, in
    order. `status` is the line to show; `token` (kept by the page with its settings, so the
    allow dialog comes once) changes when VTube Studio hands out a new one (`token_changed`).
    """

    def __init__(self, token: str | None = None, fade_s: float = DEFAULT_FADE_S,
                 names: Sequence[str] = ()) -> None:
        self.token = token or None
        self.token_changed = False
        self.icon: str | None = None  # 128x128 PNG, base64, shown in VTube Studio's dialog
        self.fade_s = fade_s
        self.state = "off"  # off, login, asking, setup, live, denied, down
        self.status = "Not connected."
        self.error = ""  # the last failure, kept after the status moves on
        self.inputs = VtsInputs(names)
        self.switch = ExpressionSwitch()
        self.expressions: list[str] = []  # the loaded model's expression files
        self.model_id = ""
        self.model_name = ""
        self.expressions_changed = False
        self.skipped: set[str] = set()  # parameters VTube Studio will not take from Mimic
        self.sent = 0  # injections sent
        self._pending: set[str] = set()
        self._note = ""
        self._template = ""
        self._last_send = -1e9
        self._last_list = -1e9
        self._last_face = False
        self._last_t = 0.0
        self._plan()

    # layout ----------------------------------------------------------------------------
    def set_names(self, names: Sequence[str]) -> list[str]:
        """The model's targets changed: new custom parameters (created at once when live)."""
        if tuple(names) == self.inputs.names:
            return []
        self.inputs = VtsInputs(names)
        self.switch.reset()
        self._plan()
        if self.state in ("setup", "live"):
            return self._create_parameters()
        return []

    def set_mapping(self, mapping: Mapping[str, str]) -> None:
        """Learned expression -> the model's expression file ("" for none)."""
        self.switch.set_mapping(mapping)

    def guess_mapping(self, labels: Sequence[str]) -> dict[str, str]:
        return guess_expressions(labels, self.expressions)

    def _plan(self) -> None:
        ids = [i for i in self.inputs.ids if i not in self.skipped and i not in self._pending]
        self._ids = ids
        # None: every value goes out, as `fill` orders them (the usual case, no copy)
        self._index = (None if len(ids) == len(self.inputs.ids) else
                       [self.inputs.ids.index(i) for i in ids])
        self._template = inject_template(ids)

    # connection ------------------------------------------------------------------------
    def opened(self) -> list[str]:
        self.error = "" if self.state != "down" else self.error
        self.switch.reset()
        if self.token:
            self.state = "login"
            self.status = "Connected to VTube Studio; logging in."
            return [authenticate(self.token)]
        return self._ask()

    def closed(self, url: str = "ws://localhost:8001") -> None:
        if self.state == "off":
            return
        was = self.state
        self.state = "down"
        if was in ("live", "setup"):
            self.error = "VTube Studio closed the connection"
        self.status = (f"VTube Studio is not reachable at {url} (is it running, with its "
                       "plugin API on?); trying again.")

    def stop(self) -> None:
        self.state = "off"
        self.status = "Not connected."

    def _ask(self, why: str = "") -> list[str]:
        self.state = "asking"
        self.status = ((why + "; click" if why else "Click") +
                       " Allow in VTube Studio: it is asking whether Mimic may connect.")
        return [request_token(self.icon)]

    # messages received -----------------------------------------------------------------
    def received(self, text: str) -> list[str]:
        try:
            msg = json.loads(text)
            kind = msg.get("messageType", "")
            data = msg.get("data") or {}
        except (ValueError, AttributeError):
            self._fail("VTube Studio sent something that is not an API message")
            return []
        if kind == "APIError":
            return self._on_APIError(data, str(msg.get("requestID", "")))
        handler = getattr(self, "_on_" + kind, None)
        return handler(data) if handler is not None else []

    def _on_AuthenticationTokenResponse(self, data: dict) -> list[str]:
        self.token = str(data.get("authenticationToken", "")) or None
        self.token_changed = True
        self.state = "login"
        self.status = "Allowed in VTube Studio; logging in."
        return [authenticate(self.token or "")]

    def _on_AuthenticationResponse(self, data: dict) -> list[str]:
        if not data.get("authenticated"):
            self.token = None
            self.token_changed = True
            self.error = "VTube Studio no longer accepts Mimic's token (access revoked?)"
            return self._ask(self.error)
        self.state = "setup"
        self.status = "Logged in to VTube Studio; creating Mimic's parameters."
        return [*self._create_parameters(), expression_state()]

    def _create_parameters(self) -> list[str]:
        out = []
        custom = [p for p in self.inputs.custom if p not in self.skipped]
        for name, label in zip(self.inputs.custom, self.inputs.names, strict=True):
            if name in custom:
                out.append(create_parameter(
                    name, f"Mimic: how much your face shows '{label}' (0..1), as learned."))
        self._pending = set(custom)
        self._plan()
        if not self._pending:
            self._go_live()
        return out

    def _on_ParameterCreationResponse(self, data: dict) -> list[str]:
        self._pending.discard(str(data.get("parameterName", "")))
        self._plan()
        if not self._pending and self.state in ("setup", "live"):
            self._go_live()  # live: a new model's parameters joined, the count changed
        return []

    def _go_live(self) -> None:
        self.state = "live"
        n = len(self._ids)
        self.status = f"Connected to VTube Studio: sending {n} parameters."
        if self._note:  # what was refused stays in view
            self.status += f" {self._note}."

    def _on_ExpressionStateResponse(self, data: dict) -> list[str]:
        files = [str(e.get("file", "")) for e in data.get("expressions") or []]
        model = str(data.get("modelID", ""))
        if files != self.expressions or model != self.model_id:
            self.switch.reset(keep=model == self.model_id)
            self.expressions = files
            self.model_id = model
            self.model_name = str(data.get("modelName", ""))
            self.expressions_changed = True
        return []

    def _on_APIError(self, data: dict, request_id: str) -> list[str]:
        """One line for each failure; answers to requests already in flight when the
        session changed state (a flood of them after a revoke) are not acted on twice."""
        code = int(data.get("errorID", -1))
        text = str(data.get("message", "")).strip()
        if code == TOKEN_DENIED:
            if request_id == TOKEN_REQUEST_ID:
                self.state = "denied"
                self.status = ("Mimic was not allowed in VTube Studio; click Connect to "
                               "ask again.")
                self.error = "access denied in VTube Studio"
                return []
            if self.state in ("asking", "denied"):
                return []
            self.token = None  # revoked while connected: ask once more
            self.token_changed = True
            self.error = "VTube Studio revoked Mimic's access"
            return self._ask(self.error)
        if code == TOKEN_ONGOING:
            self._fail("VTube Studio is already showing Mimic's allow dialog: click Allow there")
            return []
        if code == REQUIRES_AUTHENTICATION:
            if self.state not in ("setup", "live"):
                return []
            out = self.opened()
            self._fail("VTube Studio asked Mimic to log in again")
            return out
        if code == API_ACCESS_DEACTIVATED:
            self._fail("VTube Studio's plugin API is off: turn on 'Allow Plugin API access' "
                       "in its settings")
            return []
        if code in (PARAM_OTHER_PLUGIN, PARAM_DEFAULT_NAME, PARAM_LIMIT_PLUGIN,
                    PARAM_LIMIT_TOTAL):
            return self._parameter_refused(code, text)
        if code == INJECT_NOT_FOUND:  # deleted in VTube Studio (or access revoked): again
            if self.state != "live":
                return []
            self._fail("VTube Studio lost Mimic's parameters; creating them again")
            self.state = "setup"
            return self._create_parameters()
        if code == INJECT_OTHER_PLUGIN:
            return self._taken(text)
        if code in (EXPRESSION_INVALID, EXPRESSION_NOT_FOUND, EXPRESSION_NO_MODEL):
            if self.switch.active:
                self.switch.forget(self.switch.active)
            self._fail(f"VTube Studio could not switch the expression: {text or code}")
            return [expression_state()]
        self._fail(f"VTube Studio: {text or 'error'} (error {code})")
        return []

    def _parameter_refused(self, code: int, text: str) -> list[str]:
        name = next((p for p in sorted(self._pending, key=len, reverse=True) if p in text),
                    None)
        refused = [name] if name else sorted(self._pending)
        if code in (PARAM_LIMIT_PLUGIN, PARAM_LIMIT_TOTAL):
            refused = sorted(self._pending)
        self.skipped.update(refused)
        self._pending.difference_update(refused)
        why = {PARAM_OTHER_PLUGIN: "belongs to another plugin",
               PARAM_DEFAULT_NAME: "is one of VTube Studio's own names"}.get(
                   code, "is over VTube Studio's parameter limit")
        self._fail(f"{', '.join(refused)} {why}; not sent")
        self._note = self.error[0].upper() + self.error[1:]
        self._plan()
        if not self._pending and self.state == "setup":
            self._go_live()
        return []

    def _taken(self, text: str) -> list[str]:
        """Another plugin drives one of the inputs: leave it to that plugin, keep the rest."""
        name = next((i for i in sorted(self.inputs.ids, key=len, reverse=True) if i in text),
                    None)
        if name in self.skipped:
            return []  # an answer to a frame sent before it was left out
        refused = [name] if name else [i for i in self._ids if i in DEFAULT_INPUTS]
        self.skipped.update(refused)
        self._plan()
        shown = name or "one of VTube Studio's face inputs"
        self._fail(f"another plugin is driving {shown}; Mimic leaves it to that plugin")
        self._note = self.error[0].upper() + self.error[1:]
        if self.state == "live":
            self._go_live()
        return []

    def _fail(self, line: str) -> None:
        self.error = line
        self.status = line + "."

    # per frame -------------------------------------------------------------------------
    def frame(self, arkit: Sequence[float], head: Sequence[float], weights: Sequence[float],
              face: bool, winner: str | None, t: float) -> list[str]:
        """This frame's messages: the injection, and any expression switches."""
        self._last_t = t
        if self.state != "live":
            return []
        values = self.inputs.fill(arkit, head, weights)
        out = [self._format(values, face, t)]
        for file, on in self.switch.update(winner, face):
            out.append(activate_expression(file, on, self.fade_s))
        if t - self._last_list > RELIST_S:
            self._last_list = t
            out.append(expression_state())
        return out

    def _format(self, values: Sequence[float], face: bool, t: float) -> str:
        self._last_send = t
        self._last_face = face
        self.sent += 1
        index = self._index
        if index is not None:
            values = [values[i] for i in index]
        return self._template % ("%.1f" % (t * 1000.0), "true" if face else "false", *values)

    def keepalive(self, t: float) -> list[str]:
        """The last values again when no frame was sent for half a second (the camera
        stalled): VTube Studio would otherwise let the model fall back after 1 s."""
        if self.state != "live" or t - self._last_send < KEEPALIVE_S:
            return []
        return [self._format(self.inputs.values, self._last_face, t)]
