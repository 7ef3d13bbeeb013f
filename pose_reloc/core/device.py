# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Torch device choice and seeding, shared by training and inference."""

import random

import numpy as np
import torch

from pose_reloc.core.distributed import default_cuda_index


def pick_device(name: str = 'auto') -> torch.device:
    """Return the torch device for ``name``.

    Args:
        name: ``auto`` (CUDA when usable, else CPU), ``cpu``, ``cuda`` or ``cuda:N``. In a
            torchrun launch, ``auto`` and ``cuda`` mean ``cuda:LOCAL_RANK`` (one GPU per
            process).

    Raises:
        ValueError: for an unknown name or when CUDA is requested but unavailable.
    """
    if name in ('', 'auto'):
        name = 'cuda' if _cuda_usable() else 'cpu'
    if name == 'cpu':
        return torch.device('cpu')
    if name.startswith('cuda'):
        if not _cuda_usable():
            raise ValueError(f'device {name!r} requested but CUDA is not available')
        index = default_cuda_index()
        if name == 'cuda' and index is not None:
            return torch.device('cuda', index)
        return torch.device(name)
    raise ValueError(f'unknown device {name!r} (use auto, cpu, cuda or cuda:N)')


def _cuda_usable() -> bool:
    try:
        return bool(torch.cuda.is_available()) and torch.cuda.device_count() > 0
    except RuntimeError:
        return False


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) random generators."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
