# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of pose_reloc.data.tum: TUM trajectory read/write, exact stamps, bad input."""

import csv

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pose_reloc.data import tum
from pose_reloc.geometry.se3 import make_T


def _poses(n, seed=0):
    rng = np.random.default_rng(seed)
    return make_T(Rotation.random(n, random_state=seed).as_matrix(), rng.normal(size=(n, 3)))


def test_round_trip(tmp_path):
    T = _poses(10)
    stamps = 1_700_000_000.0 + np.arange(10) * 0.033
    path = tum.write_tum(tmp_path / 'traj.txt', stamps, T)
    stamps_read, T_read = tum.read_tum(path)
    np.testing.assert_allclose(stamps_read, stamps, rtol=0, atol=1e-6)
    np.testing.assert_allclose(T_read, T, atol=1e-9)
    assert not (tmp_path / 'traj.txt.tmp').exists()


def test_file_layout_is_tum(tmp_path):
    # Column order: timestamp tx ty tz qx qy qz qw, quaternion xyzw with w >= 0.
    T = make_T(Rotation.from_rotvec([0.0, 0.0, np.pi / 2]).as_matrix(), [1.0, 2.0, 3.0])
    path = tum.write_tum(tmp_path / 'traj.txt', [12.5], T[None])
    rows = [line for line in path.read_text().splitlines() if not line.startswith('#')]
    assert rows[0].split()[0] == '12.500000000'  # 9 decimals: ns resolution
    # evo's reader (evo.tools.file_interface.read_tum_trajectory_file): csv rows split on
    # single spaces, lines starting with '#' skipped, exactly 8 fields, no blank lines.
    with path.open() as f:
        raw = list(csv.reader((line for line in f if not line.startswith('#')), delimiter=' '))
    assert all(len(row) == 8 for row in raw)
    values = np.array(raw).astype(float)
    s = np.sqrt(0.5)
    np.testing.assert_allclose(values[0], [12.5, 1.0, 2.0, 3.0, 0.0, 0.0, s, s], atol=1e-9)


def test_exact_nanosecond_stamps(tmp_path):
    stamps_ns = np.array([1_700_000_000_123_456_789, 1_700_000_000_123_456_790],
                         dtype=np.int64)
    path = tum.write_tum_ns(tmp_path / 'traj.txt', stamps_ns, _poses(2))
    assert '1700000000.123456789 ' in path.read_text()
    read_ns, _ = tum.read_tum_ns(path)
    np.testing.assert_array_equal(read_ns, stamps_ns)


def test_comments_blank_lines_and_tolerance(tmp_path):
    path = tmp_path / 'traj.txt'
    # The last row is from the TUM RGB-D ground truth (quaternion rounded to 4 decimals).
    path.write_text('# a header\n\n1.0 0 0 0 0 0 0 1\n   \n# mid comment\n'
                    '2.5 1 2 3 0 0 0.7071068 0.7071068\n'
                    '1305031102.1758 1.3405 0.6266 1.6575 0.6574 0.6126 -0.2949 -0.3248\n')
    stamps, T = tum.read_tum(path)
    np.testing.assert_array_equal(stamps, [1.0, 2.5, 1305031102.1758])
    np.testing.assert_allclose(T[1, :3, 3], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(T[1, :3, :3] @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-6)


def test_empty_file(tmp_path):
    path = tmp_path / 'traj.txt'
    path.write_text('# nothing\n')
    stamps, T = tum.read_tum(path)
    assert stamps.shape == (0,) and T.shape == (0, 4, 4)


@pytest.mark.parametrize('row, message', [
    ('1.0 0 0 0 0 0 1', 'expected 8 columns'),
    ('1.0 0 0 x 0 0 0 1', 'non-numeric'),
    ('1.0 0 nan 0 0 0 0 1', 'NaN/inf'),
    ('1.0 0 0 0 0 0 0 0', 'zero quaternion'),
    ('1.0 0 0 0 0 0 0 1.1', 'not unit'),
])
def test_malformed_rows_name_file_and_line(tmp_path, row, message):
    path = tmp_path / 'traj.txt'
    path.write_text('# header\n0.5 0 0 0 0 0 0 1\n' + row + '\n')
    with pytest.raises(ValueError, match=message) as info:
        tum.read_tum(path)
    assert f'{path}:3' in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        tum.read_tum(tmp_path / 'missing.txt')


def test_write_rejects_bad_input(tmp_path):
    T = _poses(3)
    with pytest.raises(ValueError, match=r'shape \(2, 4, 4\)'):
        tum.write_tum(tmp_path / 'a.txt', [0.0, 1.0], T)
    bad = T.copy()
    bad[1, 0, 3] = np.nan
    with pytest.raises(ValueError, match='pose 1 is not a finite rigid transform'):
        tum.write_tum(tmp_path / 'a.txt', [0.0, 1.0, 2.0], bad)
    with pytest.raises(ValueError, match='integer'):
        tum.write_tum_ns(tmp_path / 'a.txt', np.array([0.5, 1.0, 2.0]), T)
    assert not (tmp_path / 'a.txt').exists()


def test_exact_stamps_negative_and_line_numbers(tmp_path):
    stamps_ns = np.array([-1_500_000_001, -5, 0, 7], dtype=np.int64)
    path = tum.write_tum_ns(tmp_path / 'traj.txt', stamps_ns, _poses(4))
    assert '-1.500000001 ' in path.read_text() and '-0.000000005 ' in path.read_text()
    read_ns, T, lines = tum.read_tum_rows(path)
    np.testing.assert_array_equal(read_ns, stamps_ns)
    np.testing.assert_array_equal(lines, [2, 3, 4, 5])  # line 1 is the header comment
    np.testing.assert_allclose(T, _poses(4), atol=1e-9)


def test_write_accepts_slightly_non_orthonormal_dataset_poses(tmp_path):
    # 7-Scenes' KinectFusion rotations reach |det R - 1| ~ 2e-4: written, not refused.
    T = _poses(1)
    T[0, :3, :3] *= 1.0001
    path = tum.write_tum(tmp_path / 'traj.txt', [0.0], T)
    _, T_read = tum.read_tum(path)
    np.testing.assert_allclose(T_read[0, :3, :3], T[0, :3, :3] / 1.0001, atol=2e-4)
