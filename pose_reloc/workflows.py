# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Steps that need both training and inference: train a bundle, then calibrate it.

Training and inference are siblings (neither imports the other); this module sits above
both, beside ``commands`` and ``ros``, and is what ``pose-reloc train`` runs.
"""

from pathlib import Path
from typing import Any, Optional, Sequence, Union

from pose_reloc.inference.calibration import calibrate_after_training, check_calibration_split
from pose_reloc.training.config import load_preset
from pose_reloc.training.registry import get_trainer


def train_bundle(method: str, cfg: Any, data_root: Union[str, Path],
                 out_bundle: Union[str, Path], resume: bool = False,
                 init_bundle: Optional[Path] = None) -> Path:
    """Run ``method``'s trainer, then calibrate the bundle's covariance on held-out frames.

    Args:
        method: training method (``apr``, ``mspn``, ``scr``, ...).
        cfg: its ``TrainConfig``.
        data_root: dataset root.
        out_bundle: output bundle directory.
        resume: continue from the checkpoint in ``<out>.work/``.
        init_bundle: bundle to initialize from (fine-tuning).

    Returns:
        The bundle directory, with a ``covariance_calibration`` entry when
        ``cfg.data.calibration_split`` has frames
        (:func:`~pose_reloc.inference.calibration.calibrate_after_training`).

    Raises:
        ValueError: for a calibration split equal to the training split (before training),
            and whatever the trainer raises.
    """
    check_calibration_split(cfg)
    bundle = get_trainer(method)(cfg, Path(data_root), Path(out_bundle), resume=resume,
                                 init_bundle=init_bundle)
    return calibrate_after_training(bundle, data_root, cfg)


def train_from_preset(method: str, config: str, data: Union[str, Path], out: Union[str, Path],
                      overrides: Sequence[str] = (), resume: bool = False,
                      init: Optional[Path] = None, device: Optional[str] = None) -> Path:
    """Load a preset, apply ``key=value`` overrides and run :func:`train_bundle`.

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
    overrides = list(overrides)
    if device:
        overrides.append(f'run.device={device}')
    cfg = load_preset(config, overrides, method=method)
    return train_bundle(method, cfg, data, out, resume=resume, init_bundle=init)
