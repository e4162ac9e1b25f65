// Service worker for static hosts (GitHub Pages, a plain file server): it adds the
// cross-origin isolation headers PyScript workers need and fixes MIME types such hosts
// may get wrong (.mjs, .wasm). Same-origin requests only; nothing is sent elsewhere.
const TYPES = { mjs: "text/javascript", js: "text/javascript", wasm: "application/wasm" };

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.cache === "only-if-cached" && req.mode !== "same-origin") return;
  if (new URL(req.url).origin !== self.location.origin) return;
  event.respondWith(isolate(req));
});

async function isolate(req) {
  const res = await fetch(req);
  if (res.status === 0 || res.type === "opaque") return res;
  const headers = new Headers(res.headers);
  headers.set("Cross-Origin-Opener-Policy", "same-origin");
  headers.set("Cross-Origin-Embedder-Policy", "require-corp");
  headers.set("Cross-Origin-Resource-Policy", "same-origin");
  const ext = new URL(req.url).pathname.split(".").pop();
  if (TYPES[ext]) headers.set("Content-Type", TYPES[ext]);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}
