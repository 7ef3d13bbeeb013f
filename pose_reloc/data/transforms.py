# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The one image input pipeline: training, validation and every localizer use it.

Every geometric transform updates the camera (``K``) and, when present, the depth map:
resize (to a size, or the shorter side to a length) and crop (random or centre). The only
random appearance change is photometric jitter (brightness, contrast, saturation, hue;
torchvision's functional ops). There are deliberately no flips or rotations: they would change
the pose that the image shows.

A *sample* is a dict ``{'image': (H, W, 3) uint8 RGB, 'camera': PinholeCamera or None,
'depth': (H, W) float32 metres (optional)}``; the classes below map a sample to a new
sample, and :class:`ToTensor` ends a pipeline by turning ``'image'`` into a normalized
``(3, H, W) float32`` tensor. The plain functions do the same work on arrays. A ``None``
camera (a localizer that needs no intrinsics) is passed through unchanged.

:class:`InputSpec` is what a model expects (size, resize rule, crop, normalization, colour
order, value range). Training writes it into the model bundle (``input`` section,
:meth:`InputSpec.to_json`) and every localizer rebuilds it (:meth:`InputSpec.from_bundle`),
so that one frame gives the identical tensor at validation and at ``localize``::

    Resize(spec)                        deterministic (training caches its output)
      -> CenterCrop (spec.crop 'center') or the whole image ('none')   spec.eval_steps()
      or RandomCrop -> ColorJitter                                     spec.train_steps()
      -> ToTensor(mean, std, color, value_range)

Randomness comes from a ``torch.Generator`` given to the random transforms or, by default,
from torch's global generator, which the training loop re-seeds every epoch and the
DataLoader seeds differently in every worker (so workers do not repeat each other's crops).
"""

import dataclasses
from dataclasses import dataclass
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from pose_reloc.core.bundle import BundleError, config_file
from pose_reloc.core.util import check_rgb_image
from pose_reloc.geometry.camera import PinholeCamera

#: ImageNet channel mean and standard deviation (RGB, images scaled to [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: ``InputSpec.crop`` values: centre crop to ``height x width``, or the whole resized image.
CROPS = ('center', 'none')
#: ``InputSpec.color`` values: channel order of the network input.
COLOR_ORDERS = ('rgb', 'bgr')
#: resampling rules: ``auto`` = area when the height shrinks, else bilinear; ``area`` = always
#: area (the rule of dense SCR bundles written before the input spec).
INTERPOLATIONS = ('auto', 'area')


def resize_to(image: np.ndarray, camera: Optional[PinholeCamera], width: int, height: int,
              depth: Optional[np.ndarray] = None, interpolation: str = 'auto') -> Tuple:
    """Resize to exactly ``width x height`` pixels (the aspect ratio may change).

    Args:
        image: (H, W, 3) uint8 RGB.
        camera: the image's camera (its size must match the image), or None.
        width: new width, pixels (> 0).
        height: new height, pixels (> 0).
        depth: optional (H, W) float32 depth (metres), resized with nearest neighbour so
            that invalid zeros are never blended into valid depth.
        interpolation: ``auto`` (area when the height shrinks, else bilinear) or ``area``.

    Returns:
        ``(image, camera, depth)``: the inputs themselves when the size is unchanged; else
        resized, the camera as ``camera.resized(width, height)`` (pixel-centre aware) and
        ``depth`` None if not given.

    Raises:
        ValueError: a non-positive size, an unknown interpolation, or a camera of another
            size than the image.
    """
    _check_camera(image, camera)
    if width <= 0 or height <= 0:
        raise ValueError(f'resize_to: width and height must be positive, got {width}x{height}')
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f'resize_to: interpolation must be one of {INTERPOLATIONS}, got '
                         f'{interpolation!r}')
    if (width, height) == (image.shape[1], image.shape[0]):
        return image, camera, depth
    interp = cv2.INTER_AREA if interpolation == 'area' or height < image.shape[0] else \
        cv2.INTER_LINEAR
    image = cv2.resize(image, (width, height), interpolation=interp)
    if depth is not None:
        # INTER_NEAREST_EXACT samples the source pixel under each target pixel centre (the
        # convention of camera.resized); plain INTER_NEAREST shifts by up to a pixel.
        depth = cv2.resize(depth, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    return image, camera.resized(width, height) if camera is not None else None, depth


def shorter_side_size(width: int, height: int, size: int, multiple: int = 1
                      ) -> Tuple[int, int]:
    """Return the size of a ``width x height`` image with its shorter side scaled to ``size``.

    The aspect ratio is kept; each side is rounded to a multiple of ``multiple`` (at least
    one multiple). Example: ``shorter_side_size(640, 480, 60, multiple=8) == (80, 64)``.

    Returns:
        ``(width, height)``, pixels.
    """
    scale = size / min(width, height)
    return (max(multiple, int(round(width * scale / multiple)) * multiple),
            max(multiple, int(round(height * scale / multiple)) * multiple))


def resize_shorter(image: np.ndarray, camera: Optional[PinholeCamera], size: int,
                   depth: Optional[np.ndarray] = None) -> Tuple:
    """Resize so that the shorter image side is ``size`` pixels (aspect ratio kept).

    Args:
        image: (H, W, 3) uint8 RGB.
        camera: the image's camera (its size must match the image), or None.
        size: new length of the shorter side, pixels.
        depth: optional (H, W) float32 depth (metres), resized with nearest neighbour.

    Returns:
        ``(image, camera, depth)`` resized (see :func:`resize_to`).

    Raises:
        ValueError: a camera of another size than the image.
    """
    _check_camera(image, camera)
    width, height = shorter_side_size(image.shape[1], image.shape[0], size)
    return resize_to(image, camera, width, height, depth)


def crop(image: np.ndarray, camera: Optional[PinholeCamera], x0: int, y0: int, width: int,
         height: int, depth: Optional[np.ndarray] = None) -> Tuple:
    """Crop ``image[y0:y0 + height, x0:x0 + width]`` and shift the principal point.

    Args:
        image: (H, W, 3) image.
        camera: the image's camera, or None.
        x0: left column, pixels.
        y0: top row, pixels.
        width: crop width, pixels.
        height: crop height, pixels.
        depth: optional (H, W) depth cropped alike.

    Returns:
        ``(image, camera, depth)`` cropped (copies).

    Raises:
        ValueError: the crop does not fit in the image, or the camera has another size.
    """
    _check_camera(image, camera)
    if (x0 < 0 or y0 < 0 or width <= 0 or height <= 0 or x0 + width > image.shape[1]
            or y0 + height > image.shape[0]):
        raise ValueError(f'crop: x0={x0} y0={y0} {width}x{height} does not fit in the '
                         f'{image.shape[1]}x{image.shape[0]} image')
    new_camera = camera.cropped(x0, y0, width, height) if camera is not None else None
    image = np.ascontiguousarray(image[y0:y0 + height, x0:x0 + width])
    if depth is not None:
        depth = np.ascontiguousarray(depth[y0:y0 + height, x0:x0 + width])
    return image, new_camera, depth


def adjust_photometric(image: np.ndarray, brightness: float = 1.0, contrast: float = 1.0,
                       saturation: float = 1.0, hue: float = 0.0) -> np.ndarray:
    """Change brightness, contrast, saturation and hue, in that order (torchvision's ops).

    Args:
        image: (H, W, 3) uint8 RGB.
        brightness: multiplies the pixel values (1 = unchanged).
        contrast: blends with the mean grey level (1 = unchanged, 0 = flat grey).
        saturation: blends with the grey image (1 = unchanged, 0 = grey).
        hue: shift of the hue as a fraction of the colour circle, in [-0.5, 0.5].

    Returns:
        (H, W, 3) uint8 RGB (``image`` itself when every factor is neutral).

    Raises:
        ValueError: the image is not ``(H, W, 3) uint8``.
    """
    image = check_rgb_image(image)
    if (brightness, contrast, saturation, hue) == (1.0, 1.0, 1.0, 0.0):
        return image
    from torchvision.transforms.v2 import functional as tvf  # 1 s to import: only when used
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    if brightness != 1.0:
        x = tvf.adjust_brightness(x, brightness)
    if contrast != 1.0:
        x = tvf.adjust_contrast(x, contrast)
    if saturation != 1.0:
        x = tvf.adjust_saturation(x, saturation)
    if hue != 0.0:
        x = tvf.adjust_hue(x, hue)
    return np.ascontiguousarray(x.permute(1, 2, 0).numpy())


def to_tensor(image: np.ndarray, mean: Sequence[float] = IMAGENET_MEAN,
              std: Sequence[float] = IMAGENET_STD, color: str = 'rgb',
              value_range: Tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """Convert an RGB uint8 image to a normalized tensor.

    Args:
        image: (H, W, 3) uint8 RGB.
        mean: per-channel mean, in ``color`` order and ``value_range`` units.
        std: per-channel standard deviation, likewise.
        color: channel order of the tensor, ``rgb`` or ``bgr``.
        value_range: ``(low, high)``: the values black and white map to before the
            normalization (``(0, 1)``: ImageNet models; ``(0, 255)``: Caffe models).

    Returns:
        (3, H, W) float32 tensor ``(low + (high - low) * image / 255 - mean) / std``.

    Raises:
        ValueError: the image is not ``(H, W, 3) uint8``, or ``color`` is unknown.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'to_tensor: expected (H, W, 3) uint8 RGB, got shape {image.shape} '
                         f'dtype {image.dtype}')
    if color not in COLOR_ORDERS:
        raise ValueError(f'to_tensor: color must be one of {COLOR_ORDERS}, got {color!r}')
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float() / 255.0
    if color == 'bgr':
        tensor = tensor.flip(0)
    low, high = (float(v) for v in value_range)
    if (low, high) != (0.0, 1.0):
        tensor = tensor * (high - low) + low
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (tensor - mean_t) / std_t


def _check_camera(image: np.ndarray, camera: Optional[PinholeCamera]):
    if camera is not None and (image.shape[1], image.shape[0]) != (camera.width, camera.height):
        raise ValueError(f'image is {image.shape[1]}x{image.shape[0]} (WxH) but its camera is '
                         f'{camera.width}x{camera.height}')


def _uniform(low: float, high: float, generator: Optional[torch.Generator]) -> float:
    return float(low + (high - low) * torch.rand((), generator=generator).item())


def _randint(high_inclusive: int, generator: Optional[torch.Generator]) -> int:
    if high_inclusive == 0:
        return 0  # one choice: draw nothing, so a crop of the whole image uses no randomness
    return int(torch.randint(0, high_inclusive + 1, (), generator=generator).item())


class Compose:
    """Apply sample transforms in order.

    Args:
        transforms: callables mapping a sample dict to a sample dict.
    """

    def __init__(self, transforms: Sequence):
        """Store the transforms."""
        self.transforms = list(transforms)

    def __call__(self, sample: dict) -> dict:
        """Return the transformed sample."""
        for transform in self.transforms:
            sample = transform(sample)
        return sample

    def __repr__(self) -> str:
        """List the transforms."""
        return f'Compose({self.transforms!r})'


class ResizeShorter:
    """Resize so the shorter side is ``size`` pixels (camera and depth follow).

    Args:
        size: shorter side after resizing, pixels.
    """

    def __init__(self, size: int):
        """Store the size."""
        if size <= 0:
            raise ValueError(f'ResizeShorter: size must be positive, got {size}')
        self.size = int(size)

    def __call__(self, sample: dict) -> dict:
        """Return the resized sample."""
        image, camera, depth = resize_shorter(sample['image'], sample.get('camera'), self.size,
                                              sample.get('depth'))
        return _update(sample, image, camera, depth)

    def __repr__(self) -> str:
        """Show the size."""
        return f'ResizeShorter({self.size})'


class Resize:
    """Resize a sample as an :class:`InputSpec` says (camera and depth follow).

    Args:
        spec: the input spec (:meth:`InputSpec.resized_size`, ``interpolation``).
    """

    def __init__(self, spec: 'InputSpec'):
        """Store the spec."""
        self.spec = spec

    def __call__(self, sample: dict) -> dict:
        """Return the resized sample.

        Raises:
            ValueError: see :meth:`InputSpec.resized_size`.
        """
        height, width = sample['image'].shape[:2]
        new_w, new_h = self.spec.resized_size(width, height)
        image, camera, depth = resize_to(sample['image'], sample.get('camera'), new_w, new_h,
                                         sample.get('depth'), self.spec.interpolation)
        return _update(sample, image, camera, depth)

    def __repr__(self) -> str:
        """Show the spec."""
        return f'Resize({self.spec!r})'


class _Crop:
    """A ``height`` x ``width`` crop whose origin a subclass chooses (camera, depth follow)."""

    def __init__(self, height: int, width: int):
        """Store the crop size."""
        self.height, self.width = int(height), int(width)

    def _origin(self, img_w: int, img_h: int) -> Tuple[int, int]:
        raise NotImplementedError

    def __call__(self, sample: dict) -> dict:
        """Return the cropped sample."""
        img_h, img_w = sample['image'].shape[:2]
        if img_w < self.width or img_h < self.height:
            raise ValueError(f'{type(self).__name__}: {self.width}x{self.height} crop does not '
                             f'fit in the {img_w}x{img_h} image')
        x0, y0 = self._origin(img_w, img_h)
        image, camera, depth = crop(sample['image'], sample.get('camera'), x0, y0, self.width,
                                    self.height, sample.get('depth'))
        return _update(sample, image, camera, depth)

    def __repr__(self) -> str:
        """Show the crop size."""
        return f'{type(self).__name__}({self.height}, {self.width})'


class CenterCrop(_Crop):
    """Crop the central ``height`` x ``width`` window (camera and depth follow).

    The origin is ``((W - width) // 2, (H - height) // 2)``.

    Args:
        height: crop height, pixels.
        width: crop width, pixels.
    """

    def _origin(self, img_w: int, img_h: int) -> Tuple[int, int]:
        return (img_w - self.width) // 2, (img_h - self.height) // 2


class RandomCrop(_Crop):
    """Crop a uniformly placed ``height`` x ``width`` window (camera and depth follow).

    Args:
        height: crop height, pixels.
        width: crop width, pixels.
        generator: optional torch.Generator (default: torch's global generator).
    """

    def __init__(self, height: int, width: int, generator: Optional[torch.Generator] = None):
        """Store the crop size and random source."""
        super().__init__(height, width)
        self.generator = generator

    def _origin(self, img_w: int, img_h: int) -> Tuple[int, int]:
        return (_randint(img_w - self.width, self.generator),
                _randint(img_h - self.height, self.generator))


class ColorJitter:
    """Random photometric jitter (geometry, camera and depth untouched).

    Factors are drawn uniformly, in this order and only for non-zero amounts: brightness,
    contrast and saturation in ``[max(0, 1 - x), 1 + x]``, hue shift in ``[-hue, hue]``
    (fraction of the circle); they are applied by :func:`adjust_photometric`
    (torchvision's ``adjust_*`` ops on the uint8 image).

    Args:
        brightness: brightness jitter amount (0 = off).
        contrast: contrast jitter amount.
        saturation: saturation jitter amount.
        hue: hue jitter amount, in [0, 0.5].
        generator: optional torch.Generator (default: torch's global generator).

    Raises:
        ValueError: a negative amount or ``hue > 0.5``.
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                 hue: float = 0.0, generator: Optional[torch.Generator] = None):
        """Store the jitter amounts and random source."""
        for name, value in (('brightness', brightness), ('contrast', contrast),
                            ('saturation', saturation), ('hue', hue)):
            if value < 0:
                raise ValueError(f'ColorJitter: {name} must be >= 0, got {value}')
        if hue > 0.5:
            raise ValueError(f'ColorJitter: hue must be <= 0.5, got {hue}')
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.saturation, self.hue = float(saturation), float(hue)
        self.generator = generator

    def __call__(self, sample: dict) -> dict:
        """Return the sample with a jittered image."""
        factors = {}
        for name in ('brightness', 'contrast', 'saturation'):
            amount = getattr(self, name)
            factors[name] = _uniform(max(0.0, 1 - amount), 1 + amount, self.generator) \
                if amount else 1.0
        hue = _uniform(-self.hue, self.hue, self.generator) if self.hue else 0.0
        out = dict(sample)
        out['image'] = adjust_photometric(sample['image'], hue=hue, **factors)
        return out

    def __repr__(self) -> str:
        """Show the jitter amounts."""
        return (f'ColorJitter(brightness={self.brightness}, contrast={self.contrast}, '
                f'saturation={self.saturation}, hue={self.hue})')


class ToTensor:
    """Turn the sample's uint8 image into a normalized ``(3, H, W) float32`` tensor.

    Args:
        mean: per-channel mean (default ImageNet).
        std: per-channel standard deviation (default ImageNet).
        color: channel order, ``rgb`` or ``bgr`` (see :func:`to_tensor`).
        value_range: ``(low, high)`` values of black and white before normalization.
    """

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD, color: str = 'rgb',
                 value_range: Tuple[float, float] = (0.0, 1.0)):
        """Store the normalization."""
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        self.color, self.value_range = color, tuple(float(v) for v in value_range)

    def __call__(self, sample: dict) -> dict:
        """Return the sample with ``'image'`` as a tensor."""
        out = dict(sample)
        out['image'] = to_tensor(sample['image'], self.mean, self.std, self.color,
                                 self.value_range)
        return out

    def __repr__(self) -> str:
        """Show the normalization."""
        extra = '' if (self.color, self.value_range) == ('rgb', (0.0, 1.0)) else \
            f', color={self.color!r}, value_range={self.value_range}'
        return f'ToTensor(mean={self.mean}, std={self.std}{extra})'


def _update(sample: dict, image, camera, depth) -> dict:
    out = dict(sample)
    out['image'], out['camera'] = image, camera
    if depth is not None:
        out['depth'] = depth
    return out


class InputSpecError(ValueError):
    """An :class:`InputSpec` field is invalid.

    Attributes:
        field: the field's name (its bundle key is ``input.<key>``, ``range`` for
            ``value_range``).
        problem: what is wrong (``must be ..., got ...``).
    """

    def __init__(self, field: str, problem: str):
        """Build the message ``input spec: "<field>" <problem>``."""
        super().__init__(f'input spec: "{field}" {problem}')
        self.field, self.problem = field, problem


#: bundle ``input`` key of each InputSpec field whose name differs from it.
_JSON_KEYS = {'value_range': 'range'}


@dataclass(frozen=True)
class InputSpec:
    """What a network takes as input, and how an image becomes it (the bundle's ``input``).

    The deterministic path (validation and every localizer) is: resize (:meth:`resized_size`),
    then a centre crop to ``height x width`` (``crop='center'``) or none (``crop='none'``:
    the whole resized image, any aspect; fully convolutional nets), then :func:`to_tensor`.
    Training replaces the crop by a random one and may add :class:`ColorJitter`.

    Attributes:
        height: network input height, pixels: the crop, or with ``crop='none'`` the height
            of the resized training images.
        width: network input width, pixels (likewise).
        resize: shorter side after resizing, pixels (aspect kept); 0 = resize straight to
            ``height x width``.
        multiple: resized sides are rounded to multiples of this (dense SCR: its output
            stride 8; 1 = plain rounding).
        crop: ``center`` or ``none`` (:data:`CROPS`).
        mean: per-channel mean, in ``color`` order and ``value_range`` units.
        std: per-channel standard deviation (> 0), likewise.
        color: channel order of the input tensor, ``rgb`` or ``bgr``.
        value_range: ``(low, high)`` values of black and white before normalization
            (bundle key ``range``).
        interpolation: ``auto`` or ``area`` (:data:`INTERPOLATIONS`).

    Raises:
        InputSpecError: (a ``ValueError``) naming the first invalid field.
    """

    height: int
    width: int
    resize: int = 0
    multiple: int = 1
    crop: str = 'center'
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    color: str = 'rgb'
    value_range: Tuple[float, float] = (0.0, 1.0)
    interpolation: str = 'auto'

    def __post_init__(self):
        """Check every field and store sequences as tuples of floats."""
        for name, minimum in (('height', 1), ('width', 1), ('resize', 0), ('multiple', 1)):
            value = getattr(self, name)
            if not _is_int(value) or value < minimum:
                raise InputSpecError(name, f'must be an integer >= {minimum}, got {value!r}')
        for name, choices in (('crop', CROPS), ('color', COLOR_ORDERS),
                              ('interpolation', INTERPOLATIONS)):
            if getattr(self, name) not in choices:
                raise InputSpecError(name, f'must be one of {list(choices)}, got '
                                     f'{getattr(self, name)!r}')
        for name, count in (('mean', 3), ('std', 3), ('value_range', 2)):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or \
                    len(value) != count or not all(_is_number(v) for v in value):
                raise InputSpecError(name, f'must be {count} finite numbers, got {value!r}')
            object.__setattr__(self, name, tuple(float(v) for v in value))
        if min(self.std) <= 0:
            raise InputSpecError('std', f'must be > 0, got {list(self.std)}')
        if self.value_range[0] >= self.value_range[1]:
            raise InputSpecError('value_range', f'must be (low, high) with low < high, got '
                                 f'{list(self.value_range)}')

    def resized_size(self, width: int, height: int) -> Tuple[int, int]:
        """Return the ``(width, height)`` the resize step gives a ``width x height`` image.

        ``resize == 0``: ``(self.width, self.height)``; else the shorter side scaled to
        ``resize``, sides rounded to multiples of ``multiple`` (:func:`shorter_side_size`).

        Raises:
            ValueError: with ``crop='center'``, when the resized image is smaller than the
                crop (an image of another aspect ratio than the training images; the
                message names both sizes).
        """
        if self.resize == 0:
            return self.width, self.height
        size = shorter_side_size(width, height, self.resize, self.multiple)
        if self.crop == 'center' and (size[0] < self.width or size[1] < self.height):
            raise ValueError(f'input spec: an image of {width}x{height} resized to '
                             f'{size[0]}x{size[1]} (shorter side {self.resize}) is smaller '
                             f'than the {self.width}x{self.height} crop (when training: '
                             'raise data.resize)')
        return size

    def eval_steps(self) -> Compose:
        """Return the deterministic steps after :class:`Resize`: centre crop (or none), tensor."""
        steps = [CenterCrop(self.height, self.width)] if self.crop == 'center' else []
        return Compose(steps + [self._to_tensor()])

    def train_steps(self, crop_hw: Optional[Tuple[int, int]] = None,
                    jitter: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
                    generator: Optional[torch.Generator] = None) -> Compose:
        """Return the random training steps that follow :class:`Resize`.

        Args:
            crop_hw: ``(height, width)`` of the random crop (camera and depth follow), or
                None for the whole resized image.
            jitter: ``(brightness, contrast, saturation, hue)`` amounts of
                :class:`ColorJitter`; zeros disable it.
            generator: torch.Generator of the crop and the jitter (default: torch's global
                generator).

        Returns:
            Compose of random crop, jitter (if any) and :class:`ToTensor`.
        """
        steps = [] if crop_hw is None else [RandomCrop(crop_hw[0], crop_hw[1], generator)]
        if any(jitter):
            steps.append(ColorJitter(*jitter, generator=generator))
        return Compose(steps + [self._to_tensor()])

    def eval_transform(self) -> Compose:
        """Return the whole deterministic pipeline: :class:`Resize`, then :meth:`eval_steps`."""
        return Compose([Resize(self)] + self.eval_steps().transforms)

    def prepare(self, image_rgb_hw3: np.ndarray, camera: Optional[PinholeCamera] = None
                ) -> dict:
        """Turn one image into the network input (what every localizer does).

        Args:
            image_rgb_hw3: (H, W, 3) uint8 RGB image, any size.
            camera: its camera (same size), or None when the caller needs no intrinsics.

        Returns:
            ``{'image': (3, h, w) float32 tensor, 'camera': the camera of that tensor's
            pixels (None if none was given)}``.

        Raises:
            ValueError: the image is not ``(H, W, 3) uint8``, the camera has another size,
                or the image is too small for the crop (:meth:`resized_size`).
        """
        image = check_rgb_image(image_rgb_hw3)
        sample = self.eval_transform()({'image': image, 'camera': camera})
        return {'image': sample['image'], 'camera': sample['camera']}

    def _to_tensor(self) -> ToTensor:
        return ToTensor(self.mean, self.std, self.color, self.value_range)

    def to_json(self) -> dict:
        """Return the bundle's ``input`` section (JSON-ready)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[_JSON_KEYS.get(f.name, f.name)] = list(value) if isinstance(value, tuple) \
                else value
        return out

    @classmethod
    def from_bundle(cls, config: Mapping[str, Any], bundle_path: Union[str, Path],
                    legacy: Optional[Mapping[str, Any]] = None) -> 'InputSpec':
        """Rebuild the spec from a bundle's ``config.json`` (its ``input`` section).

        Sections written before the input spec have no ``crop`` key; their missing fields
        take the dataclass defaults (APR / MSPN: ``height, width, resize, mean, std, color,
        range``), or ``legacy`` when given (what the method's localizer assumed then). Keys
        that are not fields are ignored (``short_side``).

        Args:
            config: the parsed ``config.json``.
            bundle_path: the bundle (its ``config.json`` is named in errors).
            legacy: field values for a section without ``crop`` (a section's own keys win).

        Returns:
            The InputSpec.

        Raises:
            BundleError: one line naming the file and the key: no ``input`` mapping, a
                missing ``input.height|width|mean|std``, or an invalid value.
        """
        where = config_file(bundle_path)
        section = config.get('input')
        if not isinstance(section, Mapping):
            raise BundleError(f'{where}: missing key "input"' if section is None else
                              f'{where}: "input" must be a mapping, got {section!r}')
        for key in ('height', 'width', 'mean', 'std'):
            if key not in section:
                raise BundleError(f'{where}: missing key "input.{key}"')
        values = dict(legacy or {}) if 'crop' not in section else {}
        for f in dataclasses.fields(cls):
            key = _JSON_KEYS.get(f.name, f.name)
            if key in section:
                values[f.name] = section[key]
        try:
            return cls(**values)
        except InputSpecError as exc:
            key = _JSON_KEYS.get(exc.field, exc.field)
            raise BundleError(f'{where}: "input.{key}" {exc.problem}') from exc


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and \
        not isinstance(value, bool) and math.isfinite(value)


def train_transform(resize: int = 256, crop_hw: Tuple[int, int] = (224, 224),
                    jitter: Tuple[float, float, float, float] = (0.3, 0.3, 0.3, 0.05),
                    mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                    generator: Optional[torch.Generator] = None) -> Compose:
    """PoseNet-style training pipeline: resize shorter side, random crop, jitter, normalize.

    Args:
        resize: shorter side after resizing, pixels (PoseNet: 256).
        crop_hw: (height, width) of the random crop (PoseNet: 224 x 224).
        jitter: (brightness, contrast, saturation, hue) amounts; zeros disable it.
        mean: normalization mean.
        std: normalization standard deviation.
        generator: optional torch.Generator for the random steps.

    Returns:
        Compose of sample transforms ending with :class:`ToTensor`.
    """
    spec = InputSpec(crop_hw[0], crop_hw[1], resize, mean=mean, std=std)
    return Compose([Resize(spec)] + spec.train_steps(crop_hw, jitter, generator).transforms)


def eval_transform(resize: int = 256, crop_hw: Optional[Tuple[int, int]] = (224, 224),
                   mean: Sequence[float] = IMAGENET_MEAN,
                   std: Sequence[float] = IMAGENET_STD) -> Compose:
    """Deterministic pipeline: resize shorter side, centre crop (optional), normalize.

    Args:
        resize: shorter side after resizing, pixels.
        crop_hw: (height, width) of the centre crop, or None for no crop.
        mean: normalization mean.
        std: normalization standard deviation.

    Returns:
        Compose of sample transforms ending with :class:`ToTensor`.
    """
    if crop_hw is None:
        return Compose([ResizeShorter(resize), ToTensor(mean, std)])
    return InputSpec(crop_hw[0], crop_hw[1], resize, mean=mean, std=std).eval_transform()
