"""The studio's tools around the main flow, in headless Chromium with the fake camera:
clip play, rename, relabel, delete with undo, combined labels, calibration, custom labels,
guided recording, takes without a face, storage failures, Live Link import, clean-up
sliders and TF.js export. User text must always show as text, never as HTML.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

import harness
from mimic import modelfile
from mimic.blendshapes import NAMES
from mimic.model import ExpressionModel
from mimic.synthetic import make_dataset

# Counts what the page asks of the browser, and lets a test make every IndexedDB write fail
# as a full disk does (QuotaExceededError).
SPIES = """
window.__persistAsked = false;
if (navigator.storage && navigator.storage.persist) {
  const persist = navigator.storage.persist.bind(navigator.storage);
  navigator.storage.persist = () => { window.__persistAsked = true; return persist(); };
}
const put = IDBObjectStore.prototype.put;
IDBObjectStore.prototype.put = function (...args) {
  if (window.__quota) throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
  return put.apply(this, args);
};
"""

HTML_LABEL = "<img src=x onerror=window.__xss=1>"
HTML_NAME = "<b onmouseover=window.__xss=1>mine</b>"


def open_studio(open_page, app_url: str, video: Path):
    p = open_page(app_url, video, init_script=SPIES)
    page = p.page
    ready(page)
    # 1.5 s: at least 15 frames even while the first visit's Python snapshot is being made
    # in a worker (15-20 processed frames a second on a slow 2-core machine).
    page.fill("#rec-seconds", "1.5")
    return p


def ready(page) -> None:
    harness.wait_ready(page)
    page.wait_for_function("document.body.dataset.restored === 'true'")


def clips(page) -> list[str]:
    return page.eval_on_selector_all("#clip-list .c-name", "els => els.map(e => e.textContent)")


def target_count(page, target: str) -> int:
    row = page.locator(f'tr[data-target="{target}"] td')
    return int(row.nth(1).text_content())


def record(page, target: str) -> None:
    before = len(clips(page))
    page.click(f'button[data-record="{target}"]')
    page.wait_for_function(f"document.querySelectorAll('#clip-list li').length > {before}",
                           timeout=20_000)


def clip_button(page, name: str, action: str):
    item = page.locator("#clip-list li").filter(has=page.locator(".c-name", has_text=name))
    return item.locator(f'button[data-action="{action}"]')


def answer_prompt(page, text: str) -> None:
    page.once("dialog", lambda d: d.accept(text))


def toast(page, containing: str = "") -> str:
    page.wait_for_function("text => !document.getElementById('toast').hidden && "
                           "document.getElementById('toast-text').textContent.includes(text)",
                           arg=containing)
    return page.text_content("#toast-text")


def test_clip_tools_labels_and_storage_failures(app_url, videos, open_page, artifacts):
    p = open_studio(open_page, app_url, videos["smile"])
    page = p.page
    assert page.evaluate("window.__persistAsked"), "persistent storage was never asked for"

    # A custom label shows as text in the target list.
    page.fill("#custom-label", HTML_LABEL)
    page.click("#custom-form button[type=submit]")
    page.wait_for_selector(f'tr[data-target="{HTML_LABEL}"]')
    assert page.text_content(f'tr[data-target="{HTML_LABEL}"] .t-name') == HTML_LABEL
    assert page.locator("#target-rows img").count() == 0

    # An expression recorded while saying a vowel teaches both targets.
    page.select_option("#rec-vowel", "aa")
    page.click('button[data-record="happy"]')
    # A countdown, then the take with its progress ring filling.
    page.wait_for_function("document.getElementById('rec-count').textContent === '3'")
    assert page.text_content("#rec-label") == "happy + aa"
    page.wait_for_function("document.body.dataset.recording === 'recording' && "
                           "parseFloat(document.getElementById('rec-ring').style"
                           ".strokeDashoffset) < 80", timeout=10_000)
    page.wait_for_function("document.querySelectorAll('#clip-list li').length === 1",
                           timeout=20_000)
    assert page.is_hidden("#rec-overlay")
    assert clips(page) == ["happy + aa"]
    assert (target_count(page, "happy"), target_count(page, "aa")) == (1, 1)
    page.select_option("#rec-vowel", "")

    # Neutral calibration is a clip marked as such.
    page.click("#btn-calibrate")
    page.wait_for_function("document.querySelectorAll('#clip-list li').length === 2",
                           timeout=20_000)
    assert page.text_content("#calib-note").startswith("Calibrated for this session")
    assert "calibration" in page.text_content("#clip-list li:first-child .c-meta")

    # Playback drives the bars from the clip, then hands them back to the camera.
    clip_button(page, "happy + aa", "play").click()
    page.wait_for_function("mimicApp.playback != null", timeout=5_000)
    page.wait_for_function("mimicApp.playback == null", timeout=10_000)

    # Rename: the name is text, and stored.
    answer_prompt(page, HTML_NAME)
    clip_button(page, "happy + aa", "rename").click()
    page.wait_for_function(f"[...document.querySelectorAll('#clip-list .c-name')]"
                           f".some(e => e.textContent === {HTML_NAME!r})")
    assert page.locator("#clip-list b").count() == 0

    # Relabel to another combination; an empty one is refused and changes nothing.
    answer_prompt(page, "sorrow + oh")  # the VRM 0.x name is understood
    clip_button(page, "mine", "relabel").click()
    page.wait_for_function("document.querySelector('tr[data-target=sad] td:nth-child(2)')"
                           ".textContent === '1'")
    assert (target_count(page, "happy"), target_count(page, "aa"), target_count(page, "oh")) \
        == (0, 0, 1)
    answer_prompt(page, " + ")
    clip_button(page, "mine", "relabel").click()
    page.wait_for_function("document.getElementById('calib-note').textContent"
                           ".startsWith('Labels not changed')")
    assert target_count(page, "sad") == 1

    # Delete, then Undo; delete again and let it go.
    clip_button(page, "mine", "delete").click()
    assert toast(page).startswith("Deleted")
    assert len(clips(page)) == 1
    page.click("#toast-action")
    page.wait_for_function("document.querySelectorAll('#clip-list li').length === 2")
    page.locator('#clip-list li button[data-action="delete"]').first.click()  # the calibration
    page.wait_for_function("document.querySelectorAll('#clip-list li').length === 1")

    # A full disk: a change fails with a message and what was there stays as it was; a new
    # take is kept for the visit, marked as not saved, and saved by the next change.
    page.evaluate("window.__quota = true; document.getElementById('toast').hidden = true")
    answer_prompt(page, "lost name")
    clip_button(page, "mine", "rename").click()
    assert toast(page, "Browser storage is full").startswith("Browser storage is full, so saving")
    assert clips(page) == [HTML_NAME]
    page.click('button[data-record="angry"]')
    page.wait_for_function("document.querySelectorAll('#clip-list li').length === 2",
                           timeout=20_000)
    assert page.text_content("#calib-note").startswith("Browser storage is full")
    assert "export your clips" in page.text_content("#calib-note")
    assert clips(page) == ["angry", HTML_NAME]
    assert "not saved" in page.text_content('#clip-list li[data-unsaved="true"] .c-meta')
    page.screenshot(path=str(artifacts / "studio-tools.png"))
    page.evaluate("window.__quota = false")
    answer_prompt(page, "angry take")
    clip_button(page, "angry", "rename").click()
    page.wait_for_function("!document.querySelector('#clip-list li[data-unsaved]')")

    # After a reload: the renamed, relabelled clip, the take saved late, the custom label;
    # the deleted calibration clip stays deleted.
    page.reload()
    ready(page)
    assert clips(page) == ["angry take", HTML_NAME]
    assert (target_count(page, "sad"), target_count(page, "angry")) == (1, 1)
    assert page.locator(f'tr[data-target="{HTML_LABEL}"]').count() == 1
    assert page.evaluate("window.__xss") is None
    assert p.errors == []
    assert p.foreign_requests() == []


# IndexedDB refused for the app's database, as some private browsing modes do.
NO_INDEXEDDB = """
const open = IDBFactory.prototype.open;
IDBFactory.prototype.open = function (name, ...rest) {
  if (name !== "mimic") return open.call(this, name, ...rest);
  throw new DOMException("The operation is insecure.", "InvalidStateError");
};
"""


def test_storage_refused_is_reported(app_url, videos, open_page):
    page = open_page(app_url, videos["smile"], init_script=NO_INDEXEDDB).page
    page.wait_for_selector("#error:not([hidden])", timeout=90_000)
    assert page.text_content("#error") == (
        "Browser storage is unavailable (InvalidStateError), so opening storage failed. "
        "Private browsing windows may block it; use a normal window to keep your work.")


@pytest.fixture(scope="module")
def blank_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("blank")
    Image.new("RGB", (640, 480), (128, 128, 128)).save(out / "blank.png")
    return harness.write_y4m(out / "blank.y4m", [(out / "blank.png", 2)])


def test_take_without_a_face_is_refused(app_url, blank_video, open_page):
    page = open_page(app_url, blank_video).page
    page.wait_for_function("document.body.dataset.restored === 'true'", timeout=90_000)
    page.fill("#rec-seconds", "1")
    assert page.is_visible("#face-note")
    page.click('button[data-record="happy"]')
    page.wait_for_function("document.getElementById('calib-note').textContent.startsWith('Only')",
                           timeout=20_000)
    note = page.text_content("#calib-note")
    assert re.match(r"Only 0 of \d+ frames showed a face", note), note
    assert "warn" in page.get_attribute("#calib-note", "class")
    assert page.locator("#clip-list li").count() == 0


def test_guided_recording_walks_the_missing_targets(app_url, videos, open_page):
    page = open_studio(open_page, app_url, videos["smile"]).page
    missing = page.eval_on_selector_all('tr[data-missing="true"]',
                                        "els => els.map(e => e.dataset.target)")
    # the snapshot's state as the series starts, read in the same task as the click
    at_start = page.evaluate("""() => {
      const state = document.body.dataset.pythonSnapshot;
      document.getElementById('btn-guided').click();
      return state === undefined ? null : state;
    }""")
    page.wait_for_function("document.querySelectorAll('#clip-list li').length >= 2",
                           timeout=30_000)
    # The Python snapshot (web/boot.js) waits for the whole series, not just each take: one
    # not begun when the series started has not begun yet (once the series stops it may
    # begin at any moment, so this is asked while it runs).
    if at_start is None:
        assert page.evaluate("document.body.dataset.pythonSnapshot") is None
    page.click("#btn-guided")  # stop: the take under way finishes, no new one starts
    page.wait_for_function("document.getElementById('btn-guided').dataset.running === 'false'",
                           timeout=20_000)
    recorded = list(reversed(clips(page)))  # the list shows the newest first
    note = page.text_content("#calib-note")
    assert 2 <= len(recorded) <= 3, note
    assert recorded == missing[:len(recorded)], note
    assert page.text_content("#btn-guided") == "Record all missing"


def live_link_csv(frames: int = 30) -> str:
    """A Live Link Face recording at 60 fps: its column names, smiling on every frame."""
    shapes = [n[0].upper() + n[1:] for n in NAMES if n != "_neutral"]
    lines = [",".join(["Timecode", "BlendshapeCount", *shapes])]
    for i in range(frames):
        values = ["0.8" if "Smile" in s else "0.05" for s in shapes]
        lines.append(",".join([f"17:35:21:{i:02d}.000", str(len(shapes)), *values]))
    return "\n".join(lines) + "\n"


def model_file(directory: Path) -> Path:
    model = ExpressionModel().fit(make_dataset(sessions=2, takes=2, seconds=2.0, seed=3))
    path = directory / "synthetic.mimic"
    path.write_bytes(modelfile.dumps(model))
    return path


def test_live_link_import_sliders_and_tfjs_export(app_url, videos, open_page, artifacts,
                                                  tmp_path):
    page = open_studio(open_page, app_url, videos["smile"]).page

    # Live Link Face CSV: asks which target it shows, then it is a clip.
    csv = tmp_path / "take.csv"
    csv.write_text(live_link_csv())
    answer_prompt(page, "surprised")
    page.set_input_files("#import-clips", str(csv))
    page.wait_for_function("document.querySelectorAll('#clip-list li').length === 1")
    assert target_count(page, "surprised") == 1
    broken = tmp_path / "broken.csv"
    broken.write_text(live_link_csv().replace("0.8", "lots", 1))
    answer_prompt(page, "surprised")
    page.set_input_files("#import-clips", str(broken))
    page.wait_for_function("document.getElementById('calib-note').textContent"
                           ".startsWith('Nothing was imported')")
    assert page.locator("#clip-list li").count() == 1

    # Training that cannot run (here: no workers) says so, and can be tried again.
    answer_prompt(page, "neutral")
    page.set_input_files("#import-clips", str(csv))  # the same take as another target
    page.wait_for_function("document.querySelectorAll('#clip-list li').length === 2")
    page.evaluate("() => { window.Worker = class { constructor() { "
                  "throw new Error('workers blocked'); } }; }")
    page.click("#tab-train")
    page.click("#btn-train")
    page.wait_for_function("document.body.dataset.training === 'failed'")
    assert page.text_content("#train-note") == "Training failed: Error: workers blocked"
    assert page.is_enabled("#btn-train")
    page.click("#tab-record")

    # A model: raw and cleaned-up bars for each target, and the per-frame cost overlay.
    page.set_input_files("#import-model", str(model_file(tmp_path)))
    page.wait_for_function("document.querySelectorAll('#model-list li').length === 1")
    page.click("#tab-live")
    targets = page.eval_on_selector_all(".pred", "els => els.map(e => e.dataset.name)")
    assert {"neutral", "happy", "aa", "blink"} <= set(targets)
    assert page.locator(".pred .bar-fill.raw").count() == len(targets)
    assert page.locator(".pred .bar-fill.clean").count() == len(targets)
    page.wait_for_function("/^Python \\d+ µs\\/frame · \\d+ fps$/"
                           ".test(document.getElementById('perf').textContent)")

    # A slider changes the clean-up at once and is stored with the model.
    sliders = page.eval_on_selector_all("#cleanup-form input[type=range]",
                                        "els => els.map(e => e.dataset.setting)")
    assert len(sliders) >= 4
    key = sliders[0]
    new = page.evaluate(f"""() => {{
      const s = document.getElementById('s-{key}');
      const v = Number(s.min) + (Number(s.max) - Number(s.min)) * 0.75;
      s.value = String(v); s.dispatchEvent(new Event('input'));
      return Number(s.value); }}""")
    assert page.text_content(f"#o-{key}") == f"{new:g}"
    page.screenshot(path=str(artifacts / "studio-live-settings.png"))
    page.wait_for_timeout(1200)  # the write follows the gesture by 0.4 s
    page.reload()
    ready(page)
    assert float(page.get_attribute(f"#s-{key}", "value")) == pytest.approx(new)

    # TF.js Layers export: model.json + weights, which import back as a model.
    downloads = []
    page.on("download", lambda d: downloads.append(d))
    page.click("#tab-train")
    page.locator('#model-list li button[data-action="export tf.js"]').click()
    for _ in range(50):
        if len(downloads) == 2:
            break
        page.wait_for_timeout(100)
    names = sorted(d.suggested_filename for d in downloads)
    assert names == ["model.json", "model.weights.bin"]
    paths = []
    for d in downloads:
        path = tmp_path / d.suggested_filename
        d.save_as(path)
        paths.append(str(path))
    page.set_input_files("#import-model", paths)
    page.wait_for_function("document.querySelectorAll('#model-list li').length === 2")
    assert page.text_content("#train-note") == "Imported model."

    # Models are renamed as text, and deleted after a confirmation.
    answer_prompt(page, HTML_NAME)
    page.locator('#model-list li button[data-action="rename"]').first.click()
    page.wait_for_function(f"document.getElementById('model-list').textContent"
                           f".includes({HTML_NAME!r})")
    assert page.locator("#model-list b").count() == 0
    page.once("dialog", lambda d: d.accept())
    page.locator('#model-list li button[data-action="delete"]').first.click()
    page.wait_for_function("document.querySelectorAll('#model-list li').length === 1")
    assert page.evaluate("window.__xss") is None
