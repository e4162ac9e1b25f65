"""Mimic as a VTube Studio plugin: messages, inputs, expression switching and the session,
the latter against a fake VTube Studio on a real WebSocket (tests/vtsfake.py)."""

from __future__ import annotations

import json
import math

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
    assert _msg(vts.request_token("iVBOR"))["data"]["pluginIcon"] == "iVBOR"
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
    fast = _msg(template % ("1234.5", "false", 12.3456789, 0.5))
    slow = _msg(vts.inject({"FaceAngleX": 12.3457, "MimicHappy": 0.5}, False))
    assert fast["requestID"] == "mimic-1234.5"
    assert fast["data"] == slow["data"] and fast["messageType"] == slow["messageType"]
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
    # models from Japanese and Chinese artists name their files so
    assert guess_expressions(["happy", "angry", "sad", "surprised"],
                             ["笑顔.exp3.json", "怒り.exp3.json", "泣き.exp3.json",
                              "惊讶.exp3.json"]) == {
        "happy": "笑顔.exp3.json", "angry": "怒り.exp3.json", "sad": "泣き.exp3.json",
        "surprised": "惊讶.exp3.json"}
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
    sw.reset()  # reconnected: VTS's state unknown, the winner's file goes on again
    assert sw.update("happy", True) == [("Blush.exp3.json", True)]
    sw.reset()  # ... and if another won meanwhile, Mimic's file still goes off
    assert sw.update("angry", True) == [("Blush.exp3.json", False)]
    sw.reset(keep=False)  # another model: the old file is not in it, forget it
    assert sw.update("happy", True) == [("Blush.exp3.json", True)]


# the session on canned answers (the round trips: test_vts_server.py) -----------------------
def _answer(kind: str, request_id: str = "mimic-x", **data) -> str:
    return json.dumps({"apiName": "VTubeStudioPublicAPI", "apiVersion": "1.0",
                       "messageType": kind, "requestID": request_id, "data": data})


def _error(code: int, text: str = "", request_id: str = "mimic-x") -> str:
    return _answer("APIError", request_id, errorID=code, message=text)


def _live(names=NAMES, token: str = "t") -> vts.VtsSession:
    s = vts.VtsSession(token=token, names=names)
    assert _msg(s.opened()[0])["messageType"] == "AuthenticationRequest"
    sent = s.received(_answer("AuthenticationResponse", authenticated=True))
    kinds = [_msg(m)["messageType"] for m in sent]
    assert kinds.count("ParameterCreationRequest") == len(names)
    assert kinds[-1] == "ExpressionStateRequest"
    for m in sent[:-1]:
        name = _msg(m)["data"]["parameterName"]
        assert s.state == "setup"
        s.received(_answer("ParameterCreationResponse", parameterName=name))
    assert s.state == "live"
    return s


def _frame_out(s: vts.VtsSession, t: float, face: bool = True, winner=None) -> list[dict]:
    w = np.zeros(len(s.inputs.names), np.float32)
    return [_msg(m) for m in s.frame(_frame(), np.zeros(5, np.float32), w, face, winner, t)]


def test_without_a_token_the_session_asks_and_keeps_the_new_one():
    s = vts.VtsSession(names=NAMES)
    assert _msg(s.opened()[0])["messageType"] == "AuthenticationTokenRequest"
    assert "Allow" in s.status and _frame_out(s, 0.0) == []
    sent = s.received(_answer("AuthenticationTokenResponse", "mimic-token",
                              authenticationToken="tok"))
    assert s.token == "tok" and s.token_changed
    assert _msg(sent[0])["data"]["authenticationToken"] == "tok"


def test_a_revoked_token_asks_again_once():
    s = _live()
    out = s.received(_error(50, "User has denied API access for your plugin."))
    assert [_msg(m)["messageType"] for m in out] == ["AuthenticationTokenRequest"]
    assert s.token is None and s.token_changed and "revoked" in s.status
    # answers to frames already in flight say the same: no second dialog
    assert s.received(_error(50)) == []
    assert s.received(_error(50)) == []
    # and a refused login (token revoked while Mimic was away) asks too
    s = vts.VtsSession(token="old", names=NAMES)
    s.opened()
    out = s.received(_answer("AuthenticationResponse", authenticated=False))
    assert [_msg(m)["messageType"] for m in out] == ["AuthenticationTokenRequest"]
    assert "no longer accepts" in s.status


def test_denied_dialog_stops_asking():
    s = vts.VtsSession(names=NAMES)
    s.opened()
    assert s.received(_error(50, "denied", "mimic-token")) == []
    assert s.state == "denied" and "not allowed" in s.status and _frame_out(s, 0.0) == []


def test_parameter_refused_by_another_plugin_is_left_out():
    s = vts.VtsSession(token="t", names=("happy", "sad"))
    s.opened()
    s.received(_answer("AuthenticationResponse", authenticated=True))
    s.received(_error(352, "Parameter MimicSad was already created by Other Plugin"))
    s.received(_answer("ParameterCreationResponse", parameterName="MimicHappy"))
    assert s.state == "live"
    assert "MimicSad belongs to another plugin" in s.status and "sending" in s.status
    ids = [p["id"] for p in _frame_out(s, 0.0)[0]["data"]["parameterValues"]]
    assert "MimicHappy" in ids and "MimicSad" not in ids and "FaceAngleX" in ids


def test_input_taken_by_another_plugin_is_left_to_it():
    s = _live()
    s.received(_error(454, "Parameter MouthSmile is currently controlled by X"))
    s.received(_error(454, "Parameter MouthSmile is currently controlled by X"))  # in flight
    ids = [p["id"] for p in _frame_out(s, 0.0)[0]["data"]["parameterValues"]]
    assert "MouthSmile" not in ids and "MouthOpen" in ids
    assert "driving MouthSmile" in s.status


def test_values_are_sent_every_frame_and_again_within_a_second_without_frames():
    s = _live()
    out = _frame_out(s, 10.0, face=False)
    assert out[0]["messageType"] == "InjectParameterDataRequest"
    assert out[0]["requestID"] == "mimic-10000.0"  # the frame's time, for logs and latency
    assert out[0]["data"]["faceFound"] is False
    sent = [10.0]
    t = 10.0
    while t < 14.0:  # the camera stalls; the page's timer ticks every 0.25 s
        t += 0.25
        for m in s.keepalive(t):
            assert _msg(m)["data"]["faceFound"] is False
            sent.append(t)
    gaps = np.diff(sent)
    assert len(sent) >= 8 and max(gaps) < 1.0
    assert s.keepalive(t) == []  # nothing twice at the same moment


def test_expression_switches_go_out_with_the_frame_and_the_list_is_read_again():
    s = _live()
    s.received(_answer("ExpressionStateResponse", modelID="m1", modelName="M",
                       expressions=[{"name": "Joy", "file": "Joy.exp3.json", "active": False}]))
    assert s.expressions == ["Joy.exp3.json"] and s.expressions_changed
    s.set_mapping(s.guess_mapping(["happy", "sad"]))
    out = _frame_out(s, 0.0, winner="happy")
    acts = [m["data"] for m in out if m["messageType"] == "ExpressionActivationRequest"]
    assert acts == [{"expressionFile": "Joy.exp3.json", "fadeTime": 0.5, "active": True}]
    assert any(m["messageType"] == "ExpressionStateRequest" for m in out)  # first frame
    later = _frame_out(s, 5.0, winner="happy")
    assert [m["messageType"] for m in later] == ["InjectParameterDataRequest"]
    assert "ExpressionStateRequest" in [m["messageType"] for m in _frame_out(s, 11.0)]
    out = s.received(_error(651, "Expression Joy.exp3.json not found"))
    assert [_msg(m)["messageType"] for m in out] == ["ExpressionStateRequest"]
    assert "could not switch" in s.status


@pytest.mark.parametrize("code", [0, 1, 2, 8, 50, 51, 352, 354, 355, 356, 450, 451, 453, 454,
                                  455, 650, 651, 652, 999])
def test_every_error_id_is_one_status_line(code):
    s = _live()
    s.received(_error(code, "Parameter MimicSad: no"))
    assert s.status and "\n" not in s.status and len(s.status) < 200
    assert s.error  # kept for the page's "last error" after the status moves on


def test_garbage_from_the_server_is_one_line():
    s = vts.VtsSession()
    assert s.received("not json") == []
    assert "not an API message" in s.status
