# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The ROS 2 environment the tests rely on: isolation settings, tf2_msgs, shared-memory images.

test/conftest.py sets a private ROS_DOMAIN_ID and the shared-memory-only Fast DDS profile
(config/fastdds_shm.xml) before rclpy is imported; these tests check that the settings are in
force and that messages really flow with them, in one process and between two processes.
"""

import json
import os
from pathlib import Path
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PROFILE = REPO_ROOT / 'config' / 'fastdds_shm.xml'
NS = {'dds': 'http://www.eprosima.com'}

IMAGE_PUBLISHER = textwrap.dedent("""
    import time

    import numpy as np
    import rclpy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node('env_test_image_publisher')
    publisher = node.create_publisher(Image, 'env_test_image', 10)
    deadline = time.monotonic() + 30.0
    while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    rgb_hw3 = (np.arange(480 * 640 * 3, dtype=np.uint32) % 251).astype(np.uint8)
    message = Image(height=480, width=640, encoding='rgb8', step=640 * 3,
                    data=rgb_hw3.tobytes())
    message.header.frame_id = 'camera_optical_frame'
    # Publish until the subscriber has left (or 30 s), then shut down cleanly.
    end = time.monotonic() + 30.0
    while publisher.get_subscription_count() > 0 and time.monotonic() < end:
        publisher.publish(message)
        time.sleep(0.05)
    node.destroy_node()
    rclpy.shutdown()
""")

IMAGE_SUBSCRIBER = textwrap.dedent("""
    import hashlib
    import json
    import time

    import rclpy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node('env_test_image_subscriber')
    received = []
    node.create_subscription(Image, 'env_test_image', received.append, 10)
    deadline = time.monotonic() + 30.0
    while len(received) < 3 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()
    first = received[0] if received else None
    print(json.dumps({
        'count': len(received),
        'width': first.width if first else None,
        'height': first.height if first else None,
        'encoding': first.encoding if first else None,
        'frame_id': first.header.frame_id if first else None,
        'sha256': hashlib.sha256(bytes(first.data)).hexdigest() if first else None,
    }))
""")


def test_conftest_isolates_ros(monkeypatch):
    """The session runs on a private domain with the shared-memory Fast DDS profile."""
    import conftest
    assert os.environ['RMW_IMPLEMENTATION']
    assert Path(os.environ['FASTDDS_DEFAULT_PROFILES_FILE']) == PROFILE
    domains = set()
    for _ in range(20):
        monkeypatch.delenv('ROS_DOMAIN_ID', raising=False)
        conftest._isolate_ros()
        domains.add(int(os.environ['ROS_DOMAIN_ID']))
    # random (not a fixed default such as 0) and below 100 (see conftest's docstring)
    assert len(domains) > 1 and min(domains) >= 1 and max(domains) <= 99
    monkeypatch.setenv('ROS_DOMAIN_ID', '42')
    conftest._isolate_ros()
    assert os.environ['ROS_DOMAIN_ID'] == '42'  # a caller's (CI's) domain is kept


def test_fastdds_profile_is_shared_memory_only():
    """The default participant profile uses one SHM transport with 32 MB segments."""
    root = ET.parse(PROFILE).getroot()
    descriptors = root.findall('.//dds:transport_descriptor', NS)
    assert [d.findtext('dds:type', namespaces=NS) for d in descriptors] == ['SHM']
    assert int(descriptors[0].findtext('dds:segment_size', namespaces=NS)) == 32 * 1024 * 1024
    participant = root.find('.//dds:participant', NS)
    assert participant.get('is_default_profile') == 'true'
    rtps = participant.find('dds:rtps', NS)
    assert rtps.findtext('dds:useBuiltinTransports', namespaces=NS) == 'false'
    assert rtps.findtext('dds:userTransports/dds:transport_id', namespaces=NS) == \
        descriptors[0].findtext('dds:transport_id', namespaces=NS)


@pytest.mark.ros
def test_tf2_msgs_publish_subscribe_in_process():
    """A TFMessage published with rclpy arrives intact at a subscriber of the same process."""
    from geometry_msgs.msg import TransformStamped
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from tf2_msgs.msg import TFMessage

    context = Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node('env_test_tf', context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        received = []
        node.create_subscription(TFMessage, 'env_test_tf', received.append, 10)
        publisher = node.create_publisher(TFMessage, 'env_test_tf', 10)
        transform = TransformStamped()
        transform.header.frame_id = 'map'
        transform.child_frame_id = 'odom'
        transform.transform.translation.x = 1.25
        transform.transform.rotation.z = 0.6
        transform.transform.rotation.w = 0.8
        deadline = time.monotonic() + 20.0
        while not received and time.monotonic() < deadline:
            publisher.publish(TFMessage(transforms=[transform]))
            executor.spin_once(timeout_sec=0.1)
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    assert received, 'no TFMessage received within 20 s'
    got = received[0].transforms[0]
    assert (got.header.frame_id, got.child_frame_id) == ('map', 'odom')
    assert got.transform.translation.x == 1.25
    assert (got.transform.rotation.z, got.transform.rotation.w) == (0.6, 0.8)


@pytest.mark.ros
def test_image_between_processes_over_shared_memory(tmp_path):
    """A 640x480 rgb8 Image travels intact from one process to another with the profile."""
    import hashlib

    import numpy as np

    (tmp_path / 'publisher.py').write_text(IMAGE_PUBLISHER)
    (tmp_path / 'subscriber.py').write_text(IMAGE_SUBSCRIBER)
    subscriber = subprocess.Popen([sys.executable, 'subscriber.py'], cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    publisher = subprocess.Popen([sys.executable, 'publisher.py'], cwd=tmp_path,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        out, err = subscriber.communicate(timeout=60)
        publisher_err = publisher.communicate(timeout=30)[1]
    finally:
        for process in (publisher, subscriber):
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    assert subscriber.returncode == 0, err
    assert publisher.returncode == 0, publisher_err
    result = json.loads(out.strip().splitlines()[-1])
    expected = (np.arange(480 * 640 * 3, dtype=np.uint32) % 251).astype(np.uint8)
    assert result['count'] >= 3, f'subscriber received {result["count"]} images: {err}'
    assert (result['width'], result['height'], result['encoding']) == (640, 480, 'rgb8')
    assert result['frame_id'] == 'camera_optical_frame'
    assert result['sha256'] == hashlib.sha256(expected.tobytes()).hexdigest()
