// IndexedDB, thinly: Python decides what is stored; this only opens the database, runs one
// transaction per call, and turns the browser's failures into messages a person can act on.
// Records are plain objects; binary payloads are Uint8Arrays (structured clone keeps them).
const DB_NAME = "mimic";
const DB_VERSION = 1;
const STORES = { clips: "id", models: "id", settings: "key", avatars: "id" };

export class StoreError extends Error {
  name = "StoreError"; // Python shows these messages as they are (studio/dom.py)
}

function explain(err, action) {
  const name = err && err.name;
  if (name === "QuotaExceededError") {
    return new StoreError(`Browser storage is full, so ${action} failed. Export and delete old clips or models, then try again.`);
  }
  if (name === "InvalidStateError" || name === "SecurityError" || name === "UnknownError") {
    return new StoreError(`Browser storage is unavailable (${name}), so ${action} failed. Private browsing windows may block it; use a normal window to keep your work.`);
  }
  return new StoreError(`${action} failed: ${(err && err.message) || err}`);
}

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export class Store {
  constructor(db) {
    this.db = db;
  }

  static async open(name = DB_NAME) {
    if (!globalThis.indexedDB) throw new StoreError("This browser has no IndexedDB, so nothing can be saved.");
    try {
      const req = indexedDB.open(name, DB_VERSION); // some private modes throw right here
      req.onupgradeneeded = () => {
        for (const [store, keyPath] of Object.entries(STORES)) {
          if (!req.result.objectStoreNames.contains(store)) req.result.createObjectStore(store, { keyPath });
        }
      };
      const db = await request(req);
      db.onversionchange = () => db.close(); // another tab upgrades: let it
      return new Store(db);
    } catch (err) {
      throw explain(err, "opening storage");
    }
  }

  async _tx(store, mode, action, fn) {
    try {
      const tx = this.db.transaction(store, mode);
      const result = await request(fn(tx.objectStore(store)));
      await new Promise((resolve, reject) => {
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
      });
      return result;
    } catch (err) {
      throw explain(err, action);
    }
  }

  put(store, record) {
    return this._tx(store, "readwrite", `saving to ${store}`, (s) => s.put(record));
  }

  get(store, key) {
    return this._tx(store, "readonly", `reading ${store}`, (s) => s.get(key));
  }

  all(store) {
    return this._tx(store, "readonly", `reading ${store}`, (s) => s.getAll());
  }

  delete(store, key) {
    return this._tx(store, "readwrite", `deleting from ${store}`, (s) => s.delete(key));
  }

  // Ask the browser not to evict our data under storage pressure; report what it said.
  async persist() {
    const sm = navigator.storage;
    if (!sm) return { persisted: false, usage: 0, quota: 0 };
    let persisted = sm.persisted ? await sm.persisted() : false;
    if (!persisted && sm.persist) persisted = await sm.persist().catch(() => false);
    const { usage = 0, quota = 0 } = sm.estimate ? await sm.estimate() : {};
    return { persisted, usage, quota };
  }
}
