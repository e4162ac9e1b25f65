"""ExpressionModel: held-out quality, masks, calibration, the fast path, state and TF.js."""

from functools import cache

import numpy as np
import pytest

from mimic import modelfile
from mimic.blendshapes import COUNT, INDEX, NAMES
from mimic.clips import Clip
from mimic.evaluate import split_by_take
from mimic.model import ExpressionModel, clip_targets, head_mask
from mimic.synthetic import SyntheticFace, make_dataset
from mimic.targets import TargetSet
from mimic.tfjs import DenseLayer, forward


@cache
def dataset(seed: int = 0) -> tuple[Clip, ...]:
    return tuple(make_dataset(people=1, sessions=2, takes=2, seconds=2.0, seed=seed))


@cache
def split(seed: int = 0) -> tuple[list[Clip], list[Clip]]:
    return split_by_take(list(dataset(seed)), seed=seed)


@cache
def fitted(seed: int = 0) -> ExpressionModel:
    train, _ = split(seed)
    return ExpressionModel().fit(train)


def expression_accuracy(model: ExpressionModel, clips: list[Clip]) -> float:
    sl = model.targets_.slices["expression"]
    right = total = 0
    for clip in clips:
        truth = int(clip_targets(clip, model.targets_)[sl].argmax())
        pred = model.predict(clip.frames[len(clip.frames) // 4:])[:, sl].argmax(axis=1)
        right += int((pred == truth).sum())
        total += len(pred)
    return right / total


def test_targets_follow_the_recorded_labels_in_a_stable_order():
    model = fitted()
    assert model.targets_.names == (
        "neutral", "happy", "angry", "sad", "relaxed", "surprised",
        "aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight")
    assert model.targets is model.targets_


def test_predicts_held_out_takes():
    _, test = split()
    assert test, "the split must hold some takes out"
    assert expression_accuracy(fitted(), test) > 0.9


def test_predictions_are_float32_weights_in_unit_range():
    _, test = split()
    pred = fitted().predict(test[0].frames)
    assert pred.dtype == np.float32
    assert pred.shape == (len(test[0].frames), 14)
    assert pred.min() >= 0.0 and pred.max() <= 1.0


def test_visemes_follow_the_mouth_and_not_the_expression():
    model = fitted()
    _, test = split()
    names = model.targets_.names
    aa = names.index("aa")
    happy_aa = [c for c in test if set(c.labels) == {"happy", "aa"}]
    happy = [c for c in test if c.labels == ("happy",)]
    assert happy_aa and happy
    with_vowel = model.predict(happy_aa[0].frames[20:])
    without = model.predict(happy[0].frames[20:])
    assert np.median(with_vowel[:, aa]) > 0.5
    assert np.median(without[:, aa]) < 0.2
    assert np.median(with_vowel[:, names.index("happy")]) > 0.5


def test_predict_one_matches_predict_and_writes_in_place():
    model = fitted()
    frames = split()[1][0].frames
    out = np.empty(len(model.targets_.names), np.float32)
    for frame, row in zip(frames[:10], model.predict(frames[:10]), strict=True):
        result = model.predict_one(frame, out=out)
        assert result is out
        np.testing.assert_allclose(out, row, atol=1e-5)
    assert model.predict_one(frames[0]).shape == out.shape


def test_masks_keep_heads_to_their_regions():
    model = fitted()
    sl = model.targets_.slices
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 0.3, COUNT).astype(np.float32)
    eyes_changed = base.copy()
    eyes_changed[[INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]]] = 0.95
    mouth_changed = base.copy()
    mouth_changed[[INDEX["jawOpen"], INDEX["mouthFunnel"], INDEX["mouthSmileLeft"]]] = 0.9
    gaze_changed = base.copy()
    gaze_changed[INDEX["eyeLookOutLeft"]] = 0.9
    p0, pe, pm, pg = model.predict(np.stack([base, eyes_changed, mouth_changed, gaze_changed]))
    assert np.array_equal(p0[sl["mouth"]], pe[sl["mouth"]]), "eyelids moved the mouth"
    assert np.array_equal(p0[sl["eyes"]], pm[sl["eyes"]]), "the mouth moved the eyelids"
    assert np.array_equal(p0[sl["expression"]], pg[sl["expression"]]), "gaze moved emotion"
    assert not np.array_equal(p0[sl["eyes"]], pe[sl["eyes"]])  # and the heads are not dead
    assert not np.array_equal(p0[sl["mouth"]], pm[sl["mouth"]])


def test_head_masks_cover_their_regions_only():
    mouth = {NAMES[i] for i in np.flatnonzero(head_mask("mouth"))}
    eyes = {NAMES[i] for i in np.flatnonzero(head_mask("eyes"))}
    assert "jawOpen" in mouth and "mouthSmileLeft" in mouth
    assert not any(n.startswith(("eye", "brow")) for n in mouth)
    assert {"eyeBlinkLeft", "eyeBlinkRight"} <= eyes
    assert not any(n.startswith(("mouth", "jaw", "eyeLook")) for n in eyes)


def test_clip_without_expression_label_teaches_neutral():
    targets = TargetSet.from_labels(["neutral", "happy", "aa"])
    clip = Clip.from_frames(("aa",), np.zeros((3, COUNT), np.float32))
    row = clip_targets(clip, targets)
    assert row.tolist() == [1.0, 0.0, 1.0]


def session_shift_case():
    """Two sessions to train on; a third with a strong new offset on the mouth channels."""
    face = SyntheticFace(7)
    labels = [("neutral",), ("happy",), ("aa",), ("oh",), ("sad",)]
    train = [face.clip(lb, 2.0, session) for session in (0, 1) for lb in labels for _ in (0, 1)]
    shift = np.zeros(COUNT, np.float32)
    for name in ("jawOpen", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthSmileRight"):
        shift[INDEX[name]] = 0.18
    today = [face.clip(lb, 2.0, 2) for lb in labels]
    for clip in today:
        clip.frames[:] = np.clip(clip.frames + shift, 0, 1)
    return train, today


def mouth_error(model: ExpressionModel, clips: list[Clip]) -> float:
    sl = model.targets_.slices["mouth"]
    errs = [np.abs(model.predict(c.frames[15:])[:, sl] - clip_targets(c, model.targets_)[sl])
            for c in clips]
    return float(np.concatenate(errs).mean())


def test_session_calibration_recovers_a_shifted_session():
    train, today = session_shift_case()
    model = ExpressionModel().fit(train)
    before = mouth_error(model, today)
    model.calibrate(today[0].frames)  # today's neutral take
    after = mouth_error(model, today)
    assert after < 0.5 * before, (before, after)
    model.reset_calibration()
    assert mouth_error(model, today) == pytest.approx(before)


def test_calibration_needs_frames():
    with pytest.raises(ValueError, match="at least one neutral frame"):
        fitted().calibrate(np.zeros((0, COUNT), np.float32))


def test_still_frames_are_deduplicated():
    still = np.full((90, COUNT), 0.05, np.float32)
    smile = still.copy()
    smile[:, INDEX["mouthSmileLeft"]] = smile[:, INDEX["mouthSmileRight"]] = 0.8
    clips = [Clip.from_frames(("neutral",), still, take_id="a"),
             Clip.from_frames(("happy",), smile, take_id="b")]
    model = ExpressionModel().fit(clips)
    assert model.training_["frames"] == 180
    assert model.training_["frames_used"] == 2
    pred = model.predict(np.stack([still[0], smile[0]]))
    assert pred[0, 0] > 0.5 > pred[0, 1] and pred[1, 1] > 0.5 > pred[1, 0]


def test_fit_reports_progress_and_a_falling_loss():
    calls = []
    ExpressionModel().fit(list(dataset())[:30], progress=lambda f, m, loss=None: calls.append(
        (f, m, loss)))
    fractions = [c[0] for c in calls]
    losses = [c[2] for c in calls if c[2] is not None]
    assert fractions == sorted(fractions) and 0 < fractions[-1] < 1
    assert len(losses) >= 3 and losses[-1] < losses[0]


def test_fit_needs_two_targets():
    clip = Clip.from_frames(("aa",), np.zeros((10, COUNT), np.float32))
    with pytest.raises(ValueError, match="at least two different targets"):
        ExpressionModel().fit([clip])


def test_model_file_round_trip_keeps_predictions_and_calibration():
    model = fitted()
    model.calibrate(split()[1][0].frames)
    back = modelfile.loads(modelfile.dumps(model))
    frames = split()[1][1].frames
    np.testing.assert_array_equal(back.predict(frames), model.predict(frames))
    assert back.targets_ == model.targets_
    np.testing.assert_array_equal(back.offset_, model.offset_)
    assert back.training_["frames"] == model.training_["frames"]
    model.reset_calibration()


def test_state_refuses_a_mismatched_network():
    header, arrays = fitted().to_state()
    arrays = dict(arrays, kernel1=arrays["kernel1"][:, :3], bias1=arrays["bias1"][:3])
    with pytest.raises(modelfile.ModelFileError, match="outputs"):
        modelfile.loads(modelfile.pack({**header, "kind": modelfile.MODEL_KIND}, arrays))


def test_dense_layers_reproduce_the_model():
    model = fitted()
    frames = split()[1][0].frames
    np.testing.assert_allclose(forward(model.dense_layers(), frames), model.predict(frames),
                               atol=1e-5)
    again = ExpressionModel.from_dense_layers(model.dense_layers(), model.targets_.names)
    np.testing.assert_allclose(again.predict(frames), model.predict(frames), atol=1e-6)


def test_a_foreign_network_without_names_is_the_standard_preset_set():
    rng = np.random.default_rng(0)
    layers = [DenseLayer(rng.normal(size=(52, 64)), np.zeros(64)),
              DenseLayer(rng.normal(size=(64, 32)), np.zeros(32)),
              DenseLayer(rng.normal(size=(32, 14)) * 0.01, np.full(14, 0.5))]
    model = ExpressionModel.from_dense_layers(layers)
    assert model.targets_.names[:6] == ("neutral", "happy", "angry", "sad", "relaxed",
                                        "surprised")
    out = model.predict(rng.uniform(0, 1, (5, 52)))
    assert out.shape == (5, 14) and out.min() >= 0 and out.max() <= 1  # linear outputs clipped


def test_foreign_networks_that_cannot_be_a_face_model_are_refused():
    with pytest.raises(ValueError, match="takes 10 inputs"):
        ExpressionModel.from_dense_layers([DenseLayer(np.zeros((10, 3)), np.zeros(3))])
    with pytest.raises(ValueError, match="no target names"):
        ExpressionModel.from_dense_layers([DenseLayer(np.zeros((52, 5)), np.zeros(5))])
    with pytest.raises(ValueError, match="2 outputs but 3 target names"):
        ExpressionModel.from_dense_layers([DenseLayer(np.zeros((52, 2)), np.zeros(2))],
                                          ["neutral", "happy", "aa"])
