# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Steps that need both training and inference: train a bundle, then calibrate it.

Training and inference are siblings (neither imports the other); this module sits above
both, beside ``commands`` and ``ros``, and is what ``pose-reloc train`` runs.
"""

import json
import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from pose_reloc.core import distributed
from pose_reloc.core.device import pick_device
from pose_reloc.core.files import write_json
from pose_reloc.data.roles import check_roles, DataRoles, DEFAULT_ROLE, parse_data_args
from pose_reloc.inference.calibration import calibrate_after_training, check_calibration_split
from pose_reloc.training.config import load_preset
from pose_reloc.training.loop import work_dir_for
from pose_reloc.training.registry import trainer_entry

DataArg = Union[str, Path, DataRoles, Sequence[Union[str, Path]]]


def as_roles(data: DataArg) -> DataRoles:
    """Return ``data`` as :class:`DataRoles` (a root, ``ROLE=ROOT`` strings, or roles)."""
    if isinstance(data, DataRoles):
        return data
    if isinstance(data, (str, Path)):
        return parse_data_args([data])
    return parse_data_args(data)


def check_data_paths(method: str, roles: DataRoles) -> None:
    """Refuse dataset roots that do not exist, naming each as it was given on the command line.

    Raises:
        FileNotFoundError: ``apanet: dataset path not found: --data target=rooms/nope``.
    """
    missing = [f'--data {root}' if role == DEFAULT_ROLE else f'--data {role}={root}'
               for role, root in roles.entries if not Path(root).exists()]
    if missing:
        raise FileNotFoundError(f'{method}: dataset path not found: {", ".join(missing)}')


def train_bundle(method: str, cfg: Any, data: DataArg, out_bundle: Union[str, Path],
                 resume: bool = False, init_bundle: Optional[Path] = None) -> Path:
    """Run ``method``'s trainer, then calibrate the bundle's covariance on held-out frames.

    In a torchrun launch (``WORLD_SIZE`` > 1 in the environment) the process group is joined
    first (gloo on CPU, nccl on CUDA); every process trains, rank 0 alone writes and
    calibrates the bundle.

    Args:
        method: training method (``apr``, ``mspn``, ``scr``, ``apanet``, ...).
        cfg: its ``TrainConfig``.
        data: a dataset root, or data roles (``DataRoles`` or ``ROLE=ROOT`` strings) for
            methods that read several (``source=A``, ``target=B``).
        out_bundle: output bundle directory.
        resume: continue from the checkpoint in ``<out>.work/``.
        init_bundle: bundle to initialize from (fine-tuning).

    Returns:
        The bundle directory, with a ``covariance_calibration`` entry when
        ``cfg.data.calibration_split`` has frames
        (:func:`~pose_reloc.inference.calibration.calibrate_after_training`).

    Raises:
        FileNotFoundError: naming the role and root of each dataset path that does not exist.
        ValueError: for data roles the method does not read, a calibration split equal
            to the training split, a resumed run given other data than it started with
            (all before training), and whatever the trainer raises.
    """
    entry = trainer_entry(method)
    roles = as_roles(data)
    check_roles(method, roles, entry.roles)
    check_data_paths(method, roles)
    check_calibration_split(cfg)
    check_resumed_data(out_bundle, roles, resume)
    joined = distributed.init_from_env(pick_device(cfg.run.device))
    try:
        argument = roles if entry.takes_roles else roles.one(entry.roles[0])
        bundle = entry.fn(cfg, argument, Path(out_bundle), resume=resume,
                          init_bundle=init_bundle)
        if entry.calibration_role is None or not distributed.is_main():
            return Path(bundle)
        return calibrate_after_training(bundle, roles.one(entry.calibration_role), cfg)
    finally:
        if joined:
            distributed.barrier()
            distributed.shutdown()


#: the file in a run's work directory that records the data the run started with.
RUN_DATA_NAME = 'data.json'


def check_resumed_data(out_bundle: Union[str, Path], roles: DataRoles, resume: bool) -> None:
    """Record the data of a new run in ``<out>.work/data.json``; refuse to resume on other data.

    The checkpoint's own identity check covers the method and the model; this covers the
    data, so that ``--resume`` with another ``--data`` does not silently continue the old
    model on a new scene. Roots are compared resolved. A work directory without the record
    (an older run) resumes as before.

    Raises:
        ValueError: naming both data sets and the ways out, when ``resume`` is set and the
            recorded data differ from ``roles``.
    """
    work = work_dir_for(Path(out_bundle))
    record = work / RUN_DATA_NAME
    wanted = {role: [str(Path(r).resolve()) for r in roots]
              for role, roots in roles.as_dict().items()}
    if resume:
        if record.is_file():
            recorded = json.loads(record.read_text(encoding='utf-8'))
            if recorded != wanted:
                raise ValueError(f'cannot resume {out_bundle}: it was trained on {recorded}, '
                                 f'this run gives {wanted}; pass the same --data, or start '
                                 'a new run without --resume (or with another --out)')
        return
    if int(os.environ.get('RANK', '0')) == 0:  # before the process group: torchrun's rank
        work.mkdir(parents=True, exist_ok=True)
        write_json(record, wanted)


def train_from_preset(method: str, config: str, data: DataArg, out: Union[str, Path],
                      overrides: Sequence[str] = (), resume: bool = False,
                      init: Optional[Path] = None, device: Optional[str] = None) -> Path:
    """Load a preset, apply ``key=value`` overrides and run :func:`train_bundle`.

    Args:
        method: training method (``apr``, ``mspn``, ``scr``, ...).
        config: preset name under ``config/train`` or a YAML path.
        data: dataset root, or data roles (see :func:`train_bundle`).
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
