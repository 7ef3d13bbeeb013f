# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc synth OUT``: generate a synthetic multi-scene dataset (and optionally a bag).

Example::

    pose-reloc synth /tmp/synth --scenes 3 --frames 100 --bag /tmp/synth_seq.mcap
"""

import argparse
import json
from pathlib import Path
import time

HELP = 'generate a synthetic multi-scene posed-folder dataset (photo or scan domain) and a bag'


def parse_size(text: str):
    """Parse ``WxH`` (e.g. ``320x240``) into ``(width, height)``; raise ArgumentTypeError."""
    parts = text.lower().split('x')
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f'size must look like 320x240, got {text!r}')
    return int(parts[0]), int(parts[1])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``synth`` options to ``parser``."""
    from pose_reloc.data.synthetic.presets import PRESETS
    parser.add_argument('out', type=Path, help='dataset root to create (one folder per scene)')
    parser.add_argument('--preset', default='room', metavar='NAME|FILE.yaml',
                        help=f'scene / path / camera preset: {", ".join(sorted(PRESETS))} or '
                             f'a YAML file (default: room)')
    parser.add_argument('--set', action='append', default=[], metavar='SECTION.FIELD=VALUE',
                        help='override a preset field, e.g. --set path.fps=15 (repeatable)')
    parser.add_argument('--scenes', type=int, default=2, help='number of scenes (default: 2)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    parser.add_argument('--frames', type=int, default=120,
                        help='trajectory frames per scene, split over its sequences '
                             '(default: 120)')
    parser.add_argument('--size', type=parse_size, default=(320, 240), metavar='WxH',
                        help='image size (default: 320x240)')
    parser.add_argument('--domain', choices=('photo', 'scan'), default='photo',
                        help='photo: ray-traced with camera effects; scan: splatted point '
                             'cloud with holes (default: photo)')
    parser.add_argument('--random-views', type=int, default=0, metavar='N',
                        help='extra random views per scene (sequence "views", train split)')
    parser.add_argument('--val-sequences', type=int, default=0, metavar='N',
                        help='extra held-out trajectories per scene in the val split '
                             '(val-01, ...; frames/sequences frames each; for covariance '
                             'calibration, default: 0)')
    parser.add_argument('--export-cloud', action='store_true',
                        help="also write each scene's scan as SCENE/cloud.ply (coloured PLY, "
                             'map frame; the 3-D model of pose-reloc dance)')
    parser.add_argument('--no-effects', action='store_true',
                        help='photo domain without camera effects (clean shaded renders)')
    parser.add_argument('--bag', type=Path, default=None, metavar='OUT.mcap|OUT.db3|OUT_DIR',
                        help='also export a sequence of the first scene as a rosbag2 bag')
    parser.add_argument('--bag-sequence', default=None,
                        help='sequence to export (default: the first test sequence)')
    parser.add_argument('--bag-format', choices=('rgb8', 'bgr8', 'jpeg'), default='rgb8',
                        help='image messages: Image rgb8/bgr8 or CompressedImage jpeg')
    parser.add_argument('--overwrite', action='store_true', help='replace existing outputs')
    parser.add_argument('--quiet', action='store_true', help='no progress bars')


def run(args: argparse.Namespace) -> int:
    """Generate the dataset (and bag); print a JSON summary; return 0."""
    from pose_reloc.data.synthetic.generate import generate_dataset
    from pose_reloc.data.synthetic.presets import load_preset

    start = time.perf_counter()
    preset = load_preset(args.preset, args.set)
    root = generate_dataset(args.out, preset=preset, scenes=args.scenes, seed=args.seed,
                            frames=args.frames, size=args.size, domain=args.domain,
                            random_views=args.random_views, effects=not args.no_effects,
                            overwrite=args.overwrite, progress=not args.quiet,
                            val_sequences=args.val_sequences,
                            export_cloud=args.export_cloud)
    summary = {'dataset': str(root), 'preset': preset.name, 'scenes': args.scenes,
               'frames': args.scenes * (args.frames + args.random_views + args.val_sequences
                                        * (args.frames // preset.path.sequences)),
               'dataset_seconds': round(time.perf_counter() - start, 2)}
    if args.bag is not None:
        from pose_reloc.ros.bag_export import export_bag
        bag_start = time.perf_counter()
        bag = export_bag(root, args.bag, sequence=args.bag_sequence,
                         image_format=args.bag_format, overwrite=args.overwrite,
                         progress=not args.quiet)
        summary['bag'] = str(bag)
        summary['bag_seconds'] = round(time.perf_counter() - bag_start, 2)
    summary['total_seconds'] = round(time.perf_counter() - start, 2)
    print(json.dumps(summary, indent=2))
    return 0
