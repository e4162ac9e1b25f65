"""Train view: training in a worker with live progress and loss curve, the held-out
evaluation (per-target scores, confusion heatmap, plain-language hints), and the list of
stored models (use, rename, export as .mimic or TF.js, delete, import)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

import js
from pyodide.ffi import create_proxy, to_js

from mimic import modelfile
from mimic.clips import dump_clips
from mimic.evaluate import WEAK_ACCURACY, take_title
from mimic.trainjob import check_trainable
from studio.app import App
from studio.dom import by_id, clear, el, on, toast
from studio.selection_view import render_selection
from studio.storage import ModelRecord


def _bytes_js(data: bytes) -> Any:
    return to_js(memoryview(data))


class TrainView:
    def __init__(self, app: App) -> None:
        self.app = app
        self.losses: list[float] = []
        self.training = False
        app.listeners.append(self.refresh)
        on(by_id("btn-train"), "click", lambda _e: self.train())
        on(by_id("import-model"), "change", self.import_model)
        # Opening the Train tab starts the training worker's Python and libraries in the
        # background, so the first Train of a visit does not wait for them.
        on(by_id("tab-train"), "click", lambda _e: self.app.bridge.warmTrainer())

    def refresh(self) -> None:
        button = by_id("btn-train")
        try:
            check_trainable(self.app.clips)
            button.disabled = self.training
            by_id("train-note").textContent = (
                f"{len(self.app.clips)} clips ready. Training takes a few seconds; "
                "the camera keeps running.")
        except ValueError as exc:
            button.disabled = True
            by_id("train-note").textContent = str(exc)
        self.render_models()

    # training ----------------------------------------------------------------
    async def train(self) -> None:
        if self.training:
            return
        app = self.app
        self.training = True
        self.losses = []
        by_id("btn-train").disabled = True
        bar = by_id("train-progress")
        bar.hidden = False
        by_id("loss-curve").hidden = False
        by_id("loss-line").setAttribute("points", "")
        js.document.body.dataset.training = "running"
        self.progress(0.0, "Loading the training libraries…", None)
        on_progress = create_proxy(self.progress)
        failure = None
        try:
            data = dump_clips(app.clips)
            result = await app.bridge.train(_bytes_js(data), None, on_progress)
            model_bytes = result.model.to_bytes()
            summary = json.loads(result.summary)
        except Exception as exc:
            failure = f"Training failed: {exc}"
        finally:
            on_progress.destroy()
            self.training = False
            self.refresh()
        if failure is not None:  # after refresh(), which would write over it
            by_id("train-note").textContent = failure
            js.document.body.dataset.training = "failed"
            return
        record = ModelRecord(
            id=secrets.token_hex(6),
            name=f"Model {datetime.now().strftime('%b %d %H:%M')}",
            created_at=summary["created_at"], data=model_bytes, summary=summary)
        await app.storage.put_model(record)  # stored first; only then does it go live
        app.models.append(record)
        app.use_model(record)
        await app.storage.set_setting("active_model", record.id)
        app.changed()
        self.progress(1.0, f"Trained {record.name}: how it does on takes it did not see is "
                      "below.", None)
        self.show_report(summary)
        js.document.body.dataset.training = "done"

    def progress(self, fraction: float, message: str, loss: float | None) -> None:
        pct = round(100 * max(0.0, min(1.0, float(fraction))))
        by_id("train-fill").style.width = f"{pct}%"
        by_id("train-progress").setAttribute("aria-valuenow", str(pct))
        if message:
            by_id("train-note").textContent = str(message)
        if loss is not None and loss == loss:  # skip NaN
            self.losses.append(float(loss))
            self.draw_losses()

    def draw_losses(self) -> None:
        ys = self.losses
        if len(ys) < 2:
            return
        lo, hi = min(ys), max(ys)
        span = (hi - lo) or 1.0
        n = len(ys) - 1
        points = " ".join(f"{300 * i / n:.1f},{95 - 90 * (y - lo) / span:.1f}"
                          for i, y in enumerate(ys))
        by_id("loss-line").setAttribute("points", points)

    # evaluation --------------------------------------------------------------
    def show_report(self, summary: dict[str, Any]) -> None:
        box = by_id("evaluation")
        report = summary.get("report")
        box.hidden = False
        if not report:
            clear(by_id("eval-takes"))
            by_id("cell-sources").hidden = True
            by_id("confusion-help").hidden = True
            by_id("eval-summary").textContent = (
                "Not enough takes to hold some out: record at least two takes of each target "
                "to see how well the model does on takes it has not seen.")
            clear(by_id("per-target"))
            clear(by_id("confusion"))
            clear(by_id("eval-hints"))
            for hint in summary.get("hints") or []:
                by_id("eval-hints").append(el("li", hint))
            render_selection(summary.get("selection"))
            return
        render_report(report, summary, self.app)

    # models ------------------------------------------------------------------
    def render_models(self) -> None:
        ul = by_id("model-list")
        clear(ul)
        for m in reversed(self.app.models):
            active = m.id == self.app.active_model_id
            li = el("li", data_model=m.id, data_active="true" if active else "false")
            li.append(el("span", m.name, cls="m-name"))
            li.append(el("span", model_meta(m), cls="m-meta"))
            actions = (("Use", self.use), ("Report", self.report), ("Rename", self.rename),
                       ("Export", self.export), ("Export TF.js", self.export_tfjs),
                       ("Delete", self.delete))
            for text, handler in actions:
                if text == "Use" and active:
                    continue
                b = el("button", text, cls="small secondary", data_action=text.lower())
                on(b, "click", lambda _e, rec=m, h=handler: h(rec))
                li.append(b)
            ul.append(li)

    async def use(self, record: ModelRecord) -> None:
        self.app.use_model(record)
        await self.app.storage.set_setting("active_model", record.id)
        self.app.changed()

    def report(self, record: ModelRecord) -> None:
        self.show_report(record.summary)

    async def rename(self, record: ModelRecord) -> None:
        name = js.prompt("Name this model", record.name)
        if name is None or not str(name).strip():
            return
        old, record.name = record.name, str(name).strip()[:80]
        try:
            await self.app.storage.put_model(record)
        except Exception:
            record.name = old
            raise
        self.render_models()

    def export(self, record: ModelRecord) -> None:
        self.app.bridge.download(f"{safe_name(record.name)}.mimic", _bytes_js(with_cleanup(record)))

    def export_tfjs(self, record: ModelRecord) -> None:
        from mimic.tfjsmodel import to_tfjs

        model_json, weights = to_tfjs(modelfile.loads(record.data))
        self.app.bridge.download("model.json", json.dumps(model_json, indent=1),
                                 "application/json")
        self.app.bridge.download("model.weights.bin", _bytes_js(weights))

    async def delete(self, record: ModelRecord) -> None:
        if not js.confirm(f"Delete {record.name}? Export it first to keep a copy."):
            return
        await self.app.storage.delete_model(record.id)
        self.app.models.remove(record)
        if record.id == self.app.active_model_id:
            self.app.use_model(None)
            await self.app.storage.set_setting("active_model", None)
        toast(f"Deleted {record.name}.")
        self.app.changed()

    async def import_model(self, event: Any) -> None:
        files = list(event.target.files)
        event.target.value = ""
        try:
            record, model = await read_model_files(files)
        except (ValueError, UnicodeDecodeError) as exc:
            by_id("train-note").textContent = f"Nothing was imported: {exc}"
            return
        await self.app.storage.put_model(record)
        self.app.models.append(record)
        self.app.use_model(record, model)
        await self.app.storage.set_setting("active_model", record.id)
        self.app.changed()
        by_id("train-note").textContent = f"Imported {record.name}."


def model_meta(m: ModelRecord) -> str:
    report = (m.summary or {}).get("report") or {}
    acc = report.get("expression_accuracy")
    score = f" · held-out accuracy {acc:.0%}" if isinstance(acc, float) else ""
    return f"{m.created_at[:16].replace('T', ' ')}{score}"


def safe_name(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)
    return keep.strip("-") or "model"


def with_cleanup(record: ModelRecord) -> bytes:
    """The model file with the user's clean-up settings, name and held-out report in its
    header, so the file says everything the studio knows about the model."""
    report = (record.summary or {}).get("report")
    if record.cleanup is None and report is None:
        return record.data
    header, arrays = modelfile.unpack(record.data)
    if record.cleanup is not None:
        header["cleanup"] = record.cleanup
    if report is not None:
        header["report"] = report
    header["name"] = record.name
    return modelfile.pack(header, arrays)


async def read_model_files(files: list[Any]) -> tuple[ModelRecord, Any]:
    """A .mimic file, or a TF.js model.json with its weight files; validated completely."""
    by_name = {str(f.name): (await f.arrayBuffer()).to_bytes() for f in files}
    jsons = [n for n in by_name if n.lower().endswith(".json")]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if jsons:
        from mimic.tfjsmodel import from_tfjs

        weights = {n: b for n, b in by_name.items() if not n.lower().endswith(".json")}
        model = from_tfjs(by_name[jsons[0]].decode("utf-8"), weights)
        data = modelfile.dumps(model)
        name = PurePath(jsons[0]).stem
    else:
        if len(by_name) != 1:
            raise ValueError("choose one .mimic file, or a TF.js model.json with its .bin files")
        fname, data = next(iter(by_name.items()))
        model = modelfile.loads(data)
        name = PurePath(fname).stem
    header, _ = modelfile.unpack(data)
    if isinstance(header.get("name"), str) and header["name"].strip():
        name = header["name"].strip()
    record = ModelRecord(id=secrets.token_hex(6), name=name[:80], created_at=now, data=data,
                         summary={"imported": True, "report": header.get("report")},
                         cleanup=header.get("cleanup"))
    return record, model


def render_report(report: dict[str, Any], summary: dict[str, Any], app: App) -> None:
    acc = report.get("expression_accuracy")
    f1 = report.get("macro_f1")
    parts = []
    folds = report.get("folds") or []
    if isinstance(acc, (int, float)):
        parts.append(f"Expressions: {acc:.0%} of held-out frames right"
                     + ("." if folds else f" (macro-F1 {f1:.2f})."))
    for key, label in (("mouth_mae", "Mouth"), ("eyes_mae", "Eyes")):
        if isinstance(report.get(key), (int, float)):
            parts.append(f"{label}: mean error {report[key]:.3f}.")
    if folds and isinstance(report.get("macro_f1_worst"), (int, float)):
        parts.append(f"Every take was held out once, in {len(folds)} folds: macro-F1 "
                     f"{f1:.2f} on average, {report['macro_f1_worst']:.2f} in the worst fold."
                     + (" These folds also chose the model below." if report.get("selection")
                        else " The model's settings are fixed, not tuned on these takes, so "
                        "expect the same of a new take."))
    else:
        parts.append(f"Held out {summary.get('heldout_clips', 0)} of "
                     f"{summary.get('clips', 0)} clips (whole takes).")
    by_id("eval-summary").textContent = " ".join(parts)
    render_selection(report.get("selection"))
    render_voice(report.get("voice"), summary.get("voice"))
    hints = by_id("eval-hints")
    clear(hints)
    for hint in report.get("hints", []):
        hints.append(el("li", hint))
    render_per_target(report)
    render_confusion(report, app)
    render_takes(report)


def render_voice(scores: dict[str, Any] | None, voice: dict[str, Any] | None) -> None:
    """The mouth on held-out viseme takes with sound: learned voice, default mapping and
    camera side by side; or why no voice was learned."""
    box = by_id("eval-voice")
    voice = voice or {}
    box.hidden = not scores and not voice.get("note") and not voice.get("left_out_note")
    box.textContent = ""
    if scores:
        parts = [f"{name} {scores[key]['accuracy']:.0%}" for key, name in (
            ("voice", "your learned voice"), ("untrained", "the default voice mapping"),
            ("camera", "the camera")) if key in scores]
        box.textContent = (f"Mouth on held-out viseme takes with sound ({scores['frames']} "
                           f"speech frames of {', '.join(scores['visemes'])}) read right by "
                           + ", ".join(parts) + ".")
    elif voice.get("note"):
        box.textContent = voice["note"]
    if voice.get("left_out_note"):
        box.textContent = f"{box.textContent} {voice['left_out_note']}".strip()


def render_per_target(report: dict[str, Any]) -> None:
    table = by_id("per-target")
    clear(table)
    per = report.get("per_target") or {}
    head = el("tr")
    for text in ("Target", "Score", "Metric"):
        head.append(el("th", text))
    table.append(head)
    for name, row in per.items():
        tr = el("tr", data_target=name)
        tr.append(el("td", name))
        value = row.get("value") if isinstance(row, dict) else row
        metric = row.get("metric", "") if isinstance(row, dict) else ""
        tr.append(el("td", f"{value:.2f}" if isinstance(value, (int, float)) else "-"))
        tr.append(el("td", metric))
        table.append(tr)


def render_confusion(report: dict[str, Any], app: App) -> None:
    """Rows: true expression; columns: predicted; cell shade: share of the row. A cell with
    frames in it opens where they came from (`show_sources`)."""
    table = by_id("confusion")
    clear(table)
    labels = report.get("confusion_labels") or []
    matrix = report.get("confusion") or []
    if not labels:
        return
    head = el("tr")
    head.append(el("th", "true \\ predicted"))
    for name in labels:
        head.append(el("th", name, scope="col"))
    table.append(head)
    takes = report.get("per_take") or []
    for name, row in zip(labels, matrix, strict=False):
        tr = el("tr", data_true=name)
        tr.append(el("th", name, scope="row"))
        total = sum(row) or 1
        for pred, value in zip(labels, row, strict=False):
            share = value / total
            td = el("td", str(value), data_share=f"{share:.3f}", data_true=name,
                    data_pred=pred, data_count=str(value))
            td.style.background = f"rgba(110, 231, 183, {0.08 + 0.85 * share:.3f})"
            td.style.color = "#0b0d10" if share > 0.5 else "inherit"
            if value and takes:
                td.setAttribute("role", "button")
                td.setAttribute("tabindex", "0")
                td.setAttribute("aria-pressed", "false")
                td.title = f"{name} read as {pred}: show where"
                def open_cell(_e: Any, t: str = name, p: str = pred, c: Any = td) -> None:
                    show_sources(app, takes, t, p, c)

                on(td, "click", open_cell)
                on(td, "keydown", lambda e, f=open_cell: f(e) if e.key in ("Enter", " ")
                   else None)
            tr.append(td)
        table.append(tr)
    by_id("confusion-help").hidden = not takes
    by_id("cell-sources").hidden = True


def render_takes(report: dict[str, Any]) -> None:
    """Each held-out take, worst first: how much of it reads right, and as what if not."""
    table = by_id("eval-takes")
    clear(table)
    takes = sorted(report.get("per_take") or [], key=lambda t: t.get("right", 1.0))
    if not takes:
        return
    head = el("tr")
    for text in ("Held-out take", "Right", "Mostly mistaken for"):
        head.append(el("th", text))
    table.append(head)
    for take in takes:
        weak = take["right"] < WEAK_ACCURACY
        tr = el("tr", data_take=take["take_id"], data_weak="true" if weak else "false")
        tr.append(el("td", take_title(take)))
        tr.append(el("td", f"{take['right']:.0%}"))
        mistaken = take.get("mistaken_for")
        tr.append(el("td", f"{mistaken} ({take['mistaken_share']:.0%})" if mistaken else "-"))
        table.append(tr)


def show_sources(app: App, takes: list[dict[str, Any]], true: str, pred: str,
                 cell: Any) -> None:
    """Which takes and seconds the frames of one confusion cell came from, each with a
    button that plays those seconds on the camera panel, the model and the avatar."""
    for other in js.document.querySelectorAll("#confusion td[aria-pressed]"):
        other.setAttribute("aria-pressed", "false")
    cell.setAttribute("aria-pressed", "true")
    box = by_id("cell-sources")
    clear(box)
    box.hidden = False
    box.append(el("h4", f"{true} frames read as {pred}" if true != pred
                  else f"{true} frames read right"))
    items = el("ul")
    for take in takes:
        runs = (take.get("segments") or {}).get(pred) or []
        if take.get("truth") != true or not runs:
            continue
        li = el("li", data_take=take["take_id"])
        li.append(el("span", take_title(take), "s-take"))
        clip = next((c for c in app.clips if c.take_id == take["take_id"]
                     and c.name == take.get("name", c.name)), None)
        for first, last in runs:
            label = f"{first:.1f}-{last:.1f} s"
            if clip is None:
                li.append(el("span", label, "muted"))
                continue
            button = el("button", f"▶ {label}", "secondary", type="button",
                        data_from=f"{first:.2f}", data_to=f"{last:.2f}")
            on(button, "click", lambda _e, c=clip, a=first, b=last: app.play(c, a, b))
            li.append(button)
        if clip is None:
            li.append(el("span", "(take deleted)", "muted"))
        items.append(li)
    box.append(items)
