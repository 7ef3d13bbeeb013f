# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of pose_reloc.geometry.se3: compose/invert/relative, interpolation, conventions."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
import transforms3d.affines as t3a
import transforms3d.quaternions as t3q

from pose_reloc.geometry import se3
from pose_reloc.geometry.rotations import quat_xyzw_to_wxyz


def _random_T(n, seed=0):
    rng = np.random.default_rng(seed)
    R = Rotation.random(n, random_state=seed).as_matrix()
    return se3.make_T(R, rng.normal(size=(n, 3)))


def test_camera_to_world_convention():
    # A camera at (1, 2, 3) looking along world +x (optical z = world x, optical x = world -y,
    # optical y = world -z).
    R_world_cam = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    T_world_cam = se3.make_T(R_world_cam, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(T_world_cam[:3, 3], [1.0, 2.0, 3.0])
    # A world point 5 m ahead along +x lands on the optical axis at z = 5.
    p_cam = se3.invert(T_world_cam) @ np.array([6.0, 2.0, 3.0, 1.0])
    np.testing.assert_allclose(p_cam[:3], [0.0, 0.0, 5.0], atol=1e-12)
    # ... and the camera-frame point maps back with x_world = T_world_cam @ x_cam.
    np.testing.assert_allclose((T_world_cam @ p_cam)[:3], [6.0, 2.0, 3.0])


def test_pos_quat_round_trip_and_transforms3d():
    T = _random_T(50)
    t, q = se3.T_to_pos_quat(T)
    assert np.all(q[:, 3] >= 0.0)
    np.testing.assert_allclose(se3.T_from_pos_quat(t, q), T, atol=1e-12)
    for t_i, q_i, T_i in zip(t[:10], q[:10], T[:10]):
        # transforms3d takes wxyz: converted at the boundary.
        expected = t3a.compose(t_i, t3q.quat2mat(quat_xyzw_to_wxyz(q_i)), np.ones(3))
        np.testing.assert_allclose(T_i, expected, atol=1e-12)


def test_invert_compose_relative():
    T_world_a, T_world_b = _random_T(20, 1), _random_T(20, 2)
    np.testing.assert_allclose(se3.invert(T_world_a), np.linalg.inv(T_world_a), atol=1e-12)
    np.testing.assert_allclose(se3.compose(T_world_a, se3.invert(T_world_a)),
                               np.broadcast_to(np.eye(4), (20, 4, 4)), atol=1e-12)
    T_a_b = se3.relative(T_world_a, T_world_b)
    np.testing.assert_allclose(se3.compose(T_world_a, T_a_b), T_world_b, atol=1e-12)
    three = se3.compose(T_world_a[0], T_a_b[0], se3.invert(T_world_b[0]))
    np.testing.assert_allclose(three, np.eye(4), atol=1e-12)


def test_interpolate_midpoint():
    T0 = se3.make_T(np.eye(3), [0.0, 0.0, 0.0])
    T1 = se3.make_T(Rotation.from_rotvec([0.0, 0.0, 1.0]).as_matrix(), [2.0, 0.0, 4.0])
    mid = se3.interpolate(T0, T1, 0.5)
    np.testing.assert_allclose(mid[:3, 3], [1.0, 0.0, 2.0])
    np.testing.assert_allclose(Rotation.from_matrix(mid[:3, :3]).as_rotvec(), [0.0, 0.0, 0.5])
    np.testing.assert_allclose(se3.interpolate(T0, T1, 0.0), T0, atol=1e-12)
    np.testing.assert_allclose(se3.interpolate(T0, T1, 1.0), T1, atol=1e-12)


def test_interpolate_at_stamps():
    times_ns = np.array([1_700_000_000_000_000_000, 1_700_000_000_100_000_000,
                         1_700_000_000_300_000_000], dtype=np.int64)
    poses = np.stack([se3.make_T(np.eye(3), [x, 0.0, 0.0]) for x in (0.0, 1.0, 3.0)])
    query = times_ns[0] + np.array([-1, 0, 50_000_000, 200_000_000, 300_000_000, 300_000_001])
    out, valid = se3.interpolate_at(times_ns, poses, query)
    np.testing.assert_array_equal(valid, [False, True, True, True, True, False])
    np.testing.assert_allclose(out[valid, 0, 3], [0.0, 0.5, 2.0, 3.0], atol=1e-12)
    assert np.all(np.isnan(out[~valid]))


def test_interpolate_at_repeated_stamps_and_single_pose():
    poses = np.stack([se3.make_T(np.eye(3), [x, 0.0, 0.0]) for x in (0.0, 1.0, 1.0, 3.0)])
    out, valid = se3.interpolate_at(np.array([0, 10, 10, 20]), poses, np.array([0, 10, 15]))
    assert valid.all()
    np.testing.assert_allclose(out[:, 0, 3], [0.0, 1.0, 2.0])
    out, valid = se3.interpolate_at(np.array([0, 0]), poses[:2], np.array([0]))
    assert valid[0] and np.all(np.isfinite(out))
    out, valid = se3.interpolate_at(np.array([5]), poses[3:], np.array([4, 5, 6]))
    np.testing.assert_array_equal(valid, [False, True, False])
    np.testing.assert_allclose(out[1], poses[3])


def test_interpolate_at_rejects_unsorted_times():
    poses = np.broadcast_to(np.eye(4), (3, 4, 4))
    with pytest.raises(ValueError, match=r'must be sorted; index 2'):
        se3.interpolate_at(np.array([0, 10, 5]), poses, np.array([3]))
    with pytest.raises(ValueError, match=r'do not match'):
        se3.interpolate_at(np.array([0, 10]), poses, np.array([3]))


def test_is_valid_T():
    T = _random_T(3)
    assert se3.is_valid_T(T[0]) is True
    np.testing.assert_array_equal(se3.is_valid_T(T), [True, True, True])
    bad = T.copy()
    bad[0, 0, 0] += 0.1
    bad[1, 0, 3] = np.nan
    bad[2, 3, 0] = 1.0
    np.testing.assert_array_equal(se3.is_valid_T(bad), [False, False, False])
    reflection = np.diag([1.0, 1.0, -1.0, 1.0])
    assert se3.is_valid_T(reflection) is False
    assert se3.is_valid_T(np.eye(3)) is False


def test_bad_shapes_name_the_shape():
    with pytest.raises(ValueError, match=r'\(3, 3\)'):
        se3.invert(np.eye(3))
    with pytest.raises(ValueError, match=r'shape \(\.\.\., 3\)'):
        se3.make_T(np.eye(3), [1.0, 2.0])


def test_mean_pose_is_sign_invariant_and_averages_centres():
    from pose_reloc.geometry.rotations import quat_to_matrix
    angles = np.radians([-20.0, 0.0, 20.0])
    qs = np.stack([np.zeros(3), np.zeros(3), np.sin(angles / 2), np.cos(angles / 2)], 1)
    qs[1] *= -1  # q and -q are the same rotation
    T = np.stack([se3.make_T(quat_to_matrix(q), [i, 2.0 * i, 0.0])
                  for i, q in enumerate(qs)])
    mean = se3.mean_pose(T)
    np.testing.assert_allclose(mean[:3, :3], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(mean[:3, 3], [1.0, 2.0, 0.0])
    with pytest.raises(ValueError, match='N >= 1'):
        se3.mean_pose(np.zeros((0, 4, 4)))
