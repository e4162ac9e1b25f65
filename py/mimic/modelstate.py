"""A model's file state and foreign networks: what is saved, what is loaded, and checked.

Kept apart from `mimic.model` (training and prediction): the format's checks and the
compatibility with older files and TF.js networks are their own concern. Functions take the
model class, so this module never imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from mimic.blendshapes import COUNT, INDEX, NAMES
from mimic.targets import EYES, MOUTH, TargetSet, canonical, group_of
from mimic.tfjs import DenseLayer
from mimic.voicemodel import VoiceModel

__all__ = ["MODEL_VERSION", "from_dense_layers", "from_state", "to_state"]

M = TypeVar("M")
MODEL_VERSION = 1

def from_dense_layers(cls: type[M], layers: list[DenseLayer], names: Iterable[str] | None = None,
                      line: DenseLayer | None = None) -> M:
    """Wrap a dense network trained elsewhere (e.g. the TF.js app) as a model.

    Without names, a network with 14 outputs is taken to be the standard VRM preset set
    (6 expressions, 5 visemes, 3 blinks), as the TF.js prototype trained it. `line` is
    a straight-line branch added before the last activation (a chosen blend).
    """
    if not layers:
        raise ValueError("the network has no layers")
    if layers[0].kernel.shape[0] != COUNT:
        raise ValueError(f"the network takes {layers[0].kernel.shape[0]} inputs; "
                         f"a face model takes {COUNT} blendshapes")
    outputs = layers[-1].units
    names = list(names) if names is not None else None
    if names is None:
        names = list(_STANDARD.names) if outputs == len(_STANDARD.names) else None
        if names is None:
            raise ValueError(f"the network has {outputs} outputs and no target names; "
                             f"name them in its metadata (\"targets\")")
    targets = TargetSet.from_labels(names)
    if list(targets.names) != [canonical(n) for n in names]:
        targets = _ordered_targets(names)
    if len(names) != outputs:
        raise ValueError(f"the network has {outputs} outputs but {len(names)} target names")
    model = cls()
    model.targets_ = targets
    model._layers = [DenseLayer(la.kernel, la.bias, la.activation) for la in layers]
    model.reference_ = np.zeros(COUNT, np.float32)
    model.offset_ = np.zeros(COUNT, np.float32)
    model.masks_ = {}
    model.linear_ = None if line is None else DenseLayer(line.kernel, line.bias, "linear")
    model.training_ = {"imported": "tfjs"}
    model.voice_ = None
    model._bind()
    return model

def to_state(self: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The model file's header (JSON) and arrays."""
    header = {
        "model_version": MODEL_VERSION,
        "targets": self.targets_.to_dict(),
        "activations": [layer.activation for layer in self._layers],
        "masks": {g: [NAMES[i] for i in np.flatnonzero(m)] for g, m in self.masks_.items()},
        "params": {k: getattr(self, k) for k in ("hidden", "alpha", "max_iter", "tol",
                                                 "dedup", "trim_start_s", "trim_end_s",
                                                 "calibrate_sessions", "augment",
                                                 "augment_drop", "augment_jitter",
                                                 "readout", "seed")},
        "training": self.training_,
        "created_at": self.training_.get("created_at"),
    }
    arrays = {"reference": self.reference_, "offset": self.offset_}
    for i, layer in enumerate(self._layers):
        arrays[f"kernel{i}"] = layer.kernel
        arrays[f"bias{i}"] = layer.bias
    if self.linear_ is not None:
        arrays["linear_kernel"], arrays["linear_bias"] = self.linear_.kernel, self.linear_.bias
    if self.voice_ is not None:
        header["voice"], voice_arrays = self.voice_.to_state()
        arrays.update(voice_arrays)
    return header, arrays

def from_state(cls: type[M], header: dict[str, Any], arrays: dict[str, np.ndarray]) -> M:
    """A model from its file's header and arrays; old files (no voice, no line) load."""
    version = header.get("model_version")
    if version != MODEL_VERSION:
        raise ValueError(f"model version {version!r} is not supported (expected "
                         f"{MODEL_VERSION})")
    params = header.get("params") or {}
    model = cls(**{k: v for k, v in params.items() if k in _PARAMS})
    model.targets_ = TargetSet.from_dict(header["targets"])
    activations = header["activations"]
    if not isinstance(activations, list) or not activations:
        raise ValueError("model has no layers")
    model._layers = [DenseLayer(arrays[f"kernel{i}"], arrays[f"bias{i}"], str(act))
                     for i, act in enumerate(activations)]
    _check_chain(model._layers, len(model.targets_.names))
    model.linear_ = None  # files from before model selection have no straight-line branch
    if "linear_kernel" in arrays:
        model.linear_ = DenseLayer(arrays["linear_kernel"], arrays["linear_bias"], "linear")
        _check_chain([model.linear_], len(model.targets_.names))
    model.reference_ = _vector(arrays, "reference")
    model.offset_ = _vector(arrays, "offset")
    model.masks_ = {g: np.isin(np.arange(COUNT), [INDEX[n] for n in names])
                    for g, names in (header.get("masks") or {}).items()}
    model.training_ = header.get("training") or {}
    voice = header.get("voice")  # files from before the voice was learned have none
    model.voice_ = VoiceModel.from_state(voice, arrays) if voice is not None else None
    model._bind()
    return model


_PARAMS = ("hidden", "alpha", "max_iter", "tol", "dedup", "trim_start_s", "trim_end_s",
           "calibrate_sessions", "augment", "augment_drop", "augment_jitter", "readout", "seed")
_STANDARD = TargetSet(("neutral", "happy", "angry", "sad", "relaxed", "surprised"), MOUTH, EYES)


def _ordered_targets(names: Sequence[str]) -> TargetSet:
    """A target set keeping a foreign network's output order (grouped, groups in order)."""
    canon = [canonical(n) for n in names]
    groups = [group_of(n) for n in canon]
    order = [g for g in ("expression", "mouth", "eyes")]
    if [order.index(g) for g in groups] != sorted(order.index(g) for g in groups):
        raise ValueError("the network's outputs must list expressions, then visemes, then eyes")
    return TargetSet(tuple(n for n, g in zip(canon, groups, strict=True) if g == "expression"),
                     tuple(n for n, g in zip(canon, groups, strict=True) if g == "mouth"),
                     tuple(n for n, g in zip(canon, groups, strict=True) if g == "eyes"))


def _vector(arrays: dict[str, np.ndarray], name: str) -> np.ndarray:
    value = np.asarray(arrays[name], np.float32)
    if value.shape != (COUNT,):
        raise ValueError(f"array {name!r} has shape {value.shape}, expected ({COUNT},)")
    return value


def _check_chain(layers: list[DenseLayer], outputs: int) -> None:
    width = COUNT
    for i, layer in enumerate(layers):
        if layer.kernel.shape[0] != width:
            raise ValueError(f"layer {i} takes {layer.kernel.shape[0]} inputs, expected {width}")
        width = layer.units
    if width != outputs:
        raise ValueError(f"the network has {width} outputs for {outputs} targets")
