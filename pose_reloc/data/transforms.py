# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Image transforms for training and evaluation that keep the intrinsics in step.

Every geometric transform updates the camera (``K``) and, when present, the depth map:
resize (shorter side) and crop (random or centre). The only random appearance change is
photometric jitter (brightness, contrast, saturation, hue). There are deliberately no flips
or rotations: they would change the pose that the image shows.

A *sample* is a dict ``{'image': (H, W, 3) uint8 RGB, 'camera': PinholeCamera,
'depth': (H, W) float32 metres (optional)}``; the classes below map a sample to a new
sample, and :class:`ToTensor` ends a pipeline by turning ``'image'`` into a normalized
``(3, H, W) float32`` tensor. The plain functions do the same work on arrays.

Randomness comes from a ``torch.Generator`` given to the random transforms or, by default,
from torch's global generator, which the DataLoader seeds differently in every worker and
epoch (so workers do not repeat each other's crops).
"""

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from pose_reloc.geometry.camera import PinholeCamera

#: ImageNet channel mean and standard deviation (RGB, images scaled to [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_shorter(image: np.ndarray, camera: PinholeCamera, size: int,
                   depth: Optional[np.ndarray] = None) -> Tuple:
    """Resize so that the shorter image side is ``size`` pixels (aspect ratio kept).

    Args:
        image: (H, W, 3) uint8 RGB.
        camera: the image's camera (its size must match the image).
        size: new length of the shorter side, pixels.
        depth: optional (H, W) float32 depth (metres), resized with nearest neighbour so
            that invalid zeros are never blended into valid depth.

    Returns:
        ``(image, camera, depth)`` resized (``depth`` None if not given); the camera is
        ``camera.resized(new_w, new_h)``.
    """
    height, width = image.shape[:2]
    _check_camera(image, camera)
    scale = size / min(height, width)
    new_w, new_h = max(1, int(round(width * scale))), max(1, int(round(height * scale)))
    if (new_w, new_h) == (width, height):
        return image, camera, depth
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = cv2.resize(image, (new_w, new_h), interpolation=interp)
    if depth is not None:
        # INTER_NEAREST_EXACT samples the source pixel under each target pixel centre (the
        # convention of camera.resized); plain INTER_NEAREST shifts by up to a pixel.
        depth = cv2.resize(depth, (new_w, new_h), interpolation=cv2.INTER_NEAREST_EXACT)
    return image, camera.resized(new_w, new_h), depth


def crop(image: np.ndarray, camera: PinholeCamera, x0: int, y0: int, width: int, height: int,
         depth: Optional[np.ndarray] = None) -> Tuple:
    """Crop ``image[y0:y0 + height, x0:x0 + width]`` and shift the principal point.

    Args:
        image: (H, W, 3) image.
        camera: the image's camera.
        x0: left column, pixels.
        y0: top row, pixels.
        width: crop width, pixels.
        height: crop height, pixels.
        depth: optional (H, W) depth cropped alike.

    Returns:
        ``(image, camera, depth)`` cropped (copies).

    Raises:
        ValueError: the crop does not fit in the image.
    """
    _check_camera(image, camera)
    new_camera = camera.cropped(x0, y0, width, height)
    image = np.ascontiguousarray(image[y0:y0 + height, x0:x0 + width])
    if depth is not None:
        depth = np.ascontiguousarray(depth[y0:y0 + height, x0:x0 + width])
    return image, new_camera, depth


def adjust_photometric(image: np.ndarray, brightness: float = 1.0, contrast: float = 1.0,
                       saturation: float = 1.0, hue: float = 0.0) -> np.ndarray:
    """Change brightness, contrast, saturation and hue (in that order), as torchvision does.

    Args:
        image: (H, W, 3) uint8 RGB.
        brightness: multiplies the pixel values (1 = unchanged).
        contrast: blends with the mean grey level (1 = unchanged, 0 = flat grey).
        saturation: blends with the grey image (1 = unchanged, 0 = grey).
        hue: shift of the hue as a fraction of the colour circle, in [-0.5, 0.5].

    Returns:
        (H, W, 3) uint8 RGB.
    """
    out = image.astype(np.float32)
    if brightness != 1.0:
        out = out * brightness
    if contrast != 1.0:
        grey_mean = float(_grey(np.clip(out, 0, 255)).mean())
        out = (out - grey_mean) * contrast + grey_mean
    if saturation != 1.0:
        grey = _grey(np.clip(out, 0, 255))[..., None]
        out = (out - grey) * saturation + grey
    out = np.clip(out, 0, 255)
    if hue != 0.0:
        hsv = cv2.cvtColor((out / 255.0).astype(np.float32), cv2.COLOR_RGB2HSV)  # H in degrees
        hsv[..., 0] = np.mod(hsv[..., 0] + hue * 360.0, 360.0)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _grey(image_f32: np.ndarray) -> np.ndarray:
    return image_f32 @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_tensor(image: np.ndarray, mean: Sequence[float] = IMAGENET_MEAN,
              std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """Convert an RGB uint8 image to a normalized tensor.

    Args:
        image: (H, W, 3) uint8 RGB.
        mean: per-channel mean of images scaled to [0, 1].
        std: per-channel standard deviation.

    Returns:
        (3, H, W) float32 tensor ``(image / 255 - mean) / std``.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'to_tensor: expected (H, W, 3) uint8 RGB, got shape {image.shape} '
                         f'dtype {image.dtype}')
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float() / 255.0
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (tensor - mean_t) / std_t


def _check_camera(image: np.ndarray, camera: PinholeCamera):
    if (image.shape[1], image.shape[0]) != (camera.width, camera.height):
        raise ValueError(f'image is {image.shape[1]}x{image.shape[0]} (WxH) but its camera is '
                         f'{camera.width}x{camera.height}')


def _uniform(low: float, high: float, generator: Optional[torch.Generator]) -> float:
    return float(low + (high - low) * torch.rand((), generator=generator).item())


def _randint(high_inclusive: int, generator: Optional[torch.Generator]) -> int:
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
        image, camera, depth = resize_shorter(sample['image'], sample['camera'], self.size,
                                              sample.get('depth'))
        return _update(sample, image, camera, depth)

    def __repr__(self) -> str:
        """Show the size."""
        return f'ResizeShorter({self.size})'


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
        return _crop_sample(sample, x0, y0, self.width, self.height)

    def __repr__(self) -> str:
        """Show the crop size."""
        return f'{type(self).__name__}({self.height}, {self.width})'


class CenterCrop(_Crop):
    """Crop the central ``height`` x ``width`` window (camera and depth follow).

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

    Factors are drawn uniformly: brightness, contrast and saturation in
    ``[max(0, 1 - x), 1 + x]``, hue shift in ``[-hue, hue]`` (fraction of the circle).

    Args:
        brightness: brightness jitter amount (0 = off).
        contrast: contrast jitter amount.
        saturation: saturation jitter amount.
        hue: hue jitter amount, in [0, 0.5].
        generator: optional torch.Generator (default: torch's global generator).
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
    """

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD):
        """Store the normalization."""
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)

    def __call__(self, sample: dict) -> dict:
        """Return the sample with ``'image'`` as a tensor."""
        out = dict(sample)
        out['image'] = to_tensor(sample['image'], self.mean, self.std)
        return out

    def __repr__(self) -> str:
        """Show the normalization."""
        return f'ToTensor(mean={self.mean}, std={self.std})'


def _crop_sample(sample: dict, x0: int, y0: int, width: int, height: int) -> dict:
    image, camera, depth = crop(sample['image'], sample['camera'], x0, y0, width, height,
                                sample.get('depth'))
    return _update(sample, image, camera, depth)


def _update(sample: dict, image, camera, depth) -> dict:
    out = dict(sample)
    out['image'], out['camera'] = image, camera
    if depth is not None:
        out['depth'] = depth
    return out


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
    steps = [ResizeShorter(resize), RandomCrop(crop_hw[0], crop_hw[1], generator)]
    if any(jitter):
        steps.append(ColorJitter(*jitter, generator=generator))
    steps.append(ToTensor(mean, std))
    return Compose(steps)


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
    steps = [ResizeShorter(resize)]
    if crop_hw is not None:
        steps.append(CenterCrop(crop_hw[0], crop_hw[1]))
    steps.append(ToTensor(mean, std))
    return Compose(steps)
