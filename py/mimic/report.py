"""The held-out report: its fields, and how it reads as plain text on the command line.

Kept apart from the scoring (`mimic.evaluate`) so the page and the CLI can show a report
without the code that computes one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Report", "selection_lines", "take_title", "voice_lines"]


@dataclass
class Report:
    """Held-out scores. Accuracy-like values are in [0, 1]; errors are mean absolute."""

    expression_accuracy: float | None = None
    macro_f1: float | None = None
    confusion_labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    mouth_mae: float | None = None
    eyes_mae: float | None = None
    per_target: dict[str, dict[str, Any]] = field(default_factory=dict)
    flicker_raw: float | None = None
    flicker_clean: float | None = None
    neutral_mouth_leakage: float | None = None
    frames: int = 0
    takes: int = 0
    untested: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    per_take: list[dict[str, Any]] = field(default_factory=list)
    folds: list[dict[str, Any]] = field(default_factory=list)
    macro_f1_worst: float | None = None
    note: str = ""
    voice: dict[str, Any] | None = None  # mimic.voicemodel.score_voice
    selection: dict[str, Any] | None = None  # mimic.selection.Selection.summary

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """Plain-text report for the command line."""
        lines = [f"held-out takes: {self.takes}, frames scored: {self.frames}"]
        for label, value, fmt in (
            ("expression accuracy", self.expression_accuracy, "{:.3f}"),
            ("expression macro-F1", self.macro_f1, "{:.3f}"),
            ("mouth mean abs error", self.mouth_mae, "{:.4f}"),
            ("eyes mean abs error", self.eyes_mae, "{:.4f}"),
            ("flicker raw (changes/s)", self.flicker_raw, "{:.2f}"),
            ("flicker cleaned (changes/s)", self.flicker_clean, "{:.2f}"),
            ("neutral-mouth leakage", self.neutral_mouth_leakage, "{:.3f}"),
        ):
            lines.append(f"{label:<30}{fmt.format(value) if value is not None else '-':>10}")
        if self.per_target:
            lines.append("")
            lines.append(f"{'target':<16}{'score':>8}  metric")
            for name, row in self.per_target.items():
                lines.append(f"{name:<16}{row['value']:>8.3f}  {row['metric']}")
        if self.confusion_labels:
            lines.append("")
            width = max(8, *(len(n) + 1 for n in self.confusion_labels))
            lines.append("true \\ pred".ljust(width) + "".join(
                n[:width - 1].rjust(width) for n in self.confusion_labels))
            for name, row in zip(self.confusion_labels, self.confusion, strict=True):
                lines.append(name[:width - 1].ljust(width) + "".join(
                    str(v).rjust(width) for v in row))
        if self.folds:
            lines.append("")
            lines.append(f"{len(self.folds)} folds, each holding out one take of every label "
                         f"with two or more:")
            for i, fold in enumerate(self.folds, 1):
                lines.append(f"  fold {i}: macro-F1 {fold['macro_f1']:.3f}  held out "
                             f"{', '.join(fold['held_out'])}")
            lines.append(f"  mean {self.macro_f1:.3f}, worst {self.macro_f1_worst:.3f}")
        if self.per_take:
            lines.append("")
            lines.append("held-out takes, worst first:")
            for take in sorted(self.per_take, key=lambda d: d["right"]):
                lines.append(f"  {take_title(take):<44}{take['right']:>6.0%} right"
                             + (f", read as {take['mistaken_for']} {take['mistaken_share']:.0%}"
                                if take["mistaken_for"] else ""))
        if self.selection:
            lines.append("")
            lines.extend(selection_lines(self.selection))
        if self.voice:
            lines.append("")
            lines.extend(voice_lines(self.voice))
        if self.note:
            lines.append(self.note)
        for hint in self.hints:
            lines.append(f"hint: {hint}")
        return "\n".join(lines)


def selection_lines(selection: dict[str, Any]) -> list[str]:
    """Every candidate model's held-out folds side by side, which was chosen and why."""
    rows = selection.get("candidates") or []
    lines = []
    if rows:
        width = max(len(r["title"]) for r in rows) + 4
        lines.append("models tried on the same held-out takes (macro-F1 per fold, mean, worst):")
        for row in rows:
            mark = "->" if row["chosen"] else "  "
            folds = " ".join(f"{f:.3f}" for f in row["folds"])
            lines.append(f"{mark}{row['title']:<{width}}{folds}   mean {row['mean']:.3f}  "
                         f"worst {row['worst']:.3f}")
    lines.append(selection["reason"])
    if selection.get("note"):
        lines.append(selection["note"])
    return lines


def voice_lines(voice: dict[str, Any]) -> list[str]:
    """The held-out viseme takes' speech read by the voice, the untrained mapping and the
    camera, side by side."""
    lines = [f"mouth on held-out viseme takes with sound ({voice['frames']} speech frames, "
             f"{', '.join(voice['visemes'])}):"]
    for source, what in (("voice", "learned voice"), ("untrained", "untrained voice"),
                         ("camera", "camera")):
        if source in voice:
            lines.append(f"  {what:<18}{voice[source]['accuracy']:>6.0%} of frames right, "
                         f"macro-F1 {voice[source]['macro_f1']:.3f}")
    return lines


def take_title(take: dict[str, Any]) -> str:
    """"angry take 2 (MySlate_165)": what a user calls a take."""
    title = f"{'+'.join(take['labels'])} take {take['take']}"
    return f"{title} ({take['name']})" if take.get("name") else title
