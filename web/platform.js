// Small browser facts shared by the page modules.
export const BLENDSHAPE_COUNT = 52;

// Static hosts (GitHub Pages, `python -m http.server`) cannot send the COOP/COEP headers
// PyScript workers need; sw.js adds them. Returns false when the page is about to reload.
export async function ensureIsolation() {
  if (window.crossOriginIsolated || !("serviceWorker" in navigator)) return true;
  const url = new URL("../sw.js", import.meta.url);
  try {
    const reg = await navigator.serviceWorker.register(url, { scope: new URL("../", import.meta.url).pathname });
    if (navigator.serviceWorker.controller && sessionStorage.getItem("mimic-isolation-reload")) {
      return true; // controlled but still not isolated: run without workers rather than loop
    }
    await navigator.serviceWorker.ready;
    if (!reg.active) return true;
    sessionStorage.setItem("mimic-isolation-reload", "1");
    window.location.reload();
    return false;
  } catch (err) {
    console.warn("service worker unavailable; running without cross-origin isolation", err);
    return true;
  }
}

// Offline use: once the app runs, register the versioned service worker, which stores the
// app and its runtime in the background. onStatus gets {type: "offline-progress", done,
// total} while it works and {type: "offline-ready", version} when everything is stored.
export async function registerOffline(onStatus) {
  if (!("serviceWorker" in navigator)) return;
  const base = new URL("../", import.meta.url);
  try {
    const res = await fetch(new URL("precache.json", base), { cache: "no-store" });
    if (!res.ok) return; // a development copy without the list: online only
    const { version } = await res.json();
    navigator.serviceWorker.addEventListener("message", (e) => onStatus(e.data || {}));
    const reg = await navigator.serviceWorker.register(new URL(`sw.js?v=${version}`, base),
      { scope: base.pathname });
    await navigator.serviceWorker.ready;
    const worker = reg.active || navigator.serviceWorker.controller;
    if (worker) worker.postMessage({ type: "status" });
  } catch (err) {
    onStatus({ type: "offline-error", message: String(err.message || err) });
  }
}
