# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The ROS part of ``pose-reloc demo``: from a synthetic robot run to poses from the node.

Steps (each timed and reported):

1. synthesize a room and one handheld run through it (``data.synthetic``, ``room`` preset,
   320x240 photos with the generator's camera effects);
2. record the run as a rosbag2 bag (``ros.bag_export``: image, camera_info, TF, ground truth);
3. extract every second image + its TF-chain ground truth from the bag (``pose-reloc extract``):
   RGB and poses, no depth;
4. map the room with scene coordinate regression (``pose-reloc train --method scr --config
   scr-cpu``: RootSIFT keypoints triangulated under the TF poses, seconds on the CPU);
5. replay the whole bag into the real ``reloc_node`` (separate processes) and record its
   poses (``pose-reloc bag-eval --live``);
6. print accuracy on the frames that were not mapped, against two baselines (the nearest
   mapped pose, which is what image retrieval can at best answer, and the mean pose), with
   the end-to-end latency, and write a trajectory plot.

``quick`` (CI) replays 80 frames at twice their rate; the full demo 150 frames at their rate.
"""

from pathlib import Path
import time
from typing import Any, Dict

import numpy as np

#: frames in the scene (a third of them are the bagged run), replay rate, mapping overrides.
MODES = {
    'quick': {'frames': 240, 'rate': 2.0, 'train': []},
    'full': {'frames': 450, 'rate': 1.0, 'train': []},
}
#: the training preset that maps the room (its ``method:`` names the method; this module
#: names none, as the rest of ``ros/``).
MAP_PRESET = 'scr-cpu'
#: mapping settings for the extracted data (no val split to validate or calibrate on).
MAP_OVERRIDES = ['data.val_split=', 'data.calibration_split=', 'run.device=cpu']


def nearest_pose_baseline(T_mapped_n44: np.ndarray, T_gt_m44: np.ndarray) -> Dict[str, Any]:
    """Errors of answering the mapped pose nearest to each true position (oracle retrieval).

    Args:
        T_mapped_n44: (N, 4, 4) poses of the mapped frames.
        T_gt_m44: (M, 4, 4) true poses of the evaluated frames.

    Returns:
        ``geometry.metrics.summarize`` of the translation (m) and rotation (deg) errors.
    """
    from pose_reloc.geometry.metrics import rotation_error_deg, summarize, translation_error_m
    mapped = np.asarray(T_mapped_n44, dtype=np.float64)
    gt = np.asarray(T_gt_m44, dtype=np.float64)
    nearest = np.argmin(np.linalg.norm(gt[:, None, :3, 3] - mapped[None, :, :3, 3], axis=-1),
                        axis=1)
    return summarize(translation_error_m(mapped[nearest], gt),
                     rotation_error_deg(mapped[nearest], gt))


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
    from pose_reloc.training.config import load_preset
    from pose_reloc.workflows import train_from_preset
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
    scene = generate_scene(out / 'scene', 'room', seed=0, frames=mode['frames'])
    timings['synthesize'] = time.monotonic() - t0
    t0 = time.monotonic()
    bag = export_bag(scene, out / 'robot.mcap', sequence='seq-01', progress=progress)
    timings['record_bag'] = time.monotonic() - t0
    t0 = time.monotonic()
    extract_bag(bag, out / 'data' / 'room_0', '/camera/image_raw',
                camera_info_topic='/camera/camera_info', tf_parent='map', every=2,
                split='train', progress=progress)
    timings['extract'] = time.monotonic() - t0
    t0 = time.monotonic()
    bundle = train_from_preset(load_preset(MAP_PRESET).method, MAP_PRESET, out / 'data',
                               out / 'bundle', MAP_OVERRIDES + mode['train'])
    timings['map'] = time.monotonic() - t0
    t0 = time.monotonic()
    live = live_bag_eval(bundle, bag, out / 'live', image_topic='/camera/image_raw',
                         camera_info_topic='/camera/camera_info', tf_parent='map',
                         rate=mode['rate'], node_parameters={'device': 'cpu'})
    timings['replay_and_node'] = time.monotonic() - t0
    mapped = read_scene(out / 'data' / 'room_0').frames
    trained = {f.timestamp_ns for f in mapped}
    rows = [r for r in live['per_frame'] if r['timestamp_ns'] not in trained]
    held_out = summarize([r.get('translation_error_m', np.nan) for r in rows],
                         [r.get('rotation_error_deg', np.nan) for r in rows],
                         failed=[not r['ok'] for r in rows])
    summary_keys = ('frames', 'failures', 'median_translation_m', 'median_rotation_deg',
                    'rate_5cm_5deg', 'rate_50cm_5deg', 'rate_500cm_10deg')
    return {'held_out': held_out,
            'all_frames': {k: live[k] for k in summary_keys},
            'baseline': {k: live['baseline'][k] for k in summary_keys},
            'nearest_mapped_pose': nearest_pose_baseline(
                np.array([f.T_world_cam for f in mapped]), np.array([r['T_gt'] for r in rows])),
            'latency_ms': live['latency_ms'], 'throughput_hz': live['throughput_hz'],
            'poses_received': live['poses_received'],
            'frames_published': live['frames_published'], 'node': live['node'],
            'timings_s': timings, 'mode': 'quick' if quick else 'full',
            'plot': str(out / 'live' / 'trajectory.png'),
            'report': str(out / 'live' / 'live_report.json')}


def format_demo(report: Dict[str, Any]) -> str:
    """Return the human-readable summary of a ``run_demo`` report."""
    h, b, lat = report['held_out'], report['baseline'], report['latency_ms'] or {}
    n = report['nearest_mapped_pose']
    steps = ', '.join(f'{k} {v:.1f} s' for k, v in report['timings_s'].items())
    return '\n'.join([
        f'ROS demo ({report["mode"]}): {report["poses_received"]} poses from '
        f'{report["frames_published"]} replayed images',
        f'  held-out frames: median {100 * h["median_translation_m"]:.1f} cm, '
        f'{h["median_rotation_deg"]:.2f} deg, {100 * h["rate_5cm_5deg"]:.0f} % within 5 cm / '
        f'5 deg ({h["frames"]} frames, {h["failures"]} without a pose)',
        f'  baseline (nearest mapped pose, the best retrieval can do): median '
        f'{100 * n["median_translation_m"]:.1f} cm, {n["median_rotation_deg"]:.2f} deg',
        f'  baseline (mean pose): median {100 * b["median_translation_m"]:.1f} cm, '
        f'{b["median_rotation_deg"]:.1f} deg',
        f'  end-to-end latency (image published -> pose received): median '
        f'{lat.get("median", float("nan")):.1f} ms, p95 {lat.get("p95", float("nan")):.1f} ms;'
        f' throughput {report["throughput_hz"]:.1f} Hz',
        f'  steps: {steps}',
        f'  trajectory plot: {report["plot"]}',
        f'  full report: {report["report"]}'])
