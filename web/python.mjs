// The Python runtime PyScript starts (pyscript.toml's `interpreter`): Pyodide, resumed from a
// memory snapshot of its own start-up, with compiled bytecode for the modules the app
// imports, when this browser has them for this exact build.
//
// Why: the first live prediction waits on the page's thread, and on it a fresh Pyodide start
// (interpreter, standard library, its own Python modules) costs 1.3-1.7 s where resuming from
// a snapshot costs about 0.35 s; and Pyodide ships numpy and the standard library as source,
// so every visit compiles numpy again (~0.4 s to import it; ~0.2 s from bytecode).
//
// Both are made once, in a worker, after the app is up (`ensureSnapshot`): the snapshot with
// the standard-library modules the running app had imported already imported in it, and
// bytecode for the other modules it imported (numpy, the app's own), from their sources as
// the page has them. They are kept in Cache Storage (~20 MB + ~2 MB: interpreter memory
// just after start-up and compiled code, no user data). Packages with compiled code (numpy)
// cannot be in a snapshot: they still load after it. The bytecode is hash-checked against
// each source as it is imported, so a stale file is simply not used. A missing, stale or
// unreadable snapshot is never an error: Python then starts the ordinary way and new ones
// are made.
import { loadPyodide as loadFresh, version } from "./vendor/pyodide/pyodide.mjs";

export { version };

const INDEX_URL = new URL("./vendor/pyodide/", import.meta.url).href;
const CACHE = "python-snapshot"; // not "mimic-…": the service worker owns those names
const SNAPSHOT_KEY = `${INDEX_URL}start-${version}.snapshot`;
const BYTECODE_KEY = `${INDEX_URL}bytecode-${version}.bin`;
// The training worker's own (web/trainer.js): scipy and scikit-learn, which only it imports,
// cost it about 3 s to compile from source on every visit.
const TRAINER_BYTECODE_KEY = `${INDEX_URL}trainer-bytecode-${version}.bin`;

// How this page's Python started ("snapshot", "fresh" or "fresh-after-bad-snapshot"), how
// many bytecode files it was given, and the interpreter, for ensureSnapshot.
export const started = { how: "", bytecodeFiles: 0, pyodide: null };

/** PyScript's entry point: Pyodide's loadPyodide, resumed from a snapshot when possible. */
export async function loadPyodide(options = {}) {
  const base = { ...options, indexURL: INDEX_URL };
  const [snapshot, bytecode] = await readStored();
  reading = Promise.resolve([null, null]); // the bytes are the interpreter's now: read once
  let pyodide;
  if (snapshot) {
    try {
      if (!plausible(snapshot)) throw new Error("not a Pyodide snapshot");
      pyodide = await withTimeout(loadFresh({ ...base, _loadSnapshot: snapshot }), RESUME_TIMEOUT_MS);
      // Every visit resumes the same memory: give `random` a fresh seed, as a new start would.
      pyodide.runPython("import sys\nif 'random' in sys.modules: sys.modules['random'].seed()");
      begun("snapshot", pyodide);
    } catch (err) {
      console.warn("The stored Python snapshot did not restore; starting fresh.", err);
      await forget(SNAPSHOT_KEY);
      begun("fresh-after-bad-snapshot", (pyodide = await loadFresh(base)));
    }
  } else {
    begun("fresh", (pyodide = await loadFresh(base)));
  }
  if (bytecode) {
    try {
      started.bytecodeFiles = writeBundle(pyodide.FS, bytecode);
    } catch (err) {
      console.warn("The stored Python bytecode is unreadable; importing from source.", err);
      await forget(BYTECODE_KEY);
    }
  }
  return pyodide;
}

let reading = null;

/** Starts reading the stored snapshot and bytecode, so the page can begin it before PyScript
 * asks for the interpreter (~0.5 s later, once its own modules and config are in): the 20 MB
 * read then overlaps the face tracker's set-up instead of delaying Python's start. */
export function readStored() {
  reading ??= Promise.all([stored(SNAPSHOT_KEY), stored(BYTECODE_KEY)]);
  return reading;
}

// Pyodide 0.27's snapshot header: a magic number, then where the memory starts; the memory is
// at least Pyodide's initial 20 MiB. A snapshot that does not look like one is never handed
// to Pyodide: with too little memory its WebAssembly fails to instantiate and the start
// never ends, instead of failing.
const SNAPSHOT_MAGIC = 1886286592;
const WASM_PAGE = 65536;
const MIN_MEMORY = 320 * WASM_PAGE;
// Resuming takes about a second, plus downloading the runtime when the HTTP cache is empty;
// past this something is wrong (the snapshot is dropped and made again): start fresh.
const RESUME_TIMEOUT_MS = 60_000;

function plausible(bytes) {
  if (bytes.length < 64) return false;
  const head = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const memoryAt = head.getUint32(4, true);
  const memory = bytes.length - memoryAt;
  return head.getUint32(0, true) === SNAPSHOT_MAGIC && memoryAt >= 48 && memory > 0
    && memory % WASM_PAGE === 0 && memory >= MIN_MEMORY;
}

function withTimeout(promise, ms) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function begun(how, pyodide) {
  started.how = how;
  started.pyodide = pyodide;
  globalThis.performance?.mark(`mimic:python-${how}`);
}

async function stored(key) {
  if (!("caches" in globalThis)) return null;
  try {
    const res = await (await caches.open(CACHE)).match(key);
    return res ? new Uint8Array(await res.arrayBuffer()) : null;
  } catch {
    return null; // storage unavailable (private mode, quota): start fresh
  }
}

async function forget(key) {
  try {
    await (await caches.open(CACHE)).delete(key);
  } catch { /* nothing stored, nothing to forget */ }
}

// A bundle of files: a little-endian u32 header length, a JSON header [[path, length], ...],
// then the files' bytes one after the other.
function packBundle(files) {
  const header = new TextEncoder().encode(JSON.stringify(files.map((f) => [f.path, f.data.length])));
  const out = new Uint8Array(4 + header.length + files.reduce((n, f) => n + f.data.length, 0));
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  let at = 4 + header.length;
  for (const f of files) { out.set(f.data, at); at += f.data.length; }
  return out;
}

function writeBundle(FS, bundle) {
  const view = new DataView(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  const length = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bundle.subarray(4, 4 + length)));
  let at = 4 + length;
  for (const [path, size] of header) {
    if (at + size > bundle.length) throw new Error("truncated bytecode bundle");
    FS.mkdirTree(path.slice(0, path.lastIndexOf("/")));
    FS.writeFile(path, bundle.subarray(at, at + size));
    at += size;
  }
  return header.length;
}

// Standard-library modules never imported into a snapshot: ctypes opens the dynamic linker,
// whose state lives outside the memory a snapshot keeps.
const NOT_SNAPSHOTTED = /^(ctypes|_ctypes)(\.|$)/;

// Whether a source file's stored bytecode was compiled from it as it is now (the hash a
// CHECKED_HASH .pyc carries); the page's check and the training worker's both use it.
const BYTECODE_CURRENT = `
def _bytecode_current(path):
    import importlib.util
    try:
        with open(importlib.util.cache_from_source(path), "rb") as f:
            stored = f.read(16)[8:]
        with open(path, "rb") as f:
            return stored == importlib.util.source_hash(f.read())
    except OSError:
        return False
`;

// What the running app has imported: standard-library module names (from the stdlib zip),
// and the source files of the others (numpy, the app) with whether their bytecode is stored.
const IMPORTED = `${BYTECODE_CURRENT}
def _imported():
    import os, site, sys
    stdlib = tuple(p + "/" for p in sys.path if p.endswith(".zip"))  # the stdlib's zip
    others = (*(p + "/" for p in site.getsitepackages()), os.getcwd() + "/")  # numpy; the app
    names, sources, stale = [], [], 0
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if path.startswith(stdlib):
            names.append(name)
        elif (path.endswith(".py") and os.path.isfile(path)
              and path.startswith(others)):
            sources.append(path)
            stale += not _bytecode_current(path)
    return ",".join(sorted(names)), ",".join(sorted(sources)), stale
_imported()
`;

function imported() {
  const scope = started.pyodide.toPy({}); // not the app's globals
  const result = started.pyodide.runPython(IMPORTED, { globals: scope });
  const [names, paths, stale] = result.toJs();
  result.destroy();
  scope.destroy();
  return {
    modules: names.split(",").filter((n) => n && !NOT_SNAPSHOTTED.test(n)),
    sources: paths.split(",").filter(Boolean),
    stale,
  };
}

/** In the page, once it is up: make in a worker what this browser lacks, the snapshot and
 * bytecode for what the app imports. Should the snapshot with modules fail, a bare one is
 * made instead. */
export async function ensureSnapshot() {
  if (!("caches" in globalThis) || !globalThis.Worker || !started.pyodide) {
    return { made: false, reason: "unsupported" };
  }
  const cache = await caches.open(CACHE);
  const { modules, sources, stale } = imported();
  const job = {
    snapshot: !(await cache.match(SNAPSHOT_KEY)),
    modules,
    sources: stale ? sources.map((path) => ({ path, data: started.pyodide.FS.readFile(path) })) : [],
  };
  if (!job.snapshot && !job.sources.length) return { made: false, reason: "stored" };
  try {
    return await inWorker(job);
  } catch (err) {
    if (!job.modules.length) throw err;
    console.warn("Python snapshot with modules failed; making a bare one.", err);
    return inWorker({ ...job, modules: [] });
  }
}

async function inWorker(job) {
  const worker = new Worker(new URL("./snapshot-worker.js", import.meta.url), { type: "module" });
  try {
    return await new Promise((resolve, reject) => {
      worker.onmessage = (e) => (e.data.error ? reject(new Error(e.data.error)) : resolve(e.data));
      worker.onerror = (e) => reject(new Error(e.message || "the snapshot worker failed"));
      worker.postMessage(job);
    });
  } finally {
    worker.terminate();
  }
}

const IMPORT_ALL = `
def _import_all(names):
    import importlib
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass  # not importable in a bare interpreter: the app imports it itself
`;

const COMPILE_ALL = `
def _compile_all(paths):
    import importlib.util, py_compile
    done = []
    for path in paths:
        target = importlib.util.cache_from_source(path)
        try:
            py_compile.compile(path, cfile=target, doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
            done.append(target)
        except py_compile.PyCompileError:
            pass  # it does not compile: Python reports it when the app imports it
    return ",".join(done)
`;

/** In the worker: do what `job` asks (see ensureSnapshot) and store the results. */
export async function makeSnapshot(job) {
  const pyodide = await loadFresh({ indexURL: INDEX_URL, _makeSnapshot: true });
  const cache = await caches.open(CACHE);
  const result = { made: true, version, modules: 0, bytes: 0, bytecodeFiles: 0 };
  if (job.snapshot) {
    // Names go in as Python text: JS objects handed to Python would be in the snapshot.
    if (job.modules.length) pyodide.runPython(`${IMPORT_ALL}_import_all(${JSON.stringify(job.modules)})\ndel _import_all`);
    const snapshot = pyodide.makeMemorySnapshot();
    await cache.put(SNAPSHOT_KEY, octets(snapshot));
    Object.assign(result, { modules: job.modules.length, bytes: snapshot.length });
  }
  if (job.sources.length) {
    const FS = pyodide.FS;
    for (const { path, data } of job.sources) {
      FS.mkdirTree(path.slice(0, path.lastIndexOf("/")));
      FS.writeFile(path, data);
    }
    const paths = JSON.stringify(job.sources.map((source) => source.path));
    const targets = pyodide.runPython(`${COMPILE_ALL}_compile_all(${paths})`);
    const files = targets.split(",").filter(Boolean).map((path) => ({ path, data: FS.readFile(path) }));
    await cache.put(BYTECODE_KEY, octets(packBundle(files)));
    result.bytecodeFiles = files.length;
  }
  const current = [SNAPSHOT_KEY, BYTECODE_KEY, TRAINER_BYTECODE_KEY];
  for (const req of await cache.keys()) {
    if (!current.includes(req.url)) await cache.delete(req); // older Pyodide
  }
  return result;
}

function octets(bytes) {
  return new Response(bytes, { headers: { "Content-Type": "application/octet-stream" } });
}

// The training worker's packages: which imported sources under site-packages have current
// bytecode ("fresh") and which not ("stale").
const PACKAGE_SOURCES = `${BYTECODE_CURRENT}
def _package_sources():
    import site, sys
    roots = tuple(p + "/" for p in site.getsitepackages())
    fresh, stale = [], []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None) or ""
        if path.endswith(".py") and path.startswith(roots):
            (fresh if _bytecode_current(path) else stale).append(path)
    return ",".join(fresh), ",".join(stale)
_package_sources()
`;
const COMPILE_CHUNK = 40; // files compiled between two looks at whether a Train came in

/** In the training worker, once its packages are loaded: the bytecode an earlier visit's
 * training stored for them. Returns how many files it wrote; a damaged bundle is dropped. */
export async function useTrainerBytecode(pyodide) {
  const bundle = await stored(TRAINER_BYTECODE_KEY);
  if (!bundle) return 0;
  try {
    return writeBundle(pyodide.FS, bundle);
  } catch (err) {
    console.warn("The stored training bytecode is unreadable; importing from source.", err);
    await forget(TRAINER_BYTECODE_KEY);
    return 0;
  }
}

/** In the training worker, idle after a Train: compile what it imported from its packages
 * and lacks bytecode for, a chunk at a time, and store all of it for the next visit.
 * `stop()` true between chunks abandons it (a Train came in; it is tried again after).
 * Resolves with the number of files stored (0: nothing to do, abandoned or no storage). */
export async function storeTrainerBytecode(pyodide, stop) {
  if (!("caches" in globalThis)) return 0;
  const scope = pyodide.toPy({});
  try {
    const result = pyodide.runPython(PACKAGE_SOURCES, { globals: scope });
    const [fresh, stale] = result.toJs().map((list) => list.split(",").filter(Boolean));
    result.destroy();
    if (!stale.length) return 0;
    pyodide.runPython(COMPILE_ALL, { globals: scope });
    const compile = scope.get("_compile_all");
    const done = [];
    try {
      for (let i = 0; i < stale.length; i += COMPILE_CHUNK) {
        if (stop()) return 0;
        const chunk = pyodide.toPy(stale.slice(i, i + COMPILE_CHUNK));
        done.push(...compile(chunk).split(",").filter(Boolean));
        chunk.destroy();
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    } finally {
      compile.destroy();
    }
    const tag = pyodide.runPython("import sys; sys.implementation.cache_tag");
    const cached = (path) => path.replace(/([^/]+)\.py$/, `__pycache__/$1.${tag}.pyc`);
    const FS = pyodide.FS;
    const files = [...done, ...fresh.map(cached)].map((path) => ({ path, data: FS.readFile(path) }));
    await (await caches.open(CACHE)).put(TRAINER_BYTECODE_KEY, octets(packBundle(files)));
    return files.length;
  } catch (err) {
    console.warn("Training bytecode not stored:", err);
    return 0;
  } finally {
    scope.destroy();
  }
}
