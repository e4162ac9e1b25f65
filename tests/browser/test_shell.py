"""The app shell in headless Chromium with a fake camera: boot, live bars, offline, errors."""

from __future__ import annotations

import time

import pytest

import harness
import serve


def wait_for_bar(page, name: str, predicate, timeout_s: float = 20.0) -> float:
    """Poll a bar until predicate holds (MediaPipe settles over a few frames)."""
    deadline = time.monotonic() + timeout_s
    value = float("nan")
    while time.monotonic() < deadline:
        value = harness.bar_value(page, name)
        if predicate(value):
            return value
        time.sleep(0.2)
    return value


def python_frames(page) -> int:
    return page.evaluate("window.mimicBridge.stats.pythonFrames")


def test_smiling_face_drives_bars_through_python(app_url, videos, open_page, artifacts):
    p = open_page(app_url, videos["smile"])
    harness.wait_ready(p.page)
    before = python_frames(p.page)
    value = wait_for_bar(p.page, "mouthSmileLeft", lambda v: v > 0.5)
    assert value > 0.5, f"mouthSmileLeft {value} on a smiling face"
    deadline = time.time() + 5
    while python_frames(p.page) < before + 10 and time.time() < deadline:
        time.sleep(0.1)
    assert python_frames(p.page) >= before + 10, "Python is not receiving frames"
    assert p.page.text_content("#bars-source") == "from Python"
    assert p.page.evaluate("crossOriginIsolated") is True
    assert p.page.locator(".bar").count() == 52
    p.page.screenshot(path=str(artifacts / "shell-smile.png"))
    assert p.foreign_requests() == []
    assert p.errors == []


@pytest.mark.parametrize("face", ["neutral1", "neutral2"])
def test_neutral_faces_keep_smile_low(app_url, videos, open_page, artifacts, face):
    p = open_page(app_url, videos[face])
    harness.wait_ready(p.page)
    # Wait until Python has processed frames of this face, then read the bar.
    p.page.wait_for_function("window.mimicBridge.stats.pythonFrames > 15")
    value = wait_for_bar(p.page, "mouthSmileLeft", lambda v: v < 0.1)
    assert value < 0.1, f"mouthSmileLeft {value} on a neutral face"
    # The bar must not be stuck at zero: some other channel shows the face is tracked.
    assert harness.bar_value(p.page, "eyeBlinkLeft") > 0.0
    p.page.screenshot(path=str(artifacts / f"shell-{face}.png"))
    assert p.foreign_requests() == []


def test_loading_screen_reports_each_stage(app_url, videos, open_page):
    p = open_page(app_url, videos["smile"])
    harness.wait_ready(p.page)
    stages = p.page.eval_on_selector_all(
        "#stages li", "els => els.map(e => [e.dataset.stage, e.dataset.state])")
    assert stages == [[s, "done"] for s in ("runtime", "numpy", "model", "camera", "python")]
    assert p.page.get_attribute("#loading .progress", "aria-valuenow") == "100"
    assert p.page.is_hidden("#loading")


def test_denied_camera_gives_a_clear_message(app_url, videos, open_page):
    p = open_page(app_url, videos["smile"], fake_ui=False)  # headless denies the prompt
    p.page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "Camera access was blocked" in p.page.text_content("#error")


def test_missing_camera_gives_a_clear_message(app_url, open_page):
    p = open_page(app_url, None)  # no fake device: this machine has no camera
    p.page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "No camera was found" in p.page.text_content("#error")


def test_built_site_works_on_a_plain_static_server(tmp_path, videos, open_page, artifacts):
    site = serve.build(tmp_path / "site")
    assert not (site / "web" / "vendor" / ".stamp").exists()
    assert not (site / "tests").exists() and not (site / "serve.py").exists()
    with harness.static_server(site) as url:
        p = open_page(url, videos["smile"])
        harness.wait_ready(p.page)  # first visit registers sw.js and reloads once, isolated
        assert p.page.evaluate("crossOriginIsolated") is True
        value = wait_for_bar(p.page, "mouthSmileLeft", lambda v: v > 0.5)
        assert value > 0.5
        p.page.screenshot(path=str(artifacts / "static-site.png"))
        assert p.foreign_requests() == []
