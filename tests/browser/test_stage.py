"""The stage: avatar-first layout at real window sizes, the stage window that follows the
studio's face (backgrounds, hotkeys, a hidden studio tab), full-window mode, a humanoid's rest
pose, and the avatar easing back to neutral when the face is lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

import harness

GODETTE = harness.FIXTURES / "avatars" / "Godette_vrm_v4.vrm"
SEGMENT_S = 4
FPS = 10


@pytest.fixture(scope="module")
def smile_then_nobody(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smiling face, then an empty room, then a neutral face, looping."""
    out = tmp_path_factory.mktemp("stage")
    empty = out / "empty.png"
    Image.new("RGB", (640, 480), (96, 104, 112)).save(empty)
    frames = SEGMENT_S * FPS
    segments = [(harness.astronaut_png(), frames), (empty, frames),
                (harness.NEUTRAL_FACES[0], frames)]
    return harness.write_y4m(out / "smile-empty-neutral.y4m", segments, size=(320, 240), fps=FPS)


def open_studio(open_page, app_url, video, size=(1280, 800)):
    p = open_page(app_url, video)
    p.page.set_viewport_size({"width": size[0], "height": size[1]})
    harness.wait_ready(p.page)
    p.page.wait_for_function("window.mimicAvatar && window.mimicAvatar.current "
                             "&& window.mimicAvatar.input", timeout=30_000)
    return p


def smile_morph(page, who: str = "mimicAvatar") -> float:
    return page.evaluate(f"window.{who}.weightsNow().morphs.mouthSmileLeft || 0")


@pytest.mark.parametrize("size", [(1280, 800), (1366, 768), (1920, 1080), (390, 844)])
def test_the_avatar_is_wholly_in_view_beside_every_tab(app_url, videos, open_page, artifacts,
                                                       size):
    p = open_studio(open_page, app_url, videos["smile"], size)
    page = p.page
    w, h = size
    for tab in ("record", "train", "live", "sync"):
        page.click(f"#tab-{tab}")
        box = page.locator("#avatar").bounding_box()
        assert box["width"] >= 300 and box["height"] >= 300, (tab, box)
        assert box["x"] >= 0 and box["y"] >= 0, (tab, box)
        assert box["x"] + box["width"] <= w and box["y"] + box["height"] <= h, (tab, box)
        view = page.locator(f"#view-{tab}").bounding_box()
        if w >= 1000:  # side by side: the controls start beside the avatar, not below it
            assert view["x"] >= box["x"] + box["width"] and view["y"] < box["y"] + box["height"]
        else:  # stacked: the avatar comes first
            assert view["y"] >= box["y"] + box["height"]
        if tab == "record":
            page.screenshot(path=str(artifacts / f"stage-layout-{w}x{h}.png"))
    # the camera preview is small, can be hidden and mirrored
    cam = page.locator("#camera-box").bounding_box()
    assert cam["width"] < 0.5 * page.locator("#avatar").bounding_box()["width"]
    page.click("#btn-camera-view")
    assert not page.locator("#camera").is_visible()
    page.click("#btn-camera-view")
    assert page.evaluate("getComputedStyle(document.getElementById('camera')).transform") != "none"
    page.click("#btn-mirror")
    assert page.evaluate("getComputedStyle(document.getElementById('camera')).transform") == "none"
    page.click("#btn-mirror")
    assert p.errors == []


def test_stage_window_follows_the_face_with_backgrounds_hotkeys_and_a_hidden_studio(
        app_url, smile_then_nobody, open_page, artifacts):
    p = open_studio(open_page, app_url, smile_then_nobody)
    page = p.page
    with page.expect_popup() as popup:
        page.click("#btn-stage")
    stage = popup.value
    stage.set_viewport_size({"width": 480, "height": 560})
    stage.wait_for_function("window.mimicStage && mimicStage.view.input && "
                            "mimicStage.stats.frames > 5", timeout=30_000)
    # it follows the face the studio tracks: a smile, then neutral when the face goes
    stage.wait_for_function("mimicStage.view.weightsNow().morphs.mouthSmileLeft > 0.3",
                            timeout=20_000)
    stage.screenshot(path=str(artifacts / "stage-window-smile.png"))
    stage.wait_for_function("mimicStage.view.weightsNow().morphs.mouthSmileLeft < 0.05",
                            timeout=20_000)

    # backgrounds: transparent has alpha 0 at a corner, chroma green is green there
    assert stage.evaluate("mimicStage.view.pixelAt(0.01, 0.01)")[3] == 0
    page.select_option("#stage-bg", "green")
    stage.wait_for_function("mimicStage.view.background.kind === 'green'")
    assert stage.evaluate("mimicStage.view.pixelAt(0.01, 0.01)") == [0, 255, 0, 255]
    stage.screenshot(path=str(artifacts / "stage-window-green.png"))
    page.select_option("#stage-bg", "transparent")
    stage.wait_for_function("mimicStage.view.background.kind === 'transparent'")

    # a hotkey pressed in the stage window forces an expression there, shown in the studio
    stage.keyboard.press("1")
    page.wait_for_function("document.body.dataset.hotkeys === 'happy'", timeout=5_000)
    assert "happy" in page.text_content("#hotkey-note")
    stage.wait_for_function("mimicStage.view.forced && mimicStage.view.forced.names[0] === 'happy'")
    stage.wait_for_function("mimicStage.view.weightsNow().morphs.mouthSmileLeft > 0.5",
                            timeout=10_000)
    stage.screenshot(path=str(artifacts / "stage-window-hotkey-happy.png"))
    stage.keyboard.press("1")
    page.wait_for_function("document.body.dataset.hotkeys === ''", timeout=5_000)
    # rebound in the Live tab, and kept: key 9 now forces sad, in the studio itself
    page.click("#tab-live")
    page.select_option('#hotkey-table select[data-key="9"]', "sad")
    page.locator("#tab-live").focus()
    page.keyboard.press("9")
    page.wait_for_function("document.body.dataset.hotkeys === 'sad'", timeout=5_000)
    page.keyboard.press("0")
    page.wait_for_function("document.body.dataset.hotkeys === ''", timeout=5_000)

    # the studio's tab hidden: the browser stops its video-frame and animation callbacks,
    # and a worker's clock keeps the tracking and the stage going (a real minimised window
    # is measured by scripts/bench_background.py)
    page.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState',
                              {get: () => 'hidden', configurable: true});
        HTMLVideoElement.prototype.requestVideoFrameCallback = () => 0;
        window.requestAnimationFrame = () => 0;
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.wait_for_function("document.body.dataset.loopDriver === 'worker-clock'",
                           timeout=3_000)
    before = stage.evaluate("mimicStage.stats.frames")
    time.sleep(2)
    after = stage.evaluate("mimicStage.stats.frames")
    assert after - before >= 20, f"stage got {after - before} frames in 2 s with the studio hidden"
    stage.wait_for_function("mimicStage.view.weightsNow().morphs.mouthSmileLeft > 0.3",
                            timeout=20_000)  # and it still follows the face
    assert p.errors == []


def test_full_window_mode_shows_the_avatar_alone(app_url, videos, open_page, artifacts):
    p = open_studio(open_page, app_url, videos["smile"])
    page = p.page
    page.click("#btn-full")
    box = page.locator("#avatar").bounding_box()
    assert box == {"x": 0, "y": 0, "width": 1280, "height": 800}
    for hidden in ("#tab-record", "#view-record", "#camera", "#btn-stage", "#perf"):
        assert not page.locator(hidden).is_visible(), hidden
    page.screenshot(path=str(artifacts / "stage-full-window.png"))
    page.keyboard.press("Escape")
    assert page.locator("#tab-record").is_visible()


def test_face_lost_eases_to_neutral_and_says_so(app_url, smile_then_nobody, open_page):
    p = open_studio(open_page, app_url, smile_then_nobody)
    page = p.page
    page.wait_for_function("mimicAvatar.weightsNow().morphs.mouthSmileLeft > 0.3",
                           timeout=20_000)
    page.wait_for_function("!document.getElementById('face-note').hidden", timeout=20_000)
    lost_at = time.monotonic()
    page.wait_for_function("Math.max(...Array.from(mimicAvatar.input).map(Math.abs)) < 0.05",
                           timeout=5_000)
    assert time.monotonic() - lost_at < 1.0, "the avatar did not ease back within a second"
    assert "returns to neutral" in page.text_content("#face-note")


def test_humanoid_stands_in_a_rest_pose_with_its_arms_down(app_url, videos, open_page,
                                                            artifacts):
    p = open_studio(open_page, app_url, videos["neutral1"])
    page = p.page
    hands_down = """() => {
        const h = mimicAvatar.current.vrm.humanoid;
        const at = (bone) => h.getRawBoneNode(bone).getWorldPosition(
            new mimicAvatar.camera.position.constructor());
        return at('leftHand').y < at('leftUpperArm').y - 0.2
            && at('rightHand').y < at('rightUpperArm').y - 0.2;
    }"""
    assert page.evaluate("mimicAvatar.current.info.kind") == "vrm1"
    assert page.evaluate(hands_down), "the built-in VRM 1.0 rig still has its arms out"
    page.set_input_files("#avatar-file", str(GODETTE))
    page.wait_for_function("mimicAvatar.current && mimicAvatar.current.info.kind === 'vrm0'",
                           timeout=30_000)
    page.select_option("#framing", "upper")
    time.sleep(1)
    arms = page.evaluate("""() => {
        const h = mimicAvatar.current.vrm.humanoid;
        const y = (bone) => { const v = h.getRawBoneNode(bone).getWorldPosition(
            new mimicAvatar.camera.position.constructor()); return [v.x, v.y]; };
        return {lh: y('leftHand'), ls: y('leftUpperArm'), rh: y('rightHand'),
                rs: y('rightUpperArm'), spring: Boolean(mimicAvatar.current.vrm.springBoneManager)};
    }""")
    assert arms["lh"][1] < arms["ls"][1] - 0.2 and arms["rh"][1] < arms["rs"][1] - 0.2, arms
    assert arms["spring"]
    page.locator("#avatar").screenshot(path=str(artifacts / "stage-godette-rest-pose.png"))
    # the framing is remembered for this avatar
    page.reload()
    harness.wait_ready(page)
    page.wait_for_function("window.mimicAvatar && mimicAvatar.current && "
                           "mimicAvatar.current.info.kind === 'vrm0'",
                           timeout=30_000)
    assert page.evaluate("mimicAvatar.rig.view.framing") == "upper"
