# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of pose_reloc.geometry.camera: intrinsics, distortion, conventions, camera YAML."""

import cv2
import numpy as np
import pytest
import yaml

from pose_reloc.geometry import camera as cam
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.se3 import invert, make_T

PLUMB_BOB = PinholeCamera(640, 480, 520.0, 515.0, 321.5, 238.0, 'plumb_bob',
                          (0.12, -0.25, 0.001, -0.0015, 0.08))
RATIONAL = PinholeCamera(640, 480, 520.0, 515.0, 321.5, 238.0, 'plumb_bob',
                         (0.3, -0.1, 0.001, -0.0015, 0.02, 0.25, -0.05, 0.01))
FISHEYE = PinholeCamera(640, 480, 280.0, 281.0, 320.5, 239.5, 'equidistant',
                        (0.05, -0.01, 0.004, -0.001))
PINHOLE = PinholeCamera(640, 480, 500.0, 500.0, 320.0, 240.0)

# camera_calibration's output for a monocular camera (ROS camera_info YAML).
CALIBRATION_YAML = """\
image_width: 640
image_height: 480
camera_name: narrow_stereo
camera_matrix:
  rows: 3
  cols: 3
  data: [520.0, 0.0, 321.5, 0.0, 515.0, 238.0, 0.0, 0.0, 1.0]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.12, -0.25, 0.001, -0.0015, 0.08]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
projection_matrix:
  rows: 3
  cols: 4
  data: [520.0, 0.0, 321.5, 0.0, 0.0, 515.0, 238.0, 0.0, 0.0, 0.0, 1.0, 0.0]
"""


def _pixel_grid(camera, step=20):
    v, u = np.mgrid[0:camera.height:step, 0:camera.width:step].astype(np.float64)
    return np.stack([u.ravel(), v.ravel()], axis=-1)


def test_K_and_pinhole_projection():
    np.testing.assert_array_equal(PINHOLE.K, [[500, 0, 320], [0, 500, 240], [0, 0, 1]])
    uv, valid = PINHOLE.project(np.array([[0.2, -0.1, 2.0], [0.0, 0.0, -1.0]]))
    np.testing.assert_allclose(uv[0], [370.0, 215.0])
    np.testing.assert_array_equal(valid, [True, False])
    assert np.all(np.isnan(uv[1]))


def test_resized_K_projects_consistently():
    point = np.array([[0.3, -0.2, 1.7]])
    uv, _ = PLUMB_BOB.project(point)
    small = PLUMB_BOB.resized(320, 120)
    uv_small, _ = small.project(point)
    # Pixel-centre convention: u' = (u + 0.5) * s - 0.5.
    expected = (uv + 0.5) * np.array([0.5, 0.25]) - 0.5
    np.testing.assert_allclose(uv_small, expected, atol=1e-9)
    assert (small.width, small.height) == (320, 120)
    np.testing.assert_allclose(small.cx, (321.5 + 0.5) * 0.5 - 0.5)


def test_cropped_K_projects_consistently():
    point = np.array([[0.3, -0.2, 1.7]])
    uv, _ = PLUMB_BOB.project(point)
    crop = PLUMB_BOB.cropped(100, 40, 400, 300)
    uv_crop, _ = crop.project(point)
    np.testing.assert_allclose(uv_crop, uv - [100.0, 40.0], atol=1e-9)
    with pytest.raises(ValueError, match='does not fit'):
        PLUMB_BOB.cropped(300, 0, 400, 300)


@pytest.mark.parametrize('camera', [PLUMB_BOB, RATIONAL, FISHEYE], ids=['plumb_bob', 'rational',
                                                                        'equidistant'])
def test_distortion_round_trip(camera):
    uv = _pixel_grid(camera)
    ideal = camera.undistort_points(uv)
    assert np.max(np.abs(ideal - uv)) > 1.0  # the lens really distorts
    np.testing.assert_allclose(camera.distort_points(ideal), uv, atol=1e-3)


def test_project_matches_opencv():
    rng = np.random.default_rng(0)
    points = rng.uniform([-1, -1, 1], [1, 1, 3], size=(50, 3))
    for camera in (PLUMB_BOB, RATIONAL):
        uv, valid = camera.project(points)
        expected, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), camera.K,
                                        np.array(camera.distortion))
        assert valid.all()
        np.testing.assert_allclose(uv, expected.reshape(-1, 2), atol=1e-9)
    uv, _ = FISHEYE.project(points)
    expected, _ = cv2.fisheye.projectPoints(points.reshape(-1, 1, 3), np.zeros(3), np.zeros(3),
                                            FISHEYE.K, np.array(FISHEYE.distortion))
    np.testing.assert_allclose(uv, expected.reshape(-1, 2), atol=1e-9)


@pytest.mark.parametrize('camera', [PINHOLE, PLUMB_BOB, FISHEYE], ids=['none', 'plumb_bob',
                                                                       'equidistant'])
def test_backproject_inverts_project(camera):
    rng = np.random.default_rng(1)
    points = rng.uniform([-0.5, -0.4, 1.0], [0.5, 0.4, 4.0], size=(100, 3))
    uv, _ = camera.project(points)
    np.testing.assert_allclose(camera.backproject(uv, points[:, 2]), points, atol=1e-5)


def test_pixel_rays():
    rays = PINHOLE.pixel_rays()
    assert rays.shape == (480, 640, 3)
    np.testing.assert_allclose(rays[240, 320], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(rays[0, 0], [-320 / 500, -240 / 500, 1.0])
    PINHOLE.pixel_rays()[0, 0] = 99.0  # a copy: the cached rays stay intact
    np.testing.assert_allclose(PINHOLE.pixel_rays()[0, 0], [-320 / 500, -240 / 500, 1.0])
    small = PLUMB_BOB.resized(64, 48)
    rays = small.pixel_rays()
    uv, _ = small.project(rays.reshape(-1, 3))
    v, u = np.mgrid[0:48, 0:64]
    np.testing.assert_allclose(uv, np.stack([u.ravel(), v.ravel()], axis=-1), atol=1e-3)


def test_depth_to_scene_coords():
    small = PINHOLE.resized(64, 48)
    depth = np.full((48, 64), 2.0, dtype=np.float32)
    depth[0, 0] = 0.0
    depth[1, 1] = np.nan
    T_world_cam = make_T(np.eye(3), [1.0, 2.0, 3.0])
    coords = cam.depth_to_scene_coords(depth, small, T_world_cam)
    assert coords.shape == (48, 64, 3)
    assert np.all(np.isnan(coords[0, 0])) and np.all(np.isnan(coords[1, 1]))
    # Every valid point lies on the plane z_cam = 2 and reprojects onto its pixel.
    points_cam = coords.reshape(-1, 3) @ invert(T_world_cam)[:3, :3].T + invert(
        T_world_cam)[:3, 3]
    ok = np.isfinite(points_cam[:, 0])
    np.testing.assert_allclose(points_cam[ok, 2], 2.0)
    uv, _ = small.project(points_cam[ok])
    v, u = np.mgrid[0:48, 0:64]
    grid = np.stack([u.ravel(), v.ravel()], axis=-1)[ok]
    np.testing.assert_allclose(uv, grid, atol=1e-9)
    with pytest.raises(ValueError, match=r'depth shape \(48, 63\).*\(48, 64\)'):
        cam.depth_to_scene_coords(depth[:, :63], small, T_world_cam)


def test_opengl_to_opencv_axes():
    # An OpenGL/NeRF camera at the origin with identity pose looks down world -z, y up.
    T_world_cam_opengl = np.eye(4)
    T_world_cam = T_world_cam_opengl @ cam.T_OPENGL_OPENCV
    point_ahead_above = np.array([0.0, 0.5, -2.0, 1.0])  # in front, above the centre
    p_cam = invert(T_world_cam) @ point_ahead_above
    assert p_cam[2] == pytest.approx(2.0)  # OpenCV: in front means +z
    uv, valid = PINHOLE.project(p_cam[None, :3])
    assert valid[0]
    assert uv[0, 1] < PINHOLE.cy  # above the centre means a smaller row (y down)
    with pytest.raises(ValueError):
        cam.T_OPENGL_OPENCV[0, 0] = 2.0


@pytest.mark.parametrize('kwargs, message', [
    ({'width': 0}, 'width must be a positive integer'),
    ({'height': 2.5}, 'height must be a positive integer'),
    ({'fx': -1.0}, 'fx must be positive'),
    ({'cy': float('nan')}, 'cy must be finite'),
    ({'distortion_model': 'kannala'}, "unknown distortion_model 'kannala'"),
    ({'distortion_model': 'plumb_bob', 'distortion': (0.1, 0.2, 0.0)}, 'takes 4 or 5 or 8'),
    ({'distortion_model': 'equidistant', 'distortion': (0.1,) * 5}, 'takes 4 coefficients'),
    ({'distortion': (0.1, 0.0, 0.0, 0.0, 0.0)}, "'none' takes 0"),
])
def test_validation(kwargs, message):
    args = {'width': 640, 'height': 480, 'fx': 500.0, 'fy': 500.0, 'cx': 320.0, 'cy': 240.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        PinholeCamera(**args)


def test_zero_plumb_bob_is_none():
    camera = PinholeCamera(640, 480, 500.0, 500.0, 320.0, 240.0, 'plumb_bob', [0.0] * 5)
    assert camera == PINHOLE
    assert camera.distortion_model == 'none' and not camera.is_distorted


def test_ros_yaml_parse_and_round_trip(tmp_path):
    camera = cam.camera_from_ros_yaml(yaml.safe_load(CALIBRATION_YAML))
    assert camera == PLUMB_BOB
    for original in (PINHOLE, PLUMB_BOB, RATIONAL, FISHEYE):
        path = cam.write_camera_yaml(tmp_path / 'camera.yaml', original, 'front')
        data = yaml.safe_load(path.read_text())
        assert data['camera_name'] == 'front'
        assert set(data) == {'image_width', 'image_height', 'camera_name', 'camera_matrix',
                             'distortion_model', 'distortion_coefficients',
                             'rectification_matrix', 'projection_matrix'}
        assert cam.read_camera_yaml(path) == original
    assert cam.camera_to_ros_yaml(PINHOLE, 'x')['distortion_model'] == 'plumb_bob'
    assert cam.camera_to_ros_yaml(RATIONAL, 'x')['distortion_model'] == 'rational_polynomial'


@pytest.mark.parametrize('edit, message', [
    (lambda d: d.pop('image_width'), "missing key 'image_width'"),
    (lambda d: d.update(image_height=-3), "key 'image_height' must be a positive integer"),
    (lambda d: d['camera_matrix'].update(data=[1.0] * 8), r'camera_matrix.data has 8 values'),
    (lambda d: d['camera_matrix'].update(data=['a'] * 9), r'camera_matrix.data must hold'),
    (lambda d: d.update(distortion_model='weird'), 'distortion_model has unsupported .*weird'),
    (lambda d: d['distortion_coefficients'].update(cols=3, data=[0.1] * 3),
     'takes 4 or 5 or 8'),
])
def test_ros_yaml_errors_name_the_key(tmp_path, edit, message):
    data = yaml.safe_load(CALIBRATION_YAML)
    edit(data)
    path = tmp_path / 'camera.yaml'
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=message) as info:
        cam.read_camera_yaml(path)
    assert str(path) in str(info.value)


def test_ros_yaml_distortion_without_rows_cols():
    data = yaml.safe_load(CALIBRATION_YAML)
    data['distortion_coefficients'] = {'data': list(PLUMB_BOB.distortion)}
    assert cam.camera_from_ros_yaml(data) == PLUMB_BOB
    data['distortion_coefficients'] = {'rows': 'one', 'cols': 5, 'data': [0.0] * 5}
    with pytest.raises(ValueError, match='rows/cols must be integers'):
        cam.camera_from_ros_yaml(data, source='cam.yaml')


def test_read_camera_yaml_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.yaml'):
        cam.read_camera_yaml(tmp_path / 'nope.yaml')
