"""Progress reports of long jobs: `progress(fraction, message, loss)`.

One place for the type and for mapping a part of a job onto its share of the bar, used by
training, cross-validation and model selection alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Progress", "scaled_progress"]

Progress = Callable[[float, str, float | None], Any]


def scaled_progress(progress: Progress | None, lo: float, hi: float,
                    message: str | None = None) -> Progress | None:
    """A part of a job's progress: fractions mapped into lo..hi, messages kept or replaced."""
    if progress is None:
        return None
    return lambda f, msg, loss=None: progress(lo + (hi - lo) * float(f),
                                              msg if message is None else message, loss)
