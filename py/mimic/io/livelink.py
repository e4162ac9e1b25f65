"""Import iPhone Live Link Face CSV recordings as clips.

Live Link Face writes ARKit's 52 blendshapes (51 face shapes plus TongueOut) and head/eye
rotations, one row per frame, stamped with an SMPTE-style timecode `HH:MM:SS:FF.mmm`, where FF
is the frame number at the recording rate and .mmm the fraction of a frame. ARKit and MediaPipe
share the 51 face shapes under the same names (PascalCase vs camelCase), so a row maps onto a
MediaPipe frame by name; MediaPipe's `_neutral` has no ARKit source and is 0. TongueOut and the
rotations have no MediaPipe slot and are dropped.

The file carries no frame rate, so unless told it is inferred from the largest FF seen. A
recording paused for more than a second is split into separate clips, because the pause would
otherwise look like one impossibly slow transition to everything downstream.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from pathlib import Path

import numpy as np

from mimic.blendshapes import ARKIT_NAMES, COUNT, NAMES
from mimic.clips import Clip, ClipFormatError, first_outside_weights

__all__ = ["STANDARD_RATES", "parse_timecode", "read_labelled_folder", "read_livelink"]

MAX_GAP_S = 1.0
# A short take may never reach the top frame numbers, so the inferred rate is rounded up to the
# next rate a phone actually records at.
STANDARD_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0, 120.0)
_DAY_S = 86400.0
_TIMECODE = re.compile(r"^(\d+):(\d{1,2}):(\d{1,2})[:;](\d+)(?:\.(\d+))?$")
_SLOTS = {name.lower(): i for i, name in enumerate(NAMES) if i}


def parse_timecode(text: str) -> tuple[float, int, float]:
    """(whole seconds, frame number, fraction of a frame) of `HH:MM:SS:FF.mmm`."""
    m = _TIMECODE.match(text.strip())
    if m is None:
        raise ValueError(f"bad timecode {text!r}; expected HH:MM:SS:FF.mmm")
    h, mi, s, ff, sub = m.groups()
    fraction = float("0." + sub) if sub else 0.0
    return int(h) * 3600.0 + int(mi) * 60.0 + int(s), int(ff), fraction


def _read_text(source: str | bytes | os.PathLike) -> tuple[str, str]:
    """(CSV text, name): a str holding a line break or a header is the CSV itself."""
    if isinstance(source, bytes):
        return source.decode("utf-8-sig"), ""
    if isinstance(source, str) and (not source.strip() or "\n" in source
                                    or source.lstrip("\ufeff ").lower().startswith("timecode")):
        return source.lstrip("\ufeff"), ""
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8-sig"), path.stem
    except (OSError, UnicodeDecodeError) as e:
        raise ClipFormatError(f"cannot read Live Link file {str(path)!r}: {e}") from None


def _columns(header: list[str]) -> tuple[int, list[int], list[int]]:
    """Index of Timecode, and source columns -> MediaPipe slots for the 51 face shapes."""
    lowered = [h.strip().lower() for h in header]
    if "timecode" not in lowered and not {"blendshapecount", "blendshape_count"} & set(lowered):
        raise ClipFormatError("not a Live Link Face CSV: no Timecode/BlendShapeCount header")
    missing = [n for n in ("Timecode",) if n.lower() not in lowered]
    cols, slots = [], []
    for slot in range(1, COUNT):
        key = NAMES[slot].lower()
        if key in lowered:
            cols.append(lowered.index(key))
            slots.append(slot)
        else:
            missing.append(ARKIT_NAMES[slot])
    if missing:
        raise ClipFormatError(f"Live Link CSV is missing columns: {', '.join(missing)}")
    return lowered.index("timecode"), cols, slots


def _rows(text: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, non-blank data rows, and each row's line number for error messages."""
    reader = csv.reader(io.StringIO(text))
    rows, lines = [], []
    for row in reader:
        if any(cell.strip() for cell in row):
            rows.append(row)
            lines.append(reader.line_num)
    if not rows:
        raise ClipFormatError("Live Link CSV is empty")
    return rows[0], rows[1:], lines[1:]


def _values(rows: list[list[str]], lines: list[int], cols: list[int],
            header: list[str]) -> np.ndarray:
    for row, line in zip(rows, lines, strict=True):
        if len(row) < len(header):
            raise ClipFormatError(f"Live Link CSV row {line} has {len(row)} columns, "
                                  f"expected {len(header)}")
    try:
        values = np.array([[row[c] for c in cols] for row in rows], dtype=np.float64)
    except ValueError:
        values = None
    for row, line in zip(rows, lines, strict=True):
        for c in cols if values is None else ():
            try:
                float(row[c])
            except ValueError:
                raise ClipFormatError(f"Live Link CSV row {line}, column {header[c]!r}: "
                                      f"{row[c]!r} is not a number") from None
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if len(bad):
        raise ClipFormatError(f"Live Link CSV row {lines[bad[0]]} has NaN or infinite values")
    outside = first_outside_weights(values)
    if outside is not None:
        row, col = outside
        raise ClipFormatError(
            f"Live Link CSV row {lines[row]} (frame {row}), column {header[cols[col]]!r}: "
            f"{values[row, col]:g} is not a blendshape weight (they lie between 0 and 1)")
    return values


def _times(codes: list[str], lines: list[int], fps: float | None) -> tuple[np.ndarray, float]:
    parsed = []
    for code, line in zip(codes, lines, strict=True):
        try:
            parsed.append(parse_timecode(code))
        except ValueError as e:
            raise ClipFormatError(f"Live Link CSV row {line}: {e}") from None
    if fps is None:
        top = max(ff for _, ff, _ in parsed) + 1
        fps = next((r for r in STANDARD_RATES if r >= top), float(top))
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    whole = np.array([p[0] for p in parsed])
    frames = np.array([p[1] + p[2] for p in parsed])
    return _unwrap(whole + frames / fps, lines), float(fps)


def _unwrap(times: np.ndarray, lines: list[int]) -> np.ndarray:
    """Recordings running past midnight restart the timecode at 00:00:00."""
    wraps = np.concatenate(([0.0], np.cumsum(np.diff(times) < -_DAY_S / 2) * _DAY_S))
    times = times + wraps
    back = np.flatnonzero(np.diff(times) < 0)
    if len(back):
        raise ClipFormatError(
            f"Live Link CSV timecode goes backwards at row {lines[back[0] + 1]}")
    return times


def read_livelink(source: str | bytes | os.PathLike, label: str | tuple[str, ...],
                  fps: float | None = None, *, session_id: str = "livelink",
                  name: str = "") -> list[Clip]:
    """Clips of one labelled Live Link Face recording (a path, or the CSV text itself,
    then named `name`: reports call the take by it).

    Error messages number rows as a spreadsheet shows them, the header being row 1.
    """
    text, stem = _read_text(source)
    name = name or stem
    header, rows, lines = _rows(text)
    t_col, cols, slots = _columns(header)
    if not rows:
        raise ClipFormatError("Live Link CSV has a header but no frames")
    values = _values(rows, lines, cols, header)
    times, fps = _times([row[t_col] for row in rows], lines, fps)
    frames = np.zeros((len(rows), COUNT), np.float32)
    frames[:, slots] = values
    cuts = np.flatnonzero(np.diff(times) > MAX_GAP_S) + 1
    clips = []
    for part, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(rows)], strict=True)):
        part_name = f"{name} ({part + 1})".strip() if len(cuts) else name
        clips.append(Clip.from_frames(label, frames[a:b], fps=fps, session_id=session_id,
                                      timestamps=times[a:b] - times[a], name=part_name))
    return clips


def read_labelled_folder(root: str | os.PathLike, fps: float | None = None) -> list[Clip]:
    """Every Live Link CSV under `root`, labelled by the name of the folder it sits in.

    The layout a performer's takes are usually kept in (`angry/take1.csv`, `sad/...`), so a
    whole set trains without one `--label` per file.
    """
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() == ".csv" and p.is_file())
    files = [p for p in files if p.parent != root]
    if not files:
        raise ClipFormatError(f"{root}: no Live Link CSVs in folders named by label "
                              f"(for example {root / 'happy' / 'take1.csv'})")
    clips: list[Clip] = []
    for path in files:
        try:
            clips.extend(read_livelink(path, path.parent.name, fps))
        except ClipFormatError as exc:
            raise ClipFormatError(f"{path}: {exc}") from None
    return clips
