"""Speech for tests and benchmarks, made by Debian's espeak-ng (resampled by sox).

A synthetic voice stands in for a user's: the same vowels said at another pitch and speed
are "another take" of that voice. Both tools are installed by scripts/test and .ci/run.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

RATE = 48000
MIC_RATE = 12000  # what the page's audio context runs at (web/mic.js)
# espeak-ng phonemes for the five visemes (Kirshenbaum notation, inside [[ ]])
PHONEMES = {"aa": "A:", "ih": "i:", "ou": "u:", "ee": "E", "oh": "O:"}


def require() -> None:
    """Fail with what to install when espeak-ng or sox is missing."""
    for tool in ("espeak-ng", "sox"):
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} is missing: scripts/test installs it "
                               f"(apt-get install {tool})")


def say(text: str, pitch: int = 50, speed: int = 80, voice: str = "en") -> np.ndarray:
    """`text` (words, or phonemes inside [[ ]]) as float32 samples at 48 kHz."""
    raw = subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed),
                          "--stdout", text], capture_output=True, check=True).stdout
    out = subprocess.run(["sox", "-t", "wav", "-", "-r", str(RATE), "-b", "16", "-t", "wav",
                          "-"], input=raw, capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(out)) as w:
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0


def vowels(name: str, pitch: int = 50, speed: int = 80, times: int = 3) -> np.ndarray:
    """A viseme's vowel said `times` times, with espeak's pauses between."""
    phoneme = PHONEMES[name]
    return say(f"[[{phoneme * times}]]", pitch, speed)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """16-bit mono WAV at 48 kHz, as Chromium's fake microphone plays it."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def voice_features(samples: np.ndarray, layout=None) -> np.ndarray:
    """The voice's features hop by hop (100 a second), as the page computes them: the page
    hears the microphone at 12 kHz (web/mic.js), so the 48 kHz speech is resampled first.
    `layout`: a `mimic.voice.Layout` other than today's."""
    from scipy.signal import resample_poly

    from mimic.voice import LAYOUT, VoiceFeatures

    heard = resample_poly(samples, 1, RATE // MIC_RATE).astype(np.float32)
    extractor = VoiceFeatures(MIC_RATE, max_hops=len(heard) // (MIC_RATE // 100) + 1,
                              layout=layout or LAYOUT)
    return extractor.rows[:extractor.push(heard)].copy()


def spoken_takes(takes: tuple[tuple[int, int], ...] = ((50, 80), (38, 105)),
                 seed: int = 3, layout=None) -> list:
    """Takes of the five visemes said by one synthetic voice (one take per (pitch, speed)),
    and a quiet neutral take each time, with a synthetic face's camera frames; each frame
    keeps the voice's latest hop, as the studio's recorder does (in `layout`, by default
    today's)."""
    from mimic.synthetic import SyntheticFace
    from mimic.voice import VISEMES

    face, clips = SyntheticFace(seed), []
    rng = np.random.default_rng(seed)
    for session, (pitch, speed) in enumerate(takes):
        for label in (*VISEMES, "neutral"):
            said = vowels(label, pitch, speed) if label != "neutral" else np.zeros(2 * RATE)
            said = (said + rng.normal(0, 3e-4, len(said))).astype(np.float32)  # the room
            rows = voice_features(said, layout)
            clip = face.clip(label, seconds=len(rows) / 100.0, session=session)
            clip.audio = rows[np.minimum((clip.timestamps * 100).astype(np.intp), len(rows) - 1)]
            clips.append(clip.validate())
    return clips
