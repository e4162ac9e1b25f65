"""Sync without the network: what the user pastes, where files go, the model listing."""

import json

import pytest

from mimic import sync

CONFIG = {"apiKey": "AIza-demo", "authDomain": "demo-mimic.firebaseapp.com",
          "projectId": "demo-mimic", "storageBucket": "demo-mimic.appspot.com",
          "appId": "1:123:web:abc"}

CONSOLE_SNIPPET = """
// Your web app's Firebase configuration
const firebaseConfig = {
  apiKey: "AIza-demo",
  authDomain: 'demo-mimic.firebaseapp.com',
  projectId: "demo-mimic",
  storageBucket: "demo-mimic.appspot.com",
  appId: "1:123:web:abc",  // trailing comma as the console writes it
};
"""


def test_config_from_json_or_the_console_snippet():
    assert sync.parse_config(json.dumps(CONFIG)) == CONFIG
    assert sync.parse_config(CONSOLE_SNIPPET) == CONFIG


def test_unknown_keys_are_dropped_and_emulators_kept():
    text = json.dumps({**CONFIG, "evil": "<script>", "emulators": {"auth": "127.0.0.1:9099"}})
    config = sync.parse_config(text)
    assert "evil" not in config and config["emulators"] == {"auth": "127.0.0.1:9099"}


@pytest.mark.parametrize("text, message", [
    ("", "paste your Firebase web config"),
    ("hello", "could not be read"),
    ("[1, 2]", "must be an object"),
    (json.dumps({"apiKey": "x"}), "lacks projectId, storageBucket"),
    (json.dumps({**CONFIG, "emulators": {"auth": "nope"}}), "host:port"),
    (json.dumps({**CONFIG, "emulators": {"db": "h:1"}}), "emulators must be"),
    ("[" * 5000 + "]" * 5000, "could not be read"),
    ("x" * 30_000, "far too long"),
])
def test_bad_configs_say_what_is_wrong(text, message):
    with pytest.raises(sync.SyncConfigError, match=message):
        sync.parse_config(text)


def test_everything_lives_in_the_users_folder():
    paths = sync.model_paths("uid123", "m1")
    assert paths == {"mimic": "user/uid123/models/m1.mimic",
                     "tfjs_json": "user/uid123/models/m1/model.json",
                     "tfjs_weights": "user/uid123/models/m1/model.weights.bin"}
    assert sync.clips_path("uid123") == "user/uid123/clips/all.mimicclips"
    assert sync.index_path("uid123") == "user/uid123/models/index.json"


@pytest.mark.parametrize("uid", ["", "../other", "a/b", "a b", "x" * 200, None])
def test_ids_cannot_escape_the_folder(uid):
    with pytest.raises(ValueError):
        sync.user_root(uid)
    with pytest.raises(ValueError):
        sync.model_paths("ok", uid)


def test_model_index_round_trip_and_refusal():
    rows = [{"id": "a1", "name": "Monday", "created_at": "2026-11-24T10:00:00+00:00"},
            {"id": "b2", "name": "x" * 200, "created_at": ""}]
    back = sync.parse_index(sync.models_index(rows))
    assert [r["id"] for r in back] == ["a1", "b2"] and len(back[1]["name"]) == 80
    for bad in (b"{", b'{"version": 2, "models": []}',
                b'{"version": 1, "models": [{"id": "../x"}]}'):
        with pytest.raises(ValueError):
            sync.parse_index(bad)
