"""Python's start-up snapshot and bytecode (web/python.mjs): made after a first visit, used by
the next, and never a reason for the app not to start when they are damaged or stale."""

from __future__ import annotations

import time

import harness
from mimic.clips import dump_clips
from mimic.synthetic import make_dataset

STATE = """async () => {
  const c = await caches.open('python-snapshot');
  const sizes = {};
  for (const req of await c.keys()) {
    const kind = req.url.includes('/start-') ? 'snapshot'
      : req.url.includes('/trainer-bytecode-') ? 'trainer' : 'bytecode';
    sizes[kind] = (await (await c.match(req)).arrayBuffer()).byteLength;
  }
  return sizes; }"""

# Run Python in the page's interpreter (the one python.mjs handed to PyScript).
RUN_PYTHON = """async (code) => {
  const { started } = await import('./web/python.mjs');
  return started.pyodide.runPython(code); }"""

DAMAGE = """async (what) => {
  const c = await caches.open('python-snapshot');
  for (const req of await c.keys()) {
    const bytes = new Uint8Array(await (await c.match(req)).arrayBuffer());
    if (what === 'garbage') {
      await c.put(req, new Response(bytes.subarray(0, 1000).reverse()));
    } else if (what === 'other-build' && req.url.includes('/start-')) {
      bytes[20] ^= 0xff; // in the build id: a snapshot of some other Pyodide build
      await c.put(req, new Response(bytes));
    } else if (what === 'stale-bytecode' && req.url.includes('/bytecode-')) {
      // Change one file's recorded source hash (bytes 8-15 of a .pyc): stale bytecode.
      const length = new DataView(bytes.buffer).getUint32(0, true);
      bytes[4 + length + 8] ^= 0xff;
      await c.put(req, new Response(bytes));
    }
  } }"""


def settle(page, expect: str) -> dict:
    """Until the page has done its snapshot step; returns what it did."""
    page.wait_for_function(
        "!['checking', undefined].includes(document.body.dataset.pythonSnapshot)", timeout=90_000)
    assert page.evaluate("document.body.dataset.pythonSnapshot") == expect
    return page.evaluate("window.mimicPythonSnapshot")


def reload(page) -> None:
    page.reload()
    harness.wait_ready(page)


def smiles_through_python(page) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if (page.text_content("#bars-source") == "from Python"
                and harness.bar_value(page, "mouthSmileLeft") > 0.5):
            return True
        time.sleep(0.2)
    return False


def clips_file(tmp_path):
    path = tmp_path / "clips.mimicclips"
    path.write_bytes(dump_clips(make_dataset(people=1, sessions=1, takes=2, seconds=2.0,
                                             labels=["neutral", "happy"])))
    return path


def test_first_visit_makes_the_snapshot_and_the_next_resumes_from_it(app_url, videos, open_page,
                                                                    tmp_path):
    p = open_page(app_url, videos["smile"])
    page = p.page
    harness.wait_ready(page)
    # The app imports `random` (through the standard library), so the snapshot holds it
    # already seeded: what the reseeding on resume is for.
    assert page.evaluate(RUN_PYTHON, "import sys; 'random' in sys.modules") is True
    made = settle(page, "made")
    assert page.evaluate("document.body.dataset.pythonStart") == "fresh"
    assert made["modules"] > 50, made  # standard-library modules imported in the snapshot
    assert made["bytecodeFiles"] > 50, made  # numpy and the app's own modules
    sizes = page.evaluate(STATE)
    assert sizes["snapshot"] > 10_000_000 and sizes["bytecode"] > 100_000, sizes

    seeds = []
    for _ in range(2):
        reload(page)
        assert settle(page, "stored") == {"made": False, "reason": "stored"}
        assert page.evaluate("document.body.dataset.pythonStart") == "snapshot"
        assert int(page.evaluate("document.body.dataset.pythonBytecode")) == made["bytecodeFiles"]
        assert smiles_through_python(page)
        # Modules came from the snapshot and the bytecode, and work.
        assert page.evaluate(RUN_PYTHON, "import sys; 'json' in sys.modules") is True
        cached = page.evaluate(RUN_PYTHON, "import mimic.model as m; m.__spec__.cached")
        assert cached.endswith(".pyc")
        seeds.append(page.evaluate(RUN_PYTHON, "import random; random.getrandbits(60)"))
    assert seeds[0] != seeds[1], "every visit resumed the same random state"

    # The training worker resumes from the same snapshot, and trains.
    page.set_input_files("#import-clips", str(clips_file(tmp_path)))
    page.click("#tab-train")
    page.click("#btn-train")
    page.wait_for_function("['done', 'failed'].includes(document.body.dataset.training)",
                           timeout=180_000)
    assert page.evaluate("document.body.dataset.training") == "done"
    assert page.evaluate("mimicBridge.stats.trainerPython") == "snapshot"
    assert page.evaluate("mimicBridge.stats.trainerBytecode") == 0  # none stored yet

    # Idle after training, the worker stores bytecode for what it imported (scipy,
    # scikit-learn); the next visit's Train imports them from it, and trains.
    deadline = time.monotonic() + 90
    while page.evaluate(STATE).get("trainer", 0) < 1e6 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert page.evaluate(STATE).get("trainer", 0) > 1e6, "no training bytecode stored"
    reload(page)
    page.click("#tab-train")
    page.click("#btn-train")
    page.wait_for_function("['done', 'failed'].includes(document.body.dataset.training)",
                           timeout=180_000)
    assert page.evaluate("document.body.dataset.training") == "done"
    assert page.evaluate("mimicBridge.stats.trainerBytecode") > 300
    assert p.errors == []
    assert p.foreign_requests() == []


def test_damaged_or_stale_snapshot_never_stops_the_app(app_url, videos, open_page):
    p = open_page(app_url, videos["smile"])
    page = p.page
    harness.wait_ready(page)
    first = settle(page, "made")

    page.evaluate(DAMAGE, "garbage")
    reload(page)
    assert smiles_through_python(page)
    again = settle(page, "made")  # the unreadable ones were dropped and made again
    assert page.evaluate("document.body.dataset.pythonStart") == "fresh-after-bad-snapshot"
    assert page.evaluate("document.body.dataset.pythonBytecode") == "0"
    assert again["bytes"] > 10_000_000 and again["bytecodeFiles"] == first["bytecodeFiles"]

    page.evaluate(DAMAGE, "other-build")  # looks right; Pyodide itself refuses it
    reload(page)
    assert smiles_through_python(page)
    assert settle(page, "made")["bytes"] > 10_000_000
    assert page.evaluate("document.body.dataset.pythonStart") == "fresh-after-bad-snapshot"
    assert int(page.evaluate("document.body.dataset.pythonBytecode")) == first["bytecodeFiles"]

    page.evaluate(DAMAGE, "stale-bytecode")
    reload(page)
    assert smiles_through_python(page)
    redone = settle(page, "made")  # only the bytecode is made again
    assert page.evaluate("document.body.dataset.pythonStart") == "snapshot"
    assert redone["bytes"] == 0 and redone["bytecodeFiles"] == first["bytecodeFiles"]
    reload(page)
    assert settle(page, "stored")["reason"] == "stored"
    assert p.errors == []


def test_no_snapshot_is_made_while_a_clip_is_recorded(app_url, videos, open_page):
    p = open_page(app_url, videos["smile"])
    page = p.page
    harness.wait_ready(page)
    page.fill("#rec-seconds", "4")
    page.click('button[data-record="happy"]')  # well before the snapshot step (2 s after start)
    page.wait_for_function("document.body.dataset.recording")
    seen = set()
    while page.evaluate("document.body.dataset.recording"):
        seen.add(page.evaluate("document.body.dataset.pythonSnapshot"))
        time.sleep(0.1)
    assert seen == {None}, f"snapshot step ran during the recording: {seen}"
    assert page.locator("#clip-list li").count() == 1
    assert settle(page, "made")["bytes"] > 10_000_000
