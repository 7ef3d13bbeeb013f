# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc replay`` in its own process, on the shared real bag, with /clock."""

from pathlib import Path
import subprocess
import sys

from geometry_msgs.msg import PoseWithCovarianceStamped
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from pose_reloc.ros.bag_io import BagReader
from pose_reloc.ros.conversions import stamp_to_ns
from pose_reloc.ros.launcher import child_env
from pose_reloc.ros.recorder import Recorder
from pose_reloc.ros.replay import message_class

NAV2 = Path(__file__).resolve().parents[1] / '..' / 'shared' / 'data' / 'ros2_bags' / \
    'nav2_turtlebot.mcap'


@pytest.mark.skipif(not NAV2.exists(), reason='shared real bag not found')
def test_replay_publishes_the_bag_with_clock():
    with BagReader(NAV2) as bag:
        expected = [stamp_to_ns(m.msg.header.stamp) for m in bag.messages(['/amcl_pose'])]
        start_ns = bag.start_ns
    reliable = QoSProfile(depth=500, reliability=ReliabilityPolicy.RELIABLE)
    with Recorder({'/amcl_pose': (PoseWithCovarianceStamped, reliable),
                   '/clock': (Clock, 100)}, node_name='replay_test_observer') as rec:
        proc = subprocess.Popen(
            [sys.executable, '-m', 'pose_reloc.cli', 'replay', str(NAV2), '--rate', '40',
             '--clock', '--topics', '/amcl_pose', '/odom', '--wait-for', '/amcl_pose',
             '--no-progress'], env=child_env(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        finished = rec.spin_until(lambda: proc.poll() is not None, 60)
        output = proc.communicate()[0] if finished else ''
        assert finished and proc.returncode == 0, output
        assert rec.spin_until(lambda: rec.count('/amcl_pose') >= len(expected), 10), output
    got = [stamp_to_ns(m.header.stamp) for _, m in rec.messages['/amcl_pose']]
    # the first messages can race the reader's matching; the rest arrive in order
    assert len(got) >= len(expected) - 2 and got == expected[len(expected) - len(got):]
    clock_ns = [stamp_to_ns(m.clock) for _, m in rec.messages['/clock']]
    assert clock_ns and clock_ns == sorted(clock_ns)
    assert start_ns <= clock_ns[0] and clock_ns[-1] <= start_ns + 100 * 10**9
    assert '"/odom": 2639' in output


def test_message_class_lookup():
    assert message_class('geometry_msgs/msg/PoseStamped').__name__ == 'PoseStamped'
    assert message_class('no_such_pkg/msg/Thing') is None
    with pytest.raises(ValueError, match='pkg/msg/Name'):
        message_class('PoseStamped')


def test_replay_waits_for_the_image_readers_by_default(tmp_path):
    """Without --wait-for, a best-effort image reader gets every image, the first and last too.

    Here, with ``--no-wait`` the first image was lost in 2 of 3 runs; without the flush at the
    end of the replay the last one was in 2 of 3.
    """
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from pose_reloc.data.synthetic.generate import generate_scene
    from pose_reloc.ros.bag_export import export_bag
    scene = generate_scene(tmp_path / 'scene', 'tiny', seed=1, frames=60, size=(64, 48))
    bag = export_bag(scene, tmp_path / 'run.mcap', sequence='seq-01', progress=False)
    with BagReader(bag) as reader:
        expected = [stamp_to_ns(m.msg.header.stamp)
                    for m in reader.messages(['/camera/image_raw'])]
    with Recorder({'/camera/image_raw': (Image, qos_profile_sensor_data)},
                  node_name='replay_default_wait_observer') as rec:
        proc = subprocess.Popen(
            [sys.executable, '-m', 'pose_reloc.cli', 'replay', str(bag), '--rate', '4',
             '--topics', '/camera/image_raw', '--no-progress'], env=child_env(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        finished = rec.spin_until(lambda: proc.poll() is not None, 60)
        output = proc.communicate()[0] if finished else ''
        assert finished and proc.returncode == 0, output
        rec.spin_until(lambda: rec.count('/camera/image_raw') >= len(expected), 5)
        got = [stamp_to_ns(m.header.stamp) for _, m in rec.messages['/camera/image_raw']]
    missing = [expected.index(s) for s in expected if s not in got]
    assert missing == [], f'images {missing} of {len(expected)} did not arrive\n{output}'
    # nobody listening: it waits --wait-timeout, warns and replays anyway
    lonely = subprocess.run(
        [sys.executable, '-m', 'pose_reloc.cli', 'replay', str(bag), '--rate', '20',
         '--topics', '/camera/image_raw', '--wait-timeout', '1', '--no-progress'],
        env=child_env(), capture_output=True, text=True, timeout=60)
    assert lonely.returncode == 0 and 'replaying anyway' in lonely.stderr + lonely.stdout
