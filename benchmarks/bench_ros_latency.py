# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""End-to-end latency of ``reloc_node`` against the bare model forward, APR and SCR.

For each method (APR: ``posenet-cpu`` preset, EfficientNet-Lite0; SCR: ``scr-lite-cpu`` preset,
ResNet-18 to layer 2 + PnP-RANSAC) and each published image size (320x240 and 640x480):

1. **bare**: ``Localizer.localize`` on the image in this process (median of N calls; the
   same code the node runs, without ROS), called from a worker thread as the node does,
   interleaved with the end-to-end round trips so that both see the same machine load.
   The main-thread figure is recorded too: on this loaded 2-core machine torch's two
   intra-op threads in the main thread are several times slower than a worker thread
   (which runs the ops on one thread);
2. **end to end**: the node runs in its own process; this process publishes one rgb8
   ``sensor_msgs/Image`` and waits for the ``~/pose`` answer, N times in sequence
   (no queueing): latency = pose arrival - publish call, one clock;
3. **sustained**: images are published at up to 30 Hz for a few seconds; the node keeps only
   the newest frame; poses per second received, the frames that reached the node (the
   image subscription is best effort, ``qos_profile_sensor_data``: the transport may drop
   frames too) and the frames the node dropped as stale are reported.

Overhead ratio = end-to-end median / bare median. The models are trained on a small
synthetic scene (APR one epoch: latency does not depend on accuracy; SCR 3 minutes so that
PnP succeeds on the published training image, else the node publishes no pose). Prints a
table and writes ``benchmarks/results/bench_ros_latency.json``.

    python benchmarks/bench_ros_latency.py [--repeats 30] [--sustain-s 5]
"""

import argparse
import datetime
import json
import os
from pathlib import Path
import platform
import sys
import tempfile
import time

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pose_reloc.data.formats.posed_folder import read_scene  # noqa: E402
from pose_reloc.data.records import load_image  # noqa: E402
from pose_reloc.data.synthetic.generate import generate_scene  # noqa: E402
from pose_reloc.workflows import train_from_preset  # noqa: E402

SIZES = ((320, 240), (640, 480))
#: preset and overrides per method: APR needs no accuracy to be timed (one epoch); SCR must
#: find a PnP pose on the published (training) image, or the node publishes nothing.
METHODS = {
    'apr': ('posenet-cpu', ['optim.epochs=1', 'optim.max_minutes=1']),
    'scr': ('scr-lite-cpu', ['optim.epochs=1000', 'optim.max_minutes=3']),
}
TOPIC = '/bench/image_raw'


def _train(work: Path, scene: Path, methods) -> dict:
    bundles = {}
    for method in methods:
        preset, overrides = METHODS[method]
        bundles[method] = train_from_preset(method, preset, scene, work / f'bundle_{method}',
                                            overrides + ['run.device=cpu'])
    return bundles


def _image_with_a_pose(bundle: Path, frames) -> np.ndarray:
    """Return the first training image the model localizes (SCR's PnP can refuse some)."""
    from pose_reloc.inference import load_localizer
    localizer = load_localizer(bundle, device='cpu')
    for frame in frames:
        image = load_image(frame)
        if localizer.localize(image).ok:
            return image
    raise RuntimeError(f'{bundle} localizes none of the {len(frames)} training images')


def _timed_localize(localizer, image: np.ndarray) -> float:
    t0 = time.perf_counter()
    localizer.localize(image)
    return (time.perf_counter() - t0) * 1e3


def _measure(bundle: Path, image: np.ndarray, repeats: int, sustain_s: float,
             log: Path) -> dict:
    """Interleave bare calls and node round trips (same load on the machine for both)."""
    from concurrent.futures import ThreadPoolExecutor
    import subprocess

    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseWithCovarianceStamped
    from sensor_msgs.msg import Image

    from pose_reloc.ros.conversions import rgb_to_image, stamp_to_ns
    from pose_reloc.ros.launcher import child_env, LaunchConfig, node_command
    from pose_reloc.ros.recorder import Recorder
    from pose_reloc.ros.reloc_node import POSE_QOS

    from pose_reloc.inference import load_localizer
    localizer = load_localizer(bundle, device='cpu')
    worker = ThreadPoolExecutor(max_workers=1)  # the node also localizes in a worker thread
    cfg = LaunchConfig(bundle=str(bundle), image_topic=TOPIC,
                       camera_info_topic='/bench/camera_info',
                       parameters={'device': 'cpu', 'tf_mode': 'none',
                                   'diagnostics_period': 0.5})
    rec = Recorder({'/reloc_node/pose': (PoseWithCovarianceStamped, POSE_QOS),
                    '/diagnostics': (DiagnosticArray, 10)}, node_name='bench_observer')
    pub = rec.publisher(Image, TOPIC, 10)
    with open(log, 'wb') as out:
        proc = subprocess.Popen(node_command(cfg), env=child_env(), stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        if not rec.spin_until(lambda: pub.get_subscription_count() > 0, 60):
            raise RuntimeError(f'node did not subscribe; see {log}')
        stamp = [1]

        def send_and_wait(timeout: float) -> float:
            stamp[0] += 1
            msg = rgb_to_image(image, stamp[0], 'camera_optical_frame')
            t0 = time.time()
            pub.publish(msg)
            ok = rec.spin_until(lambda: rec.count('/reloc_node/pose') > 0 and stamp_to_ns(
                rec.last('/reloc_node/pose').header.stamp) == stamp[0], timeout)
            return (rec.messages['/reloc_node/pose'][-1][0] - t0) * 1e3 if ok else None

        def fresh_diagnostics() -> dict:
            count = rec.count('/diagnostics')
            rec.spin_until(lambda: rec.count('/diagnostics') > count, 5.0)
            return {kv.key: kv.value for kv in rec.last('/diagnostics').status[0].values}

        for _ in range(60):  # warm up until the node's reader has matched this writer
            if send_and_wait(1.0) is not None:
                break
        else:
            raise RuntimeError(f'no pose from the node; see {log}')
        for _ in range(3):
            send_and_wait(10.0)
            worker.submit(_timed_localize, localizer, image).result()
        latencies, bare, bare_main = [], [], []
        for i in range(repeats):
            latencies.append(send_and_wait(10.0))
            bare.append(worker.submit(_timed_localize, localizer, image).result())
            if i % 3 == 0:
                bare_main.append(_timed_localize(localizer, image))
        latencies = [v for v in latencies if v is not None]
        received_before = int(fresh_diagnostics()['frames_received'])
        before = rec.count('/reloc_node/pose')
        t_start = time.monotonic()
        sent = 0
        while time.monotonic() - t_start < sustain_s:
            stamp[0] += 1
            pub.publish(rgb_to_image(image, stamp[0], 'camera_optical_frame'))
            sent += 1
            rec.spin_until(lambda: False, 1.0 / 30.0)
        elapsed = time.monotonic() - t_start
        received = rec.count('/reloc_node/pose') - before
        rec.spin_until(lambda: False, 1.0)
        diag = fresh_diagnostics()
    finally:
        worker.shutdown()
        rec.close()
        proc.terminate()
        proc.wait(timeout=10)
    return {'bare_median_ms': float(np.median(bare)),
            'bare_p95_ms': float(np.percentile(bare, 95)),
            'bare_main_thread_median_ms': float(np.median(bare_main)),
            'median_ms': float(np.median(latencies)),
            'p95_ms': float(np.percentile(latencies, 95)),
            'sustained_input_hz': sent / elapsed, 'sustained_pose_hz': received / elapsed,
            'sustained_sent': sent,
            'node_frames_received': int(diag['frames_received']) - received_before,
            'node_dropped_frames': int(diag['dropped_frames']),
            'node_latency_ms': float(diag['latency_ms'])}


def main(argv=None) -> int:
    """Run the benchmark; print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=30)
    parser.add_argument('--sustain-s', type=float, default=5.0)
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=list(METHODS))
    parser.add_argument('--out', type=Path,
                        default=ROOT / 'benchmarks' / 'results' / 'bench_ros_latency.json')
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        scene = generate_scene(work / 'scene', 'tiny', seed=0, frames=60, size=(320, 240))
        bundles = _train(work, scene, args.methods)
        for method, bundle in bundles.items():
            try:
                base = _image_with_a_pose(bundle, read_scene(scene).frames)
            except RuntimeError as exc:
                rows.append({'method': method, 'error': str(exc)})
                print(f'{method}: FAILED: {exc}', flush=True)
                continue
            for width, height in SIZES:
                image = cv2.resize(base, (width, height), interpolation=cv2.INTER_LINEAR)
                log = work / f'node_{method}_{width}.log'
                try:
                    e2e = _measure(bundle, image, args.repeats, args.sustain_s, log)
                except RuntimeError as exc:
                    tail = log.read_text().strip().splitlines()[-3:] if log.exists() else []
                    rows.append({'method': method, 'image': f'{width}x{height}',
                                 'error': str(exc), 'node_log_tail': tail})
                    print(f'{method} {width}x{height}: FAILED: {exc} {tail}', flush=True)
                    continue
                bare = {'median_ms': e2e['bare_median_ms'], 'p95_ms': e2e['bare_p95_ms'],
                        'main_thread_median_ms': e2e['bare_main_thread_median_ms']}
                row = {'method': method, 'image': f'{width}x{height}',
                       'bare_median_ms': bare['median_ms'], 'bare_p95_ms': bare['p95_ms'],
                       'bare_main_thread_median_ms': bare['main_thread_median_ms'],
                       'e2e_median_ms': e2e['median_ms'], 'e2e_p95_ms': e2e['p95_ms'],
                       'overhead_ratio': e2e['median_ms'] / bare['median_ms'],
                       'overhead_ms': e2e['median_ms'] - bare['median_ms'],
                       **{k: e2e[k] for k in ('sustained_input_hz', 'sustained_pose_hz',
                                              'sustained_sent', 'node_frames_received',
                                              'node_dropped_frames',
                                              'node_latency_ms')}}
                rows.append(row)
                print(f'{method} {width}x{height}: bare {bare["median_ms"]:.1f} ms, '
                      f'end-to-end {e2e["median_ms"]:.1f} ms (p95 {e2e["p95_ms"]:.1f}), '
                      f'x{row["overhead_ratio"]:.2f}, sustained {e2e["sustained_pose_hz"]:.1f}'
                      f' poses/s at {e2e["sustained_input_hz"]:.1f} Hz input, node received '
                      f'{e2e["node_frames_received"]}/{e2e["sustained_sent"]} frames, dropped '
                      f'{e2e["node_dropped_frames"]} as stale', flush=True)
    result = {
        'benchmark': 'bench_ros_latency',
        'command': 'python benchmarks/bench_ros_latency.py ' + ' '.join(argv or sys.argv[1:]),
        'hardware': f'{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}),'
                    ' no GPU',
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'rmw': os.environ.get('RMW_IMPLEMENTATION', 'default'),
        'fastdds_profile': os.environ.get('FASTDDS_DEFAULT_PROFILES_FILE', ''),
        'repeats': args.repeats, 'sustain_s': args.sustain_s, 'rows': rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix('.json.tmp')
    tmp_out.write_text(json.dumps(result, indent=2))
    os.replace(tmp_out, args.out)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
