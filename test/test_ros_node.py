# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The node in its own process, driven with a scripted test-double localizer.

The double (``stand_in_node.py`` with ``--scripted``) maps the first pixel value of an image
to a behaviour, so that each case is one image: 1 -> a NaN pose, 2 -> confidence 0.1 (below
the threshold), 3 -> slow (0.6 s), otherwise a pose whose x = value / 100 m. The real-model
end-to-end test is test_ros_e2e.py.
"""

import os
from pathlib import Path
import subprocess
import sys

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
import numpy as np
import pytest
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from ros_stand_in import start_stand_in, stop
from sensor_msgs.msg import Image

from pose_reloc.ros.conversions import msg_covariance, msg_to_T, rgb_to_image, stamp_to_ns
from pose_reloc.ros.launcher import child_env
from pose_reloc.ros.recorder import Recorder
from pose_reloc.ros.reloc_node import POSE_QOS, tf_message_type, TF_QOS

NODE = '/reloc_node'
TF_TYPE = tf_message_type()


@pytest.fixture(scope='module')
def graph(tmp_path_factory):
    """Start the node process with the double; yield (recorder, image publisher, log path)."""
    log = tmp_path_factory.mktemp('node') / 'node.log'
    topics = {f'{NODE}/pose': (PoseWithCovarianceStamped, POSE_QOS),
              f'{NODE}/pose_stamped': (PoseStamped, 10),
              '/diagnostics': (DiagnosticArray, 10)}
    if TF_TYPE is not None:
        topics['/tf'] = (TF_TYPE, TF_QOS)
    proc = start_stand_in(log, ['-r', 'image:=/cam/image_raw', '-p', 'min_confidence:=0.5',
                                '-p', 'diagnostics_period:=0.2', '-p', 'log_throttle_s:=0.0'],
                          scripted=True)
    rec = Recorder(topics, node_name='node_test_observer')
    pub = rec.publisher(Image, '/cam/image_raw', 10)
    try:
        assert rec.spin_until(lambda: pub.get_subscription_count() > 0
                              and rec.node.count_publishers(f'{NODE}/pose') > 0, 30), \
            f'node did not come up:\n{log.read_text()}'
        # a best-effort reader drops samples of a writer it has not matched yet, even when
        # the writer has matched it: repeat a first frame until its pose comes back
        for _ in range(40):
            pub.publish(_image(50, 1))
            if rec.spin_until(lambda: rec.count(f'{NODE}/pose') > 0, 0.5):
                break
        assert rec.count(f'{NODE}/pose') > 0, f'no pose from the node:\n{log.read_text()}'
        yield rec, pub, log
    finally:
        rec.close()
        stop(proc)


def _image(value, stamp_ns, frame='cam_optical'):
    pixels = np.full((24, 32, 3), value, np.uint8)
    return rgb_to_image(pixels, stamp_ns, frame)


def _send_and_wait(rec, pub, msg, expect_pose: bool, timeout=10.0):
    before = rec.count(f'{NODE}/pose')
    processed_before = _diag(rec).get('frames_processed', '0')
    pub.publish(msg)
    if expect_pose:
        assert rec.spin_until(lambda: rec.count(f'{NODE}/pose') > before, timeout)
    else:
        # the node says (in diagnostics) that it has processed the frame, without a pose
        assert rec.spin_until(lambda: int(_diag(rec).get('frames_processed', '0'))
                              > int(processed_before), timeout)
        assert rec.count(f'{NODE}/pose') == before


def _diag(rec):
    last = rec.last('/diagnostics')
    return {} if last is None else {kv.key: kv.value for kv in last.status[0].values}


def test_pose_has_the_image_stamp_frames_and_a_covariance(graph):
    rec, pub, _ = graph
    stamp = 1_700_000_000_123_456_789
    _send_and_wait(rec, pub, _image(50, stamp), expect_pose=True)
    msg = rec.last(f'{NODE}/pose')
    assert stamp_to_ns(msg.header.stamp) == stamp and msg.header.frame_id == 'map'
    assert msg_to_T(msg)[0, 3] == pytest.approx(0.5)
    cov = msg_covariance(msg)
    np.testing.assert_allclose(np.diag(cov), [0.01, 0.02, 0.03, 0.001, 0.002, 0.003])
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    assert rec.spin_until(lambda: any(stamp_to_ns(m.header.stamp) == stamp
                                      for _, m in rec.messages[f'{NODE}/pose_stamped']), 5)
    if TF_TYPE is None:
        pytest.skip('tf2_msgs is not importable: the node publishes no TF')
    assert rec.spin_until(lambda: any(
        tr.child_frame_id == 'cam_optical' and tr.header.frame_id == 'map'
        for _, m in rec.messages['/tf'] for tr in m.transforms), 5)


def test_bad_images_are_logged_and_the_node_keeps_serving(graph):
    rec, pub, log = graph
    good = _image(40, 2_000_000_000)
    unknown = _image(40, 2_100_000_000)
    unknown.encoding = 'yuv420'
    empty = _image(40, 2_200_000_000)
    empty.height, empty.width, empty.step, empty.data = 0, 0, 0, b''
    truncated = _image(40, 2_300_000_000)
    truncated.data = bytes(truncated.data)[:100]
    wrong_step = _image(40, 2_400_000_000)
    wrong_step.step = 10
    for bad in (unknown, empty, truncated, wrong_step):
        _send_and_wait(rec, pub, bad, expect_pose=False)
    _send_and_wait(rec, pub, good, expect_pose=True)
    assert stamp_to_ns(rec.last(f'{NODE}/pose').header.stamp) == 2_000_000_000
    text = log.read_text()
    for reason in ('unknown image encoding', 'zero size', 'truncated data', 'wrong step'):
        assert '[ERROR]' in text and reason in text, f'{reason!r} not logged:\n{text}'
    assert rec.spin_until(lambda: int(_diag(rec).get('bad_images', 0)) >= 4, 5)


def test_nan_and_low_confidence_poses_are_never_published(graph):
    rec, pub, log = graph
    _send_and_wait(rec, pub, _image(1, 3_000_000_000), expect_pose=False)
    _send_and_wait(rec, pub, _image(2, 3_100_000_000), expect_pose=False)
    text = log.read_text()
    assert 'non-finite pose' in text and 'below min_confidence 0.500' in text
    for _, m in rec.messages[f'{NODE}/pose']:
        assert np.all(np.isfinite(msg_to_T(m)))


def test_only_the_newest_frame_is_processed(graph):
    rec, pub, _ = graph
    pub.publish(_image(3, 4_000_000_000))  # slow frame: the next ones queue up
    for i in range(1, 6):
        pub.publish(_image(60 + i, 4_000_000_000 + i))
    newest = 4_000_000_005
    assert rec.spin_until(lambda: stamp_to_ns(rec.last(f'{NODE}/pose').header.stamp) == newest,
                          10)
    stamps = [stamp_to_ns(m.header.stamp) for _, m in rec.messages[f'{NODE}/pose']]
    assert len([s for s in stamps if s > 4_000_000_000]) < 5
    assert rec.spin_until(lambda: int(_diag(rec).get('dropped_frames', 0)) >= 1, 5)


def test_diagnostics_report_rates_latency_and_failures(graph):
    rec, _, _ = graph
    assert rec.spin_until(lambda: 'processing_rate_hz' in _diag(rec), 5)
    values = _diag(rec)
    for key in ('input_rate_hz', 'latency_ms', 'dropped_frames', 'confidence',
                'last_failure', 'frames_received'):
        assert key in values
    assert rec.last('/diagnostics').status[0].name.startswith('reloc_node')


def test_parameters_are_validated(graph):
    rec, _, _ = graph
    client = rec.node.create_client(SetParameters, f'{NODE}/set_parameters')
    assert rec.spin_until(client.service_is_ready, 10)

    def set_param(name, ptype, **value):
        request = SetParameters.Request(parameters=[Parameter(
            name=name, value=ParameterValue(type=ptype, **value))])
        future = client.call_async(request)
        assert rec.spin_until(future.done, 10)
        return future.result().results[0]

    bad_mode = set_param('tf_mode', ParameterType.PARAMETER_STRING, string_value='map_to_moon')
    assert not bad_mode.successful and 'map_to_camera' in bad_mode.reason
    empty = set_param('map_frame', ParameterType.PARAMETER_STRING, string_value='')
    assert not empty.successful and 'map_frame' in empty.reason
    negative = set_param('min_confidence', ParameterType.PARAMETER_DOUBLE, double_value=-0.5)
    assert not negative.successful and 'min_confidence' in negative.reason
    nan = set_param('min_confidence', ParameterType.PARAMETER_DOUBLE, double_value=float('nan'))
    assert not nan.successful
    ok = set_param('min_confidence', ParameterType.PARAMETER_DOUBLE, double_value=0.5)
    assert ok.successful


def test_node_refuses_a_missing_bundle(tmp_path):
    proc = subprocess.run(
        [sys.executable, '-m', 'pose_reloc.ros.reloc_node', '--ros-args', '-p',
         f'bundle:={tmp_path / "nope"}'], env=child_env(), capture_output=True, text=True,
        timeout=60)
    assert proc.returncode == 1 and 'does not exist' in proc.stderr


def test_child_env_puts_the_source_tree_first():
    env = child_env()
    assert env['PYTHONPATH'].split(os.pathsep)[0] == str(Path(__file__).resolve().parents[1])


@pytest.mark.skipif(TF_TYPE is None, reason='tf2_msgs is not importable: no TF in or out')
def test_map_to_odom_composes_with_odometry_at_the_image_time(tmp_path):
    """AMCL style: map->odom = (map->base estimate) * inverse(odom->base at the image time)."""
    from pose_reloc.geometry.se3 import invert, T_from_pos_quat
    from pose_reloc.ros.conversions import T_to_transform_stamped
    from pose_reloc.ros.reloc_node import TF_STATIC_QOS
    log = tmp_path / 'node.log'
    proc = start_stand_in(log, ['-r', '__node:=amcl_like', '-p', 'tf_mode:=map_to_odom',
                                '-p', 'transform_tolerance:=0.2'], scripted=True)
    rec = Recorder({'/amcl_like/pose': (PoseWithCovarianceStamped, POSE_QOS),
                    '/tf': (TF_TYPE, TF_QOS)}, node_name='odom_test_observer')
    try:
        images = rec.publisher(Image, '/image', 10)
        tf_pub = rec.publisher(TF_TYPE, '/tf', TF_QOS)
        static_pub = rec.publisher(TF_TYPE, '/tf_static', TF_STATIC_QOS)
        assert rec.spin_until(lambda: images.get_subscription_count() > 0
                              and tf_pub.get_subscription_count() > 0
                              and static_pub.get_subscription_count() > 0, 30), log.read_text()
        T_base_cam = T_from_pos_quat(np.array([0.2, 0.0, 0.5]),
                                     np.array([-0.5, 0.5, -0.5, 0.5]))
        static_pub.publish(TF_TYPE(transforms=[T_to_transform_stamped(
            T_base_cam, 0, 'base_link', 'cam_optical')]))
        t_ns = 5_000_000_000
        identity_q = np.array([0.0, 0.0, 0.0, 1.0])
        T_odom_base = {t_ns - 10**8: T_from_pos_quat(np.array([1.0, 0, 0]), identity_q),
                       t_ns + 10**8: T_from_pos_quat(np.array([1.2, 0, 0]), identity_q)}
        odom_tf = TF_TYPE(transforms=[T_to_transform_stamped(T, s, 'odom', 'base_link')
                                      for s, T in T_odom_base.items()])

        def map_to_odom():
            return [tr for _, m in rec.messages['/tf'] for tr in m.transforms
                    if tr.header.frame_id == 'map' and tr.child_frame_id == 'odom']

        for _ in range(40):  # repeat until the node's TF buffer and image reader matched
            tf_pub.publish(odom_tf)
            images.publish(_image(70, t_ns, 'cam_optical'))
            if rec.spin_until(lambda: bool(map_to_odom()), 0.5):
                break
        assert map_to_odom(), log.read_text()
        T_map_cam = np.eye(4)
        T_map_cam[0, 3] = 0.7
        T_map_base = T_map_cam @ invert(T_base_cam)
        T_odom_base_t = T_from_pos_quat(np.array([1.1, 0, 0]), identity_q)  # interpolated
        tr = map_to_odom()[-1]
        assert stamp_to_ns(tr.header.stamp) == t_ns + 200_000_000
        np.testing.assert_allclose(msg_to_T(tr), T_map_base @ invert(T_odom_base_t), atol=1e-9)
        pose = rec.last('/amcl_like/pose')
        np.testing.assert_allclose(msg_to_T(pose), T_map_base, atol=1e-9)
        assert np.all(np.linalg.eigvalsh(msg_covariance(pose)) > 0)
    finally:
        rec.close()
        stop(proc)


def _start_double(tmp_path, node_name: str, *ros_args: str):
    """Start the node with the stand-in as ``node_name``; return (process, log path)."""
    log = tmp_path / f'{node_name}.log'
    proc = start_stand_in(log, ['-r', f'__node:={node_name}', '-p', 'log_throttle_s:=0.0',
                                *ros_args], scripted=True)
    return proc, log


def _stamps(rec, topic):
    return [stamp_to_ns(m.header.stamp) for _, m in rec.messages[topic]]


def test_compressed_jpeg_images_give_poses_with_the_image_stamp(tmp_path):
    from sensor_msgs.msg import CompressedImage
    from pose_reloc.ros.conversions import rgb_to_compressed
    proc, log = _start_double(tmp_path, 'jpeg_node', '-p', 'image_transport:=compressed',
                              '-r', 'image/compressed:=/jpeg_cam/image/compressed')
    rec = Recorder({'/jpeg_node/pose': (PoseWithCovarianceStamped, POSE_QOS),
                    '/jpeg_node/pose_stamped': (PoseStamped, 10)}, node_name='jpeg_observer')
    try:
        pub = rec.publisher(CompressedImage, '/jpeg_cam/image/compressed', 10)
        assert rec.spin_until(lambda: pub.get_subscription_count() > 0, 30), log.read_text()

        def jpeg(value, stamp_ns):
            msg = rgb_to_compressed(np.full((24, 32, 3), value, np.uint8), stamp_ns,
                                    'cam_optical', 'jpeg')
            assert msg.format == 'rgb8; jpeg compressed bgr8'  # image_transport's format
            assert bytes(msg.data[:2]) == b'\xff\xd8'
            return msg

        for _ in range(40):  # until the best-effort reader has matched the publisher
            pub.publish(jpeg(30, 1_000))
            if rec.spin_until(lambda: rec.count('/jpeg_node/pose') > 0, 0.5):
                break
        assert rec.count('/jpeg_node/pose') > 0, log.read_text()
        stamp = 1_700_000_001_987_654_321
        pub.publish(jpeg(64, stamp))
        assert rec.spin_until(lambda: stamp in _stamps(rec, '/jpeg_node/pose')
                              and stamp in _stamps(rec, '/jpeg_node/pose_stamped'), 10), \
            log.read_text()
        pose = [m for _, m in rec.messages['/jpeg_node/pose']
                if stamp_to_ns(m.header.stamp) == stamp][0]
        assert pose.header.frame_id == 'map'
        # the double reads the decoded first pixel: jpeg keeps a flat grey within 1 level
        assert msg_to_T(pose)[0, 3] == pytest.approx(0.64, abs=0.011)
        truncated = jpeg(64, stamp + 1)
        truncated.data = bytes(truncated.data)[:40]
        pub.publish(truncated)
        assert rec.spin_until(lambda: 'cannot decode compressed image' in log.read_text(), 10)
        assert stamp + 1 not in _stamps(rec, '/jpeg_node/pose')
    finally:
        rec.close()
        stop(proc)


def _odom_tf(t_ns):
    """odom->base_link 0.1 s before and after ``t_ns`` and its slerp at ``t_ns``."""
    from pose_reloc.geometry.se3 import T_from_pos_quat

    def yaw(angle):
        return np.array([0.0, 0.0, np.sin(angle / 2), np.cos(angle / 2)])

    before = T_from_pos_quat(np.array([1.0, 0.5, 0.0]), yaw(0.0))
    after = T_from_pos_quat(np.array([1.2, 0.7, 0.0]), yaw(0.2))
    at_t = T_from_pos_quat(np.array([1.1, 0.6, 0.0]), yaw(0.1))
    return {t_ns - 10**8: before, t_ns + 10**8: after}, at_t


MOUNT_XYZ_QXYZW = (0.2, -0.05, 0.5, -0.5, 0.5, -0.5, 0.5)


def _run_tf_mode_case(tmp_path, node_name, mode, static_mount, mount_param):
    """Drive a double node in ``mode`` with odometry on /tf.

    Returns:
        (T_map_cam the double estimated, the node's ~/pose at the image stamp, its /tf
        transform from map at that stamp + transform_tolerance, T_base_cam, the node's log).
    """
    from pose_reloc.geometry.se3 import T_from_pos_quat
    from pose_reloc.ros.conversions import T_to_transform_stamped
    from pose_reloc.ros.reloc_node import TF_STATIC_QOS
    T_base_cam = T_from_pos_quat(np.array(MOUNT_XYZ_QXYZW[:3]), np.array(MOUNT_XYZ_QXYZW[3:]))
    mount_text = '[' + ', '.join(str(v) for v in mount_param) + ']'
    proc, log = _start_double(tmp_path, node_name, '-p', f'tf_mode:={mode}',
                              '-p', f'camera_mount:={mount_text}',
                              '-r', f'image:=/{node_name}_cam/image')
    pose_topic = f'/{node_name}/pose'
    rec = Recorder({pose_topic: (PoseWithCovarianceStamped, POSE_QOS),
                    '/tf': (TF_TYPE, TF_QOS)}, node_name=f'{node_name}_observer')
    try:
        images = rec.publisher(Image, f'/{node_name}_cam/image', 10)
        tf_pub = rec.publisher(TF_TYPE, '/tf', TF_QOS)
        static_pub = rec.publisher(TF_TYPE, '/tf_static', TF_STATIC_QOS)
        assert rec.spin_until(lambda: images.get_subscription_count() > 0
                              and tf_pub.get_subscription_count() > 0, 30), log.read_text()
        if static_mount:
            static_pub.publish(TF_TYPE(transforms=[T_to_transform_stamped(
                T_base_cam, 0, 'base_link', 'cam_optical')]))
        for i in range(40):  # until the node's readers have matched
            odom, _ = _odom_tf(10**9 + i)
            tf_pub.publish(TF_TYPE(transforms=[T_to_transform_stamped(T, s, 'odom', 'base_link')
                                               for s, T in odom.items()]))
            images.publish(_image(20, 10**9 + i, 'cam_optical'))
            if rec.spin_until(lambda: rec.count(pose_topic) > 0, 0.5):
                break
        assert rec.count(pose_topic) > 0, log.read_text()
        t_ns = 7_000_000_000
        odom, _ = _odom_tf(t_ns)
        tf_pub.publish(TF_TYPE(transforms=[T_to_transform_stamped(T, s, 'odom', 'base_link')
                                           for s, T in odom.items()]))
        rec.spin_until(lambda: False, 0.2)  # let the odometry arrive before the image
        images.publish(_image(73, t_ns, 'cam_optical'))
        child = 'odom' if mode == 'map_to_odom' else 'base_link'

        def transform():
            return [tr for _, m in rec.messages['/tf'] for tr in m.transforms
                    if tr.header.frame_id == 'map' and tr.child_frame_id == child
                    and stamp_to_ns(tr.header.stamp) == t_ns + 100_000_000]

        assert rec.spin_until(lambda: t_ns in _stamps(rec, pose_topic) and transform(), 10), \
            log.read_text()
        pose = [m for _, m in rec.messages[pose_topic] if stamp_to_ns(m.header.stamp) == t_ns]
        T_map_cam = np.eye(4)
        T_map_cam[0, 3] = 0.73
        return T_map_cam, pose[0], msg_to_T(transform()[0]), T_base_cam, log.read_text()
    finally:
        rec.close()
        stop(proc)


LEVER_COV = np.diag([0.01, 0.02, 0.03, 0.001, 0.002, 0.003])


@pytest.mark.skipif(TF_TYPE is None, reason='tf2_msgs is not importable: no TF in or out')
def test_map_to_odom_with_the_camera_mount_parameter(tmp_path):
    """No base->camera in TF: the mounting comes from ``camera_mount``; odometry rotates."""
    from pose_reloc.geometry.se3 import invert
    from pose_reloc.ros.reloc_node import covariance_through_lever
    T_map_cam, pose, T_map_odom, T_base_cam, _ = _run_tf_mode_case(
        tmp_path, 'odom_mount', 'map_to_odom', static_mount=False, mount_param=MOUNT_XYZ_QXYZW)
    _, T_odom_base_t = _odom_tf(7_000_000_000)
    np.testing.assert_allclose(T_map_odom @ T_odom_base_t @ T_base_cam, T_map_cam, atol=1e-6)
    T_map_base = T_map_cam @ invert(T_base_cam)
    np.testing.assert_allclose(msg_to_T(pose), T_map_base, atol=1e-6)
    assert pose.header.frame_id == 'map'
    lever_map = T_map_cam[:3, :3] @ invert(T_base_cam)[:3, 3]
    np.testing.assert_allclose(msg_covariance(pose), covariance_through_lever(LEVER_COV,
                                                                              lever_map),
                               atol=1e-9)


@pytest.mark.skipif(TF_TYPE is None, reason='tf2_msgs is not importable: no TF in or out')
def test_map_to_base_takes_the_mounting_from_tf_static(tmp_path):
    """/tf_static base_link->cam_optical wins over a (wrong) camera_mount parameter.

    Odometry also publishes odom->base_link, so the node's own map->base_link echoed back on
    /tf gives base_link a second parent: the node logs it and keeps serving.
    """
    from pose_reloc.geometry.se3 import invert
    wrong = (1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 1.0)
    T_map_cam, pose, T_map_base, T_base_cam, log = _run_tf_mode_case(
        tmp_path, 'base_static', 'map_to_base', static_mount=True, mount_param=wrong)
    np.testing.assert_allclose(T_map_base @ T_base_cam, T_map_cam, atol=1e-6)
    np.testing.assert_allclose(msg_to_T(pose), T_map_cam @ invert(T_base_cam), atol=1e-6)
    assert np.all(np.linalg.eigvalsh(msg_covariance(pose)) > 0)
    assert "frame 'base_link' has two parents" in log and 'use map_to_odom' in log


def test_node_caches_parameters_camera_and_path_in_process():
    """The per-frame state: parameters cached after a set, camera_info, the capped ~/path."""
    import rclpy
    from rclpy.parameter import Parameter as RclpyParameter

    from pose_reloc.geometry.camera import PinholeCamera
    from pose_reloc.inference.base import PoseEstimate
    from pose_reloc.ros.conversions import camera_to_camera_info
    from pose_reloc.ros.reloc_node import RelocNode

    class Localizer:
        method, scenes, camera = 'apr', ['lab'], None

        def localize(self, image, camera=None, scene=None):
            T = np.eye(4)
            T[0, 3] = int(image[0, 0, 0]) / 100.0
            return PoseEstimate(ok=True, T_world_cam=T, covariance=np.eye(6) * 0.01,
                                confidence=0.9, scene='lab')

    context = rclpy.Context()
    rclpy.init(context=context)
    node = RelocNode(localizer=Localizer(), context=context, parameter_overrides=[
        RclpyParameter('path_length', value=3), RclpyParameter('tf_mode', value='none')])
    try:
        assert node.set_parameters([RclpyParameter('min_confidence', value=0.25)])[0].successful
        assert node._p['min_confidence'] == 0.25
        assert not node.set_parameters([RclpyParameter('min_confidence', value=-1.0)])[0] \
            .successful
        assert node._p['min_confidence'] == 0.25

        cam = PinholeCamera(width=32, height=24, fx=30.0, fy=30.0, cx=16.0, cy=12.0)
        node._on_camera_info(camera_to_camera_info(cam))
        first = node._camera
        node._on_camera_info(camera_to_camera_info(cam))
        assert node._camera is first and first == cam
        wider = PinholeCamera(width=32, height=24, fx=40.0, fy=30.0, cx=16.0, cy=12.0)
        node._on_camera_info(camera_to_camera_info(wider))
        assert node._camera == wider

        for value in range(10, 15):
            node._process(_image(value, value), 0.0)
        xs = [p.pose.position.x for p in node._path.poses]
        np.testing.assert_allclose(xs, [0.12, 0.13, 0.14])
        assert [stamp_to_ns(p.header.stamp) for p in node._path.poses] == [12, 13, 14]
        assert node.stats['published'] == 5
    finally:
        node.destroy_node()
        context.try_shutdown()
