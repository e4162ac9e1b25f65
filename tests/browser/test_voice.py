"""Lip sync from the microphone in Chromium: the fake microphone plays speech made by
Debian's espeak-ng (installed by scripts/test, like chromium), the fake camera a face."""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import harness

GUM_SPY = """(() => {
  window.__audioAsked = 0;
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => {
    if (c && c.audio) window.__audioAsked += 1;
    if (c && c.audio && window.__denyMic) {
      return Promise.reject(new DOMException("denied", "NotAllowedError"));
    }
    return real(c);
  };
})();"""


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory, tts) -> dict[str, Path]:
    """Sustained vowels and silence as 16-bit 48 kHz WAVs."""
    out = tmp_path_factory.mktemp("speech")
    files = {}
    for name, phoneme in (("aa", "A:"), ("ou", "u:")):
        raw = out / f"{name}-raw.wav"
        subprocess.run(["espeak-ng", "-s", "60", "-w", str(raw), f"[[{phoneme}]]"], check=True)
        files[name] = out / f"{name}.wav"
        # slowed down fourfold, the silence either side cut: the file loops as one vowel
        subprocess.run(["sox", str(raw), "-r", "48000", "-b", "16", str(files[name]),
                        "silence", "1", "0.02", "2%", "reverse", "silence", "1", "0.02", "2%",
                        "reverse", "tempo", "0.25"], check=True, capture_output=True)
    files["silence"] = out / "silence.wav"
    subprocess.run(["sox", "-n", "-r", "48000", "-b", "16", "-c", "1", str(files["silence"]),
                    "trim", "0", "3"], check=True)
    return files


@pytest.fixture(scope="module")
def words(tmp_path_factory: pytest.TempPathFactory, tts) -> Path:
    """A few short words with pauses between, then a second of silence."""
    said = tts.say("Papa. Bob. Mama. Pop.", pitch=45, speed=110)
    pause = np.zeros(tts.RATE, np.float32)
    return tts.write_wav(tmp_path_factory.mktemp("words") / "words.wav",
                            np.concatenate([said, pause]))


def listen(open_page, app_url, video, wav, deny: bool = False):
    p = open_page(app_url, video, wav=wav, init_script=GUM_SPY)
    harness.wait_ready(p.page)
    p.page.wait_for_function("window.mimicAvatar && mimicAvatar.input", timeout=30_000)
    if deny:
        p.page.evaluate("window.__denyMic = true")
    return p


def openings(page, seconds: float = 2.5) -> list[float]:
    values = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        values.append(page.evaluate("mimicApp.voice.opening"))
        time.sleep(0.05)
    return values


def test_microphone_is_opt_in_and_the_mouth_follows_the_voice(app_url, videos, open_page,
                                                              speech, artifacts):
    p = listen(open_page, app_url, videos["neutral1"], speech["aa"])
    page = p.page
    time.sleep(1)
    assert page.evaluate("window.__audioAsked") == 0, "the microphone was asked for at start"
    assert page.get_attribute("#btn-mic", "aria-pressed") == "false"
    page.click("#btn-mic")
    page.wait_for_function("document.getElementById('avatar').dataset.mic === 'on'")
    assert page.evaluate("window.__audioAsked") == 1
    assert page.text_content("#btn-mic") == "Listening"
    page.wait_for_function("mimicApp.voice.hops > 100", timeout=10_000)
    aa = openings(page)
    assert statistics.median(aa) > 0.5, aa
    page.wait_for_function("mimicAvatar.weightsNow().morphs.jawOpen > 0.3", timeout=5_000)
    page.locator("#avatar-box").screenshot(path=str(artifacts / "voice-aa.png"))
    page.click("#btn-mic")  # off again: the mouth goes back to the camera
    page.wait_for_function("document.getElementById('avatar').dataset.mic === 'off'")
    assert p.errors == []


def test_aa_opens_the_mouth_more_than_ou(app_url, videos, open_page, speech):
    p = listen(open_page, app_url, videos["neutral1"], speech["ou"])
    p.page.click("#btn-mic")
    p.page.wait_for_function("mimicApp.voice.hops > 100", timeout=10_000)
    ou = statistics.median(openings(p.page))
    assert 0.1 < ou < 0.5, ou
    shown = [p.page.evaluate("mimicApp.voice.viseme") for _ in range(10)]
    assert shown.count("ou") >= 7, shown
    # aa's opening is measured in the test above (> 0.5)


def older_takes(speech: dict[str, Path], tts, layout) -> list:
    """Takes of the fake microphone's own "aa" and "ou" and of silence, their voice features
    in `layout`, with a synthetic face's frames (one row per frame, as the recorder keeps)."""
    import wave

    from mimic.synthetic import SyntheticFace

    face, clips = SyntheticFace(5), []
    for label, name in (("aa", "aa"), ("ou", "ou"), ("neutral", "silence")):
        with wave.open(str(speech[name])) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        said = np.tile(pcm.astype(np.float32) / 32768.0, 2)  # the microphone loops it
        rows = tts.voice_features(said, layout)
        clip = face.clip(label, seconds=len(rows) / 100.0)
        clip.audio = rows[np.minimum((clip.timestamps * 100).astype(np.intp), len(rows) - 1)]
        clips.append(clip.validate())
    return clips


def test_a_voice_learned_from_takes_of_the_older_layout_still_moves_the_mouth(
        app_url, videos, open_page, speech, tts, tmp_path):
    """A model whose voice was learned from takes recorded before 2026-12 (five bands a
    frame) reads the microphone in its own layout, beside today's (what takes record)."""
    from mimic import modelfile
    from mimic.model import ExpressionModel
    from mimic.voice import LAYOUT_V1

    model = ExpressionModel(max_iter=30, augment=0.0).fit(older_takes(speech, tts, LAYOUT_V1))
    assert model.voice_.layout == LAYOUT_V1 and model.voice_.visemes_ == ["aa", "ou"]
    path = tmp_path / "older-voice.mimic"
    path.write_bytes(modelfile.dumps(model))
    p = listen(open_page, app_url, videos["neutral1"], speech["aa"])
    page = p.page
    page.click("#btn-mic")
    page.wait_for_function("mimicApp.voice.hops > 50", timeout=10_000)
    assert page.evaluate("mimicApp.voice.older") is None  # the default reads today's rows
    page.click("#tab-train")
    page.set_input_files("#import-model", str(path))
    page.wait_for_function("mimicApp.voice.learned && mimicApp.voice.older", timeout=20_000)
    assert page.evaluate("mimicApp.voice.older.layout.context") == 0
    assert "earlier Mimic" in page.get_attribute("#voice-kind", "title")
    hops = page.evaluate("mimicApp.voice.hops")
    page.wait_for_function(f"mimicApp.voice.hops > {hops + 100}", timeout=10_000)
    assert statistics.median(openings(page, 1.5)) > 0.3
    shown = []
    for _ in range(20):  # over a second: the whole loop of the vowel
        shown.append(page.evaluate("mimicApp.voice.viseme"))
        time.sleep(0.05)
    assert shown.count("aa") >= 15, shown
    assert page.evaluate("mimicApp.voice.latest.length") == 25  # takes record today's layout
    assert p.errors == []


def test_silence_keeps_the_mouth_shut_even_if_the_camera_sees_it_open(app_url, videos,
                                                                     open_page, speech):
    p = listen(open_page, app_url, videos["smile"], speech["silence"])
    page = p.page
    page.wait_for_function("mimicAvatar.weightsNow().morphs.mouthSmileLeft > 0.3")
    page.click("#btn-mic")
    page.wait_for_function("mimicApp.voice.hops > 100", timeout=10_000)
    jaw = [page.evaluate("mimicAvatar.weightsNow().morphs.jawOpen") for _ in range(20)]
    assert max(openings(page, 1.0)) == 0.0
    assert max(jaw) == 0.0, jaw
    assert page.evaluate("mimicAvatar.weightsNow().morphs.mouthSmileLeft") > 0.3  # the rest
    # of the face still follows the camera


def test_a_refused_microphone_is_explained_and_the_camera_carries_on(app_url, videos,
                                                                     open_page, speech):
    p = listen(open_page, app_url, videos["smile"], speech["aa"], deny=True)
    page = p.page
    page.click("#btn-mic")
    page.wait_for_function("!document.getElementById('mic-note').hidden", timeout=5_000)
    assert "microphone was blocked" in page.text_content("#mic-note")
    assert page.get_attribute("#btn-mic", "aria-pressed") == "false"
    before = page.evaluate("mimicBridge.stats.pythonFrames")
    time.sleep(1)
    assert page.evaluate("mimicBridge.stats.pythonFrames") > before + 5


SAMPLER = """() => {
  window.__said = [];
  window.__sampler = setInterval(() => {
    __said.push([performance.now(), mimicApp.voice.opening, mimicApp.voice.viseme]);
  }, 20);
}"""


def test_words_open_and_shut_the_mouth_syllable_by_syllable(app_url, videos, open_page, words):
    p = listen(open_page, app_url, videos["neutral1"], words)
    page = p.page
    page.click("#btn-mic")
    page.wait_for_function("mimicApp.voice.hops > 50", timeout=10_000)
    page.evaluate(SAMPLER)
    time.sleep(9)  # the file is about 5.7 s (four words, a second of silence) and loops
    said = page.evaluate("clearInterval(__sampler), __said")
    openings = [o for _, o, _ in said]
    shut, cycles = True, 0
    for o in openings:  # open past 0.3, then really shut (0) again: one syllable
        if shut and o > 0.3:
            shut = False
        elif not shut and o == 0.0:
            shut, cycles = True, cycles + 1
    assert cycles >= 4, openings
    assert len({v for _, _, v in said if v}) >= 2, said  # not one shape for every vowel
    assert p.errors == []
