# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""PnP solvers on the 2D-3D correspondences of the keypoint scene coordinate regressor.

``bench_pnp.py`` chose OpenCV's USAC-MAGSAC on synthetic outlier sets; this benchmark runs the
candidates on what the ``scr-cpu`` keypoint regressor really produces:

1. a synthetic room (``generate_dataset(out, 'room', scenes=1, seed=1, frames=300)``: 200
   training and 100 test frames, 320x240) unless ``--data`` names a posed dataset;
2. the scene coordinate map of the ``scr-cpu`` preset (``training.scr_keypoints.build_map``)
   from depth and from RGB + poses alone (triangulation); ``--rgb-only`` runs only the latter;
3. for each test frame (``--frames`` evenly spaced ones): RootSIFT features, regressed scene
   coordinates, then every solver on the same correspondences with the same inlier threshold
   (``--threshold-px``), iteration cap (``--iterations``) and confidence (``--confidence``):

   - ``pnp:usac_magsac``: ``geometry.pnp.solve_pnp_ransac`` with OpenCV's USAC-MAGSAC (the
     default until this benchmark; LM least-squares refinement on the inliers, Gauss-Newton
     covariance), and ``pnp:poselib`` / ``pnp:pycolmap``: the same function with the library
     flavours (the library's robust refinement, the same covariance);
   - ``raw:poselib``: ``poselib.estimate_absolute_pose`` alone (LO-RANSAC with P3P, then a
     Cauchy-robust bundle adjustment on the inliers; ``min_iterations`` =
     ``--min-iterations``);
   - ``raw:pycolmap``: ``pycolmap.estimate_and_refine_absolute_pose`` alone (LO-RANSAC with
     P3P, then a Ceres refinement; ``min_num_trials`` = ``--min-iterations``), without and
     with ``return_covariance=True`` (``raw:pycolmap+cov``).

   A solver fails on a frame when it returns nothing or fewer than ``min_inliers`` (12) /
   ``min_inlier_ratio`` (5 %) inliers, the package's thresholds.

Figures per solver: median / p95 translation (cm) and rotation (deg) errors over the frames
it localized, the failure rate, the rate within 5 cm / 5 deg over all frames, and the time of
the solver call per frame (ms, the fastest of ``--repeats`` identical seeded calls). Per map:
the number of correspondences and their true inlier ratio (reprojection error under the
ground-truth pose below the threshold).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_pnp_scr.py`` (about 3 minutes on 2
CPU cores); prints a table and writes ``benchmarks/results/bench_pnp_scr.json``.
"""

import argparse
import dataclasses
from pathlib import Path
import sys
import tempfile
import time

import cv2
import numpy as np
from report import run_header, save_report


from pose_reloc.data.formats import load_dataset
from pose_reloc.data.records import load_image
from pose_reloc.geometry.metrics import rotation_error_deg, translation_error_m
from pose_reloc.geometry.pnp import PnPConfig, solve_pnp_ransac
from pose_reloc.geometry.se3 import invert, make_T
from pose_reloc.models.keypoints import extract_features
from pose_reloc.training.config import load_preset
from pose_reloc.training.scr_keypoints import build_map

#: ``pnp:<flavour>`` = ``solve_pnp_ransac`` with ``PnPConfig.ransac=<flavour>`` (what the package
#: runs: inliers, refinement and covariance included); ``raw:<library>`` = the library call
#: alone.
SOLVERS = ('pnp:usac_magsac', 'pnp:poselib', 'pnp:pycolmap', 'raw:poselib', 'raw:pycolmap',
           'raw:pycolmap+cov')


def true_inlier_ratio(points, uv, camera, T_world_cam, threshold_px):
    """Fraction of correspondences within ``threshold_px`` under the ground-truth pose."""
    if not len(points):
        return 0.0
    T_cam_world = invert(np.asarray(T_world_cam, dtype=np.float64))
    points_cam = points @ T_cam_world[:3, :3].T + T_cam_world[:3, 3]
    in_front = points_cam[:, 2] > 1e-6
    if camera.is_distorted:
        uv = camera.undistort_points(uv).reshape(-1, 2)
    z = np.where(in_front, points_cam[:, 2], 1.0)
    K = camera.K
    u = K[0, 0] * points_cam[:, 0] / z + K[0, 2]
    v = K[1, 1] * points_cam[:, 1] / z + K[1, 2]
    err = np.hypot(u - uv[:, 0], v - uv[:, 1])
    return float(np.mean(in_front & (err < threshold_px)))


class Solvers:
    """The solvers under test, each ``(points, uv, camera) -> (T_world_cam | None, inliers)``.

    Args:
        args: the parsed command line (threshold, iterations, confidence, min iterations).
        pnp_cfg: the package's ``PnPConfig`` (the ``pnp:`` solvers replace its ``ransac``;
            its thresholds decide the failures of every solver).
    """

    def __init__(self, args, pnp_cfg):
        """Import the libraries and set their options (see the class docstring)."""
        import poselib
        import pycolmap
        self.poselib = poselib
        self.pycolmap = pycolmap
        self.pnp_cfg = pnp_cfg
        self.repeats = max(1, int(args.repeats))
        self.poselib_ransac = {'max_reproj_error': float(args.threshold_px),
                               'max_iterations': int(args.iterations),
                               'min_iterations': int(args.min_iterations),
                               'success_prob': float(args.confidence), 'seed': 0}
        self.colmap_estimation = pycolmap.AbsolutePoseEstimationOptions()
        ransac = self.colmap_estimation.ransac
        ransac.max_error = float(args.threshold_px)
        ransac.max_num_trials = int(args.iterations)
        ransac.min_num_trials = int(args.min_iterations)
        ransac.confidence = float(args.confidence)
        ransac.min_inlier_ratio = float(pnp_cfg.min_inlier_ratio)
        ransac.random_seed = 0
        self.colmap_refinement = pycolmap.AbsolutePoseRefinementOptions()

    def package(self, flavour, points, uv, camera):
        """``solve_pnp_ransac`` with ``ransac=flavour`` (its own thresholds decide ``ok``)."""
        cfg = dataclasses.replace(self.pnp_cfg, ransac=flavour)
        result = solve_pnp_ransac(points, uv, camera, cfg)
        return (result.T_world_cam if result.ok else None), result.inlier_count

    def poselib_(self, points, uv, camera):
        """``poselib.estimate_absolute_pose`` with a PINHOLE camera (ideal pixels)."""
        camera_dict = {'model': 'PINHOLE', 'width': camera.width, 'height': camera.height,
                       'params': [camera.fx, camera.fy, camera.cx, camera.cy]}
        pose, info = self.poselib.estimate_absolute_pose(uv, points, camera_dict,
                                                         self.poselib_ransac, {})
        if not info.get('num_inliers'):
            return None, 0
        return invert(make_T(np.asarray(pose.R), np.asarray(pose.t))), int(info['num_inliers'])

    def pycolmap_(self, points, uv, camera, covariance=False):
        """``pycolmap.estimate_and_refine_absolute_pose`` with a PINHOLE camera."""
        colmap_camera = self.pycolmap.Camera(
            model='PINHOLE', width=camera.width, height=camera.height,
            params=[camera.fx, camera.fy, camera.cx, camera.cy])
        out = self.pycolmap.estimate_and_refine_absolute_pose(
            uv, points, colmap_camera, self.colmap_estimation, self.colmap_refinement,
            return_covariance=covariance)
        if out is None:
            return None, 0
        matrix = np.asarray(out['cam_from_world'].matrix())
        return invert(make_T(matrix[:3, :3], matrix[:3, 3])), int(out['num_inliers'])

    def run(self, name, points, uv, camera):
        """Run solver ``name``; returns ``(T_world_cam | None, inlier count, ms)``.

        The solvers are seeded, so the repeats give the same pose; the time is the fastest
        of ``--repeats`` calls (the machine is shared, the minimum is the least disturbed).
        """
        kind, solver = name.split(':')
        if camera.is_distorted and kind == 'raw':
            uv = camera.undistort_points(uv).reshape(-1, 2)
        elapsed = float('inf')
        for _ in range(self.repeats):
            start = time.perf_counter()
            if kind == 'pnp':
                T, count = self.package(solver, points, uv, camera)
            elif solver == 'poselib':
                T, count = self.poselib_(points, uv, camera)
            else:
                T, count = self.pycolmap_(points, uv, camera,
                                          covariance=solver == 'pycolmap+cov')
            elapsed = min(elapsed, 1000 * (time.perf_counter() - start))
        n = len(points)
        if T is None or count < self.pnp_cfg.min_inliers or \
                count < self.pnp_cfg.min_inlier_ratio * n or not np.all(np.isfinite(T)):
            return None, count, elapsed
        return T, count, elapsed


def percentile(values, q):
    """Percentile (nearest rank) of a list, None when empty."""
    return float(np.percentile(values, q, method='nearest')) if len(values) else None


def summarize_solver(records):
    """Figures of one solver from its per-frame ``(t_m, r_deg, ms)`` (None errors = failed)."""
    ok = [r for r in records if r[0] is not None]
    t_cm = [100 * r[0] for r in ok]
    r_deg = [r[1] for r in ok]
    times = [r[2] for r in records]
    n = len(records)
    return {'frames': n, 'failure_rate': (n - len(ok)) / n if n else None,
            'median_translation_cm': percentile(t_cm, 50),
            'p95_translation_cm': percentile(t_cm, 95),
            'p90_translation_cm': percentile(t_cm, 90),
            'median_rotation_deg': percentile(r_deg, 50),
            'p95_rotation_deg': percentile(r_deg, 95),
            'rate_5cm_5deg': sum(t < 0.05 and r < 5 for t, r, _ in ok) / n if n else None,
            'wrong_pose_rate': sum(t > 0.5 or r > 10 for t, r, _ in ok) / n if n else None,
            'median_time_ms': percentile(times, 50), 'mean_time_ms': float(np.mean(times)),
            'p95_time_ms': percentile(times, 95)}


def bench_source(source, scene, cfg, solvers, args):
    """Map the scene from ``source`` ('depth' / 'triangulation') and run every solver."""
    feature_cfg = cfg.model.feature_config()
    train = scene.split(cfg.data.train_split)
    test = scene.split('test')
    if args.frames and args.frames < len(test):
        test = [test[i] for i in np.linspace(0, len(test) - 1, args.frames).round().astype(int)]
    start = time.monotonic()
    scene_map, stats = build_map(train, feature_cfg, cfg.model, source == 'depth',
                                 progress=False)
    mapping_s = time.monotonic() - start
    print(f'{source}: mapped {stats["mapped"]} of {stats["keypoints"]} keypoints of '
          f'{len(train)} frames in {mapping_s:.1f} s', flush=True)
    records = {name: [] for name in SOLVERS}
    ratios, counts, outcome = [], [], []
    for frame in test:
        uv, descriptors = extract_features(load_image(frame), feature_cfg)
        points, query = scene_map.regress(descriptors)
        uv = uv[query]
        T_gt = np.asarray(frame.T_world_cam, dtype=np.float64)
        ratio = true_inlier_ratio(points, uv, frame.camera, T_gt, args.threshold_px)
        ratios.append(ratio)
        counts.append(len(points))
        per_frame = {}
        for name in SOLVERS:
            if len(points) < 4:
                T, count, ms = None, 0, 0.0
            else:
                T, count, ms = solvers.run(name, points, uv, frame.camera)
            if T is None:
                records[name].append((None, None, ms))
            else:
                records[name].append((float(translation_error_m(T, T_gt)),
                                      float(rotation_error_deg(T, T_gt)), ms))
            per_frame[name] = records[name][-1][:2]
        outcome.append((ratio, per_frame))
    summary = {name: summarize_solver(records[name]) for name in SOLVERS}
    buckets = {}
    for lo, hi in ((0.0, 0.2), (0.2, 0.4), (0.4, 1.01)):
        sel = [o for o in outcome if lo <= o[0] < hi]
        buckets[f'{lo:.1f}-{min(hi, 1.0):.1f}'] = {
            'frames': len(sel),
            **{name: (sum(1 for _, pf in sel if pf[name][0] is not None and pf[name][0] < 0.05
                          and pf[name][1] < 5) / len(sel) if sel else None)
               for name in SOLVERS}}
    return {'source': source, 'mapping_s': mapping_s, 'mapping': stats,
            'test_frames': len(test),
            'correspondences': {'median': percentile(counts, 50), 'p5': percentile(counts, 5),
                                'p95': percentile(counts, 95)},
            'true_inlier_ratio': {'median': percentile(ratios, 50),
                                  'p5': percentile(ratios, 5), 'p25': percentile(ratios, 25),
                                  'p75': percentile(ratios, 75),
                                  'p95': percentile(ratios, 95),
                                  'min': float(min(ratios)) if ratios else None},
            'rate_5cm_5deg_by_true_inlier_ratio': buckets,
            'solvers': summary}


def bench_synthetic(trials, outlier_ratios):
    """Run the ``pnp:`` solvers on ``bench_pnp.py``'s synthetic problems.

    Its settings (300 points, 2 px noise, 4 px threshold, 1000 iterations), random outliers in
    the scene box: the case of the default's other users (dense SCR).
    """
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_pnp import errors, make_trial
    from pose_reloc.geometry.camera import PinholeCamera
    camera = PinholeCamera(width=640, height=480, fx=520.0, fy=500.0, cx=340.0, cy=225.0)
    rows = []
    print(f'\nbench_pnp.py problems ({trials} per outlier ratio): success (5 cm / 5 deg), '
          'median / p95 translation cm, mean ms')
    for outlier_ratio in outlier_ratios:
        rng = np.random.default_rng(0)
        problems = [make_trial(rng, camera, 300, outlier_ratio, 2.0) for _ in range(trials)]
        for flavour in ('usac_magsac', 'poselib', 'pycolmap'):
            cfg = PnPConfig(ransac=flavour, reprojection_threshold_px=4.0,
                            min_inlier_ratio=0.0)
            t_err, times, ok = [], [], 0
            for T_gt, points, uv in problems:
                start = time.perf_counter()
                result = solve_pnp_ransac(points, uv, camera, cfg)
                times.append(1000 * (time.perf_counter() - start))
                t, r = errors(result.T_world_cam, T_gt) if result.ok else (float('inf'), 180.0)
                t_err.append(t)
                ok += int(t < 0.05 and r < 5)
            row = {'outlier_ratio': outlier_ratio, 'ransac': flavour,
                   'success_rate_5cm_5deg': ok / trials,
                   'median_translation_cm': 100 * float(np.median(t_err)),
                   'p95_translation_cm': 100 * percentile(t_err, 95),
                   'mean_time_ms': float(np.mean(times))}
            rows.append({k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                         for k, v in row.items()})
            print(f'outliers {outlier_ratio:.2f} {flavour:12s} success '
                  f'{row["success_rate_5cm_5deg"]:.2f}  t_med '
                  f'{fmt(row["median_translation_cm"], "7.2f")}'
                  f'  t_p95 {fmt(row["p95_translation_cm"], "9.2f")}'
                  f'  {row["mean_time_ms"]:6.1f} ms', flush=True)
    return rows


def fmt(value, spec):
    """Format a number, '-' for None."""
    return '-' if value is None else format(value, spec)


def print_table(result):
    """Print one map's table."""
    ratio = result['true_inlier_ratio']
    print(f'\n{result["source"]}: {result["test_frames"]} test frames, median '
          f'{result["correspondences"]["median"]:.0f} correspondences, true inlier ratio '
          f'median {ratio["median"]:.2f} (p5 {ratio["p5"]:.2f}, p95 {ratio["p95"]:.2f})')
    print(f'{"solver":18s} {"t_med cm":>8s} {"t_p90 cm":>8s} {"t_p95 cm":>8s} {"r_med deg":>9s} '
          f'{"r_p95 deg":>9s} {"fail":>5s} {"wrong":>5s} {"5cm5deg":>7s} {"ms med":>7s} '
          f'{"ms p95":>7s}')
    for name, s in result['solvers'].items():
        print(f'{name:18s} {fmt(s["median_translation_cm"], "8.2f")} '
              f'{fmt(s["p90_translation_cm"], "8.2f")} '
              f'{fmt(s["p95_translation_cm"], "8.2f")} {fmt(s["median_rotation_deg"], "9.3f")} '
              f'{fmt(s["p95_rotation_deg"], "9.3f")} {s["failure_rate"]:5.2f} '
              f'{s["wrong_pose_rate"]:5.2f} {s["rate_5cm_5deg"]:7.2f} '
              f'{s["median_time_ms"]:7.2f} {s["p95_time_ms"]:7.2f}')


def main(argv=None):
    """Run the benchmark; returns the result dict (also written as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', help='posed dataset (default: generate a synthetic room)')
    parser.add_argument('--scene', type=int, default=0, help='scene index in --data')
    parser.add_argument('--frames', type=int, default=0,
                        help='test frames, evenly spaced (0 = all)')
    parser.add_argument('--rgb-only', action='store_true',
                        help='map only by triangulation (RGB + poses), not from depth')
    parser.add_argument('--threshold-px', type=float, default=3.0)
    parser.add_argument('--iterations', type=int, default=1000)
    parser.add_argument('--min-iterations', type=int, default=100,
                        help='poselib / pycolmap minimum RANSAC iterations')
    parser.add_argument('--confidence', type=float, default=0.999)
    parser.add_argument('--synthetic-trials', type=int, default=20,
                        help='bench_pnp.py problems per outlier ratio (0 = skip)')
    parser.add_argument('--repeats', type=int, default=3,
                        help='solver calls per frame; the fastest is the time')
    parser.add_argument('--out',
                        default=str(Path(__file__).parent / 'results' / 'bench_pnp_scr.json'))
    args = parser.parse_args(argv)
    import poselib
    import pycolmap
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    cv2.setNumThreads(1)
    cfg = load_preset('scr-cpu', [], method='scr')
    pnp_cfg = PnPConfig(reprojection_threshold_px=args.threshold_px,
                        iterations=args.iterations, confidence=args.confidence,
                        min_inliers=cfg.model.pnp_min_inliers,
                        min_inlier_ratio=cfg.model.pnp_min_inlier_ratio)
    solvers = Solvers(args, pnp_cfg)
    with tempfile.TemporaryDirectory(prefix='bench_pnp_scr_') as tmp:
        data = args.data
        if data is None:
            from pose_reloc.data.synthetic.generate import generate_dataset
            data = generate_dataset(Path(tmp) / 'room', 'room', scenes=1, seed=1, frames=300,
                                    progress=False)
        scene = load_dataset(data)[args.scene]
        sources = ['triangulation'] if args.rgb_only else ['depth', 'triangulation']
        results = []
        for source in sources:
            results.append(bench_source(source, scene, cfg, solvers, args))
            print_table(results[-1])
    report = {
        **run_header('OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_pnp_scr.py', argv,
                     threads=1),
        'threads': 'one (OMP_NUM_THREADS=1, cv2.setNumThreads(1), torch 1 thread)',
        'versions': {'opencv': cv2.__version__, 'poselib': getattr(poselib, '__version__', '?'),
                     'pycolmap': pycolmap.__version__, 'numpy': np.__version__},
        'data': str(args.data) if args.data else
        "generate_dataset(out, 'room', scenes=1, seed=1, frames=300)",
        'settings': {'preset': 'scr-cpu', 'threshold_px': args.threshold_px,
                     'iterations': args.iterations, 'min_iterations': args.min_iterations,
                     'confidence': args.confidence, 'repeats': args.repeats,
                     'min_inliers': pnp_cfg.min_inliers,
                     'min_inlier_ratio': pnp_cfg.min_inlier_ratio},
        'results': results,
        'synthetic': bench_synthetic(args.synthetic_trials, (0.3, 0.5, 0.7, 0.85, 0.9))
        if args.synthetic_trials else [],
    }
    save_report(report, Path(args.out))
    return report


if __name__ == '__main__':
    main()
