# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The ``pose-reloc`` command line: one thin subcommand per library function.

Each subcommand lives in ``pose_reloc/commands/<name>.py`` and defines
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported lazily so that ``pose-reloc info`` does not import torch.
"""

import argparse
import importlib
import sys
from typing import List, Optional

from pose_reloc import __version__

#: subcommand name -> module under ``pose_reloc.commands``.
SUBCOMMANDS = {
    'info': 'info',
    'synth': 'synth',
    'render-cloud': 'render_cloud',
    'dance': 'dance',
    'train': 'train',
    'eval': 'evaluate',
    'extract': 'extract',
    'replay': 'replay',
    'bag-eval': 'bag_eval',
    'demo': 'demo',
}


def _load(module_name: str):
    return importlib.import_module(f'pose_reloc.commands.{module_name}')


def build_parser(argv: Optional[List[str]] = None) -> argparse.ArgumentParser:
    """Build the top-level parser; only the chosen subcommand's module is imported."""
    parser = argparse.ArgumentParser(
        prog='pose-reloc',
        description='Camera relocalization in a known map: data, training, evaluation, ROS.')
    parser.add_argument('--version', action='version', version=f'pose_reloc {__version__}')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    chosen = next((a for a in (argv or []) if not a.startswith('-')), None)
    for name, module_name in SUBCOMMANDS.items():
        if chosen is not None and name != chosen:
            sub.add_parser(name, help='(see pose-reloc %s --help)' % name)
            continue
        try:
            module = _load(module_name)
        except ImportError as exc:
            sub.add_parser(name, help=f'unavailable: {exc}')
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``pose-reloc`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not hasattr(args, '_run'):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f'pose-reloc {args.command}: error: {exc}', file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`pose-reloc info ... | head`): not an error of ours.
        sys.stderr.close()
        return 0


if __name__ == '__main__':
    sys.exit(main())
