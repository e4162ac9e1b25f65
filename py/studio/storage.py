"""Clips, models and settings in IndexedDB (through web/store.js).

Every change is one atomic put of a whole record, written before the in-memory state
switches over, so a failed save (quota, private mode) leaves the previous state intact
and is reported. Deleting a clip only marks it; the mark is purged at the next start,
which is what makes Undo safe across a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import js
from pyodide.ffi import to_js

from mimic.clips import Clip


def _record(obj: dict[str, Any]) -> Any:
    return to_js(obj, dict_converter=js.Object.fromEntries)


def _get(rec: Any, name: str, default: Any = None) -> Any:
    value = getattr(rec, name, default)
    return default if value is None else value


@dataclass
class ModelRecord:
    id: str
    name: str
    created_at: str
    data: bytes
    summary: dict[str, Any] = field(default_factory=dict)
    cleanup: dict[str, Any] | None = None


class Storage:
    def __init__(self, store: Any) -> None:
        self.store = store

    # clips -----------------------------------------------------------------
    async def load_clips(self) -> list[tuple[Clip, bool]]:
        """All stored clips with their calibration flag; purges clips marked deleted."""
        out = []
        for rec in await self.store.all("clips"):
            if _get(rec, "deleted", False):
                await self.store.delete("clips", rec.id)
                continue
            try:
                clip = Clip.from_bytes(rec.data.to_bytes())
            except ValueError as exc:
                print(f"skipping unreadable clip {rec.id}: {exc}")
                continue
            out.append((clip, bool(_get(rec, "calibration", False))))
        out.sort(key=lambda pair: pair[0].created_at)
        return out

    async def put_clip(self, clip: Clip, calibration: bool = False, deleted: bool = False) -> None:
        data = clip.to_bytes()
        await self.store.put("clips", _record({
            "id": clip.take_id, "name": clip.name, "labels": list(clip.labels),
            "created_at": clip.created_at, "seconds": float(clip.timestamps[-1]),
            "calibration": calibration, "deleted": deleted,
            "data": to_js(memoryview(data)),
        }))

    # models ----------------------------------------------------------------
    async def load_models(self) -> list[ModelRecord]:
        out = []
        for rec in await self.store.all("models"):
            out.append(ModelRecord(
                id=rec.id, name=rec.name, created_at=rec.created_at, data=rec.data.to_bytes(),
                summary=json.loads(_get(rec, "summary", "{}")),
                cleanup=json.loads(_get(rec, "cleanup", "null")),
            ))
        out.sort(key=lambda m: m.created_at)
        return out

    async def put_model(self, m: ModelRecord) -> None:
        await self.store.put("models", _record({
            "id": m.id, "name": m.name, "created_at": m.created_at,
            "data": to_js(memoryview(m.data)), "summary": json.dumps(m.summary),
            "cleanup": json.dumps(m.cleanup) if m.cleanup is not None else None,
        }))

    async def delete_model(self, model_id: str) -> None:
        await self.store.delete("models", model_id)

    # settings --------------------------------------------------------------
    async def get_setting(self, key: str, default: Any = None) -> Any:
        rec = await self.store.get("settings", key)
        return default if rec is None else json.loads(rec.value)

    async def set_setting(self, key: str, value: Any) -> None:
        await self.store.put("settings", _record({"key": key, "value": json.dumps(value)}))
