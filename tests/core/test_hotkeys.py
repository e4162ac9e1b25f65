"""Expression hotkeys: force, add on top, release, rebind."""

import pytest

from mimic.hotkeys import DEFAULT_BINDINGS, Hotkeys


def test_a_key_forces_its_expression_and_the_same_key_releases_it():
    keys = Hotkeys()
    assert keys.press("1") and keys.held == {"happy": 1.0} and keys.exclusive
    assert "forced over your face (press 1 again" in keys.describe()
    assert keys.press("2") and keys.held == {"angry": 1.0}  # another key takes over
    assert keys.press("2") and keys.held == {} and keys.describe() == ""
    assert not keys.press("x") and not keys.press("Enter")


def test_shift_adds_on_top_and_zero_releases_everything():
    keys = Hotkeys()
    assert keys.press("!", shift=True)  # Shift+1 on a US keyboard
    assert keys.press("7", shift=True)
    assert keys.held == {"happy": 1.0, "aa": 1.0} and not keys.exclusive
    assert "added on top" in keys.describe()
    assert keys.press("7", shift=True) and keys.held == {"happy": 1.0}
    assert keys.press("0") and keys.held == {}
    assert not keys.press("0")  # nothing held: nothing to do


def test_rebinding_moves_an_expression_to_one_key_and_refuses_bad_keys():
    keys = Hotkeys()
    keys.bind("9", "happy")
    assert keys.bindings["9"] == "happy" and "1" not in keys.bindings
    keys.bind("9", None)
    assert "9" not in keys.bindings and not keys.press("9")
    for bad in ("0", "Enter", "", "\t"):
        with pytest.raises(ValueError, match="cannot be a hotkey"):
            keys.bind(bad, "sad")
    assert DEFAULT_BINDINGS["1"] == "happy"  # the defaults are not changed by an instance


def test_describe_names_what_the_avatar_lacks():
    keys = Hotkeys({"1": "fearful"})
    keys.press("1")
    assert "This avatar has no fearful" in keys.describe(["happy", "sad"])
