"""TensorFlow.js Layers format: round trips, a real-format model.json, and refusals."""

import itertools
import json

import numpy as np
import pytest

from mimic.tfjs import DenseLayer, TfjsFormatError, export_layers, forward, import_layers

SIZES = (52, 64, 32, 14)
ACTS = ("relu", "relu", "softmax")


def random_layers(sizes=SIZES, acts=ACTS, seed=0):
    rng = np.random.default_rng(seed)
    return [DenseLayer(rng.standard_normal((a, b)).astype(np.float32) * 0.2,
                       rng.standard_normal(b).astype(np.float32) * 0.1, act)
            for a, b, act in zip(sizes[:-1], sizes[1:], acts, strict=True)]


def weights_bytes(layers):
    return b"".join(np.asarray(a, "<f4").tobytes() for layer in layers
                    for a in (layer.kernel, layer.bias))


def dense_config(name, units, activation, first=False):
    """What tfjs-layers 4.x writes for `tf.layers.dense(...)` in `model.save()`."""
    config = {
        "units": units,
        "activation": activation,
        "use_bias": True,
        "kernel_initializer": {
            "class_name": "VarianceScaling",
            "config": {"scale": 1, "mode": "fan_avg", "distribution": "normal", "seed": None},
        },
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
        "name": name,
        "trainable": True,
    }
    if first:
        config["batch_input_shape"] = [None, 52]
        config["dtype"] = "float32"
    return config


# A Sequential 52-64-32-14 exactly as TF.js 4.22 `model.save("downloads://...")` writes it.
TFJS_MODEL_JSON = """{
  "modelTopology": {
    "class_name": "Sequential",
    "config": {
      "name": "sequential_1",
      "layers": [
        {"class_name": "Dense", "config": {"units": 64, "activation": "relu", "use_bias": true,
          "kernel_initializer": {"class_name": "VarianceScaling", "config": {"scale": 1,
            "mode": "fan_avg", "distribution": "normal", "seed": null}},
          "bias_initializer": {"class_name": "Zeros", "config": {}},
          "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null,
          "kernel_constraint": null, "bias_constraint": null, "name": "dense_Dense1",
          "trainable": true, "batch_input_shape": [null, 52], "dtype": "float32"}},
        {"class_name": "Dense", "config": {"units": 32, "activation": "relu", "use_bias": true,
          "kernel_initializer": {"class_name": "VarianceScaling", "config": {"scale": 1,
            "mode": "fan_avg", "distribution": "normal", "seed": null}},
          "bias_initializer": {"class_name": "Zeros", "config": {}},
          "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null,
          "kernel_constraint": null, "bias_constraint": null, "name": "dense_Dense2",
          "trainable": true}},
        {"class_name": "Dense", "config": {"units": 14, "activation": "softmax",
          "use_bias": true,
          "kernel_initializer": {"class_name": "VarianceScaling", "config": {"scale": 1,
            "mode": "fan_avg", "distribution": "normal", "seed": null}},
          "bias_initializer": {"class_name": "Zeros", "config": {}},
          "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null,
          "kernel_constraint": null, "bias_constraint": null, "name": "dense_Dense3",
          "trainable": true}}
      ]
    },
    "keras_version": "tfjs-layers 4.22.0",
    "backend": "tensor_flow.js"
  },
  "format": "layers-model",
  "generatedBy": "TensorFlow.js tfjs-layers v4.22.0",
  "convertedBy": null,
  "weightsManifest": [
    {
      "paths": ["./model.weights.bin"],
      "weights": [
        {"name": "dense_Dense1/kernel", "shape": [52, 64], "dtype": "float32"},
        {"name": "dense_Dense1/bias", "shape": [64], "dtype": "float32"},
        {"name": "dense_Dense2/kernel", "shape": [64, 32], "dtype": "float32"},
        {"name": "dense_Dense2/bias", "shape": [32], "dtype": "float32"},
        {"name": "dense_Dense3/kernel", "shape": [32, 14], "dtype": "float32"},
        {"name": "dense_Dense3/bias", "shape": [14], "dtype": "float32"}
      ]
    }
  ]
}"""


def numpy_reference(layers, x):
    h = np.maximum(x @ layers[0].kernel + layers[0].bias, 0.0)
    h = np.maximum(h @ layers[1].kernel + layers[1].bias, 0.0)
    z = h @ layers[2].kernel + layers[2].bias
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_tfjs_written_model_json_imports_and_matches_numpy():
    layers = random_layers()
    got, input_dim, meta = import_layers(TFJS_MODEL_JSON, weights_bytes(layers))
    assert input_dim == 52 and meta == {}
    assert [layer.activation for layer in got] == list(ACTS)
    assert [layer.kernel.shape for layer in got] == [(52, 64), (64, 32), (32, 14)]
    x = np.random.default_rng(1).standard_normal((20, 52)).astype(np.float32)
    y = forward(got, x)
    assert y.dtype == np.float32 and y.shape == (20, 14)
    assert np.allclose(y, numpy_reference(layers, x.astype(np.float64)), rtol=1e-4, atol=1e-6)
    assert np.allclose(forward(got, x[0]), y[0], rtol=1e-6)


def test_export_then_import_round_trips():
    layers = random_layers()
    meta = {"targets": ["neutral", "happy", "aa"], "note": "mimic"}
    model_json, weights = export_layers(layers, 52, outputs_meta=meta)
    text = json.dumps(model_json)  # must be plain JSON
    got, input_dim, got_meta = import_layers(text, weights)
    assert input_dim == 52 and got_meta == meta
    for a, b in zip(layers, got, strict=True):
        assert np.array_equal(a.kernel, b.kernel) and np.array_equal(a.bias, b.bias)
        assert a.activation == b.activation


def test_export_writes_the_tfjs_layout():
    layers = random_layers()
    model_json, weights = export_layers(layers, 52, weights_path="me.bin")
    assert model_json["format"] == "layers-model"
    assert model_json["generatedBy"] == "mimic" and model_json["convertedBy"] is None
    topology = model_json["modelTopology"]
    assert topology["class_name"] == "Sequential"
    assert topology["keras_version"] == "tfjs-layers 4.22.0"
    assert topology["backend"] == "tensor_flow.js"
    expected = json.loads(TFJS_MODEL_JSON)["modelTopology"]["config"]["layers"]
    assert topology["config"]["layers"] == expected
    group = model_json["weightsManifest"][0]
    assert group["paths"] == ["me.bin"]
    assert [w["name"] for w in group["weights"]] == [
        f"dense_Dense{i}/{part}" for i in (1, 2, 3) for part in ("kernel", "bias")]
    assert weights == weights_bytes(layers)
    assert len(weights) == 4 * sum(a * b + b for a, b in itertools.pairwise(SIZES))
    assert "userDefinedMetadata" not in model_json


def functional_json():
    """The same chain saved from `tf.model({inputs, outputs})`: class Model plus InputLayer."""
    names = ["dense_Dense1", "dense_Dense2", "dense_Dense3"]
    layers = [{"name": "input1", "class_name": "InputLayer",
               "config": {"batch_input_shape": [None, 52], "dtype": "float32", "sparse": False,
                          "name": "input1"}, "inbound_nodes": []}]
    previous = "input1"
    for name, units, act in zip(names, SIZES[1:], ACTS, strict=True):
        layers.append({"name": name, "class_name": "Dense",
                       "config": dense_config(name, units, act),
                       "inbound_nodes": [[[previous, 0, 0, {}]]]})
        previous = name
    model = json.loads(TFJS_MODEL_JSON)
    model["modelTopology"]["class_name"] = "Model"
    model["modelTopology"]["config"] = {"name": "model1", "layers": layers,
                                        "input_layers": [["input1", 0, 0]],
                                        "output_layers": [[previous, 0, 0]]}
    return model


@pytest.mark.parametrize("class_name", ["Model", "Functional"])
def test_functional_chain_with_input_layer_imports(class_name):
    layers = random_layers()
    model = functional_json()
    model["modelTopology"]["class_name"] = class_name
    got, input_dim, _ = import_layers(model, weights_bytes(layers))
    assert input_dim == 52 and len(got) == 3
    x = np.ones((1, 52), np.float32)
    assert np.allclose(forward(got, x), forward(layers, x), rtol=1e-6)


def test_missing_activation_is_linear_and_no_bias_is_zero():
    model = json.loads(TFJS_MODEL_JSON)
    configs = model["modelTopology"]["config"]["layers"]
    del configs[2]["config"]["activation"]
    configs[1]["config"]["activation"] = "linear"
    configs[1]["config"]["use_bias"] = False
    manifest = model["weightsManifest"][0]["weights"]
    manifest.remove({"name": "dense_Dense2/bias", "shape": [32], "dtype": "float32"})
    layers = random_layers()
    blob = b"".join(np.asarray(a, "<f4").tobytes() for a in (
        layers[0].kernel, layers[0].bias, layers[1].kernel, layers[2].kernel, layers[2].bias))
    got, _, _ = import_layers(model, blob)
    assert [layer.activation for layer in got] == ["relu", "linear", "linear"]
    assert not got[1].bias.any()


def test_weights_spread_over_several_shards():
    layers = random_layers()
    blob = weights_bytes(layers)
    model = json.loads(TFJS_MODEL_JSON)
    model["weightsManifest"][0]["paths"] = ["group1-shard1of2.bin", "group1-shard2of2.bin"]
    cut = 5001  # TF.js cuts shards at byte counts, even mid-tensor
    shards = {"./group1-shard2of2.bin": blob[cut:], "group1-shard1of2.bin": blob[:cut]}
    got, _, _ = import_layers(model, shards)
    assert np.array_equal(got[2].kernel, layers[2].kernel)


def test_keras_converter_nesting_and_sigmoid_tanh():
    layers = random_layers(sizes=(52, 8, 3), acts=("tanh", "sigmoid"))
    model_json, blob = export_layers(layers, 52)
    topology = model_json["modelTopology"]
    model_json["modelTopology"] = {"keras_version": "2.15.0", "backend": "tensorflow",
                                   "model_config": {"class_name": topology["class_name"],
                                                    "config": topology["config"]}}
    got, _, _ = import_layers(model_json, blob)
    x = np.random.default_rng(4).standard_normal((3, 52)).astype(np.float32)
    h = np.tanh(x @ layers[0].kernel + layers[0].bias)
    expected = 1.0 / (1.0 + np.exp(-(h @ layers[1].kernel + layers[1].bias)))
    assert np.allclose(forward(got, x), expected, rtol=1e-5, atol=1e-6)


def test_forward_is_stable_for_extreme_inputs():
    big = [DenseLayer(np.full((2, 2), 1e4, np.float32), np.zeros(2, np.float32), "sigmoid")]
    y = forward(big, np.array([[1.0, 1.0], [-1.0, -1.0]], np.float32))
    assert y.tolist() == [[1.0, 1.0], [0.0, 0.0]]
    soft = [DenseLayer(np.array([[1e4, -1e4]], np.float32), np.zeros(2, np.float32), "softmax")]
    assert forward(soft, np.ones(1, np.float32)).tolist() == [1.0, 0.0]


# --- refusals -------------------------------------------------------------------------------


def mutated(change):
    model = json.loads(TFJS_MODEL_JSON)
    change(model)
    return model


def _conv(model):
    model["modelTopology"]["config"]["layers"][1]["class_name"] = "Conv2D"


def _elu(model):
    model["modelTopology"]["config"]["layers"][0]["config"]["activation"] = "elu"


def _wrong_shape(model):
    model["weightsManifest"][0]["weights"][2]["shape"] = [32, 64]


def _float16(model):
    model["weightsManifest"][0]["weights"][0]["dtype"] = "float16"


def _graph(model):
    del model["modelTopology"]


def _no_manifest(model):
    del model["weightsManifest"]


def _unknown_class(model):
    model["modelTopology"]["class_name"] = "Graph"


def _3d_input(model):
    model["modelTopology"]["config"]["layers"][0]["config"]["batch_input_shape"] = [None, 4, 13]


@pytest.mark.parametrize("change, message", [
    (_conv, "Conv2D"),
    (_elu, "elu"),
    (_wrong_shape, "shape"),
    (_float16, "float16"),
    (_graph, "modelTopology"),
    (_no_manifest, "weightsManifest"),
    (_unknown_class, "Graph"),
    (_3d_input, "input shape"),
])
def test_unsupported_or_inconsistent_models_are_refused(change, message):
    with pytest.raises(TfjsFormatError, match=message):
        import_layers(mutated(change), weights_bytes(random_layers()))


@pytest.mark.parametrize("cut", [-4, -1, 4])
def test_wrong_weight_byte_count_is_refused(cut):
    blob = weights_bytes(random_layers())
    blob = blob[:cut] if cut < 0 else blob + bytes(cut)
    with pytest.raises(TfjsFormatError, match="bytes"):
        import_layers(TFJS_MODEL_JSON, blob)


def test_missing_shard_and_bad_json_are_refused():
    with pytest.raises(TfjsFormatError, match="missing"):
        import_layers(TFJS_MODEL_JSON, {"other.bin": weights_bytes(random_layers())})
    with pytest.raises(TfjsFormatError, match="JSON"):
        import_layers("{not json", b"")
    with pytest.raises(TfjsFormatError, match="object"):
        import_layers("[1, 2]", b"")
    with pytest.raises(TfjsFormatError, match="nested deeper"):
        import_layers("[" * 50000 + "]" * 50000, b"")  # would overflow Pyodide's stack
    with pytest.raises(TfjsFormatError, match="UTF-8"):
        import_layers(b"\xff{}", b"")


def test_missing_manifest_entry_is_refused():
    model = json.loads(TFJS_MODEL_JSON)
    del model["weightsManifest"][0]["weights"][3]  # dense_Dense2/bias
    layers = random_layers()
    blob = weights_bytes(layers)
    start = 4 * (52 * 64 + 64 + 64 * 32)
    with pytest.raises(TfjsFormatError, match="no bias for layer 'dense_Dense2'"):
        import_layers(model, blob[:start] + blob[start + 4 * 32:])


def test_branching_functional_model_is_refused():
    model = functional_json()
    model["modelTopology"]["config"]["layers"][3]["inbound_nodes"] = [[["input1", 0, 0, {}]]]
    with pytest.raises(TfjsFormatError, match="chain"):
        import_layers(model, weights_bytes(random_layers()))


def test_export_and_dense_layer_validation():
    with pytest.raises(TfjsFormatError, match="inputs"):
        export_layers(random_layers(), 50)
    with pytest.raises(TfjsFormatError, match="activation"):
        DenseLayer(np.zeros((2, 2)), np.zeros(2), "gelu")
    with pytest.raises(TfjsFormatError, match="bias"):
        DenseLayer(np.zeros((2, 3)), np.zeros(2))
    assert DenseLayer(np.zeros((2, 2), np.float64), np.zeros(2)).kernel.dtype == np.float32
    assert issubclass(TfjsFormatError, ValueError)
