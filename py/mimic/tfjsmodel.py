"""A face model as a TensorFlow.js Layers model (model.json + weights) and back.

The camera network is the Layers model itself, so `tf.loadLayersModel` runs it as it is. A
learned voice has another input (band shapes, not 52 blendshapes), so it cannot be part
of the same Sequential; it rides in the model's `userDefinedMetadata.voice` as plain JSON
numbers (its level range and its two small dense layers), which a TF.js app reads with
`model.getUserDefinedMetadata()` and this module reads back on import. Files without it
(exports from before the voice was learned, networks trained in TF.js) load as camera-only
models.
"""

from __future__ import annotations

from typing import Any

from mimic.blendshapes import COUNT
from mimic.tfjs import export_layers, import_layers
from mimic.tfjsgraph import export_branched, import_branched, is_branched

__all__ = ["from_tfjs", "to_tfjs"]


def to_tfjs(model: Any, weights_path: str = "model.weights.bin") -> tuple[dict, bytes]:
    """(model.json dict, weights bytes) for an ExpressionModel, its voice in the metadata."""
    meta: dict[str, Any] = {"targets": list(model.targets_.names)}
    if getattr(model, "voice_", None) is not None:
        meta["voice"] = model.voice_.to_json()
    line = getattr(model, "linear_", None)
    if line is not None:  # a chain plus a straight line: a small functional graph
        return export_branched(model.dense_layers(), line, COUNT, outputs_meta=meta,
                               weights_path=weights_path)
    return export_layers(model.dense_layers(), COUNT, outputs_meta=meta,
                         weights_path=weights_path)


def from_tfjs(model_json: dict | str, weights: bytes | dict[str, bytes]) -> Any:
    """An ExpressionModel from a TF.js export (ours, or a dense network trained in TF.js)."""
    from mimic.model import ExpressionModel
    from mimic.voicemodel import VoiceModel

    line = None
    if is_branched(model_json):
        layers, line, meta = import_branched(model_json, weights)
    else:
        layers, _input_dim, meta = import_layers(model_json, weights)
    meta = meta if isinstance(meta, dict) else {}
    model = ExpressionModel.from_dense_layers(layers, meta.get("targets"), line)
    voice = meta.get("voice")
    if voice is not None:
        try:
            model.voice_ = VoiceModel.from_json(voice)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the voice in this model.json is damaged: {exc}") from exc
    return model
