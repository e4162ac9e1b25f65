"""The built-in avatar's morph targets (scripts/make_avatar.py): the 52 ARKit shapes as vertex
offsets on the parts of avatar_geometry, each sliding features over the head's surface.
Split from make_avatar.py, which writes the file."""

from __future__ import annotations

import math

import numpy as np

from avatar_geometry import (
    EYE_R,
    EYES,
    LASH_LIFT,
    LID_OPEN,
    LOWER_OPEN,
    MOUTH_Y,
    NOSE_C,
    NOSE_R,
    Part,
    head_surface_z,
    lid_positions,
)


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
