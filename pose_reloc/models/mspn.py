# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Multi-Scene PoseNet (Blanton et al. 2020): shared encoder, scene classifier, weight database.

The encoder (plus an optional shared FC+ReLU of ``fc_dim`` units) maps an image to an
``F``-dim feature. An ``N``-way linear classifier predicts the scene; a weight database
holds one ``F x P`` linear head (+ bias) per scene (``P = 3 + 4`` for quaternions, ``3 + 3``
for log-quaternions). Training uses the true scene's head; inference the predicted
scene's, or an oracle scene id when given. Each scene added costs ``(F + 1) * (P + 1)``
parameters (head + classifier row), e.g. 16.4 k with ``F = 2048``.
"""

from typing import Any, Dict, Optional

import torch
from torch import nn

from pose_reloc.models.apr import ROTATIONS
from pose_reloc.models.backbones import PooledEncoder


class MultiScenePoseNet(PooledEncoder):
    """Shared encoder + scene classifier + per-scene linear pose heads.

    Args:
        num_scenes: number of scenes ``N``.
        backbone: encoder name.
        pretrained: ``None``, ``'imagenet'`` or a state-dict path for the encoder.
        fc_dim: shared FC+ReLU width before the heads (0 = heads on pooled features, as
            in the MSPN paper, which drops the intermediate FC).
        dropout: dropout before the heads and the classifier.
        rotation: ``'quat'`` or ``'logq'``.
    """

    NAME = 'MultiScenePoseNet'

    def __init__(self, num_scenes: int, backbone: str = 'resnet34',
                 pretrained: Optional[str] = None, fc_dim: int = 0, dropout: float = 0.5,
                 rotation: str = 'quat'):
        if num_scenes < 1:
            raise ValueError(f'num_scenes must be >= 1, got {num_scenes}')
        if rotation not in ROTATIONS:
            raise ValueError(f'rotation must be one of {ROTATIONS}, got {rotation!r}')
        super().__init__(backbone, pretrained, fc_dim)
        self.pose_dim = 7 if rotation == 'quat' else 6
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.feature_dim, num_scenes)
        bound = 1.0 / self.feature_dim ** 0.5
        self.head_weight = nn.Parameter(
            torch.empty(num_scenes, self.pose_dim, self.feature_dim).uniform_(-bound, bound))
        bias = torch.zeros(num_scenes, self.pose_dim)
        if rotation == 'quat':
            bias[:, 6] = 1.0
        self.head_bias = nn.Parameter(bias)
        self.architecture = {'name': self.NAME, 'num_scenes': int(num_scenes),
                             'backbone': backbone, 'fc_dim': int(fc_dim),
                             'dropout': float(dropout), 'rotation': rotation}

    @property
    def num_scenes(self) -> int:
        """Number of scenes in the weight database."""
        return int(self.head_weight.shape[0])

    def heads(self, features_bf: torch.Tensor,
              scene_ids: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Classify the scene and apply the chosen per-scene head.

        Args:
            features_bf: (B, F) shared features.
            scene_ids: (B,) long oracle / training scene ids, or None to use the
                classifier's argmax.

        Returns:
            ``{'t': (B, 3), 'rot': (B, 4|3), 'logits': (B, N), 'scene_ids': (B,)}``.
        """
        x = self.dropout(features_bf)
        logits = self.classifier(x)
        if scene_ids is None:
            scene_ids = logits.argmax(dim=1)
        scene_ids = scene_ids.to(device=x.device, dtype=torch.long)
        if scene_ids.shape != (x.shape[0],):
            raise ValueError(f'scene_ids must have shape ({x.shape[0]},), got '
                             f'{tuple(scene_ids.shape)}')
        if int(scene_ids.min()) < 0 or int(scene_ids.max()) >= self.num_scenes:
            raise ValueError(f'scene ids {scene_ids.tolist()} out of range for '
                             f'{self.num_scenes} scenes')
        weight = self.head_weight[scene_ids]
        pose = torch.bmm(weight, x.unsqueeze(2)).squeeze(2) + self.head_bias[scene_ids]
        return {'t': pose[:, :3], 'rot': pose[:, 3:], 'logits': logits,
                'scene_ids': scene_ids}

    def forward(self, images_b3hw: torch.Tensor,
                scene_ids: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Run encoder, classifier and the selected heads (see :meth:`heads`)."""
        return self.heads(self.features(images_b3hw), scene_ids)

    def parameters_per_scene(self) -> int:
        """Parameters one more scene adds: its ``P x F`` head, bias and classifier row."""
        return self.pose_dim * self.feature_dim + self.pose_dim + self.feature_dim + 1

    def shared_parameters(self) -> int:
        """Parameters shared by all scenes (encoder and shared FC)."""
        return sum(p.numel() for m in (self.encoder, self.fc) for p in m.parameters())

    def add_scenes(self, count: int, init_from_mean: bool = True) -> None:
        """Append ``count`` scenes to the weight database and the classifier.

        New heads start from the mean of the existing heads (or random); the
        architecture's ``num_scenes`` is updated.
        """
        if count < 1:
            raise ValueError(f'count must be >= 1, got {count}')
        with torch.no_grad():
            if init_from_mean:
                new_w = self.head_weight.mean(dim=0, keepdim=True).repeat(count, 1, 1)
                new_b = self.head_bias.mean(dim=0, keepdim=True).repeat(count, 1)
            else:
                bound = 1.0 / self.feature_dim ** 0.5
                new_w = torch.empty(count, self.pose_dim, self.feature_dim).uniform_(
                    -bound, bound).to(self.head_weight)
                new_b = torch.zeros(count, self.pose_dim).to(self.head_bias)
                if self.pose_dim == 7:
                    new_b[:, 6] = 1.0
            self.head_weight = nn.Parameter(torch.cat([self.head_weight, new_w]))
            self.head_bias = nn.Parameter(torch.cat([self.head_bias, new_b]))
            old = self.classifier
            cls = nn.Linear(self.feature_dim, old.out_features + count).to(old.weight)
            cls.weight[:old.out_features] = old.weight
            cls.bias[:old.out_features] = old.bias
            self.classifier = cls
        self.architecture['num_scenes'] = self.num_scenes

    @staticmethod
    def from_architecture(arch: Dict[str, Any]) -> 'MultiScenePoseNet':
        """Rebuild from a bundle's ``architecture`` dict (random weights)."""
        kwargs = {k: v for k, v in arch.items() if k != 'name'}
        return MultiScenePoseNet(pretrained=None, **kwargs)
