# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc dance``: point cloud + unlabeled photos -> SCR bundle (``pose_reloc.dance``).

Example::

    pose-reloc dance --cloud room/cloud.ply --photos room --camera room/camera.yaml
        --out /tmp/dance --config dance-cpu --set dance.variant=cut
"""

import argparse
import json
import logging
from pathlib import Path

HELP = ('DANCE: train an SCR bundle from a coloured point cloud and unlabeled photos (render, '
        'histogram matching or CUT, SCR)')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``dance`` options to ``parser``."""
    parser.add_argument('--cloud', type=Path, required=True,
                        help='coloured point cloud (.ply/.pcd), map frame, z up, metres')
    parser.add_argument('--photos', type=Path, required=True,
                        help='unlabeled photos: a posed dataset (poses ignored) or a folder')
    parser.add_argument('--camera', type=Path, required=True, help='camera.yaml of the photos')
    parser.add_argument('--out', type=Path, required=True,
                        help='output folder; the SCR bundle lands in OUT/bundle')
    parser.add_argument('--config', default='dance-cpu',
                        help='preset under config/dance or a YAML file (default: dance-cpu)')
    parser.add_argument('--set', dest='overrides', action='append', default=[],
                        metavar='SECTION.KEY=VALUE',
                        help='override, e.g. --set dance.variant=histmatch (repeatable)')
    parser.add_argument('--scene', default=None, help="scene name (default: the cloud's folder)")
    parser.add_argument('--quiet', action='store_true', help='no progress bars')


def run(args: argparse.Namespace) -> int:
    """Run the chain; print the report (JSON); return 0."""
    from pose_reloc.dance import load_dance_config, run_dance
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    conf = load_dance_config(args.config, args.overrides)
    report = run_dance(args.cloud, args.photos, args.camera, args.out, conf,
                       scene_name=args.scene, progress=not args.quiet)
    print(json.dumps({k: report[k] for k in ('bundle', 'variant', 'steps')}, indent=2))
    return 0
