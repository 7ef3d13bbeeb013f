# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Message conversions: images in every encoding, validation, poses, covariance, TF buffer."""

from geometry_msgs.msg import Pose, PoseStamped, PoseWithCovarianceStamped, TransformStamped
from nav_msgs.msg import Odometry
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image

from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.rotations import quat_to_matrix
from pose_reloc.geometry.se3 import T_from_pos_quat
from pose_reloc.ros import conversions as conv
from pose_reloc.ros.reloc_node import (covariance_through_lever,
                                       make_positive_definite, points_to_cloud)
from pose_reloc.ros.tf_buffer import TfBuffer, TransformError


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def _raw(pixels, encoding, pad=0, bigendian=False):
    pixels = np.ascontiguousarray(pixels)
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    if bigendian:
        rows = pixels.astype('>u2').reshape(pixels.shape[0], -1).view(np.uint8)
    rows = np.concatenate([rows, np.zeros((rows.shape[0], pad), np.uint8)], axis=1)
    return Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                 is_bigendian=int(bigendian), step=rows.shape[1], data=rows.tobytes())


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8'])
def test_color_encodings_give_rgb(rgb, encoding):
    pixels = {'rgb8': rgb, 'bgr8': rgb[:, :, ::-1],
              'rgba8': np.dstack([rgb, np.full(rgb.shape[:2], 9, np.uint8)]),
              'bgra8': np.dstack([rgb[:, :, ::-1], np.full(rgb.shape[:2], 9, np.uint8)])}
    out = conv.image_to_rgb(_raw(pixels[encoding], encoding, pad=3))
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, rgb)


def test_mono_encodings(rgb):
    gray = rgb[:, :, 0]
    np.testing.assert_array_equal(conv.image_to_rgb(_raw(gray, 'mono8')),
                                  np.repeat(gray[:, :, None], 3, axis=2))
    wide = gray.astype(np.uint16) * 257
    for enc in ('mono16', '16UC1'):
        for big in (False, True):
            out = conv.image_to_rgb(_raw(wide, enc, pad=2, bigendian=big))
            np.testing.assert_array_equal(out[:, :, 1], gray)


def test_round_trip_builders(rgb):
    msg = conv.rgb_to_image(rgb, 1_500_000_001, 'cam', encoding='bgr8')
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1, 500_000_001)
    np.testing.assert_array_equal(conv.image_to_rgb(msg), rgb)
    png = conv.rgb_to_compressed(rgb, 5, 'cam', fmt='png')
    np.testing.assert_array_equal(conv.any_image_to_rgb(png), rgb)
    jpg = conv.rgb_to_compressed(np.full((16, 16, 3), (200, 30, 90), np.uint8), fmt='jpeg')
    assert np.abs(conv.compressed_to_rgb(jpg).astype(int) - (200, 30, 90)).max() < 6


@pytest.mark.parametrize('mutate, reason', [
    (lambda m: setattr(m, 'encoding', 'yuv420'), 'unknown image encoding'),
    (lambda m: setattr(m, 'height', 0), 'zero size'),
    (lambda m: setattr(m, 'data', bytes(m.data)[:-5]), 'truncated data'),
    (lambda m: setattr(m, 'step', m.step - 1), 'wrong step'),
])
def test_bad_images_raise_with_reason(rgb, mutate, reason):
    msg = conv.rgb_to_image(rgb)
    mutate(msg)
    with pytest.raises(ValueError, match=reason):
        conv.image_to_rgb(msg)


def test_bad_compressed_images(rgb):
    with pytest.raises(ValueError, match='zero size'):
        conv.compressed_to_rgb(CompressedImage(format='jpeg'))
    jpg = conv.rgb_to_compressed(rgb)
    jpg.data = bytes(jpg.data)[:20]
    with pytest.raises(ValueError, match='cannot decode'):
        conv.compressed_to_rgb(jpg)


def test_pose_messages_round_trip_and_quaternion_order():
    q_xyzw = np.array([0.1, -0.2, 0.3, 0.9])
    q_xyzw /= np.linalg.norm(q_xyzw)
    T = T_from_pos_quat(np.array([1.0, 2.0, 3.0]), q_xyzw)
    cov = np.diag([1.0, 2, 3, 4, 5, 6]) * 1e-3
    cov[0, 3] = cov[3, 0] = 1e-4
    msgs = [conv.T_to_pose(T), conv.T_to_pose_stamped(T, 7, 'map'),
            conv.T_to_pose_with_covariance_stamped(T, cov, 7, 'map'),
            conv.T_to_transform_stamped(T, 7, 'map', 'cam'),
            conv.T_to_odometry(T, 7, 'odom', 'base_link', cov)]
    for msg, cls in zip(msgs, (Pose, PoseStamped, PoseWithCovarianceStamped, TransformStamped,
                               Odometry)):
        assert isinstance(msg, cls)
        np.testing.assert_allclose(conv.msg_to_T(msg), T, atol=1e-12)
    pose = msgs[0]
    # the message carries x, y, z, w in that order; w is the scalar part
    np.testing.assert_allclose([pose.orientation.x, pose.orientation.y, pose.orientation.z,
                                pose.orientation.w], q_xyzw, atol=1e-12)
    np.testing.assert_allclose(conv.msg_to_T(pose)[:3, :3], quat_to_matrix(q_xyzw), atol=1e-12)
    rz90 = Pose()
    rz90.orientation.z, rz90.orientation.w = np.sqrt(0.5), np.sqrt(0.5)
    np.testing.assert_allclose(conv.msg_to_T(rz90)[:3, :3] @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(conv.msg_covariance(msgs[2]), cov)
    np.testing.assert_allclose(conv.msg_covariance(msgs[4]), cov)
    assert conv.msg_covariance(msgs[1]) is None


def test_invalid_poses_are_refused():
    bad = Pose()
    bad.orientation.w = 0.0
    with pytest.raises(ValueError, match='zero quaternion'):
        conv.msg_to_T(bad)
    bad.orientation.w, bad.position.x = 1.0, float('nan')
    with pytest.raises(ValueError, match='non-finite'):
        conv.msg_to_T(bad)
    with pytest.raises(ValueError, match='6x6'):
        conv.T_to_pose_with_covariance_stamped(np.eye(4), np.full((6, 6), np.nan), 0, 'map')


def test_camera_info_round_trip_keeps_distortion():
    cam = PinholeCamera(64, 48, 50.0, 51.0, 31.5, 23.5, 'plumb_bob',
                        (0.1, -0.05, 0.001, 0.002, 0.01))
    back = conv.camera_info_to_camera(conv.camera_to_camera_info(cam, 3, 'cam'))
    assert back == cam
    info = conv.camera_to_camera_info(cam)
    info.k = [0.0] * 9  # K unusable: P's rectified camera, without distortion
    from_p = conv.camera_info_to_camera(info)
    assert (from_p.fx, from_p.fy, from_p.cx, from_p.cy) == (50.0, 51.0, 31.5, 23.5)
    assert from_p.distortion_model == 'none'
    info.p = [0.0] * 12
    with pytest.raises(ValueError, match='not calibrated'):
        conv.camera_info_to_camera(info)


@pytest.mark.parametrize('model, coeffs, ros_name', [
    ('plumb_bob', (0.1, -0.05, 0.001, 0.002, 0.01, 0.003, -0.002, 0.001), 'rational_polynomial'),
    ('equidistant', (0.1, -0.02, 0.003, -0.001), 'equidistant'),
    ('none', (), 'plumb_bob'),
])
def test_camera_info_distortion_model_names(model, coeffs, ros_name):
    cam = PinholeCamera(64, 48, 50.0, 51.0, 31.5, 23.5, model, coeffs)
    info = conv.camera_to_camera_info(cam)
    assert info.distortion_model == ros_name
    assert conv.camera_info_to_camera(info) == cam
    if model == 'equidistant':
        info.distortion_model = 'fisheye'
        assert conv.camera_info_to_camera(info) == cam


def test_covariance_helpers():
    cov = np.diag([0.01, 0.01, 0.01, 0.001, 0.001, 0.001])
    moved = covariance_through_lever(cov, np.array([1.0, 0.0, 0.0]))
    # a rotation about z swings a point 1 m along x sideways: y variance grows by 1 m^2 * rz
    assert moved[1, 1] == pytest.approx(0.01 + 0.001)
    assert moved[0, 0] == pytest.approx(0.01)
    assert np.all(np.linalg.eigvalsh(moved) > 0)
    fixed = make_positive_definite(np.diag([1.0, 1, 1, 1, 1, -1e-3]))
    assert np.all(np.linalg.eigvalsh(fixed) > 0)


def test_point_cloud_layout():
    pts = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    cloud = points_to_cloud(pts, 12, 'map')
    assert (cloud.width, cloud.point_step, cloud.header.frame_id) == (2, 12, 'map')
    np.testing.assert_allclose(np.frombuffer(bytes(cloud.data), np.float32).reshape(2, 3), pts)


def test_tf_buffer_chain_and_slerp():
    buf = TfBuffer()
    mount = T_from_pos_quat(np.array([0.1, 0.0, 0.2]), np.array([-0.5, 0.5, -0.5, 0.5]))
    buf.set_transform(mount, 0, 'base_link', 'camera', static=True)
    rz = np.array([0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4)])
    buf.set_transform(np.eye(4), 10, 'odom', 'base_link')
    buf.set_transform(T_from_pos_quat(np.array([2.0, 0.0, 0.0]), rz), 20, 'odom', 'base_link')
    buf.set_transform(T_from_pos_quat(np.array([5.0, 0.0, 0.0]), np.array([0, 0, 0, 1.0])),
                      0, 'map', 'odom', static=True)
    half = buf.lookup('map', 'base_link', 15)
    np.testing.assert_allclose(half[:3, 3], [6.0, 0.0, 0.0], atol=1e-12)
    angle = np.degrees(np.arctan2(half[1, 0], half[0, 0]))
    assert angle == pytest.approx(45.0)
    np.testing.assert_allclose(buf.lookup('map', 'camera', 15), half @ mount, atol=1e-12)
    np.testing.assert_allclose(buf.lookup('camera', 'map', 15),
                               np.linalg.inv(half @ mount), atol=1e-12)
    assert buf.time_range('map', 'camera') == (10, 20)
    many, valid = buf.lookup_many('camera', 'map', [9, 12, 15, 20])
    np.testing.assert_array_equal(valid, [False, True, True, True])
    np.testing.assert_allclose(many[2], np.linalg.inv(half @ mount), atol=1e-12)
    np.testing.assert_allclose(many[1], buf.lookup('camera', 'map', 12), atol=1e-12)
    with pytest.raises(TransformError, match='outside'):
        buf.lookup('map', 'camera', 25)
    with pytest.raises(TransformError, match='unknown frame'):
        buf.lookup('map', 'nowhere', 15)
    with pytest.raises(ValueError, match='two parents'):
        buf.set_transform(np.eye(4), 12, 'map', 'base_link')
