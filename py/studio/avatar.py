"""Which weights drive the avatar, decided per character and per frame.

One flow for every kind of character: when a character loads, web/avatar.js reports what it
has (VRM expressions, ARKit morphs, or both) and this picks the path:

- "arkit": the character's ARKit morphs take MediaPipe's weights directly. No training.
- "model": VRM expressions take the active model's cleaned-up prediction.
- "rules": VRM expressions from simple blendshape rules, until a model is trained.

"auto" (the default) prefers a trained model for a character with expressions, otherwise
ARKit morphs if it has them, otherwise the rules. A target the character lacks is reported
once, in the avatar note, and skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mimic.retarget import (
    POSE_SLOTS,
    RULE_TARGETS,
    ExpressionMap,
    HeadPose,
    MorphMap,
    rule_weights,
)
from studio.dom import by_id, on

MODES = ("auto", "arkit", "model", "rules")
# A viseme as ARKit mouth shapes, for characters driven by their ARKit morphs. Only shapes
# that speaking makes: silence shuts them, and leaves a smile or a frown alone.
VISEME_ARKIT = {
    "aa": {"jawOpen": 0.7, "mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3},
    "ih": {"jawOpen": 0.15, "mouthStretchLeft": 0.6, "mouthStretchRight": 0.6},  # い, see
    "ou": {"jawOpen": 0.2, "mouthPucker": 0.8, "mouthFunnel": 0.4},
    "ee": {"jawOpen": 0.3, "mouthStretchLeft": 0.4, "mouthStretchRight": 0.4},  # え, bed
    "oh": {"jawOpen": 0.45, "mouthFunnel": 0.7},
}
MIN_ARKIT = 20  # matched ARKit morphs for a character to count as "perfect sync"


class AvatarDriver:
    """The Python half of the avatar: picks the path per character, fills its weights per frame.

    web/avatar.js draws; this decides what it draws, so the choice of path and the mapping
    live in tested Python (mimic.retarget) and JS only copies one Float32Array per frame.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.view: Any = None
        self.info: dict[str, Any] | None = None
        self.choice = "auto"
        self.mode: str | None = None
        self.buffer = np.zeros(POSE_SLOTS, np.float32)
        self.weights_js: Any = None
        self.matrix = np.zeros(16, np.float32)
        # bridge.matrix is made once and only ever refilled: one proxy, not one per frame
        self.matrix_js = app.bridge.matrix
        self.pose = HeadPose()
        self.rules = np.zeros(len(RULE_TARGETS), np.float32)
        self.morph_map: MorphMap | None = None
        self.expr_map: ExpressionMap | None = None
        self._slots = self.buffer[:0]
        self._pose = self.buffer[0:POSE_SLOTS]
        self._last_t: float | None = None
        self.voice_slots = np.zeros(0, np.intp)
        self.voice_mix = np.zeros((0, 5), np.float32)
        self._voice_out = np.zeros(0, np.float32)
        self._voice_cam = np.zeros(0, np.float32)
        self.listeners: list[Any] = []  # called when a character has loaded (hotkeys)
        on(by_id("avatar-mode"), "change", lambda e: self.choose(str(e.target.value)))

    # set-up ------------------------------------------------------------------------------
    def attach(self, view: Any) -> None:
        """The AvatarView came up before Python: use it."""
        self.view = view

    def on_avatar(self, info: Any) -> None:
        """A character finished loading: remember what it offers and plan again."""
        self.info = info.to_py() if hasattr(info, "to_py") else dict(info)
        if self.view is None:
            self.view = getattr(self.app.bridge, "avatar", None)
        self.plan()
        for listener in self.listeners:
            listener()

    def choose(self, choice: str) -> None:
        """The user picked a path in the "Drive" selector; unknown values mean automatic."""
        self.choice = choice if choice in MODES else "auto"
        self.plan()

    def has_arkit(self) -> bool:
        """Enough ARKit morphs to be driven as "perfect sync" (a few stray names do not count)."""
        return bool(self.info) and MorphMap(self.info["morphs"]).matched >= MIN_ARKIT

    def has_expressions(self) -> bool:
        """Whether the character has VRM expressions (three-vrm names them the VRM 1.0 way)."""
        return bool(self.info and self.info["expressions"])

    def pick(self) -> str:
        """The path for this character: the user's choice where it can work, else automatic."""
        model = self.app.pipeline is not None
        if self.choice == "arkit" and self.has_arkit():
            return "arkit"
        if self.choice == "model" and model and self.has_expressions():
            return "model"
        if self.choice == "rules" and self.has_expressions():
            return "rules"
        if model and self.has_expressions():
            return "model"
        if self.has_arkit():
            return "arkit"
        return "rules"

    def plan(self) -> None:
        """Lay out the per-frame buffer for the chosen path; called on any relevant change."""
        if self.view is None or not self.info:
            return
        mode = self.pick()
        info = self.info
        missing: list[str] = []
        if mode == "arkit":
            names = list(info["morphs"])
            self.morph_map = MorphMap(names)
            missing = self.morph_map.missing
        else:
            names = list(info["expressions"])
            targets = (list(self.app.pipeline.names) if mode == "model"
                       else list(RULE_TARGETS))
            self.expr_map = ExpressionMap(targets, names)
            missing = self.expr_map.missing
        self.mode = mode
        self.buffer = np.zeros(len(names) + POSE_SLOTS, np.float32)
        self._slots = self.buffer[: len(names)]
        self._pose = self.buffer[len(names):]
        self.weights_js = self.view.setLayout("morphs" if mode == "arkit" else "expressions",
                                              names, missing)
        self._plan_voice(mode, names)
        self._describe(mode, missing)

    def _plan_voice(self, mode: str, names: list[str]) -> None:
        """Which slots the voice's visemes move, and how much: (slot indices, (k, 5) mix)."""
        from mimic.retarget import morph_key
        from mimic.voice import VISEMES

        if mode == "arkit":
            keys = {morph_key(n): i for i, n in enumerate(names)}
            shapes = sorted({s for mix in VISEME_ARKIT.values() for s in mix})
            slots = [(keys[morph_key(s)], s) for s in shapes if morph_key(s) in keys]
            mix = np.array([[VISEME_ARKIT[v].get(s, 0.0) for v in VISEMES] for _, s in slots],
                           np.float32).reshape(len(slots), len(VISEMES))
            self.voice_slots = np.array([i for i, _ in slots], np.intp)
        elif mode == "model" and getattr(self.app.pipeline, "hears_voice", False):
            # the model's mouth is fused with the voice before its clean-up (LivePipeline)
            mix = np.zeros((0, len(VISEMES)), np.float32)
            self.voice_slots = np.zeros(0, np.intp)
        else:
            found = [(names.index(v), k) for k, v in enumerate(VISEMES) if v in names]
            mix = np.zeros((len(found), len(VISEMES)), np.float32)
            for row, (_, k) in enumerate(found):
                mix[row, k] = 1.0
            self.voice_slots = np.array([i for i, _ in found], np.intp)
        self.voice_mix = mix
        self._voice_out = np.zeros(len(self.voice_slots), np.float32)
        self._voice_cam = np.zeros(len(self.voice_slots), np.float32)

    def _voice(self) -> None:
        """The mouth from the voice: alone, or deciding when the camera's mouth may move."""
        voice = getattr(self.app, "voice", None)
        if voice is None or not voice.active or not len(self.voice_slots):
            return
        out = self._voice_out
        np.dot(self.voice_mix, voice.visemes, out=out)
        if voice.source != "voice" and voice.visemes.any():  # talking: the camera's shape too
            cam = self._voice_cam
            np.take(self.buffer, self.voice_slots, out=cam)
            np.maximum(cam, out, out=out)
        np.put(self.buffer, self.voice_slots, out)  # silent: the mouth shuts

    def _describe(self, mode: str, missing: list[str]) -> None:
        info = self.info or {}
        kinds = {"vrm1": "VRM 1.0", "vrm0": "VRM 0.x", "arkit": "glTF with ARKit morphs"}
        how = {"arkit": "driven by your face's blendshapes directly (no training needed)",
               "model": "driven by your trained model",
               "rules": "driven by simple rules until you train a model"}[mode]
        text = f"{info.get('name', 'Avatar')} ({kinds.get(info.get('kind'), '?')}): {how}."
        if missing:
            shown = ", ".join(missing[:8]) + (" …" if len(missing) > 8 else "")
            text += f" It has no {shown}; those are skipped."
        by_id("avatar-note").textContent = text
        select = by_id("avatar-mode")
        select.hidden = not (self.has_arkit() and self.has_expressions())
        select.value = self.choice
        by_id("avatar").dataset.mode = mode

    # per frame -----------------------------------------------------------------------------
    def step(self, frame: np.ndarray, clean: np.ndarray | None, t: float) -> None:
        """Fill the character's weight vector and pose for one camera frame and hand it to JS.

        Only in-place numpy work on buffers laid out by `plan`, and one copy across the bridge.
        """
        if self.weights_js is None:
            return
        mode = self.mode
        if mode == "arkit":
            self.morph_map.apply(frame, self._slots)
        elif mode == "model" and clean is not None:
            self.expr_map.apply(clean, self._slots)
        elif mode == "rules":
            self.expr_map.apply(rule_weights(frame.tolist(), self.rules), self._slots)
        self.matrix_js.assign_to(self.matrix)
        self._pose[:] = self.pose.step(self.matrix, frame, t)
        self._last_t = t
        self._voice()
        self.weights_js.assign(self.buffer)

    def lost(self, t: float) -> None:
        """No face this frame: ease every weight and the head back to neutral (about 95 %
        of the way in half a second) rather than freeze mid-expression."""
        if self.weights_js is None:
            return
        dt = 0.0 if self._last_t is None else min(0.25, max(0.0, t - self._last_t))
        self._last_t = t
        self.buffer *= ease_factor(dt)
        self._voice()  # the voice still moves the mouth when the face turns away
        self.weights_js.assign(self.buffer)


LOST_TAU_S = 0.16  # e^(-0.5 / 0.16) = 4 % left after half a second


def ease_factor(dt: float) -> float:
    """How much of a weight is left after `dt` seconds of easing back to neutral."""
    return float(np.exp(-dt / LOST_TAU_S))

