# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""What every localizer returns and the protocol it follows."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Protocol, runtime_checkable, Union

import numpy as np

from pose_reloc.core.bundle import BundleError, config_file
from pose_reloc.geometry.camera import camera_from_ros_yaml, PinholeCamera


@dataclass
class PoseEstimate:
    """One localization result.

    Attributes:
        ok: True if a pose was estimated (``T_world_cam`` is set and finite).
        T_world_cam: (4, 4) float64 camera-to-world pose, OpenCV optical camera frame,
            or None when ``ok`` is False.
        covariance: (6, 6) float64 covariance in ROS order ``(x, y, z, rot_x, rot_y,
            rot_z)`` (m^2, rad^2; rotation about the fixed world axes), or None.
        confidence: in [0, 1], higher is better (method specific; e.g. the scene
            classifier's probability for MSPN or the inlier ratio for SCR).
        scene: name of the scene the pose is expressed in, if known.
        failure: short reason when ``ok`` is False (e.g. ``'too few inliers'``).
        timings_ms: named stage durations in milliseconds (``total``, ``network``,
            ``pnp``, ...).
        extras: method-specific scalars (``scene_probability``, ``inlier_ratio``, ...).
    """

    ok: bool
    T_world_cam: Optional[np.ndarray] = None
    covariance: Optional[np.ndarray] = None
    confidence: float = 0.0
    scene: Optional[str] = None
    failure: Optional[str] = None
    timings_ms: Dict[str, float] = field(default_factory=dict)
    extras: Dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Localizer(Protocol):
    """A trained model that turns one image into a pose.

    Attributes:
        method: the bundle's method (``apr``, ``mspn``, ``scr``).
        scenes: names of the scenes the model knows, in bundle order.
        camera: the training intrinsics (at the original image resolution), or None.
    """

    method: str
    scenes: List[str]
    camera: Optional[PinholeCamera]

    def localize(self, image_rgb_hw3: np.ndarray, camera: Optional[PinholeCamera] = None,
                 scene: Optional[str] = None) -> PoseEstimate:
        """Estimate ``T_world_cam`` of one ``(H, W, 3) uint8`` RGB image.

        Args:
            image_rgb_hw3: the image.
            camera: its intrinsics if they differ from the training camera.
            scene: an oracle scene name (multi-scene models), or None to predict it.
        """


def scene_names(config: Mapping[str, Any], bundle_path: Union[str, Path]) -> List[str]:
    """Return the names of the bundle's scenes.

    Raises:
        BundleError: naming the bundle's ``config.json`` and ``scenes`` when it lists none.
    """
    if not config['scenes']:
        raise BundleError(f'{config_file(bundle_path)}: "scenes" lists no scene')
    return [entry['name'] for entry in config['scenes']]


def scene_camera(config: Mapping[str, Any], bundle_path: Union[str, Path],
                 index: int = 0) -> Optional[PinholeCamera]:
    """Return the camera of the bundle's scene ``index`` (None when the entry has none).

    Raises:
        BundleError: naming the bundle's ``config.json`` and ``scenes[index].camera`` when
            the camera entry is malformed.
    """
    entry = config['scenes'][index].get('camera')
    if entry is None:
        return None
    source = f'{config_file(bundle_path)}: "scenes[{index}].camera"'
    try:
        return camera_from_ros_yaml(entry, source=source)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise BundleError(exc if source in str(exc) else f'{source}: {exc!r}') from exc


#: relative aspect-ratio mismatch tolerated when scaling the training camera to an image.
ASPECT_TOL = 0.01


def camera_for_image(training_camera: PinholeCamera, width: int, height: int,
                     camera: Optional[PinholeCamera] = None) -> PinholeCamera:
    """Return the camera of a ``width x height`` image for a localizer.

    Args:
        training_camera: the bundle's training camera (original resolution).
        width: image width, pixels.
        height: image height, pixels.
        camera: the image's own camera, if the caller has one.

    Returns:
        ``camera`` when given; else the training camera, scaled with
        ``PinholeCamera.resized`` when the image has another size of the same aspect ratio
        (within :data:`ASPECT_TOL`).

    Raises:
        ValueError: ``camera`` has another size than the image, or no camera is given and the
            image's aspect ratio differs from the training camera's.
    """
    if camera is not None:
        if (camera.width, camera.height) != (width, height):
            raise ValueError(f'image is {width}x{height} but the camera is '
                             f'{camera.width}x{camera.height}')
        return camera
    base = training_camera
    if (base.width, base.height) == (width, height):
        return base
    if abs(width / height - base.width / base.height) > ASPECT_TOL * base.width / base.height:
        raise ValueError(f'image is {width}x{height}, the training camera '
                         f'{base.width}x{base.height} has another aspect ratio; pass the '
                         'camera of this image')
    return base.resized(width, height)
