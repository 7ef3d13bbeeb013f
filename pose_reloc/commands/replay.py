# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc replay``: publish a bag's messages on their topics with rclpy."""

import argparse
import json
from pathlib import Path

from pose_reloc.commands.extract import add_typestore_argument

HELP = 'replay a rosbag2 bag on its topics (rclpy), optionally with /clock'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``replay`` options to ``parser``."""
    parser.add_argument('bag', type=Path, help='rosbag2 directory, .mcap or .db3')
    parser.add_argument('--rate', type=float, default=1.0, help='playback speed factor')
    parser.add_argument('--clock', action='store_true',
                        help='publish the bag time on /clock (for use_sim_time)')
    parser.add_argument('--topics', nargs='*', default=None, help='only these topics')
    parser.add_argument('--wait-for', nargs='*', default=None,
                        help='topics that need a subscriber before playback starts (replayed '
                             "or not, e.g. a scorer's pose topic); default: the image "
                             'topics, replaying anyway after --wait-timeout')
    parser.add_argument('--no-wait', action='store_true',
                        help='start at once, without waiting for subscribers')
    parser.add_argument('--wait-timeout', type=float, default=30.0,
                        help='seconds to wait for those subscribers')
    parser.add_argument('--publish-log', type=Path, default=None,
                        help='write [topic, stamp_ns, wall_s] of each stamped message (JSON)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_typestore_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``pose-reloc replay``; prints the report JSON."""
    from pose_reloc.ros.replay import replay_bag_standalone

    report = replay_bag_standalone(args.bag, rate=args.rate, clock=args.clock,
                                   topics=args.topics,
                                   wait_for=() if args.no_wait else args.wait_for,
                                   wait_timeout_s=args.wait_timeout,
                                   publish_log=args.publish_log,
                                   progress=not args.no_progress,
                                   typestore=args.typestore)
    print(json.dumps(report, indent=2))
    return 0
