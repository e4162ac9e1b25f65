"""A fake VTube Studio API server for the tests, written from DenchiSoft/VTubeStudio's README.

It speaks the parts Mimic uses: the token dialog (`AuthenticationTokenRequest`, answered at
once with a token, or with error 50 when the test set `allow = False`), the session login
(`AuthenticationRequest`: `authenticated` false for an unknown or revoked token), custom
parameters (`ParameterCreationRequest`; 352 when another plugin owns the name, 354 for one of
VTube Studio's own names), injection (`InjectParameterDataRequest`; 453 for an unknown
parameter, 454 for one another plugin drives), the expression list (`ExpressionStateRequest`)
and switching (`ExpressionActivationRequest`; 650/651 for a bad file), and 8 for a request
before login. It runs in a thread on a real port and can be stopped and started again, as
VTube Studio closing and coming back.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import struct
import threading
import time
from typing import Any

from websockets.asyncio.server import serve

DEFAULT_PARAMS = (
    "FacePositionX", "FacePositionY", "FacePositionZ", "FaceAngleX", "FaceAngleY",
    "FaceAngleZ", "MouthSmile", "MouthOpen", "Brows", "TongueOut", "EyeOpenLeft",
    "EyeOpenRight", "EyeLeftX", "EyeLeftY", "EyeRightX", "EyeRightY", "CheekPuff",
    "BrowLeftY", "BrowRightY", "MouthX",
)


class FakeVTS:
    """`with FakeVTS() as vts:` serves on `vts.port`; `vts.stop()` / `vts.start()` as the app
    closing and coming back (tokens, parameters and expression state survive, as in VTS)."""

    def __init__(self, port: int = 0, expressions: tuple[str, ...] = (
            "Happy.exp3.json", "Angry.exp3.json", "Sad.exp3.json", "Surprised.exp3.json",
            "Blush.exp3.json")) -> None:
        self.port = port
        self.allow = True  # the user's answer to the token dialog
        self.tokens: dict[str, str] = {}  # token -> plugin name
        self.params: dict[str, str] = {}  # custom parameter -> plugin that made it
        self.controlled: dict[str, str] = {}  # parameter -> another plugin driving it
        self.expressions = {f: False for f in expressions}
        self.model_id = "model-1"
        # every request, with "t" (monotonic s) and "wall" (time.time(), to compare with a
        # page's performance.timeOrigin + now)
        self.received: list[dict[str, Any]] = []
        self.injections: list[tuple[float, dict[str, float], bool]] = []
        self.activations: list[tuple[str, bool, float]] = []
        self.dialogs = 0  # token dialogs shown
        self.icons: list[str | None] = []  # the icon each dialog showed
        self.logins = 0
        self.lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._conns: set[Any] = set()

    # lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> FakeVTS:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake VTube Studio did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
        self._thread = None
        self._loop = None

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._serve, "127.0.0.1", self.port) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()
            for ws in list(self._conns):
                await ws.close()

    def revoke(self) -> None:
        """The user revokes Mimic's access in VTube Studio: tokens and its parameters go."""
        with self.lock:
            mine = {n for n, p in self.params.items() if p != "Other Plugin"}
            for name in mine:
                del self.params[name]
            self.tokens.clear()
            for sess in self._conns:
                if sess.vts_plugin is not None:
                    sess.vts_plugin = None
                    sess.vts_revoked = True

    # queries for tests -------------------------------------------------------------------
    def messages(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.received if m.get("messageType") == kind]

    def last_values(self) -> dict[str, float]:
        with self.lock:
            return dict(self.injections[-1][1]) if self.injections else {}

    def wait(self, predicate: Any, timeout: float = 20.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            time.sleep(0.05)
        return False

    # protocol ----------------------------------------------------------------------------
    async def _serve(self, ws: Any) -> None:
        ws.vts_plugin = None  # the plugin name this session logged in as
        self._conns.add(ws)
        try:
            async for text in ws:
                msg = json.loads(text)
                with self.lock:
                    self.received.append({**msg, "t": time.monotonic(), "wall": time.time()})
                    reply = self._answer(ws, msg)
                await ws.send(json.dumps(reply))
        except Exception:  # a client gone mid-message is VTS's everyday life
            pass
        finally:
            self._conns.discard(ws)

    def _answer(self, ws: Any, msg: dict[str, Any]) -> dict[str, Any]:
        kind = msg.get("messageType", "")
        data = msg.get("data") or {}
        if msg.get("apiName") != "VTubeStudioPublicAPI":
            return _error(msg, 3, "apiName invalid")
        if msg.get("apiVersion") != "1.0":
            return _error(msg, 4, "apiVersion invalid")
        if kind == "AuthenticationTokenRequest":
            name, dev = data.get("pluginName", ""), data.get("pluginDeveloper", "")
            if not 3 <= len(name) <= 32:
                return _error(msg, 52, "plugin name invalid")
            if not 3 <= len(dev) <= 32:
                return _error(msg, 53, "developer name invalid")
            icon = data.get("pluginIcon")
            if icon is not None and not _icon_ok(icon):
                return _error(msg, 54, "plugin icon invalid (128x128 PNG or JPG, base64)")
            self.icons.append(icon)
            self.dialogs += 1
            if not self.allow:
                return _error(msg, 50, "User has denied API access for your plugin.")
            token = secrets.token_hex(16)
            self.tokens[token] = name
            return _reply(msg, "AuthenticationTokenResponse", {"authenticationToken": token})
        if kind == "AuthenticationRequest":
            for field, code in (("authenticationToken", 100), ("pluginName", 101),
                                ("pluginDeveloper", 102)):
                if not data.get(field):
                    return _error(msg, code, f"{field} missing")
            ok = self.tokens.get(data["authenticationToken"]) == data["pluginName"]
            if ok:
                ws.vts_plugin = data["pluginName"]
                ws.vts_revoked = False
                self.logins += 1
            return _reply(msg, "AuthenticationResponse", {
                "authenticated": ok,
                "reason": "Token valid." if ok else "Token invalid or revoked."})
        if kind == "APIStateRequest":
            return _reply(msg, "APIStateResponse", {
                "active": True, "vTubeStudioVersion": "1.28.0",
                "currentSessionAuthenticated": ws.vts_plugin is not None})
        if ws.vts_plugin is None:
            if getattr(ws, "vts_revoked", False):  # README: revoked plugins get 50 for all
                return _error(msg, 50, "User has denied API access for your plugin.")
            return _error(msg, 8, "Request requires authentication.")
        handler = getattr(self, "_on_" + kind, None)
        if handler is None:
            return _error(msg, 7, f"Unknown request type {kind}")
        return handler(ws, msg, data)

    def _on_ParameterCreationRequest(self, ws: Any, msg: dict, data: dict) -> dict:
        name = str(data.get("parameterName", ""))
        if not (4 <= len(name) <= 32 and name.isascii() and name.isalnum()):
            return _error(msg, 350, f"Parameter name {name} invalid")
        if name in DEFAULT_PARAMS:
            return _error(msg, 354, f"{name} is a default parameter name")
        for key in ("min", "max", "defaultValue"):
            v = data.get(key)
            if not isinstance(v, (int, float)) or not -1e6 <= v <= 1e6:
                return _error(msg, 351, f"{key} invalid")
        owner = self.params.get(name)
        if owner is not None and owner != ws.vts_plugin:
            return _error(msg, 352, f"Parameter {name} was already created by {owner}")
        self.params[name] = ws.vts_plugin
        return _reply(msg, "ParameterCreationResponse", {"parameterName": name})

    def _on_InjectParameterDataRequest(self, ws: Any, msg: dict, data: dict) -> dict:
        values = data.get("parameterValues") or []
        if not values:
            return _error(msg, 450, "No data provided")
        if data.get("mode", "set") not in ("set", "add"):
            return _error(msg, 455, "mode unknown")
        got = {}
        for item in values:
            pid, v = item.get("id"), item.get("value")
            if not isinstance(v, (int, float)) or not -1e6 <= v <= 1e6:
                return _error(msg, 451, f"value for {pid} invalid")
            if pid not in DEFAULT_PARAMS and pid not in self.params:
                return _error(msg, 453, f"Parameter {pid} not found")
            other = self.controlled.get(pid)
            if other is not None and other != ws.vts_plugin and data.get("mode") != "add":
                return _error(msg, 454, f"Parameter {pid} is currently controlled by {other}")
            got[pid] = float(v)
        self.injections.append((time.monotonic(), got, bool(data.get("faceFound"))))
        return _reply(msg, "InjectParameterDataResponse", {})

    def _on_ExpressionStateRequest(self, ws: Any, msg: dict, data: dict) -> dict:
        return _reply(msg, "ExpressionStateResponse", {
            "modelLoaded": True, "modelName": "Fake model", "modelID": self.model_id,
            "expressions": [{"name": f[: -len(".exp3.json")], "file": f, "active": on,
                             "deactivateWhenKeyIsLetGo": False,
                             "autoDeactivateAfterSeconds": False, "secondsRemaining": 0,
                             "usedInHotkeys": [], "parameters": []}
                            for f, on in self.expressions.items()]})

    def _on_ExpressionActivationRequest(self, ws: Any, msg: dict, data: dict) -> dict:
        file = str(data.get("expressionFile", ""))
        if not file.endswith(".exp3.json"):
            return _error(msg, 650, f"Invalid expression file name {file}")
        if file not in self.expressions:
            return _error(msg, 651, f"Expression {file} not found in model")
        on = bool(data.get("active"))
        self.expressions[file] = on
        self.activations.append((file, on, float(data.get("fadeTime", 0.25))))
        return _reply(msg, "ExpressionActivationResponse", {})


def _icon_ok(icon: Any) -> bool:
    """A base64 PNG of exactly 128x128 (its IHDR) or a JPEG (not measured here)."""
    try:
        raw = base64.b64decode(str(icon), validate=True)
    except ValueError:
        return False
    if raw.startswith(b"\x89PNG\r\n\x1a\n") and raw[12:16] == b"IHDR":
        return struct.unpack(">II", raw[16:24]) == (128, 128)
    return raw.startswith(b"\xff\xd8")


def _reply(msg: dict, kind: str, data: dict) -> dict:
    return {"apiName": "VTubeStudioPublicAPI", "apiVersion": "1.0",
            "timestamp": int(time.time() * 1000), "messageType": kind,
            "requestID": msg.get("requestID", ""), "data": data}


def _error(msg: dict, code: int, text: str) -> dict:
    return _reply(msg, "APIError", {"errorID": code, "message": text})
