"""The synthetic generator stands in for real users in every core test, so its realism is tested."""

import time

import numpy as np
import pytest

from mimic.blendshapes import COUNT, INDEX, REGIONS
from mimic.clips import Clip
from mimic.synthetic import DEFAULT_COMBOS, PROTOTYPES, SyntheticFace, make_dataset
from mimic.targets import EXPRESSIONS, EYES, MOUTH


def channel(clip: Clip, name: str) -> np.ndarray:
    return clip.frames[:, INDEX[name]]


def held(clip: Clip) -> np.ndarray:
    """The middle half of a take, where the target is fully shown."""
    n = len(clip.frames)
    return clip.frames[n // 4: 3 * n // 4]


def test_clip_shape_and_validity():
    clip = SyntheticFace(1).clip(("happy", "aa"), seconds=2.0, session=1)
    assert isinstance(clip, Clip)
    assert clip.labels == ("happy", "aa")
    assert clip.frames.dtype == np.float32 and clip.frames.shape[1] == COUNT
    assert clip.timestamps.dtype == np.float64 and clip.timestamps[0] == 0.0
    assert clip.timestamps[-1] == pytest.approx(2.0, abs=0.15)
    assert clip.session_id == "synthetic-1-s1"
    assert clip.validate() is clip
    assert Clip.from_bytes(clip.to_bytes()) == clip


def test_values_in_range_and_never_exactly_zero():
    for clip in make_dataset(sessions=2, takes=1, seed=3):
        assert clip.frames.min() > 0.0
        assert clip.frames.max() <= 1.0
    face = SyntheticFace(2)
    idle = face.rest + face.session_offset(0)[0] == 0
    idle[REGIONS["eyes"]] = False  # gaze and blinks move these
    idle[0] = False
    assert idle.sum() > 20
    levels = np.median(face.clip("neutral", seconds=3.0).frames[:, idle], axis=0)
    assert (levels > 0.0005).all() and (levels < 0.03).all()
    assert levels.std() > 0.001  # each channel has its own noise floor


def test_timing_jitter_between_24_and_30_fps():
    clip = SyntheticFace(0).clip("sad", seconds=5.0, fps=30.0)
    steps = np.diff(clip.timestamps)
    assert steps.min() >= 1 / 30 - 1e-12
    assert steps.max() <= 1 / 24 + 1e-12
    assert steps.std() > 0.001
    assert 24.0 <= clip.fps <= 30.0
    assert clip.fps == pytest.approx((len(steps)) / clip.timestamps[-1])


def test_neutral_channel_near_zero_unless_resting():
    face = SyntheticFace(4)
    for label in ("happy", "surprised", "aa"):
        assert np.median(held(face.clip(label))[:, 0]) < 0.005, label
    assert np.median(face.clip("neutral").frames[:, 0]) > np.median(held(face.clip("happy"))[:, 0])


@pytest.mark.parametrize("label, strong", [
    ("happy", ("mouthSmileLeft", "mouthSmileRight", "cheekSquintLeft", "cheekSquintRight")),
    ("sad", ("mouthFrownLeft", "mouthFrownRight", "browInnerUp")),
    ("angry", ("browDownLeft", "browDownRight", "noseSneerLeft", "noseSneerRight")),
    ("surprised", ("browInnerUp", "browOuterUpLeft", "eyeWideLeft", "eyeWideRight", "jawOpen")),
    ("aa", ("jawOpen",)),
    ("ou", ("mouthPucker", "mouthFunnel")),
    ("oh", ("jawOpen", "mouthFunnel")),
    ("ih", ("mouthStretchLeft", "mouthStretchRight")),
    ("ee", ("mouthStretchLeft", "mouthStretchRight")),
    ("blink", ("eyeBlinkLeft", "eyeBlinkRight")),
    ("blinkLeft", ("eyeBlinkLeft",)),
    ("blinkRight", ("eyeBlinkRight",)),
])
def test_prototypes_drive_their_channels(label, strong):
    face = SyntheticFace(5)
    clip, rest = face.clip(label), face.clip("neutral")
    for name in strong:
        shown = np.median(held(clip)[:, INDEX[name]])
        resting = np.median(held(rest)[:, INDEX[name]])
        assert shown > resting + 0.3 * PROTOTYPES[label][name], (label, name, shown, resting)


def test_visemes_differ_in_jaw_opening():
    face = SyntheticFace(6)
    jaw = {v: np.mean([np.median(held(face.clip(v))[:, INDEX["jawOpen"]]) for _ in range(4)])
           for v in MOUTH}
    assert jaw["aa"] > jaw["oh"] > max(jaw["ih"], jaw["ee"], jaw["ou"])
    assert jaw["aa"] > 2 * jaw["ou"]


def test_one_eyed_blinks_are_one_eyed():
    face = SyntheticFace(7)
    left = np.median(held(face.clip("blinkLeft")), axis=0)
    assert left[INDEX["eyeBlinkLeft"]] > left[INDEX["eyeBlinkRight"]] + 0.15
    right = np.median(held(face.clip("blinkRight")), axis=0)
    assert right[INDEX["eyeBlinkRight"]] > right[INDEX["eyeBlinkLeft"]] + 0.15


def test_ee_is_a_spread_smile():
    face = SyntheticFace(5)
    ee, ou = np.median(held(face.clip("ee")), axis=0), np.median(held(face.clip("ou")), axis=0)
    for name in ("mouthSmileLeft", "mouthSmileRight"):
        assert ee[INDEX[name]] > ou[INDEX[name]] + 0.08


def test_prototypes_are_sparse_and_regional():
    for label, proto in PROTOTYPES.items():
        assert len(proto) <= 12, label
        assert all(0 < w <= 1 for w in proto.values()), label
    face = SyntheticFace(8)
    brows_eyes = set(REGIONS["brows"].tolist()) | set(REGIONS["eyes"].tolist())
    assert not set(np.flatnonzero(face.prototype("aa") > 0.01).tolist()) & brows_eyes
    assert set(np.flatnonzero(face.prototype("blink") > 0.01).tolist()) <= (
        brows_eyes | set(REGIONS["cheeks"].tolist()))


def test_people_differ():
    a, b = SyntheticFace(0), SyntheticFace(1)
    labels = ("happy", "sad", "aa", "blink")
    pa = np.concatenate([a.prototype(label) for label in labels])
    pb = np.concatenate([b.prototype(label) for label in labels])
    assert np.abs(pa - pb).max() > 0.1
    assert np.abs(a.rest - b.rest).max() > 0.02
    assert a.prototype("happy")[INDEX["mouthSmileLeft"]] > 0.5  # but both still smile


def test_intensity_ramps_in_and_out():
    face = SyntheticFace(9)
    for _ in range(5):
        smile = channel(face.clip("happy", seconds=3.0), "mouthSmileLeft")
        peak = smile.max()
        assert smile[0] < 0.25 * peak
        assert smile[-1] < 0.35 * peak
        assert np.median(smile[len(smile) // 3: 2 * len(smile) // 3]) > 0.6 * peak


def test_spontaneous_blinks_in_every_clip():
    face = SyntheticFace(10)
    for label in ("neutral", "happy", "aa", "surprised"):
        for _ in range(4):
            blink = channel(face.clip(label, seconds=1.5), "eyeBlinkLeft")
            assert blink.max() - np.median(blink) > 0.2, label


def test_session_offsets():
    face = SyntheticFace(11)
    offsets = [face.session_offset(s)[0] for s in range(4)]
    for off in offsets:
        assert np.count_nonzero(off) == 8
        assert np.abs(off[off != 0]).min() >= 0.03 and np.abs(off).max() <= 0.1
        assert off[0] == 0.0
    assert not np.array_equal(offsets[0], offsets[1])
    # Same session: takes agree on the idle mouth/brow/nose channels; another session is shifted.
    calm = np.concatenate([REGIONS[r] for r in ("mouth", "brows", "nose", "jaw", "cheeks")])
    means = {s: [face.clip("neutral", session=s).frames[:, calm].mean(0) for _ in range(3)]
             for s in (0, 1)}
    within = max(np.abs(means[s][0] - means[s][i]).max() for s in (0, 1) for i in (1, 2))
    across = np.abs(np.mean(means[0], 0) - np.mean(means[1], 0)).max()
    assert within < 0.02
    assert across > 0.025
    assert across > 3 * within


def nearest_centroid_accuracy(train, test, classes):
    cents = np.stack([np.concatenate([c.frames for c in train if c.labels[0] == k]).mean(0)
                      for k in classes])
    hits = []
    for clip in test:
        d = ((clip.frames[:, None, :] - cents[None]) ** 2).sum(-1)
        hits.append(d.argmin(1) == classes.index(clip.labels[0]))
    return float(np.concatenate(hits).mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_happy_and_sad_are_separable_across_sessions(seed):
    clips = make_dataset(sessions=3, takes=3, seed=seed, labels=["happy", "sad"])
    train = [c for c in clips if not c.session_id.endswith("s2")]
    test = [c for c in clips if c.session_id.endswith("s2")]
    assert nearest_centroid_accuracy(train, test, ["happy", "sad"]) > 0.85


def test_expressions_separable_but_relaxed_close_to_happy():
    clips = make_dataset(sessions=3, takes=2, seed=4, labels=EXPRESSIONS)
    train = [c for c in clips if not c.session_id.endswith("s2")]
    test = [c for c in clips if c.session_id.endswith("s2")]
    assert nearest_centroid_accuracy(train, test, list(EXPRESSIONS)) > 0.75
    cents = {e: np.concatenate([held(c) for c in clips if c.labels == (e,)]).mean(0)
             for e in EXPRESSIONS}
    dist = {e: np.linalg.norm(cents["happy"] - cents[e]) for e in EXPRESSIONS if e != "happy"}
    assert min(dist, key=dist.get) == "relaxed"


def test_combined_labels_superpose():
    face = SyntheticFace(12)
    both = np.median(held(face.clip(("happy", "aa"))), axis=0)
    happy = np.median(held(face.clip("happy")), axis=0)
    aa = np.median(held(face.clip("aa")), axis=0)
    assert both[INDEX["jawOpen"]] > happy[INDEX["jawOpen"]] + 0.2
    assert both[INDEX["mouthSmileLeft"]] > aa[INDEX["mouthSmileLeft"]] + 0.3
    assert both[INDEX["cheekSquintRight"]] > aa[INDEX["cheekSquintRight"]] + 0.15


def test_custom_label_gets_a_stable_regional_prototype():
    a, b = SyntheticFace(13), SyntheticFace(13)
    proto = a.prototype("tongue out")
    assert np.array_equal(proto, b.prototype("tongue out"))
    main = np.flatnonzero(proto > 0.15)
    assert 2 <= len(main) <= 5
    regions = {r for r, idx in REGIONS.items() if set(main.tolist()) <= set(idx.tolist())}
    assert len(regions) == 1
    clip = a.clip("tongue out")
    assert clip.labels == ("tongue out",)
    assert np.median(held(clip)[:, main].max(1)) > 0.2


def test_labels_are_canonicalised_and_checked():
    face = SyntheticFace(0)
    assert face.clip(("joy", "a"), seconds=0.5).labels == ("happy", "aa")
    with pytest.raises(ValueError, match="one expression"):
        face.clip(("happy", "sad"))
    with pytest.raises(ValueError, match="must not be empty"):
        face.clip("  ")


def test_deterministic():
    a, b = SyntheticFace(21), SyntheticFace(21)
    for labels in (("happy",), ("sad", "ou"), ("blink",)):
        assert a.clip(labels, session=2) == b.clip(labels, session=2)
    assert SyntheticFace(21).clip("happy") != SyntheticFace(22).clip("happy")
    first, second = make_dataset(seed=5), make_dataset(seed=5)
    assert first == second
    assert make_dataset(seed=6)[0] != first[0]
    # People and sessions do not depend on what was generated before.
    fresh = SyntheticFace(21)
    fresh.clip("angry", session=7)
    assert np.array_equal(fresh.session_offset(2)[0], SyntheticFace(21).session_offset(2)[0])
    assert np.array_equal(fresh.prototype("sad"), a.prototype("sad"))


def test_takes_differ():
    face = SyntheticFace(30)
    one, two = face.clip("happy"), face.clip("happy")
    assert one.take_id != two.take_id
    assert not np.array_equal(one.frames[:5], two.frames[:5])
    assert one.created_at < two.created_at


def test_default_dataset_contents():
    clips = make_dataset()
    label_sets = {c.labels for c in clips}
    expected = {(x,) for x in (*EXPRESSIONS, *MOUTH, *EYES)} | set(DEFAULT_COMBOS)
    assert label_sets == expected
    assert len(clips) == len(expected) * 3 * 2
    assert {c.session_id for c in clips} == {"synthetic-0-s0", "synthetic-0-s1", "synthetic-0-s2"}
    assert len({c.take_id for c in clips}) == len(clips)


def test_dataset_people_and_labels():
    clips = make_dataset(people=2, sessions=1, takes=1, seconds=1.0, seed=1,
                         labels=["happy", ("sad", "oh"), "wink"])
    assert [c.labels for c in clips] == [("happy",), ("sad", "oh"), ("wink",)] * 2
    assert {c.session_id for c in clips} == {"synthetic-1000-s0", "synthetic-1001-s0"}
    assert all(len(c.frames) == pytest.approx(27, abs=2) for c in clips)


def test_fast():
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        clips = make_dataset(sessions=1, takes=3, seconds=3.5, seed=2)
        best = min(best, time.perf_counter() - start)
    assert sum(len(c.frames) for c in clips) >= 5000
    assert best < 0.1, f"{best * 1000:.0f} ms"
