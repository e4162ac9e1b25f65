"""Dense networks in the TensorFlow.js Layers format (model.json + weights.bin).

Exporting lets a model trained here run in plain TF.js (or be inspected with its tools);
importing lets a network trained with TF.js `model.fit` in the page, or converted from Keras,
run through the same numpy code path. Only chains of Dense layers are supported, because that
is all the app needs; anything else is refused with a `TfjsFormatError` naming what is wrong
rather than being half-loaded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimic.safejson import json_depth

__all__ = ["ACTIVATIONS", "DenseLayer", "TfjsFormatError", "export_layers", "forward",
           "import_layers"]

ACTIVATIONS = ("linear", "relu", "sigmoid", "softmax", "tanh")
TFJS_VERSION = "4.22.0"
# Layers that do nothing at inference time and may sit between Dense layers in a saved model.
_PASS_THROUGH = ("Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout")
# json.loads recurses in C without a usable limit in Pyodide: deep nesting overflows the
# WebAssembly stack and kills the interpreter. Real model.json files nest about 8 deep.
MAX_JSON_DEPTH = 100


class TfjsFormatError(ValueError):
    """A model.json / weights pair this module cannot load; the message says why."""


@dataclass(eq=False)
class DenseLayer:
    """y = activation(x @ kernel + bias), kernel shaped (in, out) as TF.js stores it."""

    kernel: np.ndarray
    bias: np.ndarray
    activation: str = "linear"

    def __post_init__(self) -> None:
        self.kernel = np.asarray(self.kernel, np.float32)
        self.bias = np.asarray(self.bias, np.float32)
        if self.kernel.ndim != 2:
            raise TfjsFormatError(f"kernel must be 2-D (in, out), got shape {self.kernel.shape}")
        if self.bias.shape != (self.kernel.shape[1],):
            raise TfjsFormatError(f"bias shape {self.bias.shape} does not match kernel shape "
                                  f"{self.kernel.shape}")
        if self.activation not in ACTIVATIONS:
            raise TfjsFormatError(f"activation {self.activation!r} is not supported "
                                  f"(supported: {', '.join(ACTIVATIONS)})")

    @property
    def units(self) -> int:
        return int(self.kernel.shape[1])


# --- numpy forward pass ---------------------------------------------------------------------


def _activate(z: np.ndarray, activation: str) -> np.ndarray:
    if activation == "relu":
        return np.maximum(z, 0.0, out=z)
    if activation == "tanh":
        return np.tanh(z, out=z)
    if activation == "sigmoid":
        # Written via tanh so large |z| neither overflows exp nor warns.
        np.multiply(z, 0.5, out=z)
        np.tanh(z, out=z)
        z += 1.0
        z *= 0.5
        return z
    if activation == "softmax":
        z -= z.max(axis=-1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=-1, keepdims=True)
        return z
    return z


def forward(layers: list[DenseLayer], x: np.ndarray) -> np.ndarray:
    """Run the network on x shaped (in,) or (n, in); float32 out, same leading shape."""
    z = np.asarray(x, np.float32)
    for layer in layers:
        z = z @ layer.kernel
        z += layer.bias
        z = _activate(z, layer.activation)
    return z


# --- export ---------------------------------------------------------------------------------


def _dense_config(name: str, layer: DenseLayer, input_dim: int | None) -> dict:
    """A Dense layer's config exactly as tfjs-layers 4.x `getConfig` serializes it."""
    config: dict[str, Any] = {
        "units": layer.units,
        "activation": layer.activation,
        "use_bias": True,
        "kernel_initializer": {"class_name": "VarianceScaling", "config": {
            "scale": 1, "mode": "fan_avg", "distribution": "normal", "seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
        "name": name,
        "trainable": True,
    }
    if input_dim is not None:
        config["batch_input_shape"] = [None, input_dim]
        config["dtype"] = "float32"
    return config


def export_layers(layers: list[DenseLayer], input_dim: int, *,
                  outputs_meta: dict | None = None,
                  weights_path: str = "model.weights.bin") -> tuple[dict, bytes]:
    """Return (model.json dict, weights bytes) for a Sequential of Dense layers."""
    if not layers:
        raise TfjsFormatError("cannot export a network without layers")
    if isinstance(input_dim, bool) or not isinstance(input_dim, int) or input_dim <= 0:
        raise TfjsFormatError(f"input_dim must be a positive int, got {input_dim!r}")
    width = input_dim
    configs, manifest, blobs = [], [], []
    for i, layer in enumerate(layers, start=1):
        if not isinstance(layer, DenseLayer):
            raise TfjsFormatError(f"layer {i} is a {type(layer).__name__}, not a DenseLayer")
        if layer.kernel.shape[0] != width:
            raise TfjsFormatError(f"layer {i} expects {layer.kernel.shape[0]} inputs, "
                                  f"the previous layer gives {width}")
        name = f"dense_Dense{i}"
        configs.append({"class_name": "Dense",
                        "config": _dense_config(name, layer, input_dim if i == 1 else None)})
        for part, array in (("kernel", layer.kernel), ("bias", layer.bias)):
            manifest.append({"name": f"{name}/{part}", "shape": list(array.shape),
                             "dtype": "float32"})
            blobs.append(np.asarray(array, "<f4").tobytes())
        width = layer.units
    model_json: dict[str, Any] = {
        "modelTopology": {
            "class_name": "Sequential",
            "config": {"name": "sequential_1", "layers": configs},
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


# --- import: topology -----------------------------------------------------------------------


def _parse_json(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TfjsFormatError("model.json is not UTF-8 text") from exc
    if json_depth(text.encode("utf-8", "surrogatepass")) > MAX_JSON_DEPTH:
        raise TfjsFormatError(f"model.json is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise TfjsFormatError(f"model.json is not valid JSON: {exc}") from exc


def _topology(model_json: Any) -> Mapping:
    if not isinstance(model_json, Mapping):
        raise TfjsFormatError("model.json must be a JSON object")
    topology = model_json.get("modelTopology")
    if not isinstance(topology, Mapping):
        raise TfjsFormatError("model.json has no modelTopology (is it a graph model?)")
    # The Keras converter nests the model one level deeper than tfjs-layers does.
    if "model_config" in topology:
        topology = topology["model_config"]
    if not isinstance(topology, Mapping):
        raise TfjsFormatError("modelTopology.model_config is not an object")
    return topology


def _layer_list(topology: Mapping) -> list:
    kind = topology.get("class_name")
    config = topology.get("config")
    if kind == "Sequential":
        layers = config.get("layers") if isinstance(config, Mapping) else config
    elif kind in ("Model", "Functional"):
        layers = config.get("layers") if isinstance(config, Mapping) else None
        if isinstance(layers, list):
            _check_chain(layers)
    else:
        raise TfjsFormatError(f"model class {kind!r} is not supported "
                              "(expected Sequential, Model or Functional)")
    if not isinstance(layers, list) or not all(isinstance(x, Mapping) for x in layers):
        raise TfjsFormatError("modelTopology has no list of layers")
    return layers


def _inbound_names(nodes: Any) -> list[str]:
    """Layer names feeding a functional-model layer, from Keras 2 or Keras 3 node lists."""
    names: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, Mapping):
            history = item.get("keras_history") if "keras_history" in item else None
            if isinstance(history, list) and history and isinstance(history[0], str):
                names.append(history[0])
                return
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            if item and isinstance(item[0], str) and len(item) >= 3:
                names.append(item[0])  # [layer_name, node_index, tensor_index, kwargs]
                return
            for value in item:
                walk(value)

    walk(nodes)
    return names


def _check_chain(layers: list) -> None:
    """A functional model is accepted only if each layer feeds the next and nothing else."""
    previous = None
    for entry in layers:
        if not isinstance(entry, Mapping):
            raise TfjsFormatError("modelTopology layer entry is not an object")
        config = entry.get("config")
        name = entry.get("name", config.get("name") if isinstance(config, Mapping) else None)
        try:
            inbound = _inbound_names(entry.get("inbound_nodes", []))
        except RecursionError as exc:
            raise TfjsFormatError(f"layer {name!r} has unreadable inbound_nodes") from exc
        expected = [] if previous is None else [previous]
        if inbound != expected:
            raise TfjsFormatError(f"layer {name!r} is not part of a simple chain "
                                  f"(inputs {inbound}, expected {expected})")
        previous = name


def _input_dim(config: Mapping) -> int | None:
    shape = config.get("batch_input_shape", config.get("batch_shape"))
    if shape is None and config.get("input_dim") is not None:
        shape = [None, config["input_dim"]]
    if shape is None:
        return None
    if (not isinstance(shape, list) or len(shape) != 2 or not isinstance(shape[1], int)
            or isinstance(shape[1], bool) or shape[1] <= 0):
        raise TfjsFormatError(f"input shape {shape!r} is not [null, features]")
    return shape[1]


def _check_dtype(name: str, config: Mapping) -> None:
    dtype = config.get("dtype")
    if isinstance(dtype, Mapping):  # Keras 3 writes a DTypePolicy object
        dtype = (dtype.get("config") or {}).get("name")
    if dtype not in (None, "float32"):
        raise TfjsFormatError(f"layer {name!r} has dtype {dtype!r}; only float32 is supported")


def _dense_specs(layers: list) -> tuple[list[dict], int | None]:
    """[{name, units, activation, use_bias}] of the Dense layers, and the declared input width."""
    specs: list[dict] = []
    input_dim = None
    for entry in layers:
        kind = entry.get("class_name")
        config = entry.get("config")
        if not isinstance(config, Mapping):
            raise TfjsFormatError(f"layer of class {kind!r} has no config")
        name = config.get("name", entry.get("name"))
        _check_dtype(name, config)
        if not specs and input_dim is None:
            input_dim = _input_dim(config)
        if kind == "InputLayer" or kind in _PASS_THROUGH:
            if kind == "InputLayer" and specs:
                raise TfjsFormatError("InputLayer in the middle of the model")
            continue
        if kind == "Activation" and specs and specs[-1]["activation"] == "linear":
            specs[-1]["activation"] = _activation(config.get("activation"), name)
            continue
        if kind != "Dense":
            raise TfjsFormatError(f"layer {name!r} of class {kind!r} is not supported; "
                                  "only Dense layers (plus InputLayer and Dropout) can be loaded")
        units = config.get("units")
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise TfjsFormatError(f"Dense layer {name!r} has invalid units {units!r}")
        if not isinstance(name, str):
            raise TfjsFormatError("Dense layer has no name")
        specs.append({"name": name, "units": units,
                      "activation": _activation(config.get("activation"), name),
                      "use_bias": config.get("use_bias", True) is not False})
    if not specs:
        raise TfjsFormatError("model has no Dense layers")
    return specs, input_dim


def _activation(value: Any, layer: Any) -> str:
    if value is None:
        return "linear"
    if isinstance(value, Mapping):  # Keras 3 may serialize {"class_name": ..., "config": ...}
        config = value.get("config")
        value = config.get("name") if isinstance(config, Mapping) else value.get("class_name")
    if value not in ACTIVATIONS:
        raise TfjsFormatError(f"layer {layer!r} has activation {value!r}; "
                              f"supported: {', '.join(ACTIVATIONS)}")
    return value


# --- import: weights ------------------------------------------------------------------------


def _norm_path(path: str) -> str:
    return path[2:] if path.startswith("./") else path


def _shard_bytes(paths: Any, shards: Mapping) -> bytes:
    """One manifest group's shards, concatenated in manifest order, looked up leniently
    ("./group1-shard1of1.bin", "group1-shard1of1.bin" or a URL ending in the file name)."""
    if not isinstance(paths, list) or not paths:
        raise TfjsFormatError("weightsManifest group has no paths")
    by_name = {_norm_path(str(k)): v for k, v in shards.items()}
    by_base = {k.rsplit("/", 1)[-1]: v for k, v in by_name.items()}
    parts = []
    for path in paths:
        key = _norm_path(str(path))
        blob = by_name.get(key, by_base.get(key.rsplit("/", 1)[-1]))
        if blob is None:
            raise TfjsFormatError(f"weights file {path!r} listed in the manifest is missing")
        parts.append(bytes(blob))
    return b"".join(parts)


def _read_weights(model_json: Mapping, weights: bytes | Mapping) -> dict[str, np.ndarray]:
    groups = model_json.get("weightsManifest")
    if not isinstance(groups, list) or not groups:
        raise TfjsFormatError("model.json has no weightsManifest")
    for group in groups:
        if not isinstance(group, Mapping) or not isinstance(group.get("weights"), list):
            raise TfjsFormatError("weightsManifest group has no weights list")
    tensors: dict[str, np.ndarray] = {}
    if isinstance(weights, Mapping):
        for group in groups:
            blob = _shard_bytes(group.get("paths"), weights)
            end = _read_group(group["weights"], blob, 0, tensors)
            if end != len(blob):
                raise TfjsFormatError(f"weights files {group['paths']} hold {len(blob)} bytes, "
                                      f"the manifest describes {end}")
        return tensors
    if not isinstance(weights, (bytes, bytearray, memoryview)):
        raise TfjsFormatError("weights must be bytes or a dict of path -> bytes")
    blob, offset = bytes(weights), 0
    for group in groups:  # one buffer: every group's shards back to back
        offset = _read_group(group["weights"], blob, offset, tensors)
    if offset != len(blob):
        raise TfjsFormatError(f"weights hold {len(blob)} bytes, the manifest describes {offset}")
    return tensors


def _read_group(entries: list, blob: bytes, offset: int, into: dict) -> int:
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise TfjsFormatError("weightsManifest entry has no name")
        name, shape = entry["name"], entry.get("shape")
        if entry.get("dtype", "float32") != "float32":
            raise TfjsFormatError(f"weight {name!r} has dtype {entry.get('dtype')!r}; "
                                  "only float32 is supported")
        if entry.get("quantization") is not None:
            raise TfjsFormatError(f"weight {name!r} is quantized; only float32 is supported")
        if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise TfjsFormatError(f"weight {name!r} has an invalid shape {shape!r}")
        count = math.prod(shape)
        if offset + 4 * count > len(blob):
            raise TfjsFormatError(f"weights are too short: {name!r} needs bytes up to "
                                  f"{offset + 4 * count}, there are {len(blob)}")
        into[name] = np.frombuffer(blob, "<f4", count, offset).astype(np.float32).reshape(shape)
        offset += 4 * count
    return offset


def _find(tensors: dict[str, np.ndarray], layer: str, part: str) -> np.ndarray | None:
    """TF.js names weights "<layer>/<part>"; Keras conversions may prefix the model name."""
    exact = tensors.get(f"{layer}/{part}")
    if exact is not None:
        return exact
    suffix = f"/{layer}/{part}"
    hits = [v for k, v in tensors.items() if k.endswith(suffix)]
    return hits[0] if len(hits) == 1 else None


# --- import ---------------------------------------------------------------------------------


def import_layers(model_json: dict | str,
                  weights: bytes | Mapping[str, bytes]) -> tuple[list[DenseLayer], int, dict]:
    """Load what TF.js `model.save()` writes for a chain of Dense layers.

    Returns (layers, input_dim, userDefinedMetadata or {}). `weights` is the concatenation of
    all weight files in manifest order, or a dict path -> bytes for sharded weights.
    """
    if isinstance(model_json, (str, bytes)):
        model_json = _parse_json(model_json)
    specs, input_dim = _dense_specs(_layer_list(_topology(model_json)))
    tensors = _read_weights(model_json, weights)
    layers, width = [], input_dim
    for spec in specs:
        layer = _build(spec, tensors, width)
        layers.append(layer)
        width = layer.units
    metadata = model_json.get("userDefinedMetadata") or {}
    if not isinstance(metadata, Mapping):
        raise TfjsFormatError("userDefinedMetadata is not an object")
    return layers, int(layers[0].kernel.shape[0]), dict(metadata)


def _build(spec: dict, tensors: dict[str, np.ndarray], width: int | None) -> DenseLayer:
    name, units = spec["name"], spec["units"]
    kernel = _find(tensors, name, "kernel")
    if kernel is None:
        raise TfjsFormatError(f"weights manifest has no kernel for layer {name!r}")
    if kernel.ndim != 2 or kernel.shape[1] != units or (
            width is not None and kernel.shape[0] != width):
        raise TfjsFormatError(f"kernel of layer {name!r} has shape {list(kernel.shape)}, "
                              f"expected [{width if width is not None else 'in'}, {units}]")
    if spec["use_bias"]:
        bias = _find(tensors, name, "bias")
        if bias is None:
            raise TfjsFormatError(f"weights manifest has no bias for layer {name!r}")
        if bias.shape != (units,):
            raise TfjsFormatError(f"bias of layer {name!r} has shape {list(bias.shape)}, "
                                  f"expected [{units}]")
    else:
        bias = np.zeros(units, np.float32)
    return DenseLayer(kernel, bias, spec["activation"])
