"""The avatar in the real page: built-in VRM 1.0, a VRM 0.x file, an ARKit-morph GLB, bad files.

The fake camera plays the smiling astronaut, so an ARKit character's mouthSmileLeft morph must
follow MediaPipe's weight; expressions set by hand must change the rendered pixels.
"""

from __future__ import annotations

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


def morph(page, name: str) -> float:
    return page.evaluate("n => mimicAvatar.weightsNow().morphs[n] ?? -1", name)


def wait_morph(page, name: str, above: float, timeout_s: float = 15) -> float:
    deadline = time.time() + timeout_s
    value = morph(page, name)
    while value <= above and time.time() < deadline:
        time.sleep(0.2)
        value = morph(page, name)
    return value


def test_built_in_avatar_follows_the_face_and_shows_expressions(app_url, videos, open_page,
                                                                  artifacts):
    p = open_page(app_url, videos["smile"])
    harness.wait_ready(p.page)
    info = wait_avatar(p.page, "vrm1", "Mimic (built-in)")
    assert set(info["expressions"]) >= PRESETS
    assert info["arkitMorphs"] >= 51
    assert info["software"] is True  # headless: drawn once per camera frame, not per display
    p.page.wait_for_function("document.getElementById('avatar').dataset.mode === 'arkit'")
    assert "directly" in p.page.text_content("#avatar-note")
    assert wait_morph(p.page, "mouthSmileLeft", 0.4) > 0.4, "the smile did not reach the avatar"
    p.page.locator("#avatar").screenshot(path=str(artifacts / "avatar-live-smile.png"))

    rest = show_only(p.page, None)
    for name in ("happy", "surprised", "aa", "blink", "sad", "angry"):
        shown = show_only(p.page, name)
        changed = p.page.evaluate(CANVAS_DIFF, [rest, shown])
        assert changed > 200, f"{name} changed only {changed} pixels"
        assert p.page.evaluate("n => mimicAvatar.weightsNow().expressions[n]", name) == 1
        p.page.locator("#avatar").screenshot(path=str(artifacts / f"avatar-{name}.png"))
    assert p.foreign_requests() == []


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
    glb = tmp_path / "perfect-sync.glb"
    glb.write_bytes(make_avatar.build(vrm=False))
    p = open_page(app_url, videos["smile"])
    harness.wait_ready(p.page)
    wait_avatar(p.page, "vrm1")
    p.page.set_input_files("#avatar-file", str(glb))
    info = wait_avatar(p.page, "arkit", glb.name)
    assert info["expressions"] == [] and info["arkitMorphs"] >= 51
    p.page.wait_for_function("document.getElementById('avatar').dataset.mode === 'arkit'")
    assert p.page.locator("#avatar-mode").is_hidden()  # nothing to choose between
    assert wait_morph(p.page, "mouthSmileLeft", 0.4) > 0.4
    assert morph(p.page, "eyeBlinkLeft") < 0.3
    p.page.locator("#avatar").screenshot(path=str(artifacts / "avatar-arkit-glb.png"))

