# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Rigid transforms as 4x4 homogeneous matrices (numpy, batched over leading dimensions).

A pose is ``T_world_cam`` (camera-to-world): ``x_world = T_world_cam @ x_cam`` and
``T_world_cam[:3, 3]`` is the camera centre in the world frame. Quaternions are (x, y, z, w).
"""

import numpy as np

from pose_reloc.geometry.rotations import as_float_array, matrix_to_quat, quat_slerp
from pose_reloc.geometry.rotations import quat_to_matrix


def _as_T(T, name='T'):
    """Return ``T`` as a float64 array of shape (..., 4, 4) or raise ValueError."""
    return as_float_array(T, (4, 4), name, 'transforms')


def make_T(R, t):
    """Build homogeneous transforms from rotations and translations, broadcasting.

    Args:
        R: (..., 3, 3) rotation matrices.
        t: (..., 3) translations, metres.

    Returns:
        (..., 4, 4) float64 transforms ``[[R, t], [0, 0, 0, 1]]``.
    """
    R_arr = as_float_array(R, (3, 3), 'R', 'rotation matrices')
    t_arr = as_float_array(t, (3,), 't', 'translations')
    batch = np.broadcast_shapes(R_arr.shape[:-2], t_arr.shape[:-1])
    T = np.zeros(batch + (4, 4))
    T[..., :3, :3] = R_arr
    T[..., :3, 3] = t_arr
    T[..., 3, 3] = 1.0
    return T


def T_from_pos_quat(t, q_xyzw):
    """Build transforms from positions and quaternions.

    Args:
        t: (..., 3) translations, metres.
        q_xyzw: (..., 4) quaternions, xyzw (normalized here; zero/NaN raise ValueError).

    Returns:
        (..., 4, 4) float64 transforms.
    """
    return make_T(quat_to_matrix(q_xyzw), t)


def T_to_pos_quat(T):
    """Split transforms into positions and quaternions.

    Args:
        T: (..., 4, 4) transforms.

    Returns:
        Tuple ``(t, q_xyzw)``: (..., 3) float64 translations and (..., 4) float64 unit
        quaternions, xyzw, canonical ``w >= 0``.
    """
    T_arr = _as_T(T)
    return T_arr[..., :3, 3].copy(), matrix_to_quat(T_arr[..., :3, :3])


def invert(T):
    """Invert rigid transforms in closed form (``[R^T, -R^T t]``).

    Args:
        T: (..., 4, 4) rigid transforms, e.g. ``T_world_cam``.

    Returns:
        (..., 4, 4) float64 inverse transforms, e.g. ``T_cam_world``.
    """
    T_arr = _as_T(T)
    R_inv = np.swapaxes(T_arr[..., :3, :3], -1, -2)
    t_inv = -np.einsum('...ij,...j->...i', R_inv, T_arr[..., :3, 3])
    return make_T(R_inv, t_inv)


def compose(*Ts):
    """Chain transforms left to right (``T_a_b @ T_b_c @ ...``).

    Args:
        *Ts: one or more (..., 4, 4) transforms (broadcasting over leading dimensions).

    Returns:
        (..., 4, 4) float64 product.
    """
    if not Ts:
        raise ValueError('compose: needs at least one transform')
    result = _as_T(Ts[0], 'Ts[0]')
    for i, T in enumerate(Ts[1:], start=1):
        result = result @ _as_T(T, f'Ts[{i}]')
    return result


def relative(T_world_a, T_world_b):
    """Relative pose ``T_a_b = inv(T_world_a) @ T_world_b`` (b expressed in frame a).

    Args:
        T_world_a: (..., 4, 4) poses of frame a in the world.
        T_world_b: (..., 4, 4) poses of frame b in the world.

    Returns:
        (..., 4, 4) float64 transforms ``T_a_b``.
    """
    return invert(T_world_a) @ _as_T(T_world_b, 'T_world_b')


def interpolate(T0, T1, alpha):
    """Interpolate poses: linear in translation, slerp in rotation.

    Args:
        T0: (..., 4, 4) start transforms.
        T1: (..., 4, 4) end transforms.
        alpha: fraction, scalar or (...,) array; 0 gives T0, 1 gives T1.

    Returns:
        (..., 4, 4) float64 transforms.
    """
    t0, q0 = T_to_pos_quat(T0)
    t1, q1 = T_to_pos_quat(T1)
    alpha_arr = np.asarray(alpha, dtype=np.float64)
    t = t0 + alpha_arr[..., None] * (t1 - t0)
    return make_T(quat_to_matrix(quat_slerp(q0, q1, alpha_arr)), t)


def interpolate_at(times_ns, poses_n44, query_ns):
    """Interpolate a timed pose sequence at query times (e.g. TF at image stamps).

    Args:
        times_ns: (N,) integer nanoseconds, sorted (non-decreasing; at a repeated stamp
            one of its samples is used).
        poses_n44: (N, 4, 4) transforms at ``times_ns``.
        query_ns: (M,) integer nanoseconds.

    Returns:
        Tuple ``(poses_m44, valid_m)``: (M, 4, 4) float64 interpolated transforms (NaN where
        invalid) and (M,) bool, False for queries outside ``[times_ns[0], times_ns[-1]]``.

    Raises:
        ValueError: for mismatched shapes, an empty sequence or unsorted times (the message
            names the first offending index).
    """
    times = np.asarray(times_ns)
    query = np.atleast_1d(np.asarray(query_ns))
    poses = _as_T(poses_n44, 'poses_n44')
    if times.ndim != 1 or poses.shape != (times.shape[0], 4, 4):
        raise ValueError(f'interpolate_at: times_ns shape {times.shape} and poses shape '
                         f'{poses.shape} do not match (expected (N,) and (N, 4, 4))')
    if query.ndim != 1:
        raise ValueError(f'interpolate_at: query_ns must be 1-D, got shape {query.shape}')
    if times.shape[0] == 0:
        raise ValueError('interpolate_at: empty pose sequence')
    steps = np.diff(times)
    if np.any(steps < 0):
        i = int(np.argmax(steps < 0)) + 1
        raise ValueError(f'interpolate_at: times_ns must be sorted; index {i} ({times[i]}) '
                         f'follows {times[i - 1]}')
    valid = (query >= times[0]) & (query <= times[-1])
    out = np.full((query.shape[0], 4, 4), np.nan)
    if not np.any(valid):
        return out, valid
    if times.shape[0] == 1:
        out[valid] = poses[0]
        return out, valid
    q_valid = query[valid]
    hi = np.clip(np.searchsorted(times, q_valid, side='left'), 1, times.shape[0] - 1)
    lo = hi - 1
    # Integer differences first, so nanosecond stamps keep their precision.
    span = (times[hi] - times[lo]).astype(np.float64)
    offset = (q_valid - times[lo]).astype(np.float64)
    alpha = np.divide(offset, span, out=np.zeros_like(offset), where=span > 0)
    out[valid] = interpolate(poses[lo], poses[hi], alpha)
    return out, valid


def mean_pose(T_n44):
    """Mean of poses: mean position, chordal (eigenvector) mean of the quaternions.

    Args:
        T_n44: (N, 4, 4) poses, e.g. ``T_world_cam``; N >= 1.

    Returns:
        (4, 4) float64 pose whose translation is the mean of the translations and whose
        rotation maximizes the summed squared quaternion dot products (sign-invariant).
    """
    T = _as_T(T_n44, 'T_n44')
    if T.ndim != 3 or len(T) == 0:
        raise ValueError(f'mean_pose needs (N, 4, 4) poses with N >= 1, got {T.shape}')
    q_n4 = matrix_to_quat(T[:, :3, :3])
    _, vectors = np.linalg.eigh(q_n4.T @ q_n4)
    return make_T(quat_to_matrix(vectors[:, -1]), T[:, :3, 3].mean(axis=0))


def is_valid_T(T, tol=1e-6):
    """Check that matrices are finite rigid transforms.

    Args:
        T: (..., 4, 4) matrices.
        tol: tolerance on ``R^T R = I``, ``det R = 1`` and the last row ``(0, 0, 0, 1)``.

    Returns:
        bool for a single (4, 4) matrix, else a (...,) bool array. A wrong shape gives False.
    """
    T_arr = np.asarray(T, dtype=np.float64)
    if T_arr.ndim < 2 or T_arr.shape[-2:] != (4, 4):
        return False
    with np.errstate(invalid='ignore'):
        finite = np.all(np.isfinite(T_arr), axis=(-2, -1))
        T_safe = np.where(finite[..., None, None], T_arr, 0.0)
        R = T_safe[..., :3, :3]
        ortho = np.max(np.abs(np.swapaxes(R, -1, -2) @ R - np.eye(3)), axis=(-2, -1)) <= tol
        det = np.abs(np.linalg.det(R) - 1.0) <= tol
        last = np.max(np.abs(T_safe[..., 3, :] - np.array([0.0, 0.0, 0.0, 1.0])),
                      axis=-1) <= tol
    ok = finite & ortho & det & last
    return bool(ok) if ok.ndim == 0 else ok
