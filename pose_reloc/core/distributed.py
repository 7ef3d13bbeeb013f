# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Data-parallel runs with ``torch.distributed``: who am I, and set-up from torchrun's variables.

A run started by ``torchrun`` (or ``pose-reloc train --nproc N``, which starts torchrun) has
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` in its
environment. :func:`init_from_env` joins the process group (``gloo`` on CPU, ``nccl`` on
CUDA); everything else asks :func:`rank` / :func:`world_size`, which answer ``0`` / ``1`` in a
plain single-process run, so that single-process code needs no branch.
"""

import datetime
import os
from typing import Optional

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """Return True inside an initialized process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """Return the global rank of this process (0 outside a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Return the number of processes of the group (1 outside a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """Return True on the process that writes files (rank 0, or a single process)."""
    return rank() == 0


def barrier() -> None:
    """Wait for every process of the group (no-op outside one)."""
    if is_distributed():
        dist.barrier()


def local_rank() -> int:
    """Return ``LOCAL_RANK`` from torchrun's environment (0 when unset)."""
    return int(os.environ.get('LOCAL_RANK', '0'))


def launched_by_torchrun() -> bool:
    """Return True when torchrun's variables say this process is one of several."""
    return int(os.environ.get('WORLD_SIZE', '1')) > 1


def init_from_env(device: torch.device, timeout_s: float = 600.0) -> bool:
    """Join the process group described by torchrun's environment variables.

    Args:
        device: the training device of this process; ``cuda`` selects the ``nccl`` backend
            (and ``torch.cuda.set_device``), anything else ``gloo``.
        timeout_s: collective timeout, seconds.

    Returns:
        True when a group of more than one process was joined (or already was); False for
        a single-process run (no ``WORLD_SIZE`` > 1 in the environment).

    Raises:
        RuntimeError: when the rendezvous fails (torch's message names the address).
    """
    if not launched_by_torchrun():
        return False
    if dist.is_initialized():
        return True
    backend = 'nccl' if device.type == 'cuda' else 'gloo'
    if device.type == 'cuda':
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend,
                            timeout=datetime.timedelta(seconds=timeout_s))
    return True


def shutdown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def default_cuda_index() -> Optional[int]:
    """Return the CUDA index of this process in a torchrun launch (``LOCAL_RANK``), else None."""
    return local_rank() if launched_by_torchrun() else None
