# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Adversarial pose refinement at test time (a ``RefinementStage`` of the APR localizer).

Chen et al., "Adversarial Networks for Camera Pose Regression and Refinement" (ICCV
Workshops 2019), Sec. 3.3: the pose discriminator ``D(f, p)`` (``models.pose_discriminator``)
is frozen and the regressed pose ``p`` itself is optimized by gradient descent on

    L(p) = BCE(sigmoid(D(f, p)), 0.5)

until the discriminator is maximally unsure (its probability that ``p`` is the image's true
pose reaches 0.5). ``dL/dz = sigmoid(z) - 0.5`` for the logit ``z``, so the descent raises
``z`` of a pose D takes for regressed and stops at the decision boundary.

Steps (:func:`refine_pose`), all with the same step size ``eta`` (paper: 1e-3, up to 50
iterations):

- translation (normalized units) and log-quaternion: plain steps ``x <- x - eta * g``;
- quaternion (xyzw, unit): the Riemannian gradient on the unit sphere, ``g_t = (I - q q^T) g``
  (the projection onto the tangent space at ``q``), then a step along the great circle,
  ``q <- cos(eta |g_t|) q - sin(eta |g_t|) g_t / |g_t|`` (the exponential map of
  ``-eta g_t``), renormalized (:func:`sphere_step`). The paper writes the projection as
  ``I - g g^T``; that matrix removes the gradient's own direction (``(I - g g^T) g = g (1 -
  |g|^2)``, for a unit ``g`` the zero vector) and does not keep ``q`` on the sphere; the
  tangent projection ``I - q q^T`` removes the radial component, which only changes ``|q|``,
  and is the geometrically right one.

Early stop: when every pose's probability is within ``tolerance`` of 0.5 (or none can move).
Guard against the paper's known failure (a pose far from the truth pushed further away): a
refined pose is kept only if D's probability that it is real rose and the change stayed
within the trust region (``max_translation``, ``max_rotation``); else the original is kept and
the rejection counted. A pose D already takes for real (probability >= 0.5) is left alone:
the objective would only lower that probability, which the guard refuses anyway.
"""

from dataclasses import dataclass
import math
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from pose_reloc.geometry.se3 import T_from_pos_quat, T_to_pos_quat
from pose_reloc.inference.base import OptionSpec, PoseEstimate
from pose_reloc.models.losses import to_log_quat, to_quat
from pose_reloc.models.pose_discriminator import PoseDiscriminator, to_unit_rgb

#: the localizer options of the refinement stage (None = the bundle's ``refinement`` entry,
#: else :class:`RefineConfig`'s default).
REFINE_OPTIONS = (
    OptionSpec('refine_iterations', int, None, 'adversarial pose refinement steps (bundles '
               "with a discriminator; 0: off; default: the bundle's, else 0)", minimum=0,
               allow_none=True),
    OptionSpec('refine_step', float, None, 'refinement step size (normalized pose units; '
               "default: the bundle's, else 1e-3)", minimum=0.0, allow_none=True),
    OptionSpec('refine_max_translation', float, None, 'refinement trust region, metres '
               "(default: the bundle's, else 0.5)", minimum=0.0, allow_none=True),
    OptionSpec('refine_max_rotation', float, None, 'refinement trust region, degrees '
               "(default: the bundle's, else 10)", minimum=0.0, allow_none=True),
)


@dataclass(frozen=True)
class RefineConfig:
    """Settings of :func:`refine_pose`.

    Attributes:
        iterations: at most this many gradient steps (paper: 50 at most).
        step: step size ``eta`` (paper: 1e-3), in the discriminator's pose units.
        tolerance: stop when ``|sigmoid(z) - 0.5| < tolerance`` for every pose.
        max_translation: trust region of the translation change, in the pose's units (the
            localizer converts metres with the scene scale); inf = none.
        max_rotation: trust region of the rotation change, radians; inf = none.
    """

    iterations: int = 50
    step: float = 1e-3
    tolerance: float = 1e-3
    max_translation: float = math.inf
    max_rotation: float = math.inf

    def __post_init__(self):
        """Validate.

        Raises:
            ValueError: for negative iterations, a step that is not positive and finite, or
                negative tolerances / trust regions.
        """
        if self.iterations < 0:
            raise ValueError(f'refinement iterations must be >= 0, got {self.iterations}')
        if not (math.isfinite(self.step) and self.step > 0):
            raise ValueError(f'refinement step must be finite and > 0, got {self.step}')
        if self.tolerance < 0 or self.max_translation < 0 or self.max_rotation < 0:
            raise ValueError('refinement tolerance and trust region must be >= 0, got '
                             f'{self.tolerance}, {self.max_translation}, {self.max_rotation}')


@dataclass
class RefineResult:
    """What :func:`refine_pose` returns (B poses).

    Attributes:
        t: (B, 3) translations kept (refined where ``accepted``, else the originals).
        rot: (B, 4) unit quaternions xyzw ``w >= 0``, or (B, 3) log-quaternions, kept.
        logit_before: (B,) D's logits of the original poses.
        logit_after: (B,) D's logits of the kept poses.
        accepted: (B,) bool, the refined pose was kept.
        status: per pose ``'refined'``, ``'confident'`` (D took it for real: left alone),
            ``'rejected_confidence'`` or ``'rejected_trust_region'`` (the guard kept the
            original).
        iterations: gradient steps taken (the batch's, early stop included).
        translation_change: (B,) norm of the refined minus original translation (pose units;
            before the guard).
        rotation_change: (B,) rotation angle between refined and original, radians (before
            the guard).
    """

    t: torch.Tensor
    rot: torch.Tensor
    logit_before: torch.Tensor
    logit_after: torch.Tensor
    accepted: torch.Tensor
    status: list
    iterations: int
    translation_change: torch.Tensor
    rotation_change: torch.Tensor


def tangent_projection(q_b4: torch.Tensor, grad_b4: torch.Tensor) -> torch.Tensor:
    """Project ``grad`` onto the tangent space of the unit sphere at ``q``: ``(I - q q^T) g``.

    Args:
        q_b4: (..., 4) unit quaternions (xyzw; the order does not matter here).
        grad_b4: (..., 4) Euclidean gradients at ``q``.
    """
    return grad_b4 - (grad_b4 * q_b4).sum(-1, keepdim=True) * q_b4


def sphere_step(q_b4: torch.Tensor, grad_b4: torch.Tensor, step: float) -> torch.Tensor:
    """One Riemannian gradient-descent step on the unit sphere (exponential map).

    ``g_t = (I - q q^T) g``, ``theta = step * |g_t|``, ``q' = cos(theta) q - sin(theta)
    g_t / |g_t|``, renormalized. ``q'`` is unit, lies on the great circle through ``q`` in the
    direction ``-g_t`` at angle ``theta`` from ``q``; to first order ``q' = q - step * g_t``.
    A zero tangent gradient leaves ``q`` unchanged.

    Args:
        q_b4: (..., 4) unit quaternions.
        grad_b4: (..., 4) Euclidean gradients of the loss at ``q``.
        step: the step size ``eta`` (>= 0).

    Returns:
        (..., 4) unit quaternions, same dtype.
    """
    g_t = tangent_projection(q_b4, grad_b4)
    norm = g_t.norm(dim=-1, keepdim=True)
    safe = torch.where(norm > 0, norm, torch.ones_like(norm))
    theta = step * norm
    q_new = torch.cos(theta) * q_b4 - torch.sin(theta) * g_t / safe
    return q_new / q_new.norm(dim=-1, keepdim=True)


def _canonical(q_b4: torch.Tensor) -> torch.Tensor:
    return torch.where(q_b4[..., 3:4] < 0, -q_b4, q_b4)


def _rotation_angle(rot_a: torch.Tensor, rot_b: torch.Tensor) -> torch.Tensor:
    """Angle (rad) between two rotations given as quaternions or log-quaternions."""
    qa, qb = to_quat(rot_a), to_quat(rot_b)
    dot = (qa * qb).sum(-1).abs().clamp(max=1.0)
    return 2.0 * torch.acos(dot)


def refine_pose(score: Callable[[torch.Tensor], torch.Tensor], t_b3: torch.Tensor,
                rot_b: torch.Tensor, cfg: RefineConfig = RefineConfig()) -> RefineResult:
    """Minimize ``BCE(sigmoid(score(p)), 0.5)`` over poses ``p = [t, rot]`` (module doc).

    Args:
        score: maps ``(B, 3 + R)`` pose vectors to ``(B,)`` logits (D with the image
            features bound); differentiable in the pose.
        t_b3: (B, 3) translations (the discriminator's units).
        rot_b: (B, 4) quaternions xyzw (steps on the sphere) or (B, 3) log-quaternions (plain
            steps). Quaternions are normalized and made ``w >= 0`` first.
        cfg: iterations, step, tolerance and trust region.

    Returns:
        :class:`RefineResult` (tensors detached, dtype of ``t_b3``).

    Raises:
        ValueError: for mismatched batch sizes or a rotation that is neither 4 nor 3 wide.
    """
    if t_b3.dim() != 2 or t_b3.shape[1] != 3 or rot_b.dim() != 2 or \
            rot_b.shape[0] != t_b3.shape[0] or rot_b.shape[1] not in (3, 4):
        raise ValueError(f'poses must be (B, 3) and (B, 4|3), got {tuple(t_b3.shape)} and '
                         f'{tuple(rot_b.shape)}')
    quat = rot_b.shape[1] == 4
    t0 = t_b3.detach()
    r0 = _canonical(rot_b.detach() / rot_b.detach().norm(dim=-1, keepdim=True)) if quat \
        else rot_b.detach()
    with torch.no_grad():
        z0 = score(torch.cat([t0, r0], dim=1))
    t, r = t0.clone(), r0.clone()
    active = torch.sigmoid(z0) < 0.5 - cfg.tolerance
    steps = 0
    for _ in range(cfg.iterations):
        if not bool(active.any()):
            break
        t_var = t.clone().requires_grad_(True)
        r_var = r.clone().requires_grad_(True)
        with torch.enable_grad():
            z = score(torch.cat([t_var, r_var], dim=1))
            loss = F.binary_cross_entropy_with_logits(z, torch.full_like(z, 0.5),
                                                      reduction='sum')
            g_t, g_r = torch.autograd.grad(loss, (t_var, r_var))
        active = active & ((torch.sigmoid(z.detach()) - 0.5).abs() >= cfg.tolerance)
        if not bool(active.any()):
            break
        mask = active[:, None]
        t = torch.where(mask, t - cfg.step * g_t, t)
        r_new = _canonical(sphere_step(r, g_r, cfg.step)) if quat else r - cfg.step * g_r
        r = torch.where(mask, r_new, r)
        steps += 1
    with torch.no_grad():
        z1 = score(torch.cat([t, r], dim=1))
    moved_t = (t - t0).norm(dim=1)
    moved_r = _rotation_angle(r, r0)
    improved = torch.sigmoid(z1) > torch.sigmoid(z0)
    inside = (moved_t <= cfg.max_translation) & (moved_r <= cfg.max_rotation)
    confident = torch.sigmoid(z0) >= 0.5 - cfg.tolerance
    accepted = improved & inside & ~confident
    status = ['confident' if c else 'refined' if a else
              'rejected_trust_region' if not i else 'rejected_confidence'
              for c, a, i in zip(confident.tolist(), accepted.tolist(), inside.tolist())]
    keep = accepted[:, None]
    return RefineResult(t=torch.where(keep, t, t0), rot=torch.where(keep, r, r0),
                        logit_before=z0, logit_after=torch.where(accepted, z1, z0),
                        accepted=accepted, status=status, iterations=steps,
                        translation_change=moved_t, rotation_change=moved_r)


class AdversarialRefiner:
    """The refinement stage of an APR localizer whose bundle has a ``discriminator``.

    Args:
        discriminator: the trained :class:`PoseDiscriminator` (frozen here, eval mode).
        translation_mean: (S, 3) per-scene translation means, metres (the bundle's scenes).
        translation_scale: (S,) per-scene translation scales, metres.
        input_section: the bundle's ``input`` section (``mean``, ``std``, optional ``color``
            and ``range``): how the localizer normalized its tensor, to recover RGB in
            ``[0, 1]`` for the discriminator's own feature extractor.
        cfg: iterations and step; its trust region is ignored (set per scene from the next
            two arguments).
        max_translation_m: trust region, metres.
        max_rotation_deg: trust region, degrees.

    Attributes:
        rejections: poses the guard sent back to the original so far.
        refined: poses refined and kept so far.
    """

    def __init__(self, discriminator: PoseDiscriminator, translation_mean: np.ndarray,
                 translation_scale: np.ndarray, input_section: Mapping[str, Any],
                 cfg: RefineConfig,
                 max_translation_m: float = 0.5, max_rotation_deg: float = 10.0):
        """Freeze ``discriminator`` and keep the scene normalization (class docstring)."""
        self.discriminator = discriminator.eval()
        for p in self.discriminator.parameters():
            p.requires_grad_(False)
        device = next(self.discriminator.parameters()).device
        self.device = device
        self.t_mean = torch.as_tensor(np.asarray(translation_mean), dtype=torch.float32,
                                      device=device).reshape(-1, 3)
        self.t_scale = torch.as_tensor(np.asarray(translation_scale), dtype=torch.float32,
                                       device=device).reshape(-1)
        self.input_section = {'mean': list(input_section['mean']),
                              'std': list(input_section['std']),
                              'color': input_section.get('color', 'rgb'),
                              'value_range': tuple(input_section.get('range', (0.0, 1.0)))}
        self.cfg = cfg
        self.max_translation_m = float(max_translation_m)
        self.max_rotation_deg = float(max_rotation_deg)
        self.rejections = 0
        self.refined = 0

    def unit_rgb(self, image_b3hw: torch.Tensor) -> torch.Tensor:
        """Return RGB in ``[0, 1]`` from the localizer's normalized input tensor."""
        return to_unit_rgb(image_b3hw.to(self.device), **self.input_section)

    def refine(self, estimate: PoseEstimate, inputs: Mapping[str, Any]) -> PoseEstimate:
        """Refine ``estimate.T_world_cam`` (see the module docstring).

        Args:
            estimate: the localizer's estimate (ok, with a pose).
            inputs: ``{'image': (1, 3, h, w) float32 preprocessed tensor, 'scene_index':
                int}``; optionally ``'features'``, D's ``(1, L)`` image features of that image
                when the caller has them (a benchmark refining one image many ways).

        Returns:
            ``estimate`` with the kept pose and ``extras``: ``refine_iterations``,
            ``refine_accepted``, ``refine_rejected`` (1.0 when the guard kept the original,
            so that reports average it to a rate), ``refine_status``,
            ``refine_probability_before|after``, ``refine_translation_m``,
            ``refine_rotation_deg`` (the proposed change, also when rejected). The covariance
            is left as it is.
        """
        idx = int(inputs.get('scene_index', 0))
        image = inputs['image'].to(self.device)
        t_world, q_world = T_to_pos_quat(np.asarray(estimate.T_world_cam, dtype=np.float64))
        t = (torch.as_tensor(t_world, dtype=torch.float32, device=self.device)[None]
             - self.t_mean[idx]) / self.t_scale[idx]
        q = torch.as_tensor(q_world, dtype=torch.float32, device=self.device)[None]
        rot = q if self.discriminator.rotation == 'quat' else to_log_quat(q)
        features = inputs.get('features')
        if features is None and self.discriminator.uses_image:
            with torch.no_grad():
                features = self.discriminator.image_features(self.unit_rgb(image))
        scale = float(self.t_scale[idx])
        cfg = RefineConfig(iterations=self.cfg.iterations, step=self.cfg.step,
                           tolerance=self.cfg.tolerance,
                           max_translation=self.max_translation_m / scale,
                           max_rotation=math.radians(self.max_rotation_deg))
        result = refine_pose(lambda p: self.discriminator(features, p), t, rot, cfg)
        accepted = bool(result.accepted[0])
        self.refined += int(accepted)
        self.rejections += int(result.status[0].startswith('rejected'))
        extras: Dict[str, Any] = {
            'refine_iterations': result.iterations, 'refine_accepted': accepted,
            'refine_rejected': float(result.status[0].startswith('rejected')),
            'refine_status': result.status[0],
            'refine_probability_before': float(torch.sigmoid(result.logit_before[0])),
            'refine_probability_after': float(torch.sigmoid(result.logit_after[0])),
            'refine_translation_m': float(result.translation_change[0]) * scale,
            'refine_rotation_deg': math.degrees(float(result.rotation_change[0]))}
        estimate.extras.update(extras)
        if accepted:
            t_new = (result.t[0] * self.t_scale[idx] + self.t_mean[idx]).double().cpu().numpy()
            q_new = to_quat(result.rot)[0].double().cpu().numpy()
            estimate.T_world_cam = T_from_pos_quat(t_new, q_new)
        return estimate


def refine_config_from(options: Mapping[str, Optional[float]],
                       bundle_entry: Mapping[str, Any]) -> Tuple[RefineConfig, float, float]:
    """Merge the caller's ``refine_*`` options over the bundle's ``refinement`` entry.

    Args:
        options: ``{'refine_iterations', 'refine_step', 'refine_max_translation',
            'refine_max_rotation'}``, each None = the bundle's value.
        bundle_entry: the bundle's ``refinement`` section (``iterations``, ``step``,
            ``max_translation_m``, ``max_rotation_deg``), possibly empty.

    Returns:
        ``(RefineConfig, max_translation_m, max_rotation_deg)``.

    Raises:
        ValueError: for invalid values (:class:`RefineConfig`).
    """
    def pick(option: str, key: str, default: float) -> float:
        value = options.get(option)
        return bundle_entry.get(key, default) if value is None else value

    cfg = RefineConfig(iterations=int(pick('refine_iterations', 'iterations', 0)),
                       step=float(pick('refine_step', 'step', 1e-3)))
    return (cfg, float(pick('refine_max_translation', 'max_translation_m', 0.5)),
            float(pick('refine_max_rotation', 'max_rotation_deg', 10.0)))


#: name of the bundle component that holds the discriminator.
COMPONENT = 'discriminator'


def load_refiner(bundle_path: Any, config: Mapping[str, Any], device: torch.device,
                 options: Mapping[str, Optional[float]]) -> Optional[AdversarialRefiner]:
    """Build the refinement stage of an APR bundle, or None when it is off.

    Args:
        bundle_path: the bundle (its ``discriminator`` component is read).
        config: its ``config.json``.
        device: where the discriminator runs.
        options: the ``refine_*`` options (:data:`REFINE_OPTIONS`; None = the bundle's).

    Returns:
        An :class:`AdversarialRefiner`, or None when the iterations are 0.

    Raises:
        ValueError: iterations > 0 asked of a bundle without a discriminator (naming the
            bundle and the presets that train one), or invalid values.
        BundleError: for a malformed component.
    """
    cfg, max_t, max_r = refine_config_from(options, config.get('refinement') or {})
    if cfg.iterations == 0:
        return None
    from pose_reloc.core.bundle import BundleError, bundle_components, config_file, \
        load_state_strict, read_component
    if COMPONENT not in bundle_components(config):
        raise ValueError(f'refine_iterations={cfg.iterations} needs a bundle with a '
                         f'{COMPONENT!r} component; {bundle_path} has none (train one with '
                         '--config posenet-adv-cpu or posenet-adv)')
    architecture, state = read_component(bundle_path, COMPONENT)
    try:
        discriminator = PoseDiscriminator.from_architecture(architecture)
    except (TypeError, ValueError) as exc:
        raise BundleError(f'{config_file(bundle_path)}: component {COMPONENT!r} cannot rebuild '
                          f'{PoseDiscriminator.NAME}: {exc}') from exc
    load_state_strict(discriminator, state, bundle_path)
    scenes = config['scenes']
    return AdversarialRefiner(
        discriminator.to(device), np.array([s['translation_mean'] for s in scenes]),
        np.array([s['translation_scale'] for s in scenes]), config['input'], cfg,
        max_translation_m=max_t, max_rotation_deg=max_r)
