# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of pose_reloc.geometry.torch_ops: agreement with numpy, gradcheck, stability."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
import torch

from pose_reloc.geometry import rotations as rot
from pose_reloc.geometry import torch_ops as ops
from pose_reloc.geometry.camera import PinholeCamera


def _quats(n=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, dtype=torch.float64, generator=generator)


def test_quaternion_order_is_xyzw():
    s = np.sqrt(0.5)
    R = ops.quat_to_matrix(torch.tensor([0.0, 0.0, s, s], dtype=torch.float64))
    expected = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
                            dtype=torch.float64)
    torch.testing.assert_close(R, expected)


def test_matches_numpy():
    q = _quats(50)
    torch.testing.assert_close(ops.normalize_quat(q), torch.from_numpy(rot.quat_normalize(q)))
    torch.testing.assert_close(ops.quat_to_matrix(q), torch.from_numpy(rot.quat_to_matrix(q)))
    torch.testing.assert_close(ops.quat_log(q), torch.from_numpy(rot.quat_log(q)))
    v = ops.quat_log(q)
    torch.testing.assert_close(ops.quat_exp(v), torch.from_numpy(rot.quat_exp(v.numpy())))
    torch.testing.assert_close(ops.quat_multiply(q[:25], q[25:]),
                               torch.from_numpy(rot.quat_multiply(q[:25], q[25:])))


def test_log_exp_round_trip_and_known_value():
    q = ops.normalize_quat(_quats(50))
    q = torch.where(q[..., 3:] < 0, -q, q)
    torch.testing.assert_close(ops.quat_exp(ops.quat_log(q)), q)
    s = np.sqrt(0.5)
    v = ops.quat_log(torch.tensor([s, 0.0, 0.0, s], dtype=torch.float64))
    torch.testing.assert_close(v, torch.tensor([np.pi / 4, 0.0, 0.0], dtype=torch.float64))


def test_log_exp_finite_gradients_at_identity():
    q = torch.tensor([[0.0, 0.0, 0.0, 1.0], [1e-6, 0.0, 0.0, 1.0]], dtype=torch.float64,
                     requires_grad=True)
    ops.quat_log(q).sum().backward()
    assert torch.all(torch.isfinite(q.grad))
    torch.testing.assert_close(q.grad[0], torch.tensor([1.0, 1.0, 1.0, 0.0],
                                                       dtype=torch.float64))
    v = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    ops.quat_exp(v)[..., :3].sum().backward()
    torch.testing.assert_close(v.grad, torch.ones(2, 3, dtype=torch.float64))


def test_float32_and_batch_dims():
    q = _quats(12).float().reshape(3, 4, 4)
    assert ops.quat_to_matrix(q).shape == (3, 4, 3, 3)
    assert ops.quat_log(q).dtype == torch.float32
    assert ops.quat_exp(ops.quat_log(q)).shape == (3, 4, 4)


def test_transform_and_project_match_numpy():
    rng = np.random.default_rng(0)
    T = np.eye(4)
    T[:3, :3] = Rotation.random(random_state=1).as_matrix()
    T[:3, 3] = [0.1, -0.2, 0.3]
    points = rng.uniform([-1, -1, 2], [1, 1, 4], size=(20, 3))
    out = ops.transform_points(torch.from_numpy(T)[None], torch.from_numpy(points)[None])
    np.testing.assert_allclose(out[0].numpy(), points @ T[:3, :3].T + T[:3, 3])
    q = torch.from_numpy(rot.matrix_to_quat(T[:3, :3]))
    rotated = ops.rotate_points(q, torch.from_numpy(points))
    np.testing.assert_allclose(rotated.numpy(), points @ T[:3, :3].T)
    camera = PinholeCamera(64, 48, 50.0, 52.0, 31.5, 23.5)
    uv = ops.project_points(torch.from_numpy(points), torch.from_numpy(camera.K))
    np.testing.assert_allclose(uv.numpy(), camera.project(points)[0])


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match=r'q: expected shape \(\.\.\., 4\), got \(3,\)'):
        ops.quat_to_matrix(torch.zeros(3))
    with pytest.raises(ValueError, match=r'T: expected shape'):
        ops.transform_points(torch.eye(3), torch.zeros(5, 3))


def test_gradcheck():
    q = _quats(4).requires_grad_()
    q_near = torch.tensor([[1e-5, -2e-5, 3e-6, 1.0], [0.0, 0.0, 0.0, 1.0]],
                          dtype=torch.float64, requires_grad=True)
    v = (0.5 * _quats(4, 1)[:, :3]).requires_grad_()
    v_near = torch.tensor([[1e-6, 0.0, -2e-6], [0.0, 0.0, 0.0]], dtype=torch.float64,
                          requires_grad=True)
    points = torch.rand(2, 5, 3, dtype=torch.float64).add(
        torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)).requires_grad_()
    T = torch.eye(4, dtype=torch.float64).repeat(2, 1, 1)
    T[:, :3, :3] = ops.quat_to_matrix(_quats(2, 2))
    T[:, :3, 3] = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    T.requires_grad_()
    K = torch.tensor([[50.0, 0.0, 31.5], [0.0, 52.0, 23.5], [0.0, 0.0, 1.0]],
                     dtype=torch.float64, requires_grad=True)
    checks = [
        (ops.normalize_quat, (q,)),
        (ops.quat_to_matrix, (q,)),
        (ops.quat_log, (q,)),
        (ops.quat_log, (q_near,)),
        (ops.quat_exp, (v,)),
        (ops.quat_exp, (v_near,)),
        (ops.quat_multiply, (q[:2], q[2:])),
        (ops.rotate_points, (q[:2], points)),
        (ops.transform_points, (T, points)),
        (ops.project_points, (points, K)),
    ]
    for fn, args in checks:
        assert torch.autograd.gradcheck(fn, args, eps=1e-7, atol=1e-6), fn.__name__
