"""Learning one user's voice: how loud they speak and which vowel their spectrum shows.

The untrained mapping (`mimic.voice`) assumes textbook formants and a typical microphone
level. A person's own voice differs in both: a deep voice puts "ee" lower, a quiet room and a
close microphone move every level. So when viseme takes are recorded with the microphone on,
their voice features (kept frame by frame in the clip) train:

- the level range: room noise (the quietest frames of every take recorded with sound) to
  the voice at full strength (the loud end of the viseme takes), giving the gate below which
  the mouth stays shut and the level at which it is fully open;
- the vowel picker: a small network (band shapes -> tanh -> softmax over the visemes
  recorded) trained on the frames loud enough to be speech, with scipy's L-BFGS at fit time.
  It reads the feature layout its takes were recorded in (`mimic.voice.LAYOUT`, or the older
  five bands of takes from before 2026-12: `voice_layout`).

At run time it is the same per-hop follower as the untrained mapping (`VoiceMouth`), with the
learned range and network, so the cost per hop does not change noticeably.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mimic.clips import Clip
from mimic.metrics import macro_f1
from mimic.targets import canonical, group_of
from mimic.tfjs import DenseLayer
from mimic.voice import LAYOUT, VISEMES, Layout, VoiceMouth, default_layers, layout_of, read_visemes

__all__ = ["VoiceModel", "fit_voice", "score_voice", "voice_layout", "voice_rows",
           "voice_takes", "voice_truth"]

# A frame is speech when it is this far above the gate: just above it the voice is starting
# or stopping and its spectrum says little about the vowel.
SPEECH_MARGIN_DB = 6.0
# Level range limits: the gate never sits within 12 dB of the voice's level, and never below
# -60 dB (digital silence would otherwise put it where any hiss opens the mouth).
MIN_RANGE_DB = 12.0
FLOOR_DB = -60.0
# How often speech says each viseme's vowel, roughly (aa, ih, ou, ee, oh; English and Japanese
# speech both use a and i most). A user's takes say each viseme about as long, so the
# picker learns each equally; this prior then leans an unclear hop towards the commoner
# vowels, as speech does. On held-out clips of a real reader (scripts/bench_lipsync.py) the
# learned voice read 62.9 % of vowel hops right without the prior and 67.0 % with it.
SPEECH_PRIOR = np.array([0.27, 0.30, 0.14, 0.14, 0.15])


def voice_truth(clip: Clip) -> int:
    """The viseme (index into VISEMES) a take says, -1 when it says none or several."""
    said = [canonical(lb) for lb in clip.labels if group_of(canonical(lb)) == "mouth"]
    said = [v for v in said if v in VISEMES]
    return VISEMES.index(said[0]) if len(said) == 1 else -1


def voice_layout(clips: Sequence[Clip]) -> Layout:
    """The feature layout a voice learns from these takes: the newest any take with sound was
    recorded in (takes recorded in an older one are left out of the voice: rows of two
    layouts describe different things)."""
    widths = {c.audio.shape[1] for c in clips if c.audio is not None and len(c.audio)}
    return LAYOUT if not widths or LAYOUT.width in widths else layout_of(max(widths))


def voice_takes(clips: Sequence[Clip]) -> list[Clip]:
    """The takes with sound a voice learns from: those in the voice's layout."""
    width = voice_layout(clips).width
    return [c for c in clips if c.audio is not None and len(c.audio) and
            c.audio.shape[1] == width]


def voice_rows(clips: Sequence[Clip]) -> tuple[np.ndarray, np.ndarray]:
    """Voice features of every take with sound in the voice's layout (`voice_layout`),
    (n, width), and each row's viseme."""
    width = voice_layout(clips).width
    heard = voice_takes(clips)
    if not heard:
        return np.zeros((0, width), np.float32), np.zeros(0, np.int64)
    return (np.concatenate([c.audio for c in heard]),
            np.concatenate([np.full(len(c.audio), voice_truth(c), np.int64) for c in heard]))


class VoiceModel:
    """A person's voice -> visemes, trained on the voice features of their viseme takes.

    Parameters (the constructor only stores them):
        hidden: tanh units of the vowel picker; None: as many as the default mapping's for
            the takes' feature layout (so it can start from it).
        alpha: L2 penalty on its weights.
        max_iter: L-BFGS iterations at most.
        seed: initial weights (when not starting from a network).
        start: the network to start from and stay near unless the takes say otherwise:
            "default" (the default mapping's, fitted on real speech), None (random), or
            dense layers of the same shape.
    """

    def __init__(self, hidden: int | None = None, alpha: float = 1e-2, max_iter: int = 300,
                 seed: int = 0, start: Any = "default") -> None:
        self.hidden = hidden
        self.alpha = alpha
        self.max_iter = max_iter
        self.seed = seed
        self.start = start

    def fit(self, features: np.ndarray, truth: np.ndarray) -> VoiceModel:
        """`truth[i]` is frame i's viseme (index into VISEMES), -1 for frames of takes that
        say none (they still tell how quiet the room is)."""
        features = np.asarray(features, np.float32)
        truth = np.asarray(truth, np.int64)
        layout = layout_of(features.shape[1])
        self.gate_db_, self.full_db_ = level_range(features[:, 0], truth)
        speech = self.speech(features) & (truth >= 0)
        present = sorted(set(truth[speech].tolist()))
        if len(present) < 2:
            raise ValueError("the voice needs speech recorded for at least two visemes")
        self.visemes_ = [VISEMES[i] for i in present]
        classes = np.searchsorted(present, truth[speech])
        start = self._start(present, layout)
        hidden = self.hidden or (start[0].units if start else default_layers(layout)[0].units)
        layers = train_picker(features[speech, 1:].astype(np.float64), classes,
                              len(present), hidden, self.alpha, self.max_iter, self.seed,
                              start=start)
        prior = SPEECH_PRIOR[present] / SPEECH_PRIOR[present].sum()
        last = layers[-1]
        self.layers_ = [*layers[:-1], DenseLayer(last.kernel, last.bias + np.log(prior),
                                                 last.activation)]
        self.frames_ = int(speech.sum())
        return self

    @property
    def layout(self) -> Layout:
        """The feature layout the voice reads (the one its takes were recorded in)."""
        return layout_of(self.layers_[0].kernel.shape[0] + 1)

    def _start(self, present: list[int], layout: Layout) -> list[DenseLayer] | None:
        """The network to start from, with outputs for the visemes recorded only."""
        start = default_layers(layout) if isinstance(self.start, str) else self.start
        if (start is None or start[0].units != (self.hidden or start[0].units)
                or start[0].kernel.shape[0] != layout.width - 1):
            return None
        *hidden, last = start
        return [*hidden, DenseLayer(last.kernel[:, present], last.bias[present], last.activation)]

    def speech(self, features: np.ndarray) -> np.ndarray:
        """Which frames are loud enough to be speech (the ones scored and trained on)."""
        return features[:, 0] >= self.gate_db_ + SPEECH_MARGIN_DB

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Each frame's viseme probabilities (n, 5) in VISEMES order, loudness aside."""
        z = np.asarray(features, np.float32)[:, 1:]
        for layer in self.layers_:
            z = z @ layer.kernel + layer.bias
            z = np.tanh(z) if layer.activation == "tanh" else _softmax(z)
        out = np.zeros((len(z), len(VISEMES)), np.float32)
        out[:, [VISEMES.index(v) for v in self.visemes_]] = z
        return out

    def mouth(self, hop_s: float = 0.01) -> VoiceMouth:
        """A live follower (one per microphone session) using what was learned; `hop_s` is
        how often it is stepped (every 10 ms hop live, every frame over a recorded clip)."""
        return VoiceMouth(self.gate_db_, self.full_db_, layers=self.full_layers(), hop_s=hop_s)

    def full_layers(self) -> list[DenseLayer]:
        """The vowel picker with an output for every viseme (unrecorded ones never win)."""
        *hidden, last = self.layers_
        cols = [VISEMES.index(v) for v in self.visemes_]
        kernel = np.zeros((last.kernel.shape[0], len(VISEMES)), np.float32)
        bias = np.full(len(VISEMES), -30.0, np.float32)
        kernel[:, cols] = last.kernel
        bias[cols] = last.bias
        return [*hidden, DenseLayer(kernel, bias, "softmax")]

    # --- files ----------------------------------------------------------------------------

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        header = {"gate_db": float(self.gate_db_), "full_db": float(self.full_db_),
                  "visemes": list(self.visemes_), "frames": self.frames_,
                  "activations": [la.activation for la in self.layers_],
                  "params": {"hidden": self.hidden, "alpha": self.alpha,
                             "max_iter": self.max_iter, "seed": self.seed}}
        arrays = {}
        for i, layer in enumerate(self.layers_):
            arrays[f"voice_kernel{i}"] = layer.kernel
            arrays[f"voice_bias{i}"] = layer.bias
        return header, arrays

    @classmethod
    def from_state(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> VoiceModel:
        params = header.get("params") or {}
        model = cls(**{k: v for k, v in params.items() if k in ("hidden", "alpha",
                                                                  "max_iter", "seed")})
        model.gate_db_ = float(header["gate_db"])
        model.full_db_ = float(header["full_db"])
        if not model.full_db_ > model.gate_db_:
            raise ValueError("the voice's full level must be above its gate")
        model.visemes_ = [str(v) for v in header["visemes"]]
        if len(model.visemes_) < 2 or not set(model.visemes_) <= set(VISEMES):
            raise ValueError(f"the voice's visemes {model.visemes_!r} are not known visemes")
        model.frames_ = int(header.get("frames", 0))
        model.layers_ = [DenseLayer(arrays[f"voice_kernel{i}"], arrays[f"voice_bias{i}"],
                                    str(act)) for i, act in enumerate(header["activations"])]
        try:
            width = layout_of(model.layers_[0].kernel.shape[0] + 1).width - 1
        except ValueError as exc:
            raise ValueError(f"the voice's inputs do not fit: {exc}") from None
        for layer in model.layers_:
            if layer.kernel.shape[0] != width or layer.bias.shape != (layer.units,):
                raise ValueError("the voice's layers do not chain")
            width = layer.units
        if width != len(model.visemes_) or model.layers_[-1].activation != "softmax":
            raise ValueError("the voice's last layer must be a softmax over its visemes")
        return model

    def to_json(self) -> dict[str, Any]:
        """Everything as plain JSON numbers: carried in a TF.js export's metadata."""
        header, _ = self.to_state()
        header["inputs"] = [f"band {lo}-{hi} Hz" + (f", {10 * k} ms before" if k else "")
                            for k in range(self.layout.context + 1)
                            for lo, hi in self.layout.bands]
        header["layers"] = [{"activation": la.activation, "kernel": la.kernel.tolist(),
                             "bias": la.bias.tolist()} for la in self.layers_]
        return header

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VoiceModel:
        layers = data.get("layers")
        if not isinstance(layers, list) or not layers:
            raise ValueError("the voice in this file has no layers")
        arrays = {}
        for i, la in enumerate(layers):
            arrays[f"voice_kernel{i}"] = np.asarray(la["kernel"], np.float32)
            arrays[f"voice_bias{i}"] = np.asarray(la["bias"], np.float32)
        return cls.from_state({**data, "activations": [la["activation"] for la in layers]},
                              arrays)


def fit_voice(clips: Sequence[Clip], **params: Any) -> VoiceModel | None:
    """A voice model from the takes recorded with sound; None when they do not hold speech
    for two visemes (the untrained mapping then stays in use)."""
    features, truth = voice_rows(clips)
    if not (truth >= 0).any():
        return None
    try:
        return VoiceModel(**params).fit(features, truth)
    except ValueError:
        return None


def score_voice(pairs: Sequence[tuple[Any, Sequence[Clip]]],
                take_numbers: dict[int, int] | None = None) -> dict[str, Any] | None:
    """Held-out viseme takes recorded with sound, read three ways on their speech frames:
    by the voice the fold's model learned, by the untrained mapping, and by the camera.

    `pairs` are (model trained without the takes, held-out takes), as in cross-validation;
    `take_numbers` maps id(clip) to its number among its label's takes. None when no
    held-out take has sound and a model that learned a voice.
    """

    sources = ("voice", "untrained", "camera")
    matrices = {s: np.zeros((len(VISEMES), len(VISEMES)), np.int64) for s in sources}
    takes = []
    for model, clips in pairs:
        if getattr(model, "voice_", None) is None:
            continue
        for clip in clips:
            heard = _reads(model, clip)
            if heard is None:
                continue
            truth, reads = heard
            row = {"labels": list(clip.labels), "name": clip.name, "frames": len(reads["voice"]),
                   "take": (take_numbers or {}).get(id(clip), 1), "truth": VISEMES[truth]}
            for source, read in reads.items():
                np.add.at(matrices[source][truth], read, 1)
                row[source] = float((read == truth).mean())
            wrong = np.bincount(reads["voice"][reads["voice"] != truth], minlength=len(VISEMES))
            row["voice_mistaken_for"] = VISEMES[int(wrong.argmax())] if wrong.any() else ""
            row["voice_mistaken_share"] = float(wrong.max() / row["frames"])
            takes.append(row)
    if not takes:
        return None
    out: dict[str, Any] = {"takes": takes, "frames": sum(t["frames"] for t in takes),
                           "visemes": [v for v in VISEMES if any(t["truth"] == v for t in takes)]}
    for source, matrix in matrices.items():
        if matrix.sum():
            out[source] = {"accuracy": float(np.trace(matrix) / matrix.sum()),
                           "macro_f1": macro_f1(matrix)}
    return out


def _reads(model: Any, clip: Clip) -> tuple[int, dict[str, np.ndarray]] | None:
    """(the viseme a take says, the viseme each source reads in each speech frame), or None
    for a take without sound, without one viseme or without speech."""
    truth = voice_truth(clip)
    if clip.audio is None or truth < 0 or clip.audio.shape[1] != model.voice_.layout.width:
        return None
    speech = model.voice_.speech(clip.audio)
    if not speech.any():
        return None
    audio = clip.audio[speech]
    reads = {"voice": model.voice_.predict(audio).argmax(axis=1),
             "untrained": read_visemes(default_layers(model.voice_.layout), audio).argmax(axis=1)}
    camera = _camera_columns(model)
    if camera is not None:
        raw = model.predict(clip.frames[speech])[:, camera[0]]
        reads["camera"] = np.asarray(camera[1], np.intp)[raw.argmax(axis=1)]
    return truth, reads


def _camera_columns(model: Any) -> tuple[slice, list[int]] | None:
    """The model's mouth outputs and the viseme each stands for; None without visemes."""
    mouth = model.targets_.slices.get("mouth")
    names = list(model.targets_.names[mouth]) if mouth is not None else []
    if not names or not set(names) <= set(VISEMES):
        return None
    return mouth, [VISEMES.index(n) for n in names]


def level_range(levels: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(gate, full) in dB from the quiet end of everything recorded and the loud end of the
    viseme takes."""
    noise = float(np.percentile(levels, 10))
    spoken = levels[truth >= 0] if (truth >= 0).any() else levels
    voice = float(np.percentile(spoken, 90))
    gate = max(noise + 0.4 * (voice - noise), noise + 6.0, FLOOR_DB)
    gate = min(gate, voice - MIN_RANGE_DB)
    full = max(voice - 3.0, gate + MIN_RANGE_DB)
    return gate, full


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def train_picker(x: np.ndarray, y: np.ndarray, k: int, hidden: int, alpha: float,
                 max_iter: int, seed: int, balanced: bool = True,
                 start: list[DenseLayer] | None = None) -> list[DenseLayer]:
    """Cross-entropy of a one-hidden-layer softmax network, full batch, L-BFGS.

    `balanced`: every class counts the same (a user's takes say each viseme about as long,
    which says nothing of how often speech uses it); otherwise each frame counts once (the
    default mapping, fitted on running speech, keeps speech's own vowel frequencies).
    `start`: a network of the same shape to begin from, and to which the L2 penalty pulls the
    weights (instead of towards 0): what it knew stays unless the data says otherwise."""
    from scipy.optimize import minimize  # training only

    d = x.shape[1]
    onehot = np.eye(k)[y]
    weight = 1.0 / np.bincount(y, minlength=k)[y] if balanced else np.ones(len(y))
    weight /= weight.sum()
    shapes = [(d, hidden), (hidden,), (hidden, k), (k,)]
    sizes = [int(np.prod(s)) for s in shapes]

    def unpack(theta: np.ndarray) -> list[np.ndarray]:
        parts, at = [], 0
        for shape, size in zip(shapes, sizes, strict=True):
            parts.append(theta[at:at + size].reshape(shape))
            at += size
        return parts

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w1, b1, w2, b2 = unpack(theta)
        h = np.tanh(x @ w1 + b1)
        z = h @ w2 + b2
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = -float((weight * (onehot * log_p).sum(axis=1)).sum())
        d1, d2 = w1 - c1, w2 - c2
        value += alpha * float((d1 ** 2).sum() + (d2 ** 2).sum())
        g = (np.exp(log_p) - onehot) * weight[:, None]
        gh = (g @ w2.T) * (1.0 - h ** 2)
        grads = [x.T @ gh + 2 * alpha * d1, gh.sum(axis=0), h.T @ g + 2 * alpha * d2,
                 g.sum(axis=0)]
        return value, np.concatenate([gr.ravel() for gr in grads])

    if start is not None:
        theta = np.concatenate([np.asarray(a, np.float64).ravel() for la in start
                                for a in (la.kernel, la.bias)])
        c1, _, c2, _ = (p.copy() for p in unpack(theta))
    else:
        rng = np.random.default_rng(seed)
        theta = np.concatenate([rng.normal(0, 1 / np.sqrt(d), sizes[0]), np.zeros(sizes[1]),
                                rng.normal(0, 1 / np.sqrt(hidden), sizes[2]),
                                np.zeros(sizes[3])])
        c1, c2 = np.zeros(shapes[0]), np.zeros(shapes[2])
    theta = minimize(loss, theta, jac=True, method="L-BFGS-B",
                     options={"maxiter": max_iter}).x
    w1, b1, w2, b2 = unpack(theta)
    return [DenseLayer(w1, b1, "tanh"), DenseLayer(w2, b2, "softmax")]
