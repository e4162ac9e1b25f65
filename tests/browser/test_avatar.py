"""The avatar in the real page: built-in VRM 1.0, a VRM 0.x file, an ARKit-morph GLB, bad files.

The fake camera plays the smiling astronaut, so an ARKit character's mouthSmileLeft morph must
follow MediaPipe's weight; expressions set by hand must change the rendered pixels.
"""

from __future__ import annotations

import json
import struct
import time

import harness
import make_avatar

GODETTE = harness.FIXTURES / "avatars" / "Godette_vrm_v4.vrm"
PRESETS = {"happy", "angry", "sad", "relaxed", "surprised", "aa", "ih", "ou", "ee", "oh",
           "blink", "blinkLeft", "blinkRight"}

CANVAS_DIFF = """([a, b]) => new Promise((resolve) => {
  const load = (src) => new Promise((ok) => {
    const i = new Image(); i.onload = () => ok(i); i.src = src;
  });
  Promise.all([load(a), load(b)]).then(([x, y]) => {
    const c = document.createElement("canvas"); c.width = x.width; c.height = x.height;
    const g = c.getContext("2d");
    g.drawImage(x, 0, 0); const p = g.getImageData(0, 0, c.width, c.height).data;
    g.clearRect(0, 0, c.width, c.height);
    g.drawImage(y, 0, 0); const q = g.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < p.length; i += 4) {
      const d = Math.abs(p[i] - q[i]) + Math.abs(p[i + 1] - q[i + 1])
        + Math.abs(p[i + 2] - q[i + 2]);
      if (d > 30) n++;
    }
    resolve(n);
  });
})"""


def wait_avatar(page, kind: str, name: str | None = None, timeout: int = 30_000) -> dict:
    page.wait_for_function(
        "([k, n]) => window.mimicAvatar && mimicAvatar.info() && mimicAvatar.info().kind === k"
        " && (!n || mimicAvatar.info().name === n)", arg=[kind, name], timeout=timeout)
    return page.evaluate("mimicAvatar.info()")


def show_only(page, name: str | None) -> str:
    """Hold the avatar on one expression at full weight and return the canvas as a PNG URL."""
    return page.evaluate("""(name) => {
      const a = window.mimicAvatar; a.hold = true;
      for (const e of a.info().expressions) a.setExpression(e, 0);
      if (name) a.setExpression(name, 1);
      a.renderOnce();
      return document.getElementById('avatar').toDataURL();
    }""", name)


def turned_head(page, yaw: float, pitch: float, roll: float) -> dict:
    """Hold the avatar with the head turned by hand; the canvas and where the face is."""
    return page.evaluate("""([y, p, r]) => {
      const a = window.mimicAvatar; a.hold = true; a.setPose(y, p, r); a.renderOnce();
      return {png: document.getElementById('avatar').toDataURL(), face: a.faceOnScreen()};
    }""", [yaw, pitch, roll])


def morph(page, name: str) -> float:
    return page.evaluate("n => mimicAvatar.weightsNow().morphs[n] ?? -1", name)


def wait_morph(page, name: str, above: float, timeout_s: float = 15) -> float:
    deadline = time.time() + timeout_s
    value = morph(page, name)
    while value <= above and time.time() < deadline:
        time.sleep(0.2)
        value = morph(page, name)
    return value


def with_morph_names(glb: bytes, rename, node_names: dict[str, str] | None = None) -> bytes:
    """The same GLB with every mesh's morph target names rewritten, as other tools name them,
    and nodes renamed by `node_names`."""
    (json_len,) = struct.unpack_from("<I", glb, 12)
    doc = json.loads(glb[20:20 + json_len])
    for mesh in doc["meshes"]:
        names = mesh.get("extras", {}).get("targetNames")
        if names:
            mesh["extras"]["targetNames"] = [rename(n) for n in names]
    for node in doc["nodes"]:
        node["name"] = (node_names or {}).get(node.get("name"), node.get("name"))
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    rest = glb[20 + json_len:]  # the BIN chunk, header included
    return b"".join([struct.pack("<4sII", b"glTF", 2, 20 + len(text) + len(rest)),
                     struct.pack("<I4s", len(text), b"JSON"), text, rest])


def unity_style(name: str) -> str:
    """eyeBlinkLeft -> EyeBlink_L, jawOpen -> JawOpen: a common spelling in exported rigs."""
    for side, short in (("Left", "_L"), ("Right", "_R")):
        if name.endswith(side):
            name = name[: -len(side)] + short
    return name[0].upper() + name[1:]


def mode(page) -> str:
    return page.evaluate("document.getElementById('avatar').dataset.mode")


def test_built_in_avatar_follows_the_face_and_shows_expressions(app_url, videos, open_page,
                                                                  artifacts):
    p = open_page(app_url, videos["smile"])
    harness.wait_ready(p.page)
    info = wait_avatar(p.page, "vrm1", "Mimic (built-in)")
    assert set(info["expressions"]) >= PRESETS
    assert info["arkitMorphs"] >= 51
    assert info["software"] is True  # headless: drawn on camera frames, not per display
    p.page.wait_for_function("document.getElementById('avatar').dataset.mode === 'arkit'")
    assert "directly" in p.page.text_content("#avatar-note")
    assert p.page.evaluate("mimicAvatar.info().missing") == []
    assert wait_morph(p.page, "mouthSmileLeft", 0.4) > 0.4, "the smile did not reach the avatar"
    p.page.locator("#avatar").screenshot(path=str(artifacts / "avatar-live-smile.png"))

    # It has both ARKit morphs and VRM expressions, so the user may choose the path.
    assert p.page.locator("#avatar-mode").is_visible()
    p.page.select_option("#avatar-mode", "rules")
    p.page.wait_for_function("document.getElementById('avatar').dataset.mode === 'rules'")
    assert p.page.evaluate("mimicAvatar.info().mode") == "expressions"
    assert "simple rules" in p.page.text_content("#avatar-note")
    p.page.wait_for_function("mimicAvatar.weightsNow().expressions.happy > 0.4", timeout=10_000)
    p.page.select_option("#avatar-mode", "model")  # no model trained yet: stays automatic
    p.page.wait_for_function("document.getElementById('avatar').dataset.mode === 'arkit'")
    p.page.select_option("#avatar-mode", "arkit")
    assert mode(p.page) == "arkit" and p.page.evaluate("mimicAvatar.info().mode") == "morphs"

    rest = show_only(p.page, None)
    for name in ("happy", "surprised", "aa", "blink", "sad", "angry"):
        shown = show_only(p.page, name)
        changed = p.page.evaluate(CANVAS_DIFF, [rest, shown])
        assert changed > 200, f"{name} changed only {changed} pixels"
        assert p.page.evaluate("n => mimicAvatar.weightsNow().expressions[n]", name) == 1
        p.page.locator("#avatar").screenshot(path=str(artifacts / f"avatar-{name}.png"))
    assert p.foreign_requests() == []

    # Software WebGL: morphs are blended on the CPU (no shader morph loop), each only on the
    # meshes it moves, and blending is exact: weights back at 0 give the rest pose again.
    cpu = p.page.evaluate(CPU_MORPHS)
    assert cpu["blended"] >= 1 and cpu["shaderMorphs"] == 0
    assert cpu["materials"] == ["MeshLambertMaterial"]  # its rough PBR, with simpler lighting
    assert 1 <= cpu["jawMeshes"] < cpu["blended"], "jawOpen should move only some meshes"
    assert cpu["openLowest"] < cpu["restLowest"] - 0.005, "jawOpen did not lower the jaw"
    assert cpu["backToRest"], "positions drifted after the weights went back to 0"


CPU_MORPHS = """() => {
  const c = mimicAvatar.current;
  let shaderMorphs = 0;
  const materials = new Set();
  c.root.traverse((o) => {
    if (o.isMesh && o.geometry.morphAttributes.position) shaderMorphs++;
    if (o.isMesh) materials.add(o.material.type);
  });
  const [mesh, i] = c.morphs.get("jawOpen")[0];
  const pos = mesh.geometry.attributes.position.array;
  const lowest = () => {
    let lo = Infinity;
    for (let k = 1; k < pos.length; k += 3) lo = Math.min(lo, pos[k]);
    return lo;
  };
  mesh.morphTargetInfluences.fill(0); c.cpu.update();
  const rest = Float32Array.from(pos), restLowest = lowest();
  mesh.morphTargetInfluences[i] = 1; c.cpu.update();
  const openLowest = lowest();
  mesh.morphTargetInfluences[i] = 0; c.cpu.update();
  return { blended: c.cpu.meshes.length, shaderMorphs, materials: [...materials],
           jawMeshes: c.morphs.get("jawOpen").length,
           restLowest, openLowest, backToRest: pos.every((v, k) => v === rest[k]) };
}"""


def test_vrm0_file_bad_files_and_reload(app_url, videos, open_page, artifacts, tmp_path):
    p = open_page(app_url, videos["neutral1"])
    harness.wait_ready(p.page)
    wait_avatar(p.page, "vrm1")
    p.page.set_input_files("#avatar-file", str(GODETTE))
    info = wait_avatar(p.page, "vrm0", GODETTE.name)
    assert {"happy", "sad", "relaxed", "aa", "ih", "ou", "ee", "oh", "blinkLeft"} <= set(
        info["expressions"])
    assert "surprised" not in info["expressions"]
    p.page.wait_for_function("document.getElementById('avatar').dataset.mode === 'rules'")
    note = p.page.text_content("#avatar-note")
    assert "VRM 0.x" in note and "surprised" in note
    assert p.page.evaluate("mimicAvatar.info().missing") == ["surprised"]
    assert p.page.locator("#avatar-mode").is_hidden()  # no ARKit morphs: nothing to choose
    rest = show_only(p.page, None)
    joy = show_only(p.page, "happy")
    assert p.page.evaluate(CANVAS_DIFF, [rest, joy]) > 100
    p.page.locator("#avatar").screenshot(path=str(artifacts / "avatar-godette-happy.png"))

    garbage = tmp_path / "broken.vrm"
    garbage.write_bytes(b"this is not a model" * 50)
    truncated = tmp_path / "cut.vrm"
    truncated.write_bytes(GODETTE.read_bytes()[:5000])
    for bad, message in ((garbage, "not a glTF"), (truncated, "could not be read")):
        p.page.set_input_files("#avatar-file", str(bad))
        p.page.wait_for_function("!document.getElementById('avatar-error').hidden")
        error = p.page.text_content("#avatar-error")
        assert bad.name in error and message in error and "previous avatar stays" in error
        assert p.page.evaluate("mimicAvatar.info().name") == GODETTE.name

    p.page.reload()
    harness.wait_ready(p.page)
    wait_avatar(p.page, "vrm0", GODETTE.name)  # remembered in IndexedDB
    assert p.foreign_requests() == []


def test_arkit_glb_is_driven_straight_from_blendshapes(app_url, videos, open_page, artifacts,
                                                       tmp_path):
    """A plain GLB (no VRM) whose morphs are ARKit shapes spelled the Unity way (EyeBlink_L)."""
    glb = tmp_path / "perfect-sync.glb"
    glb.write_bytes(with_morph_names(make_avatar.build(vrm=False), unity_style))
    p = open_page(app_url, videos["smile"])
    harness.wait_ready(p.page)
    wait_avatar(p.page, "vrm1")
    p.page.set_input_files("#avatar-file", str(glb))
    info = wait_avatar(p.page, "arkit", glb.name)
    assert info["expressions"] == [] and info["arkitMorphs"] >= 51
    p.page.wait_for_function("document.getElementById('avatar').dataset.mode === 'arkit'")
    assert p.page.locator("#avatar-mode").is_hidden()  # nothing to choose between
    assert morph(p.page, "MouthSmile_L") >= 0 and morph(p.page, "mouthSmileLeft") == -1
    assert wait_morph(p.page, "MouthSmile_L", 0.4) > 0.4
    assert wait_morph(p.page, "MouthSmile_R", 0.4) > 0.4
    assert 0 <= morph(p.page, "EyeBlink_L") < 0.3
    assert morph(p.page, "JawOpen") < 0.3
    assert p.page.evaluate("mimicAvatar.info().missing") == []  # tongueOut is not measured
    # No VRM rig: the head node named "head" turns, about the neck, so the face stays in view.
    x, y = p.page.evaluate("mimicAvatar.faceOnScreen()")
    assert abs(x) < 0.5 and abs(y) < 0.5, f"the live face drifted to {x:.2f}, {y:.2f}"
    p.page.locator("#avatar").screenshot(path=str(artifacts / "avatar-arkit-glb.png"))
    straight = turned_head(p.page, 0, 0, 0)
    turned = turned_head(p.page, 0.5, 0.25, 0.15)
    assert all(abs(v) < 0.5 for v in turned["face"]), turned["face"]
    assert p.page.evaluate(CANVAS_DIFF, [straight["png"], turned["png"]]) > 300
    p.page.locator("#avatar").screenshot(path=str(artifacts / "avatar-arkit-glb-turned.png"))

    # No node called head at all: the whole character turns about a pivot at its neck.
    headless = tmp_path / "no-head-node.glb"
    headless.write_bytes(with_morph_names(make_avatar.build(vrm=False), str,
                                          {"head": "cranium", "neck": "n1"}))
    p.page.evaluate("mimicAvatar.hold = false")
    p.page.set_input_files("#avatar-file", str(headless))
    wait_avatar(p.page, "arkit", headless.name)
    assert p.page.evaluate("mimicAvatar.current.root.name") == "mimic-pivot"
    turned = turned_head(p.page, 0.5, 0.25, 0.15)
    assert all(abs(v) < 0.6 for v in turned["face"]), turned["face"]

