"""Learning the user's voice in Chromium: takes recorded with the microphone on keep the
voice's features (never sound), training learns the voice and reports it beside the default
mapping and the camera, the live mouth then follows the learned voice, and the mouth's
source is kept with the model across a reload. Speech is espeak-ng's (scripts/speech.py)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from test_voice import SAMPLER, listen

from mimic.clips import dump_clips, load_clips
from mimic.voice import FEATURES, VISEMES

# Everything the app stored, by store: each record's binary size and its largest binary.
STORED = """async () => {
  const db = await new Promise((ok, bad) => {
    const r = indexedDB.open('mimic'); r.onsuccess = () => ok(r.result); r.onerror = bad; });
  const size = (v) => {
    if (v instanceof ArrayBuffer) return [v.byteLength, v.byteLength];
    if (ArrayBuffer.isView(v)) return [v.byteLength, v.byteLength];
    if (v instanceof Blob) return [v.size, v.size];
    if (typeof v === 'string') return [v.length, 0];
    if (v && typeof v === 'object') {
      let total = 0, big = 0;
      for (const x of Object.values(v)) {
        const [t, b] = size(x); total += t; big = Math.max(big, b);
      }
      return [total, big];
    }
    return [0, 0];
  };
  const out = {};
  for (const name of db.objectStoreNames) {
    const rows = await new Promise((ok, bad) => {
      const r = db.transaction(name).objectStore(name).getAll();
      r.onsuccess = () => ok(r.result); r.onerror = bad; });
    out[name] = rows.map(size);
  }
  db.close();
  return out;
}"""


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory, tts) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("voice")
    # a held-out take of the same voice at a third pitch: the five vowels in turn, a pause
    # after each
    pause = np.zeros(int(0.7 * tts.RATE), np.float32)
    said = np.concatenate([part for v in VISEMES
                           for part in (tts.vowels(v, pitch=44, speed=90, times=4), pause)])
    # "aa" with espeak's trailing silence cut, so that the looping file is voice throughout
    # and any 2 s take of it hears the voice (with the silence, about a quarter of the loop,
    # a take could start in it and hear the voice in fewer than half its frames)
    aa = tts.vowels("aa", times=12)
    heard = np.flatnonzero(np.abs(aa) > 1e-3)
    return {"five": tts.write_wav(out / "five.wav", said),
            "aa": tts.write_wav(out / "aa.wav", aa[heard[0]:heard[-1]]),
            "takes": out / "takes.mimicclips"}


def vowels_heard(page, seconds: float = 17.0) -> list[str]:
    """The viseme shown most in each stretch of speech the microphone played, in order
    (stretches are told apart by 0.3 s of shut mouth; the first, maybe cut, is dropped)."""
    page.evaluate(SAMPLER)
    time.sleep(seconds)
    said = page.evaluate("clearInterval(__sampler), __said")
    runs, current, shut_since = [], [], None
    for t, _, viseme in said:
        if viseme:
            if current and shut_since is not None and t - shut_since >= 300:
                runs.append(current)  # 0.3 s shut before this: a new stretch
                current = []
            current.append((t, viseme))
            shut_since = None
        elif shut_since is None:
            shut_since = t
    runs.append(current)
    long = [[v for _, v in r] for r in runs if r and r[-1][0] - r[0][0] >= 400]
    return [max(set(r), key=r.count) for r in long][1:6]


def in_order(heard: list[str]) -> int:
    """How many of the stretches read as the vowel the file said there (it loops, so the
    first stretch heard may be any of the five)."""
    return max(sum(h == VISEMES[(k + i) % 5] for i, h in enumerate(heard)) for k in range(5))


def stored_bytes(page) -> dict[str, list[list[int]]]:
    return page.evaluate(STORED)


def test_a_take_recorded_with_the_microphone_keeps_features_not_sound(app_url, videos,
                                                                      open_page, voice,
                                                                      tmp_path, artifacts):
    p = listen(open_page, app_url, videos["neutral1"], voice["aa"])
    page = p.page
    page.wait_for_function("document.body.dataset.restored === 'true'")
    page.fill("#rec-seconds", "2")
    page.click("#btn-mic")
    page.wait_for_function("mimicApp.voice.hops > 50", timeout=10_000)
    assert "never the sound" in page.text_content("#rec-voice-note")
    assert page.locator("#rec-voice-note").is_visible()
    page.click('button[data-record="aa"]')
    page.wait_for_function("document.querySelectorAll('#clip-list li').length === 1",
                           timeout=20_000)
    item = page.locator("#clip-list li").first
    assert item.get_attribute("data-voice") == "true" and "voice" in item.text_content()

    with page.expect_download() as dl:
        page.click("#btn-export-clips")
    exported = tmp_path / "clips.mimicclips"
    dl.value.save_as(exported)
    page.screenshot(path=str(artifacts / "voice-record.png"))
    (clip,) = load_clips(exported.read_bytes())
    n = len(clip.frames)
    assert clip.audio.shape == (n, FEATURES) and n >= 20
    assert (clip.audio[:, 0] > -40).mean() > 0.5, clip.audio[:, 0]  # it heard the voice
    # two seconds of sound would be 96,000 samples (192 KB as 16-bit): the file holds the
    # frames, their times and 25 numbers a frame, nothing else
    size = exported.stat().st_size
    assert size == len(dump_clips([clip])) < n * (52 * 4 + 8 + FEATURES * 4) + 600

    stored = stored_bytes(page)
    (clip_row,) = stored["clips"]
    assert clip_row[1] == len(clip.to_bytes()), stored  # the clip as its own file, no more
    everything = sum(total for rows in stored.values() for total, _ in rows)
    assert everything < 40_000, stored
    assert p.errors == []


def test_training_learns_the_voice_and_the_live_mouth_follows_it(app_url, videos, open_page,
                                                                 voice, artifacts, tts):
    voice["takes"].write_bytes(dump_clips(tts.spoken_takes()))
    p = listen(open_page, app_url, videos["neutral1"], voice["five"])
    page = p.page
    page.wait_for_function("document.body.dataset.restored === 'true'")
    # before training: the default mapping reads the five vowels from the microphone
    page.click("#btn-mic")
    page.wait_for_function("mimicApp.voice.hops > 50", timeout=10_000)
    default = vowels_heard(page)
    page.click("#btn-mic")
    page.set_input_files("#import-clips", str(voice["takes"]))
    page.wait_for_function("document.querySelectorAll('#clip-list li[data-voice]').length "
                           "=== 12", timeout=20_000)
    page.click("#tab-train")
    page.click("#btn-train")
    page.wait_for_function("['done', 'failed'].includes(document.body.dataset.training)",
                           timeout=180_000)
    assert page.evaluate("document.body.dataset.training") == "done"
    text = page.text_content("#eval-voice")
    assert page.locator("#eval-voice").is_visible(), text
    shares = {name: int(v) for name, v in re.findall(
        r"(your learned voice|the default voice mapping|the camera) (\d+)%", text)}
    assert shares["your learned voice"] > shares["the default voice mapping"], text
    assert shares["your learned voice"] >= 85, text
    page.screenshot(path=str(artifacts / "voice-train-report.png"))

    # Live: the learned voice moves the mouth; the microphone plays a take it never heard.
    page.click("#btn-mic")
    page.wait_for_function("mimicApp.voice.hops > 100", timeout=10_000)
    assert page.evaluate("mimicApp.voice.learned") is True
    assert page.text_content("#voice-kind") == "your voice"
    page.screenshot(path=str(artifacts / "voice-live-learned.png"))
    learned = vowels_heard(page)
    assert len(learned) == 5 and len(default) == 5, (learned, default)
    assert in_order(learned) >= 4 and in_order(learned) >= in_order(default), (learned, default)

    # The mouth's source is the model's: chosen here, still chosen after a reload.
    page.select_option("#mouth-source", "voice")
    time.sleep(0.5)
    page.reload()
    page.wait_for_function("document.body.dataset.restored === 'true'", timeout=90_000)
    page.wait_for_function("mimicApp.voice.source === 'voice'", timeout=10_000)
    page.click("#btn-mic")
    page.wait_for_function("document.getElementById('avatar').dataset.mic === 'on'")
    assert page.input_value("#mouth-source") == "voice"
    assert p.errors == []
