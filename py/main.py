"""Page entry point: attaches Python to the per-frame camera loop run by web/boot.js.

JS owns the browser APIs (camera, MediaPipe); Python owns what is done with each frame.
The two share Float32Arrays created once, so a frame crosses the bridge without creating
proxies: JS writes the weights into `bridge.scores`, Python copies them into a numpy buffer
(assign_to) and writes what the bars show back into `bridge.display`.
"""

from __future__ import annotations

import numpy as np
from mimic.blendshapes import COUNT, NAMES
from pyodide.ffi import create_proxy
from pyscript import window


class FrameLoop:
    """Holds the per-frame buffers so nothing is allocated while the camera runs."""

    def __init__(self, bridge: object) -> None:
        self.bridge = bridge
        self.scores_js = bridge.scores
        self.display_js = bridge.display
        self.frame = np.zeros(COUNT, np.float32)
        self.has_face = False

    def on_frame(self, t_ms: float, has_face: bool) -> None:
        self.has_face = has_face
        if has_face:
            self.scores_js.assign_to(self.frame)
        self.display_js.assign(self.frame)


def main() -> None:
    bridge = window.mimicBridge
    loop = FrameLoop(bridge)
    window.mimicPy = create_proxy({"names": list(NAMES)})
    bridge.attachPython(create_proxy(loop.on_frame))


main()
