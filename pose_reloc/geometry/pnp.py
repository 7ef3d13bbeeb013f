# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Camera pose from 2D-3D correspondences: PnP inside RANSAC, refinement, covariance.

``solve_pnp_ransac`` is the geometric half of scene coordinate regression: given world points
(predicted scene coordinates) and the pixels that observed them, it returns ``T_world_cam``
(camera-to-world, OpenCV optical frame), the inlier set and a 6x6 covariance in the ROS
``PoseWithCovariance`` convention, or a failure with a reason, never a garbage pose.

Pipeline:

1. Pixels of a distorted camera (``plumb_bob`` / ``equidistant``) are mapped to the pixels of
   the ideal pinhole camera with the same ``K`` (``PinholeCamera.undistort_points``); all later
   steps work in those ideal pixels with zero distortion.
2. Hypotheses: ``cv2.solvePnPRansac`` either with the classic RANSAC and a minimal / non-minimal
   solver (``flags=SOLVEPNP_*``), or with one of OpenCV's USAC flavours (``flags=USAC_*``; USAC
   fixes its own minimal solver, P3P, so ``solver`` does not apply to it); or the LO-RANSAC
   (P3P, local optimization of the best models) of poselib (``ransac='poselib'``,
   ``poselib.estimate_absolute_pose``) or of COLMAP (``ransac='pycolmap'``,
   ``pycolmap.estimate_and_refine_absolute_pose``), imported only when chosen.
3. Inliers are recomputed by our own residual (reprojection error below the threshold AND the
   point in front of the camera). OpenCV flavours: ``cv2.solvePnPRefineLM`` (least squares)
   refines the pose on the inliers; inliers are recomputed under the refined pose and the
   refinement repeated once if they changed. Library flavours keep the library's own
   refinement (a Cauchy-robust non-linear least squares on its inliers; ``refine=False``
   turns it off): re-fitting it by plain least squares would undo the down-weighting of the
   1-3 px residuals that make it more accurate on regressed scene coordinates
   (``benchmarks/bench_pnp_scr.py``).
4. Thresholds: too few inliers or too low an inlier ratio give ``ok=False`` with a reason.

Covariance derivation (Gauss-Newton on the inliers). Parameterize a perturbation of the
estimate in the ROS convention: camera centre ``p' = p + dp`` (world frame, metres) and rotation
``R_world_cam' = exp([dtheta]_x) R_world_cam`` (small-angle vector about the fixed world axes,
radians); the 6-vector is ``delta = (dp, dtheta)``, order ``(x, y, z, rot_x, rot_y, rot_z)``.
A world point ``X`` maps to the camera as ``x_c = R_world_cam'^T (X - p')``; to first order,
with ``v = X - p`` and ``R = R_world_cam``::

    d x_c / d dp     = -R^T
    d x_c / d dtheta =  R^T [v]_x        (since exp(-[dtheta]_x) v ~ v + v x dtheta)

and the pinhole projection ``u = fx X/Z + cx, v = fy Y/Z + cy`` has ``d(u, v)/d x_c =
[[fx/Z, 0, -fx X/Z^2], [0, fy/Z, -fy Y/Z^2]]``. Stacking the 2x6 blocks of all ``n`` inliers
gives ``J (2n, 6)``; with residuals ``r`` (pixels) the Gauss-Newton covariance of the
least-squares estimate is ``sigma^2 (J^T J)^-1`` with ``sigma^2 = |r|^2 / (2n - 6)`` (floored at
``cfg.min_sigma_px^2``: inlier residuals are truncated at the threshold, and a perfect fit must
not claim zero uncertainty). Because the Jacobian is taken directly with respect to the ROS
parameters, no change of variables from OpenCV's ``(rvec, tvec)`` (world-to-camera) is needed.
Units: m^2, rad^2, m*rad off-diagonal. A test checks it against Monte-Carlo scatter. The
same formula is used whichever flavour found the pose (pycolmap's own covariance, of the
``cam_from_world`` tangent space, is not used), so the convention and the per-bundle
covariance calibration do not depend on the flavour.
"""

from dataclasses import dataclass
import importlib
from typing import Optional, Tuple

import cv2
import numpy as np

from pose_reloc.geometry.se3 import invert, make_T

#: solver name -> OpenCV ``SOLVEPNP_*`` flag (used by the classic RANSAC).
SOLVERS = {
    'iterative': cv2.SOLVEPNP_ITERATIVE,
    'epnp': cv2.SOLVEPNP_EPNP,
    'p3p': cv2.SOLVEPNP_P3P,
    'ap3p': cv2.SOLVEPNP_AP3P,
    'sqpnp': cv2.SOLVEPNP_SQPNP,
}

#: RANSAC flavours run by another library (imported lazily, only when chosen).
LIBRARY_RANSAC = ('poselib', 'pycolmap')

#: minimum LO-RANSAC iterations of the library flavours (poselib's own default, 1000, would
#: make ``iterations`` a fixed count rather than a cap; 100 is pycolmap's default).
LIBRARY_MIN_ITERATIONS = 100

#: RANSAC flavour name -> OpenCV ``USAC_*`` flag, ``None`` for OpenCV's classic RANSAC, or
#: the module name for the flavours of ``LIBRARY_RANSAC``.
RANSAC_FLAVOURS = {
    'ransac': None,
    'usac_default': cv2.USAC_DEFAULT,
    'usac_fast': cv2.USAC_FAST,
    'usac_accurate': cv2.USAC_ACCURATE,
    'usac_parallel': cv2.USAC_PARALLEL,
    'usac_prosac': cv2.USAC_PROSAC,
    'usac_magsac': cv2.USAC_MAGSAC,
    'poselib': 'poselib',
    'pycolmap': 'pycolmap',
}

#: Failure reasons reported in ``PnPResult.failure``.
FAILURES = ('too_few_points', 'ransac_failed', 'too_few_inliers', 'low_inlier_ratio',
            'degenerate')


@dataclass(frozen=True)
class PnPConfig:
    """Settings of ``solve_pnp_ransac``.

    Attributes:
        solver: minimal / non-minimal solver of the classic RANSAC, a key of ``SOLVERS``.
        ransac: RANSAC flavour, a key of ``RANSAC_FLAVOURS`` (``'ransac'`` = OpenCV's classic;
            ``'poselib'`` / ``'pycolmap'`` need that package, checked when solving).
        reprojection_threshold_px: inlier threshold in pixels of the ideal pinhole camera.
        iterations: maximum RANSAC iterations.
        confidence: RANSAC stopping confidence in (0, 1).
        min_inliers: fewer inliers than this -> failure ``too_few_inliers``.
        min_inlier_ratio: inlier ratio below this -> failure ``low_inlier_ratio``.
        refine: refinement on the inliers (OpenCV flavours: ``cv2.solvePnPRefineLM``; library
            flavours: the library's robust refinement).
        min_sigma_px: floor of the residual standard deviation used for the covariance.
        seed: seed of OpenCV's RNG before each call (classic RANSAC uses the global
            ``cv::theRNG``) or of the library's RANSAC; ``None`` leaves OpenCV's alone and
            seeds the libraries at random.

    The default flavour, poselib's LO-RANSAC, replaced OpenCV's USAC-MAGSAC after
    ``benchmarks/bench_pnp_scr.py`` ran both (and pycolmap's) on the correspondences of the
    keypoint scene coordinate regressor (``scr-cpu``, synthetic room, 3 px, 1000 iterations):
    5-7x faster per frame (median 1.8 ms against 9.5-11.8 ms) and as accurate or more (map
    from depth: 92 % of the frames within 5 cm / 5 deg for both; triangulated map: 81 %
    against 73 %, median 1.8 cm against 2.5 cm; the gain comes from its Cauchy-robust
    refinement, which a least-squares LM on the same inliers undoes). On
    ``bench_pnp.py``'s synthetic outlier sets it succeeds on 100 % / 80 % of the problems at
    85 % / 90 % outliers (MAGSAC: 95 % / 0 %). ``solver`` only applies to OpenCV's classic
    RANSAC (AP3P is its best choice there). See ``docs/results/scr.md``.
    """

    solver: str = 'ap3p'
    ransac: str = 'poselib'
    reprojection_threshold_px: float = 4.0
    iterations: int = 1000
    confidence: float = 0.999
    min_inliers: int = 12
    min_inlier_ratio: float = 0.05
    refine: bool = True
    min_sigma_px: float = 0.1
    seed: Optional[int] = 0

    def __post_init__(self):
        """Validate the settings (raises ``ValueError`` naming the field)."""
        if self.solver not in SOLVERS:
            raise ValueError(f'PnPConfig.solver={self.solver!r}; expected one of '
                             f'{sorted(SOLVERS)}')
        if self.ransac not in RANSAC_FLAVOURS:
            raise ValueError(f'PnPConfig.ransac={self.ransac!r}; expected one of '
                             f'{sorted(RANSAC_FLAVOURS)}')
        if not self.reprojection_threshold_px > 0:
            raise ValueError('PnPConfig.reprojection_threshold_px must be > 0, got '
                             f'{self.reprojection_threshold_px}')
        if self.iterations < 1:
            raise ValueError(f'PnPConfig.iterations must be >= 1, got {self.iterations}')
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f'PnPConfig.confidence must be in (0, 1), got {self.confidence}')
        if self.min_inliers < 4:
            raise ValueError(f'PnPConfig.min_inliers must be >= 4, got {self.min_inliers}')
        if not 0.0 <= self.min_inlier_ratio <= 1.0:
            raise ValueError('PnPConfig.min_inlier_ratio must be in [0, 1], got '
                             f'{self.min_inlier_ratio}')
        if self.min_sigma_px < 0:
            raise ValueError(f'PnPConfig.min_sigma_px must be >= 0, got {self.min_sigma_px}')


@dataclass(frozen=True)
class PnPResult:
    """Outcome of ``solve_pnp_ransac``.

    Attributes:
        ok: True when a pose passed all thresholds.
        T_world_cam: (4, 4) float64 camera-to-world pose, ``None`` when not ok.
        covariance: (6, 6) float64, order (x, y, z, rot_x, rot_y, rot_z), world frame,
            m^2 / rad^2; ``None`` when not ok.
        inliers: (N,) bool inlier mask over the input correspondences (all False when RANSAC
            found nothing).
        inlier_count: number of inliers.
        inlier_ratio: ``inlier_count / N`` (0 for empty input).
        reprojection_error_px: RMS reprojection error of the inliers in ideal pixels (NaN when
            there is no pose hypothesis).
        failure: ``None`` when ok, else one of ``FAILURES``.
    """

    ok: bool
    T_world_cam: Optional[np.ndarray]
    covariance: Optional[np.ndarray]
    inliers: np.ndarray
    inlier_count: int
    inlier_ratio: float
    reprojection_error_px: float
    failure: Optional[str]


def _check_inputs(points_world_n3, uv_n2) -> Tuple[np.ndarray, np.ndarray]:
    points = np.asarray(points_world_n3, dtype=np.float64)
    uv = np.asarray(uv_n2, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f'points_world_n3 must have shape (N, 3), got {points.shape}')
    if uv.ndim != 2 or uv.shape[1] != 2:
        raise ValueError(f'uv_n2 must have shape (N, 2), got {uv.shape}')
    if len(points) != len(uv):
        raise ValueError(f'points_world_n3 has {len(points)} rows but uv_n2 has {len(uv)}')
    bad = ~(np.isfinite(points).all(axis=1) & np.isfinite(uv).all(axis=1))
    if bad.any():
        raise ValueError(f'{int(bad.sum())} of {len(points)} correspondences are not finite '
                         f'(first at row {int(np.flatnonzero(bad)[0])}); filter them first')
    return np.ascontiguousarray(points), np.ascontiguousarray(uv)


def _residuals(points, uv, K, rvec, tvec) -> np.ndarray:
    """Reprojection error norms (N,) px of a world-to-camera pose (inf behind the camera)."""
    R_cam_world, _ = cv2.Rodrigues(rvec)
    points_cam = points @ R_cam_world.T + tvec.reshape(1, 3)
    z = points_cam[:, 2]
    in_front = z > 1e-9
    z_safe = np.where(in_front, z, 1.0)
    u = K[0, 0] * points_cam[:, 0] / z_safe + K[0, 1] * points_cam[:, 1] / z_safe + K[0, 2]
    v = K[1, 1] * points_cam[:, 1] / z_safe + K[1, 2]
    err = np.hypot(u - uv[:, 0], v - uv[:, 1])
    err[~in_front] = np.inf
    return err


def pose_jacobian(points_world_n3: np.ndarray, T_world_cam: np.ndarray,
                  K: np.ndarray) -> np.ndarray:
    """Jacobian of the pixel projections w.r.t. the ROS pose perturbation.

    Args:
        points_world_n3: (N, 3) float64 world points, metres.
        T_world_cam: (4, 4) float64 camera-to-world pose.
        K: (3, 3) intrinsic matrix of the ideal pinhole camera (skew ignored).

    Returns:
        (2N, 6) float64: rows (u_0, v_0, u_1, ...), columns (x, y, z, rot_x, rot_y, rot_z) of a
        world-frame translation of the camera centre and a small rotation about the fixed world
        axes (see the module docstring), pixels per metre / per radian.
    """
    R_world_cam = T_world_cam[:3, :3]
    v_n3 = points_world_n3 - T_world_cam[:3, 3]
    points_cam = v_n3 @ R_world_cam
    x, y, z = points_cam[:, 0], points_cam[:, 1], points_cam[:, 2]
    fx, fy = K[0, 0], K[1, 1]
    d_proj = np.zeros((len(points_cam), 2, 3))
    d_proj[:, 0, 0] = fx / z
    d_proj[:, 0, 2] = -fx * x / z ** 2
    d_proj[:, 1, 1] = fy / z
    d_proj[:, 1, 2] = -fy * y / z ** 2
    skew = np.zeros((len(v_n3), 3, 3))
    skew[:, 0, 1], skew[:, 0, 2] = -v_n3[:, 2], v_n3[:, 1]
    skew[:, 1, 0], skew[:, 1, 2] = v_n3[:, 2], -v_n3[:, 0]
    skew[:, 2, 0], skew[:, 2, 1] = -v_n3[:, 1], v_n3[:, 0]
    d_cam = np.concatenate([np.broadcast_to(-R_world_cam.T, skew.shape),
                            np.einsum('ij,njk->nik', R_world_cam.T, skew)], axis=2)
    return np.einsum('nij,njk->nik', d_proj, d_cam).reshape(-1, 6)


def _covariance(points, uv, K, T_world_cam, rvec, tvec, min_sigma_px) -> Optional[np.ndarray]:
    J = pose_jacobian(points, T_world_cam, K)
    R_cam_world, _ = cv2.Rodrigues(rvec)
    projected = (points @ R_cam_world.T + tvec.reshape(1, 3)) @ K.T
    residual = projected[:, :2] / projected[:, 2:3] - uv
    dof = max(J.shape[0] - 6, 1)
    sigma2 = max(float(np.sum(residual ** 2)) / dof, min_sigma_px ** 2)
    JtJ = J.T @ J
    if not np.all(np.isfinite(JtJ)) or np.linalg.cond(JtJ) > 1e14:
        return None
    covariance = sigma2 * np.linalg.inv(JtJ)
    return 0.5 * (covariance + covariance.T)


def _failure(n: int, reason: str, inliers=None, error=float('nan')) -> PnPResult:
    mask = np.zeros(n, dtype=bool) if inliers is None else inliers
    count = int(mask.sum())
    return PnPResult(ok=False, T_world_cam=None, covariance=None, inliers=mask,
                     inlier_count=count, inlier_ratio=count / n if n else 0.0,
                     reprojection_error_px=error, failure=reason)


def _import_library(name: str):
    """Import the module of a library flavour, with an error that says how to get it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(f'PnPConfig.ransac={name!r} needs the {name!r} Python package, which '
                          f'is not installed: `pip install {name}`, or choose an OpenCV flavour '
                          f"(e.g. ransac='usac_magsac')") from exc


def _library_seed(cfg: PnPConfig) -> int:
    if cfg.seed is not None:
        return int(cfg.seed) % (2 ** 31)
    return int(np.random.default_rng().integers(2 ** 31))


def _pinhole_params(K) -> list:
    if abs(K[0, 1]) > 1e-9 * abs(K[0, 0]):
        raise ValueError(f'PnPConfig.ransac=poselib/pycolmap: camera skew K[0, 1]={K[0, 1]} is '
                         'not supported; use an OpenCV flavour')
    return [float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])]


def _poselib_ransac(points, uv, K, size, cfg: PnPConfig):
    poselib = _import_library('poselib')
    camera = {'model': 'PINHOLE', 'width': int(size[0]), 'height': int(size[1]),
              'params': _pinhole_params(K)}
    ransac = {'max_reproj_error': float(cfg.reprojection_threshold_px),
              'max_iterations': int(cfg.iterations),
              'min_iterations': min(LIBRARY_MIN_ITERATIONS, int(cfg.iterations)),
              'success_prob': float(cfg.confidence), 'seed': _library_seed(cfg)}
    bundle = {} if cfg.refine else {'max_iterations': 0}
    pose, info = poselib.estimate_absolute_pose(uv, points, camera, ransac, bundle)
    if not info.get('num_inliers'):
        return None
    return np.asarray(pose.R, dtype=np.float64), np.asarray(pose.t, dtype=np.float64)


def _pycolmap_ransac(points, uv, K, size, cfg: PnPConfig):
    pycolmap = _import_library('pycolmap')
    camera = pycolmap.Camera(model='PINHOLE', width=int(size[0]), height=int(size[1]),
                             params=_pinhole_params(K))
    options = pycolmap.AbsolutePoseEstimationOptions()
    options.ransac.max_error = float(cfg.reprojection_threshold_px)
    options.ransac.max_num_trials = int(cfg.iterations)
    options.ransac.min_num_trials = min(LIBRARY_MIN_ITERATIONS, int(cfg.iterations))
    options.ransac.confidence = float(cfg.confidence)
    # COLMAP bounds its trials by this ratio; 0 would be rejected.
    options.ransac.min_inlier_ratio = max(float(cfg.min_inlier_ratio), 1e-3)
    options.ransac.random_seed = _library_seed(cfg)
    if cfg.refine:
        out = pycolmap.estimate_and_refine_absolute_pose(
            uv, points, camera, options, pycolmap.AbsolutePoseRefinementOptions())
    else:
        out = pycolmap.estimate_absolute_pose(uv, points, camera, options)
    if out is None:
        return None
    matrix = np.asarray(out['cam_from_world'].matrix(), dtype=np.float64)
    return matrix[:3, :3], matrix[:3, 3]


def _ransac(points, uv, K, cfg: PnPConfig, size=(0, 0)):
    flavour = RANSAC_FLAVOURS[cfg.ransac]
    if cfg.ransac in LIBRARY_RANSAC:
        solve = _poselib_ransac if cfg.ransac == 'poselib' else _pycolmap_ransac
        pose = solve(points, uv, K, size, cfg)
        if pose is None or not (np.all(np.isfinite(pose[0])) and np.all(np.isfinite(pose[1]))):
            return None
        rvec, _ = cv2.Rodrigues(pose[0])
        return rvec.reshape(3, 1), pose[1].reshape(3, 1)
    if cfg.seed is not None:
        cv2.setRNGSeed(int(cfg.seed))
    flags = SOLVERS[cfg.solver] if flavour is None else flavour
    try:
        ok, rvec, tvec, _ = cv2.solvePnPRansac(
            points, uv, K, None, iterationsCount=int(cfg.iterations),
            reprojectionError=float(cfg.reprojection_threshold_px),
            confidence=float(cfg.confidence), flags=flags)
    except cv2.error:
        return None
    if not ok or rvec is None or not np.all(np.isfinite(rvec)) or not np.all(np.isfinite(tvec)):
        return None
    return rvec.reshape(3, 1).astype(np.float64), tvec.reshape(3, 1).astype(np.float64)


def solve_pnp_ransac(points_world_n3: np.ndarray, uv_n2: np.ndarray, camera,
                     cfg: PnPConfig = PnPConfig()) -> PnPResult:
    """Estimate ``T_world_cam`` from 2D-3D correspondences with outliers.

    Args:
        points_world_n3: (N, 3) float world points, metres (all finite).
        uv_n2: (N, 2) float pixel coordinates in ``camera`` (distorted pixels when the camera
            has distortion; pixel centres at integer coordinates, OpenCV convention).
        camera: ``pose_reloc.geometry.camera.PinholeCamera`` that took the pixels.
        cfg: ``PnPConfig``.

    Returns:
        ``PnPResult``; ``ok=False`` with ``failure`` set (and no pose) when the correspondences
        do not support a pose under ``cfg``'s thresholds.

    Raises:
        ValueError: on wrong shapes or non-finite values (or a skewed ``K`` with a library
            flavour).
        ImportError: when ``cfg.ransac`` is a library flavour whose package is missing.
    """
    points, uv = _check_inputs(points_world_n3, uv_n2)
    n = len(points)
    if n < max(4, cfg.min_inliers):
        return _failure(n, 'too_few_points')
    if camera.is_distorted:
        uv = camera.undistort_points(uv).reshape(-1, 2)
    K = np.asarray(camera.K, dtype=np.float64)

    hypothesis = _ransac(points, uv, K, cfg, (camera.width, camera.height))
    if hypothesis is None:
        return _failure(n, 'ransac_failed')
    rvec, tvec = hypothesis
    err = _residuals(points, uv, K, rvec, tvec)
    inliers = err < cfg.reprojection_threshold_px
    if cfg.refine and cfg.ransac not in LIBRARY_RANSAC:
        for _ in range(2):
            if inliers.sum() < 4:
                break
            rvec, tvec = cv2.solvePnPRefineLM(
                points[inliers], uv[inliers], K, None, rvec.copy(), tvec.copy(),
                criteria=(cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 30, 1e-10))
            err = _residuals(points, uv, K, rvec, tvec)
            refined = err < cfg.reprojection_threshold_px
            if np.array_equal(refined, inliers):
                break
            inliers = refined
    count = int(inliers.sum())
    rms = float(np.sqrt(np.mean(err[inliers] ** 2))) if count else float('nan')
    if count < cfg.min_inliers:
        return _failure(n, 'too_few_inliers', inliers, rms)
    if count / n < cfg.min_inlier_ratio:
        return _failure(n, 'low_inlier_ratio', inliers, rms)

    T_world_cam = invert(make_T(cv2.Rodrigues(rvec)[0], tvec.ravel()))
    covariance = _covariance(points[inliers], uv[inliers], K, T_world_cam, rvec, tvec,
                             cfg.min_sigma_px)
    if covariance is None:
        return _failure(n, 'degenerate', inliers, rms)
    return PnPResult(ok=True, T_world_cam=T_world_cam, covariance=covariance, inliers=inliers,
                     inlier_count=count, inlier_ratio=count / n, reprojection_error_px=rms,
                     failure=None)
