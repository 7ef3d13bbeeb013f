# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc extract``: a rosbag2 or ROS 1 bag -> a posed folder (or a TUM trajectory)."""

import argparse
import json
from pathlib import Path

HELP = 'extract images + ground-truth poses from a rosbag2 or ROS 1 bag into a posed folder'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``extract`` options to ``parser``."""
    parser.add_argument('bag', type=Path,
                        help='rosbag2 directory, .mcap or .db3, or a ROS 1 .bag')
    parser.add_argument('out', type=Path, help='output folder (must not exist)')
    parser.add_argument('--image-topic', default=None,
                        help='Image or CompressedImage topic; omit for a pose-only TUM file')
    parser.add_argument('--camera-info-topic', default=None, help='CameraInfo topic')
    parser.add_argument('--camera', type=Path, default=None,
                        help='camera_info YAML when the bag has no camera_info')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--pose-topic', default=None,
                        help='ground truth: PoseStamped, PoseWithCovarianceStamped or Odometry')
    source.add_argument('--tf-parent', default=None, help='ground truth: TF chain parent (map)')
    source.add_argument('--no-poses', action='store_true',
                        help='no ground truth: write the images alone (OUT/rgb/ + camera.yaml), '
                        'unlabeled frames for a target domain or a photo pool')
    parser.add_argument('--tf-child', default=None,
                        help="TF chain child (default: the image's frame_id)")
    parser.add_argument('--every', type=int, default=1, help='keep every N-th image')
    parser.add_argument('--depth-topic', default=None,
                        help='depth Image topic aligned to the images (16UC1 millimetres or '
                             '32FC1 metres), written as depth/ of the dataset')
    parser.add_argument('--depth-tolerance', type=float, default=0.005, metavar='S',
                        help='largest image-to-depth stamp difference, seconds (default: '
                             '%(default)s); frames without a depth within it are dropped')
    parser.add_argument('--start', type=float, default=None,
                        help='seconds after the bag start (log time) to begin')
    parser.add_argument('--end', type=float, default=None,
                        help='seconds after the bag start (log time) to stop')
    parser.add_argument('--scene-name', default=None, help='scene name (default: folder name)')
    parser.add_argument('--split', default='', choices=('', 'train', 'val', 'test'),
                        help='split label of the extracted frames (default: none)')
    add_typestore_argument(parser)


def add_typestore_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--typestore`` (standard message types of bags that do not store them)."""
    from pose_reloc.ros.bag_io import TYPESTORE_NAMES
    parser.add_argument('--typestore', default='auto', choices=TYPESTORE_NAMES,
                        help='message types for bags without stored definitions (Humble and '
                             "older): the recording's ROS distribution; auto: from the bag's "
                             'metadata (default)')


def run(args: argparse.Namespace) -> int:
    """Run ``pose-reloc extract``; prints the report JSON."""
    from pose_reloc.ros.extract import extract_bag

    report = extract_bag(args.bag, args.out, args.image_topic,
                         camera_info_topic=args.camera_info_topic, pose_topic=args.pose_topic,
                         tf_parent=args.tf_parent, tf_child=args.tf_child, every=args.every,
                         start=args.start, end=args.end, camera=args.camera,
                         scene_name=args.scene_name, split=args.split,
                         typestore=args.typestore, depth_topic=args.depth_topic,
                         depth_tolerance_s=args.depth_tolerance, no_poses=args.no_poses)
    print(json.dumps(report, indent=2))
    return 0
