"""A model with a straight-line branch as a TensorFlow.js functional Layers model, and back.

A chosen model may read expressions with the net and a straight line together: the line's
log-odds are added to the net's before the last sigmoid. A Sequential model cannot hold a
branch, so such a model is written as the smallest functional graph that is exactly it:

    input -> Dense ... -> Dense (linear) --+
    input -> Dense "line" (linear) --------+-> Add -> Activation (sigmoid)

`tf.loadLayersModel` runs it as it is; `import_branched` reads back this shape only (a chain
of Dense layers and one Dense branch from the input, summed, then one activation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mimic.tfjs import (
    TFJS_VERSION,
    DenseLayer,
    TfjsFormatError,
    _build,
    _dense_config,
    _dense_specs,
    _parse_json,
    _read_weights,
    _topology,
)

__all__ = ["export_branched", "import_branched", "is_branched"]

_INPUT = "input_1"


def _node(*names: str) -> list:
    return [[[name, 0, 0, {}] for name in names]]


def export_branched(layers: list[DenseLayer], line: DenseLayer, input_dim: int, *,
                    outputs_meta: dict | None = None,
                    weights_path: str = "model.weights.bin") -> tuple[dict, bytes]:
    """(model.json dict, weights bytes): the chain plus `line`, added before the last
    layer's activation."""
    if not layers or line.kernel.shape != (input_dim, layers[-1].units):
        raise TfjsFormatError("the straight line must map the inputs to the outputs")
    entries: list[dict[str, Any]] = [{
        "class_name": "InputLayer", "name": _INPUT, "inbound_nodes": [],
        "config": {"batch_input_shape": [None, input_dim], "dtype": "float32",
                   "sparse": False, "name": _INPUT}}]
    manifest, blobs = [], []
    previous, width = _INPUT, input_dim
    named = [(f"dense_Dense{i}", layer) for i, layer in enumerate(layers, start=1)]
    last = named[-1][0]
    for name, layer in [*named, ("line", line)]:
        if name == "line":
            previous, width = _INPUT, input_dim
        if layer.kernel.shape[0] != width:
            raise TfjsFormatError(f"layer {name} expects {layer.kernel.shape[0]} inputs, "
                                  f"it is given {width}")
        activation = "linear" if name in (last, "line") else layer.activation
        config = _dense_config(name, DenseLayer(layer.kernel, layer.bias, activation), None)
        entries.append({"class_name": "Dense", "name": name, "config": config,
                        "inbound_nodes": _node(previous)})
        for part, array in (("kernel", layer.kernel), ("bias", layer.bias)):
            manifest.append({"name": f"{name}/{part}", "shape": list(array.shape),
                             "dtype": "float32"})
            blobs.append(np.asarray(array, "<f4").tobytes())
        previous, width = name, layer.units
    entries.append({"class_name": "Add", "name": "add_1", "inbound_nodes": _node(last, "line"),
                    "config": {"name": "add_1", "trainable": True}})
    entries.append({"class_name": "Activation", "name": "output", "inbound_nodes":
                    _node("add_1"), "config": {"activation": layers[-1].activation,
                                               "name": "output", "trainable": True}})
    model_json: dict[str, Any] = {
        "modelTopology": {
            "class_name": "Model",
            "config": {"name": "mimic", "layers": entries,
                       "input_layers": [[_INPUT, 0, 0]], "output_layers": [["output", 0, 0]]},
            "keras_version": f"tfjs-layers {TFJS_VERSION}",
            "backend": "tensor_flow.js",
        },
        "format": "layers-model",
        "generatedBy": "mimic",
        "convertedBy": None,
        "weightsManifest": [{"paths": [weights_path], "weights": manifest}],
    }
    if outputs_meta is not None:
        model_json["userDefinedMetadata"] = outputs_meta
    return model_json, b"".join(blobs)


def is_branched(model_json: Any) -> bool:
    """Whether a model.json holds an Add layer (our chain-plus-line shape, or another graph)."""
    if isinstance(model_json, (str, bytes)):
        model_json = _parse_json(model_json)
    try:
        config = _topology(model_json).get("config")
    except TfjsFormatError:
        return False
    layers = config.get("layers") if isinstance(config, Mapping) else None
    return isinstance(layers, list) and any(
        isinstance(e, Mapping) and e.get("class_name") == "Add" for e in layers)


def import_branched(model_json: dict | str, weights: bytes | Mapping[str, bytes]
                    ) -> tuple[list[DenseLayer], DenseLayer, dict]:
    """(chain, line, userDefinedMetadata) of a model written by `export_branched`."""
    if isinstance(model_json, (str, bytes)):
        model_json = _parse_json(model_json)
    entries = _topology(model_json).get("config", {}).get("layers")
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise TfjsFormatError("modelTopology has no list of layers")
    kinds = [e.get("class_name") for e in entries]
    if kinds[:1] != ["InputLayer"] or kinds[-2:] != ["Add", "Activation"] or any(
            k != "Dense" for k in kinds[1:-2]) or len(kinds) < 5:
        raise TfjsFormatError("a branched model must be: input, Dense layers, one Dense "
                              "branch, Add, Activation")
    chain_specs, _ = _dense_specs(entries[1:-3])
    line_spec, _ = _dense_specs(entries[-3:-2])
    tensors = _read_weights(model_json, weights)
    chain, width = [], None
    for spec in chain_specs:
        chain.append(_build(spec, tensors, width))
        width = chain[-1].units
    line = _build(line_spec[0], tensors, chain[0].kernel.shape[0])
    if chain[-1].activation != "linear" or line.activation != "linear" or (
            line.units != chain[-1].units):
        raise TfjsFormatError("the summed branches must be linear Dense layers of one width")
    activation = entries[-1].get("config", {}).get("activation")
    chain[-1] = DenseLayer(chain[-1].kernel, chain[-1].bias, str(activation))
    metadata = model_json.get("userDefinedMetadata") or {}
    if not isinstance(metadata, Mapping):
        raise TfjsFormatError("userDefinedMetadata is not an object")
    return chain, line, dict(metadata)
