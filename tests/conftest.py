"""Shared test set-up: make the repository's py/ and scripts/ importable."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for sub in ("py", "scripts"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))
