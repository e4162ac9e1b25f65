"""VMC output end to end: the fake camera smiles, the page sends VMC through
`serve.py --vmc` and a UDP listener on 127.0.0.1 sees Joy rise (Apply after it), fall when
the face turns neutral, a hotkey force it, and the setting survive a reload."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time

import pytest
from pythonosc.osc_bundle import OscBundle

import harness

FPS = 30


class Listener:
    """A VMC receiver: collects frames (clip -> value, closed by an Apply) off UDP."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.frames: list[dict[str, float]] = []
        self.current: dict[str, float] = {}
        self.bad: list[str] = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, OSError):
                continue
            if len(data) > 1500:
                self.bad.append(f"datagram of {len(data)} bytes")
            for msg in OscBundle(data):
                if msg.address == "/VMC/Ext/Blend/Val":
                    name, value = msg.params
                    if not isinstance(value, float):
                        self.bad.append(f"{name} sent as {type(value).__name__}")
                    self.current[name] = value
                elif msg.address == "/VMC/Ext/Blend/Apply":
                    self.frames.append(self.current)
                    self.current = {}

    def wait_for(self, test, seconds: float, since: int = 0) -> dict[str, float]:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for frame in self.frames[since:]:
                if test(frame):
                    return frame
            time.sleep(0.1)
        last = self.frames[-1] if self.frames else None
        raise AssertionError(f"no such frame in {seconds} s ({len(self.frames)} frames; "
                             f"last: {last})")

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener():
    receiver = Listener()
    yield receiver
    receiver.close()


@pytest.fixture
def vmc_url(listener):
    """The app as a user runs it: `python serve.py --vmc 127.0.0.1:PORT`."""
    proc = subprocess.Popen([sys.executable, str(harness.ROOT / "serve.py"), "--port", "0",
                             "--vmc", f"127.0.0.1:{listener.port}"], cwd=harness.ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for _ in range(50):
            line = proc.stdout.readline()
            found = re.search(r"running at (http://\S+?)/ ", line)
            if found:
                url = found.group(1)
                break
        assert url, "serve.py did not start"
        assert f"udp://127.0.0.1:{listener.port}" in proc.stdout.readline()
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def smile_then_neutral(tmp_path_factory):
    out = tmp_path_factory.mktemp("vmc") / "smile_neutral.y4m"
    return harness.write_y4m(out, [(harness.astronaut_png(), 3 * FPS),
                                   (harness.NEUTRAL_FACES[0], 3 * FPS)])


def turn_vmc_on(page) -> None:
    page.click("#tab-output")
    page.click("#vmc-on")
    page.wait_for_function("document.getElementById('output-vmc').dataset.state === 'on'",
                           timeout=15_000)


def test_a_smile_reaches_a_vmc_receiver_through_the_relay(vmc_url, listener, open_page,
                                                          smile_then_neutral):
    p = open_page(vmc_url, smile_then_neutral)
    page = p.page
    harness.wait_ready(page)
    assert not listener.frames  # off by default: nothing is sent
    turn_vmc_on(page)
    assert "udp://127.0.0.1" in page.text_content("#vmc-status")
    # the smile (no model yet: the rule weights the avatar shows) goes out as Joy, in a
    # frame closed by Apply; then the neutral face, and it falls
    listener.wait_for(lambda f: f.get("Joy", 0) > 0.5, 40)
    smiled = next(i for i, f in enumerate(listener.frames) if f.get("Joy", 0) > 0.5)
    listener.wait_for(lambda f: f.get("Joy", 1) < 0.2, 20, since=smiled)
    assert not listener.bad, listener.bad
    frame = listener.frames[-1]
    assert {"Joy", "Angry", "Sorrow", "Fun", "A", "I", "U", "E", "O", "Blink", "Blink_L",
            "Blink_R", "Neutral", "Surprised"} <= set(frame)
    # a hotkey reaches the receiver too: what the avatar shows is what is sent
    n = len(listener.frames)
    page.keyboard.press("2")  # angry, forced
    listener.wait_for(lambda f: f.get("Angry") == 1.0 and f.get("Joy") == 0.0, 10, since=n)
    page.keyboard.press("0")
    # perfect sync on: the 52 ARKit clips follow
    page.check("#vmc-perfect-sync")
    n = len(listener.frames)
    listener.wait_for(lambda f: "JawOpen" in f and "MouthSmileLeft" in f and "Joy" in f, 10,
                      since=n)
    # the settings survive a reload, and it sends again by itself
    page.reload()
    harness.wait_ready(page)
    n = len(listener.frames)
    listener.wait_for(lambda f: "EyeBlinkLeft" in f, 40, since=n)
    page.click("#tab-output")
    assert page.get_attribute("#vmc-on", "aria-pressed") == "true"
    assert page.is_checked("#vmc-perfect-sync")
    # the socket worker a whole ring behind: the datagrams it could not take are said
    assert "lost" not in page.text_content("#vmc-status")
    page.evaluate(harness.STALL_SOCKET, "vmc")
    page.wait_for_function("/\\d+ datagrams lost/.test("
                           "document.querySelector('#vmc-status').textContent)")
    assert not p.errors, p.errors


@pytest.fixture(scope="module")
def vowel(tmp_path_factory, tts):
    """A sustained "aa" (espeak-ng, slowed down by sox) that loops on the fake microphone."""
    out = tmp_path_factory.mktemp("vowel")
    raw, wav = out / "aa-raw.wav", out / "aa.wav"
    subprocess.run(["espeak-ng", "-s", "60", "-w", str(raw), "[[A:]]"], check=True)
    subprocess.run(["sox", str(raw), "-r", "48000", "-b", "16", str(wav), "silence", "1",
                    "0.02", "2%", "reverse", "silence", "1", "0.02", "2%", "reverse", "tempo",
                    "0.25"], check=True, capture_output=True)
    return wav


def test_the_microphones_mouth_reaches_the_receiver(vmc_url, listener, open_page, videos,
                                                    vowel):
    p = open_page(vmc_url, videos["neutral1"], wav=vowel)
    page = p.page
    harness.wait_ready(page)
    turn_vmc_on(page)
    closed = listener.wait_for(lambda f: "A" in f, 30)
    assert closed["A"] < 0.15  # a neutral face: the camera's mouth is shut
    n = len(listener.frames)
    page.click("#btn-mic")
    page.wait_for_function("mimicApp.voice.opening > 0.2", timeout=20_000)
    listener.wait_for(lambda f: f.get("A", 0) > 0.25, 20, since=n)
    assert not p.errors, p.errors


def test_without_the_relay_the_page_says_how_to_start_it(app_url, videos, open_page):
    p = open_page(app_url, videos["neutral1"])
    page = p.page
    harness.wait_ready(page)
    page.click("#tab-output")
    page.click("#vmc-on")
    page.wait_for_function(
        "document.getElementById('output-vmc').dataset.state === 'no-relay'", timeout=15_000)
    assert "python serve.py --vmc" in page.text_content("#vmc-status")
    assert not p.errors, p.errors
