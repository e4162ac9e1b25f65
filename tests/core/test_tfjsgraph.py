"""A model with a straight-line branch: model file and TF.js functional export, both ways."""

import functools

import numpy as np
import pytest

from mimic import modelfile
from mimic.model import ExpressionModel
from mimic.synthetic import make_dataset
from mimic.tfjs import TfjsFormatError
from mimic.tfjsgraph import import_branched, is_branched
from mimic.tfjsmodel import from_tfjs, to_tfjs


@functools.cache
def fitted() -> tuple[ExpressionModel, np.ndarray]:
    """One blend model for every test here (a plain function: Pyodide's test runner has no
    fixtures)."""
    clips = make_dataset(people=1, sessions=1, takes=1, seconds=1.6, seed=2,
                         labels=("neutral", "happy", "angry", "ou", "blink"))
    model = ExpressionModel(readout="blend", max_iter=40).fit(clips)
    return model, np.concatenate([c.frames for c in clips])


def test_model_file_keeps_the_line_and_the_calibration_folds_into_it():
    model, frames = fitted()
    model.calibrate(frames[:20])
    back = modelfile.loads(modelfile.dumps(model))
    assert back.linear_ is not None and back.readout == "blend"
    np.testing.assert_array_equal(back.predict(frames), model.predict(frames))
    out = np.zeros(len(model.targets_.names), np.float32)
    for frame in frames[::25]:
        np.testing.assert_allclose(back.predict_one(frame, out), model.predict(frame[None])[0],
                                   atol=1e-6)
    model.reset_calibration()


def test_files_without_a_line_load_as_before():
    model, frames = fitted()
    net = model.variant("net")
    assert net.linear_ is None
    header, arrays = net.to_state()
    assert "linear_kernel" not in arrays
    header["params"].pop("readout")  # a file written before model selection
    old = ExpressionModel.from_state(header, arrays)
    assert old.linear_ is None and old.readout == "net"
    np.testing.assert_array_equal(old.predict(frames), net.predict(frames))


def test_tfjs_functional_export_round_trips_and_chains_stay_sequential():
    model, frames = fitted()
    model_json, weights = to_tfjs(model)
    assert is_branched(model_json)
    kinds = [e["class_name"] for e in model_json["modelTopology"]["config"]["layers"]]
    assert kinds == ["InputLayer", "Dense", "Dense", "Dense", "Add", "Activation"]
    back = from_tfjs(model_json, weights)
    np.testing.assert_allclose(back.predict(frames), model.predict(frames), atol=1e-6)
    plain_json, _ = to_tfjs(model.variant("net"))
    assert not is_branched(plain_json)
    assert plain_json["modelTopology"]["class_name"] == "Sequential"


def test_other_graphs_are_refused_with_a_reason():
    model, _ = fitted()
    model_json, weights = to_tfjs(model)
    layers = model_json["modelTopology"]["config"]["layers"]
    layers[-1]["class_name"] = "Softmax"
    with pytest.raises(TfjsFormatError, match="branched model must be"):
        import_branched(model_json, weights)
