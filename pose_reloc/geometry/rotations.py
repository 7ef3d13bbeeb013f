# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Quaternions and rotation matrices (numpy, batched over leading dimensions).

Every quaternion in this module is ordered **(x, y, z, w)** ("xyzw", scalar last), the
order of ROS messages, TUM files and scipy. transforms3d uses (w, x, y, z): convert at that
boundary with :func:`quat_xyzw_to_wxyz` / :func:`quat_wxyz_to_xyzw`. The canonical sign of a
quaternion returned by this module is ``w >= 0``. Quaternions are Hamilton quaternions and
``quat_to_matrix(q) @ p`` rotates the point ``p`` (active rotation).
"""

import numpy as np

# Below this norm of the vector part, log/exp/slerp use series expansions.
_SMALL = 1e-8
# Above this |cos(angle)|, slerp falls back to normalized linear interpolation.
_SLERP_LINEAR = 0.9995


def as_float_array(x, tail, name, what='an array'):
    """Return ``x`` as a float64 array whose trailing dimensions are ``tail``.

    The one shape check of the numpy geometry modules (rotations, se3, metrics).

    Args:
        x: array-like.
        tail: required trailing shape, e.g. ``(4,)`` or ``(4, 4)``.
        name: what ``x`` is called (argument name, file and line, ...), put at the start
            of the error message.
        what: description of the expected content for the message.

    Returns:
        (..., *tail) float64 array.

    Raises:
        ValueError: naming ``name``, the expected and the actual shape.
    """
    arr = np.asarray(x, dtype=np.float64)
    tail = tuple(tail)
    if arr.ndim < len(tail) or arr.shape[arr.ndim - len(tail):] != tail:
        expected = ', '.join(['...'] + [str(d) for d in tail])
        raise ValueError(f'{name}: expected {what} of shape ({expected}), '
                         f'got shape {arr.shape}')
    return arr


def _as_quat(q, name='q'):
    """Return ``q`` as a float64 array of shape (..., 4) or raise ValueError."""
    return as_float_array(q, (4,), name, 'a quaternion array xyzw')


def _as_rotmat(R, name='R'):
    """Return ``R`` as a float64 array of shape (..., 3, 3) or raise ValueError."""
    return as_float_array(R, (3, 3), name, 'rotation matrices')


def quat_canonical(q):
    """Flip the sign of quaternions with ``w < 0`` so that ``w >= 0``.

    Args:
        q: (..., 4) quaternions, xyzw.

    Returns:
        (..., 4) float64 quaternions, xyzw, with ``w >= 0`` (same rotations).
    """
    q_arr = _as_quat(q)
    return np.where(q_arr[..., 3:4] < 0.0, -q_arr, q_arr)


def quat_normalize(q):
    """Scale quaternions to unit norm.

    Args:
        q: (..., 4) quaternions, xyzw.

    Returns:
        (..., 4) float64 unit quaternions, xyzw (sign unchanged).

    Raises:
        ValueError: if any quaternion is zero or contains NaN/inf (the message gives the
            index and value of the first offending one).
    """
    q_arr = _as_quat(q)
    norm = np.linalg.norm(q_arr, axis=-1, keepdims=True)
    bad = ~np.isfinite(norm[..., 0]) | (norm[..., 0] < 1e-12)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0]) if q_arr.ndim > 1 else ()
        at = f' at index {idx}' if idx else ''
        raise ValueError(f'cannot normalize a zero or non-finite quaternion (xyzw){at}: '
                         f'{q_arr[idx].tolist()}')
    return q_arr / norm


def quat_validate(q, where, tol=1e-6):
    """Check that quaternions are finite and of unit norm.

    Args:
        q: (..., 4) quaternions, xyzw.
        where: text naming the source of ``q`` (file and line, message field, ...); it is
            put at the start of the error message.
        tol: accepted deviation of the norm from 1.

    Returns:
        (..., 4) float64 array of ``q`` (unchanged, not renormalized).

    Raises:
        ValueError: naming ``where`` and the offending value for a wrong shape, NaN/inf, a
            zero quaternion or a norm further than ``tol`` from 1.
    """
    q_arr = _as_quat(q, where)
    flat = q_arr.reshape(-1, 4)
    finite = np.all(np.isfinite(flat), axis=-1)
    norms = np.linalg.norm(np.where(finite[:, None], flat, 0.0), axis=-1)
    bad = ~finite | (np.abs(norms - 1.0) > tol)
    if np.any(bad):
        i = int(np.argmax(bad))
        value, norm = flat[i].tolist(), norms[i]
        label = f' (quaternion {i})' if flat.shape[0] > 1 else ''
        if not finite[i]:
            raise ValueError(f'{where}: quaternion (xyzw) has NaN/inf{label}: {value}')
        if norm < 1e-12:
            raise ValueError(f'{where}: zero quaternion (xyzw){label}: {value}')
        raise ValueError(f'{where}: quaternion (xyzw) is not unit, norm {norm:.9g} '
                         f'(tolerance {tol:g}){label}: {value}')
    return q_arr


def quat_xyzw_to_wxyz(q):
    """Reorder quaternions from (x, y, z, w) to (w, x, y, z) (the transforms3d order).

    Args:
        q: (..., 4) quaternions, xyzw.

    Returns:
        (..., 4) float64 quaternions, wxyz.
    """
    q_arr = _as_quat(q)
    return np.concatenate([q_arr[..., 3:4], q_arr[..., :3]], axis=-1)


def quat_wxyz_to_xyzw(q):
    """Reorder quaternions from (w, x, y, z) (the transforms3d order) to (x, y, z, w).

    Args:
        q: (..., 4) quaternions, wxyz.

    Returns:
        (..., 4) float64 quaternions, xyzw.
    """
    q_arr = _as_quat(q)
    return np.concatenate([q_arr[..., 1:4], q_arr[..., 0:1]], axis=-1)


def quat_to_matrix(q):
    """Convert quaternions to rotation matrices.

    Args:
        q: (..., 4) quaternions, xyzw; normalized here (zero/NaN raise ValueError).

    Returns:
        (..., 3, 3) float64 rotation matrices ``R`` with ``R @ p`` the rotated point.
    """
    x, y, z, w = np.moveaxis(quat_normalize(q), -1, 0)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    R = np.stack([
        1.0 - 2.0 * (yy + zz), 2.0 * (xy - wz), 2.0 * (xz + wy),
        2.0 * (xy + wz), 1.0 - 2.0 * (xx + zz), 2.0 * (yz - wx),
        2.0 * (xz - wy), 2.0 * (yz + wx), 1.0 - 2.0 * (xx + yy),
    ], axis=-1)
    return R.reshape(R.shape[:-1] + (3, 3))


def matrix_to_quat(R):
    """Convert rotation matrices to quaternions (Shepperd's method, numerically robust).

    The largest of the four candidate terms (w, x, y, z) is computed from the diagonal and
    the others from off-diagonal sums, so no division by a small number occurs.
    Non-finite matrices give NaN quaternions (no exception), so that failed estimates
    propagate as NaN into metrics.

    Args:
        R: (..., 3, 3) rotation matrices.

    Returns:
        (..., 4) float64 unit quaternions, xyzw, canonical sign ``w >= 0``.
    """
    R_arr = _as_rotmat(R)
    m00, m01, m02 = R_arr[..., 0, 0], R_arr[..., 0, 1], R_arr[..., 0, 2]
    m10, m11, m12 = R_arr[..., 1, 0], R_arr[..., 1, 1], R_arr[..., 1, 2]
    m20, m21, m22 = R_arr[..., 2, 0], R_arr[..., 2, 1], R_arr[..., 2, 2]
    trace = m00 + m11 + m22
    # Four candidates, each scaled by 4 * (its largest component); columns are x, y, z, w.
    cand_w = np.stack([m21 - m12, m02 - m20, m10 - m01, 1.0 + trace], axis=-1)
    cand_x = np.stack([1.0 + m00 - m11 - m22, m01 + m10, m02 + m20, m21 - m12], axis=-1)
    cand_y = np.stack([m01 + m10, 1.0 - m00 + m11 - m22, m12 + m21, m02 - m20], axis=-1)
    cand_z = np.stack([m02 + m20, m12 + m21, 1.0 - m00 - m11 + m22, m10 - m01], axis=-1)
    diag = np.stack([m00, m11, m22, trace], axis=-1)
    choice = np.argmax(np.nan_to_num(diag, nan=0.0), axis=-1)[..., None]
    q = np.where(choice == 3, cand_w,
                 np.where(choice == 0, cand_x, np.where(choice == 1, cand_y, cand_z)))
    with np.errstate(invalid='ignore', divide='ignore'):
        q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., 3:4] < 0.0, -q, q)


def quat_multiply(a, b):
    """Hamilton product ``a * b`` (apply ``b`` first, then ``a``), broadcasting.

    Args:
        a: (..., 4) quaternions, xyzw.
        b: (..., 4) quaternions, xyzw.

    Returns:
        (..., 4) float64 quaternions, xyzw (not renormalized, sign not canonicalized).
    """
    ax, ay, az, aw = np.moveaxis(_as_quat(a, 'a'), -1, 0)
    bx, by, bz, bw = np.moveaxis(_as_quat(b, 'b'), -1, 0)
    return np.stack([
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ], axis=-1)


def quat_conjugate(q):
    """Conjugate (the inverse for unit quaternions).

    Args:
        q: (..., 4) quaternions, xyzw.

    Returns:
        (..., 4) float64 quaternions, xyzw: ``(-x, -y, -z, w)``.
    """
    q_arr = _as_quat(q)
    return np.concatenate([-q_arr[..., :3], q_arr[..., 3:4]], axis=-1)


def quat_log(q):
    """Log-quaternion of the MapNet parameterization: ``(v / |v|) * arccos(w)``.

    ``q`` is normalized and brought to ``w >= 0`` first, so ``q`` and ``-q`` give the same
    result; the norm of the result is half the rotation angle (radians), at most pi/2.
    Computed as ``atan2(|v|, w) * v / |v|``, which is stable near the identity.

    Args:
        q: (..., 4) quaternions, xyzw (zero/NaN raise ValueError).

    Returns:
        (..., 3) float64 log-quaternions.
    """
    q_unit = quat_canonical(quat_normalize(q))
    v = q_unit[..., :3]
    w = q_unit[..., 3]
    v_norm = np.linalg.norm(v, axis=-1)
    small = v_norm < _SMALL
    safe_norm = np.where(small, 1.0, v_norm)
    # atan2(n, w) / n -> 1 / w as n -> 0 (w -> 1 for unit quaternions).
    scale = np.where(small, 1.0 / np.maximum(w, _SMALL), np.arctan2(v_norm, w) / safe_norm)
    return v * scale[..., None]


def quat_exp(v):
    """Inverse of :func:`quat_log`: ``(sin|v| * v / |v|, cos|v|)``.

    Args:
        v: (..., 3) log-quaternions (|v| is half the rotation angle, radians).

    Returns:
        (..., 4) float64 unit quaternions, xyzw (``w >= 0`` when ``|v| <= pi/2``).
    """
    v_arr = as_float_array(v, (3,), 'v', 'log-quaternions')
    theta = np.linalg.norm(v_arr, axis=-1)
    sinc = np.sinc(theta / np.pi)  # sin(theta) / theta, exact at 0
    return np.concatenate([v_arr * sinc[..., None], np.cos(theta)[..., None]], axis=-1)


def quat_slerp(q0, q1, t):
    """Spherical linear interpolation along the shorter arc, broadcasting.

    Nearly equal quaternions (``|<q0, q1>| > 0.9995``) use normalized linear interpolation,
    which avoids dividing by ``sin`` of a tiny angle.

    Args:
        q0: (..., 4) start quaternions, xyzw (normalized here).
        q1: (..., 4) end quaternions, xyzw (normalized here).
        t: interpolation fraction, scalar or (...,) array; 0 gives q0, 1 gives q1.

    Returns:
        (..., 4) float64 unit quaternions, xyzw, canonical ``w >= 0``.
    """
    a = quat_normalize(q0)
    b = quat_normalize(q1)
    t_arr = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0.0, -b, b)
    dot = np.abs(dot)
    linear = dot > _SLERP_LINEAR
    angle = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_angle = np.where(linear, 1.0, np.sin(angle))
    w0 = np.where(linear, 1.0 - t_arr, np.sin((1.0 - t_arr) * angle) / sin_angle)
    w1 = np.where(linear, t_arr, np.sin(t_arr * angle) / sin_angle)
    q = w0 * a + w1 * b
    return quat_canonical(q / np.linalg.norm(q, axis=-1, keepdims=True))


def rotation_angle(R):
    """Rotation angle of rotation matrices, computed via the quaternion (stable near 0).

    Args:
        R: (..., 3, 3) rotation matrices.

    Returns:
        (...,) float64 angles in radians, in [0, pi].
    """
    q = matrix_to_quat(R)
    return 2.0 * np.arctan2(np.linalg.norm(q[..., :3], axis=-1), np.abs(q[..., 3]))
