# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of pose_reloc.data.records: Frame validation, image and depth loading."""

import cv2
import numpy as np
import pytest

from pose_reloc.data.records import check_T_world_cam, Frame, load_depth, load_image, Scene
from pose_reloc.data.records import synthetic_timestamp_ns
from pose_reloc.geometry.camera import PinholeCamera

CAMERA = PinholeCamera(8, 6, 10.0, 10.0, 3.5, 2.5)


def _frame(tmp_path, **kw):
    args = {'image_path': tmp_path / 'img.png', 'timestamp_ns': 5, 'T_world_cam': np.eye(4),
            'camera': CAMERA, 'scene': 's'}
    args.update(kw)
    return Frame(**args)


def test_frame_normalizes_and_freezes(tmp_path):
    T = np.eye(4)
    T[:3, 3] = [1.0, 2.0, 3.0]
    frame = _frame(tmp_path, image_path=str(tmp_path / 'img.png'), timestamp_ns=np.int64(7),
                   T_world_cam=T.tolist())
    assert frame.image_path == tmp_path / 'img.png'
    assert type(frame.timestamp_ns) is int and frame.timestamp_ns == 7
    assert frame.T_world_cam.dtype == np.float64
    np.testing.assert_array_equal(frame.camera_center, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        frame.T_world_cam[0, 3] = 5.0  # read-only
    with pytest.raises(AttributeError):
        frame.scene = 'other'  # frozen


@pytest.mark.parametrize('T, message', [
    (np.eye(3), 'shape'),
    (np.full((4, 4), np.nan), 'NaN'),
    (np.diag([2.0, 2.0, 2.0, 1.0]), 'not a rotation'),
    (np.diag([1.0, 1.0, -1.0, 1.0]), 'not a rotation'),  # reflection
    (np.vstack([np.eye(4)[:3], [0.0, 0.0, 1.0, 1.0]]), 'last row'),
])
def test_bad_pose_names_source(T, message):
    with pytest.raises(ValueError, match=f'poses.txt:3: .*{message}'):
        check_T_world_cam(T, 'poses.txt:3')


@pytest.mark.parametrize('kw, message', [
    ({'timestamp_ns': 1.5}, 'timestamp_ns'),
    ({'timestamp_ns': True}, 'timestamp_ns'),
    ({'split': 'training'}, 'split'),
    ({'depth_invalid': 7}, 'depth_invalid'),
    ({'depth_scale': 0.0}, 'depth_scale'),
])
def test_bad_frame_fields(tmp_path, kw, message):
    with pytest.raises(ValueError, match=message):
        _frame(tmp_path, **kw)


def test_load_image_rgb_order_and_size_check(tmp_path):
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[..., 0] = 200  # red
    cv2.imwrite(str(tmp_path / 'img.png'), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    image = load_image(_frame(tmp_path))
    assert image.shape == (6, 8, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, rgb)

    wrong = PinholeCamera(16, 12, 10.0, 10.0, 7.5, 5.5)
    with pytest.raises(ValueError, match=r'img.png: image is 8x6 .* camera intrinsics say 16x12'):
        load_image(_frame(tmp_path, camera=wrong))


def test_load_image_missing_and_unreadable(tmp_path):
    with pytest.raises(FileNotFoundError, match='img.png'):
        load_image(_frame(tmp_path))
    (tmp_path / 'img.png').write_bytes(b'not an image')
    with pytest.raises(ValueError, match='img.png: not a readable image'):
        load_image(_frame(tmp_path))


@pytest.mark.parametrize('invalid', [0, 65535])
def test_load_depth_metres_and_invalid(tmp_path, invalid):
    raw = np.full((6, 8), 1500, np.uint16)
    raw[0, 0] = invalid
    raw[1, 1] = 0
    cv2.imwrite(str(tmp_path / 'd.png'), raw)
    depth = load_depth(_frame(tmp_path, depth_path=tmp_path / 'd.png', depth_invalid=invalid))
    assert depth.dtype == np.float32 and depth.shape == (6, 8)
    assert depth[0, 0] == 0.0 and depth[1, 1] == 0.0
    assert depth[2, 2] == pytest.approx(1.5)
    assert np.count_nonzero(depth) == 6 * 8 - 2


def test_load_depth_errors(tmp_path):
    with pytest.raises(ValueError, match='has no depth'):
        load_depth(_frame(tmp_path))
    cv2.imwrite(str(tmp_path / 'd.png'), np.zeros((6, 8, 3), np.uint8))
    with pytest.raises(ValueError, match='single-channel'):
        load_depth(_frame(tmp_path, depth_path=tmp_path / 'd.png'))
    cv2.imwrite(str(tmp_path / 'd.png'), np.zeros((3, 4), np.uint16))
    with pytest.raises(ValueError, match='depth image is 4x3'):
        load_depth(_frame(tmp_path, depth_path=tmp_path / 'd.png'))


def test_scene_split(tmp_path):
    frames = [_frame(tmp_path, timestamp_ns=i, split=s)
              for i, s in enumerate(['train', 'test', 'train', ''])]
    scene = Scene('s', tmp_path, frames)
    assert [f.timestamp_ns for f in scene.split('train')] == [0, 2]
    assert scene.split_counts() == {'train': 2, 'test': 1, '': 1}
    assert len(scene) == 4
    with pytest.raises(ValueError, match='unknown split'):
        scene.split('validation')


def test_synthetic_timestamps():
    assert synthetic_timestamp_ns(0, 0) == 0
    assert synthetic_timestamp_ns(0, 1) == 33_333_333
    assert synthetic_timestamp_ns(2, 3) == 2_000_000_000_000 + 100_000_000
    with pytest.raises(ValueError):
        synthetic_timestamp_ns(-1, 0)
