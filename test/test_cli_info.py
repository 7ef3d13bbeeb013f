# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of ``pose-reloc info`` (library and CLI) and of the Foundation self-check demo."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pose_reloc.data.formats import write_scene
from pose_reloc.data.info import dataset_info, format_info
from pose_reloc.data.selfcheck import make_cambridge_fixture, selfcheck
from pose_reloc.geometry.camera import PinholeCamera


def _cli(repo_root, *args):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(repo_root), env.get('PYTHONPATH', '')])
    return subprocess.run([sys.executable, '-m', 'pose_reloc.cli', *map(str, args)],
                          cwd=repo_root, env=env, capture_output=True, text=True, timeout=120)


def test_info_7scenes_values(shared_data):
    stairs = shared_data / '7scenes_sample' / 'stairs'
    info = dataset_info(shared_data / '7scenes_sample')
    assert info['frames'] == 12 and len(info['scenes']) == 1
    scene = info['scenes'][0]
    assert scene['name'] == 'stairs' and scene['format'] == '7scenes'
    assert scene['splits'] == {'train': 6, 'test': 6}
    assert scene['sequences'] == ['seq-01', 'seq-02', 'seq-03', 'seq-04']
    assert scene['frames_with_depth'] == 12
    assert scene['cameras'] == [{'width': 640, 'height': 480, 'fx': 585.0, 'fy': 585.0,
                                 'cx': 320.0, 'cy': 240.0, 'distortion_model': 'none',
                                 'distortion': [], 'frames': 12}]
    # Extent and path length recomputed from the .pose.txt files.
    centres = {seq: np.array([np.loadtxt(stairs / seq / f'frame-00000{i}.pose.txt')[:3, 3]
                              for i in range(3)]) for seq in scene['sequences']}
    every = np.concatenate(list(centres.values()))
    np.testing.assert_allclose(scene['extent']['min'], every.min(axis=0))
    np.testing.assert_allclose(scene['extent']['max'], every.max(axis=0))
    length = sum(np.linalg.norm(np.diff(c, axis=0), axis=1).sum() for c in centres.values())
    assert scene['extent']['path_length_m'] == pytest.approx(length)
    text = format_info(info)
    assert 'scene stairs (7scenes' in text and 'fx 585.000' in text and 'train 6' in text


def test_info_nerf_and_written_formats(shared_data, tmp_path):
    lego = dataset_info(shared_data / 'nerf_lego_200')['scenes'][0]
    assert lego['format'] == 'nerf' and lego['frames'] == 400
    assert lego['splits'] == {'train': 100, 'val': 100, 'test': 200}
    assert lego['cameras'][0]['width'] == 200 and lego['cameras'][0]['frames'] == 400
    # Cameras on a sphere of radius ~4 around the object.
    assert max(lego['extent']['max']) == pytest.approx(4.0, abs=0.2)

    make_cambridge_fixture(tmp_path / 'root' / 'kings')
    camera = PinholeCamera(16, 12, 20.0, 20.0, 8.0, 6.0)
    T_far = np.eye(4)
    T_far[:3, 3] = [3.0, 4.0, 0.0]
    items = [{'timestamp_ns': i, 'T_world_cam': T, 'image': np.zeros((12, 16, 3), np.uint8),
              'split': 'train'} for i, T in enumerate([np.eye(4), T_far])]
    write_scene(tmp_path / 'root' / 'lab', None, items, camera)
    info = dataset_info(tmp_path / 'root')
    assert [(s['name'], s['format'], s['frames']) for s in info['scenes']] == [
        ('kings', 'cambridge', 6), ('lab', 'posed', 2)]
    lab = info['scenes'][1]
    assert lab['extent']['size'] == [3.0, 4.0, 0.0]
    assert lab['extent']['path_length_m'] == pytest.approx(5.0)
    assert lab['splits'] == {'train': 2}


def test_cli_info_json_and_text(repo_root, shared_data):
    for name in ('7scenes_sample', 'nerf_lego_200'):
        result = _cli(repo_root, 'info', shared_data / name, '--json')
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == json.loads(json.dumps(
            dataset_info(shared_data / name)))
    result = _cli(repo_root, 'info', shared_data / '7scenes_sample')
    assert result.returncode == 0 and 'scene stairs (7scenes' in result.stdout


def test_cli_info_bad_dataset(repo_root, tmp_path):
    result = _cli(repo_root, 'info', tmp_path)
    assert result.returncode == 1
    assert f'{tmp_path}: not a dataset' in result.stderr


def test_info_does_not_import_torch(repo_root, shared_data):
    code = ('import sys\nfrom pose_reloc.cli import main\n'
            f'main(["info", {str(shared_data / "7scenes_sample")!r}])\n'
            'assert "torch" not in sys.modules, "info imported torch"\n')
    result = subprocess.run([sys.executable, '-c', code], cwd=repo_root, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_selfcheck_library_and_demo_command(repo_root, shared_data, tmp_path):
    report = selfcheck(shared_data, work_dir=tmp_path)
    assert report['ok'], report
    assert set(report['formats']) == {'7scenes', 'nerf', 'cambridge', 'posed'}
    assert report['formats']['nerf']['frames'] == 400
    assert report['formats']['posed']['frames'] == 12
    broken = selfcheck(tmp_path / 'nowhere', work_dir=tmp_path / 'w')
    assert not broken['ok'] and 'error' in broken['formats']['7scenes']
    assert broken['formats']['cambridge']['ok']  # written fixture needs no shared data
    result = _cli(repo_root, 'demo', '--selfcheck', '--data-dir', shared_data)
    assert result.returncode == 0, result.stderr
    assert 'all formats ok' in result.stdout


def test_existing_output_is_one_error_line_not_a_traceback(tmp_path, capsys):
    """`pose-reloc synth OUT` (or extract, bag-eval, demo) onto an existing OUT."""
    from pose_reloc.cli import main
    out = tmp_path / 'rooms'
    out.mkdir()
    assert main(['synth', str(out), '--preset', 'tiny', '--quiet']) == 1
    assert capsys.readouterr().err.strip() == (
        f'pose-reloc synth: error: {out}: already exists (pass overwrite=True / --overwrite)')
