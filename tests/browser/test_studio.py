"""The studio end to end in headless Chromium: record from the fake camera, train,
evaluate, predict live, reload, export and re-import, refuse corrupted files.

The fake camera plays a loop alternating the smiling astronaut and the neutral faces,
each for SEGMENT_S seconds; the test starts each take just after the face it wants
appears (read from the live smile bar), so every clip holds the intended face.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import harness

SEGMENT_S = 6
FPS = 10


@pytest.fixture(scope="module")
def alternating_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("studio") / "alternating.y4m"
    smile = harness.astronaut_png()
    frames = SEGMENT_S * FPS
    segments = [(smile, frames), (harness.NEUTRAL_FACES[0], frames),
                (smile, frames), (harness.NEUTRAL_FACES[1], frames)]
    return harness.write_y4m(out, segments, size=(320, 240), fps=FPS)


def smile(page) -> float:
    return harness.bar_value(page, "mouthSmileLeft")


def wait_for_face(page, smiling: bool, timeout_s: float = 40.0) -> None:
    """Block until the other face has been showing and the wanted one just appeared."""
    def showing() -> bool:
        v = smile(page)
        return v > 0.5 if smiling else v < 0.1

    deadline = time.monotonic() + timeout_s
    while showing():  # wait for the wanted face to go, so we catch its start
        assert time.monotonic() < deadline, "the fake camera stopped alternating"
        time.sleep(0.1)
    while not showing():
        assert time.monotonic() < deadline, "the wanted face never appeared"
        time.sleep(0.1)


def record(page, target: str, smiling: bool, tries: int = 2) -> None:
    """One take of `target`; a take the page refused because too few frames arrived (a slow
    moment of a busy machine: the page says so) is recorded again, as a user would."""
    before = page.locator("#clip-list li").count()
    for _ in range(tries):
        wait_for_face(page, smiling)
        page.click(f'button[data-record="{target}"]')
        try:
            page.wait_for_function(
                f"document.querySelectorAll('#clip-list li').length > {before} || "
                "/running slowly/.test(document.getElementById('calib-note').textContent)",
                timeout=30_000)
        except Exception as exc:  # say what the page said (a refused take says why)
            raise AssertionError(f"no clip: {page.text_content('#calib-note')!r}") from exc
        if page.locator("#clip-list li").count() > before:
            return
        note = page.text_content("#calib-note")
        page.evaluate("document.getElementById('calib-note').textContent = ''")
    raise AssertionError(f"no clip after {tries} takes: {note!r}")


def clip_count(page) -> int:
    return page.locator("#clip-list li").count()


def pred(page, name: str) -> float:
    return float(page.get_attribute(f'.pred[data-name="{name}"]', "aria-valuenow"))


def wait_pred(page, name: str, predicate, timeout_s: float = 30.0) -> float:
    deadline = time.monotonic() + timeout_s
    value = float("nan")
    while time.monotonic() < deadline:
        value = pred(page, name)
        if predicate(value):
            return value
        time.sleep(0.1)
    return value


def test_record_train_predict_reload_export_import(app_url, alternating_video, open_page,
                                                   artifacts, tmp_path):
    p = open_page(app_url, alternating_video)
    page = p.page
    page.on("dialog", lambda d: d.accept())
    harness.wait_ready(page)
    page.wait_for_function("document.body.dataset.restored === 'true'")
    page.fill("#rec-seconds", "2")
    assert page.locator('tr[data-target="happy"]').get_attribute("data-missing") == "true"
    # Live without a model: one clear note, no empty clean-up heading or legend.
    page.click("#tab-live")
    assert page.locator("#live-note").is_visible()
    assert "No model yet" in page.text_content("#live-note")
    assert not page.locator("#view-live h3", has_text="Clean-up").is_visible()
    assert not page.locator("#view-live .pred-legend").is_visible()
    page.click("#tab-record")

    for _ in range(2):
        record(page, "happy", smiling=True)
        record(page, "neutral", smiling=False)
    assert clip_count(page) == 4
    assert page.locator('tr[data-target="happy"] td').nth(1).text_content() == "2"
    assert page.locator('tr[data-target="happy"]').get_attribute("data-missing") == "false"
    page.screenshot(path=str(artifacts / "studio-record.png"))
    # once two labels had takes, the training worker was started between takes, once
    assert page.evaluate("window.mimicBridge.stats.trainerWarmups") == 1

    # Train: the page stays live (camera frames keep coming) while the worker trains. The
    # worker started between the takes (two labels recorded), so Train only trains.
    page.click("#tab-train")
    frames_before = page.evaluate("window.mimicBridge.stats.frames")
    started = time.monotonic()
    page.click("#btn-train")
    page.wait_for_function("document.body.dataset.training === 'done' || "
                           "document.body.dataset.training === 'failed'", timeout=120_000)
    took = time.monotonic() - started
    assert page.evaluate("document.body.dataset.training") == "done", \
        page.text_content("#train-note")
    gained = page.evaluate("window.mimicBridge.stats.frames") - frames_before
    assert gained >= max(2, FPS * took / 2), (gained, took)
    headers = page.eval_on_selector_all(
        "#confusion th[scope=col]", "els => els.map(e => e.textContent)"
    )
    assert headers == ["neutral", "happy"]
    assert page.text_content("#train-note").startswith("Trained Model ")
    loss_points = page.get_attribute("#loss-line", "points").split()
    assert len(loss_points) >= 5, "no live loss curve"
    per_target = page.eval_on_selector_all("#per-target tr[data-target]",
                                           "els => els.map(e => e.dataset.target)")
    assert {"neutral", "happy"} <= set(per_target)
    assert page.locator("#model-list li").count() == 1
    # Every take held out once: both folds, mean and worst, each take listed.
    summary = page.text_content("#eval-summary")
    assert "Every take was held out once, in 2 folds" in summary and "worst fold" in summary
    takes = page.eval_on_selector_all("#eval-takes tr[data-take] td:first-child",
                                      "els => els.map(e => e.textContent)")
    assert sorted(takes) == ["happy take 1", "happy take 2", "neutral take 1", "neutral take 2"]
    # The takes chose the model (scikit-learn in the worker, never on the page): every
    # candidate's folds side by side, one chosen, why, and that the figure is optimistic.
    assert "These folds also chose the model" in summary
    rows = page.eval_on_selector_all(
        "#candidates tr[data-key]", "els => els.map(e => [e.dataset.key, e.dataset.chosen, "
        "e.querySelectorAll('td').length])")
    assert {key for key, _, _ in rows} == {"linear", "net", "blend", "net-varied",
                                           "blend-varied"}
    assert [chosen for _, chosen, _ in rows].count("true") == 1
    assert all(cells == 1 + 2 + 2 for _, _, cells in rows)  # name, two folds, mean, worst
    choice = page.text_content("#eval-choice")
    assert "your takes" in choice and "a little optimistic" in choice
    assert not page.evaluate("Boolean(window.pyodide && pyodide.loadedPackages"
                             " && pyodide.loadedPackages['scikit-learn'])")
    page.screenshot(path=str(artifacts / "studio-train.png"))

    # A confusion cell shows where its frames came from and plays them back: while the
    # camera shows a neutral face, playing happy seconds drives the model and the avatar.
    page.click('#confusion td[data-true="happy"][data-pred="happy"]')
    sources = page.locator("#cell-sources li[data-take]")
    assert sources.count() == 2
    assert page.text_content("#cell-sources h4") == "happy frames read right"
    first = sources.first.locator("button").first
    assert float(first.get_attribute("data-to")) > float(first.get_attribute("data-from"))
    page.screenshot(path=str(artifacts / "studio-confusion-sources.png"))
    wait_for_face(page, smiling=False)
    page.wait_for_function("mimicAvatar.weightsNow().expressions.happy < 0.2", timeout=10_000)
    first.click()
    # one check, so it holds while the second-long segment plays: the camera panel's smile
    # bar and the avatar both show the played take, not the neutral face in front of it
    page.wait_for_function(
        "mimicApp.playback != null && mimicAvatar.weightsNow().expressions.happy > 0.3 && "
        "+document.querySelector('.bar[data-name=mouthSmileLeft]')"
        ".getAttribute('aria-valuenow') > 0.5", timeout=5_000)
    page.wait_for_function("mimicApp.playback == null", timeout=15_000)

    # Live: happy follows the smiling face, neutral wins on the others.
    page.click("#tab-live")
    wait_for_face(page, smiling=True)
    assert wait_pred(page, "happy", lambda v: v > 0.5) > 0.5
    # One flow: the built-in character now follows the trained model's expressions.
    page.wait_for_function("document.getElementById('avatar').dataset.mode === 'model'")
    page.wait_for_function("mimicAvatar.weightsNow().expressions.happy > 0.3", timeout=10_000)
    page.screenshot(path=str(artifacts / "studio-live.png"))
    wait_for_face(page, smiling=False)
    assert wait_pred(page, "happy", lambda v: v < 0.2) < 0.2
    median_us = page.evaluate("window.mimicBridge.stats.pythonMedianUs")
    assert 0 < median_us < 20_000

    # Reload: clips and the active model come back from IndexedDB.
    page.reload()
    harness.wait_ready(page)
    page.wait_for_function("document.body.dataset.restored === 'true'")
    assert clip_count(page) == 4
    assert page.locator("#model-list li[data-active=true]").count() == 1
    assert page.locator('.pred[data-name="happy"]').count() == 1

    # Export everything, delete a clip, re-import: the deleted clip is back, nothing doubled.
    with page.expect_download() as dl:
        page.click("#btn-export-clips")
    exported = tmp_path / "clips.mimicclips"
    dl.value.save_as(exported)
    page.locator('#clip-list li button[data-action="delete"]').first.click()
    page.wait_for_function("document.querySelectorAll('#clip-list li').length === 3")
    page.set_input_files("#import-clips", str(exported))
    page.wait_for_function("document.querySelectorAll('#clip-list li').length === 4")

    page.click("#tab-train")
    with page.expect_download() as dl:
        page.locator('#model-list li button[data-action="export"]').first.click()
    model_file = tmp_path / "model.mimic"
    dl.value.save_as(model_file)
    page.set_input_files("#import-model", str(model_file))
    page.wait_for_function("document.querySelectorAll('#model-list li').length === 2")

    # Corrupted files change nothing and say what is wrong.
    broken = tmp_path / "broken.mimicclips"
    broken.write_bytes(exported.read_bytes()[:-40])
    page.click("#tab-record")
    page.set_input_files("#import-clips", str(broken))
    page.wait_for_function("document.getElementById('calib-note').textContent"
                           ".startsWith('Nothing was imported')")
    assert clip_count(page) == 4
    bad_model = tmp_path / "bad.mimic"
    bad_model.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    page.click("#tab-train")
    page.set_input_files("#import-model", str(bad_model))
    page.wait_for_function("document.getElementById('train-note').textContent"
                           ".startsWith('Nothing was imported')")
    assert "not a Mimic model file" in page.text_content("#train-note")
    assert page.locator("#model-list li").count() == 2
    assert p.foreign_requests() == []
