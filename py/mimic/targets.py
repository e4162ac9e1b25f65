"""What a model predicts: VRM expression presets, visemes, blinks and the user's own labels.

Labels arrive from many places (the studio UI, old VRM 0.x avatars, Live Link imports, files a
user edited by hand), so everything goes through `canonical` once and the rest of the code only
ever sees VRM 1.0 preset names or validated custom labels.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EXPRESSIONS",
    "EYES",
    "MAX_LABEL_LENGTH",
    "MOUTH",
    "VRM0_NAMES",
    "TargetSet",
    "canonical",
    "group_of",
]

EXPRESSIONS: tuple[str, ...] = ("neutral", "happy", "angry", "sad", "relaxed", "surprised")
MOUTH: tuple[str, ...] = ("aa", "ih", "ou", "ee", "oh")
EYES: tuple[str, ...] = ("blink", "blinkLeft", "blinkRight")
GROUPS: tuple[str, ...] = ("expression", "mouth", "eyes")
MAX_LABEL_LENGTH = 40

VRM0_NAMES: dict[str, str] = {
    "neutral": "neutral",
    "happy": "joy",
    "angry": "angry",
    "sad": "sorrow",
    "relaxed": "fun",
    "aa": "a",
    "ih": "i",
    "ou": "u",
    "ee": "e",
    "oh": "o",
    "blink": "blink",
    "blinkLeft": "blink_l",
    "blinkRight": "blink_r",
}

_GROUP_OF: dict[str, str] = {
    **dict.fromkeys(EXPRESSIONS, "expression"),
    **dict.fromkeys(MOUTH, "mouth"),
    **dict.fromkeys(EYES, "eyes"),
}
# Line breaks and control characters would break file names, CSV exports and the UI.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _key(label: str) -> str:
    return label.lower().replace("_", "").replace("-", "").replace(" ", "")


_ALIASES: dict[str, str] = {_key(n): n for n in _GROUP_OF}
_ALIASES.update({_key(v0): v1 for v1, v0 in VRM0_NAMES.items()})


def canonical(label: str) -> str:
    """The VRM 1.0 name for a preset in any spelling; a validated, stripped custom label else.

    Raises ValueError for labels no file or UI should carry: empty, over 40 characters, or
    containing control characters.
    """
    if not isinstance(label, str):
        raise ValueError(f"a label must be a string, got {type(label).__name__}")
    text = label.strip()
    known = _ALIASES.get(_key(text))
    if known is not None:
        return known
    if not text:
        raise ValueError("a label must not be empty")
    if len(text) > MAX_LABEL_LENGTH:
        raise ValueError(f"label {text[:20]!r}... is longer than {MAX_LABEL_LENGTH} characters")
    bad = [ch for ch in text if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES]
    if bad:
        raise ValueError(f"label {text!r} contains control character {bad[0]!r}")
    return text


def group_of(label: str) -> str:
    """"expression", "mouth" or "eyes"; a custom label is an expression."""
    return _GROUP_OF.get(canonical(label), "expression")


def _flatten(labels: Iterable[Any]) -> Iterable[str]:
    """Accept plain labels and label tuples alike, e.g. `(clip.labels for clip in clips)`."""
    for item in labels:
        if isinstance(item, str):
            yield item
        else:
            yield from item


def _sort_key(label: str) -> tuple[str, str]:
    return (label.casefold(), label)


@dataclass(frozen=True)
class TargetSet:
    """The names a model outputs, grouped, in the order of its output vector."""

    expressions: tuple[str, ...] = ()
    mouth: tuple[str, ...] = ()
    eyes: tuple[str, ...] = ()
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for group, attr in zip(GROUPS, ("expressions", "mouth", "eyes"), strict=True):
            value = getattr(self, attr)
            if isinstance(value, str):
                raise ValueError(f"TargetSet.{attr} must be a sequence of names, not a string")
            value = tuple(value)
            for name in value:
                if canonical(name) != name:
                    raise ValueError(f"{name!r} is not a canonical label; use {canonical(name)!r}")
                if group_of(name) != group:
                    raise ValueError(f"{name!r} belongs to {group_of(name)}, not {group}")
                if name in seen:
                    raise ValueError(f"{name!r} appears twice in the target set")
                seen.add(name)
            object.__setattr__(self, attr, value)
        object.__setattr__(self, "names", self.expressions + self.mouth + self.eyes)

    @property
    def slices(self) -> dict[str, slice]:
        """Where each group sits in `names` (and so in a prediction); empty groups included."""
        e, m = len(self.expressions), len(self.mouth)
        return {
            "expression": slice(0, e),
            "mouth": slice(e, e + m),
            "eyes": slice(e + m, e + m + len(self.eyes)),
        }

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_labels(cls, labels: Iterable[Any]) -> TargetSet:
        """Targets for the labels present, in a stable order whatever order they came in.

        Neutral is always an expression class once any expression is trained: without it the
        classifier would have to call a resting face one of the others.
        """
        present = {canonical(label) for label in _flatten(labels)}
        custom = sorted((n for n in present if n not in _GROUP_OF), key=_sort_key)
        expressions = [n for n in EXPRESSIONS if n in present] + custom
        if expressions and "neutral" not in expressions:
            expressions.insert(0, "neutral")
        return cls(
            tuple(expressions),
            tuple(n for n in MOUTH if n in present),
            tuple(n for n in EYES if n in present),
        )

    def to_dict(self) -> dict[str, list[str]]:
        return {"expressions": list(self.expressions), "mouth": list(self.mouth),
                "eyes": list(self.eyes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TargetSet:
        """Inverse of `to_dict`; keeps the stored order, since model outputs depend on it."""
        if not isinstance(data, Mapping):
            raise ValueError("a target set must be a JSON object")
        unknown = set(data) - {"expressions", "mouth", "eyes"}
        if unknown:
            raise ValueError(f"unknown target set keys: {sorted(unknown)}")
        parts = []
        for key in ("expressions", "mouth", "eyes"):
            value = data.get(key, [])
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"target set {key!r} must be a list of names")
            parts.append(tuple(value))
        return cls(*parts)
