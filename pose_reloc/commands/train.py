# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc train``: train a model from a preset and write a model bundle."""

import argparse
import logging
from pathlib import Path

from pose_reloc.workflows import train_from_preset

HELP = 'train a relocalization model (apr, mspn, scr, ...) and write a model bundle'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` options to ``parser``."""
    parser.add_argument('--method', required=True,
                        help='training method: apr, mspn, scr (or another registered one)')
    parser.add_argument('--config', required=True,
                        help='preset name under config/train (e.g. posenet-cpu) or a YAML path')
    parser.add_argument('--data', required=True, type=Path,
                        help='dataset root (posed folder, multi-scene root, 7-Scenes, ...)')
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


def run(args: argparse.Namespace) -> int:
    """Run ``pose-reloc train``; logs the run's progress lines (INFO) and prints the bundle path.

    The trainers log what they decided (e.g. SCR: mapping from depth or from RGB + poses, and
    why) at INFO; without a logging configuration of the caller's, one is set up here so that
    the user sees them on stderr.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    path = train_from_preset(args.method, args.config, args.data, args.out, args.overrides,
                             args.resume, args.init, args.device)
    print(path)
    return 0
