# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Training methods: ``method name -> train function``.

A method module ``pose_reloc.training.<method>`` defines
``train(cfg, data_root, out_bundle, resume=False, init_bundle=None) -> Path`` and calls
``register_trainer('<method>', train)`` (and ``config.register_model_config``) at import.
:func:`get_trainer` imports that module on first use, so adding a method needs no edit here.
A trainer writes the bundle only; :func:`pose_reloc.workflows.train_bundle` (what
``pose-reloc train`` runs) also calibrates its covariance, which needs a localizer, i.e. the
inference package, which training does not import.
"""

from pathlib import Path
from typing import Callable

from pose_reloc.core.registry import LazyRegistry

TrainFn = Callable[..., Path]
TRAINERS: LazyRegistry[TrainFn] = LazyRegistry(
    'training method', lambda method: f'pose_reloc.training.{method}')


def register_trainer(method: str, fn: TrainFn) -> None:
    """Register ``fn(cfg, data_root, out_bundle, resume=False, init_bundle=None) -> Path``."""
    TRAINERS.register(method, fn)


def get_trainer(method: str) -> TrainFn:
    """Return the train function of ``method`` (importing its module on first use).

    Raises:
        ValueError: if no module registers ``method``.
    """
    return TRAINERS.get(method)
