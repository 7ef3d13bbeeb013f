# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of pose_reloc.geometry.pnp: RANSAC PnP, distortion, covariance, failures."""

import sys

import cv2
import numpy as np
import pytest

from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.pnp import LIBRARY_RANSAC, PnPConfig, pose_jacobian, \
    RANSAC_FLAVOURS, solve_pnp_ransac, SOLVERS

CAMERA = PinholeCamera(width=640, height=480, fx=520.0, fy=490.0, cx=345.0, cy=220.0)


def _pose():
    R_world_cam, _ = cv2.Rodrigues(np.array([0.2, -0.4, 0.3]))
    T_world_cam = np.eye(4)
    T_world_cam[:3, :3] = R_world_cam
    T_world_cam[:3, 3] = [0.5, -1.2, 0.8]
    return T_world_cam


def _scene(n, camera=CAMERA, seed=0):
    """World points seen by ``camera`` at ``_pose()`` and their ideal pixels."""
    rng = np.random.default_rng(seed)
    T_world_cam = _pose()
    uv = np.c_[rng.uniform(0, camera.width - 1, n), rng.uniform(0, camera.height - 1, n)]
    rays = np.c_[(uv[:, 0] - camera.cx) / camera.fx, (uv[:, 1] - camera.cy) / camera.fy,
                 np.ones(n)]
    points_cam = rays * rng.uniform(1.0, 6.0, n)[:, None]
    points_world = points_cam @ T_world_cam[:3, :3].T + T_world_cam[:3, 3]
    return T_world_cam, points_world, uv


def _errors(T_est, T_gt):
    t = np.linalg.norm(T_est[:3, 3] - T_gt[:3, 3])
    c = (np.trace(T_est[:3, :3].T @ T_gt[:3, :3]) - 1) / 2
    return t, np.degrees(np.arccos(np.clip(c, -1, 1)))


@pytest.mark.parametrize('ransac,solver', [('usac_magsac', 'ap3p'), ('ransac', 'ap3p'),
                                           ('ransac', 'sqpnp'), ('usac_default', 'ap3p'),
                                           ('poselib', 'ap3p'), ('pycolmap', 'ap3p')])
def test_exact_correspondences_with_half_outliers(ransac, solver):
    if ransac in LIBRARY_RANSAC:
        pytest.importorskip(ransac)
    T_gt, points, uv = _scene(400)
    rng = np.random.default_rng(1)
    outliers = rng.random(400) < 0.5
    points[outliers] = rng.uniform(points.min(0), points.max(0), (int(outliers.sum()), 3))
    result = solve_pnp_ransac(points, uv, CAMERA, PnPConfig(solver=solver, ransac=ransac))
    assert result.ok and result.failure is None
    t_err, r_err = _errors(result.T_world_cam, T_gt)
    assert t_err < 1e-6 and r_err < 1e-4
    # the inlier set is exactly the uncorrupted half (random 3-D points may project by chance
    # within the threshold, hence the small slack)
    assert np.all(result.inliers[~outliers])
    assert result.inlier_count <= (~outliers).sum() + 3
    assert result.inlier_ratio == pytest.approx(result.inlier_count / 400)
    assert result.reprojection_error_px < 1e-4
    assert result.covariance.shape == (6, 6)


def test_covariance_shrinks_as_inliers_grow_and_matches_scatter():
    rng = np.random.default_rng(2)
    traces = []
    for n in (30, 120, 480):
        T_gt, points, uv = _scene(n, seed=n)
        result = solve_pnp_ransac(points, uv + rng.normal(0, 1.0, uv.shape), CAMERA)
        assert result.ok
        traces.append(np.trace(result.covariance[:3, :3]) + np.trace(result.covariance[3:, 3:]))
        assert np.all(np.linalg.eigvalsh(result.covariance) > 0)
    assert traces[0] > 2 * traces[1] > 4 * traces[2]

    # Monte-Carlo: the predicted standard deviations (sigma = 1 px) match the scatter of the
    # estimates, in the (x, y, z, rot_x, rot_y, rot_z) world-frame convention.
    T_gt, points, uv = _scene(150, seed=5)
    deltas = []
    for _ in range(150):
        result = solve_pnp_ransac(points, uv + rng.normal(0, 1.0, uv.shape), CAMERA)
        dR = result.T_world_cam[:3, :3] @ T_gt[:3, :3].T
        deltas.append(np.r_[result.T_world_cam[:3, 3] - T_gt[:3, 3],
                            cv2.Rodrigues(dR)[0].ravel()])
    J = pose_jacobian(points, T_gt, CAMERA.K)
    predicted = np.sqrt(np.diag(np.linalg.inv(J.T @ J)))
    ratio = np.std(deltas, axis=0) / predicted
    assert np.all((ratio > 0.75) & (ratio < 1.3)), ratio


def test_distorted_pixels_give_the_same_pose():
    distorted = PinholeCamera(640, 480, 520.0, 490.0, 345.0, 220.0, 'plumb_bob',
                              (-0.28, 0.09, 0.001, -0.0015, 0.0))
    T_gt, points, uv_ideal = _scene(300, seed=3)
    uv_distorted = distorted.distort_points(uv_ideal)
    assert np.abs(uv_distorted - uv_ideal).max() > 20  # the distortion is not negligible
    from_ideal = solve_pnp_ransac(points, uv_ideal, CAMERA)
    from_distorted = solve_pnp_ransac(points, uv_distorted, distorted)
    assert from_ideal.ok and from_distorted.ok
    t_err, r_err = _errors(from_distorted.T_world_cam, from_ideal.T_world_cam)
    assert t_err < 1e-5 and r_err < 1e-4
    assert from_distorted.inlier_count == 300
    # ignoring the distortion is measurably wrong
    wrong = solve_pnp_ransac(points, uv_distorted, CAMERA, PnPConfig(min_inlier_ratio=0.0))
    assert not wrong.ok or _errors(wrong.T_world_cam, T_gt)[0] > 100 * t_err


def test_too_few_inliers_is_a_reported_failure():
    T_gt, points, uv = _scene(200, seed=4)
    rng = np.random.default_rng(4)
    points[10:] = rng.uniform(points.min(0), points.max(0), (190, 3))
    result = solve_pnp_ransac(points, uv, CAMERA, PnPConfig(min_inliers=30))
    assert not result.ok
    assert result.failure in ('too_few_inliers', 'ransac_failed')
    assert result.T_world_cam is None and result.covariance is None
    # a ratio threshold also refuses a pose supported by a small fraction of the points
    result = solve_pnp_ransac(points, uv, CAMERA, PnPConfig(min_inliers=4,
                                                            min_inlier_ratio=0.2))
    assert not result.ok and result.T_world_cam is None
    few = solve_pnp_ransac(points[:8], uv[:8], CAMERA)
    assert not few.ok and few.failure == 'too_few_points' and few.inliers.shape == (8,)


def test_bad_input_raises():
    _, points, uv = _scene(20)
    with pytest.raises(ValueError, match=r'\(N, 3\)'):
        solve_pnp_ransac(points[:, :2], uv, CAMERA)
    with pytest.raises(ValueError, match='19'):
        solve_pnp_ransac(points[:19], uv, CAMERA)
    points[3] = np.nan
    with pytest.raises(ValueError, match='row 3'):
        solve_pnp_ransac(points, uv, CAMERA)
    with pytest.raises(ValueError, match='solver'):
        PnPConfig(solver='dls')
    with pytest.raises(ValueError, match='ransac'):
        PnPConfig(ransac='lo-ransac')
    assert 'usac_magsac' in RANSAC_FLAVOURS and 'sqpnp' in SOLVERS
    assert set(LIBRARY_RANSAC) <= set(RANSAC_FLAVOURS)


@pytest.mark.parametrize('ransac', LIBRARY_RANSAC)
def test_library_flavours_agree_with_opencv_and_keep_the_ros_covariance(ransac):
    pytest.importorskip(ransac)
    T_gt, points, uv = _scene(300, seed=6)
    rng = np.random.default_rng(6)
    uv = uv + rng.normal(0, 0.5, uv.shape)
    outliers = rng.random(300) < 0.6
    points[outliers] = rng.uniform(points.min(0), points.max(0), (int(outliers.sum()), 3))
    reference = solve_pnp_ransac(points, uv, CAMERA, PnPConfig(ransac='usac_magsac'))
    result = solve_pnp_ransac(points, uv, CAMERA, PnPConfig(ransac=ransac))
    assert reference.ok and result.ok
    t_err, r_err = _errors(result.T_world_cam, T_gt)
    assert t_err < 0.01 and r_err < 0.2
    # the same inliers (up to chance outliers near the threshold), and the covariance is the
    # Gauss-Newton one of the module docstring in the (x, y, z, rot_x, rot_y, rot_z) order:
    # close to OpenCV's, whose least-squares estimate differs from the robust one by noise.
    assert np.sum(result.inliers != reference.inliers) <= 3
    assert result.covariance.shape == (6, 6)
    assert np.allclose(result.covariance, result.covariance.T)
    ratio = np.sqrt(np.diag(result.covariance) / np.diag(reference.covariance))
    assert np.all((ratio > 0.8) & (ratio < 1.25)), ratio
    # seeded: the same pose twice; no refinement is a worse but valid pose
    again = solve_pnp_ransac(points, uv, CAMERA, PnPConfig(ransac=ransac))
    assert np.array_equal(again.T_world_cam, result.T_world_cam)
    raw = solve_pnp_ransac(points, uv, CAMERA, PnPConfig(ransac=ransac, refine=False))
    assert raw.ok and _errors(raw.T_world_cam, T_gt)[0] < 0.1


@pytest.mark.parametrize('ransac', LIBRARY_RANSAC)
def test_library_flavour_with_distortion_and_missing_package(ransac, monkeypatch):
    pytest.importorskip(ransac)
    distorted = PinholeCamera(640, 480, 520.0, 490.0, 345.0, 220.0, 'plumb_bob',
                              (-0.28, 0.09, 0.001, -0.0015, 0.0))
    T_gt, points, uv_ideal = _scene(200, seed=7)
    result = solve_pnp_ransac(points, distorted.distort_points(uv_ideal), distorted,
                              PnPConfig(ransac=ransac))
    assert result.ok and result.inlier_count == 200
    t_err, r_err = _errors(result.T_world_cam, T_gt)
    assert t_err < 1e-5 and r_err < 1e-4
    # without the package: a clear error at solve time, naming it and the way out
    monkeypatch.setitem(sys.modules, ransac, None)
    config = PnPConfig(ransac=ransac)
    with pytest.raises(ImportError, match=f'pip install {ransac}.*usac_magsac'):
        solve_pnp_ransac(points, uv_ideal, CAMERA, config)
