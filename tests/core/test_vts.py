"""Mimic as a VTube Studio plugin: messages, inputs, expression switching and the session,
the latter against a fake VTube Studio on a real WebSocket (tests/vtsfake.py)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from mimic import vts
from mimic.blendshapes import COUNT, INDEX
from mimic.vtsinputs import (
    DEFAULT_INPUTS,
    ExpressionSwitch,
    VtsInputs,
    guess_expressions,
    parameter_name,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
websockets_sync = pytest.importorskip("websockets.sync.client")
from vtsfake import FakeVTS  # noqa: E402

NAMES = ("neutral", "happy", "angry", "sad", "aa", "oh", "blink", "blinkLeft", "blinkRight",
         "big grin")


def _msg(text: str) -> dict:
    msg = json.loads(text)
    assert msg["apiName"] == "VTubeStudioPublicAPI"
    assert msg["apiVersion"] == "1.0"
    assert 1 <= len(msg["requestID"]) <= 64 and msg["requestID"].isascii()
    return msg


# messages ------------------------------------------------------------------------------------
def test_messages_carry_the_fields_the_api_readme_names():
    tok = _msg(vts.request_token())
    assert tok["messageType"] == "AuthenticationTokenRequest"
    assert tok["data"] == {"pluginName": "Mimic", "pluginDeveloper": vts.PLUGIN_DEVELOPER}
    assert 3 <= len(vts.PLUGIN_NAME) <= 32 and 3 <= len(vts.PLUGIN_DEVELOPER) <= 32
    auth = _msg(vts.authenticate("abc"))
    assert auth["messageType"] == "AuthenticationRequest"
    assert auth["data"] == {"pluginName": "Mimic", "pluginDeveloper": vts.PLUGIN_DEVELOPER,
                            "authenticationToken": "abc"}
    par = _msg(vts.create_parameter("MimicHappy", "x" * 400))
    assert par["messageType"] == "ParameterCreationRequest"
    assert par["data"]["parameterName"] == "MimicHappy"
    assert (par["data"]["min"], par["data"]["max"], par["data"]["defaultValue"]) == (0, 1, 0)
    assert len(par["data"]["explanation"]) < 256
    exp = _msg(vts.expression_state())
    assert exp["messageType"] == "ExpressionStateRequest"
    act = _msg(vts.activate_expression("Happy.exp3.json", True, 5.0))
    assert act["messageType"] == "ExpressionActivationRequest"
    assert act["data"] == {"expressionFile": "Happy.exp3.json", "fadeTime": 2.0, "active": True}


def test_the_per_frame_template_is_the_readable_injection_message():
    ids = ["FaceAngleX", "MimicHappy"]
    template = vts.inject_template(ids)
    fast = _msg(template % ("false", 12.3456789, 0.5))
    slow = _msg(vts.inject({"FaceAngleX": 12.3457, "MimicHappy": 0.5}, False))
    assert fast == slow
    assert fast["data"]["faceFound"] is False and fast["data"]["mode"] == "set"


# inputs --------------------------------------------------------------------------------------
def test_parameter_names_follow_vts_rules_and_are_unique():
    assert parameter_name("happy") == "MimicHappy"
    assert parameter_name("big grin") == "MimicBigGrin"
    assert parameter_name("blinkLeft") == "MimicBlinkLeft"
    assert parameter_name("été") == "MimicT"
    assert parameter_name("€€") == "MimicLabel"
    assert parameter_name("happy", ["MimicHappy"]) == "MimicHappy2"
    long = parameter_name("x" * 60, ["Mimic" + "X" + "x" * 26])
    assert len(long) == 32 and long.endswith("2")
    inputs = VtsInputs(("happy", "Happy", "sad"))
    assert inputs.custom == ("MimicHappy", "MimicHappy2", "MimicSad")
    for name in inputs.custom:
        assert 4 <= len(name) <= 32 and name.isascii() and name.isalnum()
        assert name not in DEFAULT_INPUTS


def _frame(**weights: float) -> np.ndarray:
    f = np.zeros(COUNT, np.float32)
    for name, value in weights.items():
        f[INDEX[name]] = value
    return f


def _values(inputs: VtsInputs, arkit, head=(0, 0, 0, 0, 0), w=None) -> dict[str, float]:
    w = np.zeros(len(inputs.names), np.float32) if w is None else w
    return dict(zip(inputs.ids, inputs.fill(arkit, np.array(head, np.float32), w), strict=True))


def test_vts_inputs_from_the_face():
    inputs = VtsInputs(NAMES)
    rest = _values(inputs, _frame())
    assert rest["MouthSmile"] == pytest.approx(0.5)
    assert rest["MouthOpen"] == 0 and rest["EyeOpenLeft"] == 1 == rest["EyeOpenRight"]
    assert rest["BrowLeftY"] == pytest.approx(0.5) and rest["Brows"] == pytest.approx(0.5)
    smile = _values(inputs, _frame(mouthSmileLeft=0.9, mouthSmileRight=0.9))
    assert smile["MouthSmile"] == 1.0
    frown = _values(inputs, _frame(mouthFrownLeft=0.8, mouthFrownRight=0.8))
    assert frown["MouthSmile"] < 0.2
    wink = _values(inputs, _frame(eyeBlinkLeft=1.0))
    assert wink["EyeOpenLeft"] == 0 and wink["EyeOpenRight"] == 1
    jaw = _values(inputs, _frame(jawOpen=0.5))
    assert jaw["MouthOpen"] == pytest.approx(0.8)
    up = _values(inputs, _frame(browInnerUp=1.0, browOuterUpLeft=1.0, browOuterUpRight=1.0))
    assert up["BrowLeftY"] == 1.0 == up["BrowRightY"]
    down = _values(inputs, _frame(browDownLeft=1.0))
    assert down["BrowLeftY"] == 0.0 and down["BrowRightY"] == pytest.approx(0.5)


def test_vts_inputs_from_the_head_and_gaze():
    inputs = VtsInputs(())
    head = (math.radians(20), math.radians(-10), math.radians(5), math.radians(25), 0.0)
    v = _values(inputs, _frame(), head)
    assert (v["FaceAngleX"], v["FaceAngleY"], v["FaceAngleZ"]) == pytest.approx((20, -10, 5),
                                                                               abs=1e-4)
    assert v["EyeLeftX"] == pytest.approx(1.0) and v["EyeRightX"] == pytest.approx(1.0)
    far = _values(inputs, _frame(), (3.0, 0, 0, 9.0, -9.0))
    assert far["FaceAngleX"] == 90 and far["EyeLeftX"] == 1 and far["EyeLeftY"] == -1


def test_learned_targets_become_mimic_parameters_and_move_mouth_and_eyes():
    inputs = VtsInputs(NAMES)
    w = np.zeros(len(NAMES), np.float32)
    w[NAMES.index("happy")] = 0.7
    w[NAMES.index("aa")] = 0.9
    w[NAMES.index("blinkLeft")] = 1.0
    v = _values(inputs, _frame(), w=w)
    assert v["MimicHappy"] == pytest.approx(0.7) and v["MimicBigGrin"] == 0
    assert v["MouthOpen"] == pytest.approx(0.9)  # a learned "aa" opens the mouth
    assert v["EyeOpenLeft"] == 0 and v["EyeOpenRight"] == 1  # a learned wink closes one eye


def test_no_nan_or_out_of_range_value_reaches_vts():
    inputs = VtsInputs(NAMES)
    arkit = np.full(COUNT, np.nan, np.float32)
    w = np.full(len(NAMES), np.nan, np.float32)
    values = inputs.fill(arkit, np.full(5, np.nan, np.float32), w)
    assert all(math.isfinite(x) and -1e6 <= x <= 1e6 for x in values)
    wild = inputs.fill(np.full(COUNT, 7.0, np.float32), np.full(5, 40.0, np.float32),
                       np.full(len(NAMES), -3.0, np.float32))
    for name, x in zip(inputs.ids, wild, strict=True):
        lo, hi = ((-90, 90) if name.startswith("FaceAngle") else
                  (-1, 1) if name in ("MouthX", "EyeLeftX", "EyeLeftY", "EyeRightX",
                                      "EyeRightY") else (0, 1))
        assert lo <= x <= hi, name


# expressions ---------------------------------------------------------------------------------
def test_guess_maps_learned_expressions_to_model_files_by_name():
    files = ["Smile.exp3.json", "angry_face.exp3.json", "Cry.exp3.json", "Shock.exp3.json",
             "Blush.exp3.json", "HappyTears.exp3.json", "Grin.exp3.json"]
    got = guess_expressions(["neutral", "happy", "angry", "sad", "surprised", "relaxed",
                             "grin"], files)
    assert got == {"neutral": "", "happy": "HappyTears.exp3.json",
                   "angry": "angry_face.exp3.json", "sad": "Cry.exp3.json",
                   "surprised": "Shock.exp3.json", "relaxed": "", "grin": "Grin.exp3.json"}
    # a file goes to one label at most
    assert guess_expressions(["happy", "joy"], ["Joy.exp3.json"]) == {
        "happy": "Joy.exp3.json", "joy": ""}


def test_switch_follows_the_winner_with_the_previous_one_off():
    sw = ExpressionSwitch()
    sw.set_mapping({"happy": "Happy.exp3.json", "angry": "Angry.exp3.json", "sad": ""})
    assert sw.update("happy", True) == [("Happy.exp3.json", True)]
    assert sw.update("happy", True) == []
    assert sw.update("angry", False) == []  # no face: nothing switches
    assert sw.update("angry", True) == [("Happy.exp3.json", False), ("Angry.exp3.json", True)]
    assert sw.update("sad", True) == [("Angry.exp3.json", False)]  # unmapped: just off
    assert sw.update(None, True) == []
    assert sw.update("happy", True) == [("Happy.exp3.json", True)]
    sw.set_mapping({"happy": "Blush.exp3.json"})  # the user edits the table
    assert sw.update("happy", True) == [("Happy.exp3.json", False), ("Blush.exp3.json", True)]
    sw.reset()  # a new session: VTS's state unknown, the winner's file goes on again
    assert sw.update("happy", True) == [("Blush.exp3.json", True)]


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
    link.frame(0.0)
    assert "MimicSmug" in fake.last_values()
    link.close()


def test_values_are_resent_at_least_once_a_second_without_frames(fake):
    s = vts.VtsSession(names=NAMES)
    link = Link(s, fake.port)
    link.settle()
    link.frame(0.0, mouthSmileLeft=0.9, mouthSmileRight=0.9)
    t = 0.0
    for _ in range(30):  # a timer ticking every 0.1 s, the camera stalled
        t += 0.1
        link.send(s.keepalive(t))
        link.settle()
    times = [t for t, _, _ in fake.injections]
    assert len(times) >= 6
    assert max(np.diff(times)) < 1.0  # wall clock of arrival at the fake server
    assert fake.last_values()["MouthSmile"] == 1.0  # the last values, again
    link.close()


def test_frames_without_a_face_still_inject_with_face_found_false(fake):
    s = vts.VtsSession(names=NAMES)
    link = Link(s, fake.port)
    link.settle()
    link.frame(0.0, face=False)
    assert fake.injections[-1][2] is False
    link.close()


@pytest.mark.parametrize("code", [0, 1, 2, 8, 50, 51, 352, 354, 355, 356, 450, 451, 453, 454,
                                  455, 650, 651, 652, 999])
def test_every_error_id_is_one_status_line(code):
    s = vts.VtsSession(token="t", names=NAMES)
    for text in (s.opened()[0],):
        assert _msg(text)["messageType"] == "AuthenticationRequest"
    s.received(json.dumps({"messageType": "AuthenticationResponse",
                           "data": {"authenticated": True}}))
    for name in list(s._pending):
        s.received(json.dumps({"messageType": "ParameterCreationResponse",
                               "data": {"parameterName": name}}))
    assert s.state == "live"
    s.received(json.dumps({"messageType": "APIError", "requestID": "mimic-x",
                           "data": {"errorID": code, "message": "Parameter MimicSad: no"}}))
    assert s.status and "\n" not in s.status and len(s.status) < 160


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


def test_garbage_from_the_server_is_one_line():
    s = vts.VtsSession()
    assert s.received("not json") == []
    assert "not an API message" in s.status
