"""The training-time network: masked heads as flat parameters for scipy's L-BFGS.

Used at fit time only (it imports scipy); `dense_layers` turns the trained heads into the
plain dense chain the model predicts with and exports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mimic.tfjs import DenseLayer

Progress = Callable[[float, str, float | None], Any]


def _softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) without overflow; several times faster than np.logaddexp(0, z)."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _tanh_(u: np.ndarray) -> np.ndarray:
    """tanh in place from one exp: 2-3x faster than np.tanh in Pyodide, and no overflow."""
    e = np.abs(u)
    e *= -2.0
    np.exp(e, out=e)
    np.copysign((1.0 - e) / (1.0 + e), u, out=u)
    return u


def _sigmoid_softplus(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sigmoid(z) and log(1 + e^z), sharing one exp."""
    e = np.exp(-np.abs(z))
    inv = 1.0 / (1.0 + e)
    sig = np.where(z >= 0, inv, e * inv)
    return sig, np.maximum(z, 0) + np.log1p(e)


class HeadNet:
    """The training-time network: masked heads, flat parameters for scipy's L-BFGS.

    With `hidden` > 0 each head has its own hidden layer (tanh) over its masked inputs; the
    heads are stored as one block-structured layer pair so the result is a plain dense chain.
    """

    def __init__(self, masks: dict[str, np.ndarray], slices: dict[str, slice], hidden: int,
                 alpha: float, seed: int) -> None:
        self.masks = masks
        self.slices = slices
        self.hidden = hidden
        self.alpha = alpha
        self.rng = np.random.default_rng(seed)

    def train(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, max_iter: int, tol: float,
              progress: Progress | None) -> tuple[int, float]:
        """Fit every head; returns (iterations, loss) summed over the heads.

        The heads share no parameter and the loss is a sum of one term per head, so each is
        optimised on its own: each stops when it has converged, instead of every head being
        evaluated for as many iterations as the slowest needs.
        """
        from scipy.optimize import minimize  # training only: prediction never needs scipy

        n_out = y.shape[1]
        self._shape(x.shape[1], n_out, y, w)
        theta = self._init()
        data = self._split(x, y, w)
        heads, bounds = self.heads, self._bounds()
        iterations, loss = 0, 0.0
        total = max_iter * len(heads)
        try:
            for h, (start, stop) in enumerate(bounds):
                self.heads = [heads[h]]
                state = {"it": 0, "loss": float("nan")}

                def fun(th: np.ndarray, part: list = data[h:h + 1],
                        state: dict = state) -> tuple[float, np.ndarray]:
                    value, grad = self._loss(th, part)
                    state["loss"] = value
                    return value, grad

                def callback(_th: np.ndarray, state: dict = state, done: int = iterations
                             ) -> None:
                    state["it"] += 1
                    if progress and state["it"] % 5 == 0:
                        progress(min(0.98, 0.05 + 0.93 * (done + state["it"]) / total),
                                 f"Training: step {done + state['it']}", state["loss"])

                result = minimize(fun, theta[start:stop], jac=True, method="L-BFGS-B",
                                  callback=callback,
                                  options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-9})
                theta[start:stop] = result.x
                iterations += int(result.nit)
                loss += float(result.fun)
        finally:
            self.heads = heads
        self.theta = theta
        return iterations, loss

    def _bounds(self) -> list[tuple[int, int]]:
        """Where each head's parameters sit in the flat vector (contiguous, in head order)."""
        out, at = [], 0
        for inputs, outs in self.heads:
            ni, no, h = len(inputs), len(outs), self.hidden
            size = (ni * h + h + h * no + no) if h else (ni * no + no)
            out.append((at, at + size))
            at += size
        return out

    # parameter layout --------------------------------------------------------------------
    def _shape(self, n_in: int, n_out: int, y: np.ndarray, w: np.ndarray) -> None:
        """Which outputs and inputs each head owns; computed from the masks and outputs."""
        self.n_in, self.n_out = n_in, n_out
        self.heads = []  # (input mask, output indices)
        for group, mask in self.masks.items():
            outs = np.arange(n_out)[self.slices[group]]
            self.heads.append((np.flatnonzero(mask), outs))
        # prior bias: the weighted base rate of each output
        rate = (y * w).sum(axis=0) / np.maximum(w.sum(axis=0), 1e-9)
        rate = np.clip(rate, 1e-3, 1 - 1e-3)
        self.bias0 = np.log(rate / (1 - rate))

    def _init(self) -> np.ndarray:
        parts = []
        for inputs, outs in self.heads:
            if self.hidden:
                parts.append(self.rng.normal(0, 1 / np.sqrt(len(inputs)),
                                             (len(inputs), self.hidden)).ravel())
                parts.append(np.zeros(self.hidden))
                parts.append(self.rng.normal(0, 1 / np.sqrt(self.hidden),
                                             (self.hidden, len(outs))).ravel())
                parts.append(np.zeros(len(outs)))
            else:
                parts.append(np.zeros(len(inputs) * len(outs)))
            parts.append(self.bias0[outs] if not self.hidden else np.zeros(0))
        return np.concatenate(parts)

    def _unpack(self, th: np.ndarray) -> list[tuple]:
        out, at = [], 0
        for inputs, outs in self.heads:
            ni, no, h = len(inputs), len(outs), self.hidden
            if h:
                w1 = th[at:at + ni * h].reshape(ni, h)
                at += ni * h
                b1 = th[at:at + h]
                at += h
                w2 = th[at:at + h * no].reshape(h, no)
                at += h * no
                b2 = th[at:at + no]
                at += no
                out.append((inputs, outs, w1, b1, w2, b2))
            else:
                w2 = th[at:at + ni * no].reshape(ni, no)
                at += ni * no
                b2 = th[at:at + no]
                at += no
                out.append((inputs, outs, None, None, w2, b2))
        return out

    def _split(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> list[tuple]:
        """Each head's own slice of the data, cut once: its input columns, only the rows
        that carry weight for its outputs (augmented copies teach the expression head only),
        and weights normalised to sum to 1 per head."""
        parts = []
        for inputs, outs in self.heads:
            rows = np.flatnonzero(w[:, outs].any(axis=1))
            wo = w[np.ix_(rows, outs)]
            wo = wo / max(float(wo.sum()), 1e-9)
            xi = x[np.ix_(rows, inputs)].astype(np.float32)
            parts.append((xi, np.ascontiguousarray(xi.T), y[np.ix_(rows, outs)].astype(np.float32),
                          wo.astype(np.float32)))
        return parts

    def _loss(self, th: np.ndarray, data: list[tuple]) -> tuple[float, np.ndarray]:
        """Sum over heads of each head's mean weighted cross-entropy plus its L2 penalty.

        Each head is normalised by its own weight, so how many augmented copies the
        expression head gets does not change how strongly the others are regularised. The
        sums run in float32 (several times faster, in Pyodide too); L-BFGS keeps float64.
        """
        loss = 0.0
        grads = []
        for (_, _, w1, b1, w2, b2), (xi, xt, yo, wo) in zip(self._unpack(th), data,
                                                            strict=True):
            w2 = w2.astype(np.float32)
            if w1 is not None:
                w1 = w1.astype(np.float32)
                a = xi @ w1
                a += b1.astype(np.float32)
                _tanh_(a)
            else:
                a = xi
            z = a @ w2
            z += b2.astype(np.float32)
            dz, soft = _sigmoid_softplus(z)
            soft -= yo * z
            loss += float((wo * soft).sum())
            dz -= yo
            dz *= wo
            gw2 = a.T @ dz + (2 * self.alpha) * w2
            gb2 = dz.sum(axis=0)
            loss += self.alpha * float((w2 * w2).sum())
            if w1 is not None:
                da = dz @ w2.T
                da *= 1 - a * a
                gw1 = xt @ da + (2 * self.alpha) * w1
                gb1 = da.sum(axis=0)
                loss += self.alpha * float((w1 * w1).sum())
                grads += [gw1.ravel(), gb1, gw2.ravel(), gb2]
            else:
                grads += [gw2.ravel(), gb2]
        return loss, np.concatenate(grads).astype(np.float64)

    def dense_layers(self, mean: np.ndarray, scale: np.ndarray) -> list[DenseLayer]:
        """Fold standardisation into the first layer and lay the heads out as dense blocks."""
        heads = self._unpack(self.theta)
        if not self.hidden:
            kernel = np.zeros((self.n_in, self.n_out))
            bias = np.zeros(self.n_out)
            for inputs, outs, _, _, w2, b2 in heads:
                kernel[np.ix_(inputs, outs)] = w2
                bias[outs] = b2
            return [_folded(kernel, bias, mean, scale, "sigmoid")]
        width = self.hidden * len(heads)
        k1, b1 = np.zeros((self.n_in, width)), np.zeros(width)
        k2, b2 = np.zeros((width, self.n_out)), np.zeros(self.n_out)
        for j, (inputs, outs, w1, c1, w2, c2) in enumerate(heads):
            cols = np.arange(j * self.hidden, (j + 1) * self.hidden)
            k1[np.ix_(inputs, cols)] = w1
            b1[cols] = c1
            k2[np.ix_(cols, outs)] = w2
            b2[outs] = c2
        return [_folded(k1, b1, mean, scale, "tanh"),
                DenseLayer(k2.astype(np.float32), b2.astype(np.float32), "sigmoid")]


def _folded(kernel: np.ndarray, bias: np.ndarray, mean: np.ndarray, scale: np.ndarray,
            activation: str) -> DenseLayer:
    """((x - mean) / scale) @ K + b  ==  x @ (K / scale) + (b - mean/scale @ K)."""
    k = kernel / scale[:, None]
    b = bias - mean @ k
    return DenseLayer(k.astype(np.float32), b.astype(np.float32), activation)
