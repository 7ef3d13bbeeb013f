# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Train Multi-Scene PoseNet (``--method mspn``).

Loss = per-scene learnable-weight pose loss (the true scene's head and weights) +
``scene_weight`` x scene cross-entropy. Validation reports errors with the predicted
scene's head, with the oracle head, and the scene accuracy. ``--init BUNDLE`` starts from
an MSPN bundle (all weights; scenes of the data not in the bundle get new heads initialized
from the mean head, scenes in the bundle keep their normalization) or from an APR bundle
(encoder and FC only).
"""

from dataclasses import dataclass
import logging
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch.nn.functional as F

from pose_reloc.core.bundle import load_state_strict, read_bundle, save_bundle
from pose_reloc.core.device import pick_device, seed_everything
from pose_reloc.geometry.camera import camera_from_ros_yaml
from pose_reloc.models.backbones import freeze_leading
from pose_reloc.models.losses import to_quat
from pose_reloc.models.mspn import MultiScenePoseNet
from pose_reloc.training.apr import (build_criterion, denormalize, input_spec, pose_errors,
                                     PoseModelConfig, prepare_data, rotation_target,
                                     SceneNorm, training_meta, transfer_weights)
from pose_reloc.training.config import register_model_config, TrainConfig
from pose_reloc.training.loop import fit, make_loader, work_dir_for
from pose_reloc.training.registry import register_trainer

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class MSPNModelConfig(PoseModelConfig):
    """The ``model:`` section of ``--method mspn`` presets (``PoseModelConfig`` plus these).

    Attributes:
        fc_dim: shared FC+ReLU before the heads (0 = none, as in the MSPN paper).
        scene_weight: weight of the scene-classification cross-entropy.
    """

    fc_dim: int = 0
    scene_weight: float = 1.0


def _norms_from_bundle(config: Dict) -> Dict[str, SceneNorm]:
    out = {}
    for entry in config.get('scenes', []):
        camera = camera_from_ros_yaml(entry['camera']) if entry.get('camera') else None
        out[entry['name']] = SceneNorm(entry['name'], np.asarray(entry['translation_mean']),
                                       float(entry['translation_scale']), camera,
                                       int(entry.get('train_frames', 0)))
    return out


def train(cfg: TrainConfig, data_root: Path, out_bundle: Path, resume: bool = False,
          init_bundle: Optional[Path] = None) -> Path:
    """Train a :class:`~pose_reloc.models.mspn.MultiScenePoseNet` and write its bundle.

    Args:
        cfg: a config whose ``model`` is an :class:`MSPNModelConfig`.
        data_root: a multi-scene root (or one scene).
        out_bundle: output bundle directory (checkpoints in ``<out_bundle>.work/``).
        resume: continue from the checkpoint.
        init_bundle: an MSPN bundle to extend / fine-tune, or an APR bundle whose encoder
            initializes the shared encoder.

    Returns:
        The bundle path.
    """
    mc = cfg.model
    device = pick_device(cfg.run.device)
    seed_everything(cfg.run.seed)
    init_config, init_state = (None, None)
    if init_bundle is not None:
        init_config, init_state = read_bundle(init_bundle, methods=('apr', 'mspn'))
    known = _norms_from_bundle(init_config) if init_config and \
        init_config['method'] == 'mspn' else None
    order = [e['name'] for e in init_config['scenes']] if known else None
    spec = input_spec(cfg.data, mc.backbone)
    data = prepare_data(cfg, Path(data_root), spec, known_norms=known, scene_order=order)
    num = len(data.scene_names)
    pretrained = None if (init_bundle or resume) else mc.pretrained
    if known:
        model = MultiScenePoseNet.from_architecture(init_config['architecture'])
        if (model.architecture['backbone'], model.architecture['fc_dim']) != (
                mc.backbone, mc.fc_dim):
            raise ValueError(f'--init {init_bundle}: its backbone/fc_dim '
                             f'{model.architecture["backbone"]}/{model.architecture["fc_dim"]}'
                             f' differ from the preset {mc.backbone}/{mc.fc_dim}')
        if not resume:
            load_state_strict(model, init_state, init_bundle)
        if num > model.num_scenes:
            model.add_scenes(num - model.num_scenes)
    else:
        model = MultiScenePoseNet(num, mc.backbone, pretrained, mc.fc_dim, mc.dropout,
                                  mc.rotation)
        if init_state is not None and not resume:
            transfer_weights(model, init_state, ('encoder.', 'fc.'), str(init_bundle))
    freeze_leading(model.encoder, mc.freeze_encoder)
    model.to(device)
    criterion = build_criterion(mc, num_scenes=num).to(device)

    def step(net, batch, dev):
        ids = batch['scene_id'].to(dev)
        out = net(batch['image'].to(dev), scene_ids=ids)
        rot_true = rotation_target(batch['q'].to(dev), mc.rotation)
        if mc.loss == 'learned':
            pose = criterion(out['t'], out['rot'], batch['t'].to(dev), rot_true, ids)
        else:
            pose = criterion(out['t'], out['rot'], batch['t'].to(dev), rot_true)
        ce = F.cross_entropy(out['logits'], ids)
        logs = {k: float(v.detach()) for k, v in pose.items() if k != 'loss'}
        logs['scene_ce'] = float(ce.detach())
        return pose['loss'] + mc.scene_weight * ce, logs

    val_loader = make_loader(data.val, cfg, train=False) if data.val else None

    def validate(net, dev):
        res = {'pred': ([], []), 'oracle': ([], [])}
        correct = []
        for batch in val_loader:
            feats = net.features(batch['image'].to(dev))
            true_ids = batch['scene_id'].to(dev)
            for key, ids in (('pred', None), ('oracle', true_ids)):
                out = net.heads(feats, ids)
                t = denormalize(out['t'], out['scene_ids'], data.norms)
                te, re = pose_errors(t, to_quat(out['rot']), batch['T_world_cam'])
                res[key][0].append(te)
                res[key][1].append(re)
                if ids is None:
                    correct.append((out['scene_ids'] == true_ids).float().cpu().numpy())
        metrics = {'scene_accuracy': float(np.concatenate(correct).mean())}
        for key, (te, re) in res.items():
            metrics[f'median_translation_m_{key}'] = float(np.median(np.concatenate(te)))
            metrics[f'median_rotation_deg_{key}'] = float(np.median(np.concatenate(re)))
        return metrics

    result = fit(model, make_loader(data.train, cfg, train=True), step, cfg,
                 work_dir_for(out_bundle), val_fn=validate if val_loader else None,
                 criterion=criterion, resume=resume, device=device)
    meta = {
        'scenes': [n.to_json() for n in data.norms],
        'input': spec.to_json(),
        'uncertainty': {'mc_samples': int(mc.mc_samples), 'mc_dropout': float(mc.dropout)},
        'parameters': {'shared': model.shared_parameters(),
                       'per_scene': model.parameters_per_scene(),
                       'total': sum(p.numel() for p in model.parameters())},
        'training': training_meta(cfg, Path(data_root), result, criterion, init_bundle, device),
    }
    return save_bundle(out_bundle, 'mspn', model.architecture, model.state_dict(), meta)


register_model_config('mspn', MSPNModelConfig)
register_trainer('mspn', train)
