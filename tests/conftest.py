"""Shared test set-up: make the repository's root, py/ and scripts/ importable, and the
speech tools for the voice tests."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "py", ROOT / "scripts"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@pytest.fixture(scope="session")
def tts():
    """scripts/speech.py (espeak-ng speech), or a failure saying what to install."""
    import speech

    try:
        speech.require()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    return speech
