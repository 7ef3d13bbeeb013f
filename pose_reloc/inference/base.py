# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""What every localizer returns, the protocol it follows and the options it declares.

A localizer declares the options it accepts as :class:`OptionSpec` rows (name, type, default,
description); ``load_localizer(bundle, **options)`` checks the caller's options against them
(:func:`check_options`), so that the ROS node and ``pose-reloc eval`` forward options without
knowing the method. A localizer may carry a refinement stage (:class:`RefinementStage`), run on
the pose it produced (:func:`apply_refinement`); the adversarial pose refiner
(``inference.refine``) is one.
"""

from dataclasses import dataclass, field
import math
from pathlib import Path
import time
from typing import Any, Dict, List, Mapping, Optional, Protocol, runtime_checkable, \
    Sequence, Tuple, Union

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


#: the Python types an option may have (ROS parameters and the command line map onto them).
OPTION_TYPES = (bool, int, float, str)


@dataclass(frozen=True)
class OptionSpec:
    """One option a localizer accepts (``load_localizer(bundle, name=value)``).

    Attributes:
        name: the keyword (``mc_samples``, ``refine_iterations``, ``min_inliers``, ...).
        kind: ``bool``, ``int``, ``float`` or ``str``; an ``int`` is accepted for a ``float``.
        default: the value when the option is not given; None = "the bundle's value".
        description: one line, units included.
        minimum: smallest accepted number (None = unbounded).
        choices: accepted values (empty = any).
        allow_none: None is accepted (it means the bundle's value).
    """

    name: str
    kind: type
    default: Any
    description: str
    minimum: Optional[float] = None
    choices: Tuple[Any, ...] = ()
    allow_none: bool = False

    def __post_init__(self):
        """Check the spec itself.

        Raises:
            ValueError: for a type outside :data:`OPTION_TYPES`.
        """
        if self.kind not in OPTION_TYPES:
            raise ValueError(f'option {self.name!r}: kind must be one of '
                             f'{[t.__name__ for t in OPTION_TYPES]}, got {self.kind!r}')

    def check(self, value: Any, where: str = 'localizer') -> Any:
        """Return ``value`` converted to the option's type.

        Strings (from ``name=value`` on the command line or a ROS string parameter) are
        parsed as YAML scalars (``30``, ``1e-3``, ``true``, ``null``).

        Raises:
            ValueError: naming ``where``, the option and the value, for a wrong type, a
                value below ``minimum`` or outside ``choices``.
        """
        if isinstance(value, str) and self.kind is not str:
            value = _parse_scalar(value, self.kind, f'{where} option {self.name}')
        if value is None:
            if self.allow_none:
                return None
            raise ValueError(f'{where} option {self.name} must be a {self.kind.__name__}, '
                             'got None')
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or (self.kind is int and isinstance(value, bool)):
            raise ValueError(f'{where} option {self.name} must be a {self.kind.__name__}, got '
                             f'{value!r} ({type(value).__name__})')
        if self.kind is float and not math.isfinite(value):
            raise ValueError(f'{where} option {self.name} must be a finite number, got '
                             f'{value!r}')
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f'{where} option {self.name} must be >= {self.minimum}, got '
                             f'{value!r}')
        if self.choices and value not in self.choices:
            raise ValueError(f'{where} option {self.name} must be one of {list(self.choices)}, '
                             f'got {value!r}')
        return value

    def to_json(self) -> Dict[str, Any]:
        """Return the spec as a JSON-ready dict (``pose-reloc info``, diagnostics)."""
        return {'name': self.name, 'type': self.kind.__name__, 'default': self.default,
                'description': self.description, 'minimum': self.minimum,
                'choices': list(self.choices), 'allow_none': self.allow_none}


def _parse_scalar(text: str, kind: type, where: str) -> Any:
    """Parse ``text`` as a ``kind`` (``int('30')``, ``float('1e-3')``), else as YAML."""
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    import yaml
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f'{where}: cannot parse {text!r}') from exc


def check_options(specs: Sequence[OptionSpec], options: Mapping[str, Any],
                  where: str = 'localizer') -> Dict[str, Any]:
    """Validate ``options`` against the declared ``specs``.

    Args:
        specs: what the localizer accepts.
        options: the caller's ``{name: value}`` (values may be strings, see
            :meth:`OptionSpec.check`).
        where: who accepts them, for messages (``'APR localizer'``).

    Returns:
        ``{name: converted value}`` for the given options only (defaults are not filled in).

    Raises:
        ValueError: for an unknown option (naming it and the accepted ones) or an invalid
            value.
    """
    by_name = {spec.name: spec for spec in specs}
    unknown = sorted(set(options) - set(by_name))
    if unknown:
        raise ValueError(f'unknown {where} option(s) {", ".join(unknown)}; the {where} '
                         f'accepts: {", ".join(sorted(by_name)) or "none"}')
    return {name: by_name[name].check(value, where) for name, value in options.items()}


def parse_option_assignments(items: Sequence[str]) -> Dict[str, str]:
    """Turn ``['name=value', ...]`` into ``{name: 'value'}`` (values parsed later by a spec).

    Raises:
        ValueError: for an item without ``=`` or with an empty name, or a name given twice.
    """
    out: Dict[str, str] = {}
    for item in items:
        name, sep, value = str(item).partition('=')
        name = name.strip()
        if not sep or not name:
            raise ValueError(f'localizer option {item!r} must be name=value')
        if name in out:
            raise ValueError(f'localizer option {name!r} is given twice')
        out[name] = value.strip()
    return out


@runtime_checkable
class RefinementStage(Protocol):
    """An optional stage run on a localizer's pose (e.g. ``inference.refine``).

    ``refine`` gets the estimate the localizer produced and the inputs the stage needs
    (method specific, e.g. ``{'image': (1, 3, h, w) float32 tensor, 'scene_index': int}``)
    and returns the estimate to publish: its pose may change, its covariance is kept (the
    bundle's covariance calibration is fitted with the stage on), and it adds its own
    ``extras`` (``refine_*``).
    """

    def refine(self, estimate: 'PoseEstimate', inputs: Mapping[str, Any]) -> 'PoseEstimate':
        """Return the refined estimate (``estimate`` itself when nothing changes)."""


def apply_refinement(stage: Optional[RefinementStage], estimate: PoseEstimate,
                     inputs: Mapping[str, Any]) -> PoseEstimate:
    """Run ``stage`` on ``estimate`` and time it.

    A failed estimate (``ok`` False or no pose) and ``stage`` None pass through unchanged.
    Otherwise ``timings_ms['refine']`` gets the stage's wall time and ``timings_ms['total']``
    grows by it.
    """
    if stage is None or not estimate.ok or estimate.T_world_cam is None:
        return estimate
    t0 = time.perf_counter()
    refined = stage.refine(estimate, inputs)
    elapsed = (time.perf_counter() - t0) * 1e3
    refined.timings_ms['refine'] = elapsed
    refined.timings_ms['total'] = refined.timings_ms.get('total', 0.0) + elapsed
    return refined


@runtime_checkable
class Localizer(Protocol):
    """A trained model that turns one image into a pose.

    Attributes:
        method: the bundle's method (``apr``, ``mspn``, ``scr``).
        scenes: names of the scenes the model knows, in bundle order.
        camera: the training intrinsics (at the original image resolution), or None.

    Optional (not required by ``isinstance``): ``options``, the :class:`OptionSpec` rows the
    localizer's factory accepts (also registered with ``register_localizer``), and
    ``refiner``, a :class:`RefinementStage` run on each pose (None = none).
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
