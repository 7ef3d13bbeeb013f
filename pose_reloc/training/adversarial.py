# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Adversarial pose regression: a PoseNet and a pose discriminator trained in turn.

``pose-reloc train --method apr --config posenet-adv-cpu`` (or ``posenet-adv``, the paper's
settings): an APR preset whose ``model.adversarial`` section is set
(:class:`~pose_reloc.training.adversarial_config.AdversarialConfig`). Chen et al.,
"Adversarial Networks for Camera Pose Regression and Refinement" (ICCVW 2019), Sec. 3:

- every step, the discriminator first: ``L_D = BCE(D(f, p_gt), 1) + BCE(D(f, p_hat), 0)``
  with the regressed pose detached (``ctx.update('discriminator', ...)``); with
  ``noise_translation`` / ``noise_rotation_deg`` (not in the paper) also
  ``+ BCE(D(f, p_gt + noise), 0)``;
- then the regressor, the discriminator frozen: ``L_G = L_pose + lambda * BCE(D(f, p_hat),
  1)``; ``lambda = 0`` during ``warmup_epochs`` (``L_pose`` alone), then ``lambda_adv``.

``f`` are the frozen ImageNet features of the same (jittered) image, ``p`` the normalized
translation and rotation (``models.pose_discriminator.pose_vector``). The output is an
ordinary APR bundle plus a ``discriminator`` component and a ``refinement`` section (the
localizer's default refinement, used by the covariance calibration after training too).
The loop is ``training.loop.fit_multi`` (modules ``regressor``, ``criterion``,
``discriminator``; all checkpointed, ``--resume`` exact at epoch boundaries).
"""

import logging
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F

from pose_reloc.core.bundle import save_bundle
from pose_reloc.core.device import pick_device, seed_everything
from pose_reloc.models.losses import MapNetLoss, to_quat
from pose_reloc.models.pose_discriminator import pose_vector, PoseDiscriminator, to_unit_rgb
from pose_reloc.training.apr import build_criterion, build_regressor, denormalize, \
    input_spec, pose_errors, prepare_data, rotation_target, training_meta
from pose_reloc.training.config import TrainConfig
from pose_reloc.training.loop import fit_multi, make_loader, make_optimizer, make_scheduler, \
    StepContext, TrainState, work_dir_for

LOG = logging.getLogger(__name__)

#: bundle component name of the discriminator (read by ``inference.refine``).
COMPONENT = 'discriminator'


def refinement_meta(adv: Any) -> Dict[str, Any]:
    """Return the bundle's ``refinement`` section (the localizer's default refinement)."""
    return {'iterations': int(adv.refine_iterations), 'step': float(adv.refine_step),
            'max_translation_m': float(adv.refine_max_translation_m),
            'max_rotation_deg': float(adv.refine_max_rotation_deg)}


def perturbed_pose(t_b3: torch.Tensor, q_b4: torch.Tensor, adv: Any,
                   generator: torch.Generator) -> torch.Tensor:
    """Return D's pose vectors of true poses moved by Gaussian noise (extra negatives).

    Args:
        t_b3: normalized true translations.
        q_b4: true quaternions xyzw.
        adv: the ``AdversarialConfig`` (``noise_translation`` in normalized units,
            ``noise_rotation_deg`` the standard deviation of the rotation angle, about a
            uniformly random axis).
        generator: the CPU generator of the noise (checkpointed by the loop).
    """
    from pose_reloc.geometry.torch_ops import quat_exp, quat_multiply
    b = t_b3.shape[0]
    dt = torch.randn(b, 3, generator=generator) * adv.noise_translation
    axis = F.normalize(torch.randn(b, 3, generator=generator), dim=1)
    angle = torch.randn(b, 1, generator=generator) * np.radians(adv.noise_rotation_deg)
    dq = quat_exp(axis * angle / 2).to(q_b4)  # log q = axis * angle / 2 (no factor 2)
    q = quat_multiply(dq, q_b4)
    return pose_vector(t_b3 + dt.to(t_b3), q, adv.rotation)


def train_adversarial(cfg: TrainConfig, data_root: Path, out_bundle: Path,
                      resume: bool = False, init_bundle: Optional[Path] = None) -> Path:
    """Train a PoseRegressor against a PoseDiscriminator and write the bundle.

    Args:
        cfg: an ``apr`` config whose ``model.adversarial`` is set.
        data_root: one scene (or ``data.scenes`` naming one).
        out_bundle: output bundle; checkpoints and ``log.csv`` in ``<out_bundle>.work/``.
        resume: continue from the checkpoint.
        init_bundle: initialize encoder (and FC) from an APR or MSPN bundle.

    Returns:
        The bundle path (method ``apr``, component ``discriminator``).

    Raises:
        ValueError: for a MapNet relative term (not combined with the adversarial game
            here), several scenes, or what the data preparation raises.
    """
    mc, adv = cfg.model, cfg.model.adversarial
    if mc.relative_weight > 0:
        raise ValueError("model.adversarial is not combined with MapNet's relative term: set "
                         'model.relative_weight=0')
    device = pick_device(cfg.run.device)
    seed_everything(cfg.run.seed)
    spec = input_spec(cfg.data, mc.backbone)
    data = prepare_data(cfg, Path(data_root), spec, single_scene='apr')
    model = build_regressor(mc, device, resume, init_bundle)
    criterion = build_criterion(mc).to(device)
    if isinstance(criterion, MapNetLoss):  # pragma: no cover - refused above
        raise ValueError('MapNet loss with the adversarial game')
    disc = PoseDiscriminator(adv.rotation, adv.length, adv.channels, adv.backbone,
                             None if resume else adv.pretrained, seed=cfg.run.seed).to(device)

    def unit_rgb(x: torch.Tensor) -> torch.Tensor:
        # D's frozen extractor normalizes itself: give it the (jittered) image in [0, 1]
        return to_unit_rgb(x, spec.mean, spec.std, spec.color, spec.value_range)

    generator = torch.Generator(device='cpu').manual_seed(cfg.run.seed + 1)
    opt_r = make_optimizer([p for p in list(model.parameters()) + list(criterion.parameters())
                            if p.requires_grad], cfg.optim)
    opt_d = make_optimizer(disc.trainable_parameters(), cfg.optim, lr=adv.lr or None)
    state = TrainState(modules={'regressor': model, 'criterion': criterion,
                                'discriminator': disc},
                       optimizers={'discriminator': opt_d, 'regressor': opt_r},
                       schedulers={'regressor': make_scheduler(opt_r, cfg.optim),
                                   'discriminator': make_scheduler(opt_d, cfg.optim)},
                       generators={'negatives': generator},
                       extra={'lambda_adv': float(adv.lambda_adv),
                              'warmup_epochs': float(adv.warmup_epochs)})

    def step(batch: Dict[str, Any], ctx: StepContext) -> Dict[str, float]:
        x = batch['image'].to(ctx.device)
        with torch.no_grad():
            features = disc.image_features(unit_rgb(x))
        t_gt = batch['t'].to(ctx.device)
        q_gt = batch['q'].to(ctx.device)
        p_gt = pose_vector(t_gt, q_gt, adv.rotation)
        with ctx.autocast():
            pred = model(x)
            p_hat = pose_vector(pred['t'].float(), pred['rot'].float(), adv.rotation)
            z_real = disc(features, p_gt)
            z_fake = disc(features, p_hat.detach())
            loss_d = F.binary_cross_entropy_with_logits(z_real, torch.ones_like(z_real)) + \
                F.binary_cross_entropy_with_logits(z_fake, torch.zeros_like(z_fake))
            if adv.noise_translation > 0 or adv.noise_rotation_deg > 0:
                z_noise = disc(features, perturbed_pose(t_gt, q_gt, adv, generator))
                loss_d = loss_d + F.binary_cross_entropy_with_logits(
                    z_noise, torch.zeros_like(z_noise))
        ctx.update('discriminator', loss_d)
        lam = state.extra['lambda_adv'] if ctx.epoch >= state.extra['warmup_epochs'] else 0.0
        with ctx.frozen('discriminator'), ctx.autocast():
            out = criterion(pred['t'], pred['rot'], t_gt, rotation_target(q_gt, mc.rotation))
            z_gen = disc(features, p_hat)
            loss_adv = F.binary_cross_entropy_with_logits(z_gen, torch.ones_like(z_gen))
            loss_g = out['loss'] + lam * loss_adv
        ctx.update('regressor', loss_g)
        with torch.no_grad():
            acc = 0.5 * (float((z_real > 0).float().mean()) + float((z_fake < 0).float().mean()))
        return {'loss': float(loss_g.detach()), 'loss_pose': float(out['loss'].detach()),
                'loss_d': float(loss_d.detach()), 'loss_adv': float(loss_adv.detach()),
                'd_accuracy': acc}

    val_loader = make_loader(data.val, cfg, train=False) if data.val else None

    def validate(_: TrainState, dev: torch.device) -> Dict[str, float]:
        t_errs, r_errs, real, fake = [], [], [], []
        for batch in val_loader:
            x = batch['image'].to(dev)
            out = model(x)
            feats = disc.image_features(unit_rgb(x))
            t = denormalize(out['t'], torch.zeros_like(batch['scene_id']), data.norms[:1])
            te, re = pose_errors(t, to_quat(out['rot']), batch['T_world_cam'])
            t_errs.append(te)
            r_errs.append(re)
            p_gt = pose_vector(batch['t'].to(dev), batch['q'].to(dev), adv.rotation)
            real.append(torch.sigmoid(disc(feats, p_gt)).cpu().numpy())
            p_hat = pose_vector(out['t'], out['rot'], adv.rotation)
            fake.append(torch.sigmoid(disc(feats, p_hat)).cpu().numpy())
        return {'median_translation_m': float(np.median(np.concatenate(t_errs))),
                'median_rotation_deg': float(np.median(np.concatenate(r_errs))),
                'd_real': float(np.mean(np.concatenate(real))),
                'd_fake': float(np.mean(np.concatenate(fake)))}

    result = fit_multi(state, make_loader(data.train, cfg, train=True), step, cfg,
                       work_dir_for(out_bundle), val_fn=validate if val_loader else None,
                       resume=resume, device=device)
    meta = {
        'scenes': [n.to_json() for n in data.norms],
        'input': spec.to_json(),
        'uncertainty': {'mc_samples': int(mc.mc_samples), 'mc_dropout': float(mc.dropout)},
        'refinement': refinement_meta(adv),
        'training': training_meta(cfg, Path(data_root), result, criterion, init_bundle, device),
    }
    disc_state = {k: v.detach().cpu() for k, v in disc.state_dict().items()}
    return save_bundle(out_bundle, 'apr', model.architecture, model.state_dict(), meta,
                       components={COMPONENT: (disc.architecture, disc_state)})
