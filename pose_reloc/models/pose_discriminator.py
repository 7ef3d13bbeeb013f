# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Pose discriminator of adversarial pose regression and refinement.

Chen et al., "Adversarial Networks for Camera Pose Regression and Refinement" (ICCV
Workshops 2019), Sec. 3: a discriminator sees an image's features together with a pose and
tells ground-truth poses (label 1) from regressed ones (label 0). Here, as in the paper:

- image features ``f(x)``: an ImageNet network, frozen, globally average-pooled, followed by a
  frozen linear map without bias (a fixed random projection, seeded) that brings them to
  ``length`` values, comparable in size with the pose (:class:`FrozenImageFeatures`);
- the pose vector ``p`` (normalized translation, 3, then a quaternion xyzw, 4, or a
  log-quaternion, 3) repeated to ``length`` values and stacked with the features as a second
  channel: a ``(B, 2, length)`` signal (``(B, 1, length)`` for the pose-only ablation);
- three 1-D convolutions with ELU, then one linear logit (:class:`PoseDiscriminator`).

Translations are in the scene's normalized units (``(t - translation_mean) /
translation_scale``, the regressor's output space); quaternions are xyzw with ``w >= 0``.
"""

import math
from typing import Any, Dict, Optional

import torch
from torch import nn

from pose_reloc.models.backbones import build_backbone, input_stats
from pose_reloc.models.losses import to_log_quat, to_quat

ROTATIONS = ('quat', 'logq')


def to_unit_rgb(x_b3hw: torch.Tensor, mean, std, color: str = 'rgb',
                value_range=(0.0, 1.0)) -> torch.Tensor:
    """Undo an input normalization: RGB in ``[0, 1]`` from a network input tensor.

    Args:
        x_b3hw: ``(B, 3, H, W)`` normalized input, ``(v - mean) / std`` in ``color`` order,
            ``v`` in ``value_range`` units (the bundle's ``input`` section).
        mean: (3,) per-channel mean.
        std: (3,) per-channel standard deviation.
        color: ``'rgb'`` or ``'bgr'``.
        value_range: ``(low, high)`` of black and white.

    Returns:
        ``(B, 3, H, W)`` RGB in ``[0, 1]``, same dtype and device.
    """
    m = torch.as_tensor(mean, dtype=x_b3hw.dtype, device=x_b3hw.device).view(1, 3, 1, 1)
    s = torch.as_tensor(std, dtype=x_b3hw.dtype, device=x_b3hw.device).view(1, 3, 1, 1)
    low, high = float(value_range[0]), float(value_range[1])
    x = ((x_b3hw * s + m) - low) / (high - low)
    return x.flip(1) if color == 'bgr' else x


def pose_vector(t_b3: torch.Tensor, rot: torch.Tensor, rotation: str) -> torch.Tensor:
    """Return the discriminator's pose vector ``(B, 7)`` (quat) or ``(B, 6)`` (logq).

    Args:
        t_b3: normalized translations.
        rot: rotation head outputs, ``(B, 4)`` quaternions xyzw (any norm, any sign) or
            ``(B, 3)`` log-quaternions.
        rotation: ``'quat'`` (unit xyzw, ``w >= 0``) or ``'logq'`` (``log q``, 3 values).

    Raises:
        ValueError: for another ``rotation``.
    """
    if rotation == 'quat':
        return torch.cat([t_b3, to_quat(rot)], dim=-1)
    if rotation == 'logq':
        return torch.cat([t_b3, to_log_quat(to_quat(rot))], dim=-1)
    raise ValueError(f'rotation must be one of {ROTATIONS}, got {rotation!r}')


class FrozenImageFeatures(nn.Module):
    """ImageNet encoder + pooling + a bias-free linear map, all frozen.

    Args:
        backbone: encoder name (``models.backbones.NAMES``; the paper's best: ResNet-18; on
            this CPU the offline EfficientNet-Lite0).
        pretrained: ``'imagenet'`` for training (``None`` when the weights come from a
            bundle).
        length: output size ``L`` of the linear map.
        seed: seed of the linear map's Gaussian weights (std ``1 / sqrt(D)``, so the outputs
            keep the pooled features' scale).

    ``forward(images01_b3hw)`` takes RGB in ``[0, 1]`` and applies the encoder's own ImageNet
    normalization, so that the caller's input pipeline (another backbone's mean/std) does not
    matter. Returns ``(B, L)`` float32.
    """

    def __init__(self, backbone: str, pretrained: Optional[str], length: int, seed: int = 0):
        super().__init__()
        self.encoder, dim = build_backbone(backbone, pretrained)
        self.project = nn.Linear(dim, length, bias=False)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            self.project.weight.copy_(torch.randn(length, dim, generator=generator)
                                      / math.sqrt(dim))
        mean, std = input_stats(backbone)
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> nn.Module:
        """Stay in eval mode (frozen batch norms) whatever the caller asks."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, images01_b3hw: torch.Tensor) -> torch.Tensor:
        """Return the ``(B, L)`` features of ``(B, 3, H, W)`` images in ``[0, 1]``."""
        x = (images01_b3hw - self.mean) / self.std
        return self.project(self.encoder(x).mean(dim=(2, 3)))


class PoseDiscriminator(nn.Module):
    """D(f, p): logit that pose ``p`` is the true pose of the image with features ``f``.

    Args:
        rotation: pose vector's rotation, ``'quat'`` or ``'logq'`` (see :func:`pose_vector`).
        length: signal length ``L`` (the image features' size).
        channels: width of the three convolutions.
        backbone: ImageNet encoder of the image features; ``''`` = pose only (the ablation:
            D sees the pose and nothing of the image).
        pretrained: ``'imagenet'`` when training; None when a bundle supplies the weights.
        seed: seed of the frozen linear map.

    Attributes:
        features: the :class:`FrozenImageFeatures`, or None (pose only).
        architecture: the bundle dict that rebuilds the module (:meth:`from_architecture`).
    """

    NAME = 'PoseDiscriminator'

    def __init__(self, rotation: str = 'quat', length: int = 64, channels: int = 32,
                 backbone: str = 'efficientnet_lite0', pretrained: Optional[str] = None,
                 seed: int = 0):
        super().__init__()
        if rotation not in ROTATIONS:
            raise ValueError(f'rotation must be one of {ROTATIONS}, got {rotation!r}')
        if length < 8 or channels < 1:
            raise ValueError(f'length must be >= 8 and channels >= 1, got {length}, {channels}')
        self.rotation = rotation
        self.length = int(length)
        self.pose_dim = 7 if rotation == 'quat' else 6
        self.features = (FrozenImageFeatures(backbone, pretrained, length, seed)
                         if backbone else None)
        c_in = 2 if self.features is not None else 1
        self.convs = nn.Sequential(
            nn.Conv1d(c_in, channels, 3, padding=1), nn.ELU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ELU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ELU())
        self.logit = nn.Linear(channels * math.ceil(math.ceil(length / 2) / 2), 1)
        self.architecture: Dict[str, Any] = {
            'name': self.NAME, 'rotation': rotation, 'length': self.length,
            'channels': int(channels), 'backbone': backbone, 'seed': int(seed)}

    @property
    def uses_image(self) -> bool:
        """True unless the discriminator is the pose-only ablation."""
        return self.features is not None

    def image_features(self, images01_b3hw: torch.Tensor) -> Optional[torch.Tensor]:
        """Return the frozen ``(B, L)`` features (None for the pose-only discriminator)."""
        return None if self.features is None else self.features(images01_b3hw)

    def forward(self, features_bl: Optional[torch.Tensor],
                pose_bp: torch.Tensor) -> torch.Tensor:
        """Return ``(B,)`` logits.

        Args:
            features_bl: ``(B, L)`` from :meth:`image_features` (None when pose only).
            pose_bp: ``(B, 7)`` or ``(B, 6)`` pose vectors (:func:`pose_vector`).

        Raises:
            ValueError: for a pose or feature shape that does not fit.
        """
        if pose_bp.dim() != 2 or pose_bp.shape[1] != self.pose_dim:
            raise ValueError(f'pose must be (B, {self.pose_dim}) for rotation '
                             f'{self.rotation!r}, got {tuple(pose_bp.shape)}')
        reps = math.ceil(self.length / self.pose_dim)
        signal = pose_bp.repeat(1, reps)[:, :self.length].unsqueeze(1)
        if self.features is not None:
            wanted = (pose_bp.shape[0], self.length)
            if features_bl is None or tuple(features_bl.shape) != wanted:
                shape = None if features_bl is None else tuple(features_bl.shape)
                raise ValueError(f'features must be ({pose_bp.shape[0]}, {self.length}), '
                                 f'got {shape}')
            signal = torch.cat([features_bl.to(signal.dtype).unsqueeze(1), signal], dim=1)
        return self.logit(self.convs(signal).flatten(1)).squeeze(1)

    def trainable_parameters(self):
        """Return the parameters D learns (the convolutions and the logit)."""
        return [p for p in self.parameters() if p.requires_grad]

    @staticmethod
    def from_architecture(arch: Dict[str, Any]) -> 'PoseDiscriminator':
        """Rebuild from a bundle component's ``architecture`` dict (weights not loaded)."""
        kwargs = {k: v for k, v in arch.items() if k != 'name'}
        return PoseDiscriminator(pretrained=None, **kwargs)
