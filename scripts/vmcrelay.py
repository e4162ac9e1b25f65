"""The VMC relay: the page's WebSocket messages out as UDP datagrams to one address.

A browser cannot send UDP, and VMC receivers (VSeeFace, VNyan, Warudo, VMagicMirror) only
listen for it, so `python serve.py --vmc [HOST:]PORT` carries the page's VMC output across:
the page opens `ws://<its own host>/vmc` and every binary message becomes one datagram to
HOST:PORT, and to nothing else. Standard library only (serve.py must run on a fresh
machine), so this is a small but complete RFC 6455 server side: handshake, masking,
fragmentation, ping/pong and the close handshake.

What it refuses, each with one log line and the connection closed, the server running on:
another origin than the page's own (or a Host that is not this machine: DNS rebinding), a
message over `MAX_MESSAGE` bytes, text, unmasked or malformed frames, and anything that is
not an OSC packet. It talks back to the page in small JSON text messages: where it sends on
connect, and a line when the receiver's port is closed (nothing listening there yet).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
from typing import Any, BinaryIO

PATH = "/vmc"
DEFAULT_TARGET = ("127.0.0.1", 39539)
MAX_MESSAGE = 1500  # a VMC bundle keeps to one Ethernet frame; the page's never exceed it
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}

# opcodes and close codes (RFC 6455, 5.2 and 7.4.1)
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NORMAL, PROTOCOL_ERROR, UNSUPPORTED, POLICY, TOO_BIG = 1000, 1002, 1003, 1008, 1009


def parse_target(text: str) -> tuple[str, int]:
    """"[HOST:]PORT" (HOST defaults to 127.0.0.1) as an address; ValueError if not one."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or DEFAULT_TARGET[0]
    number = int(port)
    if not 0 < number < 65536:
        raise ValueError(f"port {number} is out of range")
    return host, number


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


class Refused(Exception):
    """A peer broke the protocol or the relay's rules: close with `code`, log `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class Relay:
    """Serves WebSocket connections on serve.py's handler threads; one UDP socket each."""

    def __init__(self, target: tuple[str, int], log: Any = None) -> None:
        self.target = target
        self.log = log or (lambda line: print(line, flush=True))
        self.sent = 0

    def describe(self) -> str:
        host, port = self.target
        return f"udp://{host}:{port}"

    # handshake ----------------------------------------------------------------------------
    def check(self, headers: Any, own_port: int) -> tuple[int, str] | None:
        """Why this upgrade request is refused (HTTP status, reason), or None to accept."""
        host = headers.get("Host", "")
        name, sep, port = host.rpartition(":")
        if not sep or "]" in port:
            name, port = host, ""
        if name.lower() not in _LOCAL_HOSTS or (port and port != str(own_port)):
            return 403, f"Host {host!r} is not this machine"
        origin = headers.get("Origin")
        if origin != f"http://{host}":
            return 403, f"origin {origin!r} is not the page's own (http://{host})"
        if headers.get("Upgrade", "").lower() != "websocket" or "upgrade" not in \
                headers.get("Connection", "").lower():
            return 400, "not a WebSocket upgrade"
        if headers.get("Sec-WebSocket-Version") != "13":
            return 426, "WebSocket version is not 13"
        try:
            if len(base64.b64decode(headers.get("Sec-WebSocket-Key", ""), validate=True)) != 16:
                raise ValueError
        except ValueError:
            return 400, "bad Sec-WebSocket-Key"
        return None

    def handle(self, handler: Any) -> None:
        """Answer the upgrade on `handler` (a serve.py request handler) and relay until the
        page closes or breaks the rules."""
        handler.close_connection = True
        handler.protocol_version = "HTTP/1.1"  # the upgrade is an HTTP/1.1 exchange
        refused = self.check(handler.headers, handler.server.server_address[1])
        peer = handler.client_address[0]
        if refused is not None:
            status, reason = refused
            self.log(f"[vmc] refused a connection from {peer}: {reason}")
            handler.send_response(status)
            if status == 426:
                handler.send_header("Sec-WebSocket-Version", "13")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        key = handler.headers["Sec-WebSocket-Key"]
        handler.send_header("Sec-WebSocket-Accept", accept_key(key))
        handler.end_headers()
        handler.wfile.flush()
        self.serve(handler.rfile, handler.wfile, peer, handler.connection)

    # frames -------------------------------------------------------------------------------
    def serve(self, rfile: BinaryIO, wfile: Any, peer: str = "?",
              conn: socket.socket | None = None) -> None:
        udp = socket.socket(socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET,
                            socket.SOCK_DGRAM)
        try:
            try:
                udp.connect(self.target)  # connected: a closed port comes back as an error
            except OSError as exc:  # an unknown host name, no route
                self.log(f"[vmc] cannot send to {self.describe()}: {exc}")
                send_text(wfile, json.dumps({"error": f"cannot send to {self.describe()}: "
                                                      f"{exc}"}))
                _try_close(wfile, 1011, "cannot reach the VMC address")
                return
            send_text(wfile, json.dumps({"target": self.describe()}))
            self._loop(rfile, wfile, udp)
        except Refused as exc:
            self.log(f"[vmc] closed the connection from {peer}: {exc}")
            _try_close(wfile, exc.code, str(exc))
            _drain(rfile, conn)
        except (ConnectionError, OSError, EOFError):
            pass  # the page went away
        finally:
            udp.close()

    def _loop(self, rfile: BinaryIO, wfile: Any, udp: socket.socket) -> None:
        parts: list[bytes] | None = None
        size = 0
        while True:
            fin, opcode, payload = read_frame(rfile, MAX_MESSAGE - size)
            if opcode >= CLOSE:
                if opcode == CLOSE:
                    code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else NORMAL
                    _try_close(wfile, NORMAL if code in (NORMAL, 1001) else code, "")
                    return
                if opcode == PING:
                    write_frame(wfile, PONG, payload)
                continue  # a pong: nothing to do
            if opcode == CONT:
                if parts is None:
                    raise Refused(PROTOCOL_ERROR, "a continuation frame with nothing to continue")
            elif parts is not None:
                raise Refused(PROTOCOL_ERROR, "a new message before the last one ended")
            elif opcode == TEXT:
                raise Refused(UNSUPPORTED, "a text message (the relay carries binary OSC only)")
            elif opcode != BINARY:
                raise Refused(PROTOCOL_ERROR, f"unknown opcode {opcode}")
            else:
                parts, size = [], 0
            parts.append(payload)
            size += len(payload)
            if not fin:
                continue
            message = b"".join(parts)
            parts, size = None, 0
            if not is_osc(message):
                raise Refused(UNSUPPORTED, f"{len(message)} bytes that are not OSC")
            try:
                udp.send(message)
                self.sent += 1
            except ConnectionRefusedError:
                send_text(wfile, json.dumps({"error": f"nothing is listening at "
                                                      f"{self.describe()} yet"}))


def read_exactly(rfile: BinaryIO, n: int) -> bytes:
    data = rfile.read(n) if n else b""
    if len(data) != n:
        raise EOFError("the connection closed mid-frame")
    return data


def read_frame(rfile: BinaryIO, room: int) -> tuple[bool, int, bytes]:
    """One client frame, unmasked: (fin, opcode, payload). A data frame's payload may take
    at most `room` bytes (what is left of the message's size cap)."""
    b0, b1 = read_exactly(rfile, 2)
    fin, opcode = bool(b0 & 0x80), b0 & 0x0F
    if b0 & 0x70:
        raise Refused(PROTOCOL_ERROR, "reserved bits set (no extension was agreed)")
    if not b1 & 0x80:
        raise Refused(PROTOCOL_ERROR, "an unmasked frame from the client")
    length = b1 & 0x7F
    if length == 126:
        (length,) = struct.unpack(">H", read_exactly(rfile, 2))
    elif length == 127:
        (length,) = struct.unpack(">Q", read_exactly(rfile, 8))
    if opcode >= CLOSE:
        if not fin or length > 125:
            raise Refused(PROTOCOL_ERROR, "a fragmented or oversized control frame")
    elif length > room:
        raise Refused(TOO_BIG, f"a message over {MAX_MESSAGE} bytes")
    mask = read_exactly(rfile, 4)
    data = read_exactly(rfile, length)
    return fin, opcode, unmask(data, mask)


def unmask(data: bytes, mask: bytes) -> bytes:
    """XOR with the 4-byte key, done as one big integer rather than byte by byte."""
    n = len(data)
    if not n:
        return data
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def write_frame(wfile: Any, opcode: int, payload: bytes) -> None:
    """One unfragmented, unmasked server frame."""
    n = len(payload)
    if n < 126:
        head = struct.pack(">BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack(">BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 127, n)
    wfile.write(head + payload)
    flush = getattr(wfile, "flush", None)
    if flush:
        flush()


def send_text(wfile: Any, text: str) -> None:
    write_frame(wfile, TEXT, text.encode())


def _drain(rfile: Any, conn: socket.socket | None) -> None:
    """Read what the peer still sends (up to its close frame or a pause) before the socket
    closes: closing with unread bytes resets the connection, and the peer would lose the
    close frame saying why."""
    if conn is None:
        return
    with contextlib.suppress(OSError, ValueError):
        conn.settimeout(1.0)
        for _ in range(256):
            if not rfile.read1(65536):
                return


def _try_close(wfile: Any, code: int, reason: str) -> None:
    with contextlib.suppress(OSError):
        write_frame(wfile, CLOSE, struct.pack(">H", code) + reason.encode()[:120])


# OSC validation ----------------------------------------------------------------------------
_FIXED = {"i": 4, "f": 4, "c": 4, "r": 4, "m": 4, "h": 8, "t": 8, "d": 8}
_EMPTY = set("TFNI[]")


def _osc_string(data: bytes, at: int) -> int:
    """The offset after an OSC string starting at `at`; ValueError if there is none."""
    end = data.index(b"\0", at)
    after = (end // 4 + 1) * 4
    if after > len(data) or any(data[end:after]):
        raise ValueError("bad OSC string padding")
    return after


def _message_ok(data: bytes) -> bool:
    at = _osc_string(data, 0)
    if not data.startswith(b"/"):
        return False
    if at == len(data):
        return True  # no type tag string: old-style message without arguments
    if data[at:at + 1] != b",":
        return False
    end = _osc_string(data, at)
    for tag in data[at + 1:data.index(b"\0", at)].decode("ascii"):
        if tag in _FIXED:
            end += _FIXED[tag]
        elif tag in "sS":
            end = _osc_string(data, end)
        elif tag == "b":
            (n,) = struct.unpack_from(">i", data, end)
            end += 4 + (n + 3) // 4 * 4
            if n < 0:
                return False
        elif tag not in _EMPTY:
            return False
        if end > len(data):
            return False
    return end == len(data)


def is_osc(data: bytes, depth: int = 0) -> bool:
    """Whether `data` is one well-formed OSC 1.0 packet (a message, or a bundle of them)."""
    try:
        if len(data) % 4 or not data or depth > 8:
            return False
        if data.startswith(b"#bundle\0"):
            at = 16
            if len(data) < at:
                return False
            while at < len(data):
                (n,) = struct.unpack_from(">i", data, at)
                if n <= 0 or n % 4 or at + 4 + n > len(data):
                    return False
                if not is_osc(data[at + 4:at + 4 + n], depth + 1):
                    return False
                at += 4 + n
            return True
        return _message_ok(data)
    except (ValueError, struct.error, UnicodeDecodeError):
        return False
