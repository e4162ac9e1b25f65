"""Labels from every source must land on one spelling, and target order must be stable."""

import pytest

from mimic.targets import (
    EXPRESSIONS,
    EYES,
    MOUTH,
    VRM0_NAMES,
    TargetSet,
    canonical,
    group_of,
)


def test_preset_tuples():
    assert EXPRESSIONS == ("neutral", "happy", "angry", "sad", "relaxed", "surprised")
    assert MOUTH == ("aa", "ih", "ou", "ee", "oh")
    assert EYES == ("blink", "blinkLeft", "blinkRight")


def test_vrm0_names():
    assert VRM0_NAMES["happy"] == "joy"
    assert VRM0_NAMES["sad"] == "sorrow"
    assert VRM0_NAMES["relaxed"] == "fun"
    assert VRM0_NAMES["blinkLeft"] == "blink_l"
    assert VRM0_NAMES["blinkRight"] == "blink_r"
    assert [VRM0_NAMES[m] for m in MOUTH] == ["a", "i", "u", "e", "o"]
    assert "surprised" not in VRM0_NAMES
    for vrm1, vrm0 in VRM0_NAMES.items():
        assert canonical(vrm0) == vrm1


@pytest.mark.parametrize("raw, expected", [
    ("joy", "happy"), ("Sorrow", "sad"), ("fun", "relaxed"), ("a", "aa"), ("I", "ih"),
    ("u", "ou"), ("e", "ee"), ("o", "oh"), ("blink_l", "blinkLeft"), ("Blink_R", "blinkRight"),
    ("  HAPPY ", "happy"), ("BlinkLeft", "blinkLeft"), ("blink left", "blinkLeft"),
    ("Surprised", "surprised"), ("NEUTRAL", "neutral"), ("angry", "angry"),
])
def test_canonical_presets(raw, expected):
    assert canonical(raw) == expected


def test_canonical_custom_labels_pass_through_stripped():
    assert canonical("  tongue out ") == "tongue out"
    assert canonical("Wink") == "Wink"
    assert canonical("x" * 40) == "x" * 40
    assert canonical("😀 grin") == "😀 grin"


@pytest.mark.parametrize("raw, message", [
    ("", "must not be empty"),
    ("   ", "must not be empty"),
    ("x" * 41, "longer than 40 characters"),
    ("two\nlines", "control character"),
    ("tab\there", "control character"),
    ("nul\x00", "control character"),
    ("sep\u2028x", "control character"),
    (None, "must be a string"),
    (3, "must be a string"),
])
def test_canonical_rejects_invalid(raw, message):
    with pytest.raises(ValueError, match=message):
        canonical(raw)


@pytest.mark.parametrize("label, group", [
    ("neutral", "expression"), ("joy", "expression"), ("surprised", "expression"),
    ("wink", "expression"), ("aa", "mouth"), ("o", "mouth"), ("blink", "eyes"),
    ("blink_r", "eyes"),
])
def test_group_of(label, group):
    assert group_of(label) == group


def test_from_labels_orders_and_adds_neutral():
    labels = ["oh", "zany", "sad", "blinkRight", "Apple", "happy", "aa", "blink", "apple"]
    ts = TargetSet.from_labels(labels)
    assert ts.expressions == ("neutral", "happy", "sad", "Apple", "apple", "zany")
    assert ts.mouth == ("aa", "oh")
    assert ts.eyes == ("blink", "blinkRight")
    assert ts.names == ts.expressions + ts.mouth + ts.eyes


def test_from_labels_accepts_label_tuples_and_aliases():
    ts = TargetSet.from_labels([("joy", "a"), ("sorrow",), "neutral", ("happy", "aa")])
    assert ts.expressions == ("neutral", "happy", "sad")
    assert ts.mouth == ("aa",)
    assert ts.eyes == ()


def test_from_labels_without_expressions_has_no_neutral():
    ts = TargetSet.from_labels(["ou", "blinkLeft"])
    assert ts.expressions == ()
    assert ts.names == ("ou", "blinkLeft")


def test_from_labels_rejects_invalid_custom_label():
    with pytest.raises(ValueError, match="longer than 40"):
        TargetSet.from_labels(["happy", "y" * 50])


def test_slices_index_names():
    ts = TargetSet.from_labels(["happy", "sad", "aa", "ee", "oh", "blink"])
    sl = ts.slices
    assert set(sl) == {"expression", "mouth", "eyes"}
    assert ts.names[sl["expression"]] == ts.expressions
    assert ts.names[sl["mouth"]] == ("aa", "ee", "oh")
    assert ts.names[sl["eyes"]] == ("blink",)
    assert len(ts) == 7
    empty_eyes = TargetSet.from_labels(["happy"]).slices["eyes"]
    assert empty_eyes.start == empty_eyes.stop == 2


def test_dict_round_trip_keeps_order():
    ts = TargetSet(("neutral", "wink", "happy"), ("oh", "aa"), ("blinkLeft",))
    data = ts.to_dict()
    assert data == {"expressions": ["neutral", "wink", "happy"], "mouth": ["oh", "aa"],
                    "eyes": ["blinkLeft"]}
    back = TargetSet.from_dict(data)
    assert back == ts
    assert back.names == ts.names


@pytest.mark.parametrize("data, message", [
    ({"expressions": ["joy"]}, "not a canonical label"),
    ({"expressions": ["aa"]}, "belongs to mouth"),
    ({"mouth": ["blink"]}, "belongs to eyes"),
    ({"expressions": ["happy", "happy"]}, "appears twice"),
    ({"expressions": "happy"}, "must be a list"),
    ({"visemes": ["aa"]}, "unknown target set keys"),
    (["happy"], "must be a JSON object"),
    ({"expressions": [""]}, "must not be empty"),
])
def test_from_dict_rejects(data, message):
    with pytest.raises(ValueError, match=message):
        TargetSet.from_dict(data)


def test_target_set_is_frozen():
    ts = TargetSet.from_labels(["happy"])
    with pytest.raises(AttributeError):
        ts.expressions = ("sad",)
    assert hash(ts) == hash(TargetSet.from_labels(["happy", "neutral"]))
