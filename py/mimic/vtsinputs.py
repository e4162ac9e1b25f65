"""What Mimic sends VTube Studio each frame, and which of the model's expressions it switches.

VTube Studio maps *input* parameters (its own `FaceAngleX`, `MouthSmile`, ... and plugins'
custom ones) to a Live2D model's parameters; a model set up for VTube Studio's own webcam or
iPhone tracking already maps its default inputs, so filling those makes the model move with no
set-up at all. The ranges are VTube Studio's (its input parameter list and manual): head angles
in degrees (the default mappings use -30..30), `MouthOpen`, `MouthSmile`, `EyeOpen*`,
`Brow*Y`, `Brows` and `CheekPuff` 0..1 (`MouthSmile` and the brows rest at 0.5, since their
usual mappings run the Live2D parameter from -1 at 0 to +1 at 1), eye gaze and `MouthX` -1..1.

Sides follow the avatar in the page (`studio.outputs.OutputFrame.head`): the Live2D model turns
on screen the way Mimic's character does, and the user's left eye closes its `EyeOpenLeft`.

Each learned target also gets a custom parameter of its own (`Mimic` + label, 0..1), so a
rigger can bind, say, `MimicAngry` to a model's angry brows; and the cleaned-up winner switches
the model's own expression files (`ExpressionSwitch`), which is what streamers otherwise do by
hotkey.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter

from mimic.blendshapes import INDEX

__all__ = [
    "DEFAULT_INPUTS",
    "PARAMETER_RANGES",
    "ExpressionSwitch",
    "VtsInputs",
    "expression_key",
    "guess_expressions",
    "parameter_name",
]

DEFAULT_INPUTS: tuple[str, ...] = (
    "FaceAngleX", "FaceAngleY", "FaceAngleZ", "MouthOpen", "MouthSmile", "MouthX",
    "EyeOpenLeft", "EyeOpenRight", "EyeLeftX", "EyeLeftY", "EyeRightX", "EyeRightY",
    "BrowLeftY", "BrowRightY", "Brows", "CheekPuff",
)
PARAMETER_RANGES: dict[str, tuple[float, float]] = {
    "FaceAngleX": (-90.0, 90.0), "FaceAngleY": (-90.0, 90.0), "FaceAngleZ": (-90.0, 90.0),
    "MouthX": (-1.0, 1.0), "EyeLeftX": (-1.0, 1.0), "EyeLeftY": (-1.0, 1.0),
    "EyeRightX": (-1.0, 1.0), "EyeRightY": (-1.0, 1.0),
}
DEG = 180.0 / math.pi
GAZE_YAW = math.radians(25)  # mimic.retarget.HeadPose's full-scale gaze, to -1..1
GAZE_PITCH = math.radians(18)
JAW_GAIN = 1.6  # MediaPipe's jawOpen rarely passes 0.6 with the mouth wide open
# how far each viseme opens the mouth, when a model's visemes drive it
VISEME_OPEN = {"aa": 1.0, "oh": 0.8, "ou": 0.5, "ih": 0.5, "ee": 0.45}
MAX_NAME = 32  # VTube Studio: custom parameter names are 4..32 letters and digits


def parameter_name(label: str, taken: Iterable[str] = ()) -> str:
    """`Mimic` + the label in PascalCase, letters and digits only (VTube Studio's rule), made
    unique against `taken` with a number: "happy" -> "MimicHappy", "big grin" ->
    "MimicBigGrin", "blinkLeft" -> "MimicBlinkLeft"."""
    words, word = [], ""
    for ch in label:
        if ch.isascii() and ch.isalnum():
            word += ch
        elif word:
            words.append(word)
            word = ""
    if word:
        words.append(word)
    body = "".join(w[0].upper() + w[1:] for w in words) or "Label"
    base = ("Mimic" + body)[:MAX_NAME]
    taken = set(taken)
    name, n = base, 1
    while name in taken or name in DEFAULT_INPUTS:
        n += 1
        suffix = str(n)
        name = base[: MAX_NAME - len(suffix)] + suffix
    return name


class VtsInputs:
    """Turns one output frame into the values of VTube Studio's inputs and Mimic's own.

    Built once per model layout (string work), then `fill` runs every camera frame on Python
    floats (lists, as the page's output frame has them, or arrays, turned into lists first):
    a few dozen arithmetic operations, no numpy calls."""

    def __init__(self, names: Sequence[str] = ()) -> None:
        self.names = tuple(names)
        taken: list[str] = []
        for label in self.names:
            taken.append(parameter_name(label, taken))
        self.custom: tuple[str, ...] = tuple(taken)
        pos = {n: i for i, n in enumerate(self.names)}
        self._open = [(pos[v], k) for v, k in VISEME_OPEN.items() if v in pos]
        self.ids: tuple[str, ...] = DEFAULT_INPUTS + self.custom
        self.values: list[float] = [0.0] * len(self.ids)
        bounds = [PARAMETER_RANGES.get(i, (0.0, 1.0)) for i in self.ids]
        self._lo = [lo for lo, _ in bounds]
        self._hi = [hi for _, hi in bounds]
        self._face = itemgetter(*(INDEX[n] for n in (
            "jawOpen", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
            "mouthLeft", "mouthRight", "eyeBlinkLeft", "eyeBlinkRight", "browInnerUp",
            "browOuterUpLeft", "browOuterUpRight", "browDownLeft", "browDownRight",
            "cheekPuff")))
        # learned blinks (both, left, right); a target the model lacks reads the constant 0
        self._blink = [pos.get(n, len(self.names)) for n in ("blink", "blinkLeft", "blinkRight")]

    def fill(self, arkit: Sequence[float], head: Sequence[float],
             weights: Sequence[float]) -> list[float]:
        """Every value in `ids` order, each inside its range. Plain arithmetic and one
        clipping comprehension (conditionals, not min/max calls, which cost several times
        more): this runs every camera frame. A NaN never reaches the wire (it fails both
        comparisons, so it comes out as the lower bound)."""
        a = arkit.tolist() if hasattr(arkit, "tolist") else arkit  # read only
        h = head.tolist() if hasattr(head, "tolist") else head
        w = weights.tolist() if hasattr(weights, "tolist") else list(weights)  # grown below
        (jaw, sml, smr, frl, frr, mleft, mright, bll, blr, inner, outl, outr, downl,
         downr, puff) = self._face(a)
        w.append(0.0)
        bi, bli, bri = self._blink
        b, bl, br = w[bi], w[bli], w[bri]
        w.pop()
        mouth = jaw * JAW_GAIN
        for i, k in self._open:
            if w[i] * k > mouth:
                mouth = w[i] * k
        brow_l = 0.5 + 0.25 * (inner + outl) - 0.5 * downl
        brow_r = 0.5 + 0.25 * (inner + outr) - 0.5 * downr
        gx = h[3] / GAZE_YAW
        gy = h[4] / GAZE_PITCH
        closed_l = bll if bll > b else b
        closed_l = closed_l if closed_l > bl else bl
        closed_r = blr if blr > b else b
        closed_r = closed_r if closed_r > br else br
        w[0:0] = (h[0] * DEG, h[1] * DEG, h[2] * DEG, mouth,
                  0.5 + 0.5 * (sml + smr) - 0.25 * (frl + frr), mleft - mright,
                  1.0 - closed_l, 1.0 - closed_r, gx, gy, gx, gy,
                  brow_l, brow_r, 0.5 * (brow_l + brow_r), puff)
        self.values = values = [lo if not x > lo else hi if not x < hi else x
                                for x, lo, hi in zip(w, self._lo, self._hi, strict=True)]
        return values


# expressions ------------------------------------------------------------------------------
# Expression file names as Live2D models ship them, in English and (many models come from
# Japanese and Chinese artists) in Japanese and Chinese.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "happy": ("happy", "joy", "smile", "laugh", "glad", "yay", "笑", "喜", "嬉", "开心"),
    "angry": ("angry", "anger", "mad", "rage", "annoyed", "grr", "怒", "生气"),
    "sad": ("sad", "sorrow", "cry", "tear", "upset", "悲", "泣", "涙", "哭", "伤心"),
    "surprised": ("surprise", "shock", "wow", "gasp", "astonish", "驚", "惊", "びっくり"),
    "relaxed": ("relax", "calm", "fun", "content", "chill", "リラックス", "穏", "放松"),
}


def expression_key(text: str) -> str:
    """A model's expression file or a label, lowercased to letters and digits for matching."""
    low = text.lower()
    if low.endswith(".exp3.json"):
        low = low[: -len(".exp3.json")]
    return "".join(ch for ch in low if ch.isalnum())


def guess_expressions(labels: Iterable[str], files: Sequence[str]) -> dict[str, str]:
    """A first mapping of learned expressions to a Live2D model's expression files, by name:
    each label (and its synonyms: happy also finds "smile" or "joy") against the file names;
    a file is given to one label at most, "neutral" to none. Unmatched labels map to ""."""
    keys = [expression_key(f) for f in files]
    used: set[int] = set()
    out: dict[str, str] = {}
    for label in labels:
        own = expression_key(label)
        if own == "neutral" or not own:
            out[label] = ""
            continue
        words = (own, *SYNONYMS.get(own, ()))
        best = None
        for j, key in enumerate(keys):
            if j in used:
                continue
            rank = next((r for r, wd in enumerate(words) if wd in key), None)
            if rank is None:
                continue
            score = (rank, key != own, len(key))
            if best is None or score < best[0]:
                best = (score, j)
        if best is None:
            out[label] = ""
        else:
            used.add(best[1])
            out[label] = files[best[1]]
    return out


class ExpressionSwitch:
    """Which of the model's expression files is on, following the cleaned-up winner.

    `update` returns the (file, on) switches to send: when the winner changes (or the mapping
    does), the previous file goes off and the new winner's file on. With no face in view nothing
    switches: the model keeps its expression until the face is back, as the avatar does."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self.mapping: dict[str, str] = dict(mapping or {})
        self.active: str | None = None  # the file Mimic turned on
        self._stale: str | None = None  # turned on before a reconnect, state unknown
        self.winner: str | None = None
        self._dirty = True

    def set_mapping(self, mapping: Mapping[str, str]) -> None:
        self.mapping = {k: v for k, v in mapping.items() if v}
        self._dirty = True

    def reset(self, keep: bool = True) -> None:
        """A new session: VTube Studio's state is unknown, so the next winner's file is
        turned on again. With `keep` (the same model, reconnected) the file Mimic had turned on
        is still turned off if another wins; without (another model) it is forgotten."""
        self._stale = self.active if keep else None
        self.active = None
        self._dirty = True

    def update(self, winner: str | None, face: bool) -> list[tuple[str, bool]]:
        if not face or (winner == self.winner and not self._dirty):
            return []
        self.winner = winner
        self._dirty = False
        target = self.mapping.get(winner) if winner is not None else None
        if self.active is not None and target == self.active:
            return []
        out = []
        old = self.active or self._stale
        if old and old != target:
            out.append((old, False))
        if target:
            out.append((target, True))
        self.active = target
        self._stale = None
        return out

    def forget(self, file: str) -> None:
        """The model has no such file (VTube Studio said so): stop mapping to it."""
        self.mapping = {k: v for k, v in self.mapping.items() if v != file}
        if self.active == file:
            self.active = None
