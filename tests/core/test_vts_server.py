"""The VTube Studio session on a real WebSocket against a fake VTube Studio (tests/vtsfake.py,
written from the API's README): token once, revoke, deny, parameters refused, expression
switching, re-sending, VTube Studio gone and back. CPython only (a local server)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mimic import vts

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
websockets_sync = pytest.importorskip("websockets.sync.client")
from mimic.blendshapes import COUNT, INDEX  # noqa: E402
from mimic.vtsinputs import DEFAULT_INPUTS  # noqa: E402
from vtsfake import FakeVTS  # noqa: E402

NAMES = ("neutral", "happy", "angry", "sad", "aa", "oh", "blink", "blinkLeft", "blinkRight",
         "big grin")


def _frame(**weights: float) -> np.ndarray:
    f = np.zeros(COUNT, np.float32)
    for name, value in weights.items():
        f[INDEX[name]] = value
    return f


# the session, against the fake VTube Studio ---------------------------------------------------
class Link:
    """A session on a real WebSocket: sends what it returns, feeds it every answer."""

    def __init__(self, session: vts.VtsSession, port: int) -> None:
        self.session = session
        self.ws = websockets_sync.connect(f"ws://127.0.0.1:{port}")
        self.pending = 0
        self.send(session.opened())

    def send(self, messages: list[str]) -> None:
        for m in messages:
            self.ws.send(m)
            self.pending += 1

    def settle(self) -> None:
        while self.pending:
            text = self.ws.recv(timeout=5)
            self.pending -= 1
            self.send(self.session.received(text))

    def frame(self, t: float, winner: str | None = None, face: bool = True,
              w: np.ndarray | None = None, **arkit: float) -> None:
        names = self.session.inputs.names
        w = np.zeros(len(names), np.float32) if w is None else w
        self.send(self.session.frame(_frame(**arkit), np.zeros(5, np.float32), w, face,
                                     winner, t))
        self.settle()

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def fake():
    with FakeVTS() as server:
        yield server


def test_allow_once_then_logins_reuse_the_token(fake):
    s = vts.VtsSession(names=NAMES)
    link = Link(s, fake.port)
    assert s.state == "asking" and "Allow" in s.status
    link.settle()
    assert s.state == "live" and s.token and s.token_changed
    assert fake.dialogs == 1 and fake.logins == 1
    assert {f"Mimic{n}" for n in ("Happy", "Angry", "Sad", "Aa", "BigGrin")} <= set(fake.params)
    link.frame(0.0, mouthSmileLeft=0.9, mouthSmileRight=0.9)
    assert fake.last_values()["MouthSmile"] == 1.0
    assert fake.injections[-1][2] is True
    link.close()
    again = vts.VtsSession(token=s.token, names=NAMES)  # a reload: the token from settings
    link = Link(again, fake.port)
    link.settle()
    assert again.state == "live" and not again.token_changed
    assert fake.dialogs == 1 and fake.logins == 2
    link.close()


def test_revoked_token_asks_again(fake):
    s = vts.VtsSession(names=NAMES)
    link = Link(s, fake.port)
    link.settle()
    fake.revoke()
    link.frame(0.0)
    assert s.state == "live" and fake.dialogs == 2  # asked again, allowed, set up again
    assert "revoked" in s.error
    assert "MimicHappy" in fake.params
    link.frame(0.1)
    assert "MimicHappy" in fake.last_values()
    link.close()
    # a stale token at login (revoked while Mimic was closed) also asks again
    fake.revoke()
    stale = vts.VtsSession(token=s.token, names=NAMES)
    link = Link(stale, fake.port)
    link.settle()
    assert stale.state == "live" and stale.token != s.token and stale.token_changed
    assert fake.dialogs == 3
    link.close()


def test_denied_says_so_and_stops_asking(fake):
    fake.allow = False
    s = vts.VtsSession(names=NAMES)
    link = Link(s, fake.port)
    link.settle()
    assert s.state == "denied" and "not allowed" in s.status
    link.frame(0.0)
    assert fake.dialogs == 1 and not fake.injections
    link.close()


def test_parameter_of_another_plugin_is_left_out_and_the_rest_sent(fake):
    fake.params["MimicSad"] = "Other Plugin"
    s = vts.VtsSession(names=NAMES)
    link = Link(s, fake.port)
    link.settle()
    assert s.state == "live"
    assert "sending" in s.status and "MimicSad belongs to another plugin" in s.status
    link.frame(0.0)
    sent = fake.last_values()
    assert "MimicSad" not in sent and "MimicHappy" in sent and "FaceAngleX" in sent
    link.close()


def test_input_driven_by_another_plugin_is_left_to_it(fake):
    s = vts.VtsSession(names=NAMES)
    link = Link(s, fake.port)
    link.settle()
    fake.controlled["FaceAngleZ"] = "Other Plugin"
    link.frame(0.0)
    assert "sending" in s.status and "nother plugin is driving FaceAngleZ" in s.status
    before = len(fake.injections)
    link.frame(0.1)
    assert len(fake.injections) == before + 1
    assert "FaceAngleZ" not in fake.last_values() and "FaceAngleX" in fake.last_values()
    link.close()


def test_deleted_parameters_are_created_again(fake):
    s = vts.VtsSession(names=NAMES)
    link = Link(s, fake.port)
    link.settle()
    del fake.params["MimicHappy"]  # the user deleted it in VTube Studio
    link.frame(0.0)
    assert "MimicHappy" in fake.params and s.state == "live"
    link.frame(0.1)
    assert "MimicHappy" in fake.last_values()
    link.close()


def test_expression_list_guess_and_switching_through_the_server(fake):
    s = vts.VtsSession(names=NAMES)
    link = Link(s, fake.port)
    link.settle()
    assert s.expressions_changed and "Happy.exp3.json" in s.expressions
    mapping = s.guess_mapping(["neutral", "happy", "angry", "sad"])
    assert mapping == {"neutral": "", "happy": "Happy.exp3.json",
                       "angry": "Angry.exp3.json", "sad": "Sad.exp3.json"}
    s.set_mapping(mapping)
    link.frame(0.0, winner="happy")
    link.frame(0.1, winner="angry", face=False)
    assert fake.expressions["Happy.exp3.json"] and not fake.expressions["Angry.exp3.json"]
    link.frame(0.2, winner="angry")
    assert fake.activations[-2:] == [("Happy.exp3.json", False, 0.5),
                                     ("Angry.exp3.json", True, 0.5)]
    assert [f for f, on in fake.expressions.items() if on] == ["Angry.exp3.json"]
    # the user loaded another model without that file: said in one line, list read again
    s.set_mapping({"happy": "Gone.exp3.json"})
    link.frame(0.3, winner="happy")
    assert "could not switch the expression" in s.status
    link.close()


def test_changed_model_targets_create_their_parameters_while_live(fake):
    s = vts.VtsSession(names=("happy",))
    link = Link(s, fake.port)
    link.settle()
    link.send(s.set_names(("happy", "smug")))
    link.settle()
    assert "MimicSmug" in fake.params and s.state == "live"
    assert f"sending {len(DEFAULT_INPUTS) + 2} parameters" in s.status
    link.frame(0.0)
    assert "MimicSmug" in fake.last_values()
    link.close()


def test_values_are_resent_at_least_once_a_second_without_frames(fake):
    s = vts.VtsSession(names=NAMES)
    link = Link(s, fake.port)
    link.settle()
    link.frame(0.0, mouthSmileLeft=0.9, mouthSmileRight=0.9)
    t, ticks = 0.0, []
    for _ in range(30):  # a timer ticking every 0.1 s (page clock), the camera stalled
        t += 0.1
        before = len(fake.injections)
        link.send(s.keepalive(t))
        link.settle()
        ticks.append((t, len(fake.injections) - before))
    sent_at = [0.0] + [t for t, n in ticks if n]
    assert len(sent_at) >= 6 and max(np.diff(sent_at)) < 1.0  # on the page's clock
    assert all(n <= 1 for _, n in ticks)
    assert fake.last_values()["MouthSmile"] == 1.0  # the last values, again
    link.close()


def test_frames_without_a_face_still_inject_with_face_found_false(fake):
    s = vts.VtsSession(names=NAMES)
    link = Link(s, fake.port)
    link.settle()
    link.frame(0.0, face=False)
    assert fake.injections[-1][2] is False
    link.close()


def test_closed_and_back_reconnects(fake):
    s = vts.VtsSession(names=NAMES)
    link = Link(s, fake.port)
    link.settle()
    fake.stop()
    s.closed(f"ws://localhost:{fake.port}")
    assert s.state == "down" and "not reachable" in s.status
    assert s.frame(_frame(), np.zeros(5, np.float32), np.zeros(len(NAMES), np.float32), True,
                   None, 1.0) == []
    fake.start()
    link = Link(s, fake.port)
    link.settle()
    assert s.state == "live" and fake.dialogs == 1
    link.close()
