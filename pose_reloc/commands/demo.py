# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc demo``: the project's end-to-end demonstration.

First the Foundation self-check (:func:`pose_reloc.data.selfcheck.selfcheck`): it loads
every dataset format from the shared test data and a written Cambridge fixture, checks one
known answer per format and prints a summary. ``--selfcheck`` runs only that step. Then the
ROS demo (:func:`pose_reloc.ros.demo.run_demo`): a synthetic robot run recorded as a bag,
a model trained from the extracted bag on CPU, the real node fed by a bag replay in separate
processes, accuracy / latency printed and a trajectory plot written (``--quick`` for CI).
"""

import json

from pose_reloc.data.selfcheck import default_data_dir, format_selfcheck, selfcheck

HELP = ('Run the demo: dataset self-check, then synthetic bag -> training -> ROS node on the '
        'replay (--quick for CI)')


def add_arguments(parser):
    """Add the ``demo`` arguments."""
    parser.add_argument('--selfcheck', action='store_true',
                        help='run only the dataset-format self-check')
    parser.add_argument('--data-dir', default=str(default_data_dir()),
                        help='shared test data folder (default: %(default)s)')
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    parser.add_argument('--quick', action='store_true',
                        help='ROS demo: the fast CI variant (tiny model, ~1 minute)')
    parser.add_argument('--out', default='demo_out',
                        help='ROS demo output folder, must not exist (default: %(default)s)')


def run_selfcheck(args) -> bool:
    """Run the self-check step, print its report, return whether it passed."""
    report = selfcheck(args.data_dir)
    print(json.dumps(report, indent=2) if args.json else format_selfcheck(report))
    return bool(report['ok'])


def run_ros_demo(args) -> bool:
    """Run the ROS demo (:func:`pose_reloc.ros.demo.run_demo`), print it, return success."""
    from pose_reloc.ros.demo import format_demo, run_demo
    report = run_demo(args.out, quick=args.quick)
    print(json.dumps(report, indent=2) if args.json else format_demo(report))
    return report['poses_received'] > 0


def run(args) -> int:
    """Run the demo steps; return 0 if all passed, else 1."""
    if not run_selfcheck(args):
        return 1
    if args.selfcheck:
        return 0
    return 0 if run_ros_demo(args) else 1
