"""The default voice-to-vowel mapping of the first feature layout (`mimic.voice.LAYOUT_V1`):
voices learned from takes recorded in it start from this one.

Written by scripts/fit_voice_default.py before the layout changed (kept as it was): five
band shapes -> 8 tanh units -> softmax over aa, ih, ou, ee, oh, fitted on 16341 vowel hops
of a real reader's speech, resampled so that every frequency moved by 0.85, 0.9, 1, 1.1,
1.15 (vocal tracts from longer to shorter), each hop counting once.
"""

import numpy as np

KERNEL1 = np.array([
    [0.0080, 0.5510, -0.4384, -0.0041, -0.2459, 0.6371, 1.2639, -0.1653],
    [-0.7360, -0.8956, -0.4068, -0.9360, -0.2558, -1.0045, -0.1828, 0.8538],
    [-0.4651, -0.4027, 1.0924, 0.9916, 0.7786, 0.0809, -0.2675, 0.5515],
    [0.6643, 0.1411, -0.4073, -0.0255, 0.5003, 0.0386, -0.6221, -1.1871],
    [0.5289, 0.6063, 0.1601, -0.0262, -0.7767, 0.2476, -0.1914, -0.0532],
], np.float32)
BIAS1 = np.array([2.6574, -0.3602, -0.6534, 0.7769, 1.5211, 0.5223, -2.4950, -3.0102], np.float32)
KERNEL2 = np.array([
    [-0.3396, 1.0227, -0.7123, 0.6637, -0.6348],
    [-0.7828, 0.0423, 1.3558, -0.1309, -0.4851],
    [1.3992, -0.3917, -0.8500, -0.3671, 0.2099],
    [0.5402, -0.1879, 0.8502, -1.3132, 0.1107],
    [0.3686, -1.1447, 1.1867, -0.0558, -0.3549],
    [-0.8709, 0.9278, 0.6605, -0.1547, -0.5628],
    [-0.6822, 0.4459, 0.7644, -0.9654, 0.4369],
    [-0.7259, -0.6964, 0.6808, -0.6089, 1.3503],
], np.float32)
BIAS2 = np.array([0.6328, 0.1537, 0.4281, -1.4782, 0.2636], np.float32)
