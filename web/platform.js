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
