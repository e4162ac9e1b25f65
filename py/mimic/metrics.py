"""Scores shared by the expression report and the voice report.

Kept apart so that `mimic.evaluate` (which scores the voice too) and `mimic.voicemodel`
(which scores its own takes) both import it without importing each other.
"""

from __future__ import annotations

import numpy as np

__all__ = ["macro_f1"]


def macro_f1(matrix: np.ndarray) -> float:
    """Mean F1 over the rows (true labels) of a confusion matrix that have frames."""
    f1s = []
    for i in range(len(matrix)):
        support = matrix[i].sum()
        if support == 0:
            continue
        tp = matrix[i, i]
        precision = tp / max(matrix[:, i].sum(), 1)
        recall = tp / support
        f1s.append(0.0 if tp == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(f1s)) if f1s else 0.0
