# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Calibration of the 6x6 pose covariances that localizers report.

Both estimators report over-confident covariances (MC dropout: the spread of dropout
samples, not the error; PnP: the Jacobian covariance assumes independent pixel noise while
the stride-8 coordinate errors are correlated). This module fits a **2-block scale** on
held-out frames: ``k_t`` for the translation block (m^2) and ``k_r`` for the rotation block
(rad^2), applied as ``C' = S C S`` with ``S = diag(sqrt(k_t) I3, sqrt(k_r) I3)`` (the
cross block is scaled by ``sqrt(k_t k_r)``, so ``C'`` stays positive definite and the
correlations are kept).

Method: for every frame ``i`` with error ``e_i = (e_t, e_r)`` (translation ``t_est - t_gt``
in metres; rotation the small-angle vector ``rotvec(R_est R_gt^T)`` in rad about the fixed
world axes, i.e. the ROS ``(x, y, z, rx, ry, rz)`` order of ``PoseEstimate.covariance``)
and reported covariance ``C_i``, the squared Mahalanobis distance of a block is
``d2_i = e^T C_block^-1 e``. If the covariance were right, ``d2`` would follow chi-square
with 3 degrees of freedom; after scaling a block by ``k``, ``d2 / k`` does. We pick
``k = median(d2) / median(chi2_3)`` (``median(chi2_3) = 2.3660``): the median matches the
chi-square median exactly on the calibration frames, and a few gross outliers (wrong scene,
PnP on a wrong solution) move it little, unlike a mean-based fit. The fit is honest: ``k``
can come out below 1 (an under-confident covariance is shrunk). Frames whose block is not
positive definite (or not finite) are left out of that block's fit and counted in
``frames_rejected``.

The result is stored in a bundle's ``config.json`` as ``covariance_calibration`` (see
:meth:`CovarianceCalibration.to_json`); ``APRLocalizer`` and ``SCRLocalizer`` apply it to
the covariance they return (a bundle without the entry: scales 1). ``pose-reloc train``
(``pose_reloc.workflows.train_bundle``) calibrates after the trainer when
``data.calibration_split`` is set (:func:`calibrate_after_training`).
"""

from dataclasses import asdict, dataclass
import logging
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np
from tqdm import tqdm

LOG = logging.getLogger(__name__)

#: median of the chi-square distribution with 3 degrees of freedom.
CHI2_3_MEDIAN = 2.365973884375338
#: chi-square quantiles of the 2-sigma (95.45 %) region for 3 and 6 degrees of freedom.
CHI2_2SIGMA = {3: 8.0249, 6: 12.8489}
#: fewest usable frames per block for a fit.
MIN_FRAMES = 5


@dataclass(frozen=True)
class CovarianceCalibration:
    """A fitted 2-block covariance scale and its effect on the calibration frames.

    Attributes:
        translation_scale: ``k_t``, multiplies the translation block (dimensionless).
        rotation_scale: ``k_r``, multiplies the rotation block (dimensionless).
        frames: frames given to the fit.
        frames_rejected: frames left out of a block's fit (covariance block not positive
            definite or not finite, in either block).
        within_2sigma_translation_before: fraction of the usable frames whose translation
            error lies inside the 2-sigma region (chi-square 3-dof 95.45 %), raw covariance.
        within_2sigma_translation_after: the same with the scaled covariance.
        within_2sigma_rotation_before: rotation block, raw covariance.
        within_2sigma_rotation_after: rotation block, scaled covariance.
        within_2sigma_pose_before: full 6-D error (6-dof quantile), raw covariance.
        within_2sigma_pose_after: full 6-D error, scaled covariance.
        split: name of the split the frames came from (for the record; may be empty).
    """

    translation_scale: float
    rotation_scale: float
    frames: int
    frames_rejected: int
    within_2sigma_translation_before: float
    within_2sigma_translation_after: float
    within_2sigma_rotation_before: float
    within_2sigma_rotation_after: float
    within_2sigma_pose_before: float
    within_2sigma_pose_after: float
    split: str = ''

    def apply(self, covariance_66: np.ndarray) -> np.ndarray:
        """Return the scaled ``(6, 6)`` covariance ``S C S`` (see the module docstring)."""
        return scale_covariance(covariance_66, self.translation_scale, self.rotation_scale)

    def to_json(self) -> Dict[str, Any]:
        """Return the JSON-ready dict stored as the bundle's ``covariance_calibration``."""
        out = asdict(self)
        out['method'] = 'median_chi2_2block'
        return out

    @classmethod
    def from_json(cls, entry: Mapping[str, Any], where: str = '') -> 'CovarianceCalibration':
        """Rebuild from :meth:`to_json` output (only the two scales are required).

        Raises:
            ValueError: naming ``where`` if a scale is missing, not finite or not positive.
        """
        try:
            scales = (float(entry['translation_scale']), float(entry['rotation_scale']))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f'{where}: covariance_calibration needs numeric '
                             f'translation_scale and rotation_scale, got {entry!r}') from exc
        if not all(np.isfinite(s) and s > 0 for s in scales):
            raise ValueError(f'{where}: covariance_calibration scales must be finite and > 0, '
                             f'got {scales}')
        names = set(cls.__dataclass_fields__)
        known = {k: v for k, v in entry.items() if k in names}
        defaults = {name: (0 if name.startswith('frames') else float('nan'))
                    for name in names if name.startswith(('frames', 'within_'))}
        return cls(**{**defaults, **known})


def scale_covariance(covariance_66: np.ndarray, translation_scale: float,
                     rotation_scale: float) -> np.ndarray:
    """Scale the translation block by ``k_t``, rotation by ``k_r``, cross by ``sqrt(k_t k_r)``.

    Args:
        covariance_66: (6, 6) covariance in ROS order (m^2, rad^2).
        translation_scale: ``k_t`` > 0.
        rotation_scale: ``k_r`` > 0.

    Returns:
        (6, 6) float64 scaled covariance.
    """
    cov = np.asarray(covariance_66, dtype=np.float64)
    if cov.shape != (6, 6):
        raise ValueError(f'expected a (6, 6) covariance, got shape {cov.shape}')
    s = np.repeat([np.sqrt(translation_scale), np.sqrt(rotation_scale)], 3)
    return cov * s[:, None] * s[None, :]


def pose_error_6d(T_est_44: np.ndarray, T_gt_44: np.ndarray) -> np.ndarray:
    """6-D error of an estimate: ``(t_est - t_gt [m], rotvec(R_est R_gt^T) [rad])``, (6,)."""
    from scipy.spatial.transform import Rotation
    T_est = np.asarray(T_est_44, dtype=np.float64)
    T_gt = np.asarray(T_gt_44, dtype=np.float64)
    err_r = Rotation.from_matrix(T_est[:3, :3] @ T_gt[:3, :3].T).as_rotvec()
    return np.concatenate([T_est[:3, 3] - T_gt[:3, 3], err_r])


def mahalanobis_sq(errors_n6: np.ndarray, covariances_n66: np.ndarray,
                   block: slice) -> np.ndarray:
    """Squared Mahalanobis distances of one block, (N,); NaN where the block is unusable.

    A block is unusable if it is not finite or not positive definite (Cholesky fails).
    """
    errors = np.asarray(errors_n6, dtype=np.float64)
    covs = np.asarray(covariances_n66, dtype=np.float64)
    out = np.full(len(errors), np.nan)
    for i, (err, cov) in enumerate(zip(errors, covs)):
        c = cov[block, block]
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(err[block]))):
            continue
        try:
            chol = np.linalg.cholesky(0.5 * (c + c.T))
        except np.linalg.LinAlgError:
            continue
        z = np.linalg.solve(chol, err[block])
        out[i] = float(z @ z)
    return out


def fit_covariance_calibration(covariances_n66: np.ndarray, errors_n6: np.ndarray,
                               split: str = '') -> CovarianceCalibration:
    """Fit the 2-block scale so that median ``d2`` per block equals the chi2(3) median.

    Args:
        covariances_n66: (N, 6, 6) reported covariances, ROS order (m^2, rad^2).
        errors_n6: (N, 6) errors ``(t_est - t_gt [m], rotvec(R_est R_gt^T) [rad])``
            (see :func:`pose_error_6d`).
        split: recorded in the result.

    Returns:
        The :class:`CovarianceCalibration` (method in the module docstring).

    Raises:
        ValueError: for mismatched shapes, fewer than ``MIN_FRAMES`` usable frames, or an
            all-zero error block (no scale fits).
    """
    covs = np.asarray(covariances_n66, dtype=np.float64)
    errors = np.asarray(errors_n6, dtype=np.float64)
    if covs.ndim != 3 or covs.shape[1:] != (6, 6) or errors.shape != (len(covs), 6):
        raise ValueError(f'expected (N, 6, 6) covariances and (N, 6) errors, got '
                         f'{covs.shape} and {errors.shape}')
    blocks = {'translation': slice(0, 3), 'rotation': slice(3, 6)}
    d2 = {name: mahalanobis_sq(errors, covs, sl) for name, sl in blocks.items()}
    usable = np.isfinite(d2['translation']) & np.isfinite(d2['rotation'])
    if usable.sum() < MIN_FRAMES:
        raise ValueError(f'covariance calibration needs >= {MIN_FRAMES} frames with positive '
                         f'definite covariance blocks, got {int(usable.sum())} of {len(covs)}')
    scales = {}
    for name in blocks:
        med = float(np.median(d2[name][usable]))
        if not med > 0:
            raise ValueError(f'covariance calibration: the median {name} Mahalanobis '
                             f'distance is {med}; errors are all zero, no scale fits')
        scales[name] = med / CHI2_3_MEDIAN
    kt, kr = scales['translation'], scales['rotation']
    scaled = np.array([scale_covariance(c, kt, kr) for c in covs[usable]])
    full = slice(0, 6)

    def inside(values: np.ndarray, dof: int) -> float:
        return float(np.mean(values <= CHI2_2SIGMA[dof]))

    return CovarianceCalibration(
        translation_scale=kt, rotation_scale=kr, frames=int(len(covs)),
        frames_rejected=int((~usable).sum()),
        within_2sigma_translation_before=inside(d2['translation'][usable], 3),
        within_2sigma_translation_after=inside(d2['translation'][usable] / kt, 3),
        within_2sigma_rotation_before=inside(d2['rotation'][usable], 3),
        within_2sigma_rotation_after=inside(d2['rotation'][usable] / kr, 3),
        within_2sigma_pose_before=inside(mahalanobis_sq(errors[usable], covs[usable], full), 6),
        within_2sigma_pose_after=inside(mahalanobis_sq(errors[usable], scaled, full), 6),
        split=split)


def read_calibration(config: Mapping[str, Any],
                     where: str = '') -> Optional[CovarianceCalibration]:
    """Return the bundle config's ``covariance_calibration``, or None if absent (old bundles).

    Raises:
        ValueError: if the entry is malformed.
    """
    entry = config.get('covariance_calibration')
    if entry is None:
        return None
    if not isinstance(entry, Mapping):
        raise ValueError(f'{where}: covariance_calibration must be a mapping, got {entry!r}')
    return CovarianceCalibration.from_json(entry, where)


def calibrate_localizer(localizer: Any, frames: Sequence[Any], split: str = '',
                        progress: bool = True) -> CovarianceCalibration:
    """Localize ``frames`` with the raw covariance of ``localizer`` and fit the scale.

    The localizer's own calibration (``covariance_calibration`` attribute) is switched off
    during the run and restored afterwards. Frames without a pose or a covariance are not
    used (they do not count in ``frames``).

    Args:
        localizer: an ``APRLocalizer`` / ``SCRLocalizer`` (anything with ``localize`` and a
            ``covariance_calibration`` attribute).
        frames: ``data.records.Frame`` objects with ground-truth poses.
        split: recorded in the result.
        progress: show a tqdm bar.

    Raises:
        ValueError: if fewer than ``MIN_FRAMES`` frames got a covariance.
    """
    from pose_reloc.data.records import load_image
    saved = localizer.covariance_calibration
    localizer.covariance_calibration = None
    covs, errors = [], []
    try:
        for frame in tqdm(frames, desc='calibrate', disable=not progress, dynamic_ncols=True):
            est = localizer.localize(load_image(frame), camera=frame.camera)
            if not est.ok or est.covariance is None or est.T_world_cam is None:
                continue
            covs.append(np.asarray(est.covariance, dtype=np.float64))
            errors.append(pose_error_6d(est.T_world_cam, frame.T_world_cam))
    finally:
        localizer.covariance_calibration = saved
    if len(covs) < MIN_FRAMES:
        raise ValueError(f'covariance calibration: only {len(covs)} of {len(frames)} frames got '
                         'a pose with a covariance (APR needs model.mc_samples >= 2)')
    return fit_covariance_calibration(np.array(covs), np.array(errors), split)


def check_calibration_split(cfg: Any) -> None:
    """Refuse a ``data.calibration_split`` equal to the training split (before training).

    Raises:
        ValueError: naming the split.
    """
    split = cfg.data.calibration_split
    if split and split == cfg.data.train_split:
        raise ValueError(f'data.calibration_split {split!r} is the training split; calibrate '
                         'on held-out frames (e.g. a "val" split)')


def calibrate_after_training(bundle_path: Union[str, Path], data_root: Union[str, Path],
                             cfg: Any) -> Path:
    """Calibrate a freshly trained bundle on ``cfg.data.calibration_split`` frames.

    Does nothing when ``cfg.data.calibration_split`` is empty, and logs one line and does
    nothing when no scene of the data (``cfg.data.scenes``, or all) has a frame in that split
    (the presets name ``val``, which many datasets lack); the bundle then has no
    ``covariance_calibration`` and localizers use scale 1. Otherwise up to
    ``cfg.data.calibration_frames`` evenly spaced frames per scene are localized, the scale
    is fitted and written into the bundle's ``config.json``. Calibrate on frames you do not
    evaluate on: the split must differ from ``cfg.data.train_split`` (training errors are
    smaller than held-out ones) and should differ from the split you report results on.

    Args:
        bundle_path: the bundle just written.
        data_root: the training dataset.
        cfg: the ``TrainConfig`` (``data``, ``run.device``, ``run.progress`` are read).

    Returns:
        ``bundle_path``.

    Raises:
        ValueError: if the split is the training split, or is empty in some but not all of
            the scenes. Too few localized frames only skip the calibration (logged).
    """
    data_cfg = cfg.data
    split = data_cfg.calibration_split
    if not split:
        return Path(bundle_path)
    check_calibration_split(cfg)
    from pose_reloc.data.formats import load_dataset
    from pose_reloc.inference import load_localizer
    from pose_reloc.core.bundle import update_bundle_config
    from pose_reloc.inference.evaluate import select_frames
    dataset_scenes = load_dataset(data_root)
    wanted = set(data_cfg.scenes) or {s.name for s in dataset_scenes}
    if not any(s.split(split) for s in dataset_scenes if s.name in wanted):
        LOG.warning('covariance calibration skipped: %s has no %r frames '
                    '(data.calibration_split); the bundle keeps the raw covariance',
                    data_root, split)
        return Path(bundle_path)
    localizer = load_localizer(bundle_path, device=cfg.run.device)
    by_scene = select_frames(dataset_scenes, list(localizer.scenes), split,
                             list(data_cfg.scenes) or None, data_cfg.calibration_frames)
    frames = [f for scene_frames in by_scene.values() for f in scene_frames]
    try:
        calib = calibrate_localizer(localizer, frames, split, progress=cfg.run.progress)
    except ValueError as exc:
        # A weak model (e.g. an SCR net that localizes few frames) still yields a usable
        # bundle: keep it, with the raw covariance, and say why.
        LOG.warning('covariance calibration skipped: %s; the bundle keeps the raw covariance',
                    exc)
        return Path(bundle_path)
    LOG.info('covariance calibration on %d %r frames: scales t %.3g r %.3g, within 2 sigma '
             '(pose) %.2f -> %.2f', calib.frames, split, calib.translation_scale,
             calib.rotation_scale, calib.within_2sigma_pose_before,
             calib.within_2sigma_pose_after)
    return update_bundle_config(bundle_path, {'covariance_calibration': calib.to_json()})
