# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc info DATASET [--json]``: frames, splits, intrinsics and extent per scene."""

import json

from pose_reloc.data.formats import FORMATS
from pose_reloc.data.info import dataset_info, format_info

HELP = 'Summarize a dataset: frames, splits, intrinsics and spatial extent per scene.'


def add_arguments(parser):
    """Add the ``info`` arguments."""
    parser.add_argument('dataset', metavar='DATASET',
                        help='dataset folder: a scene or a multi-scene root')
    parser.add_argument('--format', default='auto', choices=('auto',) + tuple(FORMATS),
                        help='dataset format (default: detect)')
    parser.add_argument('--json', action='store_true',
                        help='print the summary as a JSON object')


def run(args) -> int:
    """Print the dataset summary; return 0."""
    info = dataset_info(args.dataset, args.format)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0
