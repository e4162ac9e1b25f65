"""What the avatar shows this frame, handed to every output (VMC, VTube Studio).

Outputs send what the avatar shows, so a streamer sees the same face in Mimic and in the
app it feeds: one `OutputFrame`, made once and refilled in place every camera frame by
`step` (called from `App.on_frame` after the avatar was driven), with the voice's mouth
and the held hotkeys already applied. Each output registers a sender (`register`) with a
`send(frame: OutputFrame) -> None`; a sender that raises is reported once in the console
and never stops the camera loop. With no sender registered `step` returns at once.

An output module (`studio.vmc`, `studio.vts`) exposes `start(app)`; `start` below calls each
one present, so the page's entry point has a single line for all outputs.
"""

from __future__ import annotations

import importlib
import time
from typing import Any, Protocol

import numpy as np

from mimic.blendshapes import COUNT
from mimic.retarget import RULE_TARGETS, rule_weights
from mimic.targets import group_of
from mimic.voice import VISEMES

__all__ = ["OUTPUT_MODULES", "Outbox", "OutputFrame", "OutputHub", "Sender", "hub", "register",
           "start", "step"]

OUTPUT_MODULES = ("studio.vmc", "studio.vts")
HEAD_SLOTS = 5
COST_WINDOW = 256  # frames whose Python time `cost_us` reports
WARM_UP = 20  # `time_parts` runs each part this often untimed first, as the loop runs it
BATCH = 50  # ... and times it in batches of this many calls


class Sender(Protocol):
    def send(self, frame: OutputFrame) -> None: ...


class OutputFrame:
    """One frame of what the avatar shows. Every array is preallocated and refilled in place;
    keep references to the arrays, not copies, and re-read `names` when `layout` changes.

    - `names`: tuple of target names: the active model's labels as trained ("happy", "sad",
      "aa", "blinkLeft", a custom label as the user typed it), or without a model the rule
      targets (`mimic.retarget.RULE_TARGETS`). Replaced only when the model changes.
    - `groups`: tuple, "expression", "mouth" or "eyes" for each name.
    - `layout`: int, incremented whenever `names` changes: re-plan then, not per frame.
    - `values`: float32 (len(names) + 58,): [weights | arkit | 0 | head], one vector, and
      `floats`, the same as a list of Python floats, made once per frame for every output:
      outputs work on Python floats (mimic.vmc, mimic.vtsinputs), since in the camera loop,
      right after MediaPipe, each distinct numpy call costs tens of microseconds.
      `weights`, `arkit` and `head` are views into `values`; all are replaced only when
      `names` changes (`mimic.vmc.head_at` says where the head starts).
    - `weights`: float32 (len(names),), 0..1: the cleaned-up weights, with the microphone's
      visemes and the held hotkeys applied (a forced expression is 1 and the other
      expressions 0), eased to 0 while no face is in view, as the avatar does.
    - `arkit`: float32 (52,): MediaPipe's ARKit blendshapes in `mimic.blendshapes.NAMES` order
      (camelCase: "eyeBlinkLeft", "jawOpen", ...), the voice's mouth shapes mixed in.
    - `head`: float32 (5,): yaw, pitch, roll, gaze yaw, gaze pitch in radians, smoothed: the
      avatar's own head (`mimic.retarget.HeadPose`: positive yaw turns the character to its
      own left, positive pitch raises the chin, positive roll tilts it to its own left);
      zero until a character has loaded.
    - `face`: bool, a face is in view this frame.
    - `winner`: str or None: the expression shown (a forced hotkey wins; the model's
      cleaned-up winner otherwise; None without a model or face, or while "neutral" wins).
    - `t`: float, the camera frame's time in seconds.
    """

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self.groups: tuple[str, ...] = ()
        self.layout = 0
        self.values = np.zeros(COUNT + 1 + HEAD_SLOTS, np.float32)
        self.weights = self.values[:0]
        self.arkit = self.values[:COUNT]
        self.head = self.values[COUNT + 1:]
        self.floats: list[float] = self.values.tolist()
        self._memory = memoryview(self.values)  # its `tolist` is CPython's, not numpy's
        self.face = False
        self.winner: str | None = None
        self.t = 0.0


class OutputHub:
    """Fills the frame from the studio's state and hands it to every sender."""

    def __init__(self) -> None:
        self.frame = OutputFrame()
        self.senders: list[Any] = []
        self.hotkeys: Any = None  # studio.hotkeys.HotkeysView, set by `start`
        self.failed: set[tuple[int, str]] = set()
        self.costs = [0.0] * COST_WINDOW  # seconds per `step`, a ring (a list: no numpy call)
        self.steps = 0
        self._pipeline: Any = -1
        self._rules = np.zeros(len(RULE_TARGETS), np.float32)
        self._index: dict[str, int] = {}
        self._voice_slots = np.zeros(0, np.intp)
        self._voice_cam = np.zeros(0, np.float32)
        self._arkit_slots = np.zeros(0, np.intp)
        self._arkit_mix = np.zeros((0, len(VISEMES)), np.float32)
        self._arkit_cam = np.zeros(0, np.float32)
        self._arkit_out = np.zeros(0, np.float32)
        self._expr = np.zeros(0, np.intp)
        self._last_t: float | None = None
        self._args: tuple | None = None
        self._plan_arkit()

    # layout -------------------------------------------------------------------------------
    def _plan(self, pipeline: Any) -> None:
        names = tuple(pipeline.names) if pipeline is not None else RULE_TARGETS
        f = self.frame
        if names != f.names:
            f.names = names
            f.groups = tuple(group_of(n) for n in names)
            n = len(names)
            values = np.zeros(n + COUNT + 1 + HEAD_SLOTS, np.float32)
            values[n:] = f.values[len(f.weights):]  # the face and head carry on
            f.values, f.weights = values, values[:n]
            f.arkit, f.head = values[n:n + COUNT], values[n + COUNT + 1:]
            f._memory = memoryview(values)
            f.layout += 1
            self._index = {n: i for i, n in enumerate(names)}
            found = [(i, k) for k, v in enumerate(VISEMES) for i, n in enumerate(names) if n == v]
            self._voice_slots = np.array([i for i, _ in found], np.intp)
            self._voice_pick = np.array([k for _, k in found], np.intp)
            self._voice_cam = np.zeros(len(found), np.float32)
            self._voice_out = np.zeros(len(found), np.float32)
            self._expr = np.array([i for i, g in enumerate(f.groups) if g == "expression"],
                                  np.intp)
        self._pipeline = pipeline

    def _plan_arkit(self) -> None:
        from mimic.blendshapes import NAMES
        from studio.avatar import VISEME_ARKIT

        shapes = sorted({s for mix in VISEME_ARKIT.values() for s in mix})
        self._arkit_slots = np.array([NAMES.index(s) for s in shapes], np.intp)
        self._arkit_mix = np.array([[VISEME_ARKIT[v].get(s, 0.0) for v in VISEMES]
                                    for s in shapes], np.float32)
        self._arkit_cam = np.zeros(len(shapes), np.float32)
        self._arkit_out = np.zeros(len(shapes), np.float32)

    # per frame ----------------------------------------------------------------------------
    def step(self, app: Any, frame: np.ndarray, clean: np.ndarray | None, has_face: bool,
             t_ms: float) -> None:
        """Fill the output frame with what the avatar shows and send it to every output."""
        if not self.senders:
            return
        start = time.perf_counter()
        self.fill(app, frame, clean, has_face, t_ms)
        f = self.frame
        for sender in self.senders:
            try:
                sender.send(f)
            except Exception as exc:  # an output must never stop the camera loop
                key = (id(sender), type(exc).__name__)
                if key not in self.failed:
                    self.failed.add(key)
                    print(f"output {type(sender).__name__} failed: {exc!r}")
        self.costs[self.steps % COST_WINDOW] = time.perf_counter() - start
        self.steps += 1

    def fill(self, app: Any, frame: np.ndarray, clean: np.ndarray | None, has_face: bool,
             t_ms: float) -> None:
        """The output frame from this camera frame and the studio's state."""
        self._args = (app, frame, clean, has_face, t_ms)
        pipeline = app.pipeline
        if pipeline is not self._pipeline:
            self._plan(pipeline)
        f = self.frame
        t = t_ms * 0.001
        f.t, f.face = t, has_face
        if has_face:
            if pipeline is not None and clean is not None:
                f.weights[:] = clean
            elif pipeline is None:
                avatar = app.avatar
                if (avatar is not None and avatar.mode == "rules"
                        and avatar.weights_js is not None):
                    f.weights[:] = avatar.rules  # the avatar's own, this frame's
                else:  # rule_weights indexes scalars: a list's are cheaper in Pyodide
                    f.weights[:] = rule_weights(frame.tolist(), self._rules)
            f.arkit[:] = frame
        else:
            from studio.avatar import ease_factor

            dt = 0.0 if self._last_t is None else min(0.25, max(0.0, t - self._last_t))
            k = ease_factor(dt)
            f.weights *= k
            f.arkit *= k
        self._last_t = t
        self._voice(app, pipeline)
        f.winner = self._winner(pipeline, has_face)
        self._hotkeys()
        avatar = app.avatar
        pose = getattr(avatar, "_pose", None) if avatar is not None else None
        if pose is not None and len(pose) == HEAD_SLOTS:
            f.head[:] = pose
        f.floats = f._memory.tolist()

    def _voice(self, app: Any, pipeline: Any) -> None:
        """The microphone's mouth, as studio.avatar mixes it for the character."""
        voice = getattr(app, "voice", None)
        if voice is None or not voice.active:
            return
        visemes = voice.visemes
        talking = voice.source != "voice" and visemes.any()
        if len(self._voice_slots) and not getattr(pipeline, "hears_voice", False):
            out = self._voice_out
            np.take(visemes, self._voice_pick, out=out)
            if talking:
                np.take(self.frame.weights, self._voice_slots, out=self._voice_cam)
                np.maximum(self._voice_cam, out, out=out)
            np.put(self.frame.weights, self._voice_slots, out)
        out = self._arkit_out
        np.dot(self._arkit_mix, visemes, out=out)
        if talking:
            np.take(self.frame.arkit, self._arkit_slots, out=self._arkit_cam)
            np.maximum(self._arkit_cam, out, out=out)
        np.put(self.frame.arkit, self._arkit_slots, out)

    def _winner(self, pipeline: Any, has_face: bool) -> str | None:
        if pipeline is None or not has_face:
            return None
        index = pipeline.cleanup.winner
        if index is None:
            return None
        name = pipeline.cleanup._expressions[index]
        return None if name == "neutral" else name

    def _hotkeys(self) -> None:
        view = self.hotkeys
        held = view.keys.held if view is not None else None
        if not held:
            return
        f = self.frame
        if view.keys.exclusive:
            f.weights[self._expr] = 0.0
        for name, value in held.items():
            i = self._index.get(name)
            if i is not None:
                f.weights[i] = value if view.keys.exclusive else max(f.weights[i], value)
            if view.keys.exclusive and group_of(name) == "expression":
                f.winner = None if name == "neutral" else name

    def time_parts(self, n: int = 200) -> dict[str, float]:
        """Microseconds per frame of each part, the last camera frame repeated `n` times:
        "fill" (the output frame) and one entry per sender (its `send`); for benchmarks.
        Each is the median of batches of `BATCH` (as scripts/bench_core.py times the model),
        so a garbage collection of the page's whole heap in one batch does not count."""
        args = self._args
        if args is None:
            return {}
        fill = self.fill
        out = {"fill": batched(lambda: fill(*args), n)}
        for sender in self.senders:
            # its parts first: the whole send floods the socket worker (and the app on the
            # other end) with `n` messages at once, which slows what is timed right after
            if hasattr(sender, "time_parts"):
                out.update(sender.time_parts(self.frame, n))
            run = sender.send
            out[type(sender).__name__] = batched(lambda run=run: run(self.frame), n)
        return out

    def cost_us(self) -> list[float]:
        """[median, worst] microseconds per `step` over the last frames; for benchmarks."""
        costs = self.costs[:min(self.steps, COST_WINDOW)]
        if not costs:
            return [0.0, 0.0]
        return [float(np.median(costs)) * 1e6, max(costs) * 1e6]


def batched(run: Any, n: int) -> float:
    """Median over batches of `BATCH` calls of `run`, after `WARM_UP` untimed ones, in us."""
    clock = time.perf_counter
    for _ in range(WARM_UP):
        run()
    means = []
    for _ in range(max(1, n // BATCH)):
        start = clock()
        for _ in range(BATCH):
            run()
        means.append((clock() - start) / BATCH * 1e6)
    return float(np.median(means))


class Outbox:
    """How much of each of a socket's attached buffers to send after this camera frame: an
    Int32 per slot in memory the socket reads (web/socket.js `outbox`, `flushSockets`). A
    frame's send is then a store here, not a call into JavaScript (~25 us in the camera
    loop); the camera loop sends right after Python's frame. Only the newest frame's count
    is kept: a slot posted twice before a flush goes out once, as it holds then."""

    SLOTS = 4

    def __init__(self) -> None:
        self.memory = bytearray(4 * self.SLOTS)  # never resized: the socket keeps a view
        self.counts = memoryview(self.memory).cast("i")

    def attach(self, ws: Any) -> None:
        ws.outbox(self.memory)

    def post(self, slot: int, count: int = -1) -> None:
        """Send the slot's first `count` bytes (-1: all of it, each message of it) after
        this frame."""
        self.counts[slot] = count


hub = OutputHub()


def register(sender: Sender) -> None:
    """Hand every following frame to `sender` too."""
    if sender not in hub.senders:
        hub.senders.append(sender)


def unregister(sender: Sender) -> None:
    if sender in hub.senders:
        hub.senders.remove(sender)


def step(app: Any, frame: np.ndarray, clean: np.ndarray | None, has_face: bool,
         t_ms: float) -> None:
    """The per-frame hook (App.on_frame): nothing at all while no output is registered."""
    if hub.senders:
        hub.step(app, frame, clean, has_face, t_ms)


def start(app: Any, hotkeys: Any = None) -> None:
    """Start every output module present (each builds its part of the Output tab)."""
    hub.hotkeys = hotkeys
    app.outputs = hub
    for name in OUTPUT_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.start(app)
