"""The straight-line readout: one linear score per expression, a probability through a sigmoid.

Why it is here: a small net learns whatever separates the takes it is given, including what a
short take happens to carry (a lip press in the only other happy take); a shrunken linear
readout cannot bend around such a detail and, on some people's takes, reads new takes better.
Model selection (`mimic.selection`) lets the user's own takes decide between them.

Each expression gets its own one-against-the-rest logistic regression (scikit-learn's
`LogisticRegression`, L2 shrinkage C=0.1 on standardized inputs, classes balanced, so a long
neutral take does not outweigh a short one), whose probability is exactly
sigmoid(x . coef + intercept): the readout is one dense layer, predicts with numpy alone and
exports to TensorFlow.js as it is. A shrinkage linear discriminant
(`LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")`, one against the rest) was
measured beside it on the shared Live Link takes and held up worse (worst one-take fold 0.83
against 0.89). scikit-learn is imported at fit time only (the training worker); prediction
never needs it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_linear_readout"]

# Smallest spread an input is given before the fit: channels that never move in the user's
# takes (a tongue that never shows) carry no information and must not get huge weights.
_MIN_SCALE = 0.02


def fit_linear_readout(x: np.ndarray, labels: np.ndarray, n_classes: int,
                       inputs: np.ndarray, shrink: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Kernel (n_inputs, n_classes) and bias (n_classes,) of one-vs-rest linear log-odds;
    `shrink` is the inverse L2 strength (scikit-learn's C).

    `x` are training frames (n, 52), `labels` each frame's class in 0..n_classes-1, `inputs`
    a boolean mask of the columns the readout may use (the expression head's region). A
    class with no frames gets a large negative bias, so it is never read.
    """
    from sklearn.linear_model import LogisticRegression

    cols = np.flatnonzero(inputs)
    xs = x[:, cols].astype(np.float64)
    mean = xs.mean(axis=0)
    scale = np.maximum(xs.std(axis=0), _MIN_SCALE)
    xs = (xs - mean) / scale
    kernel = np.zeros((x.shape[1], n_classes))
    bias = np.full(n_classes, -20.0)
    for k in range(n_classes):
        target = labels == k
        if not target.any() or target.all():
            continue
        est = LogisticRegression(C=shrink, class_weight="balanced", max_iter=500)
        est.fit(xs, target.astype(np.int64))
        coef = est.coef_[0] / scale
        kernel[cols, k] = coef
        bias[k] = float(est.intercept_[0] - mean @ coef)
    return kernel.astype(np.float32), bias.astype(np.float32)
