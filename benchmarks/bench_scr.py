# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""SCR + PnP vs APR on a synthetic scene, with the ground-truth-depth upper bound.

1. Generates a synthetic scene with the project's generator (``--synth-preset``, default
   ``tiny``: one training and one test sequence) unless ``--data`` names an existing one.
2. Upper bound: PnP-RANSAC (the SCR bundle's settings) on the exact scene coordinates of the
   test frames, taken from their depth at the same stride-8 cell centres the network uses.
3. Trains SCR (``--scr-preset``, default ``scr-lite-cpu``) and APR (``--apr-preset``, default
   ``posenet-cpu``) with the same wall-clock budget (``--minutes``) through the registered
   trainers, and evaluates both with ``pose_reloc.inference.evaluate``.

Run: ``.venv/bin/python benchmarks/bench_scr.py`` (about 12 minutes on 2 CPU cores); prints a
table and writes ``benchmarks/results/bench_scr.json``. ``--threads`` sets torch's thread
count (default 1: on this shared 2-core machine one thread trains several times faster than
two when other processes compete for the cores; the JSON records the load average).
"""

import argparse
import dataclasses
from pathlib import Path
import time

import cv2
import numpy as np
from report import run_header, save_report
import torch


from pose_reloc.core.bundle import read_bundle_config
from pose_reloc.data.formats import load_dataset
from pose_reloc.data.records import load_depth
from pose_reloc.geometry.metrics import rotation_error_deg, summarize, translation_error_m
from pose_reloc.geometry.pnp import PnPConfig
from pose_reloc.inference.evaluate import evaluate
from pose_reloc.inference.scr import scr_input_spec
from pose_reloc.models.scr import localize_coords
from pose_reloc.training.config import load_preset
from pose_reloc.training.scr import scene_coordinate_targets
from pose_reloc.workflows import train_bundle

KEYS = ('frames', 'failure_rate', 'median_translation_m', 'p95_translation_m',
        'median_rotation_deg', 'p95_rotation_deg', 'rate_5cm_5deg', 'rate_25cm_2deg',
        'rate_50cm_5deg', 'rate_500cm_10deg')


def upper_bound(data, split, spec, pnp_cfg):
    """Run PnP on exact scene coordinates from depth at the network's cell centres.

    ``spec``: the SCR bundle's input spec (the network's input size for each camera).
    """
    scene = load_dataset(data)[0]
    t_err, r_err, times, ratios, failed = [], [], [], [], 0
    for frame in scene.split(split):
        size = spec.resized_size(frame.camera.width, frame.camera.height)
        camera = frame.camera.resized(*size)
        depth = cv2.resize(load_depth(frame), size, interpolation=cv2.INTER_NEAREST)
        coords = scene_coordinate_targets(depth, camera, frame.T_world_cam)
        start = time.perf_counter()
        result, _ = localize_coords(coords.transpose(2, 0, 1), camera, pnp_cfg)
        times.append(1000 * (time.perf_counter() - start))
        if not result.ok:
            failed += 1
            continue
        ratios.append(result.inlier_ratio)
        T_gt = np.asarray(frame.T_world_cam)[None]
        t_err.append(translation_error_m(result.T_world_cam[None], T_gt)[0])
        r_err.append(rotation_error_deg(result.T_world_cam[None], T_gt)[0])
    out = dict(summarize(np.array(t_err), np.array(r_err)))
    n = len(t_err) + failed
    for key in list(out):
        if key.startswith('rate_'):
            out[key] = float(out[key]) * len(t_err) / n
    out.update({'frames': n, 'failure_rate': failed / n,
                'timings_ms': {'pnp': {'median': float(np.median(times))}},
                'extras': {'inlier_ratio': {'median': float(np.median(ratios))}}})
    return out


def trunk_speed(batch=16, height=64, width=96, repeats=5):
    """Time one training step (forward + backward + Adam) of each SCR trunk, milliseconds."""
    from pose_reloc.models.scr import SCRNet, TRUNKS
    images = torch.randn(batch, 3, height, width)
    out = {}
    for trunk in TRUNKS:
        net = SCRNet(trunk, (128, 64))
        optimizer = torch.optim.Adam(net.parameters(), 1e-3)
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            optimizer.zero_grad()
            net(images).square().mean().backward()
            optimizer.step()
            times.append(1000 * (time.perf_counter() - start))
        out[trunk] = {'step_ms_median': float(np.median(times[1:])),
                      'parameters': int(sum(p.numel() for p in net.parameters()))}
        print(f'{trunk:16s} {out[trunk]["step_ms_median"]:8.1f} ms / step of {batch}x3x{height}x'
              f'{width}, {out[trunk]["parameters"]} parameters', flush=True)
    return out


def train(method, preset, data, out, minutes):
    """Train through the registered trainer; returns (bundle, seconds)."""
    cfg = load_preset(preset, [f'optim.max_minutes={minutes}', 'optim.epochs=100000',
                               'run.progress=false', 'run.checkpoint_every=100000'],
                      method=method)
    start = time.monotonic()
    bundle = train_bundle(method, cfg, data, out)
    return bundle, time.monotonic() - start


def row(name, report, train_s=None):
    """Print and return the figures of one method from an evaluation report."""
    out = {k: report.get(k) for k in KEYS}
    out['train_s'] = train_s
    for stage in ('network', 'pnp', 'total'):
        stats = report.get('timings_ms', {}).get(stage)
        out[f'{stage}_ms_median'] = stats['median'] if stats else None
    ratio = report.get('extras', {}).get('inlier_ratio')
    out['median_inlier_ratio'] = ratio['median'] if ratio else None
    print(f'{name:12s} median {out["median_translation_m"]:.3f} m {out["median_rotation_deg"]:.2f}'
          f' deg | p95 {out["p95_translation_m"]:.3f} m {out["p95_rotation_deg"]:.2f} deg | '
          f'fail {out["failure_rate"]:.2f} | network {out["network_ms_median"]} ms, '
          f'pnp {out["pnp_ms_median"]} ms | inliers {out["median_inlier_ratio"]}', flush=True)
    return out


def main(argv=None):
    """Run the benchmark; returns the result dict (also written as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', type=Path, default=None, help='existing scene folder')
    parser.add_argument('--work', type=Path, default=Path('runs/bench_scr'))
    parser.add_argument('--synth-preset', default='tiny')
    parser.add_argument('--size', default='128x96', help='synthetic image size WxH')
    parser.add_argument('--frames', type=int, default=360)
    parser.add_argument('--random-views', type=int, default=0,
                        help='extra random training views of the synthetic scene')
    parser.add_argument('--scr-preset', default='scr-lite-cpu')
    parser.add_argument('--apr-preset', default='posenet-cpu')
    parser.add_argument('--minutes', type=float, default=4.5)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', type=Path,
                        default=Path(__file__).parent / 'results' / 'bench_scr.json')
    parser.add_argument('--scr-bundle', type=Path, default=None,
                        help='evaluate this SCR bundle instead of training one')
    parser.add_argument('--apr-bundle', type=Path, default=None,
                        help='evaluate this APR bundle instead of training one')
    parser.add_argument('--speed-only', action='store_true',
                        help='only time the training step of each trunk')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report = {
        **run_header('benchmarks/bench_scr.py', argv, threads=args.threads),
        'trunk_speed': trunk_speed(),
    }
    if args.speed_only:
        save_report(report, args.out.with_name(args.out.stem + '_speed.json'))
        return report
    data = args.data
    if data is None:
        from pose_reloc.data.synthetic.generate import generate_scene
        width, height = (int(v) for v in args.size.split('x'))
        data = args.work / f'{args.synth_preset}_{args.size}_{args.frames}_{args.random_views}'
        if not data.exists():
            generate_scene(data, args.synth_preset, seed=0, frames=args.frames,
                           size=(width, height), random_views=args.random_views)
    scr_bundle, scr_s = (args.scr_bundle, _elapsed(args.scr_bundle)) if args.scr_bundle \
        else train('scr', args.scr_preset, data, args.work / 'scr', args.minutes)
    apr_bundle, apr_s = (args.apr_bundle, _elapsed(args.apr_bundle)) if args.apr_bundle \
        else train('apr', args.apr_preset, data, args.work / 'apr', args.minutes)
    config = read_bundle_config(scr_bundle)
    pnp_cfg = PnPConfig(**config['pnp'])
    spec = scr_input_spec(config, scr_bundle)
    results = {
        'gt_depth_upper_bound': row('GT depth+PnP', upper_bound(data, 'test', spec, pnp_cfg)),
        'scr': row('SCR+PnP', evaluate(scr_bundle, data, progress=False,
                                       include_frames=False), scr_s),
        'apr': row('APR', evaluate(apr_bundle, data, progress=False, include_frames=False),
                   apr_s),
    }
    report.update({
        'data': str(data),
        'bundles': {'scr': str(scr_bundle), 'apr': str(apr_bundle)},
        'settings': {'scr_preset': args.scr_preset, 'apr_preset': args.apr_preset,
                     'minutes': args.minutes, 'synth_preset': args.synth_preset,
                     'size': args.size, 'frames': args.frames,
                     'random_views': args.random_views,
                     'pnp': dataclasses.asdict(pnp_cfg)},
        'results': results,
    })
    save_report(report, args.out)
    return report


def _elapsed(bundle):
    """Training seconds recorded in a bundle (None when it records none)."""
    return read_bundle_config(bundle).get('training', {}).get('elapsed_s')


if __name__ == '__main__':
    main()
