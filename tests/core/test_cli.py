"""`python -m mimic`: the native workflow end to end, in a real subprocess."""

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from mimic import modelfile
from mimic.blendshapes import ARKIT_NAMES
from mimic.clips import Clip

ROOT = Path(__file__).resolve().parents[2]


def mimic(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT / "py"), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "mimic", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def livelink_csv(rows: int = 40, smile: float = 0.8) -> str:
    names = [n for n in ARKIT_NAMES if n] + ["TongueOut"]
    head = ["Timecode", "BlendshapeCount", *names,
            *(f"{p}{a}" for p in ("Head", "LeftEye", "RightEye") for a in ("Yaw", "Pitch", "Roll"))]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(head)
    for i in range(rows):
        values = [0.01] * len(names)
        values[names.index("MouthSmileLeft")] = smile
        writer.writerow([f"10:00:{i // 30:02d}:{i % 30:02d}.000", 61, *values, *([0.0] * 9)])
    return out.getvalue()


def test_synth_train_evaluate_predict(tmp_path):
    assert mimic("synth", "-o", "clips", "--sessions", "2", cwd=tmp_path).returncode == 0
    clips = sorted((tmp_path / "clips").glob("*.json"))
    assert len(clips) > 30
    done = mimic("train", *map(str, clips), "-o", "face.mimic", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "expression accuracy" in done.stdout and "wrote face.mimic" in done.stdout
    model = modelfile.loads((tmp_path / "face.mimic").read_bytes())
    assert "happy" in model.targets_.names
    header, _ = modelfile.unpack((tmp_path / "face.mimic").read_bytes())
    assert header["report"]["expression_accuracy"] > 0.9

    scored = mimic("evaluate", "face.mimic", *map(str, clips[:12]), cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert "expression accuracy" in scored.stdout

    happy = next(c for c in clips if c.name.endswith("-happy.json"))
    out = mimic("predict", "face.mimic", str(happy), "--clean", "-o", "w.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader((tmp_path / "w.csv").open()))
    assert len(rows) == len(Clip.from_json(happy.read_text()).frames)
    assert float(rows[-1]["happy"]) > 0.5 and float(rows[-1]["sad"]) == 0.0


def test_import_livelink_then_train_on_it(tmp_path):
    (tmp_path / "smile.csv").write_text(livelink_csv(smile=0.8))
    (tmp_path / "rest.csv").write_text(livelink_csv(smile=0.02))
    for name, label in (("smile", "happy"), ("rest", "neutral")):
        done = mimic("import-livelink", f"{name}.csv", "--label", label, "-o", f"{name}.json",
                     cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    clip = Clip.from_json((tmp_path / "smile.json").read_text())
    assert clip.labels == ("happy",) and clip.frames.shape == (40, 52)
    assert clip.frames[0, 44] == np.float32(0.8)  # mouthSmileLeft
    done = mimic("train", "smile.json", "rest.json", "-o", "m.mimic", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no held-out evaluation" in done.stdout


def test_user_errors_are_one_line_and_exit_2(tmp_path):
    (tmp_path / "bad.mimic").write_bytes(b"not a model at all")
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "one.json").write_text(
        Clip.from_frames(("happy",), np.zeros((5, 52), np.float32)).to_json())
    (tmp_path / "fives.json").write_text(
        Clip.from_frames(("happy",), np.zeros((5, 52), np.float32)).to_json().replace(
            "0.0", "5.0"))
    (tmp_path / "table.csv").write_text("name,age\nbob,3\n")
    cases = [
        (("train", "fives.json", "one.json", "-o", "x.mimic"),
         "fives.json: clip frame 0: _neutral is 5; blendshape weights lie between 0 and 1"),
        (("train", "table.csv", "--label", "happy", "-o", "x.mimic"),
         "table.csv: not a Live Link Face CSV: no Timecode/BlendShapeCount header"),
        (("evaluate", "bad.mimic", "one.json"), "bad.mimic: not a Mimic model file"),
        (("evaluate", "missing.mimic", "one.json"), "missing.mimic: No such file"),
        (("train", "bad.json", "-o", "x.mimic"), "bad.json:"),
        (("train", "one.json", "-o", "x.mimic"), "at least two different targets"),
        (("import-livelink", "one.json", "--label", "happy", "-o", "y.json"), "one.json:"),
    ]
    for args, message in cases:
        done = mimic(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert done.stderr.count("\n") == 1


def test_train_on_a_folder_of_labelled_takes_reports_every_take(tmp_path):
    for label, smile in (("happy", 0.8), ("neutral", 0.02), ("sad", 0.3)):
        (tmp_path / "takes" / label).mkdir(parents=True)
        for take in (1, 2):
            (tmp_path / "takes" / label / f"{label}{take}.csv").write_text(
                livelink_csv(rows=90, smile=smile + 0.01 * take))
    # the second sad take is really a smile: the report must name it
    (tmp_path / "takes" / "sad" / "sad2.csv").write_text(livelink_csv(rows=90, smile=0.8))
    done = mimic("train", "takes", "-o", "m.mimic", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "trained on 6 clips" in out
    assert "fold 1: macro-F1" in out and "fold 2: macro-F1" in out and "worst" in out
    assert "sad take 2 (sad2)" in out and "read as happy" in out
    assert "hint: sad take 2 (sad2) reads as happy" in out and "re-record" in out
    scored = mimic("evaluate", "m.mimic", "takes/happy", cwd=tmp_path)
    assert scored.returncode == 2 and "no Live Link CSVs in folders named by label" in \
        scored.stderr
    scored = mimic("evaluate", "m.mimic", "takes", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert "held-out takes, worst first:" in scored.stdout
    lone = mimic("train", "takes/sad/sad1.csv", "-o", "x.mimic", cwd=tmp_path)
    assert lone.returncode == 2 and "needs --label" in lone.stderr


def test_train_shows_every_candidate_and_writes_plain_progress_lines_to_a_pipe(tmp_path):
    for label, smile in (("happy", 0.8), ("neutral", 0.02), ("sad", 0.3)):
        (tmp_path / "takes" / label).mkdir(parents=True)
        for take in (1, 2):
            (tmp_path / "takes" / label / f"{label}{take}.csv").write_text(
                livelink_csv(rows=90, smile=smile + 0.01 * take))
    done = mimic("train", "takes", "-o", "m.mimic", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr  # stderr is a pipe here: lines, not a rewritten line
    lines = done.stderr.rstrip().splitlines()
    assert 3 <= len(lines) <= 40, done.stderr
    assert all(re.match(r" *\d+\.\d% \S", line) for line in lines), done.stderr
    assert "models tried on the same held-out takes" in done.stdout
    for title in ("straight line", "net with varied copies", "net + straight line"):
        assert title in done.stdout
    assert "->" in done.stdout and "a little optimistic" in done.stdout
    assert "held up best on your takes" in done.stdout or "simpler choice" in done.stdout


def test_takes_with_sound_train_a_voice_the_cli_carries(tmp_path):
    from .test_voicemodel import voiced_takes

    folder = tmp_path / "takes"
    folder.mkdir()
    clips = voiced_takes()
    for i, clip in enumerate(clips):
        (folder / f"{i:02d}.json").write_text(clip.to_json())
    run = mimic("train", *sorted(str(p) for p in folder.glob("*.json")), "-o", "voice.mimic",
                "-q", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "learned voice" in run.stdout and "untrained voice" in run.stdout
    assert modelfile.loads((tmp_path / "voice.mimic").read_bytes()).voice_ is not None

    run = mimic("predict", "voice.mimic", str(folder / "00.json"), str(folder / "05.json"),
                cwd=tmp_path)
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert rows[0][-5:] == ["voice_aa", "voice_ih", "voice_ou", "voice_ee", "voice_oh"]
    said = np.array([[float(v) for v in r[-5:]] for r in rows[1:] if r[0] == "0"])
    assert said.max() > 0.5 and said.mean(axis=0).argmax() == 0  # the aa take says aa
    assert said[:3].max() == 0.0  # the room before it: shut
    silent = [r[-5:] for r in rows[1:] if r[0] == "1"]
    assert silent and all(float(v) == 0.0 for r in silent for v in r)

    run = mimic("export-tfjs", "voice.mimic", "-o", "tfjs", cwd=tmp_path)
    assert run.returncode == 0 and "learned voice" in run.stdout, run.stderr
    meta = json.loads((tmp_path / "tfjs" / "model.json").read_text())["userDefinedMetadata"]
    assert meta["voice"]["visemes"] == ["aa", "ih", "ou", "ee", "oh"]
    assert (tmp_path / "tfjs" / "model.weights.bin").stat().st_size > 0
