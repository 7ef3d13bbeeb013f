# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of pose_reloc.geometry.metrics: known error values, rates, summaries, tables."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pose_reloc.geometry import metrics
from pose_reloc.geometry.se3 import make_T


def _T(rotvec, t):
    return make_T(Rotation.from_rotvec(rotvec).as_matrix(), t)


def test_rotation_error_10_degrees_about_any_axis():
    rng = np.random.default_rng(0)
    axes = rng.normal(size=(20, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    T_gt = np.stack([_T(r, [0.0, 0.0, 0.0]) for r in rng.normal(size=(20, 3))])
    delta = np.stack([_T(a * np.radians(10.0), [0.0, 0.0, 0.0]) for a in axes])
    err = metrics.rotation_error_deg(T_gt @ delta, T_gt)
    np.testing.assert_allclose(err, 10.0, atol=1e-9)
    np.testing.assert_allclose(metrics.rotation_error_deg(delta @ T_gt, T_gt), 10.0, atol=1e-9)


def test_rotation_error_sign_flip_and_identity():
    q = np.array([0.1, 0.2, 0.3, 0.9])
    assert metrics.quat_angle_error_deg(q, -q) == pytest.approx(0.0, abs=1e-6)
    assert metrics.quat_angle_error_deg([0, 0, 0, 1], [0, 0, 1, 0]) == pytest.approx(180.0)
    T = _T([0.3, -0.2, 0.1], [1.0, 2.0, 3.0])
    assert metrics.rotation_error_deg(T, T) == pytest.approx(0.0, abs=1e-6)


def test_rotation_error_resolves_tiny_angles():
    for true_deg in (1e-3, 1e-6, 1e-9):
        T = _T([np.radians(true_deg), 0.0, 0.0], [0.0, 0.0, 0.0])
        assert metrics.rotation_error_deg(T, np.eye(4)) == pytest.approx(true_deg, rel=1e-6)


def test_translation_error_camera_centres():
    T_gt = _T([0.0, 0.5, 0.0], [1.0, 2.0, 3.0])
    T_est = _T([0.0, 0.1, 0.0], [4.0, 6.0, 3.0])
    assert metrics.translation_error_m(T_est, T_gt) == pytest.approx(5.0)
    batch = metrics.translation_error_m(np.stack([T_est, T_gt]), np.stack([T_gt, T_gt]))
    np.testing.assert_allclose(batch, [5.0, 0.0])


def test_nan_pose_gives_nan_errors():
    T_nan = np.full((4, 4), np.nan)
    assert math.isnan(metrics.translation_error_m(T_nan, np.eye(4)))
    assert math.isnan(metrics.rotation_error_deg(T_nan, np.eye(4)))


def test_threshold_keys():
    keys = [metrics.rate_key(t, r) for t, r in metrics.THRESHOLDS]
    assert keys == ['rate_5cm_5deg', 'rate_25cm_2deg', 'rate_50cm_5deg', 'rate_500cm_10deg']


def test_summarize_known_values():
    t_err = np.array([0.01, 0.1, 0.3, 2.0, 0.02])
    r_err = np.array([1.0, 1.5, 4.0, 8.0, 6.0])
    s = metrics.summarize(t_err, r_err)
    assert s['frames'] == 5 and s['failures'] == 0
    assert s['median_translation_m'] == pytest.approx(0.1)
    assert s['mean_translation_m'] == pytest.approx(0.486)
    assert s['max_rotation_deg'] == pytest.approx(8.0)
    assert s['p95_rotation_deg'] == pytest.approx(np.percentile(r_err, 95))
    assert s['rate_5cm_5deg'] == pytest.approx(0.2)  # frame 4 has 6 deg
    assert s['rate_25cm_2deg'] == pytest.approx(0.4)
    assert s['rate_50cm_5deg'] == pytest.approx(0.6)
    assert s['rate_500cm_10deg'] == pytest.approx(1.0)
    expected_keys = {'frames', 'failures'} | {
        f'{stat}_{q}' for stat in ('median', 'mean', 'p95', 'max')
        for q in ('translation_m', 'rotation_deg')} | {
        'rate_5cm_5deg', 'rate_25cm_2deg', 'rate_50cm_5deg', 'rate_500cm_10deg'}
    assert set(s) == expected_keys
    assert all(isinstance(v, (int, float)) and not isinstance(v, np.generic)
               for v in s.values())


def test_summarize_failures_count_as_not_localized():
    t_err = np.array([0.01, np.nan, 0.01, 0.01])
    r_err = np.array([1.0, 1.0, 1.0, 1.0])
    s = metrics.summarize(t_err, r_err, failed=[False, False, True, False])
    assert s['frames'] == 4 and s['failures'] == 2
    assert s['rate_5cm_5deg'] == pytest.approx(0.5)
    assert s['median_translation_m'] == pytest.approx(0.01)
    empty = metrics.summarize([], [])
    assert empty['frames'] == 0 and math.isnan(empty['median_rotation_deg'])
    assert math.isnan(empty['rate_5cm_5deg'])
    with pytest.raises(ValueError, match='failed has 1 values, expected 4'):
        metrics.summarize(t_err, r_err, failed=[True])


def test_per_scene_table():
    rows = {'chess': metrics.summarize([0.01, 0.02], [1.0, 2.0]),
            'stairs_long_name': metrics.summarize([np.nan], [np.nan])}
    table = metrics.per_scene_table(rows)
    lines = table.splitlines()
    assert len(lines) == 4
    assert len({len(line) for line in lines}) == 1  # fixed width
    assert lines[0].startswith('scene')
    assert 'chess' in lines[2] and ' 100.0 ' in lines[2] and '0.015' in lines[2]
    assert lines[3].startswith('stairs_long_name') and ' -' in lines[3]
