"""Exports load in TensorFlow.js itself and predict what Mimic predicts.

A chosen model may read expressions with the net plus a straight line, which a Sequential
model cannot hold: it is exported as a small functional graph (`mimic.tfjsgraph`). Both
shapes are loaded here with `tf.loadLayersModel` in Chromium and compared frame by frame
with numpy's prediction.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

import harness
from mimic.model import ExpressionModel
from mimic.synthetic import make_dataset
from mimic.tfjsmodel import to_tfjs

LOAD_AND_PREDICT = """async ({ modelJson, weights, frames, n }) => {
  await tf.setBackend("cpu"); await tf.ready();
  const bytes = Uint8Array.from(atob(weights), (c) => c.charCodeAt(0));
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: modelJson.modelTopology,
    weightSpecs: modelJson.weightsManifest[0].weights,
    weightData: bytes.buffer,
  }));
  const out = model.predict(tf.tensor2d(frames, [n, 52]));
  return { className: model.getClassName(), layers: model.layers.length,
           values: Array.from(await out.data()) };
}"""


@pytest.fixture(scope="module")
def fitted():
    clips = make_dataset(people=1, sessions=1, takes=1, seconds=1.6, seed=5,
                         labels=("neutral", "happy", "sad", "aa", "blink"))
    model = ExpressionModel(readout="blend", max_iter=40).fit(clips)
    frames = np.concatenate([c.frames for c in clips])[::7]
    return model, frames


@pytest.mark.parametrize("readout", ["net", "blend", "linear"])
def test_tfjs_predicts_what_numpy_predicts(app_url, fitted, readout):
    model, frames = fitted
    model = model.variant(readout)
    model_json, weights = to_tfjs(model)
    branched = model.linear_ is not None
    assert (model_json["modelTopology"]["class_name"] == "Model") == branched
    with harness.browser() as b:
        page = b.new_page()
        page.goto(f"{app_url}/__tests__/tfjs_baseline.html")
        page.wait_for_function("window.tfReady === true", timeout=60_000)
        got = page.evaluate(LOAD_AND_PREDICT, {
            "modelJson": model_json, "weights": base64.b64encode(weights).decode(),
            "frames": frames.ravel().tolist(), "n": len(frames)})
    want = model.predict(frames)
    values = np.asarray(got["values"], np.float32).reshape(want.shape)
    np.testing.assert_allclose(values, want, atol=2e-5)
    assert np.ptp(want[:, model.targets_.slices["expression"]]) > 0.5  # not a flat output
