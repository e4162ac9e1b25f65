"""Held-out evaluation: the split, the scores, flicker, leakage and the hints."""

import json
from functools import cache

import numpy as np
import pytest

from mimic.blendshapes import COUNT
from mimic.clips import Clip
from mimic.evaluate import Report, evaluate, flicker_rate, split_by_take
from mimic.model import ExpressionModel
from mimic.synthetic import make_dataset
from mimic.targets import TargetSet

TARGETS = TargetSet(("neutral", "happy", "relaxed"), ("aa",), ("blink",))
CODES = {"neutral": 0.1, "happy": 0.2, "relaxed": 0.3, "aa": 0.4, "blink": 0.5}


def coded_clip(label: str, take: str, seconds: float = 2.0) -> Clip:
    """A clip whose first channel says which label it is, for the scripted models below."""
    n = int(seconds * 30)
    frames = np.zeros((n, COUNT), np.float32)
    frames[:, 0] = CODES[label]
    return Clip.from_frames((label,), frames, 30.0, take_id=take)


class ScriptedModel:
    """Answers from the label code: perfect, except what `confuse` and `mouth_rest` say."""

    def __init__(self, confuse: dict[str, str] | None = None, mouth_rest: float = 0.0,
                 alternate: bool = False) -> None:
        self.targets_ = TARGETS
        self.confuse = confuse or {}
        self.mouth_rest = mouth_rest
        self.alternate = alternate

    def predict(self, frames: np.ndarray) -> np.ndarray:
        label = min(CODES, key=lambda k: abs(CODES[k] - frames[0, 0]))
        out = np.zeros((len(frames), 5), np.float32)
        out[:, 3] = self.mouth_rest
        if label in ("aa", "blink"):
            out[:, 0] = 0.9
            out[:, TARGETS.names.index(label)] = 1.0
            return out
        shown = self.confuse.get(label, label)
        out[:, TARGETS.names.index(shown)] = 0.9
        if self.alternate:  # a model torn between two expressions, frame by frame
            out[::2, TARGETS.names.index(shown)] = 0.45
            out[::2, TARGETS.names.index(label)] = 0.55
        return out


def test_split_holds_out_whole_takes_and_keeps_single_takes_for_training():
    clips = [coded_clip(lb, f"{lb}{i}") for lb in ("neutral", "happy") for i in range(4)]
    clips.append(coded_clip("aa", "aa0"))
    train, test = split_by_take(clips, seed=1)
    assert {c.take_id for c in train}.isdisjoint({c.take_id for c in test})
    assert len(train) + len(test) == len(clips)
    assert "aa0" in {c.take_id for c in train}
    assert sorted(c.labels[0] for c in test) == ["happy", "neutral"]
    assert split_by_take(clips, seed=1) == (train, test)
    two = [coded_clip("happy", "a"), coded_clip("happy", "b")]
    assert [len(part) for part in split_by_take(two)] == [1, 1]


def test_flicker_counts_changes_per_second_after_settling():
    t = np.arange(31) / 30.0  # one second
    assert flicker_rate(np.zeros(31, int), t) == 0
    assert flicker_rate(np.arange(31) % 2, t) == pytest.approx(30.0)
    late = np.array([0] * 10 + [1] * 21)
    assert flicker_rate(late, t) == pytest.approx(1.0)
    assert flicker_rate(late, t, settle=1) == 0.0  # following the face in is not flicker
    assert flicker_rate(late, t, settle=2) == pytest.approx(1.0)


def test_a_perfect_model_scores_perfectly():
    clips = [coded_clip(lb, lb) for lb in CODES]
    report = evaluate(ScriptedModel(), clips)
    assert report.expression_accuracy == 1.0 and report.macro_f1 == 1.0
    assert report.confusion_labels == ["neutral", "happy", "relaxed"]
    matrix = np.array(report.confusion)
    assert np.array_equal(matrix, np.diag(np.diag(matrix)))
    assert matrix[0, 0] > matrix[1, 1] > 0  # the aa and blink takes show neutral faces
    assert report.mouth_mae == pytest.approx(0.0, abs=1e-6)
    assert report.eyes_mae == pytest.approx(0.0, abs=1e-6)
    assert report.neutral_mouth_leakage == 0.0
    assert report.flicker_raw == 0.0 and report.flicker_clean == 0.0
    assert report.hints == [] and report.untested == []


def test_confused_expressions_show_in_the_matrix_and_as_a_hint():
    clips = [coded_clip(lb, lb) for lb in ("neutral", "happy", "relaxed")]
    report = evaluate(ScriptedModel(confuse={"relaxed": "happy"}), clips)
    matrix = np.array(report.confusion)
    assert matrix[2, 1] == matrix[2].sum() and matrix[2, 2] == 0
    assert report.per_target["relaxed"]["value"] == 0.0
    assert report.expression_accuracy == pytest.approx(2 / 3, abs=0.01)
    assert any(h.startswith("relaxed and happy are confused (100%") for h in report.hints)
    assert "aa" in report.untested and "blink" in report.untested
    assert any("Not tested: aa, blink" in h for h in report.hints)


def test_neutral_mouth_leakage_is_what_survives_the_dead_zone():
    clips = [coded_clip("neutral", "n"), coded_clip("happy", "h")]
    assert evaluate(ScriptedModel(mouth_rest=0.03), clips).neutral_mouth_leakage == 0.0
    leaky = evaluate(ScriptedModel(mouth_rest=0.5), clips)
    assert leaky.neutral_mouth_leakage == 1.0
    assert any("does not fully close" in h for h in leaky.hints)


def test_clean_up_removes_flicker_between_similar_expressions():
    report = evaluate(ScriptedModel(confuse={"happy": "relaxed"}, alternate=True),
                      [coded_clip("happy", "h", 3.0)])
    assert report.flicker_raw > 10
    assert report.flicker_clean < 1


def test_report_is_json_and_prints_as_a_table():
    report = evaluate(ScriptedModel(), [coded_clip(lb, lb) for lb in CODES])
    again = Report(**json.loads(json.dumps(report.to_dict())))
    assert again == report
    table = report.table()
    assert "expression accuracy" in table and "1.000" in table
    assert "true \\ pred" in table and "relaxed" in table


@cache
def synthetic_report() -> Report:
    clips = make_dataset(people=1, sessions=2, takes=2, seconds=2.0, seed=5)
    train, test = split_by_take(clips, seed=0)
    return evaluate(ExpressionModel().fit(train), test)


def test_a_trained_model_does_well_on_held_out_synthetic_takes():
    report = synthetic_report()
    assert report.expression_accuracy > 0.9
    assert report.mouth_mae < 0.15 and report.eyes_mae < 0.15
    assert report.flicker_clean <= report.flicker_raw + 0.01
    assert report.takes > 10 and report.frames > 500
