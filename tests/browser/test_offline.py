"""Offline use: after one visit the app starts, imports clips, trains and predicts with the
server gone; a new version of the app replaces the old cache."""

from __future__ import annotations

import contextlib

import pytest

import harness
import serve
from mimic.clips import dump_clips
from mimic.synthetic import make_dataset

READY = "document.body.dataset.offline === 'ready'"


def wait_offline_ready(page, also: str = "true") -> None:
    """Until the offline copy is stored; fails at once, with the reason, if storing failed."""
    page.wait_for_function(f"({READY} && {also}) || document.body.dataset.offline === 'error'",
                           timeout=180_000)
    status = page.locator("#offline-status")
    assert page.evaluate(READY), f"{status.text_content()}: {status.get_attribute('title')}"


def clips_file(tmp_path):
    clips = make_dataset(people=1, sessions=1, takes=2, seconds=2.0, labels=["neutral", "happy"])
    path = tmp_path / "clips.mimicclips"
    path.write_bytes(dump_clips(clips))
    return path, len(clips)


@contextlib.contextmanager
def site(kind: str, tmp_path):
    """The app from serve.py, or built with --build and served by a plain static server."""
    if kind == "serve.py":
        with harness.app_server() as url:
            yield url
    else:
        with harness.static_server(serve.build(tmp_path / "site")) as url:
            yield url


@pytest.mark.parametrize("kind", ["serve.py", "static"])
def test_works_offline_after_one_visit(kind, videos, artifacts, tmp_path):
    path, count = clips_file(tmp_path)
    with harness.browser(videos["smile"]) as b:
        ctx = b.new_context()
        page = ctx.new_page()
        with site(kind, tmp_path) as url:
            page.goto(url + "/")
            harness.wait_ready(page)
            wait_offline_ready(page)
            assert page.text_content("#offline-status") == "Available offline"
        # The server is gone: nothing can come from the network any more.
        ctx.set_offline(True)
        page.reload()
        harness.wait_ready(page)
        page.wait_for_function("document.body.dataset.restored === 'true'")
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        page.set_input_files("#import-clips", str(path))
        page.wait_for_function(f"document.querySelectorAll('#clip-list li').length === {count}")
        page.click("#tab-train")
        page.click("#btn-train")
        page.wait_for_function("['done', 'failed'].includes(document.body.dataset.training)",
                               timeout=180_000)
        assert page.evaluate("document.body.dataset.training") == "done", page.text_content(
            "#train-note")
        page.click("#tab-live")
        page.wait_for_function("window.mimicBridge.stats.firstPredictionAt > 0")
        page.screenshot(path=str(artifacts / f"offline-live-{kind.replace('.', '-')}.png"))
        ctx.close()


# The service worker's caches; the page keeps Python's start-up snapshot in its own.
OFFLINE_CACHES = "caches.keys().then(k => k.filter(n => n.startsWith('mimic-')))"


def test_a_new_version_replaces_the_old_cache(videos, monkeypatch):
    with harness.browser(videos["neutral1"]) as b, harness.app_server() as url:
        page = b.new_page()
        monkeypatch.setenv("MIMIC_PRECACHE_SALT", "first")
        page.goto(url + "/")
        harness.wait_ready(page)
        wait_offline_ready(page)
        first = page.evaluate("document.body.dataset.offlineVersion")
        assert page.evaluate(OFFLINE_CACHES) == [f"mimic-{first}"]

        monkeypatch.setenv("MIMIC_PRECACHE_SALT", "second")
        page.reload()
        harness.wait_ready(page)
        wait_offline_ready(page, f"document.body.dataset.offlineVersion !== '{first}'")
        second = page.evaluate("document.body.dataset.offlineVersion")
        page.wait_for_function(f"({OFFLINE_CACHES}).then(k => k.length === 1)", timeout=30_000)
        assert page.evaluate(OFFLINE_CACHES) == [f"mimic-{second}"]
        cached = page.evaluate(f"caches.open('mimic-{second}').then(c => c.keys())"
                               ".then(r => r.map(x => x.url))")
        assert any(u.endswith("pyodide.asm.wasm") for u in cached)
        assert any(u.endswith("face_landmarker.task") for u in cached)
        # training offline needs scikit-learn (the straight-line readout) and what it loads
        for package in ("scikit_learn", "joblib", "threadpoolctl", "scipy"):
            assert any(package in u for u in cached), package
