"""Build the app's built-in avatar: a friendly stylised head as a VRM 1.0 file.

The app must work out of the box without shipping anyone else's character, so this script
makes one from numpy geometry: head, hair, ears, nose, eyes with upper and lower lids and
lashes, brows, lips, teeth and tongue, on a bust. It carries both ways of being driven:

- the 52 ARKit morph targets ("perfect sync", e.g. `eyeBlinkLeft`, `jawOpen`, `tongueOut`),
  driven straight from MediaPipe's weights with no training;
- every VRM 1.0 expression preset (happy, angry, sad, relaxed, surprised, aa, ih, ou, ee, oh,
  blink, blinkLeft, blinkRight, lookUp/Down/Left/Right), each bound to a mix of those morphs,
  driven by a trained model.

"Left" is the character's own left (+X; VRM characters face +Z), as in ARKit. The output is
deterministic (same bytes every run) and small; morph targets are stored as sparse accessors
because each touches only a few parts of the face. `--arkit-only` writes a plain glTF binary
with the ARKit morphs and no VRM extension, as a "perfect sync" character from other tools is.

Usage: python scripts/make_avatar.py [-o web/generated/mimic-head.vrm] [--arkit-only]
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "web" / "generated" / "mimic-head.vrm"

ARKIT = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)

# VRM 1.0 presets as mixes of ARKit morphs ("L"/"R" suffixes expand to Left/Right).
EXPRESSIONS: dict[str, dict[str, float]] = {
    "happy": {"mouthSmile": 1.0, "cheekSquint": 0.7, "eyeSquint": 0.45, "mouthDimple": 0.3},
    "angry": {"browDown": 1.0, "mouthFrown": 0.7, "noseSneer": 0.6, "eyeSquint": 0.3,
              "mouthPress": 0.4},
    "sad": {"browInnerUp": 1.0, "mouthFrown": 0.9, "mouthShrugLower": 0.5, "eyeSquint": 0.15},
    "relaxed": {"mouthSmile": 0.55, "eyeBlink": 0.35, "cheekSquint": 0.25},
    "surprised": {"browInnerUp": 0.8, "browOuterUp": 1.0, "eyeWide": 1.0, "jawOpen": 0.45,
                  "mouthFunnel": 0.3},
    "aa": {"jawOpen": 0.75, "mouthLowerDown": 0.3},
    "ih": {"jawOpen": 0.25, "mouthStretch": 0.6, "mouthUpperUp": 0.2},
    "ou": {"mouthPucker": 1.0, "jawOpen": 0.2},
    "ee": {"mouthStretch": 0.8, "mouthSmile": 0.3, "jawOpen": 0.15},
    "oh": {"mouthFunnel": 0.9, "jawOpen": 0.45},
    "blink": {"eyeBlink": 1.0},
    "blinkLeft": {"eyeBlinkLeft": 1.0},
    "blinkRight": {"eyeBlinkRight": 1.0},
    "lookUp": {"eyeLookUp": 1.0},
    "lookDown": {"eyeLookDown": 1.0},
    "lookLeft": {"eyeLookOutLeft": 1.0, "eyeLookInRight": 1.0},
    "lookRight": {"eyeLookInLeft": 1.0, "eyeLookOutRight": 1.0},
}

COLOURS = {
    "skin": (1.0, 0.80, 0.66), "hair": (0.36, 0.22, 0.48), "eyewhite": (0.97, 0.97, 0.97),
    "iris": (0.22, 0.47, 0.78), "pupil": (0.03, 0.03, 0.05), "lid": (0.98, 0.76, 0.62),
    "brow": (0.28, 0.16, 0.36), "lips": (0.86, 0.42, 0.46), "mouth": (0.32, 0.07, 0.10),
    "teeth": (0.98, 0.98, 0.95), "tongue": (0.92, 0.42, 0.48), "shirt": (0.30, 0.62, 0.86),
    "cheek": (0.97, 0.50, 0.52), "lash": (0.20, 0.12, 0.26),
}

HEAD_C = np.array([0.0, 1.47, 0.0])
HEAD_R = np.array([0.10, 0.12, 0.105])
HEAD_BONE = np.array([0.0, 1.40, 0.0])  # world position of the head bone (the neck pivot)
EYE_R = 0.017
EYES = {+1: np.array([0.038, 1.49, 0.087]), -1: np.array([-0.038, 1.49, 0.087])}
MOUTH_Y = 1.41


@dataclass
class Part:
    """One primitive: geometry plus the parameters morphs are written against."""

    name: str
    material: str
    pos: np.ndarray
    nrm: np.ndarray
    idx: np.ndarray
    params: dict[str, np.ndarray] = field(default_factory=dict)


# --- geometry ---------------------------------------------------------------------------------


def grid_indices(nu: int, nv: int, wrap_u: bool) -> np.ndarray:
    """Two triangles per cell of a (nv+1) x (nu[+1]) vertex grid, counter-clockwise outside."""
    cols = nu if wrap_u else nu + 1
    tris = []
    for v in range(nv):
        for u in range(nu):
            a = v * cols + u
            b = v * cols + (u + 1) % cols if wrap_u else v * cols + u + 1
            c, d = a + cols, b + cols
            tris += [(a, c, b), (b, c, d)]
    return np.array(tris, np.uint32).ravel()


def ellipsoid(center, radii, nu=32, nv=20, polar=(0.0, math.pi), azimuth=None):
    """Vertices on an ellipsoid; polar angle from +Y, azimuth from +Z towards +X."""
    radii = np.asarray(radii, float)
    wrap = azimuth is None
    az0, az1 = azimuth if azimuth else (0.0, 2 * math.pi)
    us = np.linspace(az0, az1, nu + (0 if wrap else 1), endpoint=not wrap)
    vs = np.linspace(polar[0], polar[1], nv + 1)
    v, u = np.meshgrid(vs, us, indexing="ij")
    unit = np.stack([np.sin(v) * np.sin(u), np.cos(v), np.sin(v) * np.cos(u)], -1).reshape(-1, 3)
    pos = np.asarray(center) + unit * radii
    nrm = unit / radii
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    return pos, nrm, grid_indices(nu, nv, wrap), v.ravel(), u.ravel()


def head_surface_z(x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
    """Z of the front of the head at (x, y): where features sit."""
    q = 1 - ((np.asarray(x) - HEAD_C[0]) / HEAD_R[0]) ** 2 - (
        (np.asarray(y) - HEAD_C[1]) / HEAD_R[1]) ** 2
    return HEAD_C[2] + HEAD_R[2] * np.sqrt(np.clip(q, 0, None))


def merge(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]):
    pos, nrm, idx, base = [], [], [], 0
    for p, n, i in parts:
        pos.append(p)
        nrm.append(n)
        idx.append(i + base)
        base += len(p)
    return np.concatenate(pos), np.concatenate(nrm), np.concatenate(idx).astype(np.uint32)


NOSE_C = np.array([0.0, 1.455, 0.104])
NOSE_R = np.array([0.011, 0.016, 0.012])


def build_skin() -> Part:
    head = ellipsoid(HEAD_C, HEAD_R, 44, 28)[:3]
    nose = ellipsoid(NOSE_C, NOSE_R, 16, 10)[:3]
    ears = [ellipsoid([s * 0.099, 1.465, -0.005], [0.012, 0.026, 0.016], 14, 10)[:3]
            for s in (1, -1)]
    neck = ellipsoid([0, 1.36, -0.01], [0.045, 0.07, 0.045], 20, 10)[:3]
    pieces = [head, nose, *ears, neck]
    pos, nrm, idx = merge(pieces)
    is_nose = np.concatenate([np.full(len(p[0]), k == 1) for k, p in enumerate(pieces)])
    return Part("skin", "skin", pos, nrm, idx, {"nose": is_nose})


def build_hair() -> Part:
    nu, nv = 48, 14
    us = np.linspace(0, 2 * math.pi, nu, endpoint=False)
    # hairline: high over the forehead, low at the back and over the ears
    reach = 0.95 + 0.75 * (1 - np.cos(us)) / 2
    t = np.linspace(0, 1, nv + 1)
    v = t[:, None] * reach[None, :]
    u = np.broadcast_to(us, v.shape)
    unit = np.stack([np.sin(v) * np.sin(u), np.cos(v), np.sin(v) * np.cos(u)], -1).reshape(-1, 3)
    radii = HEAD_R * [1.08, 1.07, 1.08]
    pos = HEAD_C + [0, 0.006, -0.004] + unit * radii
    nrm = unit / radii
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    return Part("hair", "hair", pos, nrm, grid_indices(nu, nv, True))


def build_eyes() -> list[Part]:
    whites, irises, pupils = [], [], []
    iris_side, pupil_side = [], []
    for side, c in EYES.items():
        whites.append(ellipsoid(c, [EYE_R] * 3, 24, 16)[:3])
        for store, sides, cap, lift in ((irises, iris_side, 0.55, 1.012),
                                        (pupils, pupil_side, 0.25, 1.02)):
            # a cap around +Z: polar angle measured from +Z via a rotated ellipsoid grid
            p, n, i, _v, _u = ellipsoid([0, 0, 0], [EYE_R * lift] * 3, 20, 4, polar=(0, cap))
            rot = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float)  # +Y pole -> +Z
            store.append((p @ rot.T + c, n @ rot.T, i))
            sides.append(np.full(len(p), side))
    white = Part("eyewhite", "eyewhite", *merge(whites))
    white.params["side"] = np.concatenate([np.full(len(w[0]), s) for w, s in
                                           zip(whites, EYES, strict=True)])
    iris = Part("iris", "iris", *merge(irises), params={"side": np.concatenate(iris_side)})
    pupil = Part("pupil", "pupil", *merge(pupils), params={"side": np.concatenate(pupil_side)})
    return [white, iris, pupil]


# How far the lids reach over an open eye: the upper one down from the top, the lower one up
# from the bottom (radians). Closing, they meet a little below the eye's middle.
LID_OPEN = math.radians(64)
LOWER_OPEN = math.radians(40)
LID_R = EYE_R * 1.14


def lid_positions(side: int, u: np.ndarray, b: np.ndarray, reach: float | np.ndarray,
                  lower: np.ndarray | bool = False, bulge: float = 0.0,
                  lift: float = 1.0) -> np.ndarray:
    """A lid over the front of the eye, reaching `reach` radians from the top (the upper lid)
    or from the bottom (the lower lid); `bulge` pushes its edge out (a fraction of its radius).

    A morph moves vertices in straight lines, which cut through the eyeball when a lid turns
    far about the eye's centre: so each lid only travels about 50 degrees (the two meet when
    the eye closes), and a closed lid's edge bulges out a little. `lift` scales the radius
    (the lashes sit just over the lid).
    """
    a = u * reach
    c = EYES[side]
    up = np.where(lower, -1.0, 1.0)
    r = LID_R * lift * (1 + bulge * u)
    unit = np.stack([np.sin(a) * np.sin(b), up * np.cos(a), np.sin(a) * np.cos(b)], -1)
    return c + r[..., None] * unit


def build_lids() -> Part:
    nu, nv = 16, 8
    u = np.repeat(np.linspace(0, 1, nv + 1), nu + 1)
    b = np.tile(np.linspace(-math.pi / 2 - 0.25, math.pi / 2 + 0.25, nu + 1), nv + 1)
    pieces, sides, us, bs, lowers = [], [], [], [], []
    for side in EYES:
        for lower, reach in ((False, LID_OPEN), (True, LOWER_OPEN)):
            pp = lid_positions(side, u, b, reach, lower)
            idx = grid_indices(nu, nv, False)
            nrm = (pp - EYES[side]) / LID_R
            if lower:  # lit as the face around it, not as the underside of the eye it is
                nrm[:, 1] = 0.5 * np.abs(nrm[:, 1])
                nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
            pieces.append((pp, nrm, idx[::-1].copy() if lower else idx))
            sides.append(np.full(len(u), side))
            us.append(u)
            bs.append(b)
            lowers.append(np.full(len(u), lower))
    p, n, i = merge(pieces)
    return Part("lids", "lid", p, n, i, {"side": np.concatenate(sides), "u": np.concatenate(us),
                                          "b": np.concatenate(bs),
                                          "lower": np.concatenate(lowers)})


LASH_LIFT = 1.012  # the lashes' radius over the lid's
LASH_WIDTH = 0.12  # of the upper lid's reach, next to its edge


def build_lashes() -> Part:
    """A dark line along each upper lid's edge: it shows where the lid is."""
    nu = 16
    u = np.repeat([1 - LASH_WIDTH, 1.0], nu + 1)
    b = np.tile(np.linspace(-math.pi / 2 - 0.05, math.pi / 2 + 0.05, nu + 1), 2)
    pieces, sides, us, bs = [], [], [], []
    for side in EYES:
        pp = lid_positions(side, u, b, LID_OPEN, lift=LASH_LIFT)
        nrm = (pp - EYES[side]) / (LID_R * LASH_LIFT)
        pieces.append((pp, nrm, grid_indices(nu, 1, False)))
        sides.append(np.full(len(u), side))
        us.append(u)
        bs.append(b)
    p, n, i = merge(pieces)
    return Part("lashes", "lash", p, n, i, {"side": np.concatenate(sides),
                                           "u": np.concatenate(us), "b": np.concatenate(bs)})


def build_brows() -> Part:
    boxes, sides, ts = [], [], []
    n = 10
    for side in EYES:
        t = np.linspace(0, 1, n)  # 0 inner end, 1 outer end
        x = side * (0.018 + 0.04 * t)
        y = 1.523 + 0.006 * np.sin(t * math.pi)
        z = head_surface_z(x, y) + 0.003
        verts = []
        for dy, dz in ((0.0035, 0), (-0.0035, 0), (-0.0035, 0.004), (0.0035, 0.004)):
            verts.append(np.stack([x, y + dy, z + dz], -1))
        ring = np.stack(verts, 1)  # (n, 4, 3)
        pos = ring.reshape(-1, 3)
        tris = []
        for k in range(n - 1):
            for f in range(4):
                a, b = k * 4 + f, k * 4 + (f + 1) % 4
                c, d = a + 4, b + 4
                tris += [(a, b, c), (b, d, c)] if side > 0 else [(a, c, b), (b, c, d)]
        tris += [(0, 1, 2), (0, 2, 3), ((n - 1) * 4, (n - 1) * 4 + 2, (n - 1) * 4 + 1),
                 ((n - 1) * 4, (n - 1) * 4 + 3, (n - 1) * 4 + 2)]
        nrm = np.tile([0.0, 0.0, 1.0], (len(pos), 1))
        boxes.append((pos, nrm, np.array(tris, np.uint32).ravel()))
        sides.append(np.full(len(pos), side))
        ts.append(np.repeat(t, 4))
    return Part("brows", "brow", *merge(boxes),
                params={"side": np.concatenate(sides), "t": np.concatenate(ts)})


def mouth_point(phi: np.ndarray, s: np.ndarray, depth: float = 0.0) -> np.ndarray:
    """Lips: s=0 inner edge (a slit when closed), s=1 outer edge."""
    a = 0.021 + s * 0.007
    upper = np.sin(phi) > 0
    b = np.where(upper, 0.0016 + s * 0.0075, 0.0016 + s * 0.009)
    x = a * np.cos(phi)
    y = MOUTH_Y + b * np.sin(phi)
    z = head_surface_z(x, y) + 0.0035 * np.sin(math.pi * s) + 0.001 - depth
    return np.stack([x, y, z], -1)


def build_mouth() -> list[Part]:
    nu, nv = 40, 4
    phi = np.tile(np.linspace(0, 2 * math.pi, nu, endpoint=False), nv + 1)
    s = np.repeat(np.linspace(0, 1, nv + 1), nu)
    lips_pos = mouth_point(phi, s)
    lips = Part("lips", "lips", lips_pos, np.tile([0.0, 0.0, 1.0], (len(phi), 1)),
                grid_indices(nu, nv, True)[::-1].copy(), {"phi": phi, "s": s})
    # the mouth's inside: a dark cup behind the inner lip edge
    ring_phi = np.linspace(0, 2 * math.pi, nu, endpoint=False)
    depth = np.array([0.0, 0.012, 0.022])
    inner = []
    for k, d in enumerate(depth):
        shrink = 1.0 - 0.35 * k
        p = mouth_point(ring_phi, np.zeros(nu), d)
        p[:, 0] *= shrink
        p[:, 1] = MOUTH_Y + (p[:, 1] - MOUTH_Y) * shrink
        inner.append(p)
    cup = np.concatenate([*inner, [[0, MOUTH_Y, inner[-1][0, 2] - 0.004]]])
    tris = list(grid_indices(nu, len(depth) - 1, True).reshape(-1, 3))
    last = (len(depth) - 1) * nu
    tris += [(last + k, len(cup) - 1, last + (k + 1) % nu) for k in range(nu)]
    cup_phi = np.concatenate([ring_phi] * len(depth) + [[0.0]])
    cup_depth = np.concatenate([np.full(nu, d) for d in depth] + [[depth[-1]]])
    mouth = Part("mouth", "mouth", cup, np.tile([0.0, 0.0, 1.0], (len(cup), 1)),
                 np.array(tris, np.uint32).ravel(), {"phi": cup_phi, "depth": cup_depth})
    # upper teeth: a white band just behind the upper lip, seen when the mouth opens
    tx = np.linspace(-0.016, 0.016, 9)
    top = np.stack([tx, np.full(9, MOUTH_Y + 0.001), head_surface_z(tx, MOUTH_Y) - 0.004], -1)
    bot = np.add(top, [0, -0.0055, 0.0])
    teeth_pos = np.concatenate([top, bot])
    ttris = [(k, k + 9, k + 1) for k in range(8)] + [(k + 1, k + 9, k + 10) for k in range(8)]
    teeth = Part("teeth", "teeth", teeth_pos, np.tile([0.0, 0.0, 1.0], (18, 1)),
                 np.array(ttris, np.uint32).ravel())
    tp, tn, ti, _, _ = ellipsoid([0, MOUTH_Y - 0.004, head_surface_z(0, MOUTH_Y) - 0.016],
                                 [0.011, 0.004, 0.012], 16, 8)
    tongue = Part("tongue", "tongue", tp, tn, ti)
    return [lips, mouth, teeth, tongue]


def build_cheeks() -> Part:
    """Blush discs: they show cheek raises (squint, smile) that would be hard to see."""
    parts, sides = [], []
    for side in EYES:
        c = np.array([side * 0.058, 1.447, 0.0])
        c[2] = float(head_surface_z(c[0], c[1])) - 0.0005
        p, n, i, _, _ = ellipsoid([0, 0, 0], [0.014, 0.009, 0.0015], 14, 6)
        direction = np.array([c[0] / HEAD_R[0] ** 2, (c[1] - HEAD_C[1]) / HEAD_R[1] ** 2,
                              c[2] / HEAD_R[2] ** 2])
        yaw = math.atan2(direction[0], direction[2])
        rot = np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0],
                        [-math.sin(yaw), 0, math.cos(yaw)]])
        parts.append((p @ rot.T + c, n @ rot.T, i))
        sides.append(np.full(len(p), side))
    return Part("cheeks", "cheek", *merge(parts), params={"side": np.concatenate(sides)})


def build_body() -> Part:
    torso = ellipsoid([0, 1.17, -0.01], [0.2, 0.17, 0.11], 36, 18, polar=(0, math.pi * 0.62))
    collar = ellipsoid([0, 1.30, -0.005], [0.062, 0.03, 0.06], 20, 6)
    pos, nrm, idx = merge([torso[:3], collar[:3]])
    return Part("body", "shirt", pos, nrm, idx)


# --- morphs -----------------------------------------------------------------------------------
# Sizes read at a glance on a head this size (0.24 m tall, eyes 76 mm apart, brows 7 mm
# thick), as on the reference characters of ARKit's and VRM's documentation: at weight 1 a
# lowered brow's inner end drops 19 mm and the brow slants (a raised one 17 mm the other way),
# a smiling mouth corner goes 13 mm up and 6 mm out, a frowning one 13 mm down, the blush rises
# 7 mm with a cheek squint, lids cover or bare the iris; so the 0.3 to 0.7 that real faces give
# still show plainly (tests/browser/test_avatar_expressive.py looks at them). Brows, lips and
# blush slide over the head (see `slide`) rather than in straight lines, which would sink
# them into the skin.


def smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def corner(phi: np.ndarray, side: int, power: float = 2.0) -> np.ndarray:
    """Weight of a lip vertex belonging to the `side` mouth corner (+1: character's left)."""
    return np.clip(side * np.cos(phi), 0, None) ** power


def slide(pos: np.ndarray, dx=0.0, dy=0.0, dz=0.0) -> np.ndarray:
    """Offsets moving points by (dx, dy) over the front of the head, each keeping its height
    above the skin (plus dz); dx, dy, dz are numbers or one per point.

    Half-way between following the curved surface and its tangent plane: morphs add up, and
    two opposite slides (a brow pulled down and up at once) would otherwise sink into the
    head by the surface's curvature; this way a single one lifts a hair off it instead.
    """
    x, y = pos[:, 0], pos[:, 1]
    dx, dy, dz = (np.broadcast_to(np.asarray(v, float), x.shape) for v in (dx, dy, dz))
    here, eps = head_surface_z(x, y), 1e-4
    tangent = ((head_surface_z(x + eps, y) - here) * dx + (head_surface_z(x, y + eps) - here)
               * dy) / eps
    curved = head_surface_z(x + dx, y + dy) - here
    return np.stack([dx, dy, 0.5 * (tangent + curved) + dz], -1)


def morphs(parts: dict[str, Part]) -> dict[str, dict[str, np.ndarray]]:
    """For each ARKit morph: the vertex offsets per part (parts not listed do not move)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    lips, mouth = parts["lips"], parts["mouth"]
    skin = parts["skin"].pos
    lip_phi, mouth_phi = lips.params["phi"], mouth.params["phi"]
    lower_lip = np.clip(-np.sin(lip_phi), 0, None)
    upper_lip = np.clip(np.sin(lip_phi), 0, None)
    lower_cup = np.clip(-np.sin(mouth_phi), 0, None) * (mouth.params["depth"] < 0.02)
    chin = smooth((MOUTH_Y - 0.004 - skin[:, 1]) / 0.02) * smooth(1 - np.abs(skin[:, 0]) / 0.08
                                                                   ) * (skin[:, 2] > 0.0)
    zeros = np.zeros

    def d(part: str, dx=0.0, dy=0.0, dz=0.0, w=1.0) -> np.ndarray:
        n = len(parts[part].pos)
        delta = zeros((n, 3))
        delta[:, 0], delta[:, 1], delta[:, 2] = dx, dy, dz
        return delta * np.asarray(w, float).reshape(-1, 1) if np.ndim(w) else delta * w

    def jaw(dy: float, dx: float = 0.0, dz: float = 0.0) -> dict[str, np.ndarray]:
        return {
            "skin": d("skin", dx, dy, dz, chin),
            "lips": d("lips", dx, dy, dz, lower_lip),
            "mouth": d("mouth", dx, dy, dz, lower_cup),
            "tongue": d("tongue", dx, dy * 0.7, dz),
        }

    def lips_and_cup(w_lip, w_cup, dx=0.0, dy=0.0, dz=0.0) -> dict[str, np.ndarray]:
        """The lips (weighted by w_lip) and the mouth's inside (w_cup) slid over the face."""
        return {"lips": slide(lips.pos, dx * w_lip, dy * w_lip, dz * w_lip),
                "mouth": slide(mouth.pos, dx * w_cup, dy * w_cup, dz * w_cup)}

    out["jawOpen"] = jaw(-0.024)
    out["jawForward"] = jaw(0.0, 0.0, 0.007)
    out["jawLeft"] = jaw(0.0, 0.009)
    out["jawRight"] = jaw(0.0, -0.009)
    out["mouthClose"] = {"lips": d("lips", 0, 0.010, 0.002, lower_lip)
                         + d("lips", 0, -0.004, 0.002, upper_lip)}
    s = lips.params["s"]
    for side, suffix in ((1, "Left"), (-1, "Right")):
        c_lip, c_cup = corner(lip_phi, side), corner(mouth_phi, side)
        # corners up and out in a U, the cheeks riding up with them
        out["mouthSmile" + suffix] = {**lips_and_cup(c_lip, c_cup, side * 0.006, 0.013),
                                      **cheek_raise(parts, side, 0.003)}
        out["mouthFrown" + suffix] = lips_and_cup(c_lip, c_cup, side * 0.002, -0.013)
        out["mouthStretch" + suffix] = lips_and_cup(c_lip, c_cup, side * 0.009, -0.003)
        out["mouthDimple" + suffix] = lips_and_cup(c_lip, c_cup, side * 0.005, 0.002, -0.0005)
        half = np.clip(side * np.cos(lip_phi) + 0.3, 0, 1)
        half_cup = np.clip(side * np.cos(mouth_phi) + 0.3, 0, 1)
        out["mouthPress" + suffix] = {"lips": d("lips", 0, -0.004, 0, half * upper_lip * s)
                                      + d("lips", 0, 0.004, 0, half * lower_lip * s)}
        out["mouthLowerDown" + suffix] = lips_and_cup(half * lower_lip, half_cup * lower_cup,
                                                      0, -0.009)
        out["mouthUpperUp" + suffix] = lips_and_cup(half * upper_lip, zeros(len(mouth_phi)),
                                                    0, 0.007)
        out["browDown" + suffix] = brow_move(parts, side, inner=-0.019, outer=-0.002,
                                             inward=0.005)
        out["browOuterUp" + suffix] = brow_move(parts, side, inner=0.002, outer=0.012,
                                                inward=-0.001)
        out["cheekSquint" + suffix] = {**cheek_raise(parts, side, 0.007),
                                       **lid_move(parts, side, lower=math.radians(56))}
        out["noseSneer" + suffix] = sneer(parts, side)
        # the upper lid comes down and the lower one up; they meet below the eye's middle
        out["eyeBlink" + suffix] = lid_move(parts, side, math.radians(106), math.radians(74),
                                            bulge=0.08)
        out["eyeSquint" + suffix] = {**lid_move(parts, side, math.radians(70),
                                                math.radians(78)),
                                     **cheek_raise(parts, side, 0.004)}
        out["eyeWide" + suffix] = lid_raise(parts, side, 0.4 * EYE_R)
        for direction, (yaw, pitch) in (("Up", (0, 1)), ("Down", (0, -1)),
                                        ("In", (-side, 0)), ("Out", (side, 0))):
            out[f"eyeLook{direction}{suffix}"] = gaze(parts, side, yaw * 0.35, pitch * 0.25)
    inner_up = {k: brow_move(parts, side, inner=0.017, outer=-0.003, inward=0.0015)["brows"]
                for k, side in (("l", 1), ("r", -1))}
    out["browInnerUp"] = {"brows": inner_up["l"] + inner_up["r"]}
    out["cheekPuff"] = {"skin": d("skin", 0, 0, 0, 0)
                        + np.stack([np.sign(skin[:, 0]) * 0.012, zeros(len(skin)),
                                    np.full(len(skin), 0.004)], -1)
                        * smooth(1 - np.hypot(np.abs(skin[:, 0]) - 0.06,
                                              skin[:, 1] - 1.415) / 0.035)[:, None]}
    pucker_x = -lips.pos[:, 0] + lips.pos[:, 0] * 0.45
    out["mouthPucker"] = {
        "lips": np.stack([pucker_x, (lips.pos[:, 1] - MOUTH_Y) * 0.3,
                          np.full(len(lip_phi), 0.008)], -1),
        "mouth": np.stack([-mouth.pos[:, 0] * 0.55, zeros(len(mouth_phi)),
                           np.full(len(mouth_phi), 0.007)], -1),
    }
    out["mouthFunnel"] = {
        "lips": np.stack([-lips.pos[:, 0] * 0.4, np.sin(lip_phi) * 0.006 * (1 - lips.params["s"])
                          + (lips.pos[:, 1] - MOUTH_Y) * 0.4, np.full(len(lip_phi), 0.006)], -1),
        "mouth": np.stack([-mouth.pos[:, 0] * 0.4, np.sin(mouth_phi) * 0.006,
                           np.full(len(mouth_phi), 0.005)], -1),
    }
    for name, dx in (("mouthLeft", 0.009), ("mouthRight", -0.009)):
        out[name] = lips_and_cup(1.0, 1.0, dx)
    out["mouthRollLower"] = {"lips": d("lips", 0, 0.006, -0.003, lower_lip * s)}
    out["mouthRollUpper"] = {"lips": d("lips", 0, -0.005, -0.003, upper_lip * s)}
    out["mouthShrugLower"] = {"lips": d("lips", 0, 0.004, 0.002, lower_lip),
                              "skin": d("skin", 0, 0.003, 0.002, chin)}
    out["mouthShrugUpper"] = {"lips": d("lips", 0, 0.003, 0.001, upper_lip)}
    out["tongueOut"] = {"tongue": d("tongue", 0, -0.006, 0.024), **jaw(-0.012)}
    out["tongueOut"]["tongue"] = d("tongue", 0, -0.012, 0.024)
    return out


def brow_move(parts: dict[str, Part], side: int, inner: float, outer: float,
              inward: float = 0.0) -> dict[str, np.ndarray]:
    """One brow slid over the forehead: its inner end `inner` metres up, its outer end
    `outer`, in between a curve; the inner end also `inward` towards the nose."""
    brows = parts["brows"]
    mine = brows.params["side"] == side
    t = brows.params["t"]
    dy = inner * (1 - t) ** 1.3 + outer * t ** 1.3
    dx = -side * inward * (1 - t)
    delta = slide(brows.pos, dx, dy)
    delta[~mine] = 0
    return {"brows": delta}


def cheek_raise(parts: dict[str, Part], side: int, dy: float) -> dict[str, np.ndarray]:
    """The cheek under one eye pushed up: its blush slides up and widens a little. (The skin
    under it is all one colour: moving it would show nothing.)"""
    cheeks = parts["cheeks"]
    mine = cheeks.params["side"] == side
    centre = cheeks.pos[mine].mean(axis=0)
    spread = (cheeks.pos[:, 0] - centre[0]) * 0.12 * dy / 0.007
    delta = slide(cheeks.pos, spread, dy)
    delta[~mine] = 0
    return {"cheeks": delta}


def lid_move(parts: dict[str, Part], side: int, upper: float | None = None,
             lower: float | None = None, bulge: float = 0.0) -> dict[str, np.ndarray]:
    """One eye's lids moved to reach `upper` radians down from the top and `lower` up from
    the bottom (None: that lid stays)."""
    lids, lashes = parts["lids"], parts["lashes"]
    delta = np.zeros_like(lids.pos)
    for is_lower, reach, rest in ((False, upper, LID_OPEN), (True, lower, LOWER_OPEN)):
        if reach is None:
            continue
        mine = (lids.params["side"] == side) & (lids.params["lower"] == is_lower)
        u, b = lids.params["u"][mine], lids.params["b"][mine]
        delta[mine] = (lid_positions(side, u, b, reach, is_lower, bulge)
                       - lid_positions(side, u, b, rest, is_lower))
    out = {"lids": delta}
    if upper is not None:
        mine = lashes.params["side"] == side
        u, b = lashes.params["u"][mine], lashes.params["b"][mine]
        out["lashes"] = np.zeros_like(lashes.pos)
        out["lashes"][mine] = (lid_positions(side, u, b, upper, False, bulge, LASH_LIFT)
                               - lid_positions(side, u, b, LID_OPEN, False, 0.0, LASH_LIFT))
    return out


def lid_raise(parts: dict[str, Part], side: int, dy: float) -> dict[str, np.ndarray]:
    """One upper lid (and its lashes) drawn straight up, baring the white over the iris. Not
    turned about the eye as a blink turns it: added to a half blink, the two would cut
    through the eye. The lower lid stays, for the same reason (the squints raise it)."""
    lids, lashes = parts["lids"], parts["lashes"]
    up = (lids.params["side"] == side) & ~lids.params["lower"]
    return {"lids": np.outer(up, [0, dy, 0]),
            "lashes": np.outer(lashes.params["side"] == side, [0, dy, 0])}


def sneer(parts: dict[str, Part], side: int) -> dict[str, np.ndarray]:
    """One side of the nose drawn up and out (the nostril flares), the lip under it lifted."""
    skin = parts["skin"]
    rel = (skin.pos - NOSE_C) / NOSE_R
    w = skin.params["nose"] * smooth(0.5 + side * rel[:, 0]) * smooth(0.7 - 0.5 * rel[:, 1])
    nose = np.stack([side * 0.005 * w, 0.006 * w, -0.001 * w], -1)
    lips = parts["lips"]
    lift = (np.clip(side * np.cos(lips.params["phi"]) + 0.6, 0, 1) ** 2
            * np.clip(np.sin(lips.params["phi"]), 0, None))
    return {"skin": nose, "lips": slide(lips.pos, 0, 0.004 * lift)}


def gaze(parts: dict[str, Part], side: int, yaw: float, pitch: float) -> dict[str, np.ndarray]:
    """Turn one eye's iris and pupil (a rotation about the eye's centre, as offsets)."""
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    rot = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]) @ np.array(
        [[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
    out = {}
    for name in ("iris", "pupil"):
        part = parts[name]
        mine = part.params["side"] == side
        rel = part.pos - EYES[side]
        moved = rel @ rot.T - rel
        moved[~mine] = 0
        out[name] = moved
    return out


# --- glTF writing -----------------------------------------------------------------------------


class GlbWriter:
    """Accumulates binary data and glTF JSON objects; writes one .glb/.vrm file."""

    def __init__(self) -> None:
        self.bin = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def _view(self, data: bytes, target: int | None = None) -> int:
        while len(self.bin) % 4:
            self.bin.append(0)
        view = {"buffer": 0, "byteOffset": len(self.bin), "byteLength": len(data)}
        if target:
            view["target"] = target
        self.bin += data
        self.views.append(view)
        return len(self.views) - 1

    def vec3(self, values: np.ndarray, bounds: bool = True, target: int = 34962) -> int:
        arr = np.ascontiguousarray(values, np.float32)
        acc = {"bufferView": self._view(arr.tobytes(), target), "componentType": 5126,
               "count": len(arr), "type": "VEC3"}
        if bounds:
            acc["min"] = [round(float(v), 6) for v in arr.min(axis=0)]
            acc["max"] = [round(float(v), 6) for v in arr.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def indices(self, idx: np.ndarray) -> int:
        arr = np.ascontiguousarray(idx, np.uint32)
        self.accessors.append({"bufferView": self._view(arr.tobytes(), 34963),
                               "componentType": 5125, "count": len(arr), "type": "SCALAR"})
        return len(self.accessors) - 1

    def morph(self, delta: np.ndarray) -> int:
        """A morph target's offsets: sparse when few vertices move, all zeros when none."""
        arr = np.ascontiguousarray(np.round(delta, 7), np.float32)
        moving = np.flatnonzero(np.abs(arr).max(axis=1) > 1e-7)
        acc: dict = {"componentType": 5126, "count": len(arr), "type": "VEC3"}
        lo = arr.min(axis=0) if len(moving) else np.zeros(3)
        hi = arr.max(axis=0) if len(moving) else np.zeros(3)
        acc["min"] = [round(float(v), 7) for v in lo]
        acc["max"] = [round(float(v), 7) for v in hi]
        if len(moving) and len(moving) > 0.6 * len(arr):
            acc["bufferView"] = self._view(arr.tobytes())
        elif len(moving):
            acc["sparse"] = {
                "count": len(moving),
                "indices": {"bufferView": self._view(moving.astype(np.uint32).tobytes()),
                            "componentType": 5125},
                "values": {"bufferView": self._view(arr[moving].tobytes())},
            }
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def glb(self, doc: dict) -> bytes:
        doc["buffers"] = [{"byteLength": len(self.bin)}]
        doc["bufferViews"] = self.views
        doc["accessors"] = self.accessors
        text = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        text += b" " * (-len(text) % 4)
        body = bytes(self.bin) + b"\0" * (-len(self.bin) % 4)
        total = 12 + 8 + len(text) + 8 + len(body)
        return b"".join([struct.pack("<4sII", b"glTF", 2, total),
                         struct.pack("<I4s", len(text), b"JSON"), text,
                         struct.pack("<I4s", len(body), b"BIN\0"), body])


BONES = [  # name, parent, local translation
    ("hips", None, (0, 0.95, 0)), ("spine", "hips", (0, 0.08, 0)),
    ("chest", "spine", (0, 0.12, 0)), ("upperChest", "chest", (0, 0.08, 0)),
    ("neck", "upperChest", (0, 0.09, 0)), ("head", "neck", (0, 0.08, 0)),
    ("leftEye", "head", (0.038, 0.09, 0.087)), ("rightEye", "head", (-0.038, 0.09, 0.087)),
    ("leftUpperLeg", "hips", (0.09, -0.05, 0)), ("leftLowerLeg", "leftUpperLeg", (0, -0.4, 0)),
    ("leftFoot", "leftLowerLeg", (0, -0.42, 0)),
    ("rightUpperLeg", "hips", (-0.09, -0.05, 0)),
    ("rightLowerLeg", "rightUpperLeg", (0, -0.4, 0)), ("rightFoot", "rightLowerLeg", (0, -0.42, 0)),
    ("leftUpperArm", "upperChest", (0.17, 0.06, 0)), ("leftLowerArm", "leftUpperArm", (0.25, 0, 0)),
    ("leftHand", "leftLowerArm", (0.24, 0, 0)),
    ("rightUpperArm", "upperChest", (-0.17, 0.06, 0)),
    ("rightLowerArm", "rightUpperArm", (-0.25, 0, 0)),
    ("rightHand", "rightLowerArm", (-0.24, 0, 0)),
]


def world_position(bone: str) -> np.ndarray:
    table = {name: (parent, np.array(t, float)) for name, parent, t in BONES}
    pos = np.zeros(3)
    while bone is not None:
        parent, t = table[bone]
        pos += t
        bone = parent
    return pos


def expand(mix: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, w in mix.items():
        if name in ARKIT:
            out[name] = w
        else:
            for suffix in ("Left", "Right"):
                out[name + suffix] = w
    return out


def build(vrm: bool = True) -> bytes:
    parts_list = [build_skin(), build_hair(), *build_eyes(), build_lids(), build_lashes(),
                  build_brows(), *build_mouth(), build_cheeks()]
    parts = {p.name: p for p in parts_list}
    offsets = morphs(parts)
    missing = set(ARKIT) - set(offsets)
    assert not missing, f"morphs not written: {sorted(missing)}"
    w = GlbWriter()
    materials, mat_index = [], {}
    for name, rgb in COLOURS.items():
        mat_index[name] = len(materials)
        materials.append({"name": name, "doubleSided": name not in ("skin", "shirt"),
                          "pbrMetallicRoughness": {"baseColorFactor": [*rgb, 1.0],
                                                   "metallicFactor": 0.0,
                                                   "roughnessFactor": 0.85}})
    assert np.allclose(world_position("head"), HEAD_BONE), "face and head bone disagree"
    assert all(np.allclose(world_position(b), EYES[s]) for b, s in (("leftEye", 1),
                                                                    ("rightEye", -1)))
    face_prims = []
    for part in parts_list:
        local = part.pos - HEAD_BONE
        prim = {"attributes": {"POSITION": w.vec3(local), "NORMAL": w.vec3(part.nrm, False)},
                "indices": w.indices(part.idx), "material": mat_index[part.material],
                "targets": []}
        for name in ARKIT:
            delta = offsets[name].get(part.name)
            prim["targets"].append({"POSITION": w.morph(
                delta if delta is not None else np.zeros_like(local))})
        face_prims.append(prim)
    body = build_body()
    chest_world = world_position("chest")
    body_prim = {"attributes": {"POSITION": w.vec3(body.pos - chest_world),
                                "NORMAL": w.vec3(body.nrm, False)},
                 "indices": w.indices(body.idx), "material": mat_index["shirt"]}
    meshes = [{"name": "Face", "primitives": face_prims, "weights": [0.0] * len(ARKIT),
               "extras": {"targetNames": list(ARKIT)}},
              {"name": "Body", "primitives": [body_prim]}]
    nodes: list[dict] = [{"name": "Mimic", "children": []}]
    index = {}
    for name, parent, t in BONES:
        index[name] = len(nodes)
        nodes.append({"name": name, "translation": [float(v) for v in t]})
        if parent is None:
            nodes[0]["children"].append(index[name])
        else:
            nodes[index[parent]].setdefault("children", []).append(index[name])
    face_node = len(nodes)
    nodes.append({"name": "Face", "mesh": 0})
    nodes[index["head"]].setdefault("children", []).append(face_node)
    nodes.append({"name": "Body", "mesh": 1})
    nodes[index["chest"]].setdefault("children", []).append(len(nodes) - 1)
    doc: dict = {
        "asset": {"version": "2.0", "generator": "Mimic make_avatar.py"},
        "scene": 0, "scenes": [{"name": "Mimic", "nodes": [0]}],
        "nodes": nodes, "meshes": meshes, "materials": materials,
    }
    if vrm:
        doc["extensionsUsed"] = ["VRMC_vrm"]
        doc["extensions"] = {"VRMC_vrm": vrm_extension(index, face_node)}
    return w.glb(doc)


def vrm_extension(index: dict[str, int], face_node: int) -> dict:
    presets = {"neutral": {"morphTargetBinds": []}}
    for name, mix in EXPRESSIONS.items():
        binds = [{"node": face_node, "index": ARKIT.index(m), "weight": float(wt)}
                 for m, wt in sorted(expand(mix).items())]
        presets[name] = {"morphTargetBinds": binds, "isBinary": False}
        if name in ("happy", "angry", "sad", "relaxed", "surprised"):
            presets[name]["overrideBlink"] = "blend"
    return {
        "specVersion": "1.0",
        "meta": {
            "name": "Mimic", "version": "1", "authors": ["Mimic contributors"],
            "copyrightInformation": "Generated by Mimic's scripts/make_avatar.py",
            "licenseUrl": "https://vrm.dev/licenses/1.0/",
            "avatarPermission": "everyone", "allowExcessivelyViolentUsage": False,
            "allowExcessivelySexualUsage": False, "commercialUsage": "corporation",
            "allowPoliticalOrReligiousUsage": True, "allowAntisocialOrHateUsage": False,
            "creditNotation": "unnecessary", "allowRedistribution": True,
            "modification": "allowModificationRedistribution",
        },
        "humanoid": {"humanBones": {name: {"node": i} for name, i in index.items()}},
        "lookAt": {
            "type": "expression", "offsetFromHeadBone": [0.0, 0.09, 0.08],
            "rangeMapHorizontalInner": {"inputMaxValue": 30.0, "outputScale": 1.0},
            "rangeMapHorizontalOuter": {"inputMaxValue": 30.0, "outputScale": 1.0},
            "rangeMapVerticalDown": {"inputMaxValue": 25.0, "outputScale": 1.0},
            "rangeMapVerticalUp": {"inputMaxValue": 25.0, "outputScale": 1.0},
        },
        "expressions": {"preset": presets, "custom": {}},
    }


def ensure(out: Path = DEFAULT_OUT) -> Path:
    """Write the built-in avatar if it is missing or older than this script."""
    if not out.exists() or out.stat().st_mtime < Path(__file__).stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(build(vrm=True))
        tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--arkit-only", action="store_true",
                    help="plain glTF binary with ARKit morphs, no VRM extension")
    args = ap.parse_args(argv)
    data = build(vrm=not args.arkit_only)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data) / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
