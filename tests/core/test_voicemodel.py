"""Learning the user's voice: level range and vowel picker from viseme takes recorded with
sound, scored by take, carried by the model file and the TF.js export. Synthetic voices here
(mechanics); espeak-ng speech in test_voice_speech.py and the browser tests."""

import json
from functools import cache

import numpy as np
import pytest

from mimic import modelfile
from mimic.clips import Clip
from mimic.crossval import cross_validate
from mimic.model import ExpressionModel
from mimic.synthetic import SyntheticFace
from mimic.tfjsmodel import from_tfjs, to_tfjs
from mimic.voice import LAYOUT, LAYOUT_V1, VISEMES, Layout, VoiceFeatures, default_layers
from mimic.voicemodel import (
    VoiceModel,
    fit_voice,
    score_voice,
    voice_layout,
    voice_rows,
    voice_truth,
)

from .test_voice import FORMANTS, RATE

# A voice far from the textbook: formants a fifth higher (a child's or a high voice), so the
# untrained mapping confuses vowels a voice of its own tells apart.
HIGH = 1.45


def voice(name: str, seconds: float, f0: float, shift: float, level: float, seed: int
          ) -> np.ndarray:
    """Room noise, a vowel with its formants moved by `shift`, room noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    said = np.zeros_like(t)
    for k in range(1, int(4000 / f0)):
        f = k * f0
        amp = sum(np.exp(-0.5 * ((f - shift * fi) / 110.0) ** 2) * (1.0, 0.8, 0.6)[i]
                  for i, fi in enumerate(FORMANTS[name])) + 0.02
        said += amp * np.sin(2 * np.pi * f * t + k)
    said *= level / np.abs(said).max() * np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    pause = np.zeros(int(0.4 * RATE))
    signal = np.concatenate([pause, said, pause])
    return (signal + rng.normal(0, 3e-4, len(signal))).astype(np.float32)


def features(signal: np.ndarray, layout: Layout = LAYOUT) -> np.ndarray:
    extractor = VoiceFeatures(RATE, max_hops=len(signal) // 480 + 1, layout=layout)
    return extractor.rows[:extractor.push(signal)].copy()


def take(face: SyntheticFace, label: str, rows: np.ndarray, session: int = 0) -> Clip:
    """A camera take of `label` as long as the sound, keeping the voice's latest hop per
    frame as the recorder does."""
    clip = face.clip(label, seconds=len(rows) / 100.0, session=session)
    hop = np.minimum((clip.timestamps * 100).astype(np.intp), len(rows) - 1)
    clip.audio = rows[hop]
    return clip.validate()


def voiced_takes(shift: float = HIGH, seed: int = 0, layout: Layout = LAYOUT) -> list[Clip]:
    """Two takes of each viseme (different pitch and loudness), a neutral and a happy take
    recorded with the microphone on but nothing said."""
    face = SyntheticFace(seed)
    clips = []
    for k, (f0, level) in enumerate(((210.0, 0.3), (250.0, 0.15))):
        for i, name in enumerate(VISEMES):
            rows = features(voice(name, 1.2, f0, shift, level, seed=10 * k + i), layout)
            clips.append(take(face, name, rows, session=k))
        for label in ("neutral", "happy"):
            rows = features(voice("aa", 1.0, f0, shift, 0.0, seed=50 + k), layout)
            clips.append(take(face, label, rows, session=k))
    return clips


@cache
def recorded() -> list[Clip]:
    return voiced_takes()


@cache
def trained() -> ExpressionModel:
    return ExpressionModel(max_iter=60, augment=0.0).fit(recorded())


def test_each_take_says_at_most_one_viseme():
    clips = recorded()
    assert [voice_truth(c) for c in clips[:7]] == [0, 1, 2, 3, 4, -1, -1]
    rows, truth = voice_rows(clips)
    assert rows.shape == (sum(len(c.frames) for c in clips), LAYOUT.width)
    assert (truth == -1).sum() == sum(len(c.frames) for c in clips if voice_truth(c) < 0)


def test_the_level_range_sits_between_the_room_and_the_voice():
    model = trained()
    clips = recorded()
    voice = model.voice_
    rows, truth = voice_rows(clips)
    room = np.percentile(rows[truth < 0, 0], 90)
    spoken = np.percentile(rows[truth >= 0, 0], 90)
    assert room + 6 < voice.gate_db_ < spoken - 12, (room, voice.gate_db_, spoken)
    assert voice.gate_db_ + 12 <= voice.full_db_ <= spoken
    assert not voice.speech(rows[truth < 0]).any()


def test_a_learned_voice_beats_the_untrained_mapping_on_held_out_takes():
    clips = recorded()
    report = cross_validate(clips, lambda: ExpressionModel(max_iter=60, augment=0.0))
    scores = report.voice
    assert scores["visemes"] == list(VISEMES)
    assert len(scores["takes"]) == 10 and scores["frames"] > 250
    assert scores["voice"]["macro_f1"] >= 0.85, scores
    assert scores["voice"]["macro_f1"] > scores["untrained"]["macro_f1"] + 0.2, scores
    assert 0.0 <= scores["camera"]["accuracy"] <= 1.0
    assert "learned voice" in report.table() and "untrained voice" in report.table()


def test_the_live_follower_opens_on_the_voice_and_shuts_in_silence():
    model = trained()
    mouth, out = model.voice_.mouth(), np.zeros(len(VISEMES), np.float32)
    for name in ("ee", "ou"):
        rows = features(voice(name, 1.0, 230.0, HIGH, 0.2, seed=99))
        shown = np.array([mouth.step(r, out).copy() for r in rows])
        middle = shown[60:120]
        assert VISEMES[int(middle.mean(axis=0).argmax())] == name
        assert middle.sum(axis=1).min() > 0.3
        assert shown[-10:].max() == 0.0  # the room after it: shut


def test_no_voice_is_learned_without_speech_for_two_visemes():
    clips = recorded()
    only_aa = [c for c in clips if voice_truth(c) in (-1, 0)]
    assert fit_voice(only_aa) is None
    silent = [Clip(c.labels, c.frames, c.timestamps, c.fps, c.take_id, c.session_id,
                   c.created_at) for c in clips]
    assert fit_voice(silent) is None
    assert ExpressionModel(max_iter=20, augment=0.0).fit(silent).voice_ is None
    with pytest.raises(ValueError, match="at least two visemes"):
        VoiceModel().fit(*voice_rows(only_aa))


def test_the_model_file_carries_the_voice_and_old_files_load():
    model = trained()
    clips = recorded()
    back = modelfile.loads(modelfile.dumps(model))
    rows = clips[0].audio
    assert np.array_equal(back.voice_.predict(rows), model.voice_.predict(rows))
    assert (back.voice_.gate_db_, back.voice_.full_db_) == (model.voice_.gate_db_,
                                                            model.voice_.full_db_)
    header, arrays = model.to_state()
    del header["voice"]
    old = modelfile.loads(modelfile.pack({**header, "kind": modelfile.MODEL_KIND},
                                         {k: v for k, v in arrays.items()
                                          if not k.startswith("voice_")}))
    assert old.voice_ is None
    assert np.array_equal(old.predict(clips[0].frames), model.predict(clips[0].frames))


def test_takes_recorded_before_the_layout_changed_still_teach_a_voice_that_reads_them():
    """Takes from before 2026-12 keep five bands per frame: alone, they train a voice that
    reads five bands (from that layout's default), which a model file carries; next to takes
    of today's layout they are left out of the voice (their rows describe another thing)."""
    old = voiced_takes(layout=LAYOUT_V1)
    assert old[0].audio.shape[1] == 6 and voice_layout(old) == LAYOUT_V1
    voice = fit_voice(old)
    assert voice.layout == LAYOUT_V1
    assert voice.layers_[0].units == default_layers(LAYOUT_V1)[0].units
    said = [c for c in old if voice_truth(c) >= 0]
    right = np.mean([(voice.predict(c.audio[voice.speech(c.audio)]).argmax(1)
                      == voice_truth(c)).mean() for c in said])
    assert right > 0.8, right
    model = ExpressionModel(max_iter=30, augment=0.0).fit(old)
    back = modelfile.loads(modelfile.dumps(model)).voice_
    assert back.layout == LAYOUT_V1
    assert np.array_equal(back.predict(old[0].audio), model.voice_.predict(old[0].audio))

    new = [c for c in recorded() if voice_truth(c) in (0, 1)]  # aa and ih, today's layout
    mixed = old + new
    assert voice_layout(mixed) == LAYOUT
    rows, truth = voice_rows(mixed)
    assert set(truth.tolist()) >= {0, 1}
    assert rows.shape == (sum(len(c.frames) for c in new), LAYOUT.width)
    voice = fit_voice(mixed)
    assert voice.layout == LAYOUT and voice.visemes_ == ["aa", "ih"]
    # scoring a fold: the old takes are not read by a voice of today's layout
    model = ExpressionModel(max_iter=30, augment=0.0).fit(mixed)
    report = score_voice([(model, mixed)])
    assert len(report["takes"]) == len(new)
    assert report["frames"] == sum(int(model.voice_.speech(c.audio).sum()) for c in new)


def test_a_damaged_voice_is_refused_with_its_reason():
    model = trained()
    header, arrays = model.to_state()
    header["voice"]["visemes"] = ["aa", "kiss"]
    with pytest.raises(modelfile.ModelFileError, match="not known visemes"):
        modelfile.loads(modelfile.pack({**header, "kind": modelfile.MODEL_KIND}, arrays))


def test_the_tfjs_export_carries_the_voice_in_its_metadata():
    model = trained()
    clips = recorded()
    model_json, weights = to_tfjs(model)
    text = json.dumps(model_json)
    meta = json.loads(text)["userDefinedMetadata"]
    assert meta["voice"]["visemes"] == list(VISEMES)
    assert [la["activation"] for la in meta["voice"]["layers"]] == ["tanh", "softmax"]
    back = from_tfjs(text, weights)
    rows = clips[3].audio
    assert np.allclose(back.voice_.predict(rows), model.voice_.predict(rows), atol=1e-6)
    assert np.allclose(back.predict(clips[3].frames), model.predict(clips[3].frames), atol=1e-6)
    del model_json["userDefinedMetadata"]["voice"]
    assert from_tfjs(model_json, weights).voice_ is None
    model_json["userDefinedMetadata"]["voice"] = {"layers": [{"kernel": "x"}]}
    with pytest.raises(ValueError, match=r"voice in this model\.json is damaged"):
        from_tfjs(model_json, weights)


def test_a_take_whose_sound_says_another_vowel_is_named_in_a_hint():
    clips = list(recorded())
    second = [i for i, c in enumerate(clips) if c.session_id.endswith("s1")]
    ou2 = next(i for i in second if clips[i].labels == ("ou",))
    ee2 = next(clips[i] for i in second if clips[i].labels == ("ee",))
    wrong = clips[ou2]
    n = min(len(wrong.frames), len(ee2.audio))
    clips[ou2] = Clip(wrong.labels, wrong.frames[:n], wrong.timestamps[:n], wrong.fps,
                      wrong.take_id, wrong.session_id, wrong.created_at, "said ee",
                      ee2.audio[:n])  # the user said "ee" through an "ou" take
    report = cross_validate(clips, lambda: ExpressionModel(max_iter=60, augment=0.0))
    take = next(t for t in report.voice["takes"] if t["name"] == "said ee")
    heard = take["voice_mistaken_for"]
    assert take["take"] == 2 and take["voice"] < 0.5 and heard in ("ee", "ih")  # high vowels
    hint = next(h for h in report.hints if h.startswith("Your voice in ou take 2 (said ee)"))
    assert f"reads as {heard}" in hint and "say ou again" in hint


def test_training_says_whether_it_learned_the_voice_and_what_to_record_if_not():
    from mimic.trainjob import train_clips

    options = {"max_iter": 30, "augment": 0.0}
    _, summary = train_clips(recorded(), options)
    assert summary["voice"]["learned"] and summary["voice"]["visemes"] == list(VISEMES)
    assert summary["voice"]["takes_with_sound"] == len(recorded())
    only_aa = [c for c in recorded() if voice_truth(c) in (-1, 0)]
    _, summary = train_clips(only_aa, options)
    assert not summary["voice"]["learned"]
    assert "record takes of at least two visemes" in summary["voice"]["note"]
    assert "left_out" not in summary["voice"]
    # takes an earlier Mimic recorded (five bands a frame) beside today's: said, not used;
    # alone they would teach a voice (above), so the note is what tells them apart
    older = [c for c in voiced_takes(layout=LAYOUT_V1) if voice_truth(c) >= 0]
    _, summary = train_clips(only_aa + older, options)
    assert not summary["voice"]["learned"] and summary["voice"]["left_out"] == len(older)
    assert "record takes of at least two visemes" in summary["voice"]["note"]
    assert summary["voice"]["left_out_note"].startswith(
        f"{len(older)} takes with sound recorded by an earlier Mimic")
