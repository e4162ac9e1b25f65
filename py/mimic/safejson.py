"""JSON from files users bring, parsed without risking the interpreter.

json.loads recurses in C without a usable limit in Pyodide: a few thousand nested brackets
overflow the WebAssembly stack and kill the interpreter (no RecursionError is raised). Every
format this app reads is shallow, so nesting depth is measured first and deep input refused.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def json_depth(raw: bytes) -> int:
    """Deepest nesting of [ and { outside JSON strings, in linear time and without recursion.

    (A regex for JSON strings can go quadratic on a hostile header, and recursion is what
    we are guarding against.) Only valid JSON is scanned exactly, but wherever JSON turns invalid
    json.loads stops too, so the count never misses nesting that json.loads would reach.
    """
    codes = np.frombuffer(raw, np.uint8)
    if not codes.size:
        return 0
    index = np.arange(codes.size)
    last_plain = np.maximum.accumulate(np.where(codes == 92, -1, index))  # 92 is a backslash
    run = np.zeros(codes.size, np.int64)  # backslashes right before each byte
    run[1:] = index[:-1] - last_plain[:-1]
    quotes = (codes == 34) & (run % 2 == 0)  # unescaped '"'
    outside = np.cumsum(quotes) % 2 == 0
    steps = (((codes == 91) | (codes == 123)) & outside).astype(np.int64)
    steps -= ((codes == 93) | (codes == 125)) & outside
    return int(np.cumsum(steps).max())


def loads(raw: str | bytes, max_depth: int = 64) -> Any:
    """json.loads, but ValueError (not a crash) for input nested deeper than `max_depth`."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if json_depth(data) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return json.loads(data)
