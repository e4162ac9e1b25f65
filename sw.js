// Service worker: offline use and cross-origin isolation on static hosts.
//
// - Offline: on install it stores everything the app needs (precache.json, written by
//   serve.py: the page, the Python package, Pyodide with numpy, scipy and scikit-learn, MediaPipe and its
//   model, three.js, the built-in avatar) in a cache named after the list's version. A new
//   version is installed beside the old one and, once complete, activation deletes the old
//   cache. The page's own code is served network-first (always fresh online, from the cache
//   offline); the large pinned runtime files cache-first.
// - Isolation: GitHub Pages and plain file servers cannot send the COOP/COEP headers
//   PyScript workers need, so every same-origin response gets them here, with MIME types
//   such hosts may get wrong (.mjs, .wasm).
// Same-origin requests only; nothing is ever sent elsewhere.
const PREFIX = "mimic-";
const TYPES = { mjs: "text/javascript", js: "text/javascript", wasm: "application/wasm" };
const VERSION = new URL(self.location.href).searchParams.get("v") || "dev";
const CACHE = PREFIX + VERSION;
const BATCH = 2; // files fetched at once while precaching: gently, the camera loop comes first

self.addEventListener("install", (event) => {
  // Unversioned, this worker only supplies isolation (registered before the app starts on
  // static hosts) and must not hold the first visit up with a download.
  event.waitUntil((VERSION === "dev" ? Promise.resolve() : precache()).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
    if (VERSION !== "dev") await tell({ type: "offline-ready", version: VERSION });
  })());
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "status") {
    caches.has(CACHE).then(async (has) => {
      const done = has && (await (await caches.open(CACHE)).match("precache.json"));
      event.source.postMessage({ type: done ? "offline-ready" : "offline-pending", version: VERSION });
    });
  }
});

async function tell(message) {
  for (const client of await self.clients.matchAll({ includeUncontrolled: true })) client.postMessage(message);
}

async function precache() {
  const listing = await fetch("precache.json", { cache: "no-store" });
  if (!listing.ok) throw new Error(`precache.json answered ${listing.status}`);
  const manifest = await listing.clone().json();
  const cache = await caches.open(CACHE);
  const files = manifest.files;
  let done = 0;
  for (let i = 0; i < files.length; i += BATCH) {
    await Promise.all(files.slice(i, i + BATCH).map(async (path) => {
      await store(cache, path);
      done += 1;
    }));
    await tell({ type: "offline-progress", done, total: files.length });
  }
  await cache.put("precache.json", listing); // last: its presence means "complete"
}

const ATTEMPTS = 3; // a dropped connection while storing one file should not fail them all

async function store(cache, path) {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(path, { cache: "no-cache" });
      if (!res.ok) throw new Error(`${path} answered ${res.status}`);
      await cache.put(path, res);
      return;
    } catch (err) {
      if (attempt >= ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  if (req.cache === "only-if-cached" && req.mode !== "same-origin") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  event.respondWith(respond(req, url));
});

function isRuntime(url) {
  return url.pathname.includes("/web/vendor/") || url.pathname.endsWith(".vrm");
}

async function respond(req, url) {
  const cache = await caches.open(CACHE);
  const key = url.pathname.endsWith("/") ? new URL("./", url).href : url.href.split("?")[0];
  if (isRuntime(url)) {
    const hit = await cache.match(key, { ignoreSearch: true });
    if (hit) return isolate(hit, url);
  }
  try {
    const res = await fetch(req);
    return isolate(res, url);
  } catch (err) {
    const hit = await cache.match(req.mode === "navigate" ? new URL("./", self.location).href : key,
      { ignoreSearch: true });
    if (hit) return isolate(hit, url);
    throw err;
  }
}

function isolate(res, url) {
  if (res.status === 0 || res.type === "opaque") return res;
  const headers = new Headers(res.headers);
  headers.set("Cross-Origin-Opener-Policy", "same-origin");
  headers.set("Cross-Origin-Embedder-Policy", "require-corp");
  headers.set("Cross-Origin-Resource-Policy", "same-origin");
  const ext = url.pathname.split(".").pop();
  if (TYPES[ext]) headers.set("Content-Type", TYPES[ext]);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}
