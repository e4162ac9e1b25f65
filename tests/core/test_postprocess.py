"""Each clean-up stage on its own, then the whole `Cleanup.step` pass."""

import itertools
import json
import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from mimic.postprocess import (
    Cleanup,
    CleanupSettings,
    DeadZone,
    Handover,
    OneEuroFilter,
    WinnerPicker,
    benchmark,
    cap_visemes,
    dead_zone,
    keep_largest,
    mouth_budget_scale,
)

EXPR = ("neutral", "happy", "angry", "sad", "relaxed", "surprised")
MOUTH = ("aa", "ih", "ou", "ee", "oh")
EYES = ("blink", "blinkLeft", "blinkRight")
FPS = 30.0


def make_targets(expressions=EXPR, mouth=MOUTH, eyes=EYES):
    """Stand-in with the attributes `Cleanup` uses from `mimic.targets.TargetSet`."""
    names = (*expressions, *mouth, *eyes)
    e, m = len(expressions), len(expressions) + len(mouth)
    slices = {"expression": slice(0, e), "mouth": slice(e, m), "eyes": slice(m, len(names))}
    return SimpleNamespace(names=names, slices=slices, expressions=expressions, mouth=mouth,
                           eyes=eyes)


TARGETS = make_targets()
INDEX = {name: i for i, name in enumerate(TARGETS.names)}


def frame(expr="neutral", p=0.9, **values):
    """A raw prediction: `expr` gets probability p, the rest share 1 - p; kwargs set targets."""
    raw = np.zeros(len(TARGETS.names), np.float32)
    raw[:len(EXPR)] = (1.0 - p) / (len(EXPR) - 1)
    raw[INDEX[expr]] = p
    for name, value in values.items():
        raw[INDEX[name]] = value
    return raw


def plain(**changes):
    """Settings with the filter off, so logic tests see exactly what they feed in."""
    return CleanupSettings(filter_enabled=False, **changes)


def run(cleanup, frames, t0=0.0):
    return [cleanup.step(f, t0 + i / FPS).copy() for i, f in enumerate(frames)]


# --- dead zone ------------------------------------------------------------------------------


def test_dead_zone_snaps_small_values_to_exactly_zero():
    x = np.array([0.0, 0.01, 0.05, 0.0799, 0.08, -0.2], np.float32)
    out = dead_zone(x, 0.08)
    assert out.dtype == np.float32
    assert all(v == 0.0 for v in out.tolist())


def test_dead_zone_maps_threshold_to_zero_and_one_to_one_and_clips():
    out = dead_zone(np.array([0.08, 0.54, 1.0, 1.7], np.float32), 0.08)
    assert out.tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0], abs=1e-6)


def test_dead_zone_is_continuous_and_monotonic():
    x = np.linspace(-0.5, 1.5, 20001, dtype=np.float32)
    out = dead_zone(x, 0.1)
    steps = np.diff(out)
    assert float(steps.min()) >= 0.0
    assert float(steps.max()) < 1e-3  # no jump anywhere, in particular at the threshold


def test_dead_zone_writes_into_out_and_zero_threshold_only_clips():
    out = np.zeros(3, np.float32)
    result = dead_zone(np.array([-0.1, 0.3, 1.2], np.float32), 0.0, out=out)
    assert result is out
    assert out.tolist() == pytest.approx([0.0, 0.3, 1.0])


@pytest.mark.parametrize("threshold", [-0.1, 1.0, 2.0])
def test_dead_zone_rejects_impossible_thresholds(threshold):
    with pytest.raises(ValueError, match="dead zone"):
        DeadZone(threshold)


# --- hysteresis -----------------------------------------------------------------------------


def alternating_pair(n, seed=0):
    """Two similar expressions (happy/angry) whose order flips with noise every frame."""
    rng = np.random.default_rng(seed)
    probs = []
    for i in range(n):
        wobble = 0.04 + 0.02 * float(rng.random())
        sign = 1.0 if i % 2 else -1.0
        probs.append([0.06, 0.42 + sign * wobble, 0.42 - sign * wobble, 0.04, 0.03, 0.03])
    return probs


def count_switches(picker, probs):
    winners = [picker.update(p, i / FPS) for i, p in enumerate(probs)]
    return sum(a != b for a, b in itertools.pairwise(winners)), winners


def test_hysteresis_suppresses_flicker_between_similar_expressions():
    probs = alternating_pair(300)
    switches, winners = count_switches(WinnerPicker(0.15, 0.1), probs)
    assert switches == 0
    assert winners[0] in (1, 2)
    naive, _ = count_switches(WinnerPicker(0.0, 0.0), probs)
    assert naive > 100  # the input really does flicker


def test_hysteresis_still_switches_on_a_real_change():
    picker = WinnerPicker(0.15, 0.1, initial=1)
    probs = [[0.05, 0.8, 0.05, 0.05, 0.03, 0.02]] * 10 + [[0.05, 0.1, 0.75, 0.05, 0.03, 0.02]] * 10
    winners = [picker.update(p, i / FPS) for i, p in enumerate(probs)]
    assert winners[:10] == [1] * 10
    switch_frame = winners.index(2)
    held = (switch_frame - 10) / FPS
    assert 0.1 - 1e-6 <= held <= 0.1 + 1.0 / FPS
    assert winners[switch_frame:] == [2] * (20 - switch_frame)


def test_hysteresis_ignores_a_spike_shorter_than_hold():
    picker = WinnerPicker(0.15, 0.1, initial=1)
    calm = [0.05, 0.8, 0.05, 0.05, 0.03, 0.02]
    spike = [0.05, 0.1, 0.75, 0.05, 0.03, 0.02]
    probs = [calm] * 5 + [spike] * 2 + [calm] * 5 + [spike] * 2 + [calm] * 5
    switches, _ = count_switches(picker, probs)
    assert switches == 0


def test_hysteresis_requires_the_margin():
    picker = WinnerPicker(0.15, 0.0, initial=1)
    assert picker.update([0.0, 0.45, 0.55, 0.0, 0.0, 0.0], 0.0) == 1  # ahead by only 0.10
    assert picker.update([0.0, 0.30, 0.70, 0.0, 0.0, 0.0], 0.1) == 2


# --- hand-over ------------------------------------------------------------------------------


def test_handover_is_gradual_and_completes_within_handover_s():
    ramp = Handover(0.15, initial=1)
    ramp.update(2, 0.0)  # the switch itself
    ups, downs = [ramp.level], [dict(ramp.fading).get(1, 0.0)]
    for _ in range(6):
        ramp.update(2, 1.0 / FPS)
        ups.append(ramp.level)
        downs.append(dict(ramp.fading).get(1, 0.0))
    assert ups[0] == 0.0 and downs[0] == 1.0
    assert all(0.0 < u < 1.0 for u in ups[1:4]) and all(0.0 < d < 1.0 for d in downs[1:4])
    assert ups == sorted(ups) and downs == sorted(downs, reverse=True)
    # 0.15 s at 30 fps is 4.5 frames: done by frame 5.
    assert ups[5] == 1.0 and downs[5] == 0.0 and ramp.fading == []


def test_handover_switching_back_continues_from_the_current_level():
    ramp = Handover(0.2, initial=1)
    ramp.update(2, 0.0)
    ramp.update(2, 0.05)  # 2 at 0.25, 1 at 0.75
    ramp.update(1, 0.0)
    assert ramp.level == pytest.approx(0.75)
    assert dict(ramp.fading) == pytest.approx({2: 0.25})


def test_handover_zero_is_a_hard_switch():
    ramp = Handover(0.0, initial=1)
    ramp.update(3, 1.0 / FPS)
    assert (ramp.winner, ramp.level, ramp.fading) == (3, 1.0, [])


def test_cleanup_hands_expressions_over_smoothly():
    cleanup = Cleanup(TARGETS, plain(hysteresis=0.0, hold_s=0.0, handover_s=0.15))
    frames = [frame("happy")] * 10 + [frame("sad")] * 10
    out = run(cleanup, frames)
    happy = [o[INDEX["happy"]] for o in out]
    sad = [o[INDEX["sad"]] for o in out]
    assert happy[9] == 1.0 and sad[9] == 0.0
    assert 0.0 < sad[11] < 1.0 and 0.0 < happy[11] < 1.0
    assert sad[15] == 1.0 and happy[15] == 0.0
    for o in out:  # never more than the two expressions involved
        others = np.delete(o[:len(EXPR)], [INDEX["happy"], INDEX["sad"]])
        assert not others.any()


def test_neutral_winning_turns_all_expressions_off():
    cleanup = Cleanup(TARGETS, plain(hysteresis=0.0, hold_s=0.0, handover_s=0.1))
    out = run(cleanup, [frame("angry")] * 10 + [frame("neutral")] * 10)
    assert out[9][INDEX["angry"]] == 1.0
    assert not out[-1][:len(EXPR)].any()  # neutral itself is shown as 0 too


def test_scale_by_confidence():
    cleanup = Cleanup(TARGETS, plain(hysteresis=0.0, hold_s=0.0, handover_s=0.0,
                                     scale_by_confidence=True))
    out = cleanup.step(frame("relaxed", p=0.7), 0.0)
    assert float(out[INDEX["relaxed"]]) == pytest.approx(0.7)


def test_targets_without_neutral_pick_the_first_winner_and_ramp_it_in():
    targets = make_targets(expressions=("happy", "sad"))
    cleanup = Cleanup(targets, plain(handover_s=0.1))
    raw = np.zeros(len(targets.names), np.float32)
    raw[:2] = [0.2, 0.8]
    out = [cleanup.step(raw, i / FPS).copy() for i in range(5)]
    assert out[0][1] == 0.0 and 0.0 < out[1][1] < 1.0 and out[4][1] == 1.0


# --- One Euro filter ------------------------------------------------------------------------


def test_one_euro_reduces_jitter_on_a_constant_signal():
    rng = np.random.default_rng(1)
    noisy = 0.5 + 0.03 * rng.standard_normal((300, 4)).astype(np.float32)
    f = OneEuroFilter(4, min_cutoff=1.0, beta=2.0, d_cutoff=1.0)
    smooth = np.array([f(x, i / FPS).copy() for i, x in enumerate(noisy)])
    assert float(smooth[30:].var()) < 0.3 * float(noisy[30:].var())
    assert float(np.abs(smooth[30:].mean() - 0.5)) < 0.01


def test_one_euro_follows_a_step():
    f = OneEuroFilter(2, min_cutoff=1.0, beta=2.0, d_cutoff=1.0)
    for i in range(10):
        f(np.zeros(2, np.float32), i / FPS)
    values = [f(np.array([1.0, 0.6], np.float32), (10 + i) / FPS).copy() for i in range(30)]
    first_within = next(i for i, v in enumerate(values) if v[0] > 0.9)
    assert first_within / FPS <= 0.2
    assert values[-1].tolist() == pytest.approx([1.0, 0.6], abs=0.02)


def test_one_euro_handles_irregular_and_repeated_timestamps():
    rng = np.random.default_rng(2)
    f = OneEuroFilter(3, min_cutoff=1.0, beta=1.0)
    t = 0.0
    for _ in range(200):
        t += float(rng.choice([0.0, 0.008, 0.033, 0.1]))
        y = f(np.full(3, 0.25, np.float32), t)
    assert y.tolist() == pytest.approx([0.25] * 3, abs=1e-6)


def test_one_euro_restarts_after_a_long_gap():
    f = OneEuroFilter(1, min_cutoff=0.5, beta=0.0)
    f(np.zeros(1, np.float32), 0.0)
    assert f(np.ones(1, np.float32), 5.0)[0] == 1.0


def test_one_euro_without_beta_is_a_fixed_low_pass():
    f = OneEuroFilter(1, min_cutoff=1.0, beta=0.0)
    f(np.zeros(1, np.float32), 0.0)
    dt = 0.05
    alpha = 1.0 / (1.0 + 1.0 / (2.0 * math.pi * 1.0 * dt))
    assert float(f(np.ones(1, np.float32), dt)[0]) == pytest.approx(alpha, rel=1e-5)


# --- mouth budget and visemes ---------------------------------------------------------------


def test_mouth_budget_scale():
    assert mouth_budget_scale(0.5, 0.3, 1.0) == 1.0
    assert mouth_budget_scale(1.0, 0.3, 1.0) == pytest.approx(0.7)
    assert mouth_budget_scale(1.0, 1.5, 1.0) == 0.0


def test_cap_visemes_and_keep_largest():
    v = np.array([0.6, 0.2, 0.4, 0.0, 0.0], np.float32)
    cap_visemes(v, 0.6, 1.0)
    assert float(v.sum()) == pytest.approx(0.4, abs=1e-6)
    assert keep_largest(v).tolist() == pytest.approx([0.2, 0.0, 0.0, 0.0, 0.0], abs=1e-6)


@pytest.mark.parametrize("expr, room", [("happy", 0.7), ("surprised", 0.4), ("neutral", 1.0),
                                        ("sad", 1.0)])
def test_mouth_budget_caps_expression_plus_viseme(expr, room):
    cleanup = Cleanup(TARGETS, plain(hysteresis=0.0, hold_s=0.0, handover_s=0.0))
    out = cleanup.step(frame(expr, aa=1.0), 0.0)
    assert float(out[INDEX["aa"]]) == pytest.approx(room, abs=1e-6)


def test_single_viseme_keeps_only_the_largest():
    raw = frame(aa=0.5, ih=0.7, oh=0.3)
    out = Cleanup(TARGETS, plain()).step(raw, 0.0)
    mouth = out[INDEX["aa"]:INDEX["oh"] + 1]
    assert np.count_nonzero(mouth) == 1 and mouth[1] > 0.0
    mixed = Cleanup(TARGETS, plain(single_viseme=False)).step(raw, 0.0)
    assert np.count_nonzero(mixed[INDEX["aa"]:INDEX["oh"] + 1]) == 3
    assert float(mixed[INDEX["aa"]:INDEX["oh"] + 1].sum()) <= 1.0 + 1e-6


def test_mouth_really_closes_and_eyes_get_the_dead_zone():
    cleanup = Cleanup(TARGETS)  # default settings, filter on
    rng = np.random.default_rng(3)
    for i in range(60):
        raw = frame(aa=0.03, ih=0.05, blink=0.04, blinkLeft=0.02)
        raw[len(EXPR):] += 0.01 * rng.standard_normal(len(MOUTH) + len(EYES)).astype(np.float32)
        out = cleanup.step(raw, i / FPS)
    assert not out[len(EXPR):].any()


# --- settings -------------------------------------------------------------------------------


def test_settings_round_trip_through_json():
    s = CleanupSettings(handover_s=0.3, hysteresis=0.2, dead_zone=0.1, single_viseme=False,
                        expression_mouth_open={"surprised": 0.5, "custom": 0.2})
    back = CleanupSettings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s
    assert CleanupSettings.from_dict({}) == CleanupSettings()
    assert CleanupSettings().expression_mouth_open == {"surprised": 0.6, "happy": 0.3}


def test_settings_ignore_unknown_keys():
    assert CleanupSettings.from_dict({"from_a_newer_app": 1, "hold_s": 0.2}).hold_s == 0.2


@pytest.mark.parametrize("changes, word", [
    ({"dead_zone": 1.0}, "dead_zone"),
    ({"dead_zone": -0.1}, "dead_zone"),
    ({"hysteresis": float("nan")}, "hysteresis"),
    ({"min_cutoff": 0.0}, "min_cutoff"),
    ({"handover_s": "fast"}, "handover_s"),
    ({"hold_s": True}, "hold_s"),
    ({"single_viseme": 1}, "single_viseme"),
    ({"expression_mouth_open": {"happy": 2.0}}, "happy"),
    ({"expression_mouth_open": [0.3]}, "expression_mouth_open"),
])
def test_settings_validation(changes, word):
    with pytest.raises(ValueError, match=word):
        CleanupSettings.from_dict(changes)


def test_settings_are_replaceable_at_runtime():
    cleanup = Cleanup(TARGETS, plain(dead_zone=0.0))
    raw = frame(aa=0.05)
    assert float(cleanup.step(raw, 0.0)[INDEX["aa"]]) == pytest.approx(0.05)
    cleanup.settings = replace(cleanup.settings, dead_zone=0.1)
    assert cleanup.step(raw, 1 / FPS)[INDEX["aa"]] == 0.0
    cleanup.settings = {"filter_enabled": False, "dead_zone": 0.0, "mouth_open_budget": 0.5}
    assert float(cleanup.step(frame(aa=0.9), 2 / FPS)[INDEX["aa"]]) == pytest.approx(0.5)


# --- the whole step -------------------------------------------------------------------------


def test_step_with_out_returns_the_same_array():
    cleanup = Cleanup(TARGETS)
    out = np.zeros(len(TARGETS.names), np.float32)
    for i in range(5):
        result = cleanup.step(frame("happy", aa=0.5), i / FPS, out=out)
        assert result is out
    assert out.dtype == np.float32 and out[INDEX["aa"]] > 0.0


def test_step_without_out_returns_a_fresh_array():
    cleanup = Cleanup(TARGETS, plain())
    a = cleanup.step(frame(aa=0.5), 0.0)
    b = cleanup.step(frame(aa=0.5), 1 / FPS)
    assert a is not b and a.shape == (len(TARGETS.names),) and a.dtype == np.float32
    a[:] = 7.0
    assert cleanup.step(frame(aa=0.5), 2 / FPS)[INDEX["aa"]] < 1.0


def test_bad_frame_repeats_the_last_output_and_keeps_the_filter_clean():
    cleanup = Cleanup(TARGETS)
    good = cleanup.step(frame(aa=0.6), 0.0)
    bad = frame(aa=0.6)
    bad[INDEX["ih"]] = np.nan
    assert cleanup.step(bad, 1 / FPS).tolist() == good.tolist()
    assert np.isfinite(cleanup.step(frame(aa=0.6), 2 / FPS)).all()


def test_step_rejects_a_wrong_length():
    with pytest.raises(ValueError, match="target values"):
        Cleanup(TARGETS).step(np.zeros(3, np.float32), 0.0)


def test_time_going_backwards_and_reset_start_over():
    cleanup = Cleanup(TARGETS, CleanupSettings(hysteresis=0.0, hold_s=0.0, handover_s=0.0))
    run(cleanup, [frame("happy")] * 5, t0=10.0)
    assert cleanup.step(frame("neutral", aa=1.0), 0.0)[INDEX["aa"]] == 1.0
    cleanup.reset()
    assert not cleanup.step(frame("neutral"), 0.0).any()


def test_works_with_the_real_target_set():
    from mimic.targets import TargetSet

    targets = TargetSet.from_labels(["happy", "aa", "blink"])
    cleanup = Cleanup(targets, plain(hysteresis=0.0, hold_s=0.0, handover_s=0.0))
    raw = np.zeros(len(targets.names), np.float32)
    raw[list(targets.names).index("happy")] = 0.9
    raw[list(targets.names).index("aa")] = 1.0
    raw[list(targets.names).index("blink")] = 0.03
    out = dict(zip(targets.names, cleanup.step(raw, 0.0).tolist(), strict=True))
    assert out == pytest.approx({"neutral": 0.0, "happy": 1.0, "aa": 0.7, "blink": 0.0})


def test_benchmark_runs():
    assert benchmark(steps=200) > 0.0
