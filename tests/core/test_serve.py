"""serve.py: a request the browser cancels is normal and prints nothing; real errors do."""

import contextlib
import functools
import io
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import serve

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def running(directory: Path):
    handler = functools.partial(serve.Handler, directory=str(directory))
    server = serve.QuietServer(("127.0.0.1", 0), handler)
    server.verbose = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def cancel_download(port: int, path: str) -> None:
    """Ask for a big file, read a little, and drop the connection with a reset."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    s.recv(1024)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def test_cancelled_requests_are_silent_and_other_errors_are_not(tmp_path, monkeypatch):
    (tmp_path / "big.bin").write_bytes(bytes(32 * 1024 * 1024))
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with running(tmp_path) as server:
        for _ in range(3):
            cancel_download(server.server_address[1], "/big.bin")
        time.sleep(0.5)
        assert "Traceback" not in err.getvalue(), err.getvalue()
        try:
            raise ValueError("a real bug")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
    assert "ValueError: a real bug" in err.getvalue()
