# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Covariance calibration before/after on frames other than the calibration frames.

Loads a bundle, fits ``inference.calibration`` on calibration frames (in memory; the bundle
is not modified and its own ``covariance_calibration``, if any, is ignored), then localizes
the evaluation frames once and reports the fraction inside the 2-sigma region with the raw
and with the calibrated covariance.

- ``--calibration-split val``: calibrate on (at most ``--calibration-frames``, evenly
  spaced) frames of that split, evaluate on ``--split``.
- no ``--calibration-split``: the ``--split`` frames of each scene are sorted by time;
  the first half calibrates, the second half is evaluated (for datasets without a
  separate held-out split; both halves then come from the same sequence).

Run: ``.venv/bin/python benchmarks/bench_calibration.py BUNDLE DATA [--calibration-split val]
--out benchmarks/results/calibration_<name>.json`` (seconds to a minute).
"""

import argparse
import datetime
import json
from pathlib import Path
import sys

import numpy as np

from pose_reloc.data.formats import load_dataset
from pose_reloc.data.records import load_image
from pose_reloc.inference import load_localizer
from pose_reloc.inference.calibration import (calibrate_localizer, CHI2_2SIGMA,
                                              mahalanobis_sq, pose_error_6d)
from pose_reloc.inference.evaluate import select_frames, TWO_SIGMA_MASS, write_json


def coverage(covariances_n66: np.ndarray, errors_n6: np.ndarray) -> dict:
    """Fractions of frames inside the 2-sigma region per block (chi-square quantiles)."""
    out = {'frames': int(len(errors_n6)), 'expected': TWO_SIGMA_MASS}
    for name, sl, dof in (('translation', slice(0, 3), 3), ('rotation', slice(3, 6), 3),
                          ('pose', slice(0, 6), 6)):
        d2 = mahalanobis_sq(errors_n6, covariances_n66, sl)
        out[f'within_2sigma_{name}'] = float(np.mean(d2 <= CHI2_2SIGMA[dof]))
    out['median_sigma_translation_m'] = float(np.median(
        np.sqrt(np.trace(covariances_n66[:, :3, :3], axis1=1, axis2=2) / 3.0)))
    return out


def main(argv=None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('bundle', type=Path)
    parser.add_argument('data', type=Path)
    parser.add_argument('--split', default='test', help='evaluation split')
    parser.add_argument('--calibration-split', default='',
                        help="calibration split ('' = first half of --split by time)")
    parser.add_argument('--calibration-frames', type=int, default=50,
                        help='at most this many calibration frames per scene (0 = all)')
    parser.add_argument('--out', type=Path, required=True, help='JSON report')
    args = parser.parse_args(argv)

    localizer = load_localizer(args.bundle, device='cpu')
    dataset = load_dataset(args.data)
    scenes = list(localizer.scenes)
    evals = select_frames(dataset, scenes, args.split)
    if args.calibration_split:
        if args.calibration_split == args.split:
            parser.error('--calibration-split must differ from --split')
        calib_frames = [f for fs in select_frames(dataset, scenes, args.calibration_split,
                                                  max_frames=args.calibration_frames).values()
                        for f in fs]
        eval_frames = [f for fs in evals.values() for f in fs]
        protocol = f'calibrate on {args.calibration_split!r}, evaluate on {args.split!r}'
    else:
        calib_frames, eval_frames = [], []
        for frames in evals.values():
            frames = sorted(frames, key=lambda f: f.timestamp_ns)
            calib_frames += frames[:len(frames) // 2]
            eval_frames += frames[len(frames) // 2:]
        protocol = (f'calibrate on the first half of {args.split!r} (by time), evaluate on '
                    'the second half')
    calib = calibrate_localizer(localizer, calib_frames, split=args.calibration_split or
                                f'{args.split}[first half]')
    localizer.covariance_calibration = None
    covs, errors, failed = [], [], 0
    for frame in eval_frames:
        est = localizer.localize(load_image(frame), camera=frame.camera)
        if not est.ok or est.covariance is None:
            failed += 1
            continue
        covs.append(np.asarray(est.covariance, dtype=np.float64))
        errors.append(pose_error_6d(est.T_world_cam, frame.T_world_cam))
    covs_n66, errors_n6 = np.array(covs), np.array(errors)
    scaled = np.array([calib.apply(c) for c in covs_n66])
    report = {
        'command': ' '.join([Path(sys.argv[0]).name] + (argv or sys.argv[1:])),
        'hardware': '2-core CPU, no GPU (shared with other jobs)',
        'date': datetime.date.today().isoformat(),
        'bundle': str(args.bundle), 'method': localizer.method, 'protocol': protocol,
        'calibration': calib.to_json(),
        'evaluation': {
            'frames': len(eval_frames), 'without_pose_or_covariance': failed,
            'median_translation_m': float(np.median(np.linalg.norm(errors_n6[:, :3], axis=1))),
            'median_rotation_deg': float(np.degrees(np.median(
                np.linalg.norm(errors_n6[:, 3:], axis=1)))),
            'raw': coverage(covs_n66, errors_n6),
            'calibrated': coverage(scaled, errors_n6)},
    }
    write_json(args.out, report)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
