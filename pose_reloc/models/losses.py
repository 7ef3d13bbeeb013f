# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Pose regression losses: PoseNet's beta loss, learnable weights, MapNet's relative term.

Translations are ``(B, 3)`` (normalized scene units during training); rotations are
``(B, 4)`` quaternions **xyzw** (targets unit with ``w >= 0``) or ``(B, 3)``
log-quaternions (MapNet: ``log q = (v / |v|) arccos(w)``), as the regressor outputs.
"""

from typing import Dict, Optional

import torch
from torch import nn

from pose_reloc.geometry.torch_ops import normalize_quat, quat_exp, quat_log, quat_multiply


def rotation_distance(rot_pred: torch.Tensor, rot_true: torch.Tensor, p: int = 2) -> torch.Tensor:
    """Per-sample distance of rotation outputs: ``||q_true - q_pred / |q_pred| ||_p``.

    Args:
        rot_pred: (B, 4) quaternions xyzw (any norm) or (B, 3) log-quaternions.
        rot_true: same shape; unit quaternions with ``w >= 0`` or log-quaternions.
        p: 1 or 2.

    Returns:
        (B,) distances.

    Raises:
        ValueError: on mismatched shapes.
    """
    if rot_pred.shape != rot_true.shape or rot_pred.shape[-1] not in (3, 4):
        raise ValueError(f'rotation shapes must match and be (B, 4) or (B, 3); got '
                         f'{tuple(rot_pred.shape)} and {tuple(rot_true.shape)}')
    if rot_pred.shape[-1] == 4:
        rot_pred = normalize_quat(rot_pred)
    return torch.linalg.vector_norm(rot_true - rot_pred, ord=p, dim=-1)


class PoseNetLoss(nn.Module):
    """PoseNet (Kendall et al. 2015): ``||t - t_hat||_2 + beta ||q - q_hat/|q_hat| ||_2``.

    Args:
        beta: rotation weight (PoseNet: 120-750 indoors, 250-2000 outdoors for metric
            translations; ~1-10 once translations are normalized per scene).
    """

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = float(beta)

    def forward(self, t_pred: torch.Tensor, rot_pred: torch.Tensor, t_true: torch.Tensor,
                rot_true: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Return ``{'loss', 'loss_t', 'loss_q'}`` (batch means)."""
        loss_t = torch.linalg.vector_norm(t_true - t_pred, dim=-1).mean()
        loss_q = rotation_distance(rot_pred, rot_true, p=2).mean()
        return {'loss': loss_t + self.beta * loss_q, 'loss_t': loss_t, 'loss_q': loss_q}


class LearnedWeightLoss(nn.Module):
    """Homoscedastic-uncertainty loss (Kendall 2017, MapNet, APANet).

    ``||t - t_hat||_1 exp(-s_t) + s_t + ||q - q_hat||_1 exp(-s_q) + s_q`` with learnable
    ``s_t``, ``s_q`` (MapNet init ``0, -3``; APANet ``0, -1``); L1 norms summed over
    components, averaged over the batch. With ``num_scenes > 1`` each scene has its own
    pair (Multi-Scene PoseNet) selected by ``scene_ids``.

    Args:
        s_t: initial translation log-weight.
        s_q: initial rotation log-weight.
        num_scenes: number of (s_t, s_q) pairs.
        learnable: if False the weights stay fixed.
    """

    def __init__(self, s_t: float = 0.0, s_q: float = -3.0, num_scenes: int = 1,
                 learnable: bool = True):
        super().__init__()
        self.s_t = nn.Parameter(torch.full((num_scenes,), float(s_t)), requires_grad=learnable)
        self.s_q = nn.Parameter(torch.full((num_scenes,), float(s_q)), requires_grad=learnable)

    def forward(self, t_pred: torch.Tensor, rot_pred: torch.Tensor, t_true: torch.Tensor,
                rot_true: torch.Tensor,
                scene_ids: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Return ``{'loss', 'loss_t', 'loss_q', 's_t', 's_q'}`` (batch means)."""
        if scene_ids is None:
            scene_ids = torch.zeros(t_pred.shape[0], dtype=torch.long, device=t_pred.device)
        s_t = self.s_t[scene_ids]
        s_q = self.s_q[scene_ids]
        d_t = torch.linalg.vector_norm(t_true - t_pred, ord=1, dim=-1)
        d_q = rotation_distance(rot_pred, rot_true, p=1)
        loss = (d_t * torch.exp(-s_t) + s_t + d_q * torch.exp(-s_q) + s_q).mean()
        return {'loss': loss, 'loss_t': d_t.mean(), 'loss_q': d_q.mean(),
                's_t': s_t.mean().detach(), 's_q': s_q.mean().detach()}


def to_log_quat(rot: torch.Tensor) -> torch.Tensor:
    """Return log-quaternions (B, 3) of (B, 4) quaternions xyzw or pass (B, 3) through."""
    return quat_log(rot) if rot.shape[-1] == 4 else rot


def to_quat(rot: torch.Tensor) -> torch.Tensor:
    """Return unit quaternions xyzw (B, 4) with ``w >= 0`` from a rotation head output."""
    q = normalize_quat(rot) if rot.shape[-1] == 4 else quat_exp(rot)
    return torch.where(q[..., 3:4] < 0, -q, q)


def relative_pose(t_a: torch.Tensor, rot_a: torch.Tensor, t_b: torch.Tensor,
                  rot_b: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Compute MapNet's relative pose of pairs ``(a, b)``: ``t_b - t_a`` and ``log(q_a^-1 q_b)``.

    Args:
        t_a: (B, 3) translations of the first frames.
        rot_a: (B, 4) quaternions xyzw or (B, 3) log-quaternions of the first frames.
        t_b: (B, 3) translations of the second frames.
        rot_b: rotations of the second frames (same kind as ``rot_a``).

    Returns:
        ``{'t': (B, 3), 'logq': (B, 3)}``.
    """
    q_a = to_quat(rot_a)
    q_b = to_quat(rot_b)
    q_a_inv = torch.cat([-q_a[..., :3], q_a[..., 3:]], dim=-1)
    return {'t': t_b - t_a, 'logq': quat_log(quat_multiply(q_a_inv, q_b))}


class MapNetLoss(nn.Module):
    """MapNet (Brahmbhatt et al. 2018): absolute + ``relative_weight`` x relative term.

    Both terms use the learnable-weight form; the relative term compares ``t_b - t_a`` and
    ``log(q_a^-1 q_b)`` of predicted and true pairs, with its own weights (init like the
    absolute ones).

    Args:
        s_t: initial translation log-weight.
        s_q: initial rotation log-weight.
        relative_weight: multiplier of the relative term (0 disables it).
    """

    def __init__(self, s_t: float = 0.0, s_q: float = -3.0, relative_weight: float = 1.0):
        super().__init__()
        self.absolute = LearnedWeightLoss(s_t, s_q)
        self.relative = LearnedWeightLoss(s_t, s_q)
        self.relative_weight = float(relative_weight)

    def forward(self, pred_a: Dict[str, torch.Tensor], true_a: Dict[str, torch.Tensor],
                pred_b: Optional[Dict[str, torch.Tensor]] = None,
                true_b: Optional[Dict[str, torch.Tensor]] = None) -> Dict[str, torch.Tensor]:
        """Return the combined loss; dicts hold ``'t'`` (B, 3) and ``'rot'`` tensors."""
        out = self.absolute(pred_a['t'], pred_a['rot'], true_a['t'], true_a['rot'])
        if pred_b is None or true_b is None or self.relative_weight == 0:
            return out
        absolute_b = self.absolute(pred_b['t'], pred_b['rot'], true_b['t'], true_b['rot'])
        rel_pred = relative_pose(pred_a['t'], pred_a['rot'], pred_b['t'], pred_b['rot'])
        rel_true = relative_pose(true_a['t'], true_a['rot'], true_b['t'], true_b['rot'])
        rel = self.relative(rel_pred['t'], rel_pred['logq'], rel_true['t'], rel_true['logq'])
        loss = 0.5 * (out['loss'] + absolute_b['loss']) + self.relative_weight * rel['loss']
        return {'loss': loss, 'loss_t': out['loss_t'], 'loss_q': out['loss_q'],
                'loss_rel_t': rel['loss_t'], 'loss_rel_q': rel['loss_q'],
                's_t': out['s_t'], 's_q': out['s_q']}
