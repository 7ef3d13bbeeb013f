# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Batched, differentiable pose operations in torch (any float dtype and device).

Quaternions are ordered **(x, y, z, w)**, as in :mod:`pose_reloc.geometry.rotations`; the
log-quaternion is the MapNet one, ``(v / |v|) * arccos(w)``. Functions broadcast over
leading dimensions and keep gradients finite at the singular points (zero rotation) by
switching to Taylor expansions with ``torch.where`` on safe inputs.
"""

import torch

# Squared norm below which log/exp use their Taylor expansions.
_TAYLOR_SQ = 1e-8


def _check_last_dim(x, dim, name):
    if x.ndim < 1 or x.shape[-1] != dim:
        raise ValueError(f'{name}: expected shape (..., {dim}), got {tuple(x.shape)}')


def normalize_quat(q, eps=1e-12):
    """Scale quaternions to unit norm.

    Args:
        q: (..., 4) tensor of quaternions, xyzw.
        eps: lower bound of the norm (a zero quaternion stays zero, without NaN).

    Returns:
        (..., 4) tensor of unit quaternions, xyzw (sign unchanged).
    """
    _check_last_dim(q, 4, 'q')
    return q / q.norm(dim=-1, keepdim=True).clamp_min(eps)


def quat_to_matrix(q):
    """Convert quaternions to rotation matrices (normalizing first).

    Args:
        q: (..., 4) tensor of quaternions, xyzw.

    Returns:
        (..., 3, 3) tensor of rotation matrices.
    """
    x, y, z, w = normalize_quat(q).unbind(-1)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    R = torch.stack([
        1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
        2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
        2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
    ], dim=-1)
    return R.reshape(R.shape[:-1] + (3, 3))


def quat_multiply(a, b):
    """Hamilton product ``a * b`` (apply ``b`` first, then ``a``), broadcasting.

    Args:
        a: (..., 4) tensor of quaternions, xyzw.
        b: (..., 4) tensor of quaternions, xyzw.

    Returns:
        (..., 4) tensor of quaternions, xyzw.
    """
    _check_last_dim(a, 4, 'a')
    _check_last_dim(b, 4, 'b')
    ax, ay, az, aw = a.unbind(-1)
    bx, by, bz, bw = b.unbind(-1)
    return torch.stack([
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ], dim=-1)


def quat_log(q):
    """Log-quaternion ``(v / |v|) * arccos(w)`` after normalizing and making ``w >= 0``.

    Near the identity (``|v|^2 < 1e-8``) it uses ``v / w * (1 - |v|^2 / (3 w^2))``, so the
    value and gradient stay finite at ``v = 0``.

    Args:
        q: (..., 4) tensor of quaternions, xyzw.

    Returns:
        (..., 3) tensor of log-quaternions (norm = half the rotation angle, radians).
    """
    q_unit = normalize_quat(q)
    q_unit = torch.where(q_unit[..., 3:4] < 0, -q_unit, q_unit)
    v = q_unit[..., :3]
    w = q_unit[..., 3:4]
    n2 = (v * v).sum(dim=-1, keepdim=True)
    small = n2 < _TAYLOR_SQ
    n = torch.sqrt(torch.where(small, torch.ones_like(n2), n2))
    w_safe = torch.where(small, w, torch.ones_like(w))
    scale = torch.where(small, (1 - n2 / (3 * w_safe * w_safe)) / w_safe,
                        torch.atan2(n, w) / n)
    return v * scale


def quat_exp(v):
    """Inverse of :func:`quat_log`: ``(sin|v| * v / |v|, cos|v|)``.

    Near zero (``|v|^2 < 1e-8``) it uses the Taylor series of ``sin(t)/t`` and ``cos(t)``.

    Args:
        v: (..., 3) tensor of log-quaternions.

    Returns:
        (..., 4) tensor of unit quaternions, xyzw.
    """
    _check_last_dim(v, 3, 'v')
    t2 = (v * v).sum(dim=-1, keepdim=True)
    small = t2 < _TAYLOR_SQ
    t = torch.sqrt(torch.where(small, torch.ones_like(t2), t2))
    sinc = torch.where(small, 1 - t2 / 6 + t2 * t2 / 120, torch.sin(t) / t)
    cos = torch.where(small, 1 - t2 / 2 + t2 * t2 / 24, torch.cos(t))
    return torch.cat([v * sinc, cos], dim=-1)


def rotate_points(q, points):
    """Rotate point sets by quaternions.

    Args:
        q: (..., 4) tensor of quaternions, xyzw (normalized here).
        points: (..., N, 3) tensor of points; leading dimensions broadcast with ``q``'s.

    Returns:
        (..., N, 3) tensor of rotated points.
    """
    _check_last_dim(points, 3, 'points')
    R = quat_to_matrix(q)
    return points @ R.transpose(-1, -2)


def transform_points(T, points):
    """Apply rigid transforms to point sets: ``R @ p + t``.

    Args:
        T: (..., 4, 4) or (..., 3, 4) tensor of transforms, e.g. ``T_world_cam``.
        points: (..., N, 3) tensor of points in the source frame (e.g. camera).

    Returns:
        (..., N, 3) tensor of points in the target frame (e.g. world).
    """
    _check_last_dim(points, 3, 'points')
    if T.ndim < 2 or T.shape[-1] != 4 or T.shape[-2] not in (3, 4):
        raise ValueError(f'T: expected shape (..., 4, 4) or (..., 3, 4), got {tuple(T.shape)}')
    return points @ T[..., :3, :3].transpose(-1, -2) + T[..., None, :3, 3]


def project_points(points_cam, K, eps=1e-6):
    """Project camera-frame points with pinhole intrinsics (no distortion).

    Depths below ``eps`` are clamped to ``eps`` so the result stays finite; mask points
    with ``points_cam[..., 2] > eps`` where points behind the camera matter.

    Args:
        points_cam: (..., N, 3) tensor of points in the camera (optical) frame, metres.
        K: (..., 3, 3) tensor of intrinsic matrices, broadcasting with ``points_cam``.
        eps: minimum depth, metres.

    Returns:
        (..., N, 2) tensor of pixel coordinates.
    """
    _check_last_dim(points_cam, 3, 'points_cam')
    if K.ndim < 2 or K.shape[-2:] != (3, 3):
        raise ValueError(f'K: expected shape (..., 3, 3), got {tuple(K.shape)}')
    z = points_cam[..., 2:3].clamp_min(eps)
    xy = points_cam[..., :2] / z
    fx = K[..., None, 0, 0]
    fy = K[..., None, 1, 1]
    cx = K[..., None, 0, 2]
    cy = K[..., None, 1, 2]
    skew = K[..., None, 0, 1]
    u = fx * xy[..., 0] + skew * xy[..., 1] + cx
    v = fy * xy[..., 1] + cy
    return torch.stack([u, v], dim=-1)
