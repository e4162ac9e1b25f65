"""A minimal stand-in for pytest inside Pyodide, which ships no pytest.

Covers what the core tests are allowed to use: plain asserts, `raises` (with `match`),
`approx`, `mark.parametrize` and the `tmp_path` fixture. `run()` collects test_*.py
modules, runs each test (expanding parametrize) and returns a JSON-able report, so the
browser test can show exactly which test failed in Pyodide and why.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import math
import re
import tempfile
import traceback
from pathlib import Path

__all__ = ["approx", "mark", "raises", "run"]


class _Raises:
    def __init__(self, exc, match: str | None) -> None:
        self.exc = exc
        self.match = match
        self.value = None

    def __enter__(self):
        return self

    def __exit__(self, etype, value, tb) -> bool:
        if etype is None:
            raise AssertionError(f"DID NOT RAISE {self.exc}")
        if not issubclass(etype, self.exc):
            return False
        if self.match is not None and not re.search(self.match, str(value)):
            raise AssertionError(f"Regex {self.match!r} does not match {str(value)!r}")
        self.value = value
        return True


def raises(exc, *args, match: str | None = None, **kwargs):
    ctx = _Raises(exc, match)
    if args:
        with ctx:
            args[0](*args[1:], **kwargs)
        return ctx
    return ctx


class _Approx:
    def __init__(self, expected, rel: float | None = None, abs: float | None = None) -> None:
        self.expected = expected
        self.rel = 1e-6 if rel is None else rel
        self.abs = 1e-12 if abs is None else abs

    def _close(self, a, b) -> bool:
        if isinstance(b, dict):
            return isinstance(a, dict) and a.keys() == b.keys() and all(
                self._close(a[k], b[k]) for k in b)
        if hasattr(b, "__len__") or hasattr(a, "__len__"):
            import numpy as np

            a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            if a_arr.shape != b_arr.shape and b_arr.ndim and a_arr.ndim:
                return False
            tol = np.maximum(self.abs, self.rel * np.abs(b_arr))
            return bool(np.all((np.abs(a_arr - b_arr) <= tol) | (a_arr == b_arr)))
        if a == b:
            return True
        return math.isfinite(b) and abs(a - b) <= max(self.abs, self.rel * abs(b))

    def __eq__(self, other) -> bool:
        return self._close(other, self.expected)

    __hash__ = None

    def __repr__(self) -> str:
        return f"approx({self.expected!r})"


def approx(expected, rel: float | None = None, abs: float | None = None) -> _Approx:
    return _Approx(expected, rel, abs)


class _Mark:
    @staticmethod
    def parametrize(names, values, ids=None):
        def deco(fn):
            fn.__dict__.setdefault("_params", []).insert(0, (names, list(values)))
            return fn

        return deco

    def __getattr__(self, name: str):
        return lambda *a, **k: (lambda fn: fn) if not (len(a) == 1 and callable(a[0])) else a[0]


mark = _Mark()


def _cases(fn):
    """Yield (id, kwargs) for each parametrize combination of a test function."""
    layers = []
    for names, values in fn.__dict__.get("_params", []):
        keys = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        layer = []
        for i, v in enumerate(values):
            vals = v if len(keys) > 1 else (v,)
            layer.append((f"{i}", dict(zip(keys, vals, strict=True))))
        layers.append(layer)
    for combo in itertools.product(*layers) if layers else [()]:
        kwargs = {}
        for _, kw in combo:
            kwargs.update(kw)
        yield "-".join(i for i, _ in combo), kwargs


def _run_one(fn, kwargs) -> None:
    if "tmp_path" in inspect.signature(fn).parameters:
        with tempfile.TemporaryDirectory() as d:
            fn(**kwargs, tmp_path=Path(d))
    else:
        fn(**kwargs)


def run(test_dir: str, skip: tuple[str, ...] = ()) -> dict:
    results = {"passed": [], "failed": [], "errors": []}
    for path in sorted(Path(test_dir).glob("test_*.py")):
        if path.stem in skip:
            continue
        try:
            module = importlib.import_module(f"core.{path.stem}")
        except Exception:
            results["errors"].append({"id": path.stem, "error": traceback.format_exc()})
            continue
        for name, fn in vars(module).items():
            if not (name.startswith("test_") and inspect.isfunction(fn)):
                continue
            for case_id, kwargs in _cases(fn):
                test_id = f"{path.stem}::{name}" + (f"[{case_id}]" if case_id else "")
                try:
                    _run_one(fn, kwargs)
                    results["passed"].append(test_id)
                except Exception:
                    results["failed"].append({"id": test_id, "error": traceback.format_exc()})
    return results
