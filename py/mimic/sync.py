"""Optional cloud sync (Firebase Cloud Storage): where things go and what the user pastes.

Sync is off until the user pastes their own Firebase web config and signs in. Files live
under `user/{uid}/`, the only folder `storage.rules` lets the signed-in owner read or write:

    user/{uid}/models/{id}.mimic                 the model file (mimic.modelfile)
    user/{uid}/models/{id}/model.json            the same model in TF.js Layers format, as
    user/{uid}/models/{id}/model.weights.bin     the TF.js prototype saved it
    user/{uid}/models/index.json                 names and dates, for listing
    user/{uid}/clips/all.mimicclips              every clip (mimic.clips.dump_clips)

Nothing here touches the network; the page's studio/sync.py and web/sync.js do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from mimic.safejson import loads as safe_loads

__all__ = ["REQUIRED_KEYS", "SyncConfigError", "clips_path", "index_path", "model_paths",
           "models_index", "parse_config", "parse_index", "user_root"]

REQUIRED_KEYS = ("apiKey", "projectId", "storageBucket")
_OPTIONAL_KEYS = ("authDomain", "appId", "messagingSenderId", "measurementId", "databaseURL")
_UID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_HOST = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$")
MAX_CONFIG_CHARS = 20_000


class SyncConfigError(ValueError):
    """The pasted configuration cannot be used; the message says why."""


def _js_object_to_json(text: str) -> str:
    """Accept the snippet the Firebase console shows (`const firebaseConfig = {...};`)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise SyncConfigError("paste the firebaseConfig object from your Firebase console")
    body = text[start:end + 1]
    body = re.sub(r"//[^\n]*", "", body)
    body = re.sub(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:", r'\1"\2":', body)  # bare keys
    body = re.sub(r"'([^'\\]*)'", r'"\1"', body)  # single-quoted strings
    return re.sub(r",\s*([}\]])", r"\1", body)  # trailing commas


def parse_config(text: str) -> dict[str, Any]:
    """The Firebase web config from JSON or the console's JS snippet, checked.

    An optional "emulators" object ({"auth": "127.0.0.1:9099", "storage": "127.0.0.1:9199"})
    points the SDK at local emulators, for testing without a Firebase project.
    """
    if not isinstance(text, str) or not text.strip():
        raise SyncConfigError("paste your Firebase web config first")
    if len(text) > MAX_CONFIG_CHARS:
        raise SyncConfigError("that is far too long to be a Firebase config")
    try:
        data = safe_loads(text)
    except ValueError:
        try:
            data = safe_loads(_js_object_to_json(text))
        except ValueError as exc:
            raise SyncConfigError(f"the config could not be read ({exc})") from exc
    if not isinstance(data, Mapping):
        raise SyncConfigError("the config must be an object like {\"apiKey\": ...}")
    missing = [k for k in REQUIRED_KEYS if not isinstance(data.get(k), str) or not data.get(k)]
    if missing:
        raise SyncConfigError(f"the config lacks {', '.join(missing)}")
    config = {k: str(data[k]) for k in (*REQUIRED_KEYS, *_OPTIONAL_KEYS)
              if isinstance(data.get(k), str)}
    emulators = data.get("emulators")
    if emulators is not None:
        if not isinstance(emulators, Mapping) or set(emulators) - {"auth", "storage"}:
            raise SyncConfigError("emulators must be {\"auth\": \"host:port\", "
                                  "\"storage\": \"host:port\"}")
        for name, host in emulators.items():
            if not isinstance(host, str) or not _HOST.match(host):
                raise SyncConfigError(f"emulator address for {name} must be host:port")
        config["emulators"] = dict(emulators)
    return config


def user_root(uid: str) -> str:
    if not isinstance(uid, str) or not _UID.match(uid):
        raise ValueError(f"not a valid user id: {uid!r}")
    return f"user/{uid}"


def model_paths(uid: str, model_id: str) -> dict[str, str]:
    if not isinstance(model_id, str) or not _ID.match(model_id):
        raise ValueError(f"not a valid model id: {model_id!r}")
    root = f"{user_root(uid)}/models"
    return {"mimic": f"{root}/{model_id}.mimic", "tfjs_json": f"{root}/{model_id}/model.json",
            "tfjs_weights": f"{root}/{model_id}/model.weights.bin"}


def clips_path(uid: str) -> str:
    return f"{user_root(uid)}/clips/all.mimicclips"


def index_path(uid: str) -> str:
    return f"{user_root(uid)}/models/index.json"


def models_index(models: Iterable[Mapping[str, Any]]) -> bytes:
    """The listing uploaded beside the models: id, name, created-at of each."""
    rows = [{"id": str(m["id"]), "name": str(m.get("name", ""))[:80],
             "created_at": str(m.get("created_at", ""))} for m in models]
    for row in rows:
        if not _ID.match(row["id"]):
            raise ValueError(f"not a valid model id: {row['id']!r}")
    return json.dumps({"version": 1, "models": rows}, indent=1).encode()


def parse_index(data: bytes | str) -> list[dict[str, str]]:
    """Inverse of `models_index`; anything malformed is refused as a whole."""
    try:
        doc = safe_loads(data.decode() if isinstance(data, bytes) else data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"the cloud model list is unreadable ({exc})") from exc
    if not isinstance(doc, Mapping) or doc.get("version") != 1 or not isinstance(
            doc.get("models"), list):
        raise ValueError("the cloud model list has an unknown format")
    out = []
    for row in doc["models"]:
        if not isinstance(row, Mapping) or not isinstance(row.get("id"), str) or not _ID.match(
                row["id"]):
            raise ValueError("the cloud model list has an invalid entry")
        out.append({"id": row["id"], "name": str(row.get("name", ""))[:80],
                    "created_at": str(row.get("created_at", ""))})
    return out
