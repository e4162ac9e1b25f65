"""The Train view's "models tried" box: every candidate's held-out folds side by side, which
one was chosen and why, and that a best-of-several figure is a little optimistic.

The choice itself happens in the training worker (`mimic.selection`); this only shows the
plain data it returns, so the page never loads scikit-learn.
"""

from __future__ import annotations

from typing import Any

from studio.dom import by_id, clear, el


def render_selection(selection: dict[str, Any] | None) -> None:
    box = by_id("eval-models")
    table = by_id("candidates")
    clear(table)
    box.hidden = not selection
    if not selection:
        return
    by_id("eval-choice").textContent = " ".join(
        s for s in (selection.get("reason", ""), selection.get("note", "")) if s)
    rows = selection.get("candidates") or []
    table.hidden = not rows
    if not rows:
        return
    folds = max(len(r["folds"]) for r in rows)
    head = el("tr")
    for text in ("Model", *(f"Fold {i + 1}" for i in range(folds)), "Mean", "Worst"):
        head.append(el("th", text))
    table.append(head)
    for row in rows:
        tr = el("tr", data_key=row["key"], data_chosen="true" if row["chosen"] else "false")
        tr.append(el("td", row["title"] + (" (chosen)" if row["chosen"] else "")))
        for score in row["folds"]:
            tr.append(el("td", f"{score:.2f}"))
        tr.append(el("td", f"{row['mean']:.2f}"))
        tr.append(el("td", f"{row['worst']:.2f}"))
        table.append(tr)
