"""The core library's own tests, run again inside Pyodide in Chromium.

The page runs the core on Pyodide (Python 3.12, wasm32, no threads), the unit tests on
CPython; running the same tests in both keeps a Pyodide-only difference from hiding.
"""

from __future__ import annotations

import json

import harness

# Tests that need CPython-only tools (hypothesis, subprocess: the CLI, espeak-ng, pytest
# fixtures over the real recordings in ../shared, which the browser cannot read, the local
# server).
NATIVE_ONLY = ("test_modelfile_fuzz", "test_native_only", "test_cli", "test_real_data",
               "test_serve", "test_voice_speech", "test_vts_server", "test_relay",
               "test_lipsync_real")


def test_core_suite_passes_in_pyodide(app_url):
    with harness.browser() as b:
        page = harness.pyodide_page(b, app_url, ("numpy", "scipy", "scikit-learn"))
        report = json.loads(harness.run_python(page, (
            "import json, pytest\n"
            f"json.dumps(pytest.run('/home/pyodide/bundle/tests/core', skip={NATIVE_ONLY!r}))"
        )))
    problems = report["failed"] + report["errors"]
    assert not problems, "\n\n".join(f"{p['id']}\n{p['error']}" for p in problems)
    # Every module of the core has tests, and they all ran here.
    modules = {t.split("::")[0] for t in report["passed"]}
    expected = {"test_blendshapes", "test_targets", "test_clips", "test_livelink",
                "test_synthetic", "test_model", "test_postprocess", "test_evaluate",
                "test_modelfile", "test_tfjs", "test_crossval", "test_voice",
                "test_voicemodel", "test_vmc", "test_selection", "test_tfjsgraph"}
    assert expected <= modules, f"missing in Pyodide: {sorted(expected - modules)}"
    assert len(report["passed"]) >= 40
