"""Driving characters: morph name matching, expression mapping, rules, head pose and gaze."""

import math

import numpy as np
import pytest

from mimic.blendshapes import COUNT, INDEX, NAMES
from mimic.retarget import (
    ARKIT_MORPHS,
    RULE_TARGETS,
    ExpressionMap,
    HeadPose,
    MorphMap,
    morph_key,
    rule_weights,
)

ARKIT = [*NAMES[1:], "tongueOut"]


@pytest.mark.parametrize("name", ["eyeBlinkLeft", "EyeBlinkLeft", "eyeBlink_L", "eyeBlink_l",
                                  "blendShape1.eyeBlinkLeft", "eye_blink_left",
                                  "Face|eyeBlinkLeft"])
def test_common_spellings_of_a_morph_match(name):
    assert morph_key(name) == morph_key("eyeBlinkLeft")


def test_left_and_right_stay_apart():
    assert morph_key("eyeBlink_R") == morph_key("eyeBlinkRight") != morph_key("eyeBlinkLeft")
    assert morph_key("jawOpen") != morph_key("jawLeft")


def test_a_perfect_sync_character_gets_every_weight_in_its_own_order():
    names = [*reversed(ARKIT), "Fcl_EYE_Close"]
    mapping = MorphMap(names)
    assert mapping.matched == 51 and mapping.missing == []
    frame = np.arange(COUNT, dtype=np.float32) / 100
    out = np.full(len(names), -1.0, np.float32)
    mapping.apply(frame, out)
    assert out[names.index("mouthSmileLeft")] == frame[INDEX["mouthSmileLeft"]]
    assert out[names.index("eyeBlinkRight")] == frame[INDEX["eyeBlinkRight"]]
    assert out[names.index("tongueOut")] == -1.0  # MediaPipe has no tongue: left alone
    assert out[names.index("Fcl_EYE_Close")] == -1.0


def test_a_character_without_arkit_morphs_matches_nothing():
    mapping = MorphMap(["Fcl_EYE_Close", "Fcl_MTH_A", "Body"])
    assert mapping.matched == 0 and len(mapping.missing) == 51


def test_model_targets_map_to_expressions_and_missing_ones_are_reported():
    godette_like = ["aa", "ih", "ou", "ee", "oh", "happy", "angry", "sad", "relaxed", "blink",
                    "blinkLeft", "blinkRight", "neutral", "Wink"]
    targets = ["neutral", "happy", "surprised", "wink", "aa", "blinkLeft"]
    mapping = ExpressionMap(targets, godette_like)
    assert mapping.missing == ["surprised"]
    weights = np.array([0.1, 0.9, 0.5, 0.7, 0.3, 0.8], np.float32)
    out = np.zeros(len(godette_like), np.float32)
    mapping.apply(weights, out)
    assert out[godette_like.index("happy")] == pytest.approx(0.9)
    assert out[godette_like.index("Wink")] == pytest.approx(0.7)  # custom, case-insensitive
    assert out[godette_like.index("blinkLeft")] == pytest.approx(0.8)
    assert out[godette_like.index("neutral")] == pytest.approx(0.1)


def test_vrm0_preset_names_count_as_their_vrm1_names():
    mapping = ExpressionMap(["happy", "relaxed", "aa"], ["joy", "fun", "a"])
    assert mapping.missing == []
    assert mapping.slots.tolist() == [0, 1, 2]


def frame_with(**values: float) -> np.ndarray:
    frame = np.full(COUNT, 0.01, np.float32)
    for name, v in values.items():
        frame[INDEX[name]] = v
    return frame


def rules(frame: np.ndarray) -> dict[str, float]:
    out = rule_weights(frame, np.zeros(len(RULE_TARGETS), np.float32))
    return dict(zip(RULE_TARGETS, out.tolist(), strict=True))


def test_rules_give_a_character_life_before_training():
    smile = rules(frame_with(mouthSmileLeft=0.8, mouthSmileRight=0.8))
    assert smile["happy"] > 0.9 and smile["sad"] < 0.05 and smile["aa"] < 0.05
    wink = rules(frame_with(eyeBlinkLeft=0.9, eyeBlinkRight=0.05))
    assert wink["blinkLeft"] > 0.8 and wink["blink"] < 0.1 and wink["blinkRight"] == 0
    both = rules(frame_with(eyeBlinkLeft=0.9, eyeBlinkRight=0.85))
    assert both["blink"] > 0.8 and both["blinkLeft"] < 0.1
    open_mouth = rules(frame_with(jawOpen=0.7))
    assert open_mouth["aa"] > 0.8 and open_mouth["happy"] < 0.05
    assert all(0.0 <= v <= 1.0 for v in rules(np.ones(COUNT, np.float32)).values())


def test_rules_read_a_list_as_an_array_and_never_pass_on_a_nan():
    frame = frame_with(mouthSmileLeft=0.6, mouthSmileRight=0.4, jawOpen=0.3, eyeBlinkLeft=0.7)
    assert rules(frame.tolist()) == pytest.approx(rules(frame))
    frame[INDEX["jawOpen"]] = np.nan
    shown = rules(frame)
    assert shown["aa"] == 0.0 and shown["ih"] == 0.0 and shown["happy"] > 0.6


def rotation_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    m = np.array([[c, 0, s, 0], [0, 1, 0, 0], [-s, 0, c, -40], [0, 0, 0, 1.0]])
    return m.T.ravel().astype(np.float32)  # column-major, as MediaPipe gives it


def settle(pose: HeadPose, matrix: np.ndarray, frame: np.ndarray) -> np.ndarray:
    out = None
    for i in range(60):
        out = pose.step(matrix, frame, i / 30)
    return out.copy()


def test_head_yaw_comes_from_the_transformation_matrix():
    still = frame_with()
    assert np.allclose(settle(HeadPose(), rotation_y(0.0), still), 0, atol=1e-6)
    turned = settle(HeadPose(), rotation_y(0.35), still)
    assert turned[0] == pytest.approx(0.35, abs=0.01)
    assert abs(turned[1]) < 1e-3 and abs(turned[2]) < 1e-3
    mirrored = settle(HeadPose(mirror=True), rotation_y(0.35), still)
    assert mirrored[0] == pytest.approx(-0.35, abs=0.01)


def test_gaze_follows_the_eye_look_blendshapes():
    look_left = frame_with(eyeLookOutLeft=0.8, eyeLookInRight=0.8)
    look_up = frame_with(eyeLookUpLeft=0.6, eyeLookUpRight=0.6)
    left = settle(HeadPose(), rotation_y(0.0), look_left)
    up = settle(HeadPose(), rotation_y(0.0), look_up)
    assert left[3] > 0.2 and abs(left[4]) < 0.05
    assert up[4] > 0.1 and abs(up[3]) < 0.05


def test_pose_is_smoothed_against_jitter():
    pose = HeadPose()
    still = frame_with()
    rng = np.random.default_rng(0)
    outs = [pose.step(rotation_y(0.2 + rng.normal(0, 0.02)), still, i / 30)[0]
            for i in range(90)]
    assert np.std(outs[30:]) < 0.5 * 0.02


def test_arkit_morph_names_are_mediapipes_plus_the_tongue():
    assert len(ARKIT_MORPHS) == 52 and ARKIT_MORPHS[-1] == "tongueOut"
    assert ARKIT_MORPHS[:51] == NAMES[1:]
    mapping = MorphMap(ARKIT_MORPHS)
    assert mapping.sources.tolist() == list(range(1, COUNT))  # morph i takes weight i + 1


def test_the_built_in_avatar_carries_exactly_these_morphs():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import make_avatar

    assert make_avatar.ARKIT == ARKIT_MORPHS


def test_applying_a_map_leaves_the_slots_it_does_not_drive_alone():
    names = ["Body", *ARKIT_MORPHS]
    mapping = MorphMap(names)
    frame = np.linspace(0, 1, COUNT, dtype=np.float32)
    out = np.full(len(names), 7.0, np.float32)
    mapping.apply(frame, out)
    assert out[0] == 7.0 and out[names.index("tongueOut")] == 7.0
    assert np.array_equal(out[1:52], frame[1:])
    frame[INDEX["jawOpen"]] = 0.25  # the next frame: the same buffers, new values
    mapping.apply(frame, out)
    assert out[names.index("jawOpen")] == np.float32(0.25)
