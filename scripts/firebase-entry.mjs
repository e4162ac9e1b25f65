// The parts of the official modular Firebase SDK the optional sync uses, bundled by
// scripts/vendor.py (esbuild) into web/vendor/firebase/firebase.mjs, which the page imports
// only when the user turns sync on.
export { initializeApp, deleteApp } from "firebase/app";
export {
  getAuth, connectAuthEmulator, signInAnonymously, signInWithPopup, GoogleAuthProvider,
  onAuthStateChanged, signOut,
} from "firebase/auth";
export {
  getStorage, connectStorageEmulator, ref, uploadBytesResumable, getBytes, listAll,
  getMetadata,
} from "firebase/storage";
