// Optional cloud sync through the official Firebase SDK (vendored, bundled by vendor.py).
// Imported only when the user turns sync on; Python (studio/sync.py) decides what to send
// where, this file only calls the SDK.
import { allowHosts } from "./netguard.js";

// What the Firebase SDK reaches for sign-in and storage, allowed once the user turns sync on
// (web/netguard.js refuses every other site): Google's API hosts, the project's auth domain.
const FIREBASE_HOSTS = [".googleapis.com", ".firebaseapp.com", ".web.app", "apis.google.com"];
let sdk = null;
let current = null; // one app at a time, always named "mimic": the SDK keeps the signed-in
                    // user per app name, so the same name finds the user again after a reload

export async function createSync(config) {
  sdk = sdk || (await import("./vendor/firebase/firebase.mjs"));
  const { emulators, ...options } = config;
  allowHosts([...FIREBASE_HOSTS, options.authDomain]);
  if (current) await sdk.deleteApp(current).catch(() => {});
  const app = sdk.initializeApp(options, "mimic");
  current = app;
  const auth = sdk.getAuth(app);
  const storage = sdk.getStorage(app);
  if (emulators && emulators.auth) {
    sdk.connectAuthEmulator(auth, `http://${emulators.auth}`, { disableWarnings: true });
  }
  if (emulators && emulators.storage) {
    const [host, port] = emulators.storage.split(":");
    sdk.connectStorageEmulator(storage, host, Number(port));
  }
  return {
    async signIn(method) {
      const cred = method === "google"
        ? await sdk.signInWithPopup(auth, new sdk.GoogleAuthProvider())
        : await sdk.signInAnonymously(auth);
      return cred.user.uid;
    },
    // Resolves with the signed-in user id remembered from an earlier visit, or null.
    currentUser() {
      return new Promise((resolve) => {
        const stop = sdk.onAuthStateChanged(auth, (user) => { stop(); resolve(user ? user.uid : null); });
      });
    },
    upload(path, bytes, contentType, onProgress) {
      return new Promise((resolve, reject) => {
        const task = sdk.uploadBytesResumable(sdk.ref(storage, path), bytes, { contentType });
        task.on("state_changed",
          (snap) => onProgress(snap.totalBytes ? snap.bytesTransferred / snap.totalBytes : 0),
          (err) => reject(new Error(explain(err))),
          () => resolve(path));
      });
    },
    async download(path) {
      try {
        return new Uint8Array(await sdk.getBytes(sdk.ref(storage, path)));
      } catch (err) {
        if (err && err.code === "storage/object-not-found") return null;
        throw new Error(explain(err));
      }
    },
    async signOut() { await sdk.signOut(auth); },
    async close() {
      if (current === app) current = null;
      await sdk.deleteApp(app);
    },
  };
}

function explain(err) {
  const code = (err && err.code) || "";
  if (code === "storage/unauthorized") return "the storage rules refused this (deploy storage.rules?)";
  if (code === "storage/retry-limit-exceeded") return "the network is unreachable";
  return (err && err.message) || String(err);
}
