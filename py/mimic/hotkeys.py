"""Expression hotkeys: the fallback a performer reaches for when tracking misses.

A key forces an expression (the others drop to 0, mouth and eyes still follow the face) and
the same key releases it; with Shift it toggles the expression on top of what the face shows
instead; 0 releases everything. Keys are rebindable. Pure state, no browser: the studio
feeds it key presses (from its own page or from the stage window) and hands the result to the
avatar.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["DEFAULT_BINDINGS", "Hotkeys"]

DEFAULT_BINDINGS: dict[str, str] = {
    "1": "happy", "2": "angry", "3": "sad", "4": "relaxed", "5": "surprised",
    "6": "neutral", "7": "aa", "8": "ou", "9": "blink",
}
RELEASE_ALL = "0"


class Hotkeys:
    """Which expressions the keys hold, and whether they replace the face's expression."""

    def __init__(self, bindings: Mapping[str, str] | None = None) -> None:
        self.bindings = dict(DEFAULT_BINDINGS if bindings is None else bindings)
        self.held: dict[str, float] = {}
        self.exclusive = False

    def bind(self, key: str, name: str | None) -> None:
        """Bind `key` (a single printable key) to an expression; None unbinds it."""
        if len(key) != 1 or not key.isprintable() or key == RELEASE_ALL:
            raise ValueError(f"{key!r} cannot be a hotkey: use a single letter or digit")
        for other, bound in list(self.bindings.items()):
            if bound == name and other != key:
                del self.bindings[other]
        if name:
            self.bindings[key] = name
        else:
            self.bindings.pop(key, None)

    def press(self, key: str, shift: bool = False) -> bool:
        """A key went down; True when it was a hotkey (the page then ignores it otherwise)."""
        if key == RELEASE_ALL or (key == ")" and shift):
            changed = bool(self.held)
            self.held, self.exclusive = {}, False
            return changed
        name = self.bindings.get(_unshift(key) if shift else key)
        if name is None:
            return False
        if shift:  # on top of the face: toggle this one, keep the others
            if name in self.held and not self.exclusive:
                del self.held[name]
            else:
                if self.exclusive:
                    self.held = {}
                self.held[name] = 1.0
                self.exclusive = False
        elif self.exclusive and name in self.held:
            self.held, self.exclusive = {}, False
        else:
            self.held, self.exclusive = {name: 1.0}, True
        return True

    def describe(self, available: Iterable[str] | None = None) -> str:
        """One line for the studio: what is held and how to let go."""
        if not self.held:
            return ""
        names = ", ".join(self.held)
        key = next((k for k, v in self.bindings.items() if v in self.held), "?")
        how = (f"forced over your face (press {key} again or 0 to release)" if self.exclusive
               else "added on top of your face (Shift+key again or 0 to release)")
        text = f"Hotkey: {names} {how}."
        if available is not None:
            lacking = [n for n in self.held if n not in set(available)]
            if lacking:
                text += f" This avatar has no {', '.join(lacking)}."
        return text


_SHIFTED = dict(zip("!@#$%^&*(", "123456789", strict=True))


def _unshift(key: str) -> str:
    """Shift+1 arrives as "!" on a US keyboard: map it back to the digit."""
    return _SHIFTED.get(key, key.lower() if len(key) == 1 else key)
