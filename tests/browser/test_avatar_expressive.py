"""The built-in avatar's expressions read at a glance: each moves its part of the face visibly.

Driven by real faces, MediaPipe's weights are moderate (an angry brow 0.7, a sad one 0.3, a
frown 0.4), so the character's morphs must show them plainly. Each case below (a VRM preset,
ARKit weights typical of an emotion, or one ARKit morph) is rendered in the real page and
compared with the neutral face region by region: the regions that should move must change
visibly, and the right way (brows down or up, mouth corners up or down); the ones that should
not must stay as they were, and the brows must stay in sight (not sink into the forehead).

Regions are boxes on the face in the avatar's own coordinates (from scripts/make_avatar.py's
geometry), projected with the page's three.js camera, so they follow wherever the head is
drawn. The camera is moved in front of the face for these pictures (and put back), so they
do not depend on the page's framing either.
"""

from __future__ import annotations

import base64
import io
import textwrap

import numpy as np
from PIL import Image, ImageDraw

import harness
import make_avatar

# What "changed" means for one pixel: its colour moved by more than 12 levels (0-255, the
# mean over R, G and B), a difference one sees at once next to the unchanged picture.
PIXEL_CHANGED = 12
# A region is a few centimetres of face around one feature and the room it moves in: a brow
# (5 x 3.5 cm), one eye, one mouth corner, the nose, one cheek. At the case's weights at least
# 8% of each region that should move must have changed; as the features cover 10-40% of their
# region, that is a feature shifted by a good part of its own size (a brow by 2 mm, as its
# 7 mm are dark on light skin; a lid by a third of the iris; lips and blush, less contrasted,
# by more). A single morph at 0.3 (a subtle real expression) must already change 3%. The
# old avatar stays under these for its eyelids, cheeks, sneer and sad brows.
MOVES_FULL = 0.08
MOVES_MODERATE = 0.03
# Regions the case's morphs do not touch: at most a neighbour's edge creeping in.
STILL = 0.01
# Brows must not vanish into the forehead: their dark pixels stay at least this share.
BROWS_SEEN = 0.8

# Features that must move the right way, and how far (mm on the face; + up, - down), seen on
# the picture as the middle of the feature's own pixels in its region: the inner and outer
# halves of the brows, the lips near each mouth corner, and the brows' tilt (the inner half's
# move less the outer half's), which tells anger (inner ends down: a V) from worry and sadness
# (inner ends up). Both sides must pass. The sizes are what reads at a glance on a head 24 cm
# tall (brows 7 mm thick, a mouth 56 mm wide), about 70% of what this avatar does; the old
# one did less for most (its smile lifted the corners 3.5 mm, its lowered brows did not tilt).
# For a single morph at 0.3 the floor is 0.3 of its size.

# label, weights (VRM expressions or ARKit morphs; "L"/"R"-less names mean both sides),
# regions that must move, regions that must stay, {feature: signed size in mm}.
CASES = [
    ("happy", {"happy": 1}, ("mouth corners", "cheeks", "eyes"), ("brows",),
     {"mouth corners": 5.0}),
    ("angry", {"angry": 1}, ("brows", "mouth corners", "nose"), (),
     {"inner brows": -8.0, "brow tilt": -4.0, "mouth corners": -2.5}),
    ("sad", {"sad": 1}, ("brows", "mouth corners"), (),
     {"inner brows": 8.0, "brow tilt": 7.0, "mouth corners": -4.0}),
    ("relaxed", {"relaxed": 1}, ("mouth corners", "eyes"), ("brows",), {"mouth corners": 2.5}),
    ("surprised", {"surprised": 1}, ("brows", "eyes", "mouth"), (),
     {"inner brows": 8.0, "outer brows": 5.5}),
    ("aa", {"aa": 1}, ("mouth",), ("brows", "eyes"), {}),
    ("ou", {"ou": 1}, ("mouth corners",), ("brows", "eyes"), {}),
    ("ee", {"ee": 1}, ("mouth corners",), ("brows", "eyes"), {}),
    ("blink", {"blink": 1}, ("eyes",), ("mouth", "nose", "brows"), {}),
    ("ARKit angry", {"browDown": 0.7, "noseSneer": 0.4, "mouthFrown": 0.4},
     ("brows", "nose", "mouth corners"), (),
     {"inner brows": -6.5, "brow tilt": -4.0, "mouth corners": -1.5}),
    ("ARKit happy", {"mouthSmile": 0.9, "cheekSquint": 0.5}, ("mouth corners", "cheeks"),
     ("brows",), {"mouth corners": 4.0}),
    ("ARKit sad", {"browInnerUp": 0.4, "mouthFrown": 0.5}, ("brows", "mouth corners"),
     ("eyes",), {"inner brows": 3.2, "brow tilt": 3.0, "mouth corners": -2.3}),
    ("ARKit surprised", {"browInnerUp": 0.8, "browOuterUp": 0.8, "eyeWide": 0.8,
                         "jawOpen": 0.4}, ("brows", "eyes", "mouth"), (),
     {"inner brows": 8.0, "outer brows": 5.5}),
    ("ARKit fearful", {"browInnerUp": 0.7, "eyeWide": 0.6, "mouthStretch": 0.5, "jawOpen": 0.2},
     ("brows", "eyes", "mouth corners"), (), {"inner brows": 5.5, "brow tilt": 5.0}),
    ("browDown", {"browDown": 1}, ("brows",), ("mouth", "nose"),
     {"inner brows": -8.0, "brow tilt": -4.5}),
    ("browInnerUp", {"browInnerUp": 1}, ("brows",), ("mouth", "nose"),
     {"inner brows": 8.0, "brow tilt": 7.0}),
    ("browOuterUp", {"browOuterUp": 1}, ("brows",), ("mouth", "nose"),
     {"outer brows": 6.0, "brow tilt": -3.5}),
    ("eyeSquint", {"eyeSquint": 1}, ("eyes",), ("mouth", "brows"), {}),
    ("eyeWide", {"eyeWide": 1}, ("eyes",), ("mouth", "brows"), {}),
    ("eyeBlink", {"eyeBlink": 1}, ("eyes",), ("mouth", "brows"), {}),
    ("mouthSmile", {"mouthSmile": 1}, ("mouth corners",), ("brows", "eyes"),
     {"mouth corners": 4.5}),
    ("mouthFrown", {"mouthFrown": 1}, ("mouth corners",), ("brows", "eyes", "cheeks"),
     {"mouth corners": -4.5}),
    ("noseSneer", {"noseSneer": 1}, ("nose",), ("brows", "eyes"), {}),
    ("cheekSquint", {"cheekSquint": 1}, ("cheeks",), ("mouth", "brows"), {}),
]
SCALES = (0.3, 0.6, 1.0)  # the grid's columns after neutral; 1.0 is the case as written


def _sides(box: tuple[float, float, float, float]) -> list[tuple[float, float, float, float]]:
    x0, x1, y0, y1 = box
    return [(x0, x1, y0, y1), (-x1, -x0, y0, y1)]


def regions() -> dict[str, list[tuple[float, float, float, float]]]:
    """Name -> boxes (x0, x1, y0, y1 in metres, the avatar's own frame), one per side."""
    brows = make_avatar.build_brows()
    left = brows.pos[brows.params["side"] > 0]
    ex, ey, _ = make_avatar.EYES[1]
    eye_r = make_avatar.LID_R
    eye_top = ey + eye_r + 0.002
    mouth_y = make_avatar.MOUTH_Y
    lips = make_avatar.build_mouth()[0].pos
    corner_x = float(lips[:, 0].max())
    return {
        # a brow and the room it moves in: down to just over the eye, up 14 mm
        "brows": _sides((float(left[:, 0].min()) - 0.006, float(left[:, 0].max()) + 0.004,
                         eye_top, float(left[:, 1].max()) + 0.014)),
        "eyes": _sides((ex - 1.1 * eye_r, ex + 1.1 * eye_r, ey - 1.1 * eye_r, eye_top)),
        "mouth corners": _sides((corner_x - 0.013, corner_x + 0.009, mouth_y - 0.016,
                                 mouth_y + 0.016)),
        "mouth": [(-corner_x, corner_x, mouth_y - 0.034, mouth_y + 0.012)],
        "nose": [(-0.024, 0.024, 1.44, 1.474)],
        "cheeks": _sides((0.040, 0.076, 1.432, 1.468)),
    }


RENDER = """([weights, points, view]) => {
  const a = window.mimicAvatar, cur = a.current, vrm = cur.vrm, m = vrm.expressionManager;
  a.hold = true;
  vrm.humanoid.resetNormalizedPose();  // head straight, no idle motion: the same every time
  const look = vrm.lookAt, target = look && look.target;  // eyes straight ahead
  if (look) { look.target = null; look.yaw = 0; look.pitch = 0; }
  for (const e of m.expressions) m.setValue(e.expressionName, 0);
  cur.root.traverse((o) => { if (o.morphTargetInfluences) o.morphTargetInfluences.fill(0); });
  const morphs = [];
  for (const [name, w] of Object.entries(weights)) {
    if (m.getExpression(name)) m.setValue(name, w);
    else if (cur.morphs.has(name)) morphs.push([name, w]);
    else throw new Error(`the avatar has no expression or morph ${name}`);
  }
  vrm.update(0); // expressions write the morphs they bind (and clear the rest) ...
  if (look) look.target = target;
  for (const [name, w] of morphs) {  // ... so single morphs go after, as in avatar.js
    for (const [mesh, i] of cur.morphs.get(name)) mesh.morphTargetInfluences[i] = w;
  }
  if (cur.cpu) cur.cpu.update();
  // The page's camera, moved in front of the face for this picture and put back after.
  const cam = a.camera, was = [cam.position.clone(), cam.quaternion.clone()];
  const head = vrm.humanoid.getRawBoneNode("head");  // the face mesh's frame
  const V = cam.position.constructor;
  const centre = head.localToWorld(new V(...view.centre));
  const dist = view.height / 2 / Math.tan((cam.fov * Math.PI) / 360);
  cam.position.set(centre.x, centre.y, centre.z + dist);
  cam.lookAt(centre);
  cam.updateMatrixWorld();
  a.renderer.render(a.scene, cam);
  const canvas = a.renderer.domElement;
  const px = points.map(([x, y, z]) => {
    const v = head.localToWorld(new V(x, y, z)).project(cam);
    return [(v.x + 1) / 2 * canvas.width, (1 - v.y) / 2 * canvas.height];
  });
  const png = canvas.toDataURL();
  cam.position.copy(was[0]);
  cam.quaternion.copy(was[1]);
  cam.updateMatrixWorld();
  return {png, points: px};
}"""

# A close-up of the face: the view's centre (head bone frame) and height, in metres.
VIEW = {"centre": [0.0, float(make_avatar.HEAD_C[1] - make_avatar.HEAD_BONE[1]), 0.0],
        "height": 0.30}


def expand(weights: dict[str, float]) -> dict[str, float]:
    out = {}
    for name, w in weights.items():
        if name in make_avatar.ARKIT or name in make_avatar.EXPRESSIONS:
            out[name] = w
        else:
            out.update({name + "Left": w, name + "Right": w})
    return out


def render(page, weights: dict[str, float], points=()) -> tuple[np.ndarray, list]:
    """The avatar with these weights (all others 0), and where `points` (head bone frame) are
    in the picture's pixels."""
    out = page.evaluate(RENDER, [expand(weights), [list(map(float, p)) for p in points], VIEW])
    png = Image.open(io.BytesIO(base64.b64decode(out["png"].split(",", 1)[1])))
    background = Image.new("RGBA", png.size, (29, 34, 48, 255))  # the page's avatar box
    picture = Image.alpha_composite(background, png.convert("RGBA")).convert("RGB")
    return np.asarray(picture, np.int16), out["points"]


class Layout:
    """Where the regions are in the pictures (x0, x1, y0, y1 pixels), and the scale."""

    def __init__(self, page) -> None:
        names, points = [], []
        for name, boxes in regions().items():
            for x0, x1, y0, y1 in boxes:
                names.append(name)
                points += [np.array([x, y, make_avatar.head_surface_z(x, y) + 0.004])
                           - make_avatar.HEAD_BONE for x in (x0, x1) for y in (y0, y1)]
        points.append(np.array([0.0, make_avatar.MOUTH_Y, 0.1]) - make_avatar.HEAD_BONE)
        self.neutral, px = render(page, {}, points)
        h, w = self.neutral.shape[:2]
        self.boxes: dict[str, list[tuple[int, int, int, int]]] = {}
        for k, name in enumerate(names):
            xy = np.array(px[4 * k:4 * k + 4])
            x0, y0 = np.clip(np.floor(xy.min(axis=0)).astype(int), 0, [w, h])
            x1, y1 = np.clip(np.ceil(xy.max(axis=0)).astype(int), 0, [w, h])
            assert x1 - x0 >= 8 and y1 - y0 >= 8, f"the {name} region is off the picture"
            self.boxes.setdefault(name, []).append((int(x0), int(x1), int(y0), int(y1)))
        self.centre_x = px[-1][0]  # the face's middle
        x0, x1, y0, y1 = regions()["mouth"][0]
        bx = self.boxes["mouth"][0]
        self.px_per_mm = (bx[3] - bx[2]) / ((y1 - y0) * 1000)
        xs = [v for bs in self.boxes.values() for b in bs for v in b[:2]]
        ys = [v for bs in self.boxes.values() for b in bs for v in b[2:]]
        pad = (max(xs) - min(xs)) // 5
        self.crop = (max(0, min(xs) - pad), min(w, max(xs) + pad),
                     max(0, min(ys) - pad), min(h, max(ys) + pad // 2))


def changed(layout: Layout, img: np.ndarray, name: str) -> float:
    """The share of a region's pixels whose colour visibly changed; with one box per side the
    side that changed less counts, so a symmetric shape must show on both."""
    return min(float((np.abs(img[y0:y1, x0:x1] - layout.neutral[y0:y1, x0:x1]).mean(-1)
                      > PIXEL_CHANGED).mean()) for x0, x1, y0, y1 in layout.boxes[name])


def brow_pixels(img: np.ndarray) -> np.ndarray:
    return img.max(axis=-1) < 140  # dark: the skin and hair are far lighter


def lip_pixels(img: np.ndarray) -> np.ndarray:
    r, g = img[..., 0].astype(float), img[..., 1].astype(float)
    return (r - g) > 0.18 * np.maximum(r, 1)  # red: lips and the mouth's inside, not skin


def heights(layout: Layout, img: np.ndarray, feature: str) -> list[float]:
    """Per side, how high (mm, picture up) the middle of a feature's pixels is: the inner or
    outer half of a brow, or the lips near one mouth corner."""
    region = "mouth corners" if feature == "mouth corners" else "brows"
    mask = (lip_pixels if region == "mouth corners" else brow_pixels)(img)
    out = []
    for x0, x1, y0, y1 in layout.boxes[region]:
        box = np.zeros_like(mask)
        box[y0:y1, x0:x1] = True
        if feature != "mouth corners":
            mid = (x0 + x1) / 2
            near = (np.abs(np.arange(mask.shape[1]) - layout.centre_x)
                    < abs(mid - layout.centre_x))
            box &= (near if feature == "inner brows" else ~near)[None, :]
        ys = np.nonzero(mask & box)[0]
        out.append(-float(ys.mean()) / layout.px_per_mm if len(ys) else float("nan"))
    return out


def moved(layout: Layout, img: np.ndarray, base: dict) -> dict[str, list[float]]:
    """Feature -> how far (mm, up) it moved from neutral, per side; "brow tilt" is the inner
    half's move less the outer half's."""
    out = {f: [a - b for a, b in zip(heights(layout, img, f), base[f], strict=True)]
           for f in base}
    out["brow tilt"] = [a - b for a, b in zip(out["inner brows"], out["outer brows"],
                                              strict=True)]
    return out


def brows_seen(layout: Layout, img: np.ndarray) -> float:
    """The brows' dark pixels as a share of neutral's (the side that lost more)."""
    a, b = brow_pixels(img), brow_pixels(layout.neutral)
    return min(a[y0:y1, x0:x1].sum() / max(1, b[y0:y1, x0:x1].sum())
               for x0, x1, y0, y1 in layout.boxes["brows"])


def grid_image(layout: Layout, rows, path, blocks: int = 2) -> None:
    """rows: [(label, [picture per column])], each picture cropped to the face, in `blocks`
    side by side, labelled."""
    x0, x1, y0, y1 = layout.crop
    cell = (3 * (x1 - x0) // 2, 3 * (y1 - y0) // 2)
    label_w, head_h, columns = 180, 24, ["neutral"] + [f"x {s:g}" for s in SCALES]
    block_w, per_block = label_w + cell[0] * len(columns), -(-len(rows) // blocks)
    grid = Image.new("RGB", (block_w * blocks, head_h + cell[1] * per_block), "white")
    draw = ImageDraw.Draw(grid)
    for b in range(blocks):
        for c, title in enumerate(columns):
            draw.text((b * block_w + label_w + c * cell[0] + 6, 6), title, fill="black")
    for r, (label, images) in enumerate(rows):
        left, top = (r // per_block) * block_w, head_h + (r % per_block) * cell[1]
        lines = [part for line in label.split("\n") for part in textwrap.wrap(line, 27)]
        for k, line in enumerate(lines):
            draw.text((left + 6, top + cell[1] // 2 - 7 * len(lines) + 14 * k), line,
                      fill="black")
        for c, img in enumerate(images):
            tile = Image.fromarray(img[y0:y1, x0:x1].astype(np.uint8)).resize(cell, Image.LANCZOS)
            grid.paste(tile, (left + label_w + c * cell[0], top))
    grid.save(path, optimize=True)


def measure(page, artifacts=None) -> dict:
    """Every case at every scale: (label, scale) -> {"changed": {region: share of pixels},
    "moved": {feature: [mm per side]}, "brows seen": share}; the grid picture if asked."""
    layout = Layout(page)
    base = {f: heights(layout, layout.neutral, f)
            for f in ("inner brows", "outer brows", "mouth corners")}
    out, rows = {}, []
    for label, weights, _moves, _still, _directions in CASES:
        images = [layout.neutral]
        for scale in SCALES:
            img, _ = render(page, {k: v * scale for k, v in weights.items()})
            images.append(img)
            out[label, scale] = {
                "changed": {name: changed(layout, img, name) for name in layout.boxes},
                "moved": moved(layout, img, base),
                "brows seen": brows_seen(layout, img),
            }
        text = ", ".join(f"{k} {v:g}" for k, v in weights.items())
        rows.append((f"{label}\n{text}" if label != text.split(" ")[0] else label, images))
    if artifacts is not None:
        grid_image(layout, rows, artifacts / "avatar-expressions-grid.png")
    return out


def problems(results: dict) -> list[str]:
    """What the measurements say is wrong (empty: every case reads)."""
    out = []
    for label, weights, moves, still, directions in CASES:
        single = len(weights) == 1 and label not in make_avatar.EXPRESSIONS
        for scale in (1.0, 0.3) if single else (1.0,):
            full = scale == 1.0
            got = results[label, scale]
            for name in moves:
                floor = MOVES_FULL if full else MOVES_MODERATE
                if not got["changed"][name] >= floor:
                    out.append(f"{label} x{scale:g}: {got['changed'][name]:.0%} of the {name}"
                               f" changed, under {floor:.0%}")
            for feature, size in directions.items():
                sign, floor = np.sign(size), abs(size) * scale
                went = min(sign * v for v in got["moved"][feature])  # both sides; NaN fails
                if not went >= floor:
                    way = "up" if sign > 0 else "down"
                    out.append(f"{label} x{scale:g}: {feature} went {went:.1f} mm {way},"
                               f" under {floor:.1f}")
            if got["brows seen"] < BROWS_SEEN:
                out.append(f"{label} x{scale:g}: only {got['brows seen']:.0%} of the brows"
                           " still show")
        for name in still:
            value = results[label, 1.0]["changed"][name]
            if value > STILL:
                out.append(f"{label}: {value:.1%} of the {name} changed, over {STILL:.0%}")
    return out


def wait_built_in(page) -> None:
    page.wait_for_function(
        "window.mimicAvatar && mimicAvatar.info() && mimicAvatar.info().kind === 'vrm1'"
        " && mimicAvatar.info().name === 'Mimic (built-in)'", timeout=30_000)


def test_expressions_move_the_right_parts_visibly(app_url, videos, open_page, artifacts):
    p = open_page(app_url, videos["neutral1"])
    harness.wait_ready(p.page)
    wait_built_in(p.page)
    wrong = problems(measure(p.page, artifacts))  # 73 pictures: 5-10 s of software WebGL
    assert not wrong, "expressions that do not read:\n" + "\n".join(wrong)
    assert p.errors == []
