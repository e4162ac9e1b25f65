"""A model trained on takes of a synthetic voice (espeak-ng speech) reads a held-out take of
that voice better than the untrained mapping. Native only: it runs espeak-ng and sox."""

from mimic.crossval import cross_validate
from mimic.model import ExpressionModel
from mimic.voice import VISEMES


def test_the_learned_voice_beats_the_untrained_mapping_on_held_out_takes(tts):
    # two takes of one voice: another pitch and pace, as nobody says a vowel twice alike
    clips = tts.spoken_takes()
    report = cross_validate(clips, lambda: ExpressionModel(max_iter=60, augment=0.0))
    scores = report.voice
    assert len(scores["takes"]) == 10 and scores["visemes"] == list(VISEMES)
    learned, untrained = scores["voice"]["macro_f1"], scores["untrained"]["macro_f1"]
    # the default was fitted with espeak-ng's vowels at other pitches besides real speech,
    # so it reads this voice well too (0.96); learning it still reads it better
    assert learned >= 0.95 and learned > untrained, scores
    worst = min(t["voice"] for t in scores["takes"])
    assert worst >= 0.6, scores["takes"]
