# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Soak: minutes of 30 Hz 640x480 images through ``reloc_node``, minute by minute.

For each bundle (APR: ``posenet-cpu``; SCR: the method's preset in ``bench_ros_latency.py``,
``scr-lite-cpu`` (dense SCRNet) now; both trained on a small synthetic scene as there, or given
with ``--bundle-apr`` / ``--bundle-scr``):

1. **bare**: ``Localizer.localize`` on the image at 320x240 and 640x480 in this process, from a
   worker thread (as the node), median of ``--bare-repeats`` calls;
2. **soak**: the node runs in its own process (``tf_mode none``, CPU); this process publishes
   rgb8 640x480 images at ``--rate`` Hz for ``--minutes``, records every pose (end-to-end
   latency = pose arrival - publish call of that image, one clock) and samples the node's
   resident memory (RSS) every 5 s;
3. per minute: poses per second, latency median and p99, RSS (last sample); over the run: the
   least-squares slopes of RSS (MB/min) and of the per-minute latency median (ms/min), and
   end-to-end median / bare median at 640x480.

Both processes use ``config/fastdds_camera.xml`` (shared memory with 32 MB segments), which
delivers every 640x480 frame on one host (``bench_transport.py``); Fast DDS's defaults lose
most of them. Writes ``benchmarks/results/bench_soak.json`` and ``bench_soak.png``::

    python benchmarks/bench_soak.py --minutes 10            # the issue's soak, ~25 min
    python benchmarks/bench_soak.py --minutes 2 --methods apr
"""

import argparse
from concurrent.futures import ThreadPoolExecutor
import datetime
import json
import os
from pathlib import Path
import platform
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / 'config' / 'fastdds_camera.xml'
# before rclpy is imported: this process and the node use the camera profile
os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(PROFILE)
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
os.environ.setdefault('ROS_DOMAIN_ID', str(100 + os.getpid() % 50))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

TOPIC = '/soak/image_raw'


def _bare(bundle: Path, image: np.ndarray, repeats: int) -> dict:
    """Median ``localize`` time (ms) at 320x240 and 640x480, from a worker thread."""
    from pose_reloc.inference import load_localizer
    localizer = load_localizer(bundle, device='cpu')
    out = {}
    with ThreadPoolExecutor(max_workers=1) as worker:
        for width, height in ((320, 240), (640, 480)):
            resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)

            def timed():
                t0 = time.perf_counter()
                localizer.localize(resized)
                return (time.perf_counter() - t0) * 1e3

            for _ in range(3):
                worker.submit(timed).result()
            times = [worker.submit(timed).result() for _ in range(repeats)]
            out[f'{width}x{height}'] = {'median_ms': float(np.median(times)),
                                        'p99_ms': float(np.percentile(times, 99))}
    return out


def _slope(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(y)
    if keep.sum() < 2:
        return float('nan')
    return float(np.polyfit(x[keep], y[keep], 1)[0])


def _soak(bundle: Path, image: np.ndarray, minutes: float, rate: float, log: Path) -> dict:
    import psutil
    from geometry_msgs.msg import PoseWithCovarianceStamped
    from sensor_msgs.msg import Image

    from pose_reloc.ros.conversions import rgb_to_image, stamp_to_ns
    from pose_reloc.ros.launcher import child_env, LaunchConfig, node_command
    from pose_reloc.ros.recorder import Recorder
    from pose_reloc.ros.reloc_node import POSE_QOS

    cfg = LaunchConfig(bundle=str(bundle), image_topic=TOPIC, camera_info_topic='/soak/info',
                       parameters={'device': 'cpu', 'tf_mode': 'none', 'path_length': 1000})
    rec = Recorder({'/reloc_node/pose': (PoseWithCovarianceStamped, POSE_QOS)},
                   node_name='soak_observer')
    pub = rec.publisher(Image, TOPIC, 10)
    with open(log, 'wb') as out:
        proc = subprocess.Popen(node_command(cfg), env=child_env(), stdout=out,
                                stderr=subprocess.STDOUT)
    node = psutil.Process(proc.pid)
    sent_at = {}
    try:
        if not rec.spin_until(lambda: pub.get_subscription_count() > 0, 120):
            raise RuntimeError(f'node did not subscribe; see {log}')
        msg = rgb_to_image(image, 1, 'camera_optical_frame')
        for k in range(300):  # warm up until poses come back
            msg.header.stamp.sec, msg.header.stamp.nanosec = 0, k + 1
            pub.publish(msg)
            if rec.spin_until(lambda: rec.count('/reloc_node/pose') > 0, 0.1):
                break
        else:
            raise RuntimeError(f'no pose from the node; see {log}')
        rec.messages['/reloc_node/pose'].clear()
        start = time.monotonic()
        period = 1.0 / rate
        memory = []  # (minutes, rss MB)
        next_sample = start
        k = 0
        end = start + minutes * 60.0
        while time.monotonic() < end:
            due = start + k * period
            rec.spin_until(lambda: False, max(0.0, due - time.monotonic()))
            stamp = 10**9 + k
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 10**9)
            sent_at[stamp] = time.time()
            pub.publish(msg)
            k += 1
            if time.monotonic() >= next_sample:
                memory.append(((time.monotonic() - start) / 60.0,
                               node.memory_info().rss / 2**20))
                next_sample += 5.0
            if proc.poll() is not None:
                raise RuntimeError(f'the node died (status {proc.returncode}); see {log}')
        rec.spin_until(lambda: False, 2.0)
        alive = proc.poll() is None
    finally:
        rec.close()
        proc.terminate()
        proc.wait(timeout=20)
    poses = [(wall, stamp_to_ns(m.header.stamp)) for wall, m in rec.messages['/reloc_node/pose']]
    rows = []
    t0_wall = min(sent_at.values())  # the first image of the soak
    for minute in range(int(np.ceil(minutes))):
        lo, hi = t0_wall + 60 * minute, t0_wall + 60 * (minute + 1)
        lat = [(wall - sent_at[s]) * 1e3 for wall, s in poses if s in sent_at
               and lo <= sent_at[s] < hi]
        sent = sum(lo <= t < hi for t in sent_at.values())
        rss = [mb for t, mb in memory if minute <= t < minute + 1]
        span = min(60.0, minutes * 60 - 60 * minute)
        rows.append({'minute': minute + 1, 'sent': sent, 'poses': len(lat),
                     'poses_per_s': len(lat) / span,
                     'latency_median_ms': float(np.median(lat)) if lat else float('nan'),
                     'latency_p99_ms': float(np.percentile(lat, 99)) if lat else float('nan'),
                     'rss_mb': rss[-1] if rss else float('nan')})
    all_lat = [(wall - sent_at[s]) * 1e3 for wall, s in poses if s in sent_at]
    return {'minutes': minutes, 'rate_hz': rate, 'sent': len(sent_at), 'poses': len(all_lat),
            'node_alive_at_end': alive,
            'latency_median_ms': float(np.median(all_lat)) if all_lat else float('nan'),
            'latency_p99_ms': float(np.percentile(all_lat, 99)) if all_lat else float('nan'),
            'rss_slope_mb_per_min': _slope([t for t, _ in memory], [mb for _, mb in memory]),
            'latency_slope_ms_per_min': _slope([r['minute'] for r in rows],
                                               [r['latency_median_ms'] for r in rows]),
            'rss_samples': memory, 'per_minute': rows}


def _plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for method, r in results.items():
        if 'soak' not in r:
            continue
        rows = r['soak']['per_minute']
        minutes = [row['minute'] for row in rows]
        axes[0].plot(minutes, [row['poses_per_s'] for row in rows], 'o-', label=method)
        axes[1].plot(minutes, [row['latency_median_ms'] for row in rows], 'o-',
                     label=f'{method} median')
        axes[1].plot(minutes, [row['latency_p99_ms'] for row in rows], 'x--',
                     label=f'{method} p99')
        samples = np.array(r['soak']['rss_samples'])
        axes[2].plot(samples[:, 0], samples[:, 1], '-', label=method)
    for ax, title in zip(axes, ('poses per second', 'end-to-end latency (ms)',
                                'node resident memory (MB)')):
        ax.set_title(title)
        ax.set_xlabel('minute')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    """Run the soak; print a summary and write the JSON and the plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--minutes', type=float, default=10.0, help='soak length per bundle')
    parser.add_argument('--rate', type=float, default=30.0, help='image rate (Hz)')
    parser.add_argument('--methods', nargs='+', default=['apr', 'scr'], choices=['apr', 'scr'])
    parser.add_argument('--bundle-apr', type=Path, default=None)
    parser.add_argument('--bundle-scr', type=Path, default=None)
    parser.add_argument('--bare-repeats', type=int, default=30)
    parser.add_argument('--out', type=Path,
                        default=ROOT / 'benchmarks' / 'results' / 'bench_soak.json')
    args = parser.parse_args(argv)
    from bench_ros_latency import _image_with_a_pose, _train

    from pose_reloc.data.formats.posed_folder import read_scene
    from pose_reloc.data.synthetic.generate import generate_scene
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        scene = generate_scene(work / 'scene', 'tiny', seed=0, frames=60, size=(320, 240))
        given = {'apr': args.bundle_apr, 'scr': args.bundle_scr}
        missing = [m for m in args.methods if given[m] is None]
        bundles = {**{m: given[m] for m in args.methods if given[m] is not None},
                   **(_train(work, scene, missing) if missing else {})}
        for method in args.methods:
            bundle = bundles[method]
            try:
                base = _image_with_a_pose(bundle, read_scene(scene).frames)
                image = cv2.resize(base, (640, 480), interpolation=cv2.INTER_LINEAR)
                bare = _bare(bundle, base, args.bare_repeats)
                soak = _soak(bundle, image, args.minutes, args.rate,
                             work / f'node_{method}.log')
            except RuntimeError as exc:
                results[method] = {'error': str(exc)}
                print(f'{method}: FAILED: {exc}', flush=True)
                continue
            ratio = soak['latency_median_ms'] / bare['640x480']['median_ms']
            results[method] = {'bundle': str(bundle), 'bare': bare, 'soak': soak,
                               'e2e_over_bare_640x480': ratio}
            print(f'{method}: {soak["poses"]}/{soak["sent"]} poses in {args.minutes} min, '
                  f'latency median {soak["latency_median_ms"]:.1f} ms (p99 '
                  f'{soak["latency_p99_ms"]:.1f}), bare 640x480 '
                  f'{bare["640x480"]["median_ms"]:.1f} ms (x{ratio:.2f}), RSS slope '
                  f'{soak["rss_slope_mb_per_min"]:+.2f} MB/min, latency slope '
                  f'{soak["latency_slope_ms_per_min"]:+.2f} ms/min', flush=True)
            for row in soak['per_minute']:
                print(f'  minute {row["minute"]:2d}: {row["poses_per_s"]:5.1f} poses/s, '
                      f'median {row["latency_median_ms"]:6.1f} ms, p99 '
                      f'{row["latency_p99_ms"]:6.1f} ms, RSS {row["rss_mb"]:7.1f} MB',
                      flush=True)
    report = {'benchmark': 'bench_soak',
              'command': 'python benchmarks/bench_soak.py ' + ' '.join(argv or sys.argv[1:]),
              'hardware': f'{os.cpu_count()}-core CPU ({platform.machine()}), no GPU',
              'date': datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec='seconds'),
              'fastdds_profile': str(PROFILE.relative_to(ROOT)), 'image': '640x480 rgb8',
              'results': results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + '\n')
    plot = args.out.with_suffix('.png')
    _plot(results, plot)
    print(f'wrote {args.out} and {plot}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
