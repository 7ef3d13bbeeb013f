# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""PoseNet / MapNet-style absolute pose regressor and MC-dropout uncertainty.

``PoseRegressor``: encoder -> global average pooling -> optional FC localizer
(``fc_dim`` units, ReLU, dropout) -> translation head (3) and rotation head (4, a quaternion
xyzw normalized at test, or 3, a log-quaternion); with ``head_dim > 0`` each head first has
its own FC + ReLU layer of ``head_dim`` units (APANet's G_p: 1024, then 256 per branch).
Translations are in the scene's normalized units (``(t - translation_mean) /
translation_scale``, stored in the bundle).
"""

from typing import Any, Dict, Optional

import numpy as np
import torch
from torch import nn

from pose_reloc.models.backbones import PooledEncoder
from pose_reloc.models.losses import to_quat

ROTATIONS = ('quat', 'logq')


class PoseRegressor(PooledEncoder):
    """Single-scene absolute pose regressor.

    Args:
        backbone: encoder name (see :data:`pose_reloc.models.backbones.NAMES`).
        pretrained: ``None``, ``'imagenet'`` or a state-dict path for the encoder.
        fc_dim: width of the FC localizer (PoseNet 2048); 0 = heads on pooled features.
        dropout: dropout probability before the heads (also the MC-dropout rate).
        rotation: ``'quat'`` (4 outputs) or ``'logq'`` (3 outputs).
        head_dim: width of a separate FC + ReLU layer in each head (APANet: 256);
            0 = linear heads (PoseNet). Recorded in ``architecture`` only when > 0.
    """

    NAME = 'PoseRegressor'

    def __init__(self, backbone: str = 'resnet34', pretrained: Optional[str] = None,
                 fc_dim: int = 2048, dropout: float = 0.5, rotation: str = 'quat',
                 head_dim: int = 0):
        if rotation not in ROTATIONS:
            raise ValueError(f'rotation must be one of {ROTATIONS}, got {rotation!r}')
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'dropout must be in [0, 1), got {dropout}')
        if head_dim < 0:
            raise ValueError(f'head_dim must be >= 0, got {head_dim}')
        super().__init__(backbone, pretrained, fc_dim)
        self.dropout = nn.Dropout(dropout)
        self.head_t = _head(self.feature_dim, head_dim, 3)
        self.head_rot = _head(self.feature_dim, head_dim, 4 if rotation == 'quat' else 3)
        if rotation == 'quat':
            last = self.head_rot[-1] if isinstance(self.head_rot, nn.Sequential) \
                else self.head_rot
            with torch.no_grad():
                last.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 1.0]))
        self.architecture = {'name': self.NAME, 'backbone': backbone, 'fc_dim': int(fc_dim),
                             'dropout': float(dropout), 'rotation': rotation}
        if head_dim > 0:
            self.architecture['head_dim'] = int(head_dim)

    def heads(self, features_bd: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Apply dropout and the heads: ``{'t': (B, 3), 'rot': (B, 4|3)}``."""
        x = self.dropout(features_bd)
        return {'t': self.head_t(x), 'rot': self.head_rot(x)}

    def forward(self, images_b3hw: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Regress normalized translations and rotation outputs for a batch."""
        return self.heads(self.features(images_b3hw))

    @staticmethod
    def from_architecture(arch: Dict[str, Any]) -> 'PoseRegressor':
        """Rebuild from a bundle's ``architecture`` dict (random weights)."""
        kwargs = {k: v for k, v in arch.items() if k != 'name'}
        return PoseRegressor(pretrained=None, **kwargs)


def _head(in_dim: int, head_dim: int, out_dim: int) -> nn.Module:
    """Return ``Linear(in, out)`` or, with ``head_dim > 0``, FC + ReLU then ``Linear``."""
    if head_dim <= 0:
        return nn.Linear(in_dim, out_dim)
    return nn.Sequential(nn.Linear(in_dim, head_dim), nn.ReLU(inplace=True),
                         nn.Linear(head_dim, out_dim))


def enable_mc_dropout(model: nn.Module) -> None:
    """Put ``model`` in eval mode except its dropout layers (Bayesian PoseNet sampling)."""
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.train()


def pose_mean_and_covariance(t_world_s3: np.ndarray,
                             q_xyzw_s4: np.ndarray) -> Dict[str, np.ndarray]:
    """Mean pose and 6x6 covariance of pose samples (e.g. MC-dropout draws).

    Args:
        t_world_s3: (S, 3) float64 translations, metres, world frame.
        q_xyzw_s4: (S, 4) unit quaternions xyzw (camera-to-world rotations).

    Returns:
        ``{'t': (3,), 'q': (4,) xyzw w>=0, 'covariance': (6, 6)}`` with the ROS order
        ``(x, y, z, rot_x, rot_y, rot_z)``; rotation residuals are small-angle vectors about
        the fixed world axes (``R_i R_mean^T``), m^2 and rad^2.
    """
    from scipy.spatial.transform import Rotation

    t = np.asarray(t_world_s3, dtype=np.float64)
    q = np.asarray(q_xyzw_s4, dtype=np.float64)
    # Average quaternion: principal eigenvector of sum q q^T (sign-invariant).
    _, vecs = np.linalg.eigh(q.T @ q)
    q_mean = vecs[:, -1]
    q_mean = q_mean if q_mean[3] >= 0 else -q_mean
    R_mean = Rotation.from_quat(q_mean)
    rotvecs = (Rotation.from_quat(q) * R_mean.inv()).as_rotvec()
    t_mean = t.mean(axis=0)
    residuals = np.concatenate([t - t_mean, rotvecs], axis=1)
    cov = residuals.T @ residuals / max(len(t) - 1, 1)
    return {'t': t_mean, 'q': q_mean, 'covariance': cov}


def predictions_to_world(out: Dict[str, torch.Tensor], translation_mean: torch.Tensor,
                         translation_scale: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Turn head outputs into world translations (m) and unit quaternions xyzw.

    Args:
        out: ``{'t': (B, 3), 'rot': (B, 4|3)}``.
        translation_mean: (B, 3) or (3,) per-scene mean, metres.
        translation_scale: (B, 1) or scalar per-scene scale, metres.

    Returns:
        ``{'t': (B, 3) metres, 'q': (B, 4) xyzw, w >= 0}``.
    """
    return {'t': out['t'] * translation_scale + translation_mean, 'q': to_quat(out['rot'])}
