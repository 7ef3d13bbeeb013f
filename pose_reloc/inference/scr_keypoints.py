# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Localizer of keypoint scene coordinate regression bundles (architecture ``KeypointSCR``).

``KeypointSCRLocalizer.localize`` detects RootSIFT keypoints (``models.keypoints``, at the
bundle's ``features.short_side``), regresses their scene coordinates with the bundle's scene
coordinate map (nearest map descriptor that passes the ratio test), and solves the pose with
``geometry.pnp.solve_pnp_ransac`` (poselib LO-RANSAC by default) in the image's own camera, so
any image size or camera is fine as long as it is given (or has the training camera's aspect
ratio).
The PnP covariance is scaled by the bundle's ``covariance_calibration``.
"""

from pathlib import Path
import time
from typing import Any, Optional, Union

import numpy as np

from pose_reloc.core.bundle import BundleError, check_fields, config_file, read_bundle, \
    WEIGHTS_NAME
from pose_reloc.core.util import check_rgb_image
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.inference.base import camera_for_image, PoseEstimate
from pose_reloc.inference.scr import scene_pnp_calibration
from pose_reloc.models.keypoints import FeatureConfig, localize_with_map, SceneCoordinateMap


class KeypointSCRLocalizer:
    """Localizer of a ``KeypointSCR`` bundle (follows ``inference.base.Localizer``).

    Args:
        bundle_path: the bundle directory.
        device: accepted for the common interface; everything runs on the CPU.
        **pnp_options: overrides of the bundle's ``PnPConfig`` fields (``min_inliers``,
            ``min_inlier_ratio``, ``reprojection_threshold_px`` (pixels of the image),
            ``ransac``, ``iterations``, ...).

    Attributes:
        method: ``'scr'``.
        scenes: the one scene name.
        camera: training camera at the original resolution.
        features: the ``FeatureConfig`` of the map.
        scene_map: the ``SceneCoordinateMap``.
        pnp: the ``PnPConfig`` in use.
        covariance_calibration: the bundle's ``CovarianceCalibration`` (None = scales 1).

    Raises:
        BundleError: for a missing / foreign / malformed bundle.
        ValueError: for unknown PnP options.
    """

    method = 'scr'

    def __init__(self, bundle_path: Union[str, Path], device: str = 'auto', **pnp_options: Any):
        """Load the bundle (see the class docstring)."""
        config, state = read_bundle(bundle_path, methods=['scr'], architectures=['KeypointSCR'])
        where = config_file(bundle_path)
        arch = config['architecture']
        self.bundle_path = Path(bundle_path)
        # the map was built with exactly these settings: a default would silently differ
        self.features = check_fields(FeatureConfig, arch['features'], where,
                                     'architecture.features', require_all=True)
        try:
            self.scene_map = SceneCoordinateMap.from_state_dict(
                state, ratio=float(arch['match_ratio']),
                checks=int(arch.get('match_checks', 32)))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise BundleError(f'{Path(bundle_path) / WEIGHTS_NAME}: not a KeypointSCR scene '
                              f'coordinate map: {exc!r}') from exc
        self.scenes, self.camera, self.pnp, self.covariance_calibration = \
            scene_pnp_calibration(config, bundle_path, pnp_options)

    def localize(self, image_rgb_hw3: np.ndarray, camera: Optional[PinholeCamera] = None,
                 scene: Optional[str] = None) -> PoseEstimate:
        """Estimate ``T_world_cam`` of one image.

        Args:
            image_rgb_hw3: (H, W, 3) uint8 RGB image.
            camera: its intrinsics (any size, distortion); None = the training camera
                (scaled if the image has another size of the same aspect ratio).
            scene: must be None or the bundle's scene.

        Returns:
            ``PoseEstimate``: confidence = inlier ratio of the regressed correspondences;
            ``extras`` hold ``inlier_count``, ``inlier_ratio``, ``correspondences``,
            ``keypoints``, ``reprojection_error_px`` and ``inlier_points`` ((N, 3) float64
            world points); ``timings_ms`` hold ``features``, ``regression``, ``pnp`` and
            ``total``. Too few inliers give ``ok=False`` with the PnP failure, never a pose.

        Raises:
            ValueError: for a malformed image, a camera of another size or an unknown scene.
        """
        t0 = time.perf_counter()
        image = check_rgb_image(image_rgb_hw3)
        if scene is not None and scene not in self.scenes:
            raise ValueError(f'scene {scene!r} is unknown to this model (knows {self.scenes})')
        camera = camera_for_image(self.camera, image.shape[1], image.shape[0], camera)
        result, points, timings = localize_with_map(image, camera, self.scene_map,
                                                    self.features, self.pnp)
        timings['total'] = 1e3 * (time.perf_counter() - t0)
        extras = {'inlier_count': result.inlier_count, 'inlier_ratio': result.inlier_ratio,
                  'correspondences': int(len(points)),
                  'reprojection_error_px': result.reprojection_error_px,
                  'inlier_points': points[result.inliers]}
        covariance = result.covariance
        if covariance is not None and self.covariance_calibration is not None:
            covariance = self.covariance_calibration.apply(covariance)
        return PoseEstimate(ok=result.ok, T_world_cam=result.T_world_cam,
                            covariance=covariance, confidence=float(result.inlier_ratio),
                            scene=self.scenes[0], failure=result.failure, timings_ms=timings,
                            extras=extras)
