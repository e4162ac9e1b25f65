"""Page entry point: opens storage, restores clips and the active model, builds the views
and attaches the per-frame path to the camera loop run by web/boot.js.

JS owns the browser APIs (camera, MediaPipe, IndexedDB, the training worker); Python owns
what is done with them. Frames cross the bridge through Float32Arrays created once.
"""

from __future__ import annotations

from pyscript import window

window.performance.mark("mimic:main-start")  # start-up phases, read by scripts/bench_startup.py

from pyodide.ffi import create_proxy  # noqa: E402

from studio.app import App, setup_tabs  # noqa: E402
from studio.avatar import AvatarDriver  # noqa: E402
from studio.dom import by_id  # noqa: E402
from studio.hotkeys import HotkeysView  # noqa: E402
from studio.live import LiveView  # noqa: E402
from studio.outputs import start as start_outputs  # noqa: E402
from studio.record import RecordView  # noqa: E402
from studio.storage import Storage  # noqa: E402
from studio.sync import start as start_sync  # noqa: E402
from studio.train import TrainView  # noqa: E402
from studio.voice import VoiceView  # noqa: E402


async def restore(app: App, record: RecordView) -> None:
    """Bring back what the user made in earlier visits; never block the camera on it."""
    storage = app.storage
    status = await storage.store.persist()
    if not status.persisted:
        print("storage is best-effort: the browser may evict it under pressure")
    for clip, calibration in await storage.load_clips():
        app.clips.append(clip)
        if calibration:
            app.calibration_ids.add(clip.take_id)
    app.models = await storage.load_models()
    active = await storage.get_setting("active_model")
    chosen = next((m for m in app.models if m.id == active), None)
    if chosen is not None:
        try:
            app.use_model(chosen)
        except ValueError as exc:
            by_id("train-note").textContent = f"The saved model could not be loaded: {exc}"
    await record.start()
    app.changed()


async def main() -> None:
    bridge = window.mimicBridge
    try:
        store = await bridge.openStore()
    except Exception as exc:
        bridge.fail(str(getattr(exc, "message", exc)))
        return
    window.performance.mark("mimic:imported")
    app = App(bridge, Storage(store))
    setup_tabs()
    record = RecordView(app)
    TrainView(app)
    LiveView(app)
    start_sync(app)
    app.voice = VoiceView(app)
    app.avatar = AvatarDriver(app)
    hotkeys = HotkeysView(app)
    start_outputs(app, hotkeys)
    bridge.onAvatar = create_proxy(app.avatar.on_avatar)
    if bridge.avatar:
        app.avatar.attach(bridge.avatar)
        if bridge.avatar.info():
            app.avatar.on_avatar(bridge.avatar.info())
    window.mimicApp = create_proxy(app)  # for tests and the console
    bridge.attachPython(create_proxy(app.on_frame))
    await restore(app, record)
    await hotkeys.restore()
    window.performance.mark("mimic:restored")
    window.document.body.dataset.restored = "true"


await main()  # noqa: F704 - PyScript runs this module with top-level await
