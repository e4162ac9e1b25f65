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


PROBES = """async () => {
  const out = {};
  // what MediaPipe's usage logger sends once a minute
  out.fetch = await fetch("https://odml.pa.googleapis.com/v1/log", {method: "POST",
      headers: {"Content-Type": "application/x-protobuf"}, body: new Uint8Array(4)})
    .then(() => "sent", (e) => String(e.message));
  out.beacon = navigator.sendBeacon("https://example.com/collect", "x");
  try { new XMLHttpRequest().open("POST", "https://example.com/collect"); out.xhr = "opened"; }
  catch (e) { out.xhr = String(e.message); }
  out.own = (await fetch("./manifest.webmanifest")).ok;
  const guard = await import("./web/netguard.js");
  out.localRelay = guard.mayReach("ws://127.0.0.1:8000/vmc");
  out.vts = guard.mayReach("ws://localhost:8001");
  out.firebaseBefore = guard.mayReach("https://firebasestorage.googleapis.com/v0/b");
  guard.allowHosts([".googleapis.com", "mimic-demo.firebaseapp.com"]);  // sync turned on
  out.firebaseAfter = guard.mayReach("https://firebasestorage.googleapis.com/v0/b");
  out.authDomain = guard.mayReach("https://mimic-demo.firebaseapp.com/__/auth/handler");
  out.usageLogAfter = guard.mayReach("https://odml.pa.googleapis.com/v1/log");
  out.refused = guard.refused.slice();
  return out;
}"""


def test_the_page_sends_nothing_to_other_sites(app_url, videos, open_page):
    """MediaPipe posts usage logs to Google once a minute; the page refuses any request to a
    site the user did not choose, before it is made (so no request shows at all)."""
    p = open_page(app_url, videos["smile"])
    harness.wait_ready(p.page)  # the whole app runs under the guard
    got = p.page.evaluate(PROBES)
    assert got["fetch"] == "Mimic sends nothing to https://odml.pa.googleapis.com"
    assert got["beacon"] is False
    assert got["xhr"] == "Mimic sends nothing to https://example.com"
    assert got["own"] is True
    assert got["localRelay"] and got["vts"]
    assert not got["firebaseBefore"]
    assert got["firebaseAfter"] and got["authDomain"]
    assert not got["usageLogAfter"]
    assert got["refused"] == ["https://odml.pa.googleapis.com", "https://example.com",
                              "https://example.com"]
    assert p.foreign_requests() == []
    assert p.errors == []
