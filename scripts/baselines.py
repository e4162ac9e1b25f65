"""Reference models the quality benchmark puts beside Mimic's (benchmarks only, not the app).

- `prototype_net`: an exact numpy copy of the TensorFlow.js prototype's network: dense
  52-64-32-K with no activations, Glorot-uniform kernels and zero biases (tf.layers.dense's
  defaults), mean squared error on 0/1 targets, Adam (lr 0.001, beta 0.9/0.999, epsilon 1e-7,
  TF.js's defaults), batch 32, shuffled every epoch, 200 epochs.
- `least_squares`: one linear readout onto the 0/1 targets (ridge 1e-3), the closed-form
  solution the prototype's linear net approaches.
- `logistic`: scikit-learn's multinomial LogisticRegression on the expression labels.

Each returns dense layers, so it is wrapped as a model and scored by the same
`mimic.evaluate` as Mimic's own.
"""

from __future__ import annotations

import itertools

import numpy as np

from mimic.clips import Clip
from mimic.model import clip_targets
from mimic.targets import TargetSet
from mimic.tfjs import DenseLayer


def design(clips: list[Clip], targets: TargetSet) -> tuple[np.ndarray, np.ndarray]:
    """Every frame of every clip with its clip's 0/1 target row, as the prototype trained."""
    x = np.concatenate([c.frames for c in clips]).astype(np.float32)
    y = np.concatenate([np.tile(clip_targets(c, targets), (len(c.frames), 1)) for c in clips])
    return x, y.astype(np.float32)


def prototype_net(x: np.ndarray, y: np.ndarray, seed: int = 0, epochs: int = 200,
                  batch: int = 32, lr: float = 1e-3) -> list[DenseLayer]:
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], 64, 32, y.shape[1]]
    kernels = [(rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b))).astype(np.float32)
               for a, b in itertools.pairwise(sizes)]
    biases = [np.zeros(b, np.float32) for b in sizes[1:]]
    params = kernels + biases
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-7
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            a0 = x[idx]
            a1 = a0 @ kernels[0] + biases[0]
            a2 = a1 @ kernels[1] + biases[1]
            out = a2 @ kernels[2] + biases[2]
            g = (2.0 / (len(idx) * y.shape[1])) * (out - y[idx])
            g2 = g @ kernels[2].T
            g1 = g2 @ kernels[1].T
            grads = [a0.T @ g1, a1.T @ g2, a2.T @ g, g1.sum(0), g2.sum(0), g.sum(0)]
            step += 1
            c1, c2 = 1 - beta1 ** step, 1 - beta2 ** step
            for i, (p, gr) in enumerate(zip(params, grads, strict=True)):
                m[i] = beta1 * m[i] + (1 - beta1) * gr
                v[i] = beta2 * v[i] + (1 - beta2) * gr * gr
                p -= lr * (m[i] / c1) / (np.sqrt(v[i] / c2) + eps)
    return [DenseLayer(kernels[i], biases[i], "linear") for i in range(3)]


def least_squares(x: np.ndarray, y: np.ndarray, ridge: float = 1e-3) -> list[DenseLayer]:
    xa = np.hstack([x, np.ones((len(x), 1), np.float32)]).astype(np.float64)
    w = np.linalg.solve(xa.T @ xa + ridge * np.eye(xa.shape[1]), xa.T @ y)
    return [DenseLayer(w[:-1].astype(np.float32), w[-1].astype(np.float32), "linear")]


def logistic(x: np.ndarray, y: np.ndarray, targets: TargetSet) -> list[DenseLayer]:
    """Softmax regression over the expressions; visemes and blinks are left at 0."""
    from sklearn.linear_model import LogisticRegression

    sl = targets.slices["expression"]
    labels = y[:, sl].argmax(axis=1)
    clf = LogisticRegression(max_iter=2000).fit(x, labels)
    kernel = np.zeros((x.shape[1], y.shape[1]), np.float32)
    bias = np.full(y.shape[1], -30.0, np.float32)
    cols = np.arange(y.shape[1])[sl]
    if len(clf.classes_) == 2:
        kernel[:, cols[clf.classes_[1]]] = clf.coef_[0]
        bias[cols[clf.classes_[1]]] = clf.intercept_[0]
        bias[cols[clf.classes_[0]]] = 0.0
    else:
        for j, c in enumerate(clf.classes_):
            kernel[:, cols[c]] = clf.coef_[j]
            bias[cols[c]] = clf.intercept_[j]
    return [DenseLayer(kernel, bias, "softmax")]
