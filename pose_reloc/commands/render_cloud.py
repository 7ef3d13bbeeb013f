# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc render-cloud CLOUD CAMERA.yaml OUT --views N``: labeled renders of a cloud.

Example::

    pose-reloc render-cloud scan.ply camera.yaml /tmp/renders --views 500 --size 128x96
"""

import argparse
import json
from pathlib import Path
import time

HELP = ('render a coloured point cloud (.ply/.pcd) at random poses into a posed dataset '
        '(RGB, depth, scene coordinates)')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``render-cloud`` options to ``parser``."""
    from pose_reloc.commands.synth import parse_size
    parser.add_argument('cloud', type=Path, help='coloured point cloud, map frame, z up')
    parser.add_argument('camera', type=Path, help='camera.yaml (ROS camera_info YAML)')
    parser.add_argument('out', type=Path, help='posed-folder scene to create')
    parser.add_argument('--views', type=int, required=True, help='number of renders')
    parser.add_argument('--size', type=parse_size, default=None, metavar='WxH',
                        help="resize the camera to this size (default: the camera's)")
    parser.add_argument('--height', type=float, nargs=2, default=(1.0, 1.8), metavar=('LO', 'HI'),
                        help='camera height band above the floor, metres (default 1.0 1.8)')
    parser.add_argument('--pitch', type=float, nargs=2, default=(-8.0, 12.0),
                        metavar=('MEAN', 'AMPLITUDE'), help='pitch, degrees (default -8 12)')
    parser.add_argument('--roll', type=float, default=3.0, help='roll amplitude, degrees')
    parser.add_argument('--min-coverage', type=float, default=0.6,
                        help='keep views whose render covers this fraction (default 0.6)')
    parser.add_argument('--trajectory', type=Path, default=None, metavar='POSES.txt',
                        help='rough trajectory (TUM T_world_cam) to sample around')
    parser.add_argument('--seed', type=int, default=0, help='pose seed (default 0)')
    parser.add_argument('--no-coords', action='store_true', help='do not write coords/*.npy')
    parser.add_argument('--overwrite', action='store_true', help='replace OUT')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def run(args: argparse.Namespace) -> int:
    """Render; print a JSON summary; return 0."""
    from pose_reloc.data.cloud_render import render_cloud_dataset, ViewConfig
    from pose_reloc.geometry.camera import read_camera_yaml
    camera = read_camera_yaml(args.camera)
    if args.size is not None:
        camera = camera.resized(*args.size)
    trajectory = None
    if args.trajectory is not None:
        from pose_reloc.data.tum import read_tum
        trajectory = read_tum(args.trajectory)[1]
    cfg = ViewConfig(height_m=tuple(args.height), pitch_deg=tuple(args.pitch),
                     roll_deg=args.roll, min_coverage=args.min_coverage)
    start = time.perf_counter()
    out = render_cloud_dataset(args.cloud, camera, args.out, args.views, cfg, seed=args.seed,
                               trajectory=trajectory, write_coords=not args.no_coords,
                               overwrite=args.overwrite, progress=not args.quiet)
    seconds = time.perf_counter() - start
    print(json.dumps({'dataset': str(out), 'views': args.views,
                      'size': [camera.width, camera.height], 'seconds': round(seconds, 2),
                      'views_per_s': round(args.views / seconds, 2)}, indent=2))
    return 0
