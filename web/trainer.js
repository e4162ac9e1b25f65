// Training runs in this worker so the camera and bars keep running on the page.
// It boots its own Pyodide with the training libraries (numpy; scipy, whose L-BFGS the
// net trains with; scikit-learn, for the straight-line readout that model selection tries;
// loaded only when the user trains, never by the page itself), unpacks the mimic package, and hands
// the work to Python (mimic.trainjob); this file only relays. Its Python resumes from the
// page's start-up snapshot when there is one (python.mjs), so training starts sooner too,
// and imports scipy and scikit-learn from the bytecode an earlier visit's training stored
// (made here, once idle after a Train: compiling them costs about 3 s a visit otherwise).
import { loadPyodide, started, storeTrainerBytecode, useTrainerBytecode } from "./python.mjs";

let pyodide = null;
let bytecodeFiles = 0; // written from an earlier visit's store, for the tests and benchmarks
let running = 0; // jobs in progress: storing the bytecode gives way to them
let bytecodeStored = false;
let storing = false;

async function boot() {
  postMessage({ type: "progress", fraction: 0, message: "Starting Python for training" });
  pyodide = await loadPyodide();
  await pyodide.loadPackage(["numpy", "scipy", "scikit-learn"], {
    messageCallback: (m) => postMessage({ type: "progress", fraction: 0, message: m }),
    errorCallback: (m) => postMessage({ type: "log", message: m }),
  });
  bytecodeFiles = await useTrainerBytecode(pyodide);
  const zip = await fetch(new URL("../mimic.zip", import.meta.url));
  if (!zip.ok) throw new Error(`mimic.zip answered ${zip.status}`);
  pyodide.unpackArchive(await zip.arrayBuffer(), "zip", { extractDir: "/home/pyodide/lib" });
  pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide/lib')");
}

let booting = null; // one start-up, whether a warm-up or a Train asked for it first

async function storeBytecodeWhenIdle() {
  if (bytecodeStored || storing || running) return;
  storing = true;
  try {
    const stored = await storeTrainerBytecode(pyodide, () => running > 0);
    if (stored || !running) bytecodeStored = true; // done, or nothing was missing
  } finally {
    storing = false;
  }
}

self.onmessage = async (event) => {
  const { id, clips, options } = event.data;
  running += 1;
  try {
    booting = booting || boot().catch((err) => { booting = null; throw err; });
    await booting;
    if (event.data.type === "warm") {
      // import what training imports, so the first Train only trains
      await pyodide.runPythonAsync("import mimic.trainjob, mimic.selection, sklearn.linear_model");
      return;
    }
    const report = (fraction, message, loss) =>
      postMessage({ type: "progress", id, fraction, message, loss: loss ?? null });
    pyodide.globals.set("_clips", clips);
    pyodide.globals.set("_options", JSON.stringify(options || {}));
    pyodide.globals.set("_report", report);
    await pyodide.runPythonAsync(`
import json
from pyodide.ffi import to_js
from mimic.trainjob import train_bundle
_model, _summary = train_bundle(_clips.to_bytes(), json.loads(_options), _report)
_model_js = to_js(memoryview(_model))
_summary_json = json.dumps(_summary)
`);
    const bytes = pyodide.globals.get("_model_js");
    const summary = pyodide.globals.get("_summary_json");
    postMessage({ type: "done", id, model: bytes, summary, python: started.how, bytecodeFiles },
      [bytes.buffer]);
  } catch (err) {
    postMessage({ type: "error", id, message: String(err.message || err) });
  } finally {
    running -= 1;
  }
  if (pyodide) setTimeout(storeBytecodeWhenIdle, 0);
};
