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

import importlib
from pathlib import Path
from typing import Callable, Dict

TrainFn = Callable[..., Path]
_TRAINERS: Dict[str, TrainFn] = {}


def register_trainer(method: str, fn: TrainFn) -> None:
    """Register ``fn(cfg, data_root, out_bundle, resume=False, init_bundle=None) -> Path``."""
    _TRAINERS[method] = fn


def get_trainer(method: str) -> TrainFn:
    """Return the train function of ``method`` (importing its module on first use).

    Raises:
        ValueError: if no module registers ``method``.
    """
    if method not in _TRAINERS:
        module = f'pose_reloc.training.{method}'
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
        if method not in _TRAINERS:
            raise ValueError(f'unknown training method {method!r} '
                             f'(registered: {sorted(_TRAINERS) or "none"})')
    return _TRAINERS[method]
