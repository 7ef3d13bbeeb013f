# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Training methods: ``method name -> trainer``.

A method module ``pose_reloc.training.<method>`` defines
``train(cfg, data, out_bundle, resume=False, init_bundle=None) -> Path`` and calls
``register_trainer('<method>', train)`` (and ``config.register_model_config``) at import.
:func:`get_trainer` imports that module on first use, so adding a method needs no edit here.
A single-domain method's ``data`` is one dataset root (a ``Path``); a method that registers
``roles=('source', 'target')`` gets a :class:`~pose_reloc.data.roles.DataRoles` instead
(``pose-reloc train --data source=A --data target=B``).
A trainer writes the bundle only; :func:`pose_reloc.workflows.train_bundle` (what
``pose-reloc train`` runs) also calibrates its covariance on the frames of
``calibration_role``, which needs a localizer, i.e. the inference package, which training
does not import.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple

from pose_reloc.core.registry import LazyRegistry
from pose_reloc.data.roles import DEFAULT_ROLE

TrainFn = Callable[..., Path]


@dataclass(frozen=True)
class Trainer:
    """A registered training method.

    Attributes:
        fn: ``train(cfg, data, out_bundle, resume=False, init_bundle=None) -> Path``.
        roles: data roles it reads; ``(DEFAULT_ROLE,)`` means one bare root, passed as a
            ``Path``; anything else means a ``DataRoles``.
        calibration_role: the role whose held-out frames calibrate the bundle's covariance
            (None: the output is not a localizer bundle, nothing to calibrate).
    """

    fn: TrainFn
    roles: Tuple[str, ...] = (DEFAULT_ROLE,)
    calibration_role: Optional[str] = DEFAULT_ROLE

    @property
    def takes_roles(self) -> bool:
        """True when the trainer gets a ``DataRoles`` rather than one root."""
        return self.roles != (DEFAULT_ROLE,)


TRAINERS: LazyRegistry[Trainer] = LazyRegistry(
    'training method', lambda method: f'pose_reloc.training.{method}')


def register_trainer(method: str, fn: TrainFn, roles: Sequence[str] = (DEFAULT_ROLE,),
                     calibration_role: Optional[str] = DEFAULT_ROLE) -> None:
    """Register ``fn`` as the trainer of ``method`` (see :class:`Trainer` for the arguments)."""
    TRAINERS.register(method, Trainer(fn, tuple(roles), calibration_role))


def get_trainer(method: str) -> TrainFn:
    """Return the train function of ``method`` (importing its module on first use).

    Raises:
        ValueError: if no module registers ``method``.
    """
    return TRAINERS.get(method).fn


def trainer_entry(method: str) -> Trainer:
    """Return the registered :class:`Trainer` of ``method`` (importing its module).

    Raises:
        ValueError: if no module registers ``method``.
    """
    return TRAINERS.get(method)
