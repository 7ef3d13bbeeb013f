# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The AMCL hand-off: agreement arithmetic, and the node beside a stand-in AMCL.

The stand-in AMCL is this test process: it subscribes ``/initialpose`` with the QoS nav2 AMCL
uses (reliable, volatile, depth 10) and publishes ``/amcl_pose`` with AMCL's (reliable,
transient_local, depth 1). The node runs in its own process with a scripted localizer: the
first pixel value ``v`` of an image gives a camera at ``x = v / 100`` m in the map.
"""

import math

from geometry_msgs.msg import PoseWithCovarianceStamped
import numpy as np
import pytest
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from ros_stand_in import start_stand_in, stop
from sensor_msgs.msg import Image

from pose_reloc.geometry.se3 import T_from_pos_quat
from pose_reloc.ros.conversions import (msg_covariance, msg_to_T, rgb_to_image, stamp_to_ns,
                                        T_to_pose_with_covariance_stamped,
                                        T_to_transform_stamped)
from pose_reloc.ros.handoff import (agree, amcl_divergence, Fix, FixWindow, HandoffConfig,
                                    planar_disagreement)
from pose_reloc.ros.recorder import Recorder
from pose_reloc.ros.reloc_node import tf_message_type, TF_QOS

#: what nav2 AMCL subscribes /initialpose with (SystemDefaultsQoS / StandardTopicQoS)
AMCL_INITIAL_POSE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                                   reliability=ReliabilityPolicy.RELIABLE,
                                   durability=DurabilityPolicy.VOLATILE)
#: what nav2 AMCL publishes /amcl_pose with
AMCL_POSE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                           reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)
TF_TYPE = tf_message_type()
COV = np.diag([0.01, 0.01, 0.02, 0.001, 0.001, 0.002])


def _pose(x, y=0.0, yaw=0.0):
    return T_from_pos_quat(np.array([x, y, 0.0]),
                           np.array([0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)]))


# ---------------------------------------------------------------------- arithmetic
def test_odometry_removes_the_motion_between_agreeing_fixes():
    # the robot drives 0.2 m per frame and turns; each fix is right at its own time
    fixes = [Fix(k, _pose(1.0 + 0.2 * k, 0.1 * k, 0.05 * k), COV,
                 _pose(0.2 * k, 0.1 * k, 0.05 * k)) for k in range(5)]
    result = agree(fixes, 0.05, 0.02)
    assert result.ok and result.odometry and result.stamp_ns == 4
    np.testing.assert_allclose(result.T_map_base, fixes[-1].T_map_base, atol=1e-9)
    assert np.all(np.linalg.eigvalsh(result.covariance) > 0)
    # without odometry the same fixes are 0.8 m apart: no agreement
    still = agree([Fix(f.stamp_ns, f.T_map_base, f.covariance) for f in fixes], 0.05, 0.02)
    assert not still.ok and not still.odometry and still.spread_translation > 0.3


def test_disagreeing_fixes_and_the_combined_covariance():
    fixes = [Fix(k, _pose(0.5 if k % 2 else 0.9), COV) for k in range(4)]
    result = agree(fixes, 0.15, 0.2)
    assert not result.ok and result.spread_translation == pytest.approx(0.2)
    # mean covariance (not divided by the count: the errors are correlated) plus the spread
    assert result.covariance[0, 0] == pytest.approx(COV[0, 0] + 0.04)
    assert result.T_map_base[0, 3] == pytest.approx(0.7)


def test_window_and_amcl_checks():
    window = FixWindow(3, 0.1, 0.1)
    assert window.add(Fix(0, _pose(1.0), COV)) is None and len(window) == 1
    window.add(Fix(1, _pose(1.0), COV))
    assert window.add(Fix(2, _pose(1.01), COV)).ok
    window.clear()
    assert len(window) == 0 and window.last is None
    lost = np.diag([2.0, 0.1, 0.0, 0.0, 0.0, 0.05])
    assert 'position std 1.41 m' in amcl_divergence(lost, 0.5, 0.3)
    assert 'yaw std' in amcl_divergence(np.diag([0.01, 0.01, 0, 0, 0, 1.0]), 0.5, 0.3)
    assert amcl_divergence(np.diag([0.01, 0.01, 0, 0, 0, 0.01]), 0.5, 0.3) is None
    distance, angle = planar_disagreement(_pose(0, 0, 3.1), _pose(3, 4, -3.1))
    assert distance == pytest.approx(5.0) and angle == pytest.approx(2 * math.pi - 6.2)
    with pytest.raises(ValueError, match='relocalize_frames'):
        HandoffConfig(frames=0)
    with pytest.raises(ValueError, match='auto_cooldown'):
        HandoffConfig(auto_cooldown_s=-1.0)


# ---------------------------------------------------------------------- the node and AMCL
def _start(tmp_path, name, *params):
    log = tmp_path / f'{name}.log'
    args = ['-r', f'__node:={name}', '-r', f'image:=/{name}/cam', '-p', 'tf_mode:=none',
            '-p', 'log_throttle_s:=0.0', '-p', 'diagnostics_period:=0.2']
    for param in params:
        args += ['-p', param]
    return start_stand_in(log, args), log


def _image(value, stamp_ns):
    return rgb_to_image(np.full((16, 16, 3), value, np.uint8), stamp_ns, 'cam_optical')


class _Graph:
    """The test's side: image and odometry publishers, stand-in AMCL, service client."""

    def __init__(self, name, log):
        from std_srvs.srv import Trigger
        self.name, self.log = name, log
        self.rec = Recorder({'/initialpose': (PoseWithCovarianceStamped,
                                              AMCL_INITIAL_POSE_QOS)},
                            node_name=f'{name}_amcl_stand_in')
        self.images = self.rec.publisher(Image, f'/{name}/cam', 10)
        self.amcl = self.rec.publisher(PoseWithCovarianceStamped, '/amcl_pose', AMCL_POSE_QOS)
        self.tf = self.rec.publisher(TF_TYPE, '/tf', TF_QOS) if TF_TYPE is not None else None
        self.client = self.rec.node.create_client(Trigger, f'/{name}/relocalize')
        ok = self.rec.spin_until(
            lambda: (self.images.get_subscription_count() > 0 and self.client.service_is_ready()
                     and self.rec.node.count_publishers('/initialpose') > 0), 30)
        assert ok, f'node did not come up:\n{log.read_text()}'

    def call(self):
        from std_srvs.srv import Trigger
        return self.client.call_async(Trigger.Request())

    def close(self):
        self.rec.close()


def test_relocalize_sends_one_odometry_compensated_initial_pose(tmp_path):
    if TF_TYPE is None:
        pytest.skip('tf2_msgs is not importable: no odometry input')
    proc, log = _start(tmp_path, 'reloc_srv', 'relocalize_frames:=5',
                       'relocalize_timeout:=20.0', 'relocalize_max_translation:=0.05')
    graph = _Graph('reloc_srv', log)
    try:
        future = graph.call()
        k = 0
        while not future.done() and k < 40:
            # the robot drives 0.05 m per frame; odometry and camera say so
            stamp = 10**9 + k * 10**8
            graph.tf.publish(TF_TYPE(transforms=[
                T_to_transform_stamped(_pose(0.05 * j), 10**9 + j * 10**8, 'odom', 'base_link')
                for j in (k - 1, k, k + 1)]))
            graph.rec.spin_until(lambda: False, 0.03)
            graph.images.publish(_image(20 + 5 * k, stamp))
            graph.rec.spin_until(future.done, 0.1)
            k += 1
        assert future.done(), log.read_text()
        response = future.result()
        assert response.success, response.message
        assert 'odometry-compensated' in response.message and '5 frames' in response.message
        assert graph.rec.spin_until(lambda: graph.rec.count('/initialpose') == 1, 5)
        graph.rec.spin_until(lambda: False, 0.5)
        assert graph.rec.count('/initialpose') == 1
        msg = graph.rec.last('/initialpose')
        assert msg.header.frame_id == 'map'
        j = (stamp_to_ns(msg.header.stamp) - 10**9) // 10**8
        # the base (camera_mount identity) at the newest image time
        np.testing.assert_allclose(msg_to_T(msg)[:3, 3], [0.2 + 0.05 * j, 0, 0], atol=1e-6)
        assert np.all(np.linalg.eigvalsh(msg_covariance(msg)) > 0)
        assert 'hand-off #1' in log.read_text()
    finally:
        graph.close()
        stop(proc)


def test_disagreeing_frames_give_no_handoff_and_a_clear_response(tmp_path):
    proc, log = _start(tmp_path, 'reloc_bad', 'relocalize_frames:=3', 'relocalize_timeout:=2.0')
    graph = _Graph('reloc_bad', log)
    try:
        future = graph.call()
        k = 0
        while not future.done() and k < 100:
            graph.images.publish(_image(30 if k % 2 else 90, 10**9 + k))
            graph.rec.spin_until(future.done, 0.1)
            k += 1
        assert future.done(), log.read_text()
        response = future.result()
        assert not response.success
        assert 'no agreement of 3 frames' in response.message
        assert 'relocalize_max_translation' in response.message
        assert graph.rec.count('/initialpose') == 0
    finally:
        graph.close()
        stop(proc)


def test_a_diverged_amcl_is_reinitialized_once(tmp_path):
    proc, log = _start(tmp_path, 'reloc_auto', 'auto_relocalize:=true', 'auto_cooldown:=60.0',
                       'relocalize_frames:=3')
    graph = _Graph('reloc_auto', log)
    try:
        assert graph.rec.spin_until(lambda: graph.amcl.get_subscription_count() > 0, 30)
        lost = T_to_pose_with_covariance_stamped(_pose(4.0, 2.0), np.diag([3.0] * 6), 10**9,
                                                 'map')
        for k in range(60):  # AMCL stays lost (large covariance) for the whole run
            graph.amcl.publish(lost)
            graph.images.publish(_image(70, 10**9 + k))
            graph.rec.spin_until(lambda: False, 0.05)
        graph.rec.spin_until(lambda: False, 0.5)
        assert graph.rec.count('/initialpose') == 1, log.read_text()
        np.testing.assert_allclose(msg_to_T(graph.rec.last('/initialpose'))[0, 3], 0.7)
        text = log.read_text()
        assert 'hand-off #1' in text and 'automatic' in text and 'hand-off #2' not in text
    finally:
        graph.close()
        stop(proc)
