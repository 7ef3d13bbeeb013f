# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Train APANet and its baselines (``--method apanet``): adapt a pose regressor to a new scene.

APANet (Chidlovskii & Sadek, "Adversarial Transfer of Pose Estimation Regression", ECCV-W
2020) transfers a pose regressor from labeled source scenes to a target scene of which only
a fraction ``nu`` of the training images has poses::

    pose-reloc train --method apanet --config apanet-cpu --data source=A [--data source=B]
        --data target=C --set model.variant=apanet --set model.nu=0.05 --out OUT

``model.variant`` picks what is trained, from the same data:

- ``source_only``: the pose loss on the source scenes only (no adaptation); the bundle keeps
  the first source's normalization, so its outputs live in that source's frame;
- ``ss``: source + the ``nu`` labeled target frames (semi-supervised, no adversary);
- ``joint``: source + every target training label (``nu`` = 1; the adaptability indicator);
- ``apanet``: ``ss`` + the adversarial game ``L = L_pose + alpha L_adv`` (the paper's Eq. 2):
  the scene discriminator G_d learns to tell the scene of the encoder's features (source /
  target in 1-to-1, one label per scene in n-to-1) from labeled frames and unlabeled target
  frames, and the encoder E learns to defeat it. Solved by alternating updates: a G_d step on
  detached features, then an (E, G_p) step with G_d frozen (one encoder pass serves both);
- ``apanets``: ``apanet`` + rotation self-supervision: rotated copies (``k * 90`` deg about
  the optical axis, :func:`pose_reloc.models.apanet.rotate_images`) of the labeled and the
  unlabeled images, a 4-way head predicting ``k`` (cross-entropy, weight
  ``rotation_weight``) and the pose loss on the rotated labeled copies with the orientation
  target turned accordingly (needs square crops).

Pose loss: learned weights, L1 distances, ``s_t = 0``, ``s_q = -1`` (the paper's Eq. 1; one
pair for all scenes). Translations are normalized per scene (``(t - mean) / scale`` from the
scene's labeled training frames) so that one regressor serves every world frame; the target
scene's normalization goes into the bundle. ``model.relative`` (RPE) regresses the pose
relative to the nearest of ``num_anchors`` anchors per scene
(:class:`~pose_reloc.models.apanet.AnchorPoseRegressor`; anchors evenly spaced over each
scene's labeled training frames, the target's stored in the bundle; at test time the argmax
of the anchor classifier).

The labeled target frames (``nu``) are drawn from the target's training split only, by a
generator seeded with ``run.seed`` (:func:`select_labeled`): deterministic, nested (the
frames of a smaller ``nu`` are among those of a larger one) and disjoint from the test split.
``nu = 0`` is unsupervised adaptation: nothing ties the outputs to the target's world
frame, so the bundle uses the first source's normalization (and anchors), with a warning.

The output is an ordinary ``apr`` bundle for the target scene (``PoseRegressor``, or
``AnchorPoseRegressor`` for RPE, which the APR localizer also loads): ``pose-reloc eval`` and
the ROS node use it unchanged. Steps per epoch: ``model.steps_per_epoch``, or the labeled
frames (source + labeled target) divided by ``optim.batch_size``; each step also draws
``model.target_batch`` unlabeled target frames (0 = ``optim.batch_size``: the paper's 16 + 16).
"""

from dataclasses import dataclass
import itertools
import logging
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, RandomSampler, WeightedRandomSampler

from pose_reloc.core import distributed
from pose_reloc.core.bundle import save_bundle
from pose_reloc.core.device import pick_device, seed_everything
from pose_reloc.core.util import evenly_spaced
from pose_reloc.data.formats import load_dataset
from pose_reloc.data.records import Frame, Scene
from pose_reloc.data.roles import DataRoles
from pose_reloc.data.transforms import InputSpec
from pose_reloc.models.apanet import (adversarial_loss, ADVERSARIES, AnchorPoseRegressor,
                                      discriminator_accuracy, discriminator_loss, encode,
                                      nearest_anchor, relative_to_anchor, rotate_images,
                                      rotate_orientation, RotationHead, SceneDiscriminator,
                                      select_anchors)
from pose_reloc.models.apr import PoseRegressor
from pose_reloc.models.backbones import freeze_leading
from pose_reloc.models.losses import LearnedWeightLoss, to_quat
from pose_reloc.training.apr import (denormalize, input_spec, pose_errors, PoseImageDataset,
                                     PoseModelConfig, scene_norm, SceneNorm, training_meta)
from pose_reloc.training.config import register_model_config, TrainConfig
from pose_reloc.training.loop import (fit_multi, make_optimizer, make_scheduler, StepContext,
                                      TrainState, work_dir_for)
from pose_reloc.training.registry import register_trainer

LOG = logging.getLogger(__name__)

VARIANTS = ('source_only', 'ss', 'joint', 'apanet', 'apanets')


@dataclass(frozen=True)
class APANetModelConfig(PoseModelConfig):
    """The ``model:`` section of ``--method apanet`` presets (``PoseModelConfig`` plus these).

    Attributes:
        variant: one of :data:`VARIANTS` (see the module docstring).
        nu: labeled fraction of the target's training frames, in [0, 1] (``joint`` uses 1,
            ``source_only`` none); ``nu > 0`` labels at least one frame.
        relative: RPE: regress poses relative to anchors (:class:`AnchorPoseRegressor`).
        fc_dim: G_p's FC localizer (APANet 1024).
        head_dim: G_p's separate position / orientation layers (APANet 256).
        s_q: initial rotation log-weight (APANet -1).
        alpha: weight of the adversarial term (APANet 1).
        adversary: the encoder's adversarial objective (``confusion`` or ``minimax``, see
            :func:`pose_reloc.models.apanet.adversarial_loss`).
        disc_dims: G_d's hidden layers (APANet 1024, 256, 64).
        disc_dropout: G_d's dropout (APANet 0.5).
        disc_lr: G_d's learning rate (0 = ``optim.lr``).
        rotation_weight: weight of APANetS' rotation cross-entropy.
        num_anchors: anchors per scene (RPE).
        anchor_weight: weight of the anchor-classification cross-entropy (RPE).
        target_share: fraction of each labeled batch drawn from the labeled target frames
            (with replacement); 0 = their natural share of the labeled pool (the paper).
        target_batch: unlabeled target frames per step (0 = ``optim.batch_size``).
        steps_per_epoch: steps per epoch (0 = the labeled frames / ``optim.batch_size``); a
            fixed number gives every variant (``joint`` has more labeled frames) and every
            task (n-to-1 has more source frames) the same number of updates.
    """

    fc_dim: int = 1024
    head_dim: int = 256
    s_q: float = -1.0
    variant: str = 'apanet'
    nu: float = 0.05
    relative: bool = False
    alpha: float = 1.0
    adversary: str = 'confusion'
    disc_dims: Tuple[int, ...] = (1024, 256, 64)
    disc_dropout: float = 0.5
    disc_lr: float = 0.0
    rotation_weight: float = 1.0
    num_anchors: int = 16
    anchor_weight: float = 1.0
    target_share: float = 0.0
    target_batch: int = 0
    steps_per_epoch: int = 0

    def __post_init__(self):
        """Validate the APANet fields.

        Raises:
            ValueError: naming the field and its allowed values.
        """
        if self.variant not in VARIANTS:
            raise ValueError(f'model.variant must be one of {VARIANTS}, got {self.variant!r}')
        if not 0.0 <= self.nu <= 1.0:
            raise ValueError(f'model.nu must be in [0, 1], got {self.nu}')
        if self.adversary not in ADVERSARIES:
            raise ValueError(f'model.adversary must be one of {ADVERSARIES}, '
                             f'got {self.adversary!r}')
        if not 0.0 <= self.target_share < 1.0:
            raise ValueError(f'model.target_share must be in [0, 1), got {self.target_share}')
        if self.rotation != 'quat':
            raise ValueError(f'APANet regresses quaternions; model.rotation must be "quat", '
                             f'got {self.rotation!r}')
        if self.loss != 'learned':
            raise ValueError(f'APANet uses the learned-weight L1 loss; model.loss must be '
                             f'"learned", got {self.loss!r}')


def select_labeled(num_frames: int, nu: float, seed: int) -> np.ndarray:
    """Choose the labeled fraction ``nu`` of ``num_frames`` target training frames.

    ``round(nu * num_frames)`` frames (at least one when ``nu > 0``): the first ones of a
    permutation drawn by ``torch.Generator().manual_seed(seed)``, so the choice depends on
    the seed only, and the frames of a smaller ``nu`` are among those of a larger one. Pass
    the training split's frames: the test split is then never labeled.

    Args:
        num_frames: frames in the target's training split (in dataset order).
        nu: labeled fraction in [0, 1].
        seed: the run's seed.

    Returns:
        Sorted int64 indices into the training frames.

    Raises:
        ValueError: if ``nu`` is outside [0, 1].
    """
    if not 0.0 <= nu <= 1.0:
        raise ValueError(f'nu must be in [0, 1], got {nu}')
    count = 0 if nu == 0 or num_frames == 0 else max(1, int(round(nu * num_frames)))
    perm = torch.randperm(num_frames, generator=torch.Generator().manual_seed(int(seed)))
    return np.sort(perm[:count].numpy()).astype(np.int64)


@dataclass
class AdaptationData:
    """The scenes and datasets of one adaptation task.

    Attributes:
        source_names: source scene names (scene ids ``0 .. n-1``).
        target_name: the target scene (scene id ``n``).
        norms: normalization per scene id (the target's from its labeled frames).
        labeled: source training frames + labeled target frames (items with poses).
        labeled_weights: sampling weight per item of ``labeled``.
        unlabeled: target training frames, poses unused (None when the variant uses none).
        val: target validation frames (centre crops), or None.
        labeled_target: the labeled target frames.
        target_norm: the normalization the bundle records (target's, or the first source's
            when no target frame is labeled).
    """

    source_names: List[str]
    target_name: str
    norms: List[SceneNorm]
    labeled: PoseImageDataset
    labeled_weights: torch.Tensor
    unlabeled: Optional[PoseImageDataset]
    val: Optional[PoseImageDataset]
    labeled_target: List[Frame]
    target_norm: SceneNorm


def _roles(data: Any) -> Tuple[List[Path], Path]:
    """Return ``(source paths, target path)`` of a ``DataRoles`` or a role mapping.

    Raises:
        ValueError: without a source or with other than one target.
    """
    if isinstance(data, DataRoles):
        sources, targets = list(data.get('source')), list(data.get('target'))
    elif isinstance(data, Mapping):
        def listed(value):
            return [value] if isinstance(value, (str, Path)) else list(value or ())
        sources, targets = listed(data.get('source')), listed(data.get('target'))
    else:
        raise ValueError('apanet needs data roles: --data source=DIR [--data source=DIR ...] '
                         f'--data target=DIR (got a single path {data})')
    if not sources or len(targets) != 1:
        raise ValueError(f'apanet needs at least one source and exactly one target '
                         f'(--data source=DIR --data target=DIR), got sources {sources}, '
                         f'targets {targets}')
    return [Path(s) for s in sources], Path(targets[0])


def _source_scenes(paths: Sequence[Path], wanted: Sequence[str]) -> List[Scene]:
    """Load the source roots; keep the scenes named in ``wanted`` (all if empty).

    Raises:
        ValueError: naming wanted scenes that no source root holds.
    """
    scenes = [s for p in paths for s in load_dataset(p)]
    if not wanted:
        return scenes
    missing = sorted(set(wanted) - {s.name for s in scenes})
    if missing:
        raise ValueError(f'data.scenes {missing} not found in the sources '
                         f'{[str(p) for p in paths]} (they hold {[s.name for s in scenes]})')
    return [s for s in scenes if s.name in wanted]


def prepare_adaptation(cfg: TrainConfig, data: Any, spec: InputSpec) -> AdaptationData:
    """Load the source and target scenes of ``data`` and build the datasets of ``cfg``.

    Images go through ``spec`` (the package's one input pipeline, the bundle's ``input``):
    random crops and ``data`` jitter for training, the localizer's path for validation.

    Raises:
        ValueError: for missing roles, a target path with several scenes, a scene without
            training frames, or the same scene as source and target.
    """
    mc = cfg.model
    source_paths, target_path = _roles(data)
    sources = _source_scenes(source_paths, cfg.data.scenes)
    targets = load_dataset(target_path)
    if len(targets) != 1:
        raise ValueError(f'the target {target_path} must be one scene, it holds '
                         f'{[s.name for s in targets]}')
    target = targets[0]
    names = [s.name for s in sources]
    if target.name in names or len(set(names)) != len(names):
        raise ValueError(f'source scenes {names} and target {target.name!r} must all differ')
    split = cfg.data.train_split
    for scene in sources + [target]:
        if not scene.split(split):
            raise ValueError(f'scene {scene.name!r} has no {split!r} frames '
                             f'(splits: {scene.split_counts()})')
    norms = [scene_norm(s.name, s.split(split)) for s in sources]
    target_train = target.split(split)
    nu = {'source_only': 0.0, 'joint': 1.0}.get(mc.variant, mc.nu)
    labeled_idx = select_labeled(len(target_train), nu, cfg.run.seed)
    labeled_target = [target_train[i] for i in labeled_idx]
    if labeled_target:
        target_norm = scene_norm(target.name, labeled_target)
    else:
        if mc.variant != 'source_only':
            LOG.warning('no labeled target frame (nu = %g): outputs stay in the frame of '
                        'source %r', nu, names[0])
        target_norm = SceneNorm(target.name, norms[0].translation_mean,
                                norms[0].translation_scale, target_train[0].camera,
                                len(target_train))
    norms.append(target_norm)
    frames: List[Frame] = []
    ids: List[int] = []
    for idx, scene in enumerate(sources):
        frames += scene.split(split)
        ids += [idx] * len(scene.split(split))
    n_src = len(frames)
    frames += labeled_target
    ids += [len(sources)] * len(labeled_target)
    progress = cfg.run.progress
    jitter = cfg.data.jitter()
    labeled = PoseImageDataset(frames, ids, norms, spec, train=True, jitter=jitter,
                               progress=progress)
    weights = torch.ones(len(frames), dtype=torch.float64)
    if labeled_target and mc.target_share > 0:
        weights[:n_src] = (1.0 - mc.target_share) / n_src
        weights[n_src:] = mc.target_share / len(labeled_target)
    unlabeled = None
    if mc.variant in ('apanet', 'apanets'):
        unlabeled = PoseImageDataset(target_train, [len(sources)] * len(target_train), norms,
                                     spec, train=True, jitter=jitter, progress=progress)
    val_frames = evenly_spaced(target.split(cfg.data.val_split), cfg.data.val_frames) \
        if cfg.data.val_split else []
    val = PoseImageDataset(val_frames, [len(sources)] * len(val_frames), norms, spec,
                           train=False, progress=progress) if val_frames else None
    LOG.info('apanet %s: sources %s (%d frames), target %s: %d of %d training frames '
             'labeled (nu = %g)', mc.variant, names, n_src, target.name, len(labeled_target),
             len(target_train), nu)
    return AdaptationData(names, target.name, norms, labeled, weights, unlabeled, val,
                          labeled_target, target_norm)


class PairedBatches:
    """Re-iterable steps of ``{'labeled': batch, 'unlabeled': batch or None}``.

    Labeled items are drawn with replacement by their weights, unlabeled target items
    uniformly with replacement; both samplers use torch's global generator, which the loop
    re-seeds every epoch (so a resumed run draws the same batches).

    Args:
        labeled: dataset of items with poses.
        weights: (N,) sampling weights of ``labeled``.
        unlabeled: dataset of target items (poses unused), or None.
        batch: labeled items per step.
        target_batch: unlabeled items per step.
        workers: DataLoader workers.
        steps: steps per epoch (0 = ``len(labeled) // batch``).
    """

    def __init__(self, labeled: Dataset, weights: torch.Tensor, unlabeled: Optional[Dataset],
                 batch: int, target_batch: int, workers: int = 0, steps: int = 0):
        self.labeled, self.weights, self.unlabeled = labeled, weights, unlabeled
        self.batch = max(1, min(batch, len(labeled)))
        self.target_batch = target_batch
        self.workers = workers
        self.steps = steps if steps > 0 else max(1, len(labeled) // self.batch)

    def __len__(self) -> int:
        """Return the number of steps per epoch."""
        return self.steps

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        """Yield ``len(self)`` step dicts."""
        lab = DataLoader(self.labeled, batch_size=self.batch, num_workers=self.workers,
                         sampler=WeightedRandomSampler(self.weights, self.steps * self.batch,
                                                       replacement=True))
        unl: Any = itertools.repeat(None)
        if self.unlabeled is not None:
            unl = DataLoader(self.unlabeled, batch_size=self.target_batch,
                             num_workers=self.workers,
                             sampler=RandomSampler(self.unlabeled, replacement=True,
                                                   num_samples=self.steps * self.target_batch))
        for a, b in zip(lab, unl):
            yield {'labeled': a, 'unlabeled': b}


def anchor_tables(data: AdaptationData, count: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Anchors of every scene: ``(S, A, 3)`` normalized positions, ``(S, A, 4)`` xyzw.

    Each scene's anchors are evenly spaced over its labeled training frames (dataset order);
    a target without labeled frames borrows the first source's anchors.
    """
    by_scene: Dict[int, List[int]] = {}
    for i, s in enumerate(data.labeled.scene_ids):
        by_scene.setdefault(s, []).append(i)
    t_all, q_all = [], []
    for s in range(len(data.norms)):
        items = by_scene.get(s) or by_scene[0]
        pick = select_anchors(count, len(items))
        t_all.append(np.stack([data.labeled.targets[items[i]][0] for i in pick]))
        q_all.append(np.stack([data.labeled.targets[items[i]][1] for i in pick]))
    return (torch.from_numpy(np.stack(t_all)).float(), torch.from_numpy(np.stack(q_all)).float())


def _pose_loss(criterion: LearnedWeightLoss, out: Dict[str, torch.Tensor], t_b3: torch.Tensor,
               q_b4: torch.Tensor, scene_b: torch.Tensor,
               anchors: Optional[Tuple[torch.Tensor, torch.Tensor]],
               anchor_weight: float) -> Tuple[torch.Tensor, Dict[str, float]]:
    """APE or RPE pose loss of head outputs against normalized targets (see the module doc)."""
    if anchors is None:
        res = criterion(out['t'], out['rot'], t_b3, q_b4)
        return res['loss'], {'loss_t': float(res['loss_t'].detach()),
                             'loss_q': float(res['loss_q'].detach())}
    table_t, table_q = anchors[0][scene_b], anchors[1][scene_b]      # (B, A, 3), (B, A, 4)
    near = nearest_anchor(t_b3, q_b4, table_t, table_q)
    rows = torch.arange(len(t_b3), device=t_b3.device)
    t_rel, q_rel = relative_to_anchor(t_b3, q_b4, table_t[rows, near], table_q[rows, near])
    res = criterion(out['t'], out['rot'], t_rel, q_rel)
    ce = F.cross_entropy(out['anchor_logits'], near)
    return res['loss'] + anchor_weight * ce, {'loss_t': float(res['loss_t'].detach()),
                                              'loss_q': float(res['loss_q'].detach()),
                                              'loss_anchor': float(ce.detach())}


def train(cfg: TrainConfig, data: Any, out_bundle: Path, resume: bool = False,
          init_bundle: Optional[Path] = None) -> Path:
    """Train an APANet variant (``model.variant``) and write an APR bundle for the target.

    Args:
        cfg: a config whose ``model`` is an :class:`APANetModelConfig`.
        data: the data roles (``DataRoles`` or a mapping): ``source`` (one or more scene
            folders or multi-scene roots; ``data.scenes`` filters them) and ``target`` (one
            scene).
        out_bundle: output bundle directory; checkpoints and ``log.csv`` in
            ``<out_bundle>.work/``.
        resume: continue from the checkpoint (every module, optimizer and generator).
        init_bundle: not supported (APANet starts from the ImageNet encoder).

    Returns:
        The bundle path.

    Raises:
        ValueError: for bad roles or data (see :func:`prepare_adaptation`), an init bundle,
            non-square crops with ``apanets``, or a data-parallel run (``--nproc``: the
            paired batches are not sharded between processes yet).
    """
    mc = cfg.model
    if distributed.world_size() > 1:
        raise ValueError('apanet does not shard its paired source/target batches between '
                         'processes yet; run it in one process (without --nproc)')
    if init_bundle is not None:
        raise ValueError('apanet starts from the ImageNet encoder; --init is not supported')
    if mc.variant == 'apanets' and cfg.data.height != cfg.data.width:
        raise ValueError(f'apanets rotates crops by 90 degrees and needs square ones; got '
                         f'data.height={cfg.data.height}, data.width={cfg.data.width}')
    device = pick_device(cfg.run.device)
    seed_everything(cfg.run.seed)
    spec = input_spec(cfg.data, mc.backbone)
    adapt = prepare_adaptation(cfg, data, spec)
    num_scenes = len(adapt.norms)
    adversarial = mc.variant in ('apanet', 'apanets')
    pretrained = None if resume else mc.pretrained
    if mc.relative:
        regressor: PoseRegressor = AnchorPoseRegressor(
            mc.backbone, pretrained, mc.fc_dim, mc.dropout, 'quat', mc.head_dim, mc.num_anchors)
    else:
        regressor = PoseRegressor(mc.backbone, pretrained, mc.fc_dim, mc.dropout, 'quat',
                                  mc.head_dim)
    freeze_leading(regressor.encoder, mc.freeze_encoder)
    pooled_dim = regressor.encoder(torch.zeros(1, 3, cfg.data.height, cfg.data.width)).shape[1]
    criterion = LearnedWeightLoss(mc.s_t, mc.s_q, num_scenes=1)
    modules: Dict[str, torch.nn.Module] = {'regressor': regressor, 'criterion': criterion}
    labels = num_scenes if len(adapt.source_names) > 1 else 2
    if adversarial:
        modules['discriminator'] = SceneDiscriminator(pooled_dim, labels, mc.disc_dims,
                                                      mc.disc_dropout)
    if mc.variant == 'apanets':
        modules['rotation'] = RotationHead(pooled_dim)
    for module in modules.values():
        module.to(device)
    anchors = None
    if mc.relative:
        anchors = tuple(a.to(device) for a in anchor_tables(adapt, mc.num_anchors))
        regressor.set_anchors(anchors[0][-1], anchors[1][-1])
    pose_params = [p for name in ('regressor', 'criterion', 'rotation') if name in modules
                   for p in modules[name].parameters() if p.requires_grad]
    optimizers = {'pose': make_optimizer(pose_params, cfg.optim)}
    if adversarial:
        optimizers['discriminator'] = make_optimizer(
            modules['discriminator'].parameters(), cfg.optim, lr=mc.disc_lr or None)
    state = TrainState(modules=modules, optimizers=optimizers,
                       schedulers={k: make_scheduler(o, cfg.optim) for k, o in optimizers.items()},
                       generators={'rotation': torch.Generator().manual_seed(cfg.run.seed)},
                       extra={'alpha': float(mc.alpha)})
    target_id = num_scenes - 1

    def scene_labels(scene_b: torch.Tensor) -> torch.Tensor:
        """Discriminator labels: the scene id in n-to-1, else 0 = source, 1 = target."""
        return scene_b if labels == num_scenes else (scene_b == target_id).long()

    def step(batch: Dict[str, Any], ctx: StepContext) -> Dict[str, float]:
        lab, unl = batch['labeled'], batch['unlabeled']
        x_lab = lab['image'].to(ctx.device)
        t_lab, q_lab = lab['t'].to(ctx.device), lab['q'].to(ctx.device)
        s_lab = lab['scene_id'].to(ctx.device)
        logs: Dict[str, float] = {}
        images = x_lab if unl is None else torch.cat(
            [x_lab, unl['image'].to(ctx.device)])
        scenes = s_lab if unl is None else torch.cat([s_lab, unl['scene_id'].to(ctx.device)])
        with ctx.autocast():
            out = encode(regressor, images)
            n = len(x_lab)
            loss, pose_logs = _pose_loss(criterion, {k: v[:n] for k, v in out.items()},
                                         t_lab, q_lab, s_lab, anchors, mc.anchor_weight)
            logs.update(pose_logs)
        if adversarial:
            disc = modules['discriminator']
            with ctx.autocast():
                logits = disc(out['pooled'].detach())
                loss_d = discriminator_loss(logits, scene_labels(scenes))
            ctx.update('discriminator', loss_d)
            logs['loss_d'] = float(loss_d.detach())
            logs['acc_d'] = discriminator_accuracy(logits.detach(), scene_labels(scenes))
            with ctx.frozen('discriminator'), ctx.autocast():
                loss_adv = adversarial_loss(disc(out['pooled']), scene_labels(scenes),
                                            mc.adversary)
            loss = loss + state.extra['alpha'] * loss_adv
            logs['loss_adv'] = float(loss_adv.detach())
        if mc.variant == 'apanets':
            k = torch.randint(0, 4, (len(images),), generator=state.generators['rotation'])
            k = k.to(ctx.device)
            with ctx.autocast():
                rot = encode(regressor, rotate_images(images, k))
                loss_rot = F.cross_entropy(modules['rotation'](rot['pooled']), k)
                q_rot = rotate_orientation(q_lab, k[:n])
                loss_pose_rot, _ = _pose_loss(criterion, {key: v[:n] for key, v in rot.items()},
                                              t_lab, q_rot, s_lab, anchors, mc.anchor_weight)
            loss = loss + loss_pose_rot + mc.rotation_weight * loss_rot
            logs['loss_rot'] = float(loss_rot.detach())
        ctx.update('pose', loss)
        logs['loss'] = float(loss.detach())
        return logs

    val_loader = DataLoader(adapt.val, batch_size=64) if adapt.val is not None else None

    def validate(_: TrainState, dev: torch.device) -> Dict[str, float]:
        t_errs, r_errs = [], []
        ids = torch.tensor([target_id])
        for batch in val_loader:
            out = regressor(batch['image'].to(dev))
            t = denormalize(out['t'], ids.expand(len(out['t'])), adapt.norms[:-1] +
                            [adapt.target_norm])
            te, re = pose_errors(t, to_quat(out['rot']), batch['T_world_cam'])
            t_errs.append(te)
            r_errs.append(re)
        return {'median_translation_m': float(np.median(np.concatenate(t_errs))),
                'median_rotation_deg': float(np.median(np.concatenate(r_errs)))}

    loader = PairedBatches(adapt.labeled, adapt.labeled_weights, adapt.unlabeled,
                           cfg.optim.batch_size, mc.target_batch or cfg.optim.batch_size,
                           cfg.data.workers, mc.steps_per_epoch)
    result = fit_multi(state, loader, step, cfg, work_dir_for(out_bundle),
                       val_fn=validate if val_loader is not None else None, resume=resume,
                       device=device)
    bundle_norm = adapt.target_norm
    if mc.variant == 'source_only':
        bundle_norm = SceneNorm(adapt.target_name, adapt.norms[0].translation_mean,
                                adapt.norms[0].translation_scale, adapt.target_norm.camera,
                                adapt.target_norm.train_frames)
        if mc.relative:
            regressor.set_anchors(anchors[0][0], anchors[1][0])
    meta = {
        'scenes': [bundle_norm.to_json()],
        'input': spec.to_json(),
        'uncertainty': {'mc_samples': int(mc.mc_samples), 'mc_dropout': float(mc.dropout)},
        'training': {**training_meta(cfg, _roles(data)[1], result, criterion, None, device),
                     'data_roles': {'source': [str(p) for p in _roles(data)[0]],
                                    'target': str(_roles(data)[1])},
                     'apanet': {'variant': mc.variant, 'nu': mc.nu, 'relative': mc.relative,
                                'sources': adapt.source_names, 'target': adapt.target_name,
                                'labeled_target_frames': len(adapt.labeled_target),
                                'labeled_target_timestamps_ns': [
                                    int(f.timestamp_ns) for f in adapt.labeled_target]}},
    }
    return save_bundle(out_bundle, 'apr', regressor.architecture, regressor.state_dict(), meta)


register_model_config('apanet', APANetModelConfig)
register_trainer('apanet', train, roles=('source', 'target'), calibration_role='target')
