# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Do 640x480 images arrive? Image delivery on one host under several Fast DDS settings.

A camera-driver stand-in (its own process) publishes ``sensor_msgs/Image`` rgb8 frames at a
fixed rate with the QoS camera drivers use (reliable, keep last 10); a node stand-in (another
process) subscribes the way ``reloc_node`` does (``qos_profile_sensor_data``: best effort,
keep last 5) and counts what arrives and how late (header stamp = publish time, one clock).
The publisher waits for the subscription and sends one second of warm-up frames first, so
only the steady state is counted.

Each configuration sets the Fast DDS environment of the publisher and of the subscriber:

- ``defaults``: no profile (Fast DDS's builtin transports: UDPv4 + shared memory with 512 KB
  segments): a 0.9 MB image does not fit the driver's segment, goes over UDP loopback in
  ~15 fragments, and a best-effort sample is lost when one fragment is;
- ``node_profile_only``: the node uses ``config/fastdds_camera.xml``, the driver the defaults
  (the writer's segment and sockets decide: not enough);
- ``camera_profile``: both use ``config/fastdds_camera.xml`` (shared memory with 32 MB
  segments, larger UDP socket buffers for other hosts);
- ``large_data``: ``FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA`` for both (Fast DDS >= 2.13:
  shared memory on one host, TCP between hosts, UDP for discovery only);
- ``udp_only`` / ``udp_4mb_buffers``: both use UDPv4 alone (what crosses hosts; here over
  loopback), with the default socket buffers / with 4 MB send and receive buffers (the
  kernel caps them at ``net.core.rmem_max`` / ``wmem_max``).

Writes ``benchmarks/results/bench_transport.json`` and prints a table::

    python benchmarks/bench_transport.py [--size 640x480] [--rate 30] [--seconds 5]
"""

import argparse
import datetime
import json
import os
from pathlib import Path
import platform
import random
import subprocess
import sys
import tempfile
import time
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / 'config' / 'fastdds_camera.xml'
TOPIC = '/bench_transport/image_raw'
PROFILE_VARS = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE',
                'FASTDDS_BUILTIN_TRANSPORTS', 'RMW_FASTRTPS_USE_QOS_FROM_XML')


UDP_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns="http://www.eprosima.com"><profiles>
  <transport_descriptors><transport_descriptor>
    <transport_id>udp</transport_id><type>UDPv4</type>{buffers}
  </transport_descriptor></transport_descriptors>
  <participant profile_name="udp_only" is_default_profile="true"><rtps>
    <userTransports><transport_id>udp</transport_id></userTransports>
    <useBuiltinTransports>false</useBuiltinTransports>
  </rtps></participant>
</profiles></dds>
"""
BUFFERS = '<sendBufferSize>4194304</sendBufferSize><receiveBufferSize>4194304</receiveBufferSize>'


def _profile(kind: str, work: Path) -> Optional[Path]:
    """Return the XML profile of a process (None: Fast DDS defaults)."""
    if kind == 'camera':
        return PROFILE
    if kind in ('udp', 'udp_buffers'):
        path = work / f'{kind}.xml'
        path.write_text(UDP_PROFILE.format(buffers=BUFFERS if kind == 'udp_buffers' else ''))
        return path
    return None


def _env(domain: int, kind: str, work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in PROFILE_VARS}
    env.update(ROS_DOMAIN_ID=str(domain), RMW_IMPLEMENTATION='rmw_fastrtps_cpp',
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get('PYTHONPATH', '')]))
    profile = _profile(kind, work)
    if profile is not None:
        env['FASTDDS_DEFAULT_PROFILES_FILE'] = str(profile)
        env['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(profile)
    if kind == 'large_data':
        env['FASTDDS_BUILTIN_TRANSPORTS'] = 'LARGE_DATA'
    return env


#: configuration -> (publisher's settings, subscriber's settings)
CONFIGS = {
    'defaults': ('defaults', 'defaults'),
    'node_profile_only': ('defaults', 'camera'),
    'camera_profile': ('camera', 'camera'),
    'large_data': ('large_data', 'large_data'),
    'udp_only': ('udp', 'udp'),
    'udp_4mb_buffers': ('udp_buffers', 'udp_buffers'),
}


def _publisher(width: int, height: int, rate: float, seconds: float) -> int:
    import numpy as np
    import rclpy
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import Image
    rclpy.init()
    node = rclpy.create_node('bench_camera')
    pub = node.create_publisher(Image, TOPIC, QoSProfile(depth=10))  # reliable, keep last 10
    deadline = time.monotonic() + 60
    while pub.get_subscription_count() == 0:
        if time.monotonic() > deadline:
            print('no subscriber', file=sys.stderr)
            return 1
        time.sleep(0.01)
    msg = Image(height=height, width=width, encoding='rgb8', step=3 * width)
    msg.data = np.random.default_rng(0).integers(0, 255, 3 * width * height,
                                                 dtype=np.uint8).tobytes()
    period = 1.0 / rate
    sent = 0
    start = time.monotonic()
    total = int((1.0 + seconds) * rate)
    for i in range(total):
        due = start + i * period
        time.sleep(max(0.0, due - time.monotonic()))
        now = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
        msg.header.frame_id = 'warmup' if i < rate else 'measure'
        pub.publish(msg)
        sent += i >= rate
    elapsed = time.monotonic() - start
    print(json.dumps({'sent': sent, 'publish_hz': total / elapsed}))
    time.sleep(1.0)  # let the last frames arrive before the subscriber sees us leave
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def _subscriber(seconds: float) -> int:
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    rclpy.init()
    node = rclpy.create_node('bench_node')
    latencies = []

    def on_image(msg):
        if msg.header.frame_id == 'measure':
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            latencies.append((time.time_ns() - stamp) / 1e6)

    node.create_subscription(Image, TOPIC, on_image, qos_profile_sensor_data)
    # until the publisher has come and gone (it lingers a second after its last frame)
    deadline = time.monotonic() + 90 + seconds
    seen = False
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
        publishers = node.count_publishers(TOPIC)
        seen = seen or publishers > 0
        if seen and publishers == 0:
            break
    print(json.dumps({'received': len(latencies), 'latencies_ms': latencies}))
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def _run_config(name: str, width: int, height: int, rate: float, seconds: float) -> dict:
    import numpy as np
    pub_kind, sub_kind = CONFIGS[name]
    work = Path(tempfile.mkdtemp(prefix='bench_transport_'))
    domain = random.SystemRandom().randint(150, 230)
    script = str(Path(__file__).resolve())
    common = ['--size', f'{width}x{height}', '--rate', str(rate), '--seconds', str(seconds)]
    sub = subprocess.Popen([sys.executable, script, '--role', 'sub'] + common,
                           env=_env(domain, sub_kind, work), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    pub = subprocess.Popen([sys.executable, script, '--role', 'pub'] + common,
                           env=_env(domain, pub_kind, work), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    pub_out, pub_err = pub.communicate(timeout=120 + seconds)
    sub_out, sub_err = sub.communicate(timeout=30)
    if pub.returncode or sub.returncode:
        raise RuntimeError(f'{name}: publisher {pub.returncode} {pub_err[-2000:]}\n'
                           f'subscriber {sub.returncode} {sub_err[-2000:]}')
    p, s = json.loads(pub_out.strip().splitlines()[-1]), json.loads(
        sub_out.strip().splitlines()[-1])
    lat = np.array(s['latencies_ms']) if s['latencies_ms'] else np.array([np.nan])
    return {'sent': p['sent'], 'received': s['received'],
            'delivered_fraction': s['received'] / max(p['sent'], 1),
            'publish_hz': p['publish_hz'], 'latency_median_ms': float(np.median(lat)),
            'latency_p99_ms': float(np.percentile(lat, 99))}


def main(argv=None) -> int:
    """Run the benchmark (or one of its two processes, ``--role``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', default='640x480', help='WIDTHxHEIGHT of the rgb8 images')
    parser.add_argument('--rate', type=float, default=30.0, help='frames per second')
    parser.add_argument('--seconds', type=float, default=5.0, help='measured seconds')
    parser.add_argument('--configs', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument('--role', choices=('pub', 'sub'), default=None, help=argparse.SUPPRESS)
    parser.add_argument('--out', type=Path,
                        default=ROOT / 'benchmarks' / 'results' / 'bench_transport.json')
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split('x'))
    if args.role == 'pub':
        return _publisher(width, height, args.rate, args.seconds)
    if args.role == 'sub':
        return _subscriber(args.seconds)
    results = {}
    for name in args.configs:
        results[name] = _run_config(name, width, height, args.rate, args.seconds)
        r = results[name]
        print(f'{name:18s} sent {r["sent"]:4d} received {r["received"]:4d} '
              f'({100 * r["delivered_fraction"]:5.1f} %)  latency median '
              f'{r["latency_median_ms"]:6.2f} ms  p99 {r["latency_p99_ms"]:6.2f} ms', flush=True)
    report = {'benchmark': 'bench_transport',
              'command': 'python benchmarks/bench_transport.py ' + ' '.join(
                  argv if argv is not None else sys.argv[1:]),
              'date': datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec='seconds'),
              'machine': f'{platform.machine()}, {os.cpu_count()} CPUs',
              'image': f'{width}x{height} rgb8 ({3 * width * height} bytes)',
              'rate_hz': args.rate, 'seconds': args.seconds,
              'publisher_qos': 'reliable, keep last 10',
              'subscriber_qos': 'qos_profile_sensor_data (best effort, keep last 5)',
              'profile': str(PROFILE.relative_to(ROOT)), 'results': results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + '\n')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
