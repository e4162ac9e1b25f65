"""Checks that need a fresh CPython process (skipped in the Pyodide run)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PREDICT_ONLY = """
import sys
import numpy as np
from mimic import modelfile
from mimic.pipeline import LivePipeline
model = modelfile.loads(open(sys.argv[1], "rb").read())
pipe = LivePipeline(model)
out = pipe.step(np.full(52, 0.1, np.float32), 0.0)
assert out.shape == (2 * len(model.targets_.names),)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("scipy", "sklearn"))
print(",".join(heavy) or "none")
"""


def test_loading_and_predicting_never_imports_scipy_or_sklearn(tmp_path):
    from mimic import modelfile
    from mimic.model import ExpressionModel
    from mimic.synthetic import make_dataset

    clips = make_dataset(people=1, sessions=1, takes=1, seconds=1.5, labels=["neutral", "happy"])
    path = tmp_path / "m.mimic"
    path.write_bytes(modelfile.dumps(ExpressionModel().fit(clips)))
    done = subprocess.run([sys.executable, "-c", PREDICT_ONLY, str(path)],
                          env={"PYTHONPATH": str(ROOT / "py")}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"


def test_storage_rules_let_only_the_owner_in():
    """storage.rules, read as text: one match for user/{uid}/**, owner-only read and write."""
    import re

    rules = (ROOT / "storage.rules").read_text()
    body = re.sub(r"//[^\n]*", "", rules)
    assert body.count("{") == body.count("}")
    assert "rules_version = '2';" in body
    assert "service firebase.storage" in body
    matches = re.findall(r"match\s+(\S+)\s*\{", body)
    assert matches == ["/b/{bucket}/o", "/user/{uid}/{allPaths=**}"]
    allows = re.findall(r"allow\s+([a-z, ]+):\s*if\s+([^;]+);", body)
    assert {a.strip() for a, _ in allows} == {"read", "write"}
    for _, condition in allows:
        assert "request.auth != null" in condition and "request.auth.uid == uid" in condition
    assert "if true" not in body


def test_firebase_json_points_at_the_rules_and_emulators():
    import json

    config = json.loads((ROOT / "firebase.json").read_text())
    assert config["storage"]["rules"] == "storage.rules"
    assert config["emulators"]["auth"]["port"] == 9099
    assert config["emulators"]["storage"]["port"] == 9199
