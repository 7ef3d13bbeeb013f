# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Evaluate a model bundle on a bag: offline (through the Localizer) or live (through ROS).

Both modes first extract the bag's images and ground truth (``extract_bag``: a pose topic or a
TF chain, interpolated to the image stamps) into ``<out>/groundtruth/<scene>``.

- **offline**: ``pose_reloc.inference.evaluate`` on the extracted frames: the same report
  as ``pose-reloc eval`` (JSON, TUM, plot).
- **attach**: the same scoring for a node and replay started by someone else
  (``launch/bag_eval.launch.py``): this process only records and scores.
- **live**: the real graph in separate processes: the node (``reloc_node``) and a bag replay
  (``pose-reloc replay``) are started; this process records ``~/pose`` and ``/diagnostics``;
  each received pose is matched to the ground truth by its stamp (the image's stamp).
  End-to-end latency per frame = pose arrival (wall clock here) - image publication (wall
  clock in the replay process, from its ``--publish-log``); same machine, same clock.
  Frames that got no pose (dropped as stale, lost in transport, refused) count as failures.
"""

import json
from pathlib import Path
import time
from typing import Any, Dict, List, Optional

import numpy as np

from pose_reloc.geometry.se3 import mean_pose
from pose_reloc.ros.conversions import msg_covariance, msg_to_T, stamp_to_ns
from pose_reloc.ros.extract import extract_bag


def _extract_ground_truth(bag, out_dir: Path, image_topic: str, **extract_kwargs) -> Path:
    scene_dir = out_dir / 'groundtruth' / 'bag'
    if scene_dir.exists():
        raise FileExistsError(f'{scene_dir} exists: use a new output directory')
    extract_bag(bag, scene_dir, image_topic, progress=False, **extract_kwargs)
    return scene_dir


def offline_bag_eval(bundle, bag, out_dir, image_topic: str, device: str = 'auto',
                     **extract_kwargs) -> Dict[str, Any]:
    """Evaluate ``bundle`` on every image of ``bag`` without ROS (the Localizer directly).

    Args:
        bundle: model bundle directory.
        bag: rosbag2 directory, ``.mcap`` or ``.db3``.
        out_dir: output folder: ``groundtruth/``, ``eval.json``, ``estimate.tum``,
            ``trajectory.png``.
        image_topic: Image or CompressedImage topic.
        device: ``auto``, ``cpu`` or ``cuda``.
        **extract_kwargs: ground-truth options of ``extract_bag`` (``pose_topic`` or
            ``tf_parent``/``tf_child``, ``camera_info_topic``, ``camera``, ``every``,
            ``start``, ``end``).

    Returns:
        The ``evaluate`` report plus ``mode='offline'`` and ``bag``.

    """
    from pose_reloc.inference.evaluate import evaluate
    out_dir = Path(out_dir)
    scene_dir = _extract_ground_truth(bag, out_dir, image_topic, **extract_kwargs)
    report = evaluate(bundle, scene_dir, split='', device=device, progress=False,
                      json_out=None, tum_out=out_dir / 'estimate.tum',
                      plot_out=out_dir / 'trajectory.png')
    report.update(mode='offline', bag=str(bag))
    _write_json(out_dir / 'eval.json', report)
    return report


def live_bag_eval(bundle, bag, out_dir, image_topic: str = '/camera/image_raw',
                  camera_info_topic: Optional[str] = '/camera/camera_info', rate: float = 1.0,
                  node_parameters: Optional[Dict[str, Any]] = None, timeout_s: float = 300.0,
                  **extract_kwargs) -> Dict[str, Any]:
    """Replay ``bag`` into the real node (separate processes) and score the recorded poses.

    Args:
        bundle: model bundle directory.
        bag: rosbag2 directory, ``.mcap`` or ``.db3``.
        out_dir: output folder: ``groundtruth/``, ``live_report.json``, ``estimate.tum``,
            ``trajectory.png``, ``logs/node.log``, ``logs/replay.log``.
        image_topic: the bag's image topic (the node is remapped to it).
        camera_info_topic: the bag's CameraInfo topic (None: the bundle's intrinsics).
        rate: replay speed factor.
        node_parameters: extra node parameters (e.g. ``{'mc_samples': 10}``).
        timeout_s: give up (and stop the processes) after this long.
        **extract_kwargs: ground-truth options of ``extract_bag``.

    Returns:
        Report dict: the ``summarize`` keys over all replayed frames (missing poses are
        failures), ``frames_published``, ``poses_received``, ``poses_matched``,
        ``latency_ms`` ({median, p95, max, mean}: publish -> pose arrival),
        ``throughput_hz``, ``node`` (the node's last diagnostics), ``baseline`` (the
        errors of always answering the mean ground-truth pose), ``pose_frame_ids``,
        ``covariance_min_eigenvalue``, ``tf_pairs`` (``'parent->child': count`` seen on
        /tf), ``per_frame``, ``mode='live'``.

    Raises:
        RuntimeError: a process failed or the evaluation timed out (logs named).

    """
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseWithCovarianceStamped
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from pose_reloc.data.formats.posed_folder import read_scene
    from pose_reloc.ros.launcher import LaunchConfig, start, stop
    from pose_reloc.ros.recorder import Recorder
    from pose_reloc.ros.reloc_node import tf_message_type, TF_QOS

    out_dir = Path(out_dir)
    extract_kwargs.setdefault('camera_info_topic', camera_info_topic)
    scene_dir = _extract_ground_truth(bag, out_dir, image_topic, **extract_kwargs)
    frames = read_scene(scene_dir).frames
    gt = {int(f.timestamp_ns): np.asarray(f.T_world_cam) for f in frames}
    params = {'diagnostics_period': 0.25}
    params.update(node_parameters or {})
    cfg = LaunchConfig(bundle=str(bundle), image_topic=image_topic,
                       camera_info_topic=camera_info_topic or '/camera/camera_info',
                       bag=str(bag), rate=rate, node_name='reloc_node', parameters=params)
    pose_topic = f'/{cfg.node_name}/pose'
    qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
    publish_log = out_dir / 'logs' / 'publish_log.json'
    topics = {pose_topic: (PoseWithCovarianceStamped, qos),
              '/diagnostics': (DiagnosticArray, 100)}
    tf_type = tf_message_type()
    if tf_type is not None:
        topics['/tf'] = (tf_type, TF_QOS)
    recorder = Recorder(topics, node_name='bag_eval_recorder')
    processes = start(cfg, log_dir=out_dir / 'logs', publish_log=str(publish_log))
    deadline = time.monotonic() + timeout_s
    try:
        replay = processes['replay']
        if not recorder.spin_until(lambda: replay.poll() is not None
                                   or processes['node'].poll() is not None,
                                   deadline - time.monotonic()):
            raise RuntimeError(f'live evaluation timed out after {timeout_s:.0f} s; see '
                               f'{out_dir / "logs"}')
        if replay.returncode != 0 or processes['node'].poll() is not None:
            raise RuntimeError(f'replay exited with {replay.returncode}, node with '
                               f'{processes["node"].poll()}; see {out_dir / "logs"}')
        published = [(stamp, wall) for topic, stamp, wall in json.loads(
            publish_log.read_text()) if topic == image_topic]
        ended = time.time()
        recorder.spin_until(lambda: _node_settled(recorder, ended, len(published)),
                            max(deadline - time.monotonic(), 0.0))
        # the settling diagnostics may be taken before poses still queued in this reader
        # (one callback per spin): take those too
        node_published = int(_diagnostics_values(recorder.last('/diagnostics')).get(
            'poses_published', 0))
        recorder.spin_until(lambda: recorder.count(pose_topic) >= node_published,
                            min(5.0, max(deadline - time.monotonic(), 0.0)))
        drained = time.monotonic() + 0.5
        recorder.spin_until(lambda: time.monotonic() > drained, 1.0)
    finally:
        codes = stop(processes)
        node_status = _diagnostics_values(recorder.last('/diagnostics'))
        poses = [(wall, msg) for wall, msg in recorder.messages[pose_topic]]
        tf_pairs: Dict[str, int] = {}
        for _, msg in recorder.messages.get('/tf', []):
            for tr in msg.transforms:
                key = f'{tr.header.frame_id}->{tr.child_frame_id}'
                tf_pairs[key] = tf_pairs.get(key, 0) + 1
        recorder.close()
    report = _score(gt, published, poses)
    report.update(mode='live', bag=str(bag), bundle=str(bundle), rate=rate,
                  node=node_status, exit_codes=codes, tf_pairs=tf_pairs)
    _write_outputs(out_dir, report)
    return report


def attach_bag_eval(bundle, bag, out_dir, image_topic: str = '/camera/image_raw',
                    node_name: str = 'reloc_node', idle_s: float = 3.0,
                    timeout_s: float = 3600.0, **extract_kwargs) -> Dict[str, Any]:
    """Record and score the poses of a node that someone else started (the launch file).

    Waits for ``/<node_name>/pose`` to appear, records it and ``/diagnostics`` until the node
    has received images and then none for ``idle_s`` (the replay ended), and scores the
    poses against the bag's ground truth like ``live_bag_eval``. Latency is not measured
    (the publication times are not known here); ``throughput_hz`` is.

    Raises:
        RuntimeError: no node appeared or nothing was received before ``timeout_s``.

    """
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseWithCovarianceStamped
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from pose_reloc.data.formats.posed_folder import read_scene
    from pose_reloc.ros.recorder import Recorder

    out_dir = Path(out_dir)
    scene_dir = _extract_ground_truth(bag, out_dir, image_topic, **extract_kwargs)
    gt = {int(f.timestamp_ns): np.asarray(f.T_world_cam) for f in read_scene(scene_dir).frames}
    pose_topic = f'/{node_name}/pose'
    qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
    recorder = Recorder({pose_topic: (PoseWithCovarianceStamped, qos),
                         '/diagnostics': (DiagnosticArray, 100)}, node_name='bag_eval_recorder')
    state = {'received': 0, 'changed': time.monotonic()}

    def idle() -> bool:
        values = _diagnostics_values(recorder.last('/diagnostics'))
        received = int(values.get('frames_received', 0))
        if received != state['received']:
            state.update(received=received, changed=time.monotonic())
        return received > 0 and time.monotonic() - state['changed'] > idle_s

    try:
        if not recorder.spin_until(idle, timeout_s):
            raise RuntimeError(f'no images reached {node_name} within {timeout_s:.0f} s')
        node_status = _diagnostics_values(recorder.last('/diagnostics'))
        poses = list(recorder.messages[pose_topic])
    finally:
        recorder.close()
    report = _score(gt, None, poses)
    report.update(mode='attach', bag=str(bag), bundle=str(bundle), node=node_status)
    _write_outputs(out_dir, report)
    return report


def _diagnostics_values(msg) -> Dict[str, str]:
    if msg is None or not msg.status:
        return {}
    return {kv.key: kv.value for kv in msg.status[0].values}


def _node_settled(recorder, ended_wall: float, images: int) -> bool:
    """Return True when a diagnostics message sent after the replay shows no pending frame.

    Pending: received but neither taken by the worker nor dropped, or taken and still being
    localized (every processed frame ends as a published pose or a counted failure).
    """
    entries = recorder.messages['/diagnostics']
    if not entries or entries[-1][0] < ended_wall + 0.3:
        return False
    values = _diagnostics_values(entries[-1][1])
    received = int(values.get('frames_received', 0))
    processed = int(values.get('frames_processed', 0))
    handled = processed + int(values.get('dropped_frames', 0))
    finished = int(values.get('poses_published', 0)) + int(values.get('failures', 0))
    return (handled >= received and finished >= processed
            and (received >= images or entries[-1][0] > ended_wall + 3.0))


def _score(gt: Dict[int, np.ndarray], published: Optional[List], poses: List
           ) -> Dict[str, Any]:
    from pose_reloc.geometry.metrics import rotation_error_deg, summarize, translation_error_m
    sent = (dict.fromkeys(gt) if published is None
            else {int(stamp): wall for stamp, wall in published})
    received: Dict[int, tuple] = {}
    for wall, msg in poses:
        received.setdefault(stamp_to_ns(msg.header.stamp), (wall, msg))
    stamps = sorted(s for s in sent if s in gt)
    T_gt = np.stack([gt[s] for s in stamps])
    T_est = np.full_like(T_gt, np.nan)
    latencies = []
    rows = []
    for i, s in enumerate(stamps):
        row = {'scene': 'bag', 'timestamp_ns': s, 'ok': s in received, 'T_gt': T_gt[i].tolist()}
        if s in received:
            wall, msg = received[s]
            T_est[i] = msg_to_T(msg)
            if sent[s] is not None:
                latencies.append((wall - sent[s]) * 1e3)
            cov = msg_covariance(msg)
            row.update(T_est=T_est[i].tolist(), sigma_translation_m=float(
                np.sqrt(max(np.trace(cov[:3, :3]), 0.0) / 3.0)))
        rows.append(row)
    ok = np.array([r['ok'] for r in rows], dtype=bool)
    failed = ~ok
    t_err = np.full(len(rows), np.nan)
    r_err = np.full(len(rows), np.nan)
    if ok.any():
        t_err[ok] = translation_error_m(T_est[ok], T_gt[ok])
        r_err[ok] = rotation_error_deg(T_est[ok], T_gt[ok])
    for row, t, r in zip(rows, t_err, r_err):
        if row['ok']:
            row.update(translation_error_m=float(t), rotation_error_deg=float(r))
    report = summarize(t_err, r_err, failed=failed)
    report['pose_frame_ids'] = sorted({msg.header.frame_id for _, msg in poses})
    report['covariance_min_eigenvalue'] = min(
        (float(np.linalg.eigvalsh(msg_covariance(msg)).min()) for _, msg in poses),
        default=None)
    T_mean = np.repeat(mean_pose(T_gt)[None], len(T_gt), 0)
    report['baseline'] = summarize(translation_error_m(T_mean, T_gt),
                                   rotation_error_deg(T_mean, T_gt))
    lat = np.asarray(latencies)
    report['latency_ms'] = None if not lat.size else {
        'median': float(np.median(lat)), 'p95': float(np.percentile(lat, 95)),
        'max': float(lat.max()), 'mean': float(lat.mean())}
    arrivals = [w for w, _ in received.values()]
    span = max(arrivals) - min(arrivals) if len(arrivals) > 1 else 0.0
    report.update(frames_published=len(sent), frames_with_ground_truth=len(stamps),
                  poses_received=len(poses), poses_matched=int((~failed).sum()),
                  throughput_hz=float((len(arrivals) - 1) / span) if span > 0 else 0.0,
                  per_frame=rows)
    return report


def _write_json(path: Path, report: Dict[str, Any]) -> None:
    from pose_reloc.inference.evaluate import write_json
    write_json(path, report)


def _write_outputs(out_dir: Path, report: Dict[str, Any]) -> None:
    from pose_reloc.data.tum import write_tum_ns
    from pose_reloc.inference.evaluate import plot_trajectories
    rows = report['per_frame']
    ok = [r for r in rows if r['ok']]
    if ok:
        write_tum_ns(out_dir / 'estimate.tum', [r['timestamp_ns'] for r in ok],
                     np.array([r['T_est'] for r in ok]))
    write_tum_ns(out_dir / 'groundtruth.tum', [r['timestamp_ns'] for r in rows],
                 np.array([r['T_gt'] for r in rows]))
    plot_trajectories(rows, out_dir / 'trajectory.png')
    _write_json(out_dir / 'live_report.json', report)
