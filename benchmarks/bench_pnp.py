# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Compare PnP solvers x RANSAC flavours on synthetic 2D-3D correspondences.

Each trial draws a random camera pose, ``--points`` world points seen at 1-8 m, projects them
with an off-centre ``fx != fy`` camera, adds Gaussian pixel noise and replaces a fraction of the
world points with random points in the scene box (the way scene-coordinate outliers look).
Every configuration runs ``solve_pnp_ransac`` (RANSAC + LM refinement) on the same trials;
we report median / p95 errors, the success rate (< 5 cm and 5 deg) and the mean time.

Run: ``.venv/bin/python benchmarks/bench_pnp.py`` (about a minute on 2 CPU cores); prints a
table and writes ``benchmarks/results/bench_pnp.json``.
"""

import argparse
from pathlib import Path
import time

import cv2
import numpy as np
from report import run_header, save_report


from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.metrics import rotation_error_deg, translation_error_m
from pose_reloc.geometry.pnp import PnPConfig, solve_pnp_ransac
from pose_reloc.geometry.se3 import make_T

CONFIGS = [('ransac', s) for s in ('epnp', 'p3p', 'ap3p', 'sqpnp', 'iterative')] + [
    (f, '-') for f in ('usac_default', 'usac_fast', 'usac_accurate', 'usac_parallel',
                       'usac_magsac', 'usac_prosac')]


def make_trial(rng, camera, n_points, outlier_ratio, noise_px):
    """One synthetic PnP problem: (T_world_cam (4,4), points (N,3), uv (N,2))."""
    rvec = rng.normal(0, 1.0, 3)
    R_world_cam, _ = cv2.Rodrigues(rvec)
    T_world_cam = make_T(R_world_cam, rng.uniform(-3, 3, 3))
    depth = rng.uniform(1.0, 8.0, n_points)
    uv_true = np.c_[rng.uniform(0, camera.width - 1, n_points),
                    rng.uniform(0, camera.height - 1, n_points)]
    rays = np.c_[(uv_true[:, 0] - camera.cx) / camera.fx,
                 (uv_true[:, 1] - camera.cy) / camera.fy, np.ones(n_points)]
    points_world = (rays * depth[:, None]) @ R_world_cam.T + T_world_cam[:3, 3]
    uv = uv_true + rng.normal(0, noise_px, uv_true.shape)
    n_out = int(round(outlier_ratio * n_points))
    lo, hi = points_world.min(0), points_world.max(0)
    points_world[:n_out] = rng.uniform(lo, hi, (n_out, 3))
    return T_world_cam, points_world, uv


def errors(T_est, T_gt):
    """Return the translation error (m) and rotation error (deg) between two poses."""
    return float(translation_error_m(T_est, T_gt)), float(rotation_error_deg(T_est, T_gt))


def main(argv=None):
    """Run the benchmark; returns the result dict (also written as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trials', type=int, default=20)
    parser.add_argument('--points', type=int, default=300)
    parser.add_argument('--noise-px', type=float, default=2.0)
    parser.add_argument('--outliers', type=float, nargs='+', default=[0.3, 0.5, 0.7, 0.85])
    parser.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'bench_pnp.json'))
    args = parser.parse_args(argv)
    camera = PinholeCamera(width=640, height=480, fx=520.0, fy=500.0, cx=340.0, cy=225.0)
    rows = []
    for outlier_ratio in args.outliers:
        rng = np.random.default_rng(0)
        trials = [make_trial(rng, camera, args.points, outlier_ratio, args.noise_px)
                  for _ in range(args.trials)]
        for flavour, solver in CONFIGS:
            cfg = PnPConfig(solver='sqpnp' if solver == '-' else solver, ransac=flavour,
                            reprojection_threshold_px=4.0, min_inlier_ratio=0.0)
            t_err, r_err, times, ok = [], [], [], 0
            for T_gt, points, uv in trials:
                start = time.perf_counter()
                result = solve_pnp_ransac(points, uv, camera, cfg)
                times.append(1000 * (time.perf_counter() - start))
                if result.ok:
                    t, r = errors(result.T_world_cam, T_gt)
                else:
                    t, r = float('inf'), 180.0
                t_err.append(t)
                r_err.append(r)
                ok += int(t < 0.05 and r < 5)
            row = {'outlier_ratio': outlier_ratio, 'ransac': flavour, 'solver': solver,
                   'median_translation_m': float(np.median(t_err)),
                   'p95_translation_m': float(np.percentile(t_err, 95, method='nearest')),
                   'median_rotation_deg': float(np.median(r_err)),
                   'p95_rotation_deg': float(np.percentile(r_err, 95, method='nearest')),
                   'success_rate_5cm_5deg': ok / len(trials),
                   'mean_time_ms': float(np.mean(times)),
                   'p95_time_ms': float(np.percentile(times, 95))}
            rows.append({k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                         for k, v in row.items()})
            print('outl {:.2f} {:14s} {:9s} t_med {:7.2f} cm  t_p95 {:9.2f} cm  r_med {:6.3f} deg'
                  '  succ {:.2f}  time {:7.2f} ms'.format(
                      outlier_ratio, flavour, solver, 100 * row['median_translation_m'],
                      100 * row['p95_translation_m'], row['median_rotation_deg'],
                      row['success_rate_5cm_5deg'], row['mean_time_ms']), flush=True)
    report = {
        **run_header('benchmarks/bench_pnp.py', argv),
        'opencv': cv2.__version__,
        'settings': {'trials': args.trials, 'points': args.points, 'noise_px': args.noise_px,
                     'threshold_px': 4.0, 'camera': '640x480 fx=520 fy=500 cx=340 cy=225'},
        'results': rows,
    }
    save_report(report, Path(args.out))
    return report


if __name__ == '__main__':
    main()
