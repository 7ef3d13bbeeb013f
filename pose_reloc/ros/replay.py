# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Replay a rosbag2 bag on its topics with rclpy (a small ``ros2 bag play``).

Messages are published as the bag's serialized CDR (no decode / re-encode), paced by their
log times divided by ``rate``. With ``clock=True`` the bag time is published on ``/clock``
(``rosgraph_msgs/Clock``) so that nodes with ``use_sim_time`` follow the bag. Topics whose
message type is not installed (e.g. ``tf2_msgs`` on a machine without it) cannot get a
publisher: they are skipped, warned about and listed in the report.

``wait_for`` names topics that must have a subscriber before playback starts (discovery is
waited for by subscription counts, not by sleeping), which is what tests and ``bag-eval``
need so that the first frames are not lost. A topic the bag does not replay (e.g. the pose a
scorer subscribes to) is waited for in the ROS graph. By default (``wait_for=None``) playback
waits for a subscriber on each replayed image topic (Image / CompressedImage) and starts
anyway, with a warning, after the timeout: without it a node's best-effort image reader,
not yet matched to the fresh publishers, lost up to 6 of the first 30 images.
"""

import importlib
import json
import os
from pathlib import Path
import time
from typing import Dict, List, Optional, Sequence

from tqdm import tqdm

from pose_reloc.core.util import NS_PER_S
from pose_reloc.ros.bag_io import BagReader

#: publishing rate of /clock while waiting between messages (Hz), like ros2 bag play's 40 Hz.
CLOCK_HZ = 100.0
#: message types whose topics are waited for by default
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
#: after a subscriber is seen (the writer matched the reader, or the topic has a reader in
#: the graph), DDS matches the reader to the writer, and the node's pose writer to a scorer's
#: reader, a moment later; a best-effort reader drops what arrives before. 0.3 s lost the
#: first pose of bag_eval.launch.py in 1 of 5 runs on a loaded 2-core machine, 1.0 s once in a
#: fresh-clone CI run on a quiet one (seconds)
MATCH_GRACE_S = 2.0
#: after the last message, before the publishers go (best-effort readers do not acknowledge)
FLUSH_LINGER_S = 0.5


def message_class(msgtype: str):
    """Return the rclpy message class of ``pkg/msg/Name``, or None when it is not installed."""
    parts = msgtype.split('/')
    if len(parts) != 3:
        raise ValueError(f'bad message type name {msgtype!r}; expected pkg/msg/Name')
    try:
        return getattr(importlib.import_module(f'{parts[0]}.{parts[1]}'), parts[2])
    except (ImportError, AttributeError):
        return None


def _qos_for(topic: str):
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    durable = topic == '/tf_static'
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100 if durable else 10,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=(DurabilityPolicy.TRANSIENT_LOCAL if durable
                                  else DurabilityPolicy.VOLATILE))


def wait_for_subscribers(node, publishers: Dict[str, object], topics: Sequence[str],
                         timeout_s: float, strict: bool = True) -> List[str]:
    """Block until each of ``topics`` has a subscriber (by subscription count).

    A replayed topic is checked on its publisher (a matched subscription); another topic in
    the ROS graph (``count_subscribers``).

    Args:
        node: the replay's node.
        publishers: the replay's publishers by topic.
        topics: the topics to wait for.
        timeout_s: how long to wait for all of them.
        strict: raise on timeout (else return the topics still without a subscriber).

    Returns:
        The topics without a subscriber (empty unless ``strict`` is False).

    Raises:
        ValueError: ``timeout_s`` passed without a subscriber (``strict``).

    """
    deadline = time.monotonic() + timeout_s
    missing = []
    for topic in topics:
        pub = publishers.get(topic)
        while (pub.get_subscription_count() if pub is not None
               else node.count_subscribers(topic)) == 0:
            if time.monotonic() > deadline:
                if strict:
                    raise ValueError(f'no subscriber on {topic} after {timeout_s:.0f} s')
                missing.append(topic)
                break
            time.sleep(0.01)
    if len(missing) < len(topics):
        time.sleep(MATCH_GRACE_S)
    return missing


def replay_bag(bag, rate: float = 1.0, clock: bool = False,
               topics: Optional[Sequence[str]] = None,
               wait_for: Optional[Sequence[str]] = None,
               wait_timeout_s: float = 30.0, publish_log: Optional[str] = None,
               progress: bool = True, node=None, typestore: str = 'auto') -> dict:
    """Publish a bag's messages on their topics, in log-time order, paced by ``rate``.

    Args:
        bag: rosbag2 directory, ``.mcap`` or ``.db3``.
        rate: playback speed factor (> 0); 2.0 plays twice as fast.
        clock: publish the bag time on ``/clock`` (for ``use_sim_time``).
        topics: topics to replay (None: all with an installed message type).
        wait_for: topics that need a subscriber before playback starts (replayed or not);
            None: the replayed image topics, and start anyway after the timeout; ``()``:
            do not wait.
        wait_timeout_s: how long to wait for those subscribers.
        publish_log: write a JSON list ``[topic, header stamp ns, wall time s]`` of every
            published message whose first field is a header (for end-to-end latency).
        progress: show a tqdm progress bar.
        node: an rclpy node to publish from (None: create ``bag_replay``; rclpy must be
            initialized either way).
        typestore: ``auto`` or a rosbags store name for bags without message definitions
            (the bag's CDR is published as is; the store only names the types).

    Returns:
        Report dict: ``published`` ({topic: count}), ``skipped_topics`` ({topic: reason}),
        ``wall_time_s``, ``bag_duration_s``, ``rate``, ``bag_notes`` (how the bag was read,
        e.g. a newer metadata version).

    Raises:
        FileNotFoundError: the bag is missing.
        ValueError: ``rate <= 0``, unknown topics, nothing to replay, no subscriber in time,
            a ROS 1 bag (its messages are not CDR: convert it with ``rosbags-convert``), an
            unreadable bag (``BagError``).

    """
    from rclpy.node import Node
    if not rate > 0:
        raise ValueError(f'rate must be > 0, got {rate}')
    own_node = node is None
    node = node or Node('bag_replay')
    publishers: Dict[str, object] = {}
    stamped: Dict[str, bool] = {}
    skipped: Dict[str, str] = {}
    published: Dict[str, int] = {}
    log: List[list] = []
    try:
        with BagReader(bag, typestore) as reader:
            if reader.is_ros1:
                raise ValueError(f'{reader.path} is a ROS 1 bag: replay publishes rosbag2 CDR; '
                                 f'convert it first (rosbags-convert --src {reader.path} --dst '
                                 'OUT_DIR) or use extract, which reads it directly')
            available = reader.topics
            unknown = [t for t in (topics or []) if t not in available]
            if unknown:
                raise ValueError(f'topics {unknown} are not in {reader.path}; it has '
                                 f'{sorted(available)}')
            for name, info in available.items():
                if topics is not None and name not in topics:
                    continue
                cls = message_class(info.msgtype)
                if cls is None:
                    skipped[name] = f'message type {info.msgtype} is not installed'
                    node.get_logger().warning(f'not replaying {name}: {skipped[name]}')
                    continue
                publishers[name] = node.create_publisher(cls, name, _qos_for(name))
                stamped[name] = 'header' in cls.get_fields_and_field_types()
                published[name] = 0
            if not publishers:
                raise ValueError(f'nothing to replay from {reader.path}: {skipped}')
            clock_pub = None
            if clock:
                from rosgraph_msgs.msg import Clock
                from rclpy.qos import QoSProfile
                clock_pub = node.create_publisher(Clock, '/clock', QoSProfile(depth=10))
            if wait_for is None:
                images = [t for t in publishers if available[t].msgtype in IMAGE_TYPES]
                missing = wait_for_subscribers(node, publishers, images, wait_timeout_s,
                                               strict=False)
                if missing:
                    node.get_logger().warning(f'no subscriber on {missing} after '
                                              f'{wait_timeout_s:.0f} s: replaying anyway')
            else:
                wait_for_subscribers(node, publishers, list(wait_for), wait_timeout_s)
            started = time.monotonic()
            first_ns = None
            for m in tqdm(reader.messages(list(publishers), deserialize=False),
                          total=reader.count(list(publishers)), desc='replay', unit='msg',
                          disable=not progress):
                if first_ns is None:
                    first_ns = m.log_time_ns
                due = started + (m.log_time_ns - first_ns) / 1e9 / rate
                _wait_until(due, clock_pub, m.log_time_ns, first_ns, started, rate)
                if clock_pub is not None:
                    _publish_clock(clock_pub, m.log_time_ns)
                publishers[m.topic].publish(m.raw)
                published[m.topic] += 1
                if publish_log is not None and stamped[m.topic]:
                    log.append([m.topic, _header_stamp_ns(m.raw), time.time()])
            wall = time.monotonic() - started
            duration = (reader.end_ns - reader.start_ns) / 1e9
            notes = list(reader.notes)
            _flush(publishers.values())
    finally:
        if own_node:
            node.destroy_node()
    if publish_log is not None:
        tmp = Path(str(publish_log) + '.tmp')
        tmp.write_text(json.dumps(log))
        os.replace(tmp, publish_log)
    return {'bag': str(bag), 'published': published, 'skipped_topics': skipped,
            'wall_time_s': wall, 'bag_duration_s': duration, 'rate': rate, 'bag_notes': notes}


def _flush(publishers, timeout_s: float = 2.0) -> None:
    """Let the last messages leave before the publishers are destroyed.

    Reliable readers acknowledge (``wait_for_all_acked``); best-effort readers do not, and
    the writer sends asynchronously: without the linger the last image of a replay did not
    reach a best-effort reader (2 of 3 runs here).
    """
    from rclpy.duration import Duration
    for pub in publishers:
        wait = getattr(pub, 'wait_for_all_acked', None)
        if wait is not None:
            wait(Duration(seconds=timeout_s))
    time.sleep(FLUSH_LINGER_S)


def _publish_clock(pub, bag_ns: int) -> None:
    from rosgraph_msgs.msg import Clock
    from pose_reloc.ros.conversions import ns_to_stamp
    pub.publish(Clock(clock=ns_to_stamp(bag_ns)))


def _wait_until(due: float, clock_pub, next_ns: int, first_ns: int, started: float,
                rate: float) -> None:
    """Sleep until ``due`` (monotonic s), publishing /clock meanwhile (never past ``next_ns``)."""
    while True:
        remaining = due - time.monotonic()
        if remaining <= 0:
            return
        if clock_pub is None:
            time.sleep(remaining)
            return
        time.sleep(min(remaining, 1.0 / CLOCK_HZ))
        now_ns = first_ns + int((time.monotonic() - started) * rate * 1e9)
        _publish_clock(clock_pub, min(now_ns, next_ns))


def _header_stamp_ns(raw: bytes) -> int:
    """Return the header stamp of a CDR message whose first field is a std_msgs/Header.

    Such a message begins (after the 4-byte encapsulation) with ``int32 sec`` and
    ``uint32 nanosec``.
    """
    order = 'little' if raw[1] == 1 else 'big'
    sec = int.from_bytes(raw[4:8], order, signed=True)
    nanosec = int.from_bytes(raw[8:12], order, signed=False)
    return sec * NS_PER_S + nanosec


def replay_bag_standalone(bag, **kwargs) -> dict:
    """Initialize rclpy, run :func:`replay_bag` (same keyword arguments), shut rclpy down."""
    import rclpy

    rclpy.init()
    try:
        return replay_bag(bag, **kwargs)
    finally:
        rclpy.try_shutdown()
