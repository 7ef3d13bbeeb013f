# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of pose_reloc.geometry.rotations against scipy (xyzw) and transforms3d (wxyz)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
import transforms3d.quaternions as t3q

from pose_reloc.geometry import metrics
from pose_reloc.geometry import rotations as rot


@pytest.fixture
def quats_xyzw():
    """Return 200 random unit quaternions, xyzw, both signs of w."""
    rng = np.random.default_rng(0)
    q = rng.normal(size=(200, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _same_rotation(q_a, q_b, atol=1e-10):
    return np.allclose(np.abs(np.sum(q_a * q_b, axis=-1)), 1.0, atol=atol)


def test_quaternion_order_is_xyzw():
    # Convention pin: 90 deg about z is (0, 0, sin 45, cos 45) in our order.
    R_z90 = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    s = np.sqrt(0.5)
    np.testing.assert_allclose(rot.matrix_to_quat(R_z90), [0.0, 0.0, s, s], atol=1e-12)
    np.testing.assert_allclose(rot.quat_to_matrix([0.0, 0.0, s, s]), R_z90, atol=1e-12)
    # The rotation maps x onto y (active rotation).
    np.testing.assert_allclose(rot.quat_to_matrix([0.0, 0.0, s, s]) @ [1.0, 0.0, 0.0],
                               [0.0, 1.0, 0.0], atol=1e-12)


def test_order_conversion_both_ways():
    q_xyzw = np.array([0.1, 0.2, 0.3, 0.9])
    np.testing.assert_array_equal(rot.quat_xyzw_to_wxyz(q_xyzw), [0.9, 0.1, 0.2, 0.3])
    np.testing.assert_array_equal(rot.quat_wxyz_to_xyzw([0.9, 0.1, 0.2, 0.3]), q_xyzw)


def test_to_matrix_matches_scipy_and_transforms3d(quats_xyzw):
    R = rot.quat_to_matrix(quats_xyzw)
    np.testing.assert_allclose(R, Rotation.from_quat(quats_xyzw).as_matrix(), atol=1e-12)
    for q, R_i in zip(quats_xyzw[:20], R[:20]):
        np.testing.assert_allclose(R_i, t3q.quat2mat(rot.quat_xyzw_to_wxyz(q)), atol=1e-12)


def test_from_matrix_matches_scipy_and_transforms3d(quats_xyzw):
    R = Rotation.from_quat(quats_xyzw).as_matrix()
    q = rot.matrix_to_quat(R)
    assert q.shape == (200, 4)
    assert np.all(q[:, 3] >= 0.0)
    assert _same_rotation(q, Rotation.from_matrix(R).as_quat())
    for q_i, R_i in zip(q[:20], R[:20]):
        assert _same_rotation(rot.quat_wxyz_to_xyzw(t3q.mat2quat(R_i)), q_i)


def test_from_matrix_near_180_degrees():
    # Shepperd's branch choice: angles near pi (trace near -1) stay accurate.
    axes = np.eye(3) + 1e-9
    for axis in axes:
        R = Rotation.from_rotvec(np.pi * axis / np.linalg.norm(axis)).as_matrix()
        np.testing.assert_allclose(rot.quat_to_matrix(rot.matrix_to_quat(R)), R, atol=1e-12)


def test_batched_leading_dims(quats_xyzw):
    q = quats_xyzw.reshape(10, 5, 4, 4)
    assert rot.quat_to_matrix(q).shape == (10, 5, 4, 3, 3)
    assert rot.matrix_to_quat(rot.quat_to_matrix(q)).shape == (10, 5, 4, 4)
    assert rot.quat_log(q).shape == (10, 5, 4, 3)


def test_multiply_matches_transforms3d_and_composes_matrices(quats_xyzw):
    a, b = quats_xyzw[:100], quats_xyzw[100:]
    ab = rot.quat_multiply(a, b)
    np.testing.assert_allclose(rot.quat_to_matrix(ab),
                               rot.quat_to_matrix(a) @ rot.quat_to_matrix(b), atol=1e-12)
    expected = t3q.qmult(rot.quat_xyzw_to_wxyz(a[0]), rot.quat_xyzw_to_wxyz(b[0]))
    np.testing.assert_allclose(rot.quat_xyzw_to_wxyz(ab[0]), expected, atol=1e-12)


def test_conjugate_is_inverse(quats_xyzw):
    product = rot.quat_multiply(quats_xyzw, rot.quat_conjugate(quats_xyzw))
    np.testing.assert_allclose(product, np.tile([0.0, 0.0, 0.0, 1.0], (200, 1)), atol=1e-12)


def test_log_known_value_and_sign_invariance():
    # 90 deg about x: q = (sin 45, 0, 0, cos 45); log = (pi/4, 0, 0) (MapNet, not scaled by 2).
    s = np.sqrt(0.5)
    np.testing.assert_allclose(rot.quat_log([s, 0.0, 0.0, s]), [np.pi / 4, 0.0, 0.0])
    np.testing.assert_allclose(rot.quat_log([-s, 0.0, 0.0, -s]), [np.pi / 4, 0.0, 0.0])


def test_log_exp_round_trip(quats_xyzw):
    v = rot.quat_log(quats_xyzw)
    assert np.all(np.linalg.norm(v, axis=-1) <= np.pi / 2 + 1e-12)
    # Half the scipy rotation vector (rotvec = 2 * log q).
    np.testing.assert_allclose(2.0 * v, Rotation.from_quat(quats_xyzw).as_rotvec(), atol=1e-10)
    q = rot.quat_exp(v)
    np.testing.assert_allclose(q, rot.quat_canonical(quats_xyzw), atol=1e-12)


def test_log_exp_stable_near_identity():
    for angle in (0.0, 1e-12, 1e-9, 1e-6):
        q = np.array([np.sin(angle / 2), 0.0, 0.0, np.cos(angle / 2)])
        v = rot.quat_log(q)
        assert np.all(np.isfinite(v))
        np.testing.assert_allclose(v, [angle / 2, 0.0, 0.0], atol=1e-15, rtol=1e-9)
        np.testing.assert_allclose(rot.quat_exp(v), q, atol=1e-15)


def test_slerp_against_scipy(quats_xyzw):
    from scipy.spatial.transform import Slerp
    q0, q1 = quats_xyzw[0], quats_xyzw[1]
    times = np.linspace(0.0, 1.0, 11)
    expected = Slerp([0.0, 1.0], Rotation.from_quat([q0, q1]))(times).as_quat()
    ours = rot.quat_slerp(q0, q1, times)
    assert _same_rotation(ours, expected)


def test_slerp_shortest_path_and_nearly_equal():
    q0 = np.array([0.0, 0.0, 0.0, 1.0])
    q1 = -np.array([0.0, 0.0, np.sin(0.05), np.cos(0.05)])  # 0.1 rad about z, other sign
    mid = rot.quat_slerp(q0, q1, 0.5)
    np.testing.assert_allclose(mid, [0.0, 0.0, np.sin(0.025), np.cos(0.025)], atol=1e-12)
    q2 = np.array([0.0, 0.0, np.sin(1e-10), np.cos(1e-10)])
    out = rot.quat_slerp(q0, q2, 0.5)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(np.linalg.norm(out), 1.0)


def test_rotation_angle():
    R = Rotation.from_rotvec([[0.0, 0.0, 0.3], [1e-9, 0.0, 0.0], [0.0, 3.0, 0.0]]).as_matrix()
    np.testing.assert_allclose(rot.rotation_angle(R), [0.3, 1e-9, 3.0], rtol=1e-7)


@pytest.mark.parametrize('bad, word', [
    ([0.0, 0.0, 0.0, 0.0], 'zero'),
    ([np.nan, 0.0, 0.0, 1.0], 'NaN'),
    ([0.0, 0.0, 0.0, 1.1], 'not unit'),
])
def test_validate_names_where(bad, word):
    with pytest.raises(ValueError, match=rf'poses.txt:7.*{word}'):
        rot.quat_validate(bad, 'poses.txt:7')


def test_validate_tolerance_and_shape():
    rot.quat_validate([0.0, 0.0, 0.0, 1.0 + 1e-8], 'x')
    rot.quat_validate([0.0, 0.0, 0.0, 1.01], 'x', tol=0.1)
    with pytest.raises(ValueError, match=r'msg.*shape \(3,\)'):
        rot.quat_validate([0.0, 0.0, 1.0], 'msg')


def test_shape_check_is_shared():
    """One helper checks trailing shapes for rotations, se3 and metrics."""
    np.testing.assert_array_equal(rot.as_float_array([[1, 2, 3, 4]], (4,), 'q'),
                                  [[1.0, 2.0, 3.0, 4.0]])
    assert rot.as_float_array(np.eye(4, dtype=np.float32), (4, 4), 'T').dtype == np.float64
    with pytest.raises(ValueError, match=r'^T: expected poses of shape \(\.\.\., 4, 4\), '
                                         r'got shape \(3, 3\)$'):
        rot.as_float_array(np.eye(3), (4, 4), 'T', 'poses')
    with pytest.raises(ValueError, match=r'^v: expected log-quaternions of shape '
                                         r'\(\.\.\., 3\), got shape \(4,\)$'):
        rot.quat_exp(np.zeros(4))
    with pytest.raises(ValueError, match=r'^R: expected rotation matrices of shape '
                                         r'\(\.\.\., 3, 3\), got shape \(3,\)$'):
        rot.matrix_to_quat(np.zeros(3))
    with pytest.raises(ValueError, match=r'^q_gt: expected quaternions xyzw'):
        metrics.quat_angle_error_deg([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r'^T_gt: expected poses of shape'):
        metrics.translation_error_m(np.eye(4), np.eye(3))


def test_normalize_raises_on_zero_and_nan():
    np.testing.assert_allclose(rot.quat_normalize([0.0, 0.0, 0.0, 2.0]), [0.0, 0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r'index \(1,\)'):
        rot.quat_normalize([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match='non-finite'):
        rot.quat_to_matrix([np.nan, 0.0, 0.0, 1.0])
