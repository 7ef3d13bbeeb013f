# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of the posed-folder format: exact time stamps, round trip, atomicity, bad input."""

import json

import cv2
import numpy as np
import pytest
import yaml

from pose_reloc.data.formats import load_dataset, posed_folder
from pose_reloc.data.formats.posed_folder import PosedFolderWriter, read_scene, write_scene
from pose_reloc.data.formats.posed_folder import timestamp_ns_to_str, timestamp_str_to_ns
from pose_reloc.data.records import load_depth, load_image
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.rotations import quat_to_matrix
from pose_reloc.geometry.se3 import make_T

CAMERA = PinholeCamera(32, 24, 30.0, 31.0, 15.2, 11.7, 'plumb_bob',
                       (0.1, -0.02, 0.001, 0.002, 0.0))
EPOCH_NS = 1_700_000_000_123_456_789


def _items(n, seed=0, depth=True):
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        q = rng.normal(size=4)
        depth_m = rng.uniform(0.5, 5.0, size=(24, 32)).astype(np.float32)
        depth_m[0, :5] = 0.0
        depth_m[1, :3] = np.nan
        item = {'timestamp_ns': EPOCH_NS + i * 33_333_333,
                'T_world_cam': make_T(quat_to_matrix(q / np.linalg.norm(q)),
                                      rng.uniform(-100, 100, size=3)),
                'image': rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8),
                'split': ['train', 'test', 'val', ''][i % 4],
                'sequence': f'run{i // 3}'}
        if depth:
            item['depth'] = depth_m
        items.append(item)
    return items


@pytest.mark.parametrize('ns, text', [
    (0, '0.000000000'),
    (1, '0.000000001'),
    (EPOCH_NS, '1700000000.123456789'),
    (-1_500_000_000, '-1.500000000'),
    (2 ** 62 + 7, '4611686018.427387911'),
])
def test_timestamp_text_is_exact(ns, text):
    assert timestamp_ns_to_str(ns) == text
    assert timestamp_str_to_ns(text, 'x') == ns


def test_timestamp_rounds_not_truncates():
    # float64 cannot hold this stamp to the ns; the decimal path must.
    assert float('1700000000.123456789') * 1e9 != EPOCH_NS
    assert timestamp_str_to_ns('1700000000.1234567896', 'x') == EPOCH_NS + 1
    assert timestamp_str_to_ns('1700000000.1234567894', 'x') == EPOCH_NS
    assert timestamp_str_to_ns('1.7e9', 'x') == 1_700_000_000_000_000_000
    with pytest.raises(ValueError, match='f.txt:4: time stamp .* not a number'):
        timestamp_str_to_ns('12a', 'f.txt:4')
    with pytest.raises(ValueError, match='not finite'):
        timestamp_str_to_ns('nan', 'f.txt:4')
    with pytest.raises(ValueError, match='out of range'):
        timestamp_str_to_ns('1e100', 'f.txt:4')


def test_round_trip(tmp_path):
    items = _items(8)
    out = write_scene(tmp_path / 'lab', 'lab_scene', items, CAMERA, metadata={'seed': 3})
    assert out == tmp_path / 'lab'
    assert not (tmp_path / 'lab.partial').exists()
    scene = read_scene(out)
    assert scene.name == 'lab_scene' and scene.source_format == 'posed'
    assert scene.metadata == {'seed': 3}
    assert len(scene.frames) == len(items)
    for frame, item in zip(scene.frames, items):
        assert frame.timestamp_ns == item['timestamp_ns']
        np.testing.assert_allclose(frame.T_world_cam, item['T_world_cam'], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(load_image(frame), item['image'])
        depth_m = item['depth'].astype(np.float64)
        expected = np.where(np.isfinite(depth_m), np.round(depth_m * 1000) / 1000, 0.0)
        np.testing.assert_allclose(load_depth(frame), expected, rtol=0, atol=1e-6)
        assert frame.camera == CAMERA
        assert frame.split == item['split'] and frame.sequence == item['sequence']
        assert frame.image_path == out / 'rgb' / f'{item["timestamp_ns"]}.png'
    assert scene.split_counts() == {'train': 2, 'val': 2, 'test': 2, '': 2}


def test_files_follow_the_format(tmp_path):
    out = write_scene(tmp_path / 's', None, _items(4), CAMERA)
    camera_yaml = yaml.safe_load((out / 'camera.yaml').read_text())
    for key in ('image_width', 'image_height', 'camera_name', 'camera_matrix',
                'distortion_model', 'distortion_coefficients', 'rectification_matrix',
                'projection_matrix'):
        assert key in camera_yaml
    rows = [line.split() for line in (out / 'poses.txt').read_text().splitlines()
            if not line.startswith('#')]
    assert len(rows) == 4 and all(len(r) == 8 for r in rows)
    assert rows[0][0] == '1700000000.123456789'
    assert (out / 'splits' / 'train.txt').read_text() == f'{EPOCH_NS}\n'
    raw = cv2.imread(str(out / 'depth' / f'{EPOCH_NS}.png'), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw[0, 0] == 0 and raw[1, 0] == 0 and raw[5, 5] > 400
    info = json.loads((out / 'scene.json').read_text())
    assert info['sequences'] == {'run0': [EPOCH_NS + i * 33_333_333 for i in range(3)],
                                 'run1': [EPOCH_NS + 3 * 33_333_333]}


def test_writer_is_atomic(tmp_path):
    items = _items(3, depth=False)
    with pytest.raises(RuntimeError, match='boom'):
        with PosedFolderWriter(tmp_path / 's', CAMERA) as writer:
            writer.add(**items[0])
            assert (tmp_path / 's.partial' / 'rgb').is_dir()
            raise RuntimeError('boom')
    assert not (tmp_path / 's').exists()
    assert not (tmp_path / 's.partial').exists()
    # A crash (no close, no abort) leaves only a .partial folder, which readers ignore.
    writer = PosedFolderWriter(tmp_path / 's', CAMERA).begin()
    writer.add(**items[0])
    assert not (tmp_path / 's').exists()
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path)
    # A failure while finishing (metadata that is not JSON) leaves nothing either.
    with pytest.raises(TypeError):
        write_scene(tmp_path / 's', None, items, CAMERA, metadata={'bad': object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # The next writer replaces a stale partial folder.
    writer = PosedFolderWriter(tmp_path / 's', CAMERA).begin()
    writer.add(**items[0])
    write_scene(tmp_path / 's', None, items, CAMERA)
    assert [f.timestamp_ns for f in read_scene(tmp_path / 's').frames] == [
        i['timestamp_ns'] for i in items]


def test_existing_folder_needs_overwrite(tmp_path):
    items = _items(2, depth=False)
    write_scene(tmp_path / 's', None, items, CAMERA)
    with pytest.raises(FileExistsError):
        write_scene(tmp_path / 's', None, items, CAMERA)
    write_scene(tmp_path / 's', None, items[:1], CAMERA, overwrite=True)
    assert len(read_scene(tmp_path / 's').frames) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ['s']


def test_writer_rejects_bad_frames(tmp_path):
    items = _items(2)
    with PosedFolderWriter(tmp_path / 's', CAMERA) as writer:
        writer.add(**items[0])
        with pytest.raises(ValueError, match='added twice'):
            writer.add(**items[0])
        bad = dict(items[1], image=np.zeros((10, 10, 3), np.uint8))
        with pytest.raises(ValueError, match='image is 10x10 .* camera is 32x24'):
            writer.add(**bad)
        with pytest.raises(ValueError, match='NaN'):
            writer.add(**dict(items[1], T_world_cam=np.full((4, 4), np.nan)))
        with pytest.raises(ValueError, match='every frame has depth or none'):
            writer.add(**{k: v for k, v in items[1].items() if k != 'depth'})
        with pytest.raises(ValueError, match='split'):
            writer.add(**dict(items[1], split='training'))


def test_multi_scene_root(tmp_path):
    write_scene(tmp_path / 'b', None, _items(2, depth=False), CAMERA)
    write_scene(tmp_path / 'a', None, _items(3, seed=1, depth=False), CAMERA)
    (tmp_path / 'not_a_scene').mkdir()
    scenes = load_dataset(tmp_path)
    assert [(s.name, len(s.frames)) for s in scenes] == [('a', 3), ('b', 2)]
    assert [s.name for s in posed_folder.read_root(tmp_path)] == ['a', 'b']
    assert {f.scene for f in scenes[0].frames} == {'a'}


@pytest.fixture
def scene_dir(tmp_path):
    return write_scene(tmp_path / 's', None, _items(3), CAMERA)


def _replace_pose_line(scene_dir, index, text):
    path = scene_dir / 'poses.txt'
    lines = path.read_text().splitlines()
    lines[index] = text
    path.write_text('\n'.join(lines) + '\n')


@pytest.mark.parametrize('row, error, message', [
    ('1.0 2.0 3.0', ValueError, r'poses.txt:3: expected 8 columns'),
    ('1700000000.2 0 0 x 0 0 0 1', ValueError, r'poses.txt:3: non-numeric'),
    ('1700000000.2 0 0 0 0 0 0 0', ValueError, r'poses.txt:3: zero quaternion'),
    ('1700000000.2 0 0 0 0 0 0.5 0.5', ValueError, r'poses.txt:3: .*not unit'),
    ('1700000000.2 0 0 0 0 0 0 nan', ValueError, r'poses.txt:3: .*NaN'),
    ('1700000000.2 nan 0 0 0 0 0 1', ValueError, r'poses.txt:3: NaN/inf'),
    ('1700000000.123456789 0 0 0 0 0 0 1', ValueError, r'poses.txt:3: .* repeats line 2'),
])
def test_bad_pose_rows(scene_dir, row, error, message):
    _replace_pose_line(scene_dir, 2, row)  # line 3 (line 1 is the header comment)
    with pytest.raises(error, match=message):
        read_scene(scene_dir)


def test_missing_files(scene_dir):
    (scene_dir / 'rgb' / f'{EPOCH_NS + 33_333_333}.png').unlink()
    with pytest.raises(FileNotFoundError, match=r'rgb/1700000000156790122.png.*poses.txt:3'):
        read_scene(scene_dir)
    (scene_dir / 'camera.yaml').unlink()
    with pytest.raises(FileNotFoundError, match='camera.yaml'):
        read_scene(scene_dir)


def test_missing_depth(scene_dir):
    (scene_dir / 'depth' / f'{EPOCH_NS}.png').unlink()
    with pytest.raises(FileNotFoundError, match=r'depth/1700000000123456789.png.*poses.txt:2'):
        read_scene(scene_dir)


def test_split_file_errors(scene_dir):
    (scene_dir / 'splits' / 'test.txt').write_text(f'{EPOCH_NS}\n')
    with pytest.raises(ValueError, match=r'test.txt:1: .* already in split \'train\''):
        read_scene(scene_dir)
    (scene_dir / 'splits' / 'test.txt').write_text('# comment\n\n42\n')
    with pytest.raises(ValueError, match=r'test.txt:3: timestamp_ns 42 has no row'):
        read_scene(scene_dir)
    (scene_dir / 'splits' / 'test.txt').write_text('1.5\n')
    with pytest.raises(ValueError, match=r'test.txt:1: expected an integer'):
        read_scene(scene_dir)


def test_image_size_contradicting_camera(scene_dir):
    camera_yaml = yaml.safe_load((scene_dir / 'camera.yaml').read_text())
    camera_yaml['image_width'] = 64
    (scene_dir / 'camera.yaml').write_text(yaml.safe_dump(camera_yaml))
    with pytest.raises(ValueError, match=r'\.png: image is 32x24 .* say 64x24 '
                                         r'\(listed at .*poses.txt:2\)'):
        read_scene(scene_dir)


def test_bad_scene_json(scene_dir):
    (scene_dir / 'scene.json').write_text('{\n "name": "x",\n oops\n}')
    with pytest.raises(ValueError, match=r'scene.json:3: not valid JSON'):
        read_scene(scene_dir)
    (scene_dir / 'scene.json').write_text(json.dumps({'sequences': {'a': [5]}}))
    with pytest.raises(ValueError, match=r'scene.json: sequence \'a\' lists 5'):
        read_scene(scene_dir)
