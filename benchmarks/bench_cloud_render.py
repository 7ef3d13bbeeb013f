# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Benchmark the point-cloud renderer (``pose-reloc render-cloud``) on a 10 M-point cloud.

The cloud: the synthetic ``room`` scene's scan (``pose-reloc synth --export-cloud``),
densified to the target size by copies of each point jittered within its surfel disc
(tangent plane, within the surfel radius; copies' radii shrink by sqrt(copies)), so the
density pattern of a scan is kept. Measured and saved
(``benchmarks/results/bench_cloud_render.json``):

- PLY write / read of the 10 M-point cloud, the renderer's set-up (cell sort);
- render only: frames/s at 320x240 from random poses (``sample_views``'s poses rendered
  again, timed alone), wall clock and this process's CPU time;
- end to end: ``render_cloud_dataset`` (pose sampling with its rejected candidates, renders,
  PNG + coords writing), views/s.

Run: ``python benchmarks/bench_cloud_render.py [--points 10000000] [--views 20]``.
"""

import argparse
import json
from pathlib import Path
import shutil
import sys
import tempfile
import time

import numpy as np
from report import run_header, save_report
import torch

from pose_reloc.data.cloud_render import CloudRenderer, render_cloud_dataset, sample_views
from pose_reloc.data.pointcloud import ColoredCloud, read_cloud, write_cloud
from pose_reloc.data.synthetic import generate_dataset
from pose_reloc.geometry.camera import read_camera_yaml

REPO = Path(__file__).resolve().parents[1]


def densify(cloud: ColoredCloud, target: int, seed: int = 0) -> ColoredCloud:
    """Return copies of each point jittered in its tangent disc until ``target`` points."""
    rng = np.random.default_rng(seed)
    copies = int(np.ceil(target / len(cloud)))
    idx = np.tile(np.arange(len(cloud)), copies)[:target]
    n = cloud.normals_n3[idx]
    a = np.cross(n, [0.0, 0.0, 1.0]).astype(np.float32)
    a[np.linalg.norm(a, axis=1) < 1e-3] = [1.0, 0.0, 0.0]
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = np.cross(n, a)
    r = cloud.radius_n[idx][:, None] * rng.uniform(-1, 1, (target, 2)).astype(np.float32)
    pts = cloud.points_n3[idx] + a * r[:, :1] + b * r[:, 1:]
    pts[:len(cloud)] = cloud.points_n3
    return ColoredCloud(pts, cloud.colours_n3[idx], n, cloud.radius_n[idx] / np.sqrt(copies))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--points', type=int, default=10_000_000)
    parser.add_argument('--views', type=int, default=20)
    parser.add_argument('--size', default='320x240')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--out', type=Path,
                        default=REPO / 'benchmarks' / 'results' / 'bench_cloud_render.json')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split('x'))
    header = run_header('python benchmarks/bench_cloud_render.py', threads=args.threads)
    tmp = Path(tempfile.mkdtemp(prefix='bench_cloud_'))
    try:
        root = generate_dataset(tmp / 'synth', preset='room', scenes=1, frames=3,
                                size=(width, height), progress=False, export_cloud=True)
        scene_dir = next(p for p in root.iterdir() if p.is_dir())
        camera = read_camera_yaml(scene_dir / 'camera.yaml')
        scan = read_cloud(scene_dir / 'cloud.ply')
        dense = densify(scan, args.points)
        t0 = time.perf_counter()
        path = write_cloud(tmp / 'dense.ply', dense)
        t1 = time.perf_counter()
        cloud = read_cloud(path)
        t2 = time.perf_counter()
        renderer = CloudRenderer(cloud)
        t3 = time.perf_counter()
        poses = [T for T, _ in sample_views(renderer, cloud, camera, args.views, seed=1)]
        wall0, cpu0 = time.perf_counter(), time.process_time()
        coverage = [renderer.render(camera, T).coverage for T in poses]
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        e0 = time.perf_counter()
        render_cloud_dataset(path, camera, tmp / 'renders', args.views, seed=2,
                             progress=False)
        e2e = time.perf_counter() - e0
        result = {
            **header,
            'results': {
                'points': len(cloud), 'scan_points': len(scan), 'size': [width, height],
                'ply_bytes': path.stat().st_size,
                'ply_write_s': round(t1 - t0, 2), 'ply_read_s': round(t2 - t1, 2),
                'renderer_setup_s': round(t3 - t2, 2),
                'render_only': {'frames': len(poses), 'fps_wall': round(len(poses) / wall, 2),
                                'fps_cpu': round(len(poses) / cpu, 2),
                                'ms_per_frame_wall': round(1000 * wall / len(poses), 1),
                                'median_coverage': float(np.median(coverage))},
                'end_to_end': {'views': args.views, 'seconds': round(e2e - 0.0, 2),
                               'views_per_s_incl_cloud_read_and_setup':
                                   round(args.views / e2e, 2)},
            },
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=2))
    save_report(result, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
