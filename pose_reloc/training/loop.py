# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The one training loop every method shares.

A method module builds its model, its data loader and two callables, and hands them to
:func:`fit`, which does the rest: device choice, seeding, Adam, learning-rate steps,
a tqdm bar showing the loss, validation after every epoch, a CSV log, atomic checkpoints,
``resume`` and a wall-clock budget (``optim.max_minutes``)::

    result = fit(model, loader, step_fn, cfg, work_dir, val_fn=val_fn, criterion=loss)

``step_fn(model, batch, device) -> (loss, logs)`` returns a scalar tensor and a dict of
floats; ``val_fn(model, device) -> dict`` returns validation metrics (called under
``torch.no_grad()`` with the model in eval mode). Randomness is re-seeded at the start of
every epoch from ``(run.seed, epoch)``, so a resumed run sees the same data order, crops and
dropout masks as an uninterrupted one.
"""

import csv
from dataclasses import dataclass, field
import io
import logging
import math
import os
from pathlib import Path
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from pose_reloc.core.device import pick_device, seed_everything
from pose_reloc.core.files import atomic_write_text
from pose_reloc.training.config import TrainConfig

LOG = logging.getLogger(__name__)

#: File names inside a run's work directory.
CHECKPOINT_NAME = 'checkpoint.pt'
LOG_NAME = 'log.csv'

StepFn = Callable[[nn.Module, Any, torch.device], Tuple[torch.Tensor, Dict[str, float]]]
ValFn = Callable[[nn.Module, torch.device], Dict[str, float]]


@dataclass
class FitResult:
    """What :func:`fit` did.

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
    """Train ``model`` (and ``criterion``'s learnable parameters) with Adam.

    Args:
        model: the network, already on ``device``.
        train_loader: re-iterable batches (a ``DataLoader``); its shuffling uses torch's
            global generator, re-seeded every epoch.
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
    device = device or pick_device(cfg.run.device)
    if cfg.run.threads < 0:
        raise ValueError(f'run.threads must be >= 0, got {cfg.run.threads}')
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = work_dir / CHECKPOINT_NAME
    log_path = work_dir / LOG_NAME
    if param_groups is None:
        params = [p for p in model.parameters() if p.requires_grad]
        if criterion is not None:
            params += [p for p in criterion.parameters() if p.requires_grad]
        param_groups = [{'params': params}]
    for group in param_groups:
        group.setdefault('lr', cfg.optim.lr)
        group['base_lr'] = group['lr']
    optimizer = torch.optim.Adam(param_groups, lr=cfg.optim.lr,
                                 weight_decay=cfg.optim.weight_decay)
    start_epoch = 0
    history: List[Dict[str, float]] = []
    if resume:
        start_epoch, history = _load_checkpoint(ckpt_path, cfg, model, criterion, optimizer,
                                                device)
        LOG.info('resuming from %s at epoch %d', ckpt_path, start_epoch)
    budget_s = cfg.optim.max_minutes * 60.0 if cfg.optim.max_minutes > 0 else math.inf
    elapsed_before = history[-1]['elapsed_s'] if history else 0.0
    t0 = time.monotonic()
    stopped = False
    epoch = start_epoch
    clipped = [p for g in optimizer.param_groups for p in g['params']]
    for epoch in range(start_epoch, cfg.optim.epochs):
        seed_everything(epoch_seed(cfg.run.seed, epoch))
        lr_scale = _lr_scale(cfg, epoch)
        for group in optimizer.param_groups:
            group['lr'] = group['base_lr'] * lr_scale
        model.train()
        if criterion is not None:
            criterion.train()
        losses: List[float] = []
        sums: Dict[str, float] = {}
        bar = tqdm(train_loader, desc=f'{cfg.method} epoch {epoch + 1}/{cfg.optim.epochs}',
                   disable=not cfg.run.progress, leave=False, dynamic_ncols=True)
        for step, batch in enumerate(bar):
            loss, logs = step_fn(model, batch, device)
            if not torch.isfinite(loss):
                raise ValueError(f'loss became {loss.item()} at epoch {epoch + 1}, step {step}'
                                 f' (logs {logs}); lower optim.lr or check the data')
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.optim.grad_clip > 0:
                nn.utils.clip_grad_norm_(clipped, cfg.optim.grad_clip)
            optimizer.step()
            losses.append(float(loss.detach()))
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + float(value)
            bar.set_postfix(loss=f'{np.mean(losses[-20:]):.4f}')
            if time.monotonic() - t0 > budget_s:
                stopped = True
                break
        bar.close()
        row: Dict[str, float] = {
            'epoch': epoch + 1,
            'train_loss': float(np.mean(losses)) if losses else float('nan'),
            'lr': cfg.optim.lr * lr_scale,
        }
        row.update({f'train_{k}': v / max(len(losses), 1) for k, v in sums.items()})
        if val_fn is not None:
            model.eval()
            if criterion is not None:
                criterion.eval()
            with torch.no_grad():
                row.update({f'val_{k}': float(v) for k, v in val_fn(model, device).items()})
        row['elapsed_s'] = elapsed_before + (time.monotonic() - t0)
        history.append(row)
        _write_csv(log_path, history)
        LOG.info('epoch %d: %s', epoch + 1,
                 ', '.join(f'{k}={v:.4g}' for k, v in row.items() if k != 'epoch'))
        if stopped or (epoch + 1) % max(cfg.run.checkpoint_every, 1) == 0 \
                or epoch + 1 == cfg.optim.epochs:
            _save_checkpoint(ckpt_path, cfg, model, criterion, optimizer, epoch + 1, history)
        if stopped:
            LOG.warning('time budget of %.1f min reached after epoch %d; stopping',
                        cfg.optim.max_minutes, epoch + 1)
            break
    completed = history[-1]['epoch'] if history else start_epoch
    if not ckpt_path.exists() or int(completed) > _checkpoint_epoch(ckpt_path):
        _save_checkpoint(ckpt_path, cfg, model, criterion, optimizer, int(completed), history)
    return FitResult(epochs_completed=int(completed), stopped_by_budget=stopped,
                     history=history, checkpoint=ckpt_path, log_csv=log_path,
                     elapsed_s=time.monotonic() - t0)


def _lr_scale(cfg: TrainConfig, epoch: int) -> float:
    if cfg.optim.lr_decay_epochs <= 0:
        return 1.0
    return cfg.optim.lr_decay ** (epoch // cfg.optim.lr_decay_epochs)


def _identity(cfg: TrainConfig) -> Dict[str, Any]:
    plain = cfg.to_dict()
    return {'method': plain['method'], 'model': plain['model']}


def _save_checkpoint(path: Path, cfg: TrainConfig, model: nn.Module,
                     criterion: Optional[nn.Module], optimizer: torch.optim.Optimizer,
                     epoch: int, history: List[Dict[str, float]]) -> None:
    state = {
        'epoch': epoch,
        'model': model.state_dict(),
        'criterion': criterion.state_dict() if criterion is not None else {},
        'optimizer': optimizer.state_dict(),
        'history': [{k: float(v) for k, v in row.items()} for row in history],
        'identity': repr(_identity(cfg)),
    }
    tmp = path.with_name(path.name + '.tmp')
    torch.save(state, tmp)
    os.replace(tmp, path)


def _checkpoint_epoch(path: Path) -> int:
    return int(torch.load(path, map_location='cpu', weights_only=True)['epoch'])


def _load_checkpoint(path: Path, cfg: TrainConfig, model: nn.Module,
                     criterion: Optional[nn.Module], optimizer: torch.optim.Optimizer,
                     device: torch.device) -> Tuple[int, List[Dict[str, float]]]:
    if not path.is_file():
        raise FileNotFoundError(f'cannot resume: no checkpoint at {path}')
    state = torch.load(path, map_location=device, weights_only=True)
    if state.get('identity') != repr(_identity(cfg)):
        raise ValueError(
            f'cannot resume from {path}: it was written for {state.get("identity")}, '
            f'this run is {_identity(cfg)}')
    model.load_state_dict(state['model'])
    if criterion is not None:
        criterion.load_state_dict(state['criterion'])
    optimizer.load_state_dict(state['optimizer'])
    return int(state['epoch']), list(state['history'])


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
