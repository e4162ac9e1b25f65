"""The VMC relay in serve.py: a real UDP socket on 127.0.0.1 gets exactly what a WebSocket
client sent; the rules (origin, size, OSC only) and RFC 6455 (masking, fragmentation,
ping/pong, close) hold, and the relay keeps serving after every refusal."""

import base64
import contextlib
import functools
import os
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

import serve
import vmcrelay
from mimic import osc
from mimic.vmc import VmcEncoder

ROOT = Path(__file__).resolve().parents[2]
OSC = osc.bundle([osc.message("/VMC/Ext/Blend/Val", "Joy", 0.75),
                  osc.message("/VMC/Ext/Blend/Apply")])


@pytest.fixture
def udp():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


@pytest.fixture
def relay(udp):
    """serve.py's server with the relay on, sending to `udp`; yields (port, log lines)."""
    lines: list[str] = []
    handler = functools.partial(serve.Handler, directory=str(ROOT))
    server = serve.QuietServer(("127.0.0.1", 0), handler)
    server.verbose = False
    server.relay = vmcrelay.Relay(udp.getsockname(), log=lines.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], lines
    server.shutdown()
    server.server_close()


def open_ws(port, origin=None):
    origin = origin or f"http://127.0.0.1:{port}"
    ws = connect(f"ws://127.0.0.1:{port}/vmc", origin=origin, open_timeout=5, close_timeout=5)
    hello = ws.recv(timeout=5)
    assert '"target": "udp://127.0.0.1:' in hello
    return ws


def still_relays(port, udp):
    with open_ws(port) as ws:
        ws.send(OSC)
        assert udp.recv(2048) == OSC


def test_messages_arrive_as_datagrams_byte_for_byte(relay, udp):
    port, _ = relay
    enc = VmcEncoder(("happy", "aa"), perfect_sync=True, head=True)
    import numpy as np

    datagrams = [bytes(d) for d in enc.encode(np.array([0.9, 0.1], np.float32),
                                              np.zeros(52, np.float32), (0.1, 0, 0), True, 1.0)]
    assert len(datagrams) > 1
    with open_ws(port) as ws:
        for _ in range(3):
            for d in datagrams:
                ws.send(d)
            assert [udp.recv(2048) for _ in datagrams] == datagrams


def test_another_origin_is_refused_and_the_relay_runs_on(relay, udp):
    port, lines = relay
    with pytest.raises(InvalidStatus) as info:
        open_ws(port, origin="https://example.com")
    assert info.value.response.status_code == 403
    assert any("origin" in line for line in lines)
    still_relays(port, udp)


def test_a_foreign_host_name_is_refused(relay):
    """DNS rebinding: a site whose name points at 127.0.0.1 has its own name as Host."""
    port, lines = relay
    with pytest.raises(InvalidStatus):
        connect(f"ws://127.0.0.1:{port}/vmc", origin=f"http://evil.test:{port}",
                additional_headers={"Host": f"evil.test:{port}"}, open_timeout=5)
    assert any("evil.test" in line for line in lines)


def test_an_oversized_message_is_refused(relay, udp):
    port, lines = relay
    big = osc.message("/VMC/Ext/Blend/Val", "x" * 1600, 1.0)
    with open_ws(port) as ws:
        ws.send(big)
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
    assert info.value.rcvd.code == vmcrelay.TOO_BIG
    assert len(lines) == 1 and "over 1500 bytes" in lines[0]
    udp.settimeout(0.3)
    with pytest.raises(TimeoutError):
        udp.recv(4096)
    udp.settimeout(5)
    still_relays(port, udp)


@pytest.mark.parametrize("payload", [b"hello world!", b"/VMC\0\0\0\0,f\0\0\0\0\0",
                                     b"#bundle\0" + bytes(8) + b"\0\0\0\x08/a\0\0,\0\0"])
def test_non_osc_bytes_are_refused_with_one_log_line(relay, udp, payload):
    port, lines = relay
    with open_ws(port) as ws:
        ws.send(payload)
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
    assert info.value.rcvd.code == vmcrelay.UNSUPPORTED
    assert len(lines) == 1 and "not OSC" in lines[0]
    still_relays(port, udp)


def test_text_is_refused(relay, udp):
    port, _ = relay
    with open_ws(port) as ws:
        ws.send("/VMC/Ext/Blend/Apply")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
    assert info.value.rcvd.code == vmcrelay.UNSUPPORTED
    still_relays(port, udp)


def test_fragments_make_one_datagram_and_ping_gets_pong(relay, udp):
    port, _ = relay
    with open_ws(port) as ws:
        ws.send([OSC[:10], OSC[10:24], OSC[24:]])  # one message in three frames
        assert udp.recv(2048) == OSC
        assert ws.ping(b"are you there").wait(5)
        ws.send(OSC)
        assert udp.recv(2048) == OSC
        ws.close()
        assert ws.close_code == 1000  # the relay answered the close handshake


def test_fragments_over_the_cap_together_are_refused(relay):
    port, _ = relay
    with open_ws(port) as ws, pytest.raises(ConnectionClosed) as info:
        ws.send([OSC] * 40)  # each small, together over 1500 bytes
        ws.recv(timeout=5)
    assert info.value.rcvd.code == vmcrelay.TOO_BIG


def raw_upgrade(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /vmc HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    assert vmcrelay.accept_key(key).encode() in head
    return s


def read_server_frame(s):
    b0, b1 = s.recv(1)[0], s.recv(1)[0]
    assert not b1 & 0x80  # a server never masks
    n = b1 & 0x7F
    data = b""
    while len(data) < n:
        data += s.recv(n - len(data))
    return b0 & 0x0F, data


def test_an_unmasked_frame_is_a_protocol_error(relay, udp):
    port, lines = relay
    s = raw_upgrade(port)
    read_server_frame(s)  # the hello
    s.sendall(struct.pack(">BB", 0x82, len(OSC)) + OSC)  # no mask bit
    opcode, data = read_server_frame(s)
    assert opcode == vmcrelay.CLOSE and struct.unpack(">H", data[:2])[0] == 1002
    assert "unmasked" in lines[0]
    s.close()
    still_relays(port, udp)


def test_masked_frames_unmask_and_interleaved_ping_is_answered(relay, udp):
    port, _ = relay
    s = raw_upgrade(port)
    read_server_frame(s)
    mask = b"\x01\x82\x43\xf4"

    def frame(b0, payload):
        masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        return struct.pack(">BB", b0, 0x80 | len(payload)) + mask + masked

    s.sendall(frame(0x02, OSC[:20]) + frame(0x89, b"p") + frame(0x80, OSC[20:]))
    assert read_server_frame(s) == (vmcrelay.PONG, b"p")
    assert udp.recv(2048) == OSC
    s.sendall(frame(0x88, struct.pack(">H", 1000)))
    opcode, data = read_server_frame(s)
    assert opcode == vmcrelay.CLOSE and data[:2] == struct.pack(">H", 1000)
    s.close()


def test_a_closed_receiver_port_is_reported_to_the_page(relay, udp):
    port, _ = relay
    udp.close()  # nothing listens at the target any more
    with open_ws(port) as ws:
        messages = []
        for _ in range(5):
            ws.send(OSC)
            with contextlib.suppress(TimeoutError):
                messages.append(ws.recv(timeout=0.3))
        assert any("nothing is listening" in m for m in messages)
        ws.send(OSC)  # and it goes on serving


def test_without_vmc_nothing_listens_at_the_path():
    handler = functools.partial(serve.Handler, directory=str(ROOT))
    server = serve.QuietServer(("127.0.0.1", 0), handler)
    server.verbose = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall((f"GET /vmc HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {'A' * 22}==\r\n"
                   f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n\r\n"
                   ).encode())
        assert s.recv(64).split(b" ")[1] == b"404"
        s.close()
    finally:
        server.shutdown()
        server.server_close()


def test_osc_validation():
    assert vmcrelay.is_osc(OSC)
    assert vmcrelay.is_osc(osc.message("/VMC/Ext/OK", 1, 3, 0, 1))
    assert vmcrelay.is_osc(osc.message("/a", "s", 1.0, 2))
    assert not vmcrelay.is_osc(b"")
    assert not vmcrelay.is_osc(osc.message("/a", 1.0)[:-4])  # argument missing
    assert not vmcrelay.is_osc(osc.message("/a", 1.0) + bytes(4))  # trailing bytes
    assert not vmcrelay.is_osc(b"GET / HTTP/1.1\r\n\r\n")


def test_parse_target():
    assert vmcrelay.parse_target("39540") == ("127.0.0.1", 39540)
    assert vmcrelay.parse_target("192.168.1.20:39539") == ("192.168.1.20", 39539)
    with pytest.raises(ValueError):
        vmcrelay.parse_target("host:70000")


def test_serve_py_says_where_it_sends():
    proc = subprocess.Popen([sys.executable, str(ROOT / "serve.py"), "--port", "0", "--vmc",
                             "127.0.0.1:39541"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        while "Mimic is running" not in lines[0]:  # set-up lines from a fresh checkout
            lines = [lines[1], proc.stdout.readline()]
        assert "udp://127.0.0.1:39541" in lines[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_unreachable_target_is_said_to_the_page_and_logged():
    lines: list[str] = []
    handler = functools.partial(serve.Handler, directory=str(ROOT))
    server = serve.QuietServer(("127.0.0.1", 0), handler)
    server.verbose = False
    server.relay = vmcrelay.Relay(("no-such-host.invalid", 39539), log=lines.append)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        with connect(f"ws://127.0.0.1:{port}/vmc", origin=f"http://127.0.0.1:{port}",
                     open_timeout=5) as ws:
            assert "cannot send to udp://no-such-host.invalid:39539" in ws.recv(timeout=10)
        assert any("no-such-host.invalid" in line for line in lines)
    finally:
        server.shutdown()
        server.server_close()
