# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Photo domain: turn a rendered linear radiance image into a camera photo.

The chain follows a real camera: lagged auto-exposure times a smooth exposure drift,
white-balance drift (per-channel gains), vignetting, motion blur along the image motion
while the shutter is open (``exposure_s`` before the frame's pose; the blur kernel is
centred on the rendered image, so the ground-truth pose and depth stay centred in the
blur), shot and read noise, display gamma, 8-bit quantization and JPEG compression at a
per-frame quality. Sequence-level drifts come from
:func:`sequence_appearance`; per-frame noise uses its own generator, so every frame is
reproducible on its own.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from pose_reloc.data.synthetic.paths import smooth_noise
from pose_reloc.data.synthetic.presets import PhotoConfig
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.se3 import relative

#: target mean linear luminance of the auto-exposure.
AE_TARGET = 0.3
#: auto-exposure smoothing factor per frame (1 = instant).
AE_RATE = 0.35


@dataclass
class SequenceAppearance:
    """Camera settings over one sequence.

    Attributes:
        drift_stops_n: (N,) exposure drift around the auto-exposure, stops.
        white_balance_n3: (N, 3) per-channel gains (green = 1).
        jpeg_quality_n: (N,) int JPEG qualities (0 = no JPEG).
    """

    drift_stops_n: np.ndarray
    white_balance_n3: np.ndarray
    jpeg_quality_n: np.ndarray


def sequence_appearance(cfg: PhotoConfig, times_s: np.ndarray,
                        rng: np.random.Generator) -> SequenceAppearance:
    """Draw the smooth exposure / white-balance drift and JPEG qualities of a sequence.

    Args:
        cfg: photo settings.
        times_s: (N,) frame times, seconds.
        rng: the sequence's photo generator.
    """
    times = np.asarray(times_s, np.float64)
    n_frames = len(times)
    drift = smooth_noise(rng, times, (4.0, 20.0), cfg.exposure_stops)
    wb = np.ones((n_frames, 3))
    wb[:, 0] += smooth_noise(rng, times, (6.0, 25.0), cfg.white_balance)
    wb[:, 2] += smooth_noise(rng, times, (6.0, 25.0), cfg.white_balance)
    lo, hi = cfg.jpeg_quality
    if hi > 0:
        quality = rng.integers(max(1, lo), hi + 1, n_frames)
    else:
        quality = np.zeros(n_frames, np.int64)
    return SequenceAppearance(drift, wb, quality)


class AutoExposure:
    """Lagged auto-exposure: the gain moves part of the way to the target each frame."""

    def __init__(self):
        """Start without a gain (the first frame sets it)."""
        self.gain = None

    def update(self, radiance_hw3: np.ndarray) -> float:
        """Update with a frame's radiance and return the gain to apply to it."""
        lum = float(np.mean(radiance_hw3 @ np.array([0.2126, 0.7152, 0.0722], np.float32)))
        target = AE_TARGET / max(lum, 1e-3)
        self.gain = target if self.gain is None else self.gain * (target / self.gain) ** AE_RATE
        return self.gain


def blur_vector(depth_hw: np.ndarray, camera: PinholeCamera, T_world_cam: np.ndarray,
                T_world_cam_open: np.ndarray) -> np.ndarray:
    """Mean image motion during the exposure, pixels.

    Points of a sparse pixel grid with valid depth are projected into the pose at which
    the shutter opened; the mean displacement is the blur.

    Args:
        depth_hw: (H, W) z-depth, metres (0 invalid).
        camera: the camera.
        T_world_cam: (4, 4) pose of the frame (shutter close).
        T_world_cam_open: (4, 4) pose when the shutter opened.

    Returns:
        (2,) float64 image displacement (du, dv) in pixels.
    """
    h, w = depth_hw.shape
    vs, us = np.mgrid[h // 10:h:max(1, h // 5), w // 10:w:max(1, w // 5)]
    d = depth_hw[vs, us].ravel()
    keep = d > 0
    if not keep.any():
        return np.zeros(2)
    uv = np.stack([us.ravel(), vs.ravel()], 1)[keep].astype(np.float64)
    pts_cam = camera.backproject(uv, d[keep])
    T_open_cam = relative(T_world_cam_open, T_world_cam)
    pts_open = pts_cam @ T_open_cam[:3, :3].T + T_open_cam[:3, 3]
    uv_open, valid = camera.project(pts_open)
    if not valid.any():
        return np.zeros(2)
    return np.nanmean(uv_open[valid] - uv[valid], axis=0)


def motion_blur(image_hw3: np.ndarray, vector_px: np.ndarray) -> np.ndarray:
    """Blur a float image along a displacement (a line kernel), unchanged below 0.5 px."""
    length = float(np.hypot(*vector_px))
    if length < 0.5:
        return image_hw3
    k = int(np.ceil(length)) * 2 + 1
    kernel = np.zeros((k, k), np.float32)
    c = k // 2
    steps = max(2, int(np.ceil(length * 2)))
    for s in np.linspace(-0.5, 0.5, steps):
        x, y = c + s * vector_px[0], c + s * vector_px[1]
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                            (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            if 0 <= x0 + dx < k and 0 <= y0 + dy < k:
                kernel[y0 + dy, x0 + dx] += wgt
    kernel /= kernel.sum()
    return cv2.filter2D(image_hw3, -1, kernel, borderType=cv2.BORDER_REFLECT)


def vignette(camera: PinholeCamera, amount: float) -> np.ndarray:
    """(H, W, 1) float32 brightness factor: 1 at the principal point, 1 - amount at corners."""
    v, u = np.mgrid[0:camera.height, 0:camera.width].astype(np.float32)
    r2 = ((u - camera.cx) / camera.fx) ** 2 + ((v - camera.cy) / camera.fy) ** 2
    corner = max(((0 - camera.cx) / camera.fx) ** 2 + ((0 - camera.cy) / camera.fy) ** 2,
                 ((camera.width - camera.cx) / camera.fx) ** 2
                 + ((camera.height - camera.cy) / camera.fy) ** 2)
    return (1.0 - amount * r2 / corner)[..., None].astype(np.float32)


def develop(radiance_hw3: np.ndarray, cfg: PhotoConfig, gain: float, white_balance_3,
            jpeg_quality: int, blur_px, vignette_hw1, rng: np.random.Generator) -> np.ndarray:
    """Apply exposure, white balance, vignetting, blur, noise, gamma and JPEG.

    Args:
        radiance_hw3: (H, W, 3) float32 linear radiance.
        cfg: photo settings.
        gain: exposure gain (auto-exposure times drift).
        white_balance_3: (3,) per-channel gains.
        jpeg_quality: JPEG quality 1..100, 0 for none.
        blur_px: (2,) motion-blur displacement, pixels.
        vignette_hw1: (H, W, 1) vignetting factor, or None.
        rng: generator of this frame's sensor noise.

    Returns:
        (H, W, 3) uint8 RGB photo.
    """
    img = radiance_hw3 * (np.float32(gain) * np.asarray(white_balance_3, np.float32))
    if vignette_hw1 is not None:
        img = img * vignette_hw1
    img = motion_blur(img, np.asarray(blur_px, np.float64))
    if cfg.shot_noise > 0 or cfg.read_noise > 0:
        noise = rng.standard_normal(img.shape, dtype=np.float32)
        sigma = np.sqrt(cfg.shot_noise ** 2 * np.maximum(img, 0.0) + cfg.read_noise ** 2)
        img = img + sigma.astype(np.float32) * noise
    img = np.clip(img, 0.0, 1.0) ** np.float32(1.0 / cfg.gamma)
    out = (img * 255.0 + 0.5).astype(np.uint8)
    if jpeg_quality > 0:
        ok, buf = cv2.imencode('.jpg', cv2.cvtColor(out, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        if not ok:
            raise RuntimeError('JPEG encoding failed')
        out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out


def to_srgb8(radiance_hw3: np.ndarray, gamma: float = 2.2) -> np.ndarray:
    """Clean conversion of linear radiance to uint8 with display gamma (no effects)."""
    img = np.clip(radiance_hw3, 0.0, 1.0) ** np.float32(1.0 / gamma)
    return (img * 255.0 + 0.5).astype(np.uint8)
