"""Open Sound Control 1.0 encoding: the few pieces the VMC protocol needs.

Only what Mimic sends: messages with string, float32 and int32 arguments, and bundles with
the "immediately" time tag. Standard library only, so the relay and the page share it.
"""

from __future__ import annotations

import struct

__all__ = ["BUNDLE_HEAD", "bundle", "message", "padded"]

# "#bundle", then the time tag 1: "immediately" (OSC 1.0)
BUNDLE_HEAD = b"#bundle\0" + struct.pack(">II", 0, 1)


def padded(text: str | bytes) -> bytes:
    """An OSC string: the bytes, at least one NUL, padded to a multiple of four."""
    raw = text.encode() if isinstance(text, str) else text
    return raw + b"\0" * (4 - len(raw) % 4)


def message(address: str, *args: str | float | int) -> bytes:
    """One OSC message. A Python float always goes out as float32 (`f`), an int as `i`: VMC
    receivers drop a blend value that arrives as a double or an int."""
    tags = ","
    body = b""
    for arg in args:
        if isinstance(arg, str):
            tags += "s"
            body += padded(arg)
        elif isinstance(arg, int):  # bool is an int
            tags += "i"
            body += struct.pack(">i", int(arg))
        elif isinstance(arg, float):
            tags += "f"
            body += struct.pack(">f", arg)
        else:
            raise TypeError(f"OSC argument of type {type(arg).__name__} is not supported")
    return padded(address) + padded(tags) + body


def bundle(messages: list[bytes]) -> bytes:
    """Messages in one bundle, each preceded by its int32 size."""
    return BUNDLE_HEAD + b"".join(struct.pack(">i", len(m)) + m for m in messages)
