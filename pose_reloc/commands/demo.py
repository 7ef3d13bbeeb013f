# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc demo``: the project's end-to-end demonstration.

For now the demo is the Foundation self-check (:func:`pose_reloc.data.selfcheck.selfcheck`):
it loads every dataset format from the shared test data and a written Cambridge fixture,
checks one known answer per format and prints a summary. ``--selfcheck`` runs only that
step; later stages of the demo add their own steps after it in :func:`run`.
"""

import json

from pose_reloc.data.selfcheck import default_data_dir, format_selfcheck, selfcheck

HELP = 'Run the demo (currently: a self-check that loads every dataset format).'


def add_arguments(parser):
    """Add the ``demo`` arguments."""
    parser.add_argument('--selfcheck', action='store_true',
                        help='run only the dataset-format self-check')
    parser.add_argument('--data-dir', default=str(default_data_dir()),
                        help='shared test data folder (default: %(default)s)')
    parser.add_argument('--json', action='store_true', help='print the report as JSON')


def run_selfcheck(args) -> bool:
    """Run the self-check step, print its report, return whether it passed."""
    report = selfcheck(args.data_dir)
    print(json.dumps(report, indent=2) if args.json else format_selfcheck(report))
    return bool(report['ok'])


def run(args) -> int:
    """Run the demo steps; return 0 if all passed, else 1."""
    return 0 if run_selfcheck(args) else 1
