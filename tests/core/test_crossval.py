"""Every take held out in turn: the folds, the per-take report and the take it names."""

import numpy as np

from mimic.blendshapes import COUNT
from mimic.clips import Clip
from mimic.crossval import HONEST_NOTE, cross_validate, take_folds
from mimic.model import ExpressionModel
from mimic.synthetic import make_dataset
from mimic.trainjob import train_clips


def coded_clip(label: str, take: str) -> Clip:
    return Clip.from_frames((label,), np.full((60, COUNT), 0.1, np.float32), take_id=take)


def test_each_take_of_a_label_is_held_out_once_and_single_takes_always_train():
    clips = [coded_clip(lb, f"{lb}{i}") for lb in ("neutral", "happy") for i in range(3)]
    clips.append(coded_clip("relaxed", "relaxed0"))
    folds = take_folds(clips)
    assert len(folds) == 3
    held = [i for fold in folds for i in fold]
    assert sorted(held) == list(range(6))  # each take of neutral and happy exactly once
    assert all({clips[i].labels[0] for i in fold} == {"neutral", "happy"} for fold in folds)
    assert 6 not in held  # the only relaxed take always trains


def test_report_gives_every_fold_mean_worst_and_names_the_failing_take():
    clips = make_dataset(people=1, sessions=1, takes=3, seconds=1.6, seed=3,
                         labels=("neutral", "happy", "sad"))
    sad = next(c for c in clips if c.labels == ("sad",))
    happy = [c for c in clips if c.labels == ("happy",)]
    # the third happy take was really a sad face: the report must say so, by name
    bad = happy[-1]
    bad.frames = np.resize(sad.frames, bad.frames.shape)
    bad.name = "take by the window"
    report = cross_validate(clips, ExpressionModel)
    assert report is not None and len(report.folds) == 3
    scores = [f["macro_f1"] for f in report.folds]
    assert report.macro_f1 == np.mean(scores) and report.macro_f1_worst == min(scores)
    titles = [t for f in report.folds for t in f["held_out"]]
    assert len(titles) == len(clips) and len(set(titles)) == len(titles)
    entry = next(t for t in report.per_take if t["take_id"] == bad.take_id)
    assert entry["right"] < 0.2 and entry["mistaken_for"] == "sad"
    assert entry["segments"]["sad"][0][0] >= 0.3  # seconds from the take's start
    good = [t for t in report.per_take if t["truth"] == "happy" and t is not entry]
    assert all(t["right"] > entry["right"] for t in good)
    assert any(h.startswith("happy take 3 (take by the window) reads as sad")
               and "re-record" in h for h in report.hints)
    assert report.note == HONEST_NOTE
    assert "worst" in report.table() and "happy take 3 (take by the window)" in report.table()


def test_training_reports_all_folds_and_survives_a_json_round_trip():
    clips = make_dataset(people=1, sessions=1, takes=2, seconds=1.2, seed=5,
                         labels=("neutral", "happy", "aa"))
    _, summary = train_clips(clips)
    report = summary["report"]
    assert len(report["folds"]) == 2 and report["macro_f1_worst"] <= report["macro_f1"]
    assert summary["heldout_clips"] == len(clips)
    assert {t["take"] for t in report["per_take"]} == {1, 2}


def test_no_label_with_two_takes_means_no_report():
    clips = [coded_clip("neutral", "n0"), coded_clip("happy", "h0")]
    assert cross_validate(clips, ExpressionModel) is None
