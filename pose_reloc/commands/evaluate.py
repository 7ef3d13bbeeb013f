# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``pose-reloc eval``: evaluate a model bundle on a posed dataset."""

import argparse
import json
from pathlib import Path

HELP = 'evaluate a model bundle on a dataset split (errors, rates, latency, TUM, plot)'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``eval`` options to ``parser``."""
    parser.add_argument('bundle', type=Path, help='model bundle directory')
    parser.add_argument('data', type=Path, help='dataset root')
    parser.add_argument('--split', default='test', help="split to evaluate ('' = all frames)")
    parser.add_argument('--scenes', nargs='*', default=None, help='only these scenes')
    parser.add_argument('--oracle-scene', action='store_true',
                        help='give the true scene to multi-scene models (MSPN oracle head)')
    parser.add_argument('--max-frames', type=int, default=0,
                        help='at most this many frames per scene, evenly spaced (0 = all)')
    parser.add_argument('--device', default='auto', help='auto, cpu, cuda or cuda:N')
    parser.add_argument('--json', type=Path, default=None, help='write the report JSON here')
    parser.add_argument('--tum', type=Path, default=None,
                        help='write predicted poses as TUM (per scene if several)')
    parser.add_argument('--plot', type=Path, default=None,
                        help='write a top-down trajectory plot (PNG)')
    parser.add_argument('--mc-samples', type=int, default=None,
                        help='APR: MC-dropout samples for the covariance (0 = off)')
    parser.add_argument('--refine-iterations', type=int, default=None,
                        help='adversarial pose refinement steps (bundles with a '
                        "discriminator; 0 = off; default: the bundle's)")
    parser.add_argument('--refine-step', type=float, default=None,
                        help="refinement step size (default: the bundle's, else 1e-3)")
    parser.add_argument('-o', '--option', action='append', default=[], metavar='NAME=VALUE',
                        help="any other option the bundle's localizer declares (e.g. "
                        'min_inliers=30 for SCR); repeatable; an unknown name is refused '
                        'with the list of accepted ones')


def run(args: argparse.Namespace) -> int:
    """Run ``pose-reloc eval``; prints the overall summary and per-scene medians."""
    from pose_reloc.inference import check_localizer_options
    from pose_reloc.inference.evaluate import evaluate

    from pose_reloc.inference.base import parse_option_assignments

    options = parse_option_assignments(args.option)
    for name in ('mc_samples', 'refine_iterations', 'refine_step'):
        value = getattr(args, name)
        if value is not None:
            if name in options:
                flag = '--' + name.replace('_', '-')
                raise ValueError(f'option {name} given twice ({flag} and --option)')
            options[name] = value
    # checked before they become keywords: '-o device=cpu' is an unknown localizer option,
    # not evaluate()'s own device (a TypeError) nor its progress or json_out
    options = check_localizer_options(args.bundle, options)
    report = evaluate(args.bundle, args.data, split=args.split, scenes=args.scenes,
                      device=args.device, oracle_scene=args.oracle_scene,
                      max_frames=args.max_frames, json_out=args.json, tum_out=args.tum,
                      plot_out=args.plot, **options)
    summary = {k: v for k, v in report.items() if k not in ('per_frame', 'per_scene')}
    print(json.dumps(summary, indent=2))
    for name, scene in report['per_scene'].items():
        print(f'{name}: {scene["frames"]} frames, median {scene["median_translation_m"]} m, '
              f'{scene["median_rotation_deg"]} deg')
    return 0
