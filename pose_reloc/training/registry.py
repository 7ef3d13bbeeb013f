# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Training methods: ``method name -> train function``.

A method module ``pose_reloc.training.<method>`` defines
``train(cfg, data_root, out_bundle, resume=False, init_bundle=None) -> Path`` and calls
``register_trainer('<method>', train)`` (and ``config.register_model_config``) at import.
:func:`get_trainer` imports that module on first use, so adding a method needs no edit here.
"""

import importlib
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Union

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


def train_from_preset(method: str, config: str, data: Union[str, Path], out: Union[str, Path],
                      overrides: Sequence[str] = (), resume: bool = False,
                      init: Optional[Path] = None, device: Optional[str] = None) -> Path:
    """Load a preset, apply ``key=value`` overrides and run the method's trainer.

    Args:
        method: training method (``apr``, ``mspn``, ``scr``, ...).
        config: preset name under ``config/train`` or a YAML path.
        data: dataset root.
        out: output bundle directory.
        overrides: ``section.key=value`` strings (the preset itself is never mutated).
        resume: continue from the checkpoint in ``<out>.work/``.
        init: bundle to initialize from (fine-tuning).
        device: ``auto``, ``cpu``, ``cuda[:N]``; None keeps the preset's ``run.device``.

    Returns:
        The written bundle directory.
    """
    from pose_reloc.training.config import load_preset

    overrides = list(overrides)
    if device:
        overrides.append(f'run.device={device}')
    cfg = load_preset(config, overrides, method=method)
    return get_trainer(method)(cfg, Path(data), Path(out), resume=resume, init_bundle=init)
