# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The one training loop every method shares: named modules, several optimizers, one epoch loop.

A method builds its networks, optimizers and data loader and hands them to
:func:`fit_multi` as a :class:`TrainState`, with a step function that may update several
optimizers in turn (a discriminator, then a generator)::

    state = TrainState(modules={'regressor': net, 'criterion': loss, 'discriminator': disc},
                       optimizers={'discriminator': make_optimizer(disc.parameters(), cfg.optim),
                                   'regressor': make_optimizer(params, cfg.optim)},
                       schedulers={'regressor': make_scheduler(opt, cfg.optim)})

    def step(batch, ctx):
        with ctx.autocast():
            loss_d = ...
        ctx.update('discriminator', loss_d)
        with ctx.frozen('discriminator'), ctx.autocast():
            loss_g = ...
        ctx.update('regressor', loss_g)
        return {'loss': float(loss_g), 'loss_d': float(loss_d)}

    result = fit_multi(state, loader, step, cfg, work_dir, val_fn=validate)

The loop does the rest: device, seeding, a tqdm bar showing ``loss``, learning-rate
schedulers (``torch.optim.lr_scheduler``, stepped once per epoch), mixed precision on CUDA
(``run.amp``; one ``GradScaler`` shared by the optimizers, as PyTorch's AMP recipe for several
optimizers prescribes), gradient clipping, validation after every epoch, a CSV log, atomic
checkpoints of every module, optimizer, scheduler, scaler, named random generator and extra
loss weight, exact ``resume`` at epoch boundaries, and a wall-clock budget
(``optim.max_minutes``). :func:`fit` is the one-optimizer form the single-network methods use.

Randomness: the global generators are re-seeded at the start of every epoch from
``(run.seed, epoch)`` (so a resumed run sees the same data order, crops and dropout masks as
an uninterrupted one); the state's named generators are checkpointed as they are.

Data-parallel training (``torch.distributed``, launched by ``torchrun`` or ``pose-reloc train
--nproc N``): every process runs this loop on its shard of the data (:func:`make_loader` puts
a ``DistributedSampler`` in; the global batch ``optim.batch_size`` is split between the
processes), :meth:`StepContext.update` averages the gradients of the optimizer's parameters
over the processes before stepping (the arithmetic of ``DistributedDataParallel``, done per
optimizer so that alternating adversarial updates need no unused-parameter search), buffers
(batch-norm statistics) are broadcast from rank 0 after each epoch, and rank 0 alone writes
the checkpoint and the log.
"""

import contextlib
import csv
from dataclasses import dataclass, field
import io
import logging
import math
import os
from pathlib import Path
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import torch
from torch import nn
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from pose_reloc.core import distributed
from pose_reloc.core.device import pick_device, seed_everything
from pose_reloc.core.files import atomic_write_text
from pose_reloc.training.config import OptimConfig, TrainConfig

LOG = logging.getLogger(__name__)

#: File names inside a run's work directory.
CHECKPOINT_NAME = 'checkpoint.pt'
LOG_NAME = 'log.csv'

#: Name of the single optimizer of :func:`fit`.
DEFAULT_OPTIMIZER = 'model'

StepFn = Callable[[nn.Module, Any, torch.device], Tuple[torch.Tensor, Dict[str, float]]]
ValFn = Callable[[nn.Module, torch.device], Dict[str, float]]


@dataclass
class TrainState:
    """Everything a run trains and checkpoints, by name.

    Attributes:
        modules: networks and loss modules with learnable weights; each is checkpointed,
            put in ``train()`` mode for the epoch and ``eval()`` mode for validation.
        optimizers: the optimizers, updated by :meth:`StepContext.update` by name; the first
            one's learning rate is logged as ``lr``.
        schedulers: learning-rate schedulers (``torch.optim.lr_scheduler``) by name, stepped
            once at the end of every epoch; None entries are skipped.
        generators: named ``torch.Generator`` s (one per source of randomness a method
            owns), checkpointed and restored.
        extra: JSON-ready scalars (loss weights and other run state), checkpointed.
    """

    modules: Dict[str, nn.Module]
    optimizers: Dict[str, torch.optim.Optimizer]
    schedulers: Dict[str, Any] = field(default_factory=dict)
    generators: Dict[str, torch.Generator] = field(default_factory=dict)
    extra: Dict[str, float] = field(default_factory=dict)


@dataclass
class FitResult:
    """What :func:`fit_multi` did.

    Attributes:
        epochs_completed: epochs finished in total (including resumed ones).
        stopped_by_budget: True if ``optim.max_minutes`` ended the run early.
        history: one dict per finished epoch (``epoch``, ``train_loss``, ``lr``,
            ``elapsed_s``, ``val_*``...), as written to the CSV log.
        checkpoint: path of the last checkpoint.
        log_csv: path of the CSV log.
        elapsed_s: wall-clock seconds of this invocation.
    """

    epochs_completed: int
    stopped_by_budget: bool
    history: List[Dict[str, float]] = field(default_factory=list)
    checkpoint: Optional[Path] = None
    log_csv: Optional[Path] = None
    elapsed_s: float = 0.0


class StepContext:
    """What a step function gets besides the batch: the device and the update operations.

    Attributes:
        device: the training device.
        modules: the state's modules by name.
        epoch: 0-based epoch.
        step: 0-based step within the epoch.
        rank: this process's rank (0 in a single-process run).
        world_size: number of processes (1 in a single-process run).
        updates: optimizer steps taken in the current step (a step may take none).
    """

    def __init__(self, state: TrainState, cfg: TrainConfig, device: torch.device,
                 scaler: 'torch.amp.GradScaler'):
        """Bind the context to a run (see the class docstring)."""
        self.state = state
        self.modules = state.modules
        self.cfg = cfg
        self.device = device
        self.scaler = scaler
        self.epoch = 0
        self.step = 0
        self.rank = distributed.rank()
        self.world_size = distributed.world_size()
        self._amp = scaler.is_enabled()
        self.updates = 0

    def autocast(self) -> contextlib.AbstractContextManager:
        """Return the mixed-precision context (float16 on CUDA with ``run.amp``; else a no-op)."""
        if not self._amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.float16)

    @contextlib.contextmanager
    def frozen(self, *names: str) -> Iterator[None]:
        """Stop gradients into the named modules' parameters inside the block.

        The usual generator step of an adversarial game: the discriminator is evaluated but
        not updated. Each parameter's ``requires_grad`` is restored on exit.

        Raises:
            KeyError: naming an unknown module and the known ones.
        """
        params = [p for name in names for p in self._module(name).parameters()]
        flags = [p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p, flag in zip(params, flags):
                p.requires_grad_(flag)

    def update(self, name: str, loss: torch.Tensor, retain_graph: bool = False) -> None:
        """One optimizer step of optimizer ``name`` on ``loss``.

        Zeroes that optimizer's gradients, back-propagates the (AMP-scaled) loss, averages
        the gradients over the processes of a distributed run, clips their norm to
        ``optim.grad_clip`` (when > 0) and steps.

        Args:
            name: a key of ``state.optimizers``.
            loss: scalar tensor.
            retain_graph: keep the graph for another backward pass through it.

        Raises:
            KeyError: naming an unknown optimizer and the known ones.
            ValueError: if the loss is NaN/inf (naming the optimizer, epoch and step).
        """
        if name not in self.state.optimizers:
            raise KeyError(f'no optimizer {name!r} (known: {sorted(self.state.optimizers)})')
        optimizer = self.state.optimizers[name]
        if not torch.isfinite(loss.detach()).all():
            raise ValueError(f'loss of {name!r} became {float(loss.detach())} at epoch '
                             f'{self.epoch + 1}, step {self.step}; lower optim.lr or check '
                             'the data')
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward(retain_graph=retain_graph)
        params = [p for g in optimizer.param_groups for p in g['params']]
        if self.world_size > 1:
            _average_gradients(params, self.world_size)
        if self.cfg.optim.grad_clip > 0:
            self.scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, self.cfg.optim.grad_clip)
        self.scaler.step(optimizer)
        self.updates += 1

    def _module(self, name: str) -> nn.Module:
        if name not in self.modules:
            raise KeyError(f'no module {name!r} (known: {sorted(self.modules)})')
        return self.modules[name]


MultiStepFn = Callable[[Any, StepContext], Dict[str, float]]
MultiValFn = Callable[[TrainState, torch.device], Dict[str, float]]


def _average_gradients(params: List[torch.Tensor], world: int) -> None:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def make_optimizer(params: Any, optim_cfg: OptimConfig,
                   lr: Optional[float] = None) -> torch.optim.Optimizer:
    """Return Adam over ``params`` (parameters or parameter groups).

    Args:
        params: an iterable of parameters or of parameter-group dicts.
        optim_cfg: ``lr`` (unless ``lr`` is given) and ``weight_decay``.
        lr: learning rate overriding ``optim_cfg.lr``.
    """
    return torch.optim.Adam(params, lr=optim_cfg.lr if lr is None else lr,
                            weight_decay=optim_cfg.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, optim_cfg: OptimConfig) -> Any:
    """Return the step decay of ``optim_cfg`` as a ``torch.optim.lr_scheduler.StepLR``.

    The learning rate is multiplied by ``lr_decay`` every ``lr_decay_epochs`` epochs; None
    when ``lr_decay_epochs`` is 0 (constant rate).
    """
    if optim_cfg.lr_decay_epochs <= 0:
        return None
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=optim_cfg.lr_decay_epochs,
                                           gamma=optim_cfg.lr_decay)


def make_loader(dataset: Dataset, cfg: TrainConfig, train: bool) -> DataLoader:
    """Return a DataLoader over ``dataset`` for this process.

    Training loaders shuffle and drop a last partial batch (when the dataset has more
    than one batch). In a distributed run the training loader takes this process's shard
    with a ``DistributedSampler`` (seeded with ``run.seed``; the loop sets its epoch) and
    ``optim.batch_size / world_size`` frames per step, so the global batch stays
    ``optim.batch_size``; validation loaders see every frame on every process.

    Raises:
        ValueError: if ``optim.batch_size`` does not divide between the processes.
    """
    world = distributed.world_size() if train else 1
    if cfg.optim.batch_size % world:
        raise ValueError(f'optim.batch_size {cfg.optim.batch_size} does not divide between '
                         f'{world} processes')
    batch = min(cfg.optim.batch_size // world, max(len(dataset) // world, 1))
    drop_last = train and len(dataset) > batch * world
    sampler = None
    if world > 1:
        sampler = DistributedSampler(dataset, num_replicas=world, rank=distributed.rank(),
                                     shuffle=True, seed=cfg.run.seed, drop_last=True)
    return DataLoader(dataset, batch_size=batch, shuffle=train and sampler is None,
                      sampler=sampler, drop_last=drop_last, num_workers=cfg.data.workers,
                      persistent_workers=False)


def epoch_seed(seed: int, epoch: int) -> int:
    """Return the seed used for epoch ``epoch`` of a run seeded with ``seed``."""
    return (int(seed) * 1_000_003 + int(epoch)) % (2 ** 31)


def work_dir_for(out_bundle: Path) -> Path:
    """Checkpoint / log directory of a run writing ``out_bundle``: ``<out>.work``."""
    out_bundle = Path(out_bundle)
    return out_bundle.with_name(out_bundle.name + '.work')


def fit(model: nn.Module, train_loader: Iterable, step_fn: StepFn, cfg: TrainConfig,
        work_dir: Path, val_fn: Optional[ValFn] = None, criterion: Optional[nn.Module] = None,
        resume: bool = False, device: Optional[torch.device] = None,
        param_groups: Optional[List[Dict[str, Any]]] = None) -> FitResult:
    """Train one network (and ``criterion``'s learnable parameters) with one Adam.

    The single-optimizer form of :func:`fit_multi` (modules ``model`` and ``criterion``,
    optimizer ``model``, the ``optim.lr_decay`` step schedule).

    Args:
        model: the network, already on ``device``.
        train_loader: re-iterable batches (from :func:`make_loader`).
        step_fn: ``(model, batch, device) -> (loss scalar tensor, logs dict)``.
        cfg: the run's configuration (``optim`` and ``run`` sections are used).
        work_dir: directory for ``checkpoint.pt`` and ``log.csv`` (created).
        val_fn: ``(model, device) -> dict of floats`` called after each epoch.
        criterion: optional module with learnable loss parameters (checkpointed too).
        resume: continue from ``work_dir/checkpoint.pt``.
        device: torch device (default: ``pick_device(cfg.run.device)``).
        param_groups: optional Adam parameter groups (default: all trainable
            parameters of ``model`` and ``criterion`` at ``optim.lr``).

    Returns:
        A :class:`FitResult`.

    Raises:
        FileNotFoundError: if ``resume`` is set and no checkpoint exists.
        ValueError: if the checkpoint was written by a different method/model config,
            or the loss becomes NaN/inf (naming the epoch and step).
    """
    if param_groups is None:
        params = [p for p in model.parameters() if p.requires_grad]
        if criterion is not None:
            params += [p for p in criterion.parameters() if p.requires_grad]
        param_groups = [{'params': params}]
    optimizer = make_optimizer(param_groups, cfg.optim)
    modules = {'model': model}
    if criterion is not None:
        modules['criterion'] = criterion
    state = TrainState(modules=modules, optimizers={DEFAULT_OPTIMIZER: optimizer},
                       schedulers={DEFAULT_OPTIMIZER: make_scheduler(optimizer, cfg.optim)})

    def step(batch: Any, ctx: StepContext) -> Dict[str, float]:
        with ctx.autocast():
            loss, logs = step_fn(model, batch, ctx.device)
        ctx.update(DEFAULT_OPTIMIZER, loss)
        return {'loss': float(loss.detach()), **logs}

    def validate(_: TrainState, dev: torch.device) -> Dict[str, float]:
        return val_fn(model, dev)

    return fit_multi(state, train_loader, step, cfg, work_dir,
                     val_fn=validate if val_fn is not None else None, resume=resume,
                     device=device)


def fit_multi(state: TrainState, train_loader: Iterable, step_fn: MultiStepFn,
              cfg: TrainConfig, work_dir: Path, val_fn: Optional[MultiValFn] = None,
              resume: bool = False, device: Optional[torch.device] = None) -> FitResult:
    """Train ``state`` for ``optim.epochs`` epochs (or until ``optim.max_minutes``).

    Args:
        state: modules (already on ``device``), optimizers, schedulers, generators, extras.
        train_loader: re-iterable batches (a ``DataLoader``, or any iterable with a
            ``len``); a ``DistributedSampler`` in it gets ``set_epoch`` every epoch.
        step_fn: ``(batch, ctx) -> logs``: runs the forward passes and calls
            ``ctx.update(name, loss)`` for each optimizer it updates; the returned floats
            are averaged per epoch into the log as ``train_<key>`` (``loss`` is also the
            bar's figure and the ``train_loss`` column).
        cfg: the run's configuration (``optim`` and ``run`` sections are used).
        work_dir: directory for ``checkpoint.pt`` and ``log.csv`` (created on rank 0).
        val_fn: ``(state, device) -> dict of floats`` called after each epoch under
            ``torch.no_grad()`` with every module in eval mode; logged as ``val_<key>``.
        resume: continue from ``work_dir/checkpoint.pt``.
        device: torch device (default: ``pick_device(cfg.run.device)``).

    Returns:
        A :class:`FitResult`.

    Raises:
        FileNotFoundError: if ``resume`` is set and no checkpoint exists.
        ValueError: if the checkpoint was written by a different method/model config or
            holds other modules / optimizers, ``run.threads`` is negative, or a loss becomes
            NaN/inf (naming the optimizer, epoch and step).
    """
    device = device or pick_device(cfg.run.device)
    if cfg.run.threads < 0:
        raise ValueError(f'run.threads must be >= 0, got {cfg.run.threads}')
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    if not state.optimizers:
        raise ValueError('fit_multi needs at least one optimizer')
    main = distributed.is_main()
    work_dir = Path(work_dir)
    if main:
        work_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = work_dir / CHECKPOINT_NAME
    log_path = work_dir / LOG_NAME
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.run.amp and device.type == 'cuda')
    start_epoch = 0
    history: List[Dict[str, float]] = []
    if resume:
        start_epoch, history = _load_checkpoint(ckpt_path, cfg, state, scaler, device)
        LOG.info('resuming from %s at epoch %d', ckpt_path, start_epoch)
    if distributed.is_distributed():
        _broadcast_modules(state)
    budget_s = cfg.optim.max_minutes * 60.0 if cfg.optim.max_minutes > 0 else math.inf
    elapsed_before = history[-1]['elapsed_s'] if history else 0.0
    t0 = time.monotonic()
    stopped = False
    ctx = StepContext(state, cfg, device, scaler)
    first_optimizer = next(iter(state.optimizers.values()))
    for epoch in range(start_epoch, cfg.optim.epochs):
        seed_everything(epoch_seed(cfg.run.seed, epoch))
        sampler = getattr(train_loader, 'sampler', None)
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(epoch)
        ctx.epoch = epoch
        lr = float(first_optimizer.param_groups[0]['lr'])
        _set_mode(state, train=True)
        sums: Dict[str, float] = {}
        count = 0
        recent: List[float] = []
        bar = tqdm(train_loader, desc=f'{cfg.method} epoch {epoch + 1}/{cfg.optim.epochs}',
                   disable=not (cfg.run.progress and main), leave=False, dynamic_ncols=True)
        for step, batch in enumerate(bar):
            ctx.step = step
            ctx.updates = 0
            logs = step_fn(batch, ctx)
            if ctx.updates:  # GradScaler.update() refuses a step without an optimizer step
                scaler.update()
            count += 1
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + float(value)
            if 'loss' in logs:
                recent = (recent + [float(logs['loss'])])[-20:]
                bar.set_postfix(loss=f'{np.mean(recent):.4f}')
            if _agree(time.monotonic() - t0 > budget_s):
                stopped = True
                break
        bar.close()
        for scheduler in state.schedulers.values():
            if scheduler is not None:
                scheduler.step()
        if distributed.is_distributed():
            _broadcast_modules(state, buffers_only=True)
        row: Dict[str, float] = {
            'epoch': epoch + 1,
            'train_loss': sums['loss'] / count if count and 'loss' in sums else float('nan'),
            'lr': lr,
        }
        row.update({f'train_{k}': v / max(count, 1) for k, v in sums.items() if k != 'loss'})
        if val_fn is not None:
            _set_mode(state, train=False)
            with torch.no_grad():
                row.update({f'val_{k}': float(v) for k, v in val_fn(state, device).items()})
        row['elapsed_s'] = elapsed_before + (time.monotonic() - t0)
        history.append(row)
        if main:
            _write_csv(log_path, history)
            LOG.info('epoch %d: %s', epoch + 1,
                     ', '.join(f'{k}={v:.4g}' for k, v in row.items() if k != 'epoch'))
            if stopped or (epoch + 1) % max(cfg.run.checkpoint_every, 1) == 0 \
                    or epoch + 1 == cfg.optim.epochs:
                _save_checkpoint(ckpt_path, cfg, state, scaler, epoch + 1, history)
        if stopped:
            LOG.warning('time budget of %.1f min reached after epoch %d; stopping',
                        cfg.optim.max_minutes, epoch + 1)
            break
    completed = int(history[-1]['epoch']) if history else start_epoch
    if main and (not ckpt_path.exists() or completed > _checkpoint_epoch(ckpt_path)):
        _save_checkpoint(ckpt_path, cfg, state, scaler, completed, history)
    distributed.barrier()
    return FitResult(epochs_completed=completed, stopped_by_budget=stopped,
                     history=history, checkpoint=ckpt_path, log_csv=log_path,
                     elapsed_s=time.monotonic() - t0)


def _set_mode(state: TrainState, train: bool) -> None:
    for module in state.modules.values():
        module.train(train)


def _agree(flag: bool) -> bool:
    """Return ``flag`` OR-ed over the processes (every process stops at the same step)."""
    if not distributed.is_distributed():
        return flag
    value = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def _broadcast_modules(state: TrainState, buffers_only: bool = False) -> None:
    """Copy rank 0's parameters (unless ``buffers_only``) and buffers to every process."""
    for module in state.modules.values():
        tensors = list(module.buffers()) if buffers_only else \
            list(module.parameters()) + list(module.buffers())
        for tensor in tensors:
            if tensor.is_floating_point() or tensor.dtype in (torch.int64, torch.int32):
                dist.broadcast(tensor.data, src=0)


def _identity(cfg: TrainConfig) -> Dict[str, Any]:
    plain = cfg.to_dict()
    return {'method': plain['method'], 'model': plain['model']}


def _save_checkpoint(path: Path, cfg: TrainConfig, state: TrainState,
                     scaler: 'torch.amp.GradScaler', epoch: int,
                     history: List[Dict[str, float]]) -> None:
    payload = {
        'epoch': epoch,
        'modules': {k: m.state_dict() for k, m in state.modules.items()},
        'optimizers': {k: o.state_dict() for k, o in state.optimizers.items()},
        'schedulers': {k: s.state_dict() for k, s in state.schedulers.items() if s is not None},
        'generators': {k: g.get_state() for k, g in state.generators.items()},
        'extra': {k: float(v) for k, v in state.extra.items()},
        'scaler': scaler.state_dict(),
        'history': [{k: float(v) for k, v in row.items()} for row in history],
        'identity': repr(_identity(cfg)),
    }
    tmp = path.with_name(path.name + '.tmp')
    torch.save(payload, tmp)
    os.replace(tmp, path)


def _checkpoint_epoch(path: Path) -> int:
    return int(torch.load(path, map_location='cpu', weights_only=True)['epoch'])


def _load_checkpoint(path: Path, cfg: TrainConfig, state: TrainState,
                     scaler: 'torch.amp.GradScaler',
                     device: torch.device) -> Tuple[int, List[Dict[str, float]]]:
    if not path.is_file():
        raise FileNotFoundError(f'cannot resume: no checkpoint at {path}')
    payload = torch.load(path, map_location=device, weights_only=True)
    if payload.get('identity') != repr(_identity(cfg)):
        raise ValueError(
            f'cannot resume from {path}: it was written for {payload.get("identity")}, '
            f'this run is {_identity(cfg)}')
    if 'modules' not in payload:
        raise ValueError(f'cannot resume from {path}: it was written by an older pose_reloc '
                         '(no named modules); start the run again without --resume')
    for kind, own in (('modules', state.modules), ('optimizers', state.optimizers)):
        if sorted(payload[kind]) != sorted(own):
            raise ValueError(f'cannot resume from {path}: it holds {kind} '
                             f'{sorted(payload[kind])}, this run has {sorted(own)}')
    for name, module in state.modules.items():
        module.load_state_dict(payload['modules'][name])
    for name, optimizer in state.optimizers.items():
        optimizer.load_state_dict(payload['optimizers'][name])
    for name, scheduler in state.schedulers.items():
        if scheduler is not None and name in payload['schedulers']:
            scheduler.load_state_dict(payload['schedulers'][name])
    for name, generator in state.generators.items():
        if name in payload['generators']:
            generator.set_state(payload['generators'][name].cpu())
    state.extra.update(payload['extra'])
    scaler.load_state_dict(payload['scaler'])
    history = [dict(row, epoch=int(row['epoch'])) for row in payload['history']]
    return int(payload['epoch']), history


def _write_csv(path: Path, history: List[Dict[str, float]]) -> None:
    keys: List[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=keys)
    writer.writeheader()
    for row in history:
        writer.writerow(row)
    atomic_write_text(path, text.getvalue())
