// Webcam + MediaPipe Face Landmarker, all loaded from this site (web/vendor).
import { FaceLandmarker, FilesetResolver } from "./vendor/mediapipe/vision_bundle.mjs";

const VENDOR = new URL("./vendor/", import.meta.url);

export class CameraError extends Error {}

const CAMERA_MESSAGES = {
  NotAllowedError: "Camera access was blocked. Allow the camera for this page (the camera icon in the address bar), then reload.",
  SecurityError: "Camera access was blocked. Allow the camera for this page (the camera icon in the address bar), then reload.",
  NotFoundError: "No camera was found. Connect a camera, then reload.",
  OverconstrainedError: "No camera was found that can deliver video. Connect a camera, then reload.",
  NotReadableError: "The camera is busy in another app or tab. Close it there, then reload.",
  AbortError: "The camera could not be started. Reload to try again.",
};

export async function startCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new CameraError("This browser cannot open a camera here. Use a recent Chrome, Edge or Firefox over https or on localhost.");
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } },
      audio: false,
    });
  } catch (err) {
    throw new CameraError(CAMERA_MESSAGES[err.name] || `The camera could not be started (${err.name || err}).`);
  }
  video.srcObject = stream;
  await video.play();
  return stream;
}

async function fetchWithProgress(url, onProgress) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url.pathname} answered ${res.status}`);
  const total = Number(res.headers.get("Content-Length")) || 0;
  const reader = res.body.getReader();
  const chunks = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    got += value.length;
    if (total) onProgress(got / total);
  }
  const out = new Uint8Array(got);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

// Returns {names, detect(video, nowMs, outFloat32Array) -> hasFace, matrix}.
export async function createLandmarker(onProgress = () => {}) {
  const [fileset, model] = await Promise.all([
    FilesetResolver.forVisionTasks(new URL("mediapipe/wasm", VENDOR).href),
    fetchWithProgress(new URL("models/face_landmarker.task", VENDOR), onProgress),
  ]);
  const landmarker = await FaceLandmarker.createFromOptions(fileset, {
    baseOptions: { modelAssetBuffer: model, delegate: "CPU" },
    outputFaceBlendshapes: true,
    outputFacialTransformationMatrixes: true,
    runningMode: "VIDEO",
    numFaces: 1,
  });
  return new Landmarker(landmarker);
}

class Landmarker {
  constructor(landmarker) {
    this.landmarker = landmarker;
    this.names = [];
    this.matrix = new Float32Array(16);
    this.lastTs = -1;
  }

  // Writes the 52 weights into `out` in MediaPipe's order; returns whether a face was seen.
  detect(video, nowMs, out) {
    const ts = nowMs > this.lastTs ? nowMs : this.lastTs + 0.001; // must strictly increase
    this.lastTs = ts;
    const result = this.landmarker.detectForVideo(video, ts);
    const face = result.faceBlendshapes && result.faceBlendshapes[0];
    if (!face) return false;
    const cats = face.categories;
    if (!this.names.length) this.names = cats.map((c) => c.categoryName);
    for (let i = 0; i < cats.length; i++) out[i] = cats[i].score;
    const m = result.facialTransformationMatrixes && result.facialTransformationMatrixes[0];
    if (m) this.matrix.set(m.data);
    return true;
  }
}
