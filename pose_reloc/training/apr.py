# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Train PoseNet / MapNet-style absolute pose regressors (``--method apr``).

Also holds the datasets shared with :mod:`pose_reloc.training.mspn`. Images go through the
package's one input pipeline (:mod:`pose_reloc.data.transforms`) as the run's
:class:`~pose_reloc.data.transforms.InputSpec` says (:func:`input_spec`: shorter side to
``data.resize``, or straight to ``height x width``; the backbone's mean/std unless the
config sets them): decoded and resized once and kept in memory when they fit
(``data.torch_dataset.FrameCache``), then randomly cropped and jittered photometrically only
(flips and rotations would change the pose) for training, centre-cropped for validation
exactly as the localizer does, and normalized. The spec is the bundle's ``input`` section.
Translations are normalized per scene, ``(t - mean) / scale`` with ``scale`` the RMS distance
of the training camera centres from their mean; both go into the bundle.
"""

from dataclasses import dataclass
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from pose_reloc.core.bundle import read_bundle, save_bundle
from pose_reloc.core.device import pick_device, seed_everything
from pose_reloc.core.files import json_ready
from pose_reloc.core.util import evenly_spaced
from pose_reloc.data.formats import load_dataset
from pose_reloc.data.records import Frame, Scene
from pose_reloc.data.torch_dataset import FrameCache
from pose_reloc.data.transforms import InputSpec, Resize
from pose_reloc.geometry.camera import camera_to_ros_yaml
from pose_reloc.geometry.rotations import matrix_to_quat
from pose_reloc.models.apr import PoseRegressor
from pose_reloc.models.backbones import freeze_leading, input_stats
from pose_reloc.models.losses import LearnedWeightLoss, MapNetLoss, PoseNetLoss, to_quat
from pose_reloc.training.adversarial_config import AdversarialConfig
from pose_reloc.training.config import register_model_config, require_one_scene, \
    TrainConfig
from pose_reloc.training.loop import fit, FitResult, make_loader, work_dir_for
from pose_reloc.training.registry import register_trainer

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoseModelConfig:
    """The ``model:`` fields shared by the pose regressors (``apr``, ``mspn``).

    Attributes:
        backbone: encoder name (resnet18/34/50, mobilenet_v3_small, efficientnet_lite0,
            tiny).
        pretrained: ``imagenet``, ``none`` or a local state-dict path.
        fc_dim: FC (+ ReLU) width after pooling (0 = none).
        dropout: dropout before the heads (PoseNet 0.5); also used for MC-dropout.
        rotation: ``quat`` or ``logq`` (MapNet).
        loss: ``learned`` (learnable s_t, s_q per scene; L1) or ``posenet`` (beta-weighted
            L2).
        beta: PoseNet's rotation weight (``loss: posenet``).
        s_t: initial translation log-weight (MapNet 0).
        s_q: initial rotation log-weight (MapNet -3, APANet -1).
        mc_samples: MC-dropout samples the localizer draws for the covariance by default
            (0 = no covariance).
        freeze_encoder: fraction of the encoder's parameters (from the input side) kept
            frozen, batch norms included (0 = train all; CPU presets fine-tune only the
            last stages, several times faster).
    """

    backbone: str = 'resnet34'
    pretrained: str = 'imagenet'
    fc_dim: int = 2048
    dropout: float = 0.5
    rotation: str = 'quat'
    loss: str = 'learned'
    beta: float = 1.0
    s_t: float = 0.0
    s_q: float = -3.0
    mc_samples: int = 20
    freeze_encoder: float = 0.0


@dataclass(frozen=True)
class APRModelConfig(PoseModelConfig):
    """The ``model:`` section of ``--method apr`` presets (``PoseModelConfig`` plus these).

    Attributes:
        fc_dim: FC localizer width (PoseNet 2048; 0 = none).
        relative_weight: MapNet relative-pose term weight on frame pairs (0 = off).
        relative_skip: the pair partner is this many frames later in the same sequence.
        adversarial: a pose discriminator trained against the regressor and kept in the
            bundle for test-time refinement (``training.adversarial``; None = plain APR).
    """

    fc_dim: int = 2048
    relative_weight: float = 0.0
    relative_skip: int = 10
    adversarial: Optional[AdversarialConfig] = None


@dataclass
class SceneNorm:
    """Per-scene translation normalization (metres): ``t_norm = (t - mean) / scale``."""

    name: str
    translation_mean: np.ndarray
    translation_scale: float
    camera: Any
    train_frames: int

    def to_json(self) -> Dict[str, Any]:
        """Return the bundle's ``scenes`` entry."""
        return {'name': self.name, 'translation_mean': [float(v) for v in self.translation_mean],
                'translation_scale': float(self.translation_scale), 'coord_mean': None,
                'camera': camera_to_ros_yaml(self.camera, self.name),
                'train_frames': int(self.train_frames)}


def scene_norm(scene_name: str, frames: Sequence[Frame]) -> SceneNorm:
    """Compute the translation normalization of a scene from its training frames."""
    centres = np.array([f.T_world_cam[:3, 3] for f in frames], dtype=np.float64)
    mean = centres.mean(axis=0)
    scale = float(np.sqrt(((centres - mean) ** 2).sum(axis=1).mean()))
    return SceneNorm(scene_name, mean, max(scale, 1e-3), frames[0].camera, len(frames))


def pose_targets(frame: Frame, norm: SceneNorm) -> Tuple[np.ndarray, np.ndarray]:
    """Return the normalized translation (3,) and unit quaternion xyzw, w >= 0 (4,)."""
    t = (frame.T_world_cam[:3, 3] - norm.translation_mean) / norm.translation_scale
    q = matrix_to_quat(frame.T_world_cam[:3, :3])
    return t.astype(np.float32), np.asarray(q, dtype=np.float32)


class PoseImageDataset(Dataset):
    """Frames of one or more scenes as training/validation items.

    Items are dicts: ``image`` (3, h, w) float32, the network input (``spec``'s random crop
    and ``jitter`` if ``train``, else its validation path, the localizer's), ``t`` (3,)
    float32 normalized translation, ``q`` (4,) float32 xyzw, ``scene_id`` long,
    ``T_world_cam`` (4, 4) float64 and, with ``pair_skip > 0``, the same keys prefixed
    ``pair_`` for the frame ``pair_skip`` later in the same sequence (earlier at the end of a
    sequence).

    Args:
        frames: the frames.
        scene_ids: scene index of each frame.
        norms: normalization per scene index.
        spec: the input spec (crop ``spec.height x spec.width``).
        train: random crops and jitter (True) or the deterministic path (False).
        jitter: ``(brightness, contrast, saturation, hue)`` amounts (training only).
        pair_skip: partner offset for MapNet's relative term (0 = no pairs).
        progress: show a bar while decoding.
    """

    def __init__(self, frames: Sequence[Frame], scene_ids: Sequence[int],
                 norms: Sequence[SceneNorm], spec: InputSpec, train: bool,
                 jitter: Sequence[float] = (0.0, 0.0, 0.0, 0.0), pair_skip: int = 0,
                 progress: bool = True):
        self.frames = list(frames)
        self.scene_ids = [int(s) for s in scene_ids]
        self.norms = list(norms)
        self.spec = spec
        self.train = train
        self.targets = [pose_targets(f, self.norms[s]) for f, s in
                        zip(self.frames, self.scene_ids)]
        self.partner = self._partners(pair_skip) if pair_skip > 0 else None
        self.resized = FrameCache(self.frames, Resize(spec))
        self.resized.fill(progress)
        self.transform = spec.train_steps((spec.height, spec.width), jitter) if train else \
            spec.eval_steps()

    def _partners(self, skip: int) -> List[int]:
        groups: Dict[Tuple[int, str], List[int]] = {}
        for i, (f, s) in enumerate(zip(self.frames, self.scene_ids)):
            groups.setdefault((s, f.sequence), []).append(i)
        partner = list(range(len(self.frames)))
        for idx in groups.values():
            idx = sorted(idx, key=lambda i: self.frames[i].timestamp_ns)
            for k, i in enumerate(idx):
                if len(idx) == 1:
                    continue
                j = k + skip if k + skip < len(idx) else max(k - skip, 0)
                partner[i] = idx[j] if idx[j] != i else idx[(k + 1) % len(idx)]
        return partner

    def __len__(self) -> int:
        """Return the number of frames."""
        return len(self.frames)

    def _item(self, i: int) -> Dict[str, Any]:
        t, q = self.targets[i]
        return {'image': self.transform(self.resized[i])['image'],
                't': torch.from_numpy(t), 'q': torch.from_numpy(q),
                'scene_id': torch.tensor(self.scene_ids[i], dtype=torch.long),
                'T_world_cam': torch.from_numpy(np.array(self.frames[i].T_world_cam))}

    def __getitem__(self, i: int) -> Dict[str, Any]:
        """Return the item dict of frame ``i`` (see the class docstring)."""
        item = self._item(i)
        if self.partner is not None:
            item.update({f'pair_{k}': v for k, v in self._item(self.partner[i]).items()})
        return item


def input_spec(data_cfg: Any, backbone: str) -> InputSpec:
    """Return the input spec of an APR/MSPN run (the bundle's ``input`` section).

    ``data.height x data.width`` centre crops (random ones in training) of images whose
    shorter side is resized to ``data.resize`` (0 = straight to the crop size), normalized
    with ``data.mean`` / ``data.std`` or, when empty, the backbone's.

    Raises:
        ValueError: naming the ``data`` field the spec refuses.
    """
    return data_cfg.input_spec(*input_stats(backbone))


@dataclass
class PreparedData:
    """Scenes, normalizations and datasets of a training run."""

    scene_names: List[str]
    norms: List[SceneNorm]
    train: PoseImageDataset
    val: Optional[PoseImageDataset]


def select_scenes(data_root: Path, wanted: Sequence[str]) -> List[Scene]:
    """Load the dataset and keep ``wanted`` scenes (all if empty).

    Raises:
        ValueError: naming missing scenes.
    """
    scenes = load_dataset(data_root)
    if wanted:
        by_name = {s.name: s for s in scenes}
        missing = [w for w in wanted if w not in by_name]
        if missing:
            raise ValueError(f'data.scenes {missing} not found in {data_root} '
                             f'(has {sorted(by_name)})')
        scenes = [by_name[w] for w in wanted]
    return scenes


def prepare_data(cfg: TrainConfig, data_root: Path, spec: InputSpec, pair_skip: int = 0,
                 known_norms: Optional[Dict[str, SceneNorm]] = None,
                 scene_order: Optional[Sequence[str]] = None,
                 single_scene: str = '') -> PreparedData:
    """Build the training and validation datasets of ``cfg`` from ``data_root``.

    Args:
        cfg: the training config.
        data_root: the dataset.
        spec: the input spec (:func:`input_spec`).
        pair_skip: MapNet pair offset (0 = no pairs).
        known_norms: reuse these normalizations for scenes already in an init bundle.
        scene_order: scene index order (default: dataset order); scenes listed here but
            absent from the data keep their index (for fine-tuning a multi-scene bundle).
        single_scene: name of a single-scene method: several scenes are refused (before
            any image is decoded) unless ``data.allow_multi_scene`` is set.

    Raises:
        ValueError: if a scene has no training frames, or several scenes reach a
            single-scene method.
    """
    scenes = select_scenes(data_root, cfg.data.scenes)
    if single_scene and not cfg.data.allow_multi_scene:
        require_one_scene(single_scene, data_root, [s.name for s in scenes])
    names = list(scene_order) if scene_order else []
    names += [s.name for s in scenes if s.name not in names]
    by_name = {s.name: s for s in scenes}
    norms: List[SceneNorm] = []
    train_frames: List[Frame] = []
    train_ids: List[int] = []
    val_frames: List[Frame] = []
    val_ids: List[int] = []
    for idx, name in enumerate(names):
        scene = by_name.get(name)
        if scene is None:
            norms.append(known_norms[name])
            continue
        frames = scene.split(cfg.data.train_split)
        if not frames:
            raise ValueError(f'scene {name!r} in {data_root} has no {cfg.data.train_split!r} '
                             f'frames (splits: {scene.split_counts()})')
        norm = (known_norms or {}).get(name) or scene_norm(name, frames)
        norms.append(norm)
        train_frames += frames
        train_ids += [idx] * len(frames)
        val = scene.split(cfg.data.val_split) if cfg.data.val_split else []
        val = evenly_spaced(val, cfg.data.val_frames)
        val_frames += val
        val_ids += [idx] * len(val)
    progress = cfg.run.progress
    train = PoseImageDataset(train_frames, train_ids, norms, spec, train=True,
                             jitter=cfg.data.jitter(), pair_skip=pair_skip, progress=progress)
    val_ds = PoseImageDataset(val_frames, val_ids, norms, spec, train=False,
                              progress=progress) if val_frames else None
    if val_ds is None:
        LOG.warning('no %r frames for validation; validation is skipped', cfg.data.val_split)
    return PreparedData(names, norms, train, val_ds)


def pose_errors(t_pred_b3: torch.Tensor, q_pred_b4: torch.Tensor,
                T_true_b44: torch.Tensor) -> Tuple[np.ndarray, np.ndarray]:
    """Return translation (m) and rotation (deg) errors of world predictions vs true poses."""
    from pose_reloc.geometry.metrics import quat_angle_error_deg
    from pose_reloc.geometry.rotations import matrix_to_quat
    T_true = T_true_b44.detach().cpu().numpy().astype(np.float64)
    t_err = np.linalg.norm(t_pred_b3.detach().cpu().numpy() - T_true[:, :3, 3], axis=1)
    q_pred = q_pred_b4.detach().cpu().numpy().astype(np.float64)
    return t_err, quat_angle_error_deg(q_pred, matrix_to_quat(T_true[:, :3, :3]))


def denormalize(t_norm_b3: torch.Tensor, scene_ids_b: torch.Tensor,
                norms: Sequence[SceneNorm]) -> torch.Tensor:
    """Map normalized translations back to metres with each row's scene normalization."""
    mean = torch.tensor(np.array([n.translation_mean for n in norms]), dtype=t_norm_b3.dtype,
                        device=t_norm_b3.device)
    scale = torch.tensor([n.translation_scale for n in norms], dtype=t_norm_b3.dtype,
                         device=t_norm_b3.device)
    ids = scene_ids_b.to(t_norm_b3.device)
    return t_norm_b3 * scale[ids, None] + mean[ids]


def build_criterion(model_cfg: Any, num_scenes: int = 1) -> torch.nn.Module:
    """Build the loss module of an APR/MSPN model config."""
    if model_cfg.loss == 'posenet':
        return PoseNetLoss(model_cfg.beta)
    if model_cfg.loss != 'learned':
        raise ValueError(f'model.loss must be "learned" or "posenet", got {model_cfg.loss!r}')
    if getattr(model_cfg, 'relative_weight', 0.0) > 0:
        return MapNetLoss(model_cfg.s_t, model_cfg.s_q, model_cfg.relative_weight)
    return LearnedWeightLoss(model_cfg.s_t, model_cfg.s_q, num_scenes=num_scenes)


def rotation_target(q_b4: torch.Tensor, rotation: str) -> torch.Tensor:
    """Return the rotation target in the head's parameterization (quaternion or log-quaternion)."""
    from pose_reloc.geometry.torch_ops import quat_log
    return quat_log(q_b4) if rotation == 'logq' else q_b4


def transfer_weights(model: torch.nn.Module, state: Dict[str, torch.Tensor],
                     prefixes: Sequence[str], source: str) -> int:
    """Copy tensors whose names start with ``prefixes`` and whose shapes match.

    Returns:
        The number of tensors copied.

    Raises:
        ValueError: if no encoder tensor fits (different backbone).
    """
    own = model.state_dict()
    picked = {k: v for k, v in state.items()
              if k.startswith(tuple(prefixes)) and k in own and own[k].shape == v.shape}
    encoder_keys = [k for k in own if k.startswith('encoder.')]
    if not any(k in picked for k in encoder_keys):
        raise ValueError(f'{source}: no encoder tensor fits this model (different backbone?)')
    own.update(picked)
    model.load_state_dict(own)
    LOG.info('initialized %d tensors from %s', len(picked), source)
    return len(picked)


def training_meta(cfg: TrainConfig, data_root: Path, result: FitResult,
                  criterion: torch.nn.Module, init_bundle: Optional[Path],
                  device: torch.device) -> Dict[str, Any]:
    """Return the bundle's ``training`` section."""
    learned = {}
    for name, param in criterion.named_parameters():
        learned[name] = [float(v) for v in param.detach().cpu().reshape(-1)]
    last = result.history[-1] if result.history else {}
    return {'config': cfg.to_dict(), 'data_root': str(data_root),
            'epochs_completed': result.epochs_completed,
            'stopped_by_budget': result.stopped_by_budget,
            'elapsed_s': float(last.get('elapsed_s', result.elapsed_s)),
            'final': json_ready({k: float(v) for k, v in last.items()}),
            'learned_loss_weights': learned,
            'init_bundle': str(init_bundle) if init_bundle else None,
            'device': str(device)}


def build_regressor(mc: APRModelConfig, device: torch.device, resume: bool = False,
                    init_bundle: Optional[Path] = None) -> PoseRegressor:
    """Build the PoseRegressor of an ``apr`` model config on ``device``.

    ImageNet weights (``mc.pretrained``) for a new run; with ``init_bundle`` (and not
    resuming) the encoder and FC tensors of that APR or MSPN bundle instead; the leading
    ``mc.freeze_encoder`` fraction of the encoder frozen.

    Raises:
        BundleError: for an ``init_bundle`` that is not an APR or MSPN bundle.
        ValueError: if no encoder tensor of ``init_bundle`` fits (another backbone).
    """
    pretrained = None if (init_bundle or resume) else mc.pretrained
    model = PoseRegressor(mc.backbone, pretrained, mc.fc_dim, mc.dropout, mc.rotation)
    if init_bundle is not None and not resume:
        _, state = read_bundle(init_bundle, methods=('apr', 'mspn'))
        transfer_weights(model, state, ('encoder.', 'fc.'), str(init_bundle))
    freeze_leading(model.encoder, mc.freeze_encoder)
    return model.to(device)


def train(cfg: TrainConfig, data_root: Path, out_bundle: Path, resume: bool = False,
          init_bundle: Optional[Path] = None) -> Path:
    """Train a :class:`~pose_reloc.models.apr.PoseRegressor` and write its bundle.

    Args:
        cfg: a config whose ``model`` is an :class:`APRModelConfig`.
        data_root: one scene, or a multi-scene root with ``data.scenes`` naming one.
            Several scenes are refused unless ``data.allow_multi_scene`` is set (the naive
            one-model-for-all baseline, one shared normalization over all frames).
        out_bundle: output bundle directory; checkpoints and ``log.csv`` go to
            ``<out_bundle>.work/``.
        resume: continue from the checkpoint.
        init_bundle: initialize encoder (and FC) from an APR or MSPN bundle.

    Returns:
        The bundle path.
    """
    mc = cfg.model
    if mc.adversarial is not None:
        from pose_reloc.training.adversarial import train_adversarial
        return train_adversarial(cfg, data_root, out_bundle, resume, init_bundle)
    device = pick_device(cfg.run.device)
    seed_everything(cfg.run.seed)
    pair_skip = mc.relative_skip if mc.relative_weight > 0 else 0
    spec = input_spec(cfg.data, mc.backbone)
    data = prepare_data(cfg, Path(data_root), spec, pair_skip=pair_skip, single_scene='apr')
    if len(data.norms) > 1:
        norm = scene_norm('+'.join(data.scene_names), list(data.train.frames))
        data = _single_norm(data, norm)
    model = build_regressor(mc, device, resume, init_bundle)
    criterion = build_criterion(mc).to(device)

    def predict(net, batch, prefix=''):
        return net(batch[f'{prefix}image'].to(device))

    def targets(batch, prefix=''):
        return {'t': batch[f'{prefix}t'].to(device),
                'rot': rotation_target(batch[f'{prefix}q'].to(device), mc.rotation)}

    def step(net, batch, dev):
        pred_a, true_a = predict(net, batch), targets(batch)
        if isinstance(criterion, MapNetLoss):
            out = criterion(pred_a, true_a, predict(net, batch, 'pair_'),
                            targets(batch, 'pair_'))
        else:
            out = criterion(pred_a['t'], pred_a['rot'], true_a['t'], true_a['rot'])
        return out['loss'], {k: float(v.detach()) for k, v in out.items() if k != 'loss'}

    val_loader = make_loader(data.val, cfg, train=False) if data.val else None

    def validate(net, dev):
        t_errs, r_errs = [], []
        for batch in val_loader:
            out = net(batch['image'].to(dev))
            t = denormalize(out['t'], torch.zeros_like(batch['scene_id']), data.norms[:1])
            te, re = pose_errors(t, to_quat(out['rot']), batch['T_world_cam'])
            t_errs.append(te)
            r_errs.append(re)
        t_all, r_all = np.concatenate(t_errs), np.concatenate(r_errs)
        return {'median_translation_m': float(np.median(t_all)),
                'median_rotation_deg': float(np.median(r_all))}

    result = fit(model, make_loader(data.train, cfg, train=True), step, cfg,
                 work_dir_for(out_bundle), val_fn=validate if val_loader else None,
                 criterion=criterion, resume=resume, device=device)
    meta = {
        'scenes': [n.to_json() for n in data.norms],
        'input': spec.to_json(),
        'uncertainty': {'mc_samples': int(mc.mc_samples), 'mc_dropout': float(mc.dropout)},
        'training': training_meta(cfg, Path(data_root), result, criterion, init_bundle, device),
    }
    return save_bundle(out_bundle, 'apr', model.architecture, model.state_dict(), meta)


def _single_norm(data: PreparedData, norm: SceneNorm) -> PreparedData:
    """Relabel a multi-scene dataset as one scene with one normalization (naive APR)."""
    for ds in (data.train, data.val):
        if ds is None:
            continue
        ds.norms = [norm]
        ds.scene_ids = [0] * len(ds.frames)
        ds.targets = [pose_targets(f, norm) for f in ds.frames]
    return PreparedData([norm.name], [norm], data.train, data.val)


register_model_config('apr', APRModelConfig)
register_trainer('apr', train)
