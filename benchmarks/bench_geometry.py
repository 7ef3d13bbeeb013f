# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Accuracy and speed of the geometry module's camera model and error metrics.

1. Undistortion round trip: every pixel centre of a 640x480 image is undistorted
   (``PinholeCamera.undistort_points``, OpenCV iterative) and distorted again
   (``distort_points``, closed form); we report the max / p99 pixel error and the time per
   full-image call, for three lenses with typical coefficients (a webcam-like plumb_bob,
   an 8-coefficient rational_polynomial, a T265-like equidistant fisheye).
2. ``depth_to_scene_coords`` time on a 640x480 depth map (with and without distortion):
   first call (undistorts the pixel grid) and best of three repeated calls (rays cached).
3. Resolution of the rotation metric ``2 * acos(|<q, q_hat>|)`` (evaluated with atan2) in
   float64: the error reported for known tiny rotations.

Run: ``.venv/bin/python benchmarks/bench_geometry.py`` (a few seconds on 2 CPU cores); prints
the figures and writes ``benchmarks/results/bench_geometry.json``.
"""

import datetime
import json
import os
from pathlib import Path
import platform
import sys
import time

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from pose_reloc.geometry.camera import depth_to_scene_coords, PinholeCamera
from pose_reloc.geometry.metrics import rotation_error_deg
from pose_reloc.geometry.se3 import make_T

LENSES = {
    'plumb_bob (k1=-0.28)': PinholeCamera(640, 480, 525.0, 525.0, 319.5, 239.5, 'plumb_bob',
                                          (-0.28, 0.07, 1e-4, -2e-4, 0.0)),
    'rational_polynomial': PinholeCamera(640, 480, 525.0, 525.0, 319.5, 239.5, 'plumb_bob',
                                         (0.3, -0.1, 1e-3, -1.5e-3, 0.02, 0.25, -0.05, 0.01)),
    'equidistant (fisheye)': PinholeCamera(640, 480, 285.0, 285.5, 320.5, 239.5,
                                           'equidistant', (-0.0069, 0.0425, -0.0398, 0.0074)),
}


def _timed(fn, repeats=3):
    """Return (result, best wall time in ms) of ``fn()`` over ``repeats`` calls."""
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, 1000.0 * best


def main():
    """Run the measurements, print them and write the JSON record; return 0."""
    v, u = np.mgrid[0:480, 0:640].astype(np.float64)
    uv = np.stack([u.ravel(), v.ravel()], axis=-1)
    results = {'undistort_round_trip': {}, 'depth_to_scene_coords_ms': {},
               'rotation_metric_resolution_deg': {}}
    print('Undistortion round trip over all 307200 pixel centres of 640x480')
    print(f'{"lens":24s} {"max px":>10s} {"p99 px":>10s} {"undistort ms":>13s}')
    for name, camera in LENSES.items():
        ideal, ms = _timed(lambda: camera.undistort_points(uv))
        err = np.linalg.norm(camera.distort_points(ideal) - uv, axis=-1)
        row = {'max_px': float(err.max()), 'p99_px': float(np.percentile(err, 99)),
               'undistort_ms': ms, 'coefficients': list(camera.distortion)}
        results['undistort_round_trip'][name] = row
        print(f'{name:24s} {row["max_px"]:10.2e} {row["p99_px"]:10.2e} {ms:13.1f}')
    depth = np.full((480, 640), 2.0, dtype=np.float32)
    T_world_cam = make_T(np.eye(3), [1.0, 2.0, 3.0])
    for name, camera in (('none', PinholeCamera(640, 480, 524.0, 524.0, 319.5, 239.5)),
                         ('plumb_bob', PinholeCamera(640, 480, 524.0, 524.0, 319.5, 239.5,
                                                     'plumb_bob', (-0.28, 0.07, 0.0, 0.0)))):
        _, first_ms = _timed(lambda: depth_to_scene_coords(depth, camera, T_world_cam), 1)
        _, ms = _timed(lambda: depth_to_scene_coords(depth, camera, T_world_cam))
        results['depth_to_scene_coords_ms'][name] = {'first_call': first_ms, 'cached': ms}
        print(f'depth_to_scene_coords 640x480, distortion {name}: first call {first_ms:.1f} ms,'
              f' cached rays {ms:.1f} ms')
    print('Rotation metric on known tiny rotations (float64)')
    for true_deg in (1e-2, 1e-4, 1e-6, 1e-9):
        T = make_T(Rotation.from_rotvec([0.0, 0.0, np.radians(true_deg)]).as_matrix(),
                   [0.0, 0.0, 0.0])
        measured = float(rotation_error_deg(T, np.eye(4)))
        results['rotation_metric_resolution_deg'][f'{true_deg:g}'] = measured
        print(f'  true {true_deg:g} deg -> reported {measured:.3g} deg')
    record = {
        'command': 'python benchmarks/bench_geometry.py',
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'hardware': f'{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}),'
                    ' no GPU',
        'python': sys.version.split()[0], 'numpy': np.__version__, 'opencv': cv2.__version__,
        'results': results,
    }
    out = Path(__file__).resolve().parent / 'results' / 'bench_geometry.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + '.tmp')
    tmp.write_text(json.dumps(record, indent=2) + '\n')
    tmp.replace(out)
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
