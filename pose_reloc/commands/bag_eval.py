# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc bag-eval``: evaluate a model bundle on a bag (offline, live or attached)."""

import argparse
import json
from pathlib import Path

from pose_reloc.commands.extract import add_typestore_argument

HELP = 'evaluate a bundle on a bag: offline (Localizer) or live (replay -> node -> poses)'


def _param(text: str):
    name, sep, value = text.partition('=')
    if not sep or not name:
        raise argparse.ArgumentTypeError(f'expected NAME=VALUE, got {text!r}')
    for cast in (int, float):
        try:
            return name, cast(value)
        except ValueError:
            pass
    return name, {'true': True, 'false': False}.get(value.lower(), value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``bag-eval`` options to ``parser``."""
    parser.add_argument('bundle', type=Path, help='model bundle directory')
    parser.add_argument('bag', type=Path,
                        help='rosbag2 directory, .mcap or .db3 (offline: also a ROS 1 .bag)')
    parser.add_argument('--out', type=Path, required=True, help='report folder (new)')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--live', action='store_true',
                      help='start the node and a replay (separate processes) and record')
    mode.add_argument('--attach', action='store_true',
                      help='only record and score a node/replay started elsewhere')
    parser.add_argument('--image-topic', default='/camera/image_raw')
    parser.add_argument('--camera-info-topic', default='/camera/camera_info',
                        help="CameraInfo topic ('' for none: --camera or the bundle's)")
    parser.add_argument('--camera', type=Path, default=None, help='camera_info YAML')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--pose-topic', default=None, help='ground-truth pose topic')
    source.add_argument('--tf-parent', default=None, help='ground truth: TF chain parent')
    parser.add_argument('--tf-child', default=None, help='TF child (default: image frame)')
    parser.add_argument('--every', type=int, default=1, help='(offline) every N-th image')
    parser.add_argument('--rate', type=float, default=1.0, help='(live) replay speed')
    parser.add_argument('--device', default='auto', help='auto, cpu or cuda')
    add_typestore_argument(parser)
    parser.add_argument('--param', type=_param, action='append', default=[],
                        metavar='NAME=VALUE', help='(live) extra node parameter')


def run(args: argparse.Namespace) -> int:
    """Run ``pose-reloc bag-eval``; prints the summary JSON (per-frame rows in the files)."""
    from pose_reloc.ros import bag_eval

    gt = {'pose_topic': args.pose_topic, 'tf_parent': args.tf_parent,
          'tf_child': args.tf_child, 'camera': args.camera, 'typestore': args.typestore}
    info = args.camera_info_topic or None
    if args.live:
        params = dict(args.param)
        params.setdefault('device', args.device)
        report = bag_eval.live_bag_eval(args.bundle, args.bag, args.out, args.image_topic,
                                        camera_info_topic=info, rate=args.rate,
                                        node_parameters=params, **gt)
    elif args.attach:
        report = bag_eval.attach_bag_eval(args.bundle, args.bag, args.out, args.image_topic,
                                          camera_info_topic=info, **gt)
    else:
        report = bag_eval.offline_bag_eval(args.bundle, args.bag, args.out, args.image_topic,
                                           device=args.device, camera_info_topic=info,
                                           every=args.every, **gt)
    summary = {k: v for k, v in report.items() if k not in ('per_frame', 'per_scene')}
    print(json.dumps(summary, indent=2, default=str))
    return 0
