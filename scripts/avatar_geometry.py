"""The built-in avatar's geometry (scripts/make_avatar.py): head, hair, eyes with lids and
lashes, brows, lips, teeth and tongue, cheeks and a bust, as numpy meshes in metres, the
character facing +Z with its left at +X. Split from make_avatar.py, which writes the file."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

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
