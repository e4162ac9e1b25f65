"""Training, per-frame and quality benchmark of the core, in Pyodide in headless Chromium,
side by side with the TensorFlow.js setup it replaces, in the same browser.

Data: synthetic clips (mimic.synthetic) of one person over sessions, 14 targets, about 5,000
frames. Rows:
  - fit: ExpressionModel.fit on all ~5,000 frames in Pyodide (median of --runs), vs TF.js
    dense 64-32-14, no activations, Adam, MSE, batch 32, 200 epochs (wasm backend, and the
    cpu backend with --tfjs-cpu), and optionally scikit-learn's MLPRegressor with the same
    settings in Pyodide (--sklearn; about 20 s).
  - per frame: one frame predicted and cleaned up (LivePipeline.step, what the page runs),
    median over batches of 50 of 2,000 frames (the page's clock ticks in
    5 us steps), vs TF.js one-row predict.
  - quality: both trained on the same takes and scored by mimic.evaluate on the same held-out
    takes (the TF.js weights are imported as a model through the TF.js import path).

Usage: .venv/bin/python scripts/bench_core.py [--runs 3] [--epochs 200] [--sklearn]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

SETUP = """
import json, time
import numpy as np
from mimic.synthetic import make_dataset
from mimic.evaluate import split_by_take, evaluate
from mimic.model import ExpressionModel, clip_targets
from mimic.targets import TargetSet
CLIPS = make_dataset(people=1, sessions=3, takes=2, seconds=1.6, seed=11)
TRAIN, TEST = split_by_take(CLIPS, seed=0)
TARGETS = TargetSet.from_labels(lb for c in CLIPS for lb in c.labels)
def xy(clips):
    x = np.concatenate([c.frames for c in clips])
    y = np.concatenate([np.tile(clip_targets(c, TARGETS), (len(c.frames), 1)) for c in clips])
    return x, y
X_ALL, _ = xy(CLIPS)
X_TRAIN, Y_TRAIN = xy(TRAIN)
X_TEST, _ = xy(TEST)
json.dumps({"frames": len(X_ALL), "targets": len(TARGETS.names), "train": len(X_TRAIN),
            "test": len(X_TEST)})
"""

FIT = """
t0 = time.perf_counter()
MODEL = ExpressionModel().fit(CLIPS)
json.dumps({"fit_s": time.perf_counter() - t0, "iterations": MODEL.n_iter_})
"""

PER_FRAME = """
from mimic.pipeline import LivePipeline
pipe = LivePipeline(MODEL)
frames = X_TEST[:2000].astype(np.float32)
out = np.zeros(len(TARGETS.names), np.float32)
BATCH = 50  # the page's clock ticks in 5 us steps: time 50 frames at once, median of batches


def per_frame(run):
    times = []
    for b in range(0, len(frames), BATCH):
        s = time.perf_counter()
        run(frames[b:b + BATCH], b)
        times.append((time.perf_counter() - s) / BATCH)
    return 1e6 * float(np.median(times))


def steps(batch, b):
    for i, frame in enumerate(batch):
        pipe.step(frame, (b + i) / 30)


def predicts(batch, b):
    for frame in batch:
        MODEL.predict_one(frame, out)


json.dumps({"step_us": per_frame(steps), "predict_us": per_frame(predicts)})
"""

# The same with a model that reads expressions with the net plus a straight line (the
# largest a chosen model gets: one more matrix-vector product per frame).
BRANCHED = """
MODEL_NET = MODEL
MODEL = ExpressionModel(readout="blend").fit(CLIPS)
assert MODEL.linear_ is not None
""" + PER_FRAME + """
"""

QUALITY = """
HELD = ExpressionModel().fit(TRAIN)
ours = evaluate(HELD, TEST).to_dict()
json.dumps({k: ours[k] for k in ("expression_accuracy", "macro_f1", "mouth_mae", "eyes_mae",
                                 "flicker_raw", "flicker_clean", "neutral_mouth_leakage")})
"""

DATA = """
json.dumps({"xTrain": X_TRAIN.ravel().tolist(), "yTrain": Y_TRAIN.ravel().tolist(),
            "xTest": X_TEST.ravel().tolist(), "features": 52,
            "outputs": len(TARGETS.names)})
"""

BASELINE_QUALITY = """
from mimic.tfjs import DenseLayer
w = json.loads(TF_WEIGHTS)
layers = [DenseLayer(np.array(w[i]).reshape(52 if i == 0 else len(w[i - 1]), -1),
                     np.array(w[i + 1])) for i in range(0, len(w), 2)]
base = ExpressionModel.from_dense_layers(layers, TARGETS.names)
theirs = evaluate(base, TEST).to_dict()
json.dumps({k: theirs[k] for k in ("expression_accuracy", "macro_f1", "mouth_mae", "eyes_mae",
                                   "flicker_raw", "flicker_clean", "neutral_mouth_leakage")})
"""

SKLEARN = """
from sklearn.neural_network import MLPRegressor
t0 = time.perf_counter()
mlp = MLPRegressor(hidden_layer_sizes=(64, 32), activation="identity", solver="adam",
                   batch_size=32, max_iter=EPOCHS, shuffle=True, random_state=0,
                   n_iter_no_change=EPOCHS, tol=0)
mlp.fit(X_ALL, np.concatenate([np.tile(clip_targets(c, TARGETS), (len(c.frames), 1))
                               for c in CLIPS]))
fit = time.perf_counter() - t0
row = X_TEST[:1]
times = []
for _ in range(200):
    s = time.perf_counter(); mlp.predict(row); times.append(time.perf_counter() - s)
json.dumps({"fit_s": fit, "predict_us": 1e6 * float(np.median(times))})
"""

TF_RUN = """async (args) => {
  const r = await window.tfBaseline(args);
  return r;
}"""

TF_WEIGHTS_JS = """async (args) => {
  await tf.setBackend("wasm"); await tf.ready();
  const model = tf.sequential();
  model.add(tf.layers.dense({ units: 64, inputShape: [args.features] }));
  model.add(tf.layers.dense({ units: 32 }));
  model.add(tf.layers.dense({ units: args.outputs }));
  model.compile({ optimizer: tf.train.adam(), loss: "meanSquaredError" });
  const n = args.xTrain.length / args.features;
  const x = tf.tensor2d(new Float32Array(args.xTrain), [n, args.features]);
  const y = tf.tensor2d(new Float32Array(args.yTrain), [n, args.outputs]);
  await model.fit(x, y, { batchSize: 32, epochs: args.epochs, shuffle: true, verbose: 0 });
  return JSON.stringify(model.getWeights().map((t) => Array.from(t.dataSync())));
}"""


def py(page, code: str) -> dict:
    return json.loads(harness.run_python(page, code))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--sklearn", action="store_true", help="also time scikit-learn's MLP")
    ap.add_argument("--tfjs-cpu", action="store_true", help="also time TF.js's cpu backend")
    args = ap.parse_args()
    with harness.app_server() as url, harness.browser() as b:
        packages = ("numpy", "scipy", "scikit-learn")
        page = harness.pyodide_page(b, url, packages)
        info = py(page, SETUP)
        print(f"data: {info['frames']} frames, {info['targets']} targets; quality split "
              f"{info['train']} train / {info['test']} held-out frames (by take)", flush=True)
        fits = [py(page, FIT) for _ in range(args.runs)]
        fit_s = statistics.median(f["fit_s"] for f in fits)
        frame = py(page, PER_FRAME)
        branched = py(page, BRANCHED)
        harness.run_python(page, "MODEL = MODEL_NET")
        ours = py(page, QUALITY)
        data = py(page, DATA)
        sk = None
        if args.sklearn:
            harness.run_python(page, f"EPOCHS = {args.epochs}")
            sk = py(page, SKLEARN)

        tf_page = b.new_page()
        tf_page.goto(f"{url}/__tests__/tfjs_baseline.html")
        tf_page.wait_for_function("window.tfReady === true", timeout=60_000)
        full = dict(data, xTrain=[], yTrain=[])
        # Timing on all ~5,000 frames, like ours; quality on the same split as ours.
        all_x = json.loads(harness.run_python(page, "json.dumps(X_ALL.ravel().tolist())"))
        all_y = json.loads(harness.run_python(page, (
            "json.dumps(np.concatenate([np.tile(clip_targets(c, TARGETS), (len(c.frames), 1))"
            " for c in CLIPS]).ravel().tolist())")))
        full.update(xTrain=all_x, yTrain=all_y, epochs=args.epochs)
        tf_wasm = tf_page.evaluate(TF_RUN, dict(full, backend="wasm"))
        tf_cpu = tf_page.evaluate(TF_RUN, dict(full, backend="cpu")) if args.tfjs_cpu else None
        weights = tf_page.evaluate(TF_WEIGHTS_JS, dict(data, epochs=args.epochs))
        harness.run_python(page, f"TF_WEIGHTS = {weights!r}")
        theirs = py(page, BASELINE_QUALITY)

    rows = [("fit, ~5,000 frames (s)", f"{fit_s:.2f}", f"{tf_wasm['fitMs'] / 1000:.1f}",
             f"{tf_wasm['fitMs'] / 1000 / fit_s:.0f}x faster")]
    if tf_cpu:
        rows.append(("fit, TF.js cpu backend (s)", "", f"{tf_cpu['fitMs'] / 1000:.1f}",
                     f"{tf_cpu['fitMs'] / 1000 / fit_s:.0f}x faster"))
    if sk:
        rows.append(("fit, scikit-learn MLP (s)", "", f"{sk['fit_s']:.1f}",
                     f"{sk['fit_s'] / fit_s:.0f}x faster"))
    rows += [
        ("predict one frame (us)", f"{frame['predict_us']:.1f}",
         f"{tf_wasm['predictOneUs']:.1f}", f"{tf_wasm['predictOneUs'] / frame['predict_us']:.1f}x"),
        ("predict + clean-up (us)", f"{frame['step_us']:.1f}", "-", "budget 30"),
        ("  net + straight line: predict (us)", f"{branched['predict_us']:.1f}", "-", ""),
        ("  net + straight line: + clean-up (us)", f"{branched['step_us']:.1f}", "-",
         "budget 30"),
    ]
    if sk:
        rows.append(("predict, scikit-learn (us)", "", f"{sk['predict_us']:.1f}", ""))
    for key, label, fmt in (
        ("expression_accuracy", "held-out expression accuracy", "{:.3f}"),
        ("macro_f1", "held-out expression macro-F1", "{:.3f}"),
        ("mouth_mae", "held-out mouth mean abs error", "{:.4f}"),
        ("eyes_mae", "held-out eyes mean abs error", "{:.4f}"),
        ("flicker_clean", "flicker after clean-up (/s)", "{:.2f}"),
        ("neutral_mouth_leakage", "neutral-mouth leakage", "{:.3f}"),
    ):
        rows.append((label, fmt.format(ours[key]), fmt.format(theirs[key]), ""))
    runs = ", ".join(f"{f['fit_s']:.2f}" for f in fits)
    print(f"fit runs (s): {runs}; "
          f"L-BFGS iterations {fits[0]['iterations']}")
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'':<{width}}{'Mimic':>10}{'TF.js':>10}  ratio")
    for name, a, c, ratio in rows:
        print(f"{name:<{width}}{a:>10}{c:>10}  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
