# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Dataset row sanity (issue 10): far-away camera positions are flagged in every format.

The Cambridge case is a copy of ``../shared/cases/cambridge_outlier_row`` (20 normal rows and
one about 3e9 m away, as in the published Great Court list); the posed-folder, 7-Scenes and
NeRF cases are written here with one far row each.
"""

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose_reloc.cli import main as cli_main
from pose_reloc.data.formats import load_dataset
from pose_reloc.data.formats.posed_folder import write_scene
from pose_reloc.data.info import dataset_info
from pose_reloc.data.sanity import OUTLIER_FACTOR, position_outliers
from pose_reloc.geometry.camera import PinholeCamera

CASE = Path(__file__).resolve().parent / 'data' / 'cases' / 'cambridge_outlier_row' / 'GreatCourt'
SHARED_DATA = Path(__file__).resolve().parents[1] / '..' / 'shared' / 'data'
CAMERA = PinholeCamera(8, 6, 8.0, 8.0, 3.5, 2.5)
FAR = np.array([4.0e7, -2.0e6, 1.5e7])


def _positions(n=12, far_index=7, seed=0):
    rng = np.random.default_rng(seed)
    positions = rng.uniform(-5.0, 5.0, size=(n, 3))
    positions[far_index] = FAR
    return positions


def _T(position):
    T = np.eye(4)
    T[:3, 3] = position
    return T


def test_cambridge_outlier_row_is_named_left_out_and_shown_by_info(caplog, capsys):
    with caplog.at_level(logging.WARNING):
        scene, = load_dataset(CASE)
    list_file = CASE / 'dataset_train.txt'
    assert len(scene.frames) == 20
    assert [o['source'] for o in scene.outliers] == [f'{list_file}:17']
    assert scene.outliers[0]['image'].endswith('seq1/frame00014.png')
    assert f'{list_file}:17' in caplog.text
    info = dataset_info(CASE)['scenes'][0]
    assert info['frames'] == 20 and max(info['extent']['size']) < 25.0
    assert info['outliers'][0]['distance_m'] > 3e9
    assert cli_main(['info', str(CASE)]) == 0
    out = capsys.readouterr().out
    assert 'outliers    1 row(s) left out' in out and f'{list_file}:17' in out
    kept, = load_dataset(CASE, keep_outliers=True)
    assert len(kept.frames) == 21 and len(kept.outliers) == 1


def test_posed_folder_outlier(tmp_path):
    positions = _positions()
    image = np.zeros((6, 8, 3), np.uint8)
    write_scene(tmp_path / 'posed', 'posed', [
        {'timestamp_ns': 1000 + i, 'T_world_cam': _T(p), 'image': image}
        for i, p in enumerate(positions)], CAMERA)
    scene, = load_dataset(tmp_path / 'posed')
    assert len(scene.frames) == 11
    assert scene.outliers[0]['source'] == f'{tmp_path / "posed" / "poses.txt"}:' \
        f'{_data_line(tmp_path / "posed" / "poses.txt", 7)}'
    np.testing.assert_allclose(scene.outliers[0]['position'], FAR)


def _data_line(path, index):
    """Return the 1-based line number of the ``index``-th data row of a text file."""
    rows = [n for n, line in enumerate(Path(path).read_text().splitlines(), start=1)
            if line.strip() and not line.startswith('#')]
    return rows[index]


def test_sevenscenes_outlier(tmp_path):
    root = tmp_path / 'stairs'
    seq = root / 'seq-01'
    seq.mkdir(parents=True)
    (root / 'TrainSplit.txt').write_text('sequence1\n')
    for i, p in enumerate(_positions()):
        cv2.imwrite(str(seq / f'frame-{i:06d}.color.png'), np.zeros((6, 8, 3), np.uint8))
        np.savetxt(seq / f'frame-{i:06d}.pose.txt', _T(p))
    scene, = load_dataset(root, camera=CAMERA)
    assert len(scene.frames) == 11
    assert scene.outliers[0]['source'] == str(seq / 'frame-000007.pose.txt')


def test_nerf_outlier(tmp_path):
    root = tmp_path / 'lego'
    (root / 'train').mkdir(parents=True)
    frames = []
    for i, p in enumerate(_positions()):
        cv2.imwrite(str(root / 'train' / f'r_{i}.png'), np.zeros((6, 8, 3), np.uint8))
        frames.append({'file_path': f'./train/r_{i}', 'transform_matrix': _T(p).tolist()})
    (root / 'transforms_train.json').write_text(json.dumps(
        {'camera_angle_x': 0.8, 'w': 8, 'h': 6, 'frames': frames}, indent=1))
    scene, = load_dataset(root)
    assert len(scene.frames) == 11
    source = scene.outliers[0]['source']
    assert source.startswith(f'{root / "transforms_train.json"}:') and '(frame 7)' in source


def test_no_false_alarm_on_real_layouts():
    rng = np.random.default_rng(1)
    line = np.c_[np.linspace(0, 500, 200), np.zeros(200), np.zeros(200)]  # a long corridor
    cluster = rng.normal(0, 1, (90, 3))
    corridor = np.c_[np.linspace(2, 40, 10), np.zeros(10), np.zeros(10)]  # room + hallway
    for centres in (line, np.r_[cluster, corridor], np.zeros((8, 3))):
        frames = [type('F', (), {'T_world_cam': _T(c), 'source': '', 'image_path': '',
                                 'split': ''})() for c in centres]
        assert position_outliers(frames) == []
    assert OUTLIER_FACTOR >= 50


@pytest.mark.parametrize('name', ['7scenes_sample/stairs', 'nerf_lego_200'])
def test_no_false_alarm_on_the_shared_datasets(name):
    if not (SHARED_DATA / name).is_dir():
        pytest.skip(f'../shared/data/{name} is not here')
    for scene in load_dataset(SHARED_DATA / name, check_images=False):
        assert scene.outliers == []
