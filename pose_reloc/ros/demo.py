# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The ROS part of ``pose-reloc demo``: from a synthetic robot run to poses from the node.

Steps (each timed and reported):

1. synthesize a small room and one robot run through it (``data.synthetic``);
2. record the run as a rosbag2 bag (``ros.bag_export``: image, camera_info, TF, ground truth);
3. extract every second image + its TF-chain ground truth from the bag (``pose-reloc extract``);
4. train an APR model on CPU (``pose-reloc train --method apr``);
5. replay the whole bag into the real ``reloc_node`` (separate processes) and record its
   poses (``pose-reloc bag-eval --live``);
6. print accuracy on the frames that were not trained on, against the "mean pose" baseline,
   with the end-to-end latency, and write a trajectory plot.

Both modes train the ``posenet-cpu`` preset with the small ``tiny`` CNN from scratch (on a
2-core CPU it fits this small room better than the ImageNet EfficientNet-Lite0 in the same
few minutes): ``quick`` (CI) at 64x48 for 50 epochs (about 30 s), the full demo at 128x96 for
up to 120 epochs / 3 minutes.
"""

from pathlib import Path
import time
from typing import Any, Dict

import numpy as np

#: (frames in the scene, image size, training overrides) per mode.
MODES = {
    'quick': {'frames': 120, 'size': (64, 48), 'rate': 2.0,
              'train': ['model.backbone=tiny', 'model.pretrained=none', 'optim.epochs=50',
                        'optim.max_minutes=2', 'optim.lr=3e-3', 'data.height=48',
                        'data.width=64', 'model.mc_samples=8']},
    'full': {'frames': 240, 'size': (128, 96), 'rate': 1.0,
             'train': ['model.backbone=tiny', 'model.pretrained=none', 'optim.epochs=120',
                       'optim.max_minutes=3', 'optim.lr=3e-3', 'data.height=96',
                       'data.width=128', 'model.mc_samples=10']},
}


def run_demo(out_dir, quick: bool = False, progress: bool = True) -> Dict[str, Any]:
    """Run the demo into ``out_dir`` (must not exist) and return its report.

    Args:
        out_dir: output folder: ``scene/``, ``robot/`` (the bag), ``data/``, ``bundle/``,
            ``live/`` (report JSON, TUM files, ``trajectory.png``, node and replay logs).
        quick: the CI variant (about a minute on 2 cores).
        progress: show progress bars.

    Returns:
        Report dict: ``held_out`` (summary over frames not trained on), ``all_frames``,
        ``baseline``, ``latency_ms``, ``throughput_hz``, ``poses_received``,
        ``frames_published``, ``timings_s`` per step, ``plot``, ``report`` (JSON path).

    Raises:
        FileExistsError: ``out_dir`` exists.

    """
    from pose_reloc.training.registry import train_from_preset
    from pose_reloc.data.formats.posed_folder import read_scene
    from pose_reloc.data.synthetic.generate import generate_scene
    from pose_reloc.geometry.metrics import summarize
    from pose_reloc.ros.bag_eval import live_bag_eval
    from pose_reloc.ros.bag_export import export_bag
    from pose_reloc.ros.extract import extract_bag

    out = Path(out_dir)
    if out.exists():
        raise FileExistsError(f'demo output {out} exists; remove it or choose another')
    mode = MODES['quick' if quick else 'full']
    timings: Dict[str, float] = {}
    t0 = time.monotonic()
    scene = generate_scene(out / 'scene', 'tiny', seed=0, frames=mode['frames'],
                           size=mode['size'])
    timings['synthesize'] = time.monotonic() - t0
    t0 = time.monotonic()
    bag = export_bag(scene, out / 'robot.mcap', sequence='seq-01', progress=progress)
    timings['record_bag'] = time.monotonic() - t0
    t0 = time.monotonic()
    extract_bag(bag, out / 'data' / 'tiny_0', '/camera/image_raw',
                camera_info_topic='/camera/camera_info', tf_parent='map', every=2,
                split='train', progress=progress)
    timings['extract'] = time.monotonic() - t0
    t0 = time.monotonic()
    bundle = train_from_preset('apr', 'posenet-cpu', out / 'data', out / 'bundle',
                               mode['train'] + ['run.device=cpu'])
    timings['train'] = time.monotonic() - t0
    t0 = time.monotonic()
    live = live_bag_eval(bundle, bag, out / 'live', image_topic='/camera/image_raw',
                         camera_info_topic='/camera/camera_info', tf_parent='map',
                         rate=mode['rate'], node_parameters={'device': 'cpu'})
    timings['replay_and_node'] = time.monotonic() - t0
    trained = {f.timestamp_ns for f in read_scene(out / 'data' / 'tiny_0').frames}
    rows = [r for r in live['per_frame'] if r['timestamp_ns'] not in trained]
    held_out = summarize([r.get('translation_error_m', np.nan) for r in rows],
                         [r.get('rotation_error_deg', np.nan) for r in rows],
                         failed=[not r['ok'] for r in rows])
    summary_keys = ('frames', 'failures', 'median_translation_m', 'median_rotation_deg',
                    'rate_50cm_5deg', 'rate_500cm_10deg')
    return {'held_out': held_out,
            'all_frames': {k: live[k] for k in summary_keys},
            'baseline': {k: live['baseline'][k] for k in summary_keys},
            'latency_ms': live['latency_ms'], 'throughput_hz': live['throughput_hz'],
            'poses_received': live['poses_received'],
            'frames_published': live['frames_published'], 'node': live['node'],
            'timings_s': timings, 'mode': 'quick' if quick else 'full',
            'plot': str(out / 'live' / 'trajectory.png'),
            'report': str(out / 'live' / 'live_report.json')}


def format_demo(report: Dict[str, Any]) -> str:
    """Return the human-readable summary of a ``run_demo`` report."""
    h, b, lat = report['held_out'], report['baseline'], report['latency_ms'] or {}
    steps = ', '.join(f'{k} {v:.1f} s' for k, v in report['timings_s'].items())
    return '\n'.join([
        f'ROS demo ({report["mode"]}): {report["poses_received"]} poses from '
        f'{report["frames_published"]} replayed images',
        f'  held-out frames: median {h["median_translation_m"]:.3f} m, '
        f'{h["median_rotation_deg"]:.1f} deg ({h["frames"]} frames, {h["failures"]} '
        'without a pose)',
        f'  baseline (mean pose): median {b["median_translation_m"]:.3f} m, '
        f'{b["median_rotation_deg"]:.1f} deg',
        f'  end-to-end latency (image published -> pose received): median '
        f'{lat.get("median", float("nan")):.1f} ms, p95 {lat.get("p95", float("nan")):.1f} ms;'
        f' throughput {report["throughput_hz"]:.1f} Hz',
        f'  steps: {steps}',
        f'  trajectory plot: {report["plot"]}',
        f'  full report: {report["report"]}'])
