# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc train``: train a model from a preset and write a model bundle."""

import argparse
import logging
import os
from pathlib import Path
import subprocess
import sys
from typing import List

from pose_reloc.core.distributed import launched_by_torchrun
from pose_reloc.workflows import train_from_preset

HELP = 'train a relocalization model (apr, mspn, scr, ...) and write a model bundle'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` options to ``parser``."""
    parser.add_argument('--method', required=True,
                        help='training method: apr, mspn, scr (or another registered one)')
    parser.add_argument('--config', required=True,
                        help='preset name under config/train (e.g. posenet-cpu) or a YAML path')
    parser.add_argument('--data', required=True, action='append', metavar='[ROLE=]ROOT',
                        help='dataset root (posed folder, multi-scene root, 7-Scenes, ...); '
                        'methods that read several give each a role and repeat it, e.g. '
                        '--data source=ROOM_A --data target=ROOM_B')
    parser.add_argument('--out', required=True, type=Path, help='output bundle directory')
    parser.add_argument('--set', dest='overrides', action='append', default=[],
                        metavar='KEY=VALUE',
                        help='override a preset value, e.g. --set optim.lr=3e-4 (repeatable)')
    parser.add_argument('--resume', action='store_true',
                        help='continue from the checkpoint in <out>.work/')
    parser.add_argument('--init', type=Path, default=None, metavar='BUNDLE',
                        help='initialize from an existing bundle (fine-tune a new scene)')
    parser.add_argument('--device', default=None,
                        help='auto, cpu, cuda or cuda:N (default: the preset run.device)')
    parser.add_argument('--nproc', type=int, default=1, metavar='N',
                        help='data-parallel training on N processes of this machine (one per '
                        'GPU on CUDA, gloo on CPU), started with torchrun; for several '
                        'machines run torchrun yourself (see README)')


def run(args: argparse.Namespace) -> int:
    """Run ``pose-reloc train``; logs the run's progress lines (INFO) and prints the bundle path.

    The trainers log what they decided (e.g. SCR: mapping from depth or from RGB + poses, and
    why) at INFO; without a logging configuration of the caller's, one is set up here so that
    the user sees them on stderr.
    """
    if args.nproc < 1:
        raise ValueError(f'--nproc must be >= 1, got {args.nproc}')
    if args.nproc > 1 and not launched_by_torchrun():
        check_before_launch(args)
        return subprocess.call(torchrun_command(args))
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    path = train_from_preset(args.method, args.config, args.data, args.out, args.overrides,
                             args.resume, args.init, args.device)
    if int(os.environ.get('RANK', '0')) == 0:  # one line from a torchrun launch, not N
        print(path)
    return 0


def check_before_launch(args: argparse.Namespace) -> None:
    """Check what every process would refuse, once, before torchrun starts ``args.nproc``.

    Without it each process prints the same error inside torchrun's failure report.

    Raises:
        ValueError: for an unknown preset key, a data role the method does not read, or an
            ``optim.batch_size`` (the global batch) that does not divide by ``--nproc``.
        FileNotFoundError: for a missing preset or dataset path.
    """
    from pose_reloc.data.roles import check_roles
    from pose_reloc.training.config import load_preset
    from pose_reloc.training.registry import trainer_entry
    from pose_reloc.workflows import as_roles, check_data_paths
    overrides = list(args.overrides) + ([f'run.device={args.device}'] if args.device else [])
    cfg = load_preset(args.config, overrides, method=args.method)
    roles = as_roles(args.data)
    check_roles(args.method, roles, trainer_entry(args.method).roles)
    check_data_paths(args.method, roles)
    batch = cfg.optim.batch_size
    if batch % args.nproc:
        raise ValueError(f'optim.batch_size {batch} (the global batch) does not divide between '
                         f'--nproc {args.nproc} processes; set --set optim.batch_size='
                         f'{max(batch // args.nproc, 1) * args.nproc} or another multiple')


def torchrun_command(args: argparse.Namespace) -> List[str]:
    """Return the torchrun command that runs this ``train`` on ``args.nproc`` local processes.

    ``--standalone`` picks a free local rendezvous port; torchrun sets ``OMP_NUM_THREADS=1``
    per process unless it is set already.
    """
    command = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
               f'--nproc_per_node={args.nproc}', '-m', 'pose_reloc.cli', 'train',
               '--method', args.method, '--config', str(args.config), '--out', str(args.out)]
    for value in args.data:
        command += ['--data', str(value)]
    for item in args.overrides:
        command += ['--set', item]
    if args.resume:
        command.append('--resume')
    if args.init is not None:
        command += ['--init', str(args.init)]
    if args.device:
        command += ['--device', args.device]
    return command
