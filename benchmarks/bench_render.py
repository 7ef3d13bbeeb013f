# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Benchmark the synthetic scene generator: renderer frame rates and end-to-end synth time.

Prints and saves (``benchmarks/results/bench_render.json``):

- exact ray caster at 320x240 (shaded, adaptive 2x2 supersampling; also without
  supersampling and depth only), indoor ``room`` and ``outdoor`` scenes, frames/s from
  wall-clock time and from this process's CPU time (the machine is shared: the CPU figure
  is what the renderer would do alone on one core);
- photo pipeline (render + camera effects) and scan domain (scan once, splat renders);
- depth accuracy: distance of back-projected depth to the scene's analytic surfaces;
- end to end: a 3-scene x 100-frame dataset at 320x240 plus a bag of one sequence,
  i.e. what ``pose-reloc synth OUT --scenes 3 --frames 100 --bag OUT.mcap`` does.

Run: ``python benchmarks/bench_render.py [--frames 30] [--skip-end-to-end]``.
"""

import argparse
import datetime
import json
import os
from pathlib import Path
import platform
import shutil
import sys
import tempfile
import time

import cv2
import numpy as np

from pose_reloc.data.synthetic import paths, photo, scan
from pose_reloc.data.synthetic.generate import generate_dataset, make_camera
from pose_reloc.data.synthetic.presets import get_preset
from pose_reloc.data.synthetic.raycast import render
from pose_reloc.data.synthetic.scene import build_scene, STREAM_PATH, stream_rng
from pose_reloc.geometry.camera import depth_to_scene_coords
from pose_reloc.ros.bag_export import export_bag

REPO = Path(__file__).resolve().parents[1]


def _timed(fn, items):
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for item in items:
        fn(item)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    n = len(items)
    return {'frames': n, 'fps_wall': round(n / wall, 2), 'fps_cpu': round(n / cpu, 2),
            'ms_per_frame_wall': round(1000 * wall / n, 1),
            'ms_per_frame_cpu': round(1000 * cpu / n, 1)}


def bench_renderer(preset_name, n_frames, size=(320, 240), scenes=2):
    preset = get_preset(preset_name)
    camera = make_camera(preset, size)
    poses, built = [], []
    for index in range(scenes):
        scene = build_scene(preset, 0, index)
        traj = paths.trajectory(scene, preset.path, camera, n_frames,
                                stream_rng(0, index, STREAM_PATH, 0))
        built.append(scene)
        poses += [(scene, T) for T in traj.poses]
    render(built[0], camera, poses[0][1])  # warm the ray caches
    out = {
        'shaded_ss2': _timed(lambda p: render(p[0], camera, p[1]), poses),
        'shaded_no_ss': _timed(lambda p: render(p[0], camera, p[1], supersample=1), poses),
        'depth_only': _timed(lambda p: render(p[0], camera, p[1], colour=False), poses),
    }
    cfg = preset.photo
    rng = np.random.default_rng(0)
    vig = photo.vignette(camera, cfg.vignetting)

    def photo_frame(p):
        r = render(p[0], camera, p[1])
        photo.develop(r.rgb, cfg, 1.0, np.ones(3), 80, np.array([1.5, 0.5]), vig, rng)

    out['photo_pipeline'] = _timed(photo_frame, poses)
    out['camera'] = {'width': camera.width, 'height': camera.height,
                     'distortion': camera.distortion_model}
    out['boxes_per_scene'] = [len(s.boxes) for s in built]
    return out


def bench_scan(n_frames, size=(320, 240)):
    preset = get_preset('room')
    camera = make_camera(preset, size)
    scene = build_scene(preset, 0, 0)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    cloud = scan.scan_scene(scene, preset.scan, 0, 0)
    scan_wall, scan_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    traj = paths.trajectory(scene, preset.path, camera, n_frames, stream_rng(0, 0, STREAM_PATH,
                                                                             0))
    holes = []

    def frame(T):
        _, depth = scan.render_scan(cloud, camera, T, preset.scan)
        holes.append(float((depth == 0).mean()))

    out = _timed(frame, list(traj.poses))
    out.update({'scan_seconds_wall': round(scan_wall, 2), 'scan_seconds_cpu': round(scan_cpu, 2),
                'points': cloud.metadata['points'], 'stations': len(cloud.metadata['stations']),
                'hole_fraction_mean': round(float(np.mean(holes)), 3)})
    return out


def bench_accuracy(n_frames=8, size=(320, 240)):
    """Distance of back-projected depth to the analytic surfaces (photo and scan domain)."""
    preset = get_preset('room')
    camera = make_camera(preset, size)
    scene = build_scene(preset, 0, 1)
    traj = paths.trajectory(scene, preset.path, camera, n_frames, stream_rng(0, 1, STREAM_PATH,
                                                                             0))
    cloud = scan.scan_scene(scene, preset.scan, 0, 1)
    exact, quantized, splat, holes = [], [], [], []
    for T in traj.poses:
        depth = render(scene, camera, T, colour=False).depth
        for store, d in ((exact, depth), (quantized, np.round(depth * 1000.0) / 1000.0)):
            pts = depth_to_scene_coords(d, camera, T).reshape(-1, 3)
            store.append(scene.surface_distance(pts))
        _, d_scan = scan.render_scan(cloud, camera, T, preset.scan)
        holes.append(float((d_scan == 0).mean()))
        pts = depth_to_scene_coords(d_scan, camera, T)[d_scan > 0]
        splat.append(scene.surface_distance(pts))
    exact, quantized, splat = (np.concatenate(v) for v in (exact, quantized, splat))
    return {'frames': n_frames,
            'photo_depth_max_error_m': float(exact.max()),
            'photo_depth_mm_png_max_error_m': float(quantized.max()),
            'scan_depth_median_error_m': round(float(np.median(splat)), 4),
            'scan_depth_p90_error_m': round(float(np.percentile(splat, 90)), 4),
            'scan_depth_within_2cm': round(float(np.mean(splat < 0.02)), 3),
            'scan_hole_fraction': round(float(np.mean(holes)), 3)}


def bench_end_to_end(scenes=3, frames=100, size=(320, 240)):
    tmp = Path(tempfile.mkdtemp(prefix='bench_synth_'))
    try:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        root = generate_dataset(tmp / 'data', 'room', scenes=scenes, seed=0, frames=frames,
                                size=size, progress=False)
        data_wall = time.perf_counter() - wall0
        bag = export_bag(root, tmp / 'seq.mcap', progress=False)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        size_mb = sum(p.stat().st_size for p in tmp.rglob('*') if p.is_file()) / 1e6
        return {'scenes': scenes, 'frames': scenes * frames, 'size': list(size),
                'dataset_seconds_wall': round(data_wall, 2),
                'total_seconds_wall': round(wall, 2), 'total_seconds_cpu': round(cpu, 2),
                'bag': bag.name, 'output_mb': round(size_mb, 1)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    """Run the benchmarks, print the figures and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=30, help='frames per scene for fps')
    parser.add_argument('--skip-end-to-end', action='store_true')
    parser.add_argument('--out', type=Path, default=REPO / 'benchmarks' / 'results' /
                        'bench_render.json')
    args = parser.parse_args()
    load_before = os.getloadavg()
    results = {'room': bench_renderer('room', args.frames),
               'outdoor': bench_renderer('outdoor', args.frames),
               'scan_domain': bench_scan(args.frames), 'depth_accuracy': bench_accuracy()}
    if not args.skip_end_to_end:
        results['end_to_end'] = bench_end_to_end()
    report = {
        'command': 'python benchmarks/bench_render.py ' + ' '.join(sys.argv[1:]),
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'hardware': f'{os.cpu_count()}-core CPU ({platform.machine()}), no GPU',
        'python': platform.python_version(), 'numpy': np.__version__,
        'opencv': cv2.__version__,
        'load_average_1min_before_after': [round(load_before[0], 2),
                                           round(os.getloadavg()[0], 2)],
        'note': 'machine shared with other jobs during the run: fps_wall is what was '
                'observed, fps_cpu (process CPU time) what one core delivers to the renderer',
        'results': results,
    }
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + '.tmp')
    tmp.write_text(json.dumps(report, indent=2) + '\n')
    tmp.replace(args.out)


if __name__ == '__main__':
    main()
