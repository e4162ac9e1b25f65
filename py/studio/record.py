"""Record view: the target list, recording (countdown, ring, guided mode, calibration),
and the clip list (play, rename, relabel, delete with undo, import, export)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

import js

from mimic import targets as T
from mimic.clips import Clip, ClipFormatError, dump_clips, load_clips
from mimic.io.livelink import read_livelink
from mimic.recording import Recorder, RecordingError
from studio.app import App
from studio.dom import by_id, clear, describe, el, on, toast

CLIPS_EXT = ".mimicclips"


# What to say for each viseme (VRM's visemes are the Japanese vowels), in the guided note.
SAY = {"aa": ", saying あ as in father", "ih": ", saying い as in see",
       "ou": ", saying う as in blue", "ee": ", saying え as in bed",
       "oh": ", saying お as in go"}


def clip_title(clip: Clip) -> str:
    return clip.name or " + ".join(clip.labels)


class RecordView:
    def __init__(self, app: App) -> None:
        self.app = app
        self.custom: list[str] = []
        self.busy = False
        self.guiding = False
        self._trainer_warmed = False  # the training worker asked to start (warm_trainer)
        self.stop_guided = False
        app.listeners.append(self.render)
        on(by_id("btn-calibrate"), "click", lambda _e: self.calibrate())
        on(by_id("btn-guided"), "click", lambda _e: self.guided())
        on(by_id("custom-form"), "submit", lambda _e: self.add_custom(), prevent_default=True)
        on(by_id("btn-export-clips"), "click", lambda _e: self.export_clips())
        on(by_id("import-clips"), "change", self.import_clips)

    async def start(self) -> None:
        self.custom = list(await self.app.storage.get_setting("custom_labels", []))
        by_id("btn-calibrate").disabled = False
        by_id("btn-guided").disabled = False
        self.render()

    # targets -----------------------------------------------------------------
    def all_targets(self) -> list[tuple[str, list[str]]]:
        return [
            ("Expressions", list(T.EXPRESSIONS) + self.custom),
            ("Mouth", list(T.MOUTH)),
            ("Eyes", list(T.EYES)),
        ]

    def missing(self) -> list[str]:
        counts = self.counts()
        return [t for _, names in self.all_targets() for t in names if not counts.get(t)]

    def counts(self) -> dict[str, tuple[int, float]]:
        out: dict[str, tuple[int, float]] = {}
        for clip in self.app.clips:
            for label in clip.labels:
                n, s = out.get(label, (0, 0.0))
                out[label] = (n + 1, s + float(clip.timestamps[-1]))
        return out

    def render(self) -> None:
        self.render_targets()
        self.render_clips()

    def render_targets(self) -> None:
        body = by_id("target-rows")
        clear(body)
        counts = self.counts()
        for group, names in self.all_targets():
            row = el("tr", cls="group")
            row.append(el("td", group, colspan="4"))
            body.append(row)
            for name in names:
                n, secs = counts.get(name, (0, 0.0))
                tr = el("tr", data_target=name, data_missing="true" if n == 0 else "false")
                cell = el("td")
                cell.append(el("span", name, cls="t-name"))
                alias = T.VRM0_NAMES.get(name)
                if alias and alias != name:
                    cell.append(el("span", f"VRM 0.x: {alias}", cls="alias"))
                tr.append(cell)
                tr.append(el("td", str(n)))
                tr.append(el("td", f"{secs:.1f}"))
                action = el("td")
                button = el("button", "Record", cls="small", data_record=name)
                button.disabled = self.busy
                on(button, "click", lambda _e, t=name: self.record_target(t))
                action.append(button)
                tr.append(action)
                body.append(tr)

    # recording ---------------------------------------------------------------
    def labels_for(self, target: str) -> tuple[str, ...]:
        vowel = by_id("rec-vowel").value
        if vowel and T.group_of(target) == "expression" and target != "neutral":
            return (target, vowel)
        return (target,)

    async def record_target(self, target: str) -> None:
        await self.record(self.labels_for(target))

    def seconds(self) -> float:
        try:
            value = float(by_id("rec-seconds").value)
        except ValueError:
            value = 3.0
        return min(10.0, max(1.0, value))

    async def record(self, labels: tuple[str, ...], calibration: bool = False) -> Clip | None:
        """Countdown, record, then save; returns the clip or None if it was refused."""
        if self.busy:
            return None
        app = self.app
        self.set_busy(True)
        overlay, count, label, ring = (by_id(i) for i in
                                       ("rec-overlay", "rec-count", "rec-label", "rec-ring"))
        overlay.hidden = False
        label.textContent = " + ".join(labels)
        ring.style.strokeDashoffset = "100"
        js.document.body.dataset.recording = "countdown"
        try:
            for n in (3, 2, 1):
                count.textContent = str(n)
                await asyncio.sleep(0.6)
            seconds = self.seconds()
            if app.recorder.seconds != seconds:
                app.recorder = Recorder(seconds=seconds)
            count.textContent = "●"
            js.document.body.dataset.recording = "recording"
            app.recorder.start(labels, js.performance.now())
            deadline = js.performance.now() + seconds * 1000 + 1500
            while app.recorder.active and js.performance.now() < deadline:
                progress = app.recorder.progress(js.performance.now())
                ring.style.strokeDashoffset = str(100 - 100 * progress)
                await asyncio.sleep(0.05)
            try:
                clip = app.recorder.finish(app.session_id)
            except RecordingError as exc:
                self.note(str(exc), warn=True)
                return None
            saved = await self.save_new(clip, calibration)
            app.clips.append(clip)
            if calibration:
                app.calibration_ids.add(clip.take_id)
            if saved:
                dropped = app.recorder.dropped
                extra = f" ({dropped} frames without a face dropped)" if dropped else ""
                self.note(f"Saved {clip_title(clip)}: {len(clip.frames)} frames{extra}.")
            app.changed()
            return clip
        finally:
            overlay.hidden = True
            js.document.body.dataset.recording = ""
            self.set_busy(False)
            if not self.guiding:
                self.warm_trainer()

    async def save_new(self, clip: Clip, calibration: bool) -> bool:
        """Store a new take; when storage refuses it (full disk, private mode) keep it for
        this visit rather than lose what the user just performed, and say so."""
        try:
            await self.app.storage.put_clip(clip, calibration=calibration)
            return True
        except Exception as exc:
            self.app.unsaved_ids.add(clip.take_id)
            self.note(f"{describe(exc)} The take \u201c{clip_title(clip)}\u201d is kept for this "
                      "visit only: export your clips to keep it.", warn=True)
            return False

    async def put(self, clip: Clip, deleted: bool = False) -> None:
        """Store a change to a clip; a take that had not been saved yet now is."""
        calibration = clip.take_id in self.app.calibration_ids
        await self.app.storage.put_clip(clip, calibration, deleted=deleted)
        self.app.unsaved_ids.discard(clip.take_id)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        for button in js.document.querySelectorAll("[data-record]"):
            button.disabled = busy
        by_id("btn-calibrate").disabled = busy

    async def calibrate(self) -> None:
        clip = await self.record(("neutral",), calibration=True)
        if clip is None:
            return
        app = self.app
        if app.pipeline is not None:
            app.pipeline.model.calibrate(clip.frames)
            app.pipeline.reset()
        by_id("calib-note").textContent = (
            "Calibrated for this session: predictions are re-centred on your neutral face.")

    async def guided(self) -> None:
        """Walk through every missing target in order, with a short pause between takes."""
        button = by_id("btn-guided")
        if self.guiding:
            self.stop_guided = True
            return
        todo = self.missing()
        if not todo:
            self.note("Nothing is missing. Record more takes of any target to improve it.")
            return
        self.guiding, self.stop_guided = True, False
        button.dataset.running = "true"
        button.textContent = "Stop guided recording"
        js.document.body.dataset.guided = "true"  # one recording session (web/boot.js)
        try:
            for i, target in enumerate(todo):
                if self.stop_guided:
                    break
                say = SAY.get(target, "")
                self.note(f"Guided {i + 1}/{len(todo)}: show '{target}'{say}.")
                await asyncio.sleep(0.8)
                await self.record(self.labels_for(target))
        finally:
            self.guiding = False
            js.document.body.dataset.guided = ""
            button.dataset.running = "false"
            button.textContent = "Record all missing"
            self.warm_trainer()

    def warm_trainer(self) -> None:
        """Once the takes cover two labels a Train can run: start the training worker now,
        between takes, so the first Train of a visit only trains (its start-up costs several
        seconds on the second core). Never while a guided series records take after take."""
        if self._trainer_warmed:
            return
        labels = {label for clip in self.app.clips for label in clip.labels}
        if len(labels) >= 2:
            self._trainer_warmed = True
            self.app.bridge.warmTrainer()

    def note(self, text: str, warn: bool = False) -> None:
        node = by_id("calib-note")
        node.textContent = text
        node.className = "note warn" if warn else "note"

    async def add_custom(self) -> None:
        field = by_id("custom-label")
        try:
            label = T.canonical(field.value)
            if T.group_of(label) != "expression" or label in T.EXPRESSIONS:
                raise ValueError(f"'{label}' is already a built-in target")
        except ValueError as exc:
            self.note(str(exc), warn=True)
            return
        if label not in self.custom:
            custom = [*self.custom, label]
            await self.app.storage.set_setting("custom_labels", custom)
            self.custom = custom
        field.value = ""
        self.render()

    # clips -------------------------------------------------------------------
    def render_clips(self) -> None:
        ul = by_id("clip-list")
        clear(ul)
        clips = self.app.clips
        total = sum(float(c.timestamps[-1]) for c in clips)
        by_id("clip-summary").textContent = f"{len(clips)} clips, {total:.0f} s"
        by_id("btn-export-clips").disabled = not clips
        for clip in reversed(clips):
            li = el("li", data_take=clip.take_id)
            li.append(el("span", clip_title(clip), cls="c-name"))
            tag = " · calibration" if clip.take_id in self.app.calibration_ids else ""
            if clip.audio is not None:
                tag += " · voice"
                li.dataset.voice = "true"
            if clip.take_id in self.app.unsaved_ids:
                tag += " · not saved"
                li.dataset.unsaved = "true"
            meta = f"{float(clip.timestamps[-1]):.1f} s · {len(clip.frames)} frames{tag}"
            li.append(el("span", meta, cls="c-meta"))
            for text, handler in (("Play", self.play), ("Rename", self.rename),
                                  ("Relabel", self.relabel), ("Delete", self.delete)):
                b = el("button", text, cls="small secondary", data_action=text.lower())
                on(b, "click", lambda _e, c=clip, h=handler: h(c))
                li.append(b)
            ul.append(li)

    def play(self, clip: Clip) -> None:
        self.app.play(clip)

    async def rename(self, clip: Clip) -> None:
        name = js.prompt("Name this clip", clip_title(clip))
        if name is None:
            return
        name = str(name).strip()[:80]
        old = clip.name
        clip.name = name
        try:
            await self.put(clip)
        except Exception:
            clip.name = old
            raise
        self.render_clips()

    async def relabel(self, clip: Clip) -> None:
        text = js.prompt("Labels, separated by + (e.g. happy + aa)", " + ".join(clip.labels))
        if text is None:
            return
        try:
            labels = tuple(T.canonical(p) for p in str(text).split("+") if p.strip())
            if not labels:
                raise ValueError("a clip needs at least one label")
            candidate = dataclasses.replace(clip, labels=labels)
            candidate.validate()
        except (ValueError, TypeError) as exc:
            self.note(f"Labels not changed: {exc}", warn=True)
            return
        await self.put(candidate)
        self.app.clips[self.app.clips.index(clip)] = candidate
        self.app.changed()

    async def delete(self, clip: Clip) -> None:
        stored = clip.take_id not in self.app.unsaved_ids  # else there is nothing to mark
        if stored:
            await self.put(clip, deleted=True)
        self.app.clips.remove(clip)
        self.app.changed()

        async def undo() -> None:
            if stored:
                await self.put(clip)
            self.app.clips.append(clip)
            self.app.clips.sort(key=lambda c: c.created_at)
            self.app.changed()

        toast(f"Deleted {clip_title(clip)}.", "Undo", undo, seconds=8)

    def export_clips(self) -> None:
        data = dump_clips(self.app.clips)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        self.app.bridge.download(f"mimic-clips-{stamp}{CLIPS_EXT}", _js_bytes(data))

    async def import_clips(self, event: Any) -> None:
        files = list(event.target.files)
        event.target.value = ""
        try:
            clips = [c for f in files for c in await read_clip_file(f)]
        except (ClipFormatError, ValueError, UnicodeDecodeError) as exc:
            self.note(f"Nothing was imported: {exc}", warn=True)
            return
        known = {c.take_id for c in self.app.clips}
        new = [c for c in clips if c.take_id not in known]
        for clip in new:
            await self.app.storage.put_clip(clip)
            self.app.clips.append(clip)
        self.app.clips.sort(key=lambda c: c.created_at)
        skipped = len(clips) - len(new)
        more = f" ({skipped} already here)" if skipped else ""
        self.note(f"Imported {len(new)} clip(s){more}.")
        self.app.changed()


async def read_clip_file(file: Any) -> list[Clip]:
    """Parse one imported file completely before anything is stored."""
    name = str(file.name)
    data = (await file.arrayBuffer()).to_bytes()
    suffix = PurePath(name).suffix.lower()
    try:
        if suffix == ".csv":
            label = js.prompt(f"Which target does {name} show?", PurePath(name).stem)
            if label is None:
                return []
            return read_livelink(data.decode("utf-8"), T.canonical(str(label)),
                                 name=PurePath(name).stem)
        if suffix == ".json":
            return [Clip.from_json(data.decode("utf-8"))]
        if data.startswith(b"MIMICCLS"):
            return load_clips(data)
        return [Clip.from_bytes(data)]
    except (ClipFormatError, ValueError) as exc:
        raise ClipFormatError(f"{name}: {exc}") from exc


def _js_bytes(data: bytes) -> Any:
    from pyodide.ffi import to_js

    return to_js(memoryview(data))
