"""The page as a VTube Studio plugin, against the fake VTube Studio (tests/vtsfake.py) on a real
port: deny, then allow once (a reload logs in with the stored token), MouthSmile high on the
fake camera's smile, the mapped expression file switched when the winner changes (hotkeys
force the winner here, the same path a trained model's winner takes), and VTube Studio
stopped and started again while the camera keeps tracking."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import harness

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
pytest.importorskip("websockets")
from vtsfake import FakeVTS


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained by the command line on synthetic clips (it adds "relaxed" and
    "neutral" to the targets the page drives without a model)."""
    return harness.synthetic_model(tmp_path_factory.mktemp("vtsmodel"))


def _connect(page, port: int) -> None:
    page.click("#tab-output")
    page.fill("#vts-port", str(port))
    page.dispatch_event("#vts-port", "change")
    page.click("#vts-connect")


def _status(page) -> str:
    return page.text_content("#vts-status") or ""


def _frames(page) -> int:
    return int(page.evaluate("window.mimicBridge ? mimicBridge.stats.frames : 0") or 0)


def _wait_status(page, text: str, timeout_ms: int = 20_000) -> None:
    page.wait_for_function("t => document.getElementById('vts-status').textContent.includes(t)",
                           arg=text, timeout=timeout_ms)


def test_vts_allow_once_smile_expressions_and_recovery(app_url, videos, open_page, artifacts,
                                                        model_file):
    with FakeVTS() as fake:
        p = open_page(app_url, videos["smile"])
        page = p.page
        harness.wait_ready(page)
        # the user first clicks Deny in VTube Studio's dialog: said, and off until asked again
        fake.allow = False
        _connect(page, fake.port)
        _wait_status(page, "not allowed")
        assert page.text_content("#vts-connect") == "Connect"
        assert fake.icons and fake.icons[0], "the dialog should show Mimic's icon"
        fake.allow = True
        page.click("#vts-connect")
        assert fake.wait(lambda: fake.logins == 1), _status(page)
        _wait_status(page, "sending")
        assert fake.dialogs == 2
        assert {"MimicHappy", "MimicAngry", "MimicSad", "MimicSurprised"} <= set(fake.params)

        # the smiling face reaches VTube Studio's own MouthSmile input, with faceFound
        assert fake.wait(lambda: fake.last_values().get("MouthSmile", 0) > 0.75), \
            fake.last_values()
        assert fake.injections[-1][2] is True
        assert -90 <= fake.last_values()["FaceAngleX"] <= 90

        # the mapping table guessed the model's files by name
        page.wait_for_selector('#vts-map select[data-label="happy"]')
        guessed = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
            '#vts-map select')].map(s => [s.dataset.label, s.value]))""")
        assert guessed == {"happy": "Happy.exp3.json", "angry": "Angry.exp3.json",
                           "sad": "Sad.exp3.json", "surprised": "Surprised.exp3.json"}
        page.locator("#output-vts").screenshot(path=str(artifacts / "output-vts.png"))

        # the winner changes (hotkey 1: happy, then 2: angry): files switched with a fade
        page.locator("body").click(position={"x": 5, "y": 5})
        page.keyboard.press("1")
        assert fake.wait(lambda: fake.expressions["Happy.exp3.json"])
        page.keyboard.press("2")
        assert fake.wait(lambda: fake.expressions["Angry.exp3.json"])
        assert not fake.expressions["Happy.exp3.json"]
        assert fake.activations[-2:] == [("Happy.exp3.json", False, 0.5),
                                         ("Angry.exp3.json", True, 0.5)]
        # the user maps angry to another file: it takes over at once, and is kept
        page.select_option('#vts-map select[data-label="angry"]', "Blush.exp3.json")
        assert fake.wait(lambda: fake.expressions["Blush.exp3.json"])
        assert not fake.expressions["Angry.exp3.json"]
        page.keyboard.press("0")

        # VTube Studio closes: one line, the camera keeps tracking; it comes back: reconnected
        fake.stop()
        _wait_status(page, "not reachable")
        before = _frames(page)
        page.wait_for_timeout(1500)
        assert _frames(page) > before, "tracking stopped with VTube Studio"
        injected = len(fake.injections)
        fake.start()
        assert fake.wait(lambda: fake.logins == 2), _status(page)
        assert fake.wait(lambda: len(fake.injections) > injected + 5)
        assert fake.dialogs == 2  # the stored token, no new dialog
        _wait_status(page, "sending")

        # a reload: the output stays on and logs in with the stored token
        page.reload()
        harness.wait_ready(page)
        assert fake.wait(lambda: fake.logins == 3), _status(page)
        assert fake.dialogs == 2
        page.click("#tab-output")
        page.wait_for_selector('#vts-map select[data-label="angry"]')
        assert page.input_value('#vts-map select[data-label="angry"]') == "Blush.exp3.json"
        assert page.input_value("#vts-port") == str(fake.port)

        # a trained model brings its own targets: their parameters are created while live,
        # and the table gains their rows
        assert "MimicRelaxed" not in fake.params
        page.click("#tab-train")
        page.set_input_files("#import-model", str(model_file))
        assert fake.wait(lambda: {"MimicRelaxed", "MimicNeutral"} <= set(fake.params))
        assert fake.wait(lambda: "MimicRelaxed" in fake.last_values())
        page.click("#tab-output")
        page.wait_for_selector('#vts-map select[data-label="relaxed"]')
        assert page.input_value('#vts-map select[data-label="relaxed"]') == ""
        assert fake.dialogs == 2
        # the socket worker falling a whole ring behind (a ring nobody reads): what could
        # not be handed over is counted and said, not lost silently
        assert "lost" not in page.text_content("#vts-stats")
        page.evaluate(harness.STALL_SOCKET, "vts")
        page.wait_for_function("/\\d+ messages lost/.test("
                               "document.querySelector('#vts-stats').textContent)")
        assert p.errors == []


# web/socket.js with a stand-in for Pyodide's PyProxy of a bytearray: `getBuffer` views its
# memory, and "growing" the memory detaches the old view (as WebAssembly memory growth does).
# Then enough messages, a frame's worth at a time, to wrap the shared ring round.
ATTACHED_SEND = """async ([port, ring]) => {
  const { OffThreadSocket } = await import("/web/socket.js");
  const ws = new OffThreadSocket(`ws://127.0.0.1:${port}`, "", ring);
  await new Promise((resolve) => { ws.onopen = resolve; });
  let memory = new ArrayBuffer(4096);
  const counts = { released: 0, destroyed: 0, copies: 0 };
  const proxy = {
    copy() { counts.copies++; return this; },
    getBuffer() { return { data: new Uint8Array(memory, 64, 2048),
                           release() { counts.released++; } }; },
    destroy() { counts.destroyed++; },
  };
  const message = (id) => JSON.stringify({ apiName: "VTubeStudioPublicAPI",
    apiVersion: "1.0", requestID: id, messageType: "APIStateRequest",
    data: { pad: "x".repeat(1000 + (id.length * 37) % 101) } });
  const put = (id) => {
    const bytes = new TextEncoder().encode(message(id));
    new Uint8Array(memory, 64).set(bytes);
    return bytes.length;
  };
  ws.attach(0, proxy);
  ws.sendAttached(0, put("before"), true);
  const old = memory;
  memory = new ArrayBuffer(8192);
  structuredClone(old, { transfer: [old] });  // detached, as after memory growth
  ws.sendAttached(0, put("after"), true);
  for (let i = 0; i < 600; i++) {
    if (i % 2) ws.send(message(`m${i}`));
    else ws.sendAttached(0, put(`m${i}`), true);
    if (i % 3 === 2) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  ws.close();
  return { ...counts, ring: !!ws.ring, dropped: ws.dropped };
}"""


@pytest.mark.parametrize("ring", [True, False], ids=["shared ring", "postMessage"])
def test_socket_sends_from_python_memory_in_order(app_url, ring):
    """The outputs' socket reads each message out of Python's buffer (one call per message),
    through the shared ring or by postMessage, every message in order, the ring wrapped round
    several times; the view is taken again once WebAssembly memory grew, and released on
    close."""
    with FakeVTS() as fake, harness.browser() as b:
        page = b.new_page()
        page.goto(app_url + "/web/stage.html")
        got = page.evaluate(ATTACHED_SEND, [fake.port, ring])
        ids = ["before", "after"] + [f"m{i}" for i in range(600)]
        assert fake.wait(lambda: len(fake.messages("APIStateRequest")) >= len(ids))
        sent = fake.messages("APIStateRequest")
        assert [m["requestID"] for m in sent] == ids
        assert all(len(m["data"]["pad"]) == 1000 + (len(m["requestID"]) * 37) % 101
                   for m in sent)
        assert got == {"released": 2, "destroyed": 1, "copies": 1, "ring": ring, "dropped": 0}


# The camera loop's path: Python writes its messages into attached buffers and how much to send
# into the socket's outbox (an Int32 per slot); `flushSockets` (called after Python's frame)
# sends them and clears the counts. A slot attached with its messages' ends goes out as one
# message each. Stand-ins for the PyProxies as above; "growing" the memory detaches the views.
OUTBOX_FLUSH = """async ([port, ring]) => {
  const { OffThreadSocket, flushSockets } = await import("/web/socket.js");
  const ws = new OffThreadSocket(`ws://127.0.0.1:${port}`, "", ring);
  await new Promise((resolve) => { ws.onopen = resolve; });
  let memory = new ArrayBuffer(8192);
  const stand_in = (at, n, Kind) => ({ copy() { return this; }, destroy() {},
    getBuffer() { return { data: new Kind(memory, at, n), release() {} }; } });
  const bytes = new Uint8Array(memory, 1024);
  const message = (id) => JSON.stringify({ apiName: "VTubeStudioPublicAPI", apiVersion: "1.0",
    requestID: id, messageType: "APIStateRequest", data: {} });
  const frame = ["p1", "p2", "p3"].map(message);
  const encoded = new TextEncoder().encode(frame.join(""));
  const ends = [];
  let end = 0;
  for (const m of frame) ends.push(end += m.length);
  ws.attach(0, stand_in(1024, 2048, Uint8Array), ends, true);
  ws.attach(1, stand_in(4096, 2048, Uint8Array), null, true);
  ws.outbox(stand_in(0, 4, Int32Array));
  const counts = () => new Int32Array(memory, 0, 4);
  const single = new TextEncoder().encode(message("one") + "garbage after it");
  flushSockets();  // nothing posted: nothing sent
  bytes.set(encoded);
  new Uint8Array(memory, 4096).set(single);
  counts()[0] = -1;
  counts()[1] = message("one").length;
  flushSockets();
  const cleared = Array.from(counts());
  flushSockets();  // the counts were cleared: nothing sent twice
  await new Promise((resolve) => setTimeout(resolve, 200));  // the worker waits again
  const old = memory;
  memory = new ArrayBuffer(8192);
  structuredClone(old, { transfer: [old] });
  new Uint8Array(memory, 1024).set(new TextEncoder().encode(["q1", "q2", "q3"].map(message)
    .join("")));
  new Int32Array(memory, 0, 4)[0] = -1;
  flushSockets();  // both views taken again after the "growth"; the worker woken for them
  window.__outboxSocket = ws;  // open until the test saw them (closing sends what is queued)
  return { cleared, ring: !!ws.ring, dropped: ws.dropped };
}"""


@pytest.mark.parametrize("ring", [True, False], ids=["shared ring", "postMessage"])
def test_camera_loop_flushes_what_python_posted_to_the_outbox(app_url, ring):
    """A frame's messages leave when the camera loop flushes the outboxes: each message of
    a slot posted whole, the first n bytes of one posted with n, nothing unposted, nothing
    twice; the views are taken again after memory growth."""
    with FakeVTS() as fake, harness.browser() as b:
        page = b.new_page()
        page.goto(app_url + "/web/stage.html")
        got = page.evaluate(OUTBOX_FLUSH, [fake.port, ring])
        assert fake.wait(lambda: len(fake.messages("APIStateRequest")) >= 7, 5)
        page.evaluate("async () => { const { flushSockets } = await import('/web/socket.js');"
                      " __outboxSocket.close(); flushSockets(); }")  # closed: not flushed
        time.sleep(0.3)
        sent = [m["requestID"] for m in fake.messages("APIStateRequest")]
        assert sent == ["p1", "p2", "p3", "one", "q1", "q2", "q3"]
        assert got == {"cleared": [0, 0, 0, 0], "ring": ring, "dropped": 0}
