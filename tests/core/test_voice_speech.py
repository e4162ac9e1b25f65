"""A model trained on takes of a synthetic voice (espeak-ng speech) reads a held-out take of
that voice better than the untrained mapping. Native only: it runs espeak-ng and sox."""

import numpy as np
import pytest

import speech
from mimic.crossval import cross_validate
from mimic.model import ExpressionModel
from mimic.synthetic import SyntheticFace
from mimic.voice import VISEMES

from .test_voicemodel import features, take

# Two takes of one voice: another pitch and pace, as a person never says a vowel twice alike.
TAKES = ((50, 80), (38, 105))


@pytest.fixture(scope="module")
def spoken_takes():
    try:
        speech.require()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    face, clips = SyntheticFace(3), []
    rng = np.random.default_rng(0)
    for k, (pitch, speed) in enumerate(TAKES):
        for name in VISEMES:
            said = speech.vowels(name, pitch, speed)
            said = said + rng.normal(0, 3e-4, len(said)).astype(np.float32)  # the room
            clips.append(take(face, name, features(said), session=k))
        quiet = rng.normal(0, 3e-4, speech.RATE * 2).astype(np.float32)
        clips.append(take(face, "neutral", features(quiet), session=k))
    return clips


def test_the_learned_voice_beats_the_untrained_mapping_on_held_out_takes(spoken_takes):
    report = cross_validate(spoken_takes, lambda: ExpressionModel(max_iter=60, augment=0.0))
    scores = report.voice
    assert len(scores["takes"]) == 10 and scores["visemes"] == list(VISEMES)
    learned, untrained = scores["voice"]["macro_f1"], scores["untrained"]["macro_f1"]
    assert learned >= 0.85 and learned > untrained + 0.05, scores
    worst = min(t["voice"] for t in scores["takes"])
    assert worst >= 0.6, scores["takes"]
