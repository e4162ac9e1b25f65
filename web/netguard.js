// Nothing leaves the machine unless the user chooses: the page's own network calls (fetch,
// XMLHttpRequest, sendBeacon) may reach this site and the user's own machine (localhost:
// the VMC relay, VTube Studio, emulators) only. MediaPipe's face tracker, for one, posts
// usage logs to Google once a minute (odml.pa.googleapis.com); here that is refused before
// any request is made. Turning cloud sync on allows the hosts of the user's own Firebase
// project (allowHosts), and nothing else. Imported first by boot.js, before any library.
const LOCAL = new Set(["localhost", "127.0.0.1", "[::1]"]);
const NEVER = new Set(["odml.pa.googleapis.com"]); // usage logs, whatever else is allowed
const allowed = new Set(); // exact hosts, or ".suffix" for a domain and its subdomains
export const refused = []; // origins refused, for the tests and the console

export function allowHosts(hosts) {
  for (const host of hosts) if (host) allowed.add(String(host).toLowerCase());
}

export function mayReach(href) {
  let url;
  try {
    url = new URL(href, location.href);
  } catch {
    return true; // not a URL the browser could fetch either; let it fail there
  }
  if (url.protocol === "data:" || url.protocol === "blob:") return true;
  if (url.origin === location.origin || LOCAL.has(url.hostname)) return true;
  const host = url.hostname.toLowerCase();
  if (NEVER.has(host)) return false;
  if (allowed.has(host)) return true;
  for (const entry of allowed) if (entry.startsWith(".") && host.endsWith(entry)) return true;
  return false;
}

function refuse(href) {
  let origin = String(href);
  try { origin = new URL(href, location.href).origin; } catch { /* keep the text */ }
  if (refused.length < 100) refused.push(origin);
  return new TypeError(`Mimic sends nothing to ${origin}`);
}

function install(scope) {
  const fetch0 = scope.fetch;
  if (fetch0) {
    scope.fetch = (input, init) => {
      const href = input instanceof Request ? input.url : String(input);
      return mayReach(href) ? fetch0.call(scope, input, init) : Promise.reject(refuse(href));
    };
  }
  const XHR = scope.XMLHttpRequest;
  if (XHR) {
    const open0 = XHR.prototype.open;
    XHR.prototype.open = function (method, href, ...rest) {
      if (!mayReach(href)) throw refuse(href);
      return open0.call(this, method, href, ...rest);
    };
  }
  const nav = scope.navigator;
  if (nav && nav.sendBeacon) {
    const beacon0 = nav.sendBeacon.bind(nav);
    nav.sendBeacon = (href, data) => (mayReach(href) ? beacon0(href, data) : (refuse(href), false));
  }
}

install(self);
