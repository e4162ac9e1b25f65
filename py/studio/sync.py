"""The Sync view: optional upload and download of models and clips to the user's own
Firebase project. Off by default; while it is off the Firebase SDK is not even loaded.

What goes where is mimic.sync's business; web/sync.js only calls the SDK. A download never
replaces anything: models and clips the page does not have are added, and each file is
validated completely (model file checksum, clip file format) before it is stored.
"""

from __future__ import annotations

import json
from typing import Any

import js
from pyodide.ffi import create_proxy, to_js

from mimic import modelfile, sync
from mimic.clips import ClipFormatError, dump_clips, load_clips
from mimic.tfjsmodel import to_tfjs
from studio.dom import by_id, on, spawn
from studio.storage import ModelRecord
from studio.train import with_cleanup

SETTING = "sync"


def _bytes(data: bytes) -> Any:
    return to_js(memoryview(data))


class SyncView:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.client: Any = None
        self.uid: str | None = None
        self.busy = False
        on(by_id("btn-sync-on"), "click", lambda _e: self.turn_on())
        on(by_id("btn-sync-off"), "click", lambda _e: self.turn_off())
        on(by_id("btn-sync-up"), "click", lambda _e: self.upload())
        on(by_id("btn-sync-down"), "click", lambda _e: self.download())

    def status(self, text: str, state: str) -> None:
        by_id("sync-status").textContent = text
        js.document.body.dataset.sync = state
        signed_in = state == "on"
        by_id("btn-sync-up").disabled = not signed_in or self.busy
        by_id("btn-sync-down").disabled = not signed_in or self.busy
        by_id("btn-sync-off").hidden = state == "off"
        by_id("btn-sync-on").hidden = signed_in

    async def restore(self) -> None:
        """Reconnect if the user left sync on last time (and only then)."""
        saved = await self.app.storage.get_setting(SETTING)
        if not isinstance(saved, dict):
            return
        by_id("sync-config").value = saved.get("config", "")
        by_id("sync-method").value = saved.get("method", "anonymous")
        if saved.get("enabled"):
            await self.connect(sign_in=False)

    async def turn_on(self) -> None:
        await self.connect(sign_in=True)

    async def connect(self, sign_in: bool) -> None:
        text = str(by_id("sync-config").value)
        method = str(by_id("sync-method").value)
        try:
            config = sync.parse_config(text)
        except sync.SyncConfigError as exc:
            self.status(f"Sync stays off: {exc}.", "off")
            return
        self.status("Connecting to Firebase…", "connecting")
        try:
            if self.client is None:
                self.client = await self.app.bridge.sync(json.dumps(config))
            uid = await self.client.currentUser()
            if uid is None and sign_in:
                uid = await self.client.signIn(method)
        except Exception as exc:
            self.status(f"Could not sign in: {getattr(exc, 'message', exc)}", "error")
            return
        if uid is None:
            self.status("Sync is on; sign in to upload or download.", "signed-out")
            by_id("btn-sync-on").hidden = False
            return
        self.uid = str(uid)
        await self.app.storage.set_setting(
            SETTING, {"config": text, "method": method, "enabled": True})
        self.status(f"Signed in ({method}) as {self.uid}. Files go to user/{self.uid}/ "
                    "in your storage bucket.", "on")

    async def turn_off(self) -> None:
        if self.client is not None:
            try:
                await self.client.signOut()
                await self.client.close()
            except Exception:
                pass  # signing out of an unreachable service changes nothing here
        self.client, self.uid = None, None
        await self.app.storage.set_setting(
            SETTING, {"config": str(by_id("sync-config").value),
                      "method": str(by_id("sync-method").value), "enabled": False})
        self.status("Sync is off.", "off")

    # transfers -------------------------------------------------------------------------------
    def files_to_upload(self) -> list[tuple[str, bytes, str]]:
        uid, out = self.uid, []
        for record in self.app.models:
            paths = sync.model_paths(uid, record.id)
            out.append((paths["mimic"], with_cleanup(record), "application/octet-stream"))
            model_json, weights = to_tfjs(modelfile.loads(record.data))
            out.append((paths["tfjs_json"], json.dumps(model_json).encode(), "application/json"))
            out.append((paths["tfjs_weights"], weights, "application/octet-stream"))
        if self.app.models:
            rows = [{"id": m.id, "name": m.name, "created_at": m.created_at}
                    for m in self.app.models]
            out.append((sync.index_path(uid), sync.models_index(rows), "application/json"))
        if self.app.clips:
            out.append((sync.clips_path(uid), dump_clips(self.app.clips),
                        "application/octet-stream"))
        return out

    async def upload(self) -> None:
        if self.busy or not self.uid:
            return
        files = self.files_to_upload()
        if not files:
            self.status("Nothing to upload yet: record clips or train a model first.", "on")
            return
        total = sum(len(data) for _, data, _ in files) or 1
        self.busy = True
        done = 0
        try:
            for path, data, ctype in files:
                size = len(data)
                progress = create_proxy(
                    lambda f, base=done, size=size: self.progress((base + f * size) / total))
                try:
                    await self.client.upload(path, _bytes(data), ctype, progress)
                finally:
                    progress.destroy()
                done += size
            self.progress(1.0)
            self.busy = False
            self.status(f"Uploaded {len(self.app.models)} model(s) and {len(self.app.clips)} "
                        f"clip(s) to user/{self.uid}/.", "on")
        except Exception as exc:
            self.busy = False
            self.status(f"Upload failed: {getattr(exc, 'message', exc)}", "on")

    async def download(self) -> None:
        if self.busy or not self.uid:
            return
        self.busy = True
        self.progress(0.0)
        try:
            added_models = await self._download_models()
            self.progress(0.7)
            added_clips = await self._download_clips()
            self.progress(1.0)
            self.busy = False
            self.app.changed()
            self.status(f"Downloaded {added_models} new model(s) and {added_clips} new "
                        "clip(s).", "on")
        except Exception as exc:
            self.busy = False
            self.status(f"Download failed: {getattr(exc, 'message', exc)}", "on")

    async def _download_models(self) -> int:
        raw = await self.client.download(sync.index_path(self.uid))
        if raw is None:
            return 0
        have = {m.id for m in self.app.models}
        added = 0
        for row in sync.parse_index(raw.to_bytes()):
            if row["id"] in have:
                continue
            data = await self.client.download(sync.model_paths(self.uid, row["id"])["mimic"])
            if data is None:
                continue
            data = data.to_bytes()
            modelfile.loads(data)  # refuse a damaged file before storing it
            header, _ = modelfile.unpack(data)
            record = ModelRecord(id=row["id"], name=row["name"] or row["id"],
                                 created_at=row["created_at"], data=data,
                                 summary={"synced": True, "report": header.get("report")},
                                 cleanup=header.get("cleanup"))
            await self.app.storage.put_model(record)
            self.app.models.append(record)
            added += 1
        return added

    async def _download_clips(self) -> int:
        raw = await self.client.download(sync.clips_path(self.uid))
        if raw is None:
            return 0
        try:
            clips = load_clips(raw.to_bytes())
        except ClipFormatError as exc:
            raise ValueError(f"the cloud clips file is damaged ({exc})") from exc
        have = {c.take_id for c in self.app.clips}
        added = 0
        for clip in clips:
            if clip.take_id in have:
                continue
            await self.app.storage.put_clip(clip)
            self.app.clips.append(clip)
            added += 1
        return added

    def progress(self, fraction: float) -> None:
        pct = round(100 * max(0.0, min(1.0, float(fraction))))
        bar = by_id("sync-progress")
        bar.hidden = False
        bar.setAttribute("aria-valuenow", str(pct))
        by_id("sync-fill").style.width = f"{pct}%"


def start(app: Any) -> SyncView:
    view = SyncView(app)
    spawn(view.restore())
    return view
