# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of the 7-Scenes, Cambridge Landmarks and NeRF readers and of format detection."""

import json
import math
import shutil

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pose_reloc.data.formats import cambridge, detect_format, load_dataset, nerf, sevenscenes
from pose_reloc.data.records import load_depth, load_image
from pose_reloc.data.selfcheck import make_cambridge_fixture
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.se3 import invert

# ---------------------------------------------------------------------------- 7-Scenes


@pytest.fixture(scope='module')
def stairs(shared_data):
    return shared_data / '7scenes_sample' / 'stairs'


def _split_sequences(path):
    return {f'seq-{int(line.strip()[len("sequence"):]):02d}'
            for line in path.read_text().splitlines() if line.strip()}


def test_7scenes_values(stairs):
    scene = load_dataset(stairs)[0]
    assert scene.name == 'stairs' and scene.source_format == '7scenes'
    assert len(scene.frames) == 12
    for frame in scene.frames:
        pose_path = frame.image_path.with_name(frame.image_path.name.split('.')[0]
                                               + '.pose.txt')
        np.testing.assert_array_equal(frame.T_world_cam, np.loadtxt(pose_path))
        assert frame.camera == PinholeCamera(640, 480, 585.0, 585.0, 320.0, 240.0)
        assert frame.depth_invalid == 65535 and frame.depth_scale == 0.001
    train = _split_sequences(stairs / 'TrainSplit.txt')
    test = _split_sequences(stairs / 'TestSplit.txt')
    assert {f.sequence for f in scene.split('train')} == train
    assert {f.sequence for f in scene.split('test')} == test
    assert len({f.timestamp_ns for f in scene.frames}) == 12
    first = scene.frames[0]
    assert first.sequence == 'seq-01' and first.image_path.name == 'frame-000000.color.jpg'
    image = load_image(first)
    assert image.shape == (480, 640, 3) and image.dtype == np.uint8
    depth = load_depth(first)
    raw = cv2.imread(str(first.depth_path), cv2.IMREAD_UNCHANGED)
    valid = (raw != 0) & (raw != 65535)
    np.testing.assert_allclose(depth[valid], raw[valid] / 1000.0, rtol=1e-6)
    assert np.all(depth[~valid] == 0)
    assert 0.5 < np.median(depth[valid]) < 5.0  # an indoor staircase, metres


def test_7scenes_camera_override_and_root(stairs, shared_data):
    camera = PinholeCamera(640, 480, 525.0, 525.0, 319.5, 239.5)
    scene = load_dataset(stairs, camera=camera)[0]
    assert scene.frames[0].camera == camera
    assert [s.name for s in load_dataset(shared_data / '7scenes_sample')] == ['stairs']
    with pytest.raises(ValueError, match=r'frame-000000.color.jpg: image is 640x480 .* '
                                         r'say 320x240'):
        load_dataset(stairs, camera=PinholeCamera(320, 240, 290.0, 290.0, 160.0, 120.0))


@pytest.fixture
def stairs_copy(stairs, tmp_path):
    return shutil.copytree(stairs, tmp_path / 'stairs')


@pytest.mark.parametrize('content, message', [
    ('1 0 0 0\n0 1 0\n0 0 1 0\n0 0 0 1\n', r'frame-000001.pose.txt:2: expected 4 numbers'),
    ('1 0 0 0\n0 1 0 0\n0 0 1 nan\n0 0 0 1\n', r'frame-000001.pose.txt:3: NaN'),
    ('1 0 0 0\n0 1 0 0\n0 0 1 0\n', r'frame-000001.pose.txt: expected 4 rows'),
    ('2 0 0 0\n0 2 0 0\n0 0 2 0\n0 0 0 1\n', r'frame-000001.pose.txt: .*not a rotation'),
])
def test_7scenes_bad_pose_files(stairs_copy, content, message):
    (stairs_copy / 'seq-02' / 'frame-000001.pose.txt').write_text(content)
    with pytest.raises(ValueError, match=message):
        load_dataset(stairs_copy)


def test_7scenes_missing_files_and_bad_splits(stairs_copy):
    (stairs_copy / 'seq-03' / 'frame-000002.color.jpg').unlink()
    with pytest.raises(FileNotFoundError, match=r'seq-03/frame-000002.color.png\|jpg'):
        load_dataset(stairs_copy)
    shutil.rmtree(stairs_copy / 'seq-03')
    with pytest.raises(FileNotFoundError, match=r'Split.txt:\d: sequence3 is listed but folder '
                                                r'seq-03 is missing'):
        load_dataset(stairs_copy)
    (stairs_copy / 'TrainSplit.txt').write_text('sequence2\nseq 4\n')
    with pytest.raises(ValueError, match=r'TrainSplit.txt:2: expected "sequenceN"'):
        sevenscenes.read_scene(stairs_copy)


# --------------------------------------------------------------------------- Cambridge

HEADER = 'Visual Landmark Dataset V1\nImageFile, Camera Position [X Y Z W P Q R]\n\n'
S = math.sqrt(0.5)


def _write_cambridge(root, train_rows, test_rows=(), size=(96, 54)):
    root.mkdir(parents=True, exist_ok=True)
    for rows, name in ((train_rows, 'dataset_train.txt'), (test_rows, 'dataset_test.txt')):
        for row in rows:
            image_path = root / row.split()[0]
            image_path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(image_path), np.full((size[1], size[0], 3), 90, np.uint8))
        (root / name).write_text(HEADER + ''.join(r + '\n' for r in rows))
    return root


def test_cambridge_conversion(tmp_path):
    # World-to-camera rotation: 90 deg about z, WPQR = (cos 45, 0, 0, sin 45).
    root = _write_cambridge(tmp_path / 'Kings', [f'seq1/frame00001.png 1.0 2.0 3.0 {S} 0 0 {S}',
                                                 'seq1/frame00002.png 0 0 0 1 0 0 0'],
                            ['seq3/frame00007.png 4 5 6 0.5 0.5 0.5 0.5'])
    scene = load_dataset(root)[0]
    assert scene.source_format == 'cambridge' and scene.name == 'Kings'
    first, second, third = scene.frames
    np.testing.assert_allclose(first.T_world_cam[:3, 3], [1.0, 2.0, 3.0])
    R_cam_world = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(first.T_world_cam[:3, :3], R_cam_world.T, atol=1e-12)
    # The camera centre maps to the camera origin.
    np.testing.assert_allclose(invert(first.T_world_cam) @ [1.0, 2.0, 3.0, 1.0], [0, 0, 0, 1],
                               atol=1e-12)
    np.testing.assert_allclose(second.T_world_cam, np.eye(4))
    # Same conversion through scipy (xyzw): R_world_cam = R(q)^T.
    expected = Rotation.from_quat([0.5, 0.5, 0.5, 0.5]).as_matrix().T
    np.testing.assert_allclose(third.T_world_cam[:3, :3], expected, atol=1e-12)
    assert [f.split for f in scene.frames] == ['train', 'train', 'test']
    assert [f.sequence for f in scene.frames] == ['seq1', 'seq1', 'seq3']
    assert third.timestamp_ns == 3 * 10 ** 12 + round(7e9 / 30)
    # Default intrinsics: f = 1670 px at 1920 px width, scaled to the image's 96 px.
    assert first.camera.width == 96 and first.camera.height == 54
    assert first.camera.fx == pytest.approx(1670.0 * 96 / 1920)
    assert first.camera.fy == first.camera.fx


def test_cambridge_writer_round_trip(tmp_path):
    rows = make_cambridge_fixture(tmp_path / 'fix', sequences=2, frames_per_sequence=2)
    scene = load_dataset(tmp_path / 'fix', camera=PinholeCamera(96, 54, 80.0, 80.0, 48, 27))
    assert scene[0].frames[0].camera.fx == 80.0
    for frame, row in zip(scene[0].frames, rows):
        np.testing.assert_allclose(frame.T_world_cam, row['T_world_cam'], atol=1e-8)
        np.testing.assert_array_equal(load_image(frame), row['image'])
    assert cambridge.is_cambridge(tmp_path / 'fix')


@pytest.mark.parametrize('row, error, message', [
    ('seq1/frame00002.png 1 2 3 1 0 0', ValueError, r'dataset_train.txt:5: expected .*8'),
    ('seq1/frame00002.png 1 2 3 1 0 zero 0', ValueError, r'dataset_train.txt:5: non-numeric'),
    ('seq1/frame00002.png 1 2 3 0 0 0 0', ValueError, r'dataset_train.txt:5: zero quaternion'),
    ('seq1/frame00002.png 1 2 3 0.9 0 0 0', ValueError, r'dataset_train.txt:5: .*not unit'),
    ('seq1/frame00002.png 1 nan 3 1 0 0 0', ValueError, r'dataset_train.txt:5: .*NaN'),
    ('seq1/frame00002.png 1 2 3 nan 0 0 0', ValueError, r'dataset_train.txt:5: .*NaN'),
    ('seq1/frame00001.png 1 2 3 1 0 0 0', ValueError, r'dataset_train.txt:5: .*repeats '
                                                      r'.*dataset_train.txt:4'),
])
def test_cambridge_bad_rows(tmp_path, row, error, message):
    root = _write_cambridge(tmp_path / 'c', ['seq1/frame00001.png 0 0 0 1 0 0 0', row])
    with pytest.raises(error, match=message):
        cambridge.read_scene(root)


def test_cambridge_missing_and_mis_sized_images(tmp_path):
    root = _write_cambridge(tmp_path / 'c', ['seq1/frame00001.png 0 0 0 1 0 0 0',
                                             'seq1/frame00002.png 0 0 0 1 0 0 0'])
    cv2.imwrite(str(root / 'seq1' / 'frame00002.png'), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match=r'frame00002.png: image is 10x10 .* say 96x54 '
                                         r'\(listed at .*dataset_train.txt:5\)'):
        cambridge.read_scene(root)
    (root / 'seq1' / 'frame00002.png').unlink()
    with pytest.raises(FileNotFoundError, match=r'frame00002.png: image not found \(listed at '
                                                r'.*dataset_train.txt:5\)'):
        cambridge.read_scene(root)
    (root / 'dataset_train.txt').write_text('only one header line\n')
    with pytest.raises(ValueError, match='header lines'):
        cambridge.read_scene(root)


# -------------------------------------------------------------------------------- NeRF


@pytest.fixture(scope='module')
def lego(shared_data):
    return load_dataset(shared_data / 'nerf_lego_200')[0]


def test_nerf_lego(lego, shared_data):
    assert lego.source_format == 'nerf'
    assert lego.split_counts() == {'train': 100, 'val': 100, 'test': 200}
    data = json.loads((shared_data / 'nerf_lego_200' / 'transforms_train.json').read_text())
    focal = 0.5 * 200 / math.tan(0.5 * data['camera_angle_x'])
    camera = lego.frames[0].camera
    assert (camera.width, camera.height) == (200, 200)
    assert camera.fx == pytest.approx(focal) and camera.fy == pytest.approx(focal)
    assert (camera.cx, camera.cy) == (100.0, 100.0)
    # OpenGL -> OpenCV: same centre, y and z camera axes flipped.
    T_gl = np.array(data['frames'][0]['transform_matrix'])
    first = lego.frames[0]
    assert first.image_path.name == 'r_0.png' and first.split == 'train'
    np.testing.assert_allclose(first.T_world_cam[:, 0], T_gl[:, 0])
    np.testing.assert_allclose(first.T_world_cam[:, 1:3], -T_gl[:, 1:3])
    np.testing.assert_allclose(first.T_world_cam[:, 3], T_gl[:, 3])


def test_nerf_cameras_look_at_the_object(lego):
    # After conversion the object at the world origin is in front of every camera and
    # projects inside the image; with the OpenGL axes kept it would be behind them.
    inside = []
    for frame in lego.frames:
        origin_cam = invert(frame.T_world_cam) @ [0.0, 0.0, 0.0, 1.0]
        uv = frame.camera.K @ origin_cam[:3] / origin_cam[2]
        inside.append(origin_cam[2] > 0 and 0 <= uv[0] < 200 and 0 <= uv[1] < 200)
    assert np.mean(inside) > 0.95
    # The object is visible: the centre of the image is not the white background.
    image = load_image(lego.frames[0])
    assert image.shape == (200, 200, 3)
    assert image[90:110, 90:110].mean() < 230


def _nerf_fixture(root, data, name='transforms.json', size=(40, 30)):
    (root / 'images').mkdir(parents=True, exist_ok=True)
    for frame in data['frames']:
        path = root / frame['file_path']
        path = path if path.suffix else path.with_name(path.name + '.png')
        cv2.imwrite(str(path), np.zeros((size[1], size[0], 3), np.uint8))
    (root / name).write_text(json.dumps(data, indent=1))
    return root


def test_nerf_instant_ngp_keys(tmp_path):
    T = np.eye(4).tolist()
    data = {'fl_x': 50.0, 'fl_y': 51.0, 'cx': 19.0, 'cy': 14.0, 'k1': 0.1, 'p2': 0.01,
            'frames': [{'file_path': 'images/a.png', 'transform_matrix': T},
                       {'file_path': './images/b', 'transform_matrix': T, 'fl_x': 60.0}]}
    scene = load_dataset(_nerf_fixture(tmp_path / 'n', data))[0]
    a, b = scene.frames
    assert (a.camera.width, a.camera.height) == (40, 30)  # read from the image
    assert (a.camera.fx, a.camera.fy, a.camera.cx, a.camera.cy) == (50.0, 51.0, 19.0, 14.0)
    assert a.camera.distortion_model == 'plumb_bob'
    assert a.camera.distortion == (0.1, 0.0, 0.0, 0.01, 0.0)
    assert b.camera.fx == 60.0 and b.image_path.name == 'b.png' and b.split == ''
    np.testing.assert_array_equal(a.T_world_cam, np.diag([1.0, -1.0, -1.0, 1.0]))


def test_nerf_reads_each_image_header_once(tmp_path, monkeypatch):
    """Without w/h the size comes from the header, so it is not checked a second time."""
    T = np.eye(4).tolist()
    data = {'camera_angle_x': 0.7,
            'frames': [{'file_path': 'images/a.png', 'transform_matrix': T},
                       {'file_path': 'images/b.png', 'transform_matrix': T, 'w': 40, 'h': 30}]}
    root = _nerf_fixture(tmp_path / 'n', data)
    checked = []
    monkeypatch.setattr(nerf, 'check_image_size', lambda frame, where: checked.append(frame))
    a, b = nerf.read_scene(root).frames
    assert (a.camera.width, a.camera.height) == (40, 30)
    assert checked == [b]


@pytest.mark.parametrize('change, error, message', [
    ({'w': 80}, ValueError, r'a.png: image is 40x30 .* say 80x30 \(listed at '
                            r'.*transforms.json:\d+ \(frame 0\)\)'),
    ({'frames': [{'file_path': 'images/zz', 'transform_matrix': np.eye(4).tolist()}]},
     FileNotFoundError, r'images/zz: image not found \(listed at .*transforms.json:\d+'),
    ({'frames': [{'file_path': 'images/a.png',
                  'transform_matrix': np.full((4, 4), 0.5).tolist()}]},
     ValueError, r'transforms.json:\d+ \(frame 0\): pose last row'),
    ({'frames': [{'file_path': 'images/a.png'}]}, ValueError, 'frame 0 needs'),
    ({'camera_angle_x': None}, ValueError, 'camera_angle_x must be a finite number'),
])
def test_nerf_bad_input(tmp_path, change, error, message):
    data = {'camera_angle_x': 0.7, 'w': 40, 'h': 30,
            'frames': [{'file_path': 'images/a.png', 'transform_matrix': np.eye(4).tolist()}]}
    root = _nerf_fixture(tmp_path / 'n', data)
    data.update(change)
    (root / 'transforms.json').write_text(json.dumps(data, indent=1))
    with pytest.raises(error, match=message):
        nerf.read_scene(root)


def test_nerf_invalid_json_names_line(tmp_path):
    (tmp_path / 'transforms_train.json').write_text('{\n "frames": [\n  oops\n ]\n}\n')
    with pytest.raises(ValueError, match=r'transforms_train.json:3: not valid JSON'):
        load_dataset(tmp_path)


# ---------------------------------------------------------------------------- detection


def test_detection_and_mixed_root(tmp_path, stairs):
    shutil.copytree(stairs, tmp_path / 'root' / 'stairs')
    make_cambridge_fixture(tmp_path / 'root' / 'kings', frames_per_sequence=1)
    (tmp_path / 'root' / 'empty').mkdir()
    assert detect_format(tmp_path / 'root' / 'stairs') == '7scenes'
    assert detect_format(tmp_path / 'root' / 'kings') == 'cambridge'
    assert detect_format(tmp_path / 'root') is None
    scenes = load_dataset(tmp_path / 'root')
    assert [(s.name, s.source_format) for s in scenes] == [('kings', 'cambridge'),
                                                           ('stairs', '7scenes')]
    assert [s.name for s in load_dataset(tmp_path / 'root', fmt='7scenes')] == ['stairs']
    with pytest.raises(FileNotFoundError, match='not a nerf dataset'):
        load_dataset(tmp_path / 'root', fmt='nerf')
    with pytest.raises(ValueError, match='unknown dataset format'):
        load_dataset(tmp_path / 'root', fmt='colmap')
    with pytest.raises(FileNotFoundError, match='not found'):
        load_dataset(tmp_path / 'missing')
