# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""APANet: adversarial pose adaptation networks (Chidlovskii & Sadek, ECCV-W 2020).

The pieces the APANet trainer (:mod:`pose_reloc.training.apanet`) assembles:

- **E + G_p**, the encoder and the pose regressor, are one
  :class:`~pose_reloc.models.apr.PoseRegressor` (``fc_dim=1024, head_dim=256``: an FC
  localizer of 1024 units, then separate position and orientation layers of 256 each), so
  that the trained model is an ordinary APR bundle. The encoder's pooled features
  ``(B, C)`` (:func:`encode`) are what the discriminator sees.
- **G_d**, :class:`SceneDiscriminator`: FC 1024-256-64, ReLU and dropout 0.5, then a linear
  layer to one logit per scene label (source / target, or one label per scene in n-to-1),
  trained with cross-entropy; the encoder plays against it (:func:`adversarial_loss`).
- **APANetS**' self-supervision: the input crop rotated by ``k * 90`` degrees about the
  optical axis (:func:`rotate_images`), a 4-way :class:`RotationHead` that predicts ``k``,
  and the orientation target turned accordingly (:func:`rotate_orientation`).
- **RPE** (relative pose estimation, AnchorNet style, Saha et al. BMVC 2018):
  :class:`AnchorPoseRegressor` classifies the nearest anchor (a subset of the labeled
  training frames, :func:`select_anchors`) and regresses the pose relative to it; the
  composed absolute pose comes out of :meth:`AnchorPoseRegressor.heads`, so the APR
  localizer uses it unchanged.

Rotation geometry (pinned by ``test/test_apanet.py``). ``torch.rot90(image, k, dims=(-2,
-1))`` (like ``np.rot90``) turns the picture counter-clockwise on screen for ``k > 0``:
the pixel ``(u, v)`` of a square ``S x S`` image goes to ``(v, S - 1 - u)``, i.e. about the
centre ``(du, dv) -> (dv, -du)``. A camera point ``(X, Y, Z)`` (OpenCV optical frame: x right,
y down, z forward) that was seen at ``f (X, Y) / Z`` is therefore seen by the rotated
camera at ``f (Y, -X) / Z``: ``p_cam' = Rz(-90 deg) p_cam``, so
``R_world_cam' = R_world_cam Rz(+k 90 deg)`` and ``q' = q * q_z(k 90 deg)`` (xyzw, Hamilton
product); the camera centre (position) does not move. This is exact when the principal
point is the centre of the (square) crop and ``fx = fy``; otherwise it is the usual
approximation of rotation augmentation.
"""

import math
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn
import torch.nn.functional as F

from pose_reloc.core.bundle import register_schema
from pose_reloc.geometry.torch_ops import normalize_quat, quat_multiply
from pose_reloc.models.apr import PoseRegressor
from pose_reloc.models.losses import to_quat

#: The encoder's adversarial objective: ``confusion`` (cross-entropy of the discriminator's
#: output against the uniform distribution; bounded, Tzeng et al. ICCV 2015) or ``minimax``
#: (minus the discriminator's cross-entropy, the literal minimax game of APANet's Eq. 2).
ADVERSARIES = ('confusion', 'minimax')


def encode(regressor: PoseRegressor, images_b3hw: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Run E and G_p once and return every intermediate the APANet losses need.

    Args:
        regressor: E + G_p (a :class:`PoseRegressor` or :class:`AnchorPoseRegressor`).
        images_b3hw: (B, 3, H, W) float32 normalized images.

    Returns:
        ``{'pooled': (B, C) encoder features (G_d's and the rotation head's input),
        'features': (B, D) after the FC localizer}`` plus the head outputs (``'t'`` (B, 3)
        normalized, ``'rot'`` (B, 4) xyzw not normalized; an anchor regressor gives its
        relative outputs, see :meth:`AnchorPoseRegressor.relative_heads`).
    """
    pooled = regressor.encoder(images_b3hw).mean(dim=(2, 3))
    features = regressor.fc(pooled)
    heads = regressor.relative_heads(features) if isinstance(regressor, AnchorPoseRegressor) \
        else regressor.heads(features)
    return {'pooled': pooled, 'features': features, **heads}


class SceneDiscriminator(nn.Module):
    """G_d: FC layers with ReLU and dropout, then one logit per scene label.

    Args:
        in_dim: feature width ``C`` (the encoder's pooled features).
        num_labels: scene labels (2 for source / target; n + 1 in n-to-1).
        dims: hidden widths (APANet: 1024, 256, 64).
        dropout: dropout after each hidden layer (APANet: 0.5).

    Raises:
        ValueError: for fewer than 2 labels, an empty or non-positive ``dims`` or a dropout
            outside [0, 1).
    """

    def __init__(self, in_dim: int, num_labels: int = 2,
                 dims: Sequence[int] = (1024, 256, 64), dropout: float = 0.5):
        super().__init__()
        if num_labels < 2:
            raise ValueError(f'a scene discriminator needs >= 2 labels, got {num_labels}')
        if not dims or min(dims) <= 0:
            raise ValueError(f'discriminator dims must be positive, got {tuple(dims)}')
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'dropout must be in [0, 1), got {dropout}')
        layers = []
        width = in_dim
        for dim in dims:
            layers += [nn.Linear(width, dim), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = dim
        layers.append(nn.Linear(width, num_labels))
        self.net = nn.Sequential(*layers)
        self.num_labels = int(num_labels)

    def forward(self, pooled_bc: torch.Tensor) -> torch.Tensor:
        """Return scene logits ``(B, num_labels)`` of features ``(B, C)``."""
        return self.net(pooled_bc)


def discriminator_loss(logits_bl: torch.Tensor, labels_b: torch.Tensor) -> torch.Tensor:
    """G_d's objective: cross-entropy of its logits ``(B, L)`` on the true labels ``(B,)``."""
    return F.cross_entropy(logits_bl, labels_b)


def adversarial_loss(logits_bl: torch.Tensor, labels_b: torch.Tensor,
                     kind: str = 'confusion') -> torch.Tensor:
    """Return the encoder's adversarial term ``L_adv`` (minimized by E, G_d frozen).

    Args:
        logits_bl: (B, L) discriminator logits of the encoder's features.
        labels_b: (B,) long true scene labels.
        kind: one of :data:`ADVERSARIES`. ``confusion`` pushes G_d's output towards the
            uniform distribution (minimum ``log L`` when the scene cannot be told);
            ``minimax`` is ``-CE`` (unbounded below: the discriminator must keep up).

    Returns:
        A scalar tensor.

    Raises:
        ValueError: for an unknown ``kind``.
    """
    if kind == 'confusion':
        return -F.log_softmax(logits_bl, dim=1).mean(dim=1).mean()
    if kind == 'minimax':
        return -F.cross_entropy(logits_bl, labels_b)
    raise ValueError(f'adversary must be one of {ADVERSARIES}, got {kind!r}')


def discriminator_accuracy(logits_bl: torch.Tensor, labels_b: torch.Tensor) -> float:
    """Fraction of rows whose argmax logit is the true label."""
    return float((logits_bl.argmax(dim=1) == labels_b).float().mean())


class RotationHead(nn.Module):
    """APANetS' 4-way classifier of the input's rotation ``k`` (0, 90, 180, 270 degrees).

    Args:
        in_dim: feature width ``C`` (the encoder's pooled features).
        hidden: width of an FC + ReLU layer before the 4 logits (0 = linear).
    """

    def __init__(self, in_dim: int, hidden: int = 0):
        super().__init__()
        self.net = nn.Linear(in_dim, 4) if hidden <= 0 else nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 4))

    def forward(self, pooled_bc: torch.Tensor) -> torch.Tensor:
        """Return rotation logits ``(B, 4)``; class ``k`` = ``torch.rot90(..., k)``."""
        return self.net(pooled_bc)


def rotate_images(images_b3hw: torch.Tensor, k_b: torch.Tensor) -> torch.Tensor:
    """Rotate each image by ``k * 90`` degrees with ``torch.rot90(img, k, dims=(-2, -1))``.

    Args:
        images_b3hw: (B, C, S, S) images, square (a rotated batch must keep one shape).
        k_b: (B,) integer rotations (any integer; taken mod 4).

    Returns:
        (B, C, S, S) rotated images (counter-clockwise on screen for ``k > 0``).

    Raises:
        ValueError: if the images are not square or ``k_b`` has the wrong length.
    """
    if images_b3hw.shape[-1] != images_b3hw.shape[-2]:
        raise ValueError(f'rotation self-supervision needs square crops, got '
                         f'{tuple(images_b3hw.shape[-2:])} (set data.height = data.width)')
    if k_b.shape != (images_b3hw.shape[0],):
        raise ValueError(f'k_b must have shape ({images_b3hw.shape[0]},), got '
                         f'{tuple(k_b.shape)}')
    out = images_b3hw.clone()
    k_b = torch.remainder(k_b.long(), 4)
    for k in (1, 2, 3):
        rows = (k_b == k).nonzero(as_tuple=True)[0]
        if len(rows):
            out[rows] = torch.rot90(images_b3hw[rows], k, dims=(-2, -1))
    return out


def quat_about_z(k_b: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Quaternions (B, 4) xyzw of ``Rz(k * 90 deg)``, a rotation about the optical axis."""
    angle = torch.remainder(k_b.long(), 4).to(dtype) * (math.pi / 2)
    zeros = torch.zeros_like(angle)
    return torch.stack([zeros, zeros, torch.sin(angle / 2), torch.cos(angle / 2)], dim=-1)


def rotate_orientation(q_b4: torch.Tensor, k_b: torch.Tensor) -> torch.Tensor:
    """Orientation target of images rotated by :func:`rotate_images` with the same ``k``.

    ``q' = q * q_z(k 90 deg)``, i.e. ``R_world_cam' = R_world_cam Rz(k 90 deg)`` (see the
    module docstring for the derivation); the camera position is unchanged.

    Args:
        q_b4: (B, 4) unit quaternions xyzw of ``T_world_cam``.
        k_b: (B,) integer rotations.

    Returns:
        (B, 4) unit quaternions xyzw with ``w >= 0``.
    """
    q = quat_multiply(q_b4, quat_about_z(k_b, q_b4.dtype).to(q_b4.device))
    return torch.where(q[..., 3:4] < 0, -q, q)


# --- RPE: poses relative to anchors ---------------------------------------------------------


def select_anchors(count: int, available: int) -> torch.Tensor:
    """Return ``count`` anchor indices evenly spaced over ``available`` ordered frames.

    Frames are in the dataset's order (sequence, then time), so this is "every k-th frame"
    of the trajectory (AnchorNet). With fewer frames than ``count`` some frames repeat (every
    scene keeps ``count`` anchors, the width of the shared anchor classifier).

    Returns:
        (count,) int64 indices in ``[0, available)``, non-decreasing.

    Raises:
        ValueError: if ``count < 1`` or there is no frame.
    """
    if count < 1 or available < 1:
        raise ValueError(f'anchors need count >= 1 and frames >= 1, got {count}, {available}')
    return torch.linspace(0, available - 1, count, dtype=torch.float64).round().long()


def relative_to_anchor(t_b3: torch.Tensor, q_b4: torch.Tensor, anchor_t_b3: torch.Tensor,
                       anchor_q_b4: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pose relative to an anchor: ``T_anchor_cam = T_world_anchor^-1 T_world_cam``.

    Args:
        t_b3: (B, 3) camera positions (normalized scene units).
        q_b4: (B, 4) unit quaternions xyzw of the cameras.
        anchor_t_b3: (B, 3) anchor positions, same units.
        anchor_q_b4: (B, 4) anchor quaternions xyzw.

    Returns:
        ``(t_rel (B, 3) = R_a^T (t - t_a), q_rel (B, 4) = q_a^-1 q, w >= 0)``.
    """
    q_inv = torch.cat([-anchor_q_b4[..., :3], anchor_q_b4[..., 3:]], dim=-1)
    t_rel = _rotate(q_inv, t_b3 - anchor_t_b3)
    q_rel = quat_multiply(q_inv, q_b4)
    return t_rel, torch.where(q_rel[..., 3:4] < 0, -q_rel, q_rel)


def compose_with_anchor(t_rel_b3: torch.Tensor, rot_rel_b4: torch.Tensor,
                        anchor_t_b3: torch.Tensor,
                        anchor_q_b4: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Compose (invert :func:`relative_to_anchor`): ``t = t_a + R_a t_rel``, ``q = q_a q_rel``.

    ``rot_rel_b4`` may be un-normalized (a head output); the result is unit, ``w >= 0``.
    """
    t = anchor_t_b3 + _rotate(anchor_q_b4, t_rel_b3)
    return t, to_quat(quat_multiply(anchor_q_b4, normalize_quat(rot_rel_b4)))


def nearest_anchor(t_b3: torch.Tensor, q_b4: torch.Tensor, anchor_t: torch.Tensor,
                   anchor_q: torch.Tensor, angle_weight: float = 1.0) -> torch.Tensor:
    """Index (B,) of each pose's nearest anchor: ``|t - t_a| + angle_weight * angle(q, q_a)``.

    Args:
        t_b3: (B, 3) positions (normalized scene units).
        q_b4: (B, 4) unit quaternions xyzw.
        anchor_t: (A, 3) anchor positions, or (B, A, 3) a table per row.
        anchor_q: (A, 4) anchor quaternions xyzw, or (B, A, 4).
        angle_weight: weight of the rotation angle (radians; 1 rad ~ one scene radius).

    Returns:
        (B,) int64 anchor indices.
    """
    if anchor_t.dim() == 2:
        anchor_t = anchor_t.expand(len(t_b3), -1, -1)
        anchor_q = anchor_q.expand(len(t_b3), -1, -1)
    d_t = (anchor_t - t_b3[:, None]).norm(dim=-1)
    dots = (anchor_q * q_b4[:, None]).sum(-1).abs().clamp(max=1.0)
    return (d_t + angle_weight * 2 * torch.acos(dots)).argmin(dim=1)


def _rotate(q_b4: torch.Tensor, v_b3: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``(B, 3)`` by unit quaternions ``(B, 4)`` xyzw."""
    u, w = q_b4[..., :3], q_b4[..., 3:]
    uv = torch.cross(u, v_b3, dim=-1)
    return v_b3 + 2 * (w * uv + torch.cross(u, uv, dim=-1))


class AnchorPoseRegressor(PoseRegressor):
    """RPE: E + G_p that regress the pose relative to the nearest of ``num_anchors`` anchors.

    Heads: ``head_anchor`` (A logits: which anchor is nearest), ``head_t`` / ``head_rot``
    (the pose relative to that anchor, :func:`relative_to_anchor`, in normalized units: a
    space shared by all scenes, whatever their world frames). The target scene's anchor
    poses are buffers (``anchor_t`` (A, 3) normalized, ``anchor_q`` (A, 4) xyzw), saved in
    the bundle.

    **Anchor at test time**: the argmax of ``head_anchor`` (AnchorNet's hard assignment);
    :meth:`heads` composes the relative pose with that anchor's pose, so the output is an
    absolute pose in the target's normalized frame like :class:`PoseRegressor`'s, and the
    APR localizer (and its MC dropout: every sample picks its own anchor) uses it unchanged.
    During training the trainer uses :meth:`relative_heads` with the anchors of each
    frame's own scene.

    Args:
        num_anchors: anchors ``A`` per scene (>= 1).
        others: as :class:`PoseRegressor`.
    """

    NAME = 'AnchorPoseRegressor'

    def __init__(self, backbone: str = 'resnet34', pretrained: Optional[str] = None,
                 fc_dim: int = 2048, dropout: float = 0.5, rotation: str = 'quat',
                 head_dim: int = 0, num_anchors: int = 16):
        if rotation != 'quat':
            raise ValueError(f'relative poses use quaternions, got rotation={rotation!r}')
        if num_anchors < 1:
            raise ValueError(f'num_anchors must be >= 1, got {num_anchors}')
        super().__init__(backbone, pretrained, fc_dim, dropout, rotation, head_dim)
        self.head_anchor = nn.Linear(self.feature_dim, num_anchors)
        self.register_buffer('anchor_t', torch.zeros(num_anchors, 3))
        self.register_buffer('anchor_q', torch.tensor([[0.0, 0.0, 0.0, 1.0]]).repeat(
            num_anchors, 1))
        self.architecture['name'] = self.NAME
        self.architecture['num_anchors'] = int(num_anchors)

    @property
    def num_anchors(self) -> int:
        """The number of anchors ``A``."""
        return int(self.anchor_t.shape[0])

    def set_anchors(self, anchor_t_a3: torch.Tensor, anchor_q_a4: torch.Tensor) -> None:
        """Store the target scene's anchors (normalized positions, unit quaternions xyzw).

        Raises:
            ValueError: on shapes other than ``(A, 3)`` and ``(A, 4)``.
        """
        if anchor_t_a3.shape != self.anchor_t.shape or anchor_q_a4.shape != self.anchor_q.shape:
            raise ValueError(f'anchors must be ({self.num_anchors}, 3) and '
                             f'({self.num_anchors}, 4), got {tuple(anchor_t_a3.shape)} and '
                             f'{tuple(anchor_q_a4.shape)}')
        with torch.no_grad():
            self.anchor_t.copy_(anchor_t_a3)
            self.anchor_q.copy_(normalize_quat(anchor_q_a4))

    def relative_heads(self, features_bd: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``{'anchor_logits': (B, A), 't': (B, 3) relative, 'rot': (B, 4) relative}``."""
        x = self.dropout(features_bd)
        return {'anchor_logits': self.head_anchor(x), 't': self.head_t(x),
                'rot': self.head_rot(x)}

    def heads(self, features_bd: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Absolute outputs via the argmax anchor: ``{'t', 'rot' (unit xyzw), 'anchor'}``."""
        rel = self.relative_heads(features_bd)
        idx = rel['anchor_logits'].argmax(dim=1)
        t, q = compose_with_anchor(rel['t'], rel['rot'], self.anchor_t[idx],
                                   self.anchor_q[idx])
        return {'t': t, 'rot': q, 'anchor': idx, 'anchor_logits': rel['anchor_logits']}

    @staticmethod
    def from_architecture(arch: Dict) -> 'AnchorPoseRegressor':
        """Rebuild from a bundle's ``architecture`` dict (random weights, zero anchors)."""
        kwargs = {k: v for k, v in arch.items() if k != 'name'}
        return AnchorPoseRegressor(pretrained=None, **kwargs)


register_schema(AnchorPoseRegressor.NAME, ['apr'], {
    'architecture': ({'backbone': ('str', True), 'fc_dim': ('int', True),
                      'dropout': ('number', True), 'rotation': ('str', True),
                      'num_anchors': ('pos_int', True)}, True),
    'scenes': (('list', {'name': ('str', True), 'translation_mean': (('numbers', 3), True),
                         'translation_scale': ('pos_number', True)}, 1), True),
    'input': ({'height': ('pos_int', True), 'width': ('pos_int', True),
               'mean': (('numbers', 3), True), 'std': (('pos_numbers', 3), True)}, True)})
