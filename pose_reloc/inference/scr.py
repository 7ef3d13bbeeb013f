# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Scene coordinate regression localizer: SCRNet + PnP-RANSAC + LM refinement.

``SCRLocalizer.localize`` passes the image through the bundle's input spec
(``data.transforms.InputSpec``, the training validation path): resized so that its shorter
side matches the training resolution (aspect kept, sides rounded to multiples of 8), the camera
scaled with it (``PinholeCamera.resized``, pixel-centre aware), no crop. It predicts scene
coordinates at the centres of the stride-8 cells (``models.scr.cell_centres``: pixel
``8j + 3.5``) and solves the pose with ``geometry.pnp.solve_pnp_ransac`` in that resized
camera (distortion is kept: the resized camera has the same coefficients and the cell centres
are undistorted before PnP).
The PnP covariance is scaled by the bundle's ``covariance_calibration``
(``inference.calibration``; absent = 1). The pose, covariance, inliers and the stage timings
go into a ``PoseEstimate``; when PnP
falls below the thresholds the estimate has ``ok=False`` and the PnP failure reason.
"""

import dataclasses
from pathlib import Path
import re
import time
import typing
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import torch

from pose_reloc.core.bundle import BundleError, check_fields, config_file, load_state_strict, \
    read_bundle, read_bundle_config
from pose_reloc.core.device import pick_device
from pose_reloc.core.util import check_rgb_image
from pose_reloc.data.transforms import InputSpec
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.pnp import PnPConfig
from pose_reloc.inference import register_localizer
from pose_reloc.inference.base import camera_for_image, OptionSpec, PoseEstimate, \
    scene_camera, scene_names
from pose_reloc.inference.calibration import read_calibration
from pose_reloc.models.scr import localize_coords, OUTPUT_STRIDE, SCRNet


class SCRLocalizer:
    """Localizer of an ``scr`` bundle (follows ``inference.base.Localizer``).

    Args:
        bundle_path: the bundle directory.
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        **pnp_options: overrides of the bundle's ``PnPConfig`` fields (``min_inliers``,
            ``min_inlier_ratio``, ``reprojection_threshold_px`` (pixels at the network
            resolution), ``ransac``, ``solver``, ``iterations``, ...).

    Attributes:
        method: ``'scr'``.
        scenes: the one scene name.
        camera: training camera at the original resolution.
        pnp: the ``PnPConfig`` in use.
        input_spec: the bundle's ``InputSpec`` (see :func:`scr_input_spec`).
        covariance_calibration: the bundle's ``CovarianceCalibration`` (None = scales 1).
        bundle_path: where the model came from.
        device: torch device.

    Raises:
        BundleError: for a missing / foreign / mismatching bundle.
        ValueError: for unknown PnP options.
    """

    method = 'scr'

    def __init__(self, bundle_path: Union[str, Path], device: str = 'auto', **pnp_options: Any):
        """Load the bundle (see the class docstring)."""
        config, state = read_bundle(bundle_path, methods=['scr'], architectures=['SCRNet'])
        where = config_file(bundle_path)
        arch = config['architecture']
        self.bundle_path = Path(bundle_path)
        self.device = pick_device(device)
        try:
            self.model = SCRNet(arch['trunk'], arch['head_channels'])
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f'{where}: "architecture" cannot rebuild SCRNet: {exc}') from exc
        load_state_strict(self.model, state, bundle_path)
        self.model.eval().to(self.device)
        self.input_spec = scr_input_spec(config, bundle_path)
        self.scenes, self.camera, self.pnp, self.covariance_calibration = \
            scene_pnp_calibration(config, bundle_path, pnp_options)

    def localize(self, image_rgb_hw3: np.ndarray, camera: Optional[PinholeCamera] = None,
                 scene: Optional[str] = None) -> PoseEstimate:
        """Estimate ``T_world_cam`` of one image.

        Args:
            image_rgb_hw3: (H, W, 3) uint8 RGB image.
            camera: its intrinsics (any size, fx != fy, off-centre principal point,
                distortion); None = the training camera (scaled if the image is resized).
            scene: must be None or the bundle's scene.

        Returns:
            ``PoseEstimate``: confidence = inlier ratio; ``extras`` hold ``inlier_count``,
            ``inlier_ratio``, ``correspondences``, ``reprojection_error_px`` and
            ``inlier_points`` ((N, 3) float64 world points of the inliers);
            ``timings_ms`` hold ``preprocess``, ``network``, ``pnp`` and ``total``.

        Raises:
            ValueError: for a malformed image, a camera of another size or an unknown scene.
        """
        t0 = time.perf_counter()
        image = check_rgb_image(image_rgb_hw3)
        if scene is not None and scene not in self.scenes:
            raise ValueError(f'scene {scene!r} is unknown to this model (knows {self.scenes})')
        tensor, camera = self.preprocess(image, camera)
        t1 = time.perf_counter()
        with torch.no_grad():
            coords = self.model(tensor)[0].cpu().numpy()
        t2 = time.perf_counter()
        result, points = localize_coords(coords, camera, self.pnp)
        t3 = time.perf_counter()
        timings = {'preprocess': 1e3 * (t1 - t0), 'network': 1e3 * (t2 - t1),
                   'pnp': 1e3 * (t3 - t2), 'total': 1e3 * (t3 - t0)}
        extras = {'inlier_count': result.inlier_count, 'inlier_ratio': result.inlier_ratio,
                  'correspondences': int(len(points)),
                  'reprojection_error_px': result.reprojection_error_px,
                  'inlier_points': points[result.inliers]}
        covariance = result.covariance
        if covariance is not None and self.covariance_calibration is not None:
            covariance = self.covariance_calibration.apply(covariance)
        return PoseEstimate(ok=result.ok, T_world_cam=result.T_world_cam,
                            covariance=covariance,
                            confidence=float(result.inlier_ratio), scene=self.scenes[0],
                            failure=result.failure, timings_ms=timings, extras=extras)

    def preprocess(self, image_rgb_hw3: np.ndarray, camera: Optional[PinholeCamera] = None
                   ) -> Tuple[torch.Tensor, PinholeCamera]:
        """Turn one image into the network input (``self.input_spec.prepare``).

        Args:
            image_rgb_hw3: (H, W, 3) uint8 RGB image.
            camera: its intrinsics, or None for the training camera (see ``localize``).

        Returns:
            ``(tensor (1, 3, h, w) float32 on the device, camera of those h x w pixels)``.

        Raises:
            ValueError: for a malformed image or a camera of another size.
        """
        image = check_rgb_image(image_rgb_hw3)
        camera = camera_for_image(self.camera, image.shape[1], image.shape[0], camera)
        sample = self.input_spec.prepare(image, camera)
        return sample['image'][None].to(self.device), sample['camera']


def scr_input_spec(config: Dict[str, Any], bundle_path: Union[str, Path]) -> InputSpec:
    """Return the input spec of a dense ``scr`` bundle.

    An ``input`` section written before the input spec (no ``crop`` key) is read as this
    localizer read it then: the shorter side resized to ``min(height, width)``, sides
    rounded to multiples of 8, no crop, area resampling.

    Raises:
        BundleError: naming the bundle's ``config.json`` and the ``input`` key at fault.
    """
    section = config.get('input') or {}
    legacy = {'multiple': OUTPUT_STRIDE, 'crop': 'none', 'interpolation': 'area'}
    if 'height' in section and 'width' in section:
        legacy['resize'] = min(section['height'], section['width'])
    return InputSpec.from_bundle(config, bundle_path, legacy)


def pnp_config(config: Dict[str, Any], where: Union[str, Path],
               options: Dict[str, Any]) -> PnPConfig:
    """Return the bundle's ``pnp`` section as a ``PnPConfig``, ``options`` applied on top.

    Raises:
        BundleError: for a malformed ``pnp`` section (naming ``where`` and the key).
        ValueError: for unknown or invalid options.
    """
    fields = {f.name for f in dataclasses.fields(PnPConfig)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise ValueError(f'unknown SCR localizer option(s) {unknown}; PnP options are '
                         f'{sorted(fields)}')
    return dataclasses.replace(check_fields(PnPConfig, config.get('pnp', {}), where, 'pnp'),
                               **options)


def pnp_option_specs() -> Tuple[OptionSpec, ...]:
    """Return the options of the SCR localizers: one per ``PnPConfig`` field.

    Each defaults to None, "the bundle's ``pnp`` section" (itself defaulting to the field's
    default); the description is the field's line in ``PnPConfig``'s docstring.
    """
    hints = typing.get_type_hints(PnPConfig)
    doc = PnPConfig.__doc__ or ''
    specs = []
    for f in dataclasses.fields(PnPConfig):
        kind = hints[f.name]
        if typing.get_origin(kind) is Union:  # Optional[int]
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        match = re.search(rf'^ {{8}}{f.name}: (.+?)(?=\n {{8}}\w+: |\n\n|\Z)', doc, re.S | re.M)
        text = ' '.join(match.group(1).split()) if match else 'PnP setting'
        specs.append(OptionSpec(f.name, kind, None, f"PnP: {text} (default: the bundle's, "
                                f'else {f.default!r})', allow_none=True))
    return tuple(specs)


def scene_pnp_calibration(config: Dict[str, Any], bundle_path: Union[str, Path],
                          pnp_options: Dict[str, Any]):
    """Read what every ``scr`` localizer needs besides its model.

    Args:
        config: the bundle's ``config.json``.
        bundle_path: the bundle (named in errors).
        pnp_options: the caller's PnP overrides.

    Returns:
        ``(scenes [one name], training camera, PnPConfig, CovarianceCalibration or None)``.

    Raises:
        BundleError: no ``scenes[0].camera``, a malformed ``pnp`` or calibration section.
        ValueError: unknown or invalid PnP options.
    """
    where = config_file(bundle_path)
    camera = scene_camera(config, bundle_path)
    if camera is None:
        raise BundleError(f'{where}: missing key "scenes[0].camera"')
    # None = "the bundle's value" (the declared default of every PnP option)
    pnp = pnp_config(config, where, {k: v for k, v in pnp_options.items() if v is not None})
    try:
        calibration = read_calibration(config, str(where))
    except ValueError as exc:
        raise BundleError(str(exc)) from exc
    return scene_names(config, bundle_path)[:1], camera, pnp, calibration


def load_scr_localizer(bundle_path: Union[str, Path], device: str = 'auto', **options: Any):
    """Localizer factory of ``scr`` bundles: dense ``SCRNet`` or ``KeypointSCR``.

    Raises:
        BundleError: for a missing or foreign bundle, or an unknown architecture.
    """
    name = read_bundle_config(bundle_path)['architecture'].get('name')
    if name == 'KeypointSCR':
        from pose_reloc.inference.scr_keypoints import KeypointSCRLocalizer
        return KeypointSCRLocalizer(bundle_path, device=device, **options)
    return SCRLocalizer(bundle_path, device=device, **options)


register_localizer('scr', load_scr_localizer, pnp_option_specs())
