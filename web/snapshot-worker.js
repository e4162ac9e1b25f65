// Makes the Python start-up snapshot and bytecode off the page's thread (see python.mjs).
import { makeSnapshot } from "./python.mjs";

self.onmessage = ({ data }) => {
  makeSnapshot(data)
    .then((result) => self.postMessage(result))
    .catch((err) => self.postMessage({ error: String(err.message || err) }));
};
