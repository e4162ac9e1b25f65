"""Voice features and the untrained voice-to-mouth mapping, on synthetic vowels."""

import numpy as np
import pytest

from mimic.model import ExpressionModel
from mimic.pipeline import LivePipeline
from mimic.postprocess import CleanupSettings
from mimic.synthetic import make_dataset
from mimic.voice import (
    LAYOUT,
    LAYOUT_V1,
    VISEMES,
    Layout,
    VoiceFeatures,
    VoiceMouth,
    fuse_mouth,
    mouth_opening,
)

RATE = 48000
# textbook formants (Peterson & Barney, adult male) of VRM's visemes, the Japanese vowels:
# ih = い as in "see" (IY), ee = え as in "bed" (EH)
FORMANTS = {"aa": (730, 1090, 2440), "ih": (270, 2290, 3010), "ou": (300, 870, 2240),
            "ee": (530, 1840, 2480), "oh": (570, 840, 2410)}


def vowel(name: str, seconds: float = 1.0, f0: float = 120.0, level: float = 0.3) -> np.ndarray:
    """A voiced vowel: harmonics of f0 shaped by the vowel's first three formants."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for k in range(1, int(4000 / f0)):
        f = k * f0
        amp = sum(np.exp(-0.5 * ((f - fi) / 90.0) ** 2) * (1.0, 0.8, 0.6)[i]
                  for i, fi in enumerate(FORMANTS[name])) + 0.02
        out += amp * np.sin(2 * np.pi * f * t + k)
    return (level * out / np.abs(out).max()).astype(np.float32)


def run(signal: np.ndarray, chunk: int = 480) -> np.ndarray:
    features, mouth = VoiceFeatures(RATE), VoiceMouth()
    out, rows = np.zeros(len(VISEMES), np.float32), []
    for i in range(0, len(signal), chunk):
        for row in features.rows[:features.push(signal[i:i + chunk])]:
            rows.append(mouth.step(row, out).copy())
    return np.array(rows)


def test_silence_and_room_noise_keep_the_mouth_shut():
    assert run(np.zeros(RATE, np.float32)).max() == 0.0
    hiss = (np.random.default_rng(0).normal(0, 0.001, RATE)).astype(np.float32)
    assert run(hiss).max() == 0.0


def test_vowels_pick_their_viseme_and_aa_opens_widest():
    """This crude synthetic voice (a man's pitch, textbook formants) is read by a mapping
    fitted on real speech: the corners aa and ih come out; the others are judged on
    real speech (test_lipsync_real.py) and espeak-ng's (the browser tests)."""
    opening = {}
    for name in FORMANTS:
        visemes = run(vowel(name))[30:]  # after the attack
        if name in ("aa", "ih"):
            assert VISEMES[int(visemes.mean(axis=0).argmax())] == name, (name, visemes.mean(0))
        opening[name] = np.median([mouth_opening(v) for v in visemes])
    assert opening["aa"] == max(opening.values()) and opening["aa"] > 0.7, opening
    assert opening["ih"] < 0.5, opening


def test_the_mouth_closes_soon_after_the_voice_stops():
    signal = np.concatenate([vowel("aa", 0.5), np.zeros(RATE // 2, np.float32)])
    rows = run(signal)
    assert rows[45].sum() > 0.5  # still talking at 0.45 s
    assert rows[50 + 6:].max() == 0.0  # shut 60 ms after the voice stopped: the pauses
    # between words are often 100-300 ms


def test_an_unsure_vowel_shows_an_open_neutral_mouth_and_a_sure_one_its_shape():
    from mimic.tfjs import DenseLayer

    loud = np.array([-18.0, 0, 0, 0, 0, 0], np.float32)  # full level
    out = np.zeros(5, np.float32)
    unsure = VoiceMouth(layers=[DenseLayer(np.zeros((5, 5), np.float32),
                                           np.zeros(5, np.float32), "softmax")])
    for _ in range(30):
        unsure.step(loud, out)
    assert np.allclose(out, out.mean()) and out.sum() > 0.9, out  # every shape a little
    sure = VoiceMouth(layers=[DenseLayer(np.zeros((5, 5), np.float32),
                                         np.array([6, 0, 0, 0, 0], np.float32), "softmax")])
    for _ in range(30):
        sure.step(loud, out)
    assert out[0] > 0.95 and out[1:].max() < 0.01, out


def test_chunks_of_any_size_give_the_same_features():
    signal = vowel("ee", 0.3)
    one = run(signal, chunk=480)
    odd = run(signal, chunk=137)
    assert np.allclose(one, odd[: len(one)], atol=1e-5)
    assert len(one) == len(signal) // 480


def test_fusing_the_voice_into_the_mouth():
    index = np.array([0, 2, 4], np.intp)  # the model's mouth outputs: aa, ou, oh
    silent, talking = np.zeros(5, np.float32), np.array([0.6, 0, 0.1, 0, 0.3], np.float32)
    camera = np.array([0.2, 0.3, 0.05], np.float32)
    for source, voice, want in (("camera", talking, camera), ("voice", talking, [0.6, 0.1, 0.3]),
                                ("both", silent, [0, 0, 0]), ("both", talking, [0.6, 0.3, 0.3])):
        mouth = camera.copy()
        fuse_mouth(mouth, voice, index, source)
        assert np.allclose(mouth, want), (source, mouth)


def test_the_live_pipeline_cleans_up_the_fused_mouth():
    clips = make_dataset(people=1, sessions=1, takes=1, seconds=1.0, seed=2,
                         labels=("neutral", "happy", "aa", "ou"))
    model = ExpressionModel(max_iter=30).fit(clips)
    pipe = LivePipeline(model)
    assert pipe.hears_voice
    aa = model.targets_.names.index("aa")
    frame = next(c for c in clips if c.labels == ("aa",)).frames[10]
    voice = np.zeros(5, np.float32)
    for i in range(30):  # the camera sees "aa", but the voice is silent: the mouth shuts
        out = pipe.step(frame, i / 30, voice, "both")
    assert out[aa] == 0.0 and pipe.clean[aa] == 0.0
    voice[VISEMES.index("aa")] = 0.9
    for i in range(30, 60):
        pipe.step(frame, i / 30, voice, "voice")
    assert pipe.clean[aa] > 0.5
    # the model's own choice when none is given: from the camera, the voice is not heard
    pipe.cleanup.settings = CleanupSettings(mouth_source="camera")
    voice[:] = 0.0
    for i in range(60, 90):
        pipe.step(frame, i / 30, voice)
    assert pipe.clean[aa] > 0.5


def test_the_mouth_source_is_a_clean_up_setting_kept_with_the_model():
    settings = CleanupSettings.from_dict({"mouth_source": "voice"})
    assert settings.to_dict()["mouth_source"] == "voice"
    assert CleanupSettings().mouth_source == "both"
    with pytest.raises(ValueError, match="mouth_source must be one of both, voice, camera"):
        CleanupSettings(mouth_source="lips")


def reference_hop(signal: np.ndarray, end: int, layout: Layout) -> np.ndarray:
    """A hop's own level and band shapes computed plainly: the 512 samples up to `end`,
    windowed, rfft (nothing heard before the signal starts: -100 dB, flat)."""
    if end <= 0:
        return layout.silent()[:1 + len(layout.bands)]
    frame = np.zeros(512)
    got = signal[max(0, end - 512):end]
    frame[512 - len(got):] = got
    level = 10 * np.log10(np.mean(frame ** 2) + 1e-10)
    freqs = np.fft.rfftfreq(512, 1 / RATE)
    power = np.abs(np.fft.rfft(frame * np.hanning(512))) ** 2
    bands = np.log10([power[(freqs >= lo) & (freqs < hi)].mean() + 1e-12
                      for lo, hi in layout.bands])
    return np.array([level, *(bands - bands.mean())])


def reference_features(signal: np.ndarray, end: int, layout: Layout = LAYOUT) -> np.ndarray:
    """A hop's row: its own level and band shapes, then the shapes of the hops before it."""
    before = [reference_hop(signal, end - 480 * k, layout)[1:]
              for k in range(1, layout.context + 1)]
    return np.concatenate([reference_hop(signal, end, layout), *before])


@pytest.mark.parametrize("layout", [LAYOUT, LAYOUT_V1], ids=["today", "before 2026-12"])
def test_each_hop_reads_its_last_512_samples_however_they_arrive(layout):
    rise = np.linspace(0, 1, int(0.3 * RATE), dtype=np.float32)
    signal = vowel("oh", 0.3) + vowel("ee", 0.3, f0=200.0) * rise
    features = VoiceFeatures(RATE, layout=layout)
    got, at = [], 0
    for size in (100, 2000, 480, 7, 1500, 3000, 5000):  # camera frames come unevenly
        hops = features.push(signal[at:at + size])
        got.extend(features.rows[:hops].copy())
        at += size
    assert len(got) == at // 480 and len(got[0]) == layout.width
    for k, row in enumerate(got):
        assert np.allclose(row, reference_features(signal, 480 * (k + 1), layout),
                           atol=2e-3), k


def test_after_a_stall_the_newest_hops_are_kept():
    signal = vowel("aa", 0.3)
    features = VoiceFeatures(RATE, max_hops=16)
    assert features.push(signal[:480 * 20]) == 16
    assert np.allclose(features.rows[15], reference_features(signal, 480 * 20), atol=2e-3)
