# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Absolute pose regression benchmarks (MSPN paper Tables 1/2/5-7 in miniature, on a CPU).

Experiments (each writes ``benchmarks/results/apr_<experiment>.json``):

- ``multi``: on the scenes of a synthetic multi-scene root: one PoseNet per scene vs one
  naive PoseNet on all scenes vs Multi-Scene PoseNet (predicted and oracle scene), with
  parameter counts, against the mean-pose and nearest-neighbour retrieval baselines
  (ImageNet EfficientNet-Lite0 features, Sattler et al. 2019).
- ``finetune``: a new scene trained for the same number of epochs from an MSPN bundle's
  encoder, from ImageNet EfficientNet-Lite0, and from random initialization.
- ``lego``: PoseNet on ``../shared/data/nerf_lego_200`` vs the same baselines.

Example (CPU presets; each training run is capped by ``--minutes``)::

    pose-reloc synth /tmp/aprb/tiny --preset tiny --scenes 3 --frames 240
        --random-views 120 --size 128x96 --seed 11   (one line)
    python benchmarks/bench_apr.py multi --data /tmp/aprb/tiny --scenes tiny_00 tiny_01
    python benchmarks/bench_apr.py finetune --data /tmp/aprb/tiny --new-scene tiny_02
        --mspn /tmp/aprb/work/multi/mspn   (one line)
    python benchmarks/bench_apr.py lego
"""

import argparse
import datetime
import json
import os
from pathlib import Path
import platform
import sys
import time

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pose_reloc.core.bundle import read_bundle  # noqa: E402
from pose_reloc.data.formats import load_dataset  # noqa: E402
from pose_reloc.inference.apr import APRLocalizer  # noqa: E402
from pose_reloc.inference.baselines import MeanPoseLocalizer, RetrievalLocalizer  # noqa: E402
from pose_reloc.inference.evaluate import evaluate, write_json  # noqa: E402
from pose_reloc.models.backbones import build_backbone  # noqa: E402
from pose_reloc.training.config import load_preset  # noqa: E402
from pose_reloc.workflows import train_bundle  # noqa: E402

SUMMARY_KEYS = ('frames', 'median_translation_m', 'median_rotation_deg', 'mean_translation_m',
                'p95_translation_m', 'rate_50cm_5deg', 'rate_500cm_10deg', 'scene_accuracy',
                'covariance', 'latency_ms')


def _summary(report):
    out = {k: report[k] for k in SUMMARY_KEYS if k in report}
    out['per_scene'] = {name: {k: s[k] for k in SUMMARY_KEYS if k in s}
                        for name, s in report.get('per_scene', {}).items()}
    return out


REUSE = []


def _train(method, preset, data, out, overrides, init=None):
    cfg = load_preset(preset, overrides, method=method)
    if REUSE and (Path(out) / 'config.json').is_file():
        path = Path(out)
    else:
        path = train_bundle(method, cfg, Path(data), Path(out), init_bundle=init)
    config, state = read_bundle(path)
    return path, {'seconds': round(config['training']['elapsed_s'], 1),
                  'epochs': config['training']['epochs_completed'],
                  'stopped_by_budget': config['training']['stopped_by_budget'],
                  'parameters': int(sum(v.numel() for v in state.values()
                                        if v.dtype.is_floating_point)),
                  'final_log': config['training']['final']}


def _baselines(data, scenes, max_frames, like_bundle):
    by_scene = {s.name: s.split('train') for s in load_dataset(data) if s.name in scenes}
    out = {}
    for name, frames in by_scene.items():
        rep = evaluate(MeanPoseLocalizer({name: frames}), Path(data) / name
                       if (Path(data) / name).is_dir() else data, max_frames=max_frames,
                       progress=False, include_frames=False)
        out.setdefault('mean_pose', {})[name] = _summary(rep)
    like = APRLocalizer(like_bundle, device='cpu', mc_samples=0)
    encoder, _ = build_backbone('efficientnet_lite0', 'imagenet')
    for name, frames in by_scene.items():
        retrieval = RetrievalLocalizer(encoder, like.preprocess, {name: frames}, progress=False)
        rep = evaluate(retrieval, Path(data) / name if (Path(data) / name).is_dir() else data,
                       max_frames=max_frames, progress=False, include_frames=False)
        out.setdefault('retrieval_imagenet_lite0', {})[name] = _summary(rep)
    return out


def run_multi(args, common):
    work = Path(args.work) / 'multi'
    scenes = list(args.scenes)
    res = {'scenes': scenes, 'per_scene_posenet': {}, 'runs': {}}
    for name in scenes:
        path, info = _train('apr', args.apr_preset, args.data, work / f'posenet_{name}',
                            common + [f'data.scenes=[{name}]'])
        res['runs'][f'posenet_{name}'] = info
        rep = evaluate(path, Path(args.data) / name, max_frames=args.max_frames,
                       progress=False, include_frames=False)
        res['per_scene_posenet'][name] = _summary(rep)
    scene_list = '[' + ','.join(scenes) + ']'
    # apr refuses several scenes unless told: this run is the naive baseline on purpose
    path, info = _train('apr', args.apr_preset, args.data, work / 'naive',
                        common + [f'data.scenes={scene_list}', 'data.allow_multi_scene=true'])
    res['runs']['naive'] = info
    res['naive_posenet'] = _summary(evaluate(path, args.data, scenes=scenes,
                                             max_frames=args.max_frames, progress=False,
                                             include_frames=False))
    path, info = _train('mspn', args.mspn_preset, args.data, work / 'mspn',
                        common + [f'data.scenes={scene_list}'])
    res['runs']['mspn'] = info
    config, _ = read_bundle(path)
    res['mspn_parameters'] = config['parameters']
    res['mspn_predicted'] = _summary(evaluate(path, args.data, scenes=scenes,
                                              max_frames=args.max_frames, progress=False,
                                              include_frames=False))
    res['mspn_oracle'] = _summary(evaluate(path, args.data, scenes=scenes, oracle_scene=True,
                                           max_frames=args.max_frames, progress=False,
                                           include_frames=False))
    res['baselines'] = _baselines(args.data, scenes, args.max_frames, path)
    res['mspn_bundle'] = str(path)
    return res


def run_finetune(args, common):
    work = Path(args.work) / 'finetune'
    name = args.new_scene
    res = {'new_scene': name, 'epochs': args.epochs, 'runs': {}, 'results': {}}
    fixed = common + [f'data.scenes=[{name}]', f'optim.epochs={args.epochs}',
                      'optim.max_minutes=0']
    variants = {
        'from_mspn_encoder': ([], Path(args.mspn)),
        'from_imagenet_lite0': ([], None),
        'from_random': (['model.pretrained=none', 'model.freeze_encoder=0.0'], None),
    }
    for key, (extra, init) in variants.items():
        path, info = _train('apr', args.apr_preset, args.data, work / key, fixed + extra, init)
        res['runs'][key] = info
        res['results'][key] = _summary(evaluate(path, Path(args.data) / name,
                                                max_frames=args.max_frames, progress=False,
                                                include_frames=False))
    res['baselines'] = _baselines(args.data, [name], args.max_frames, path)
    return res


def run_lego(args, common):
    work = Path(args.work) / 'lego'
    data = Path(args.lego)
    path, info = _train('apr', args.apr_preset, data, work / 'posenet', common)
    res = {'runs': {'posenet': info}}
    res['posenet'] = _summary(evaluate(path, data, max_frames=args.max_frames, progress=False,
                                       include_frames=False))
    scene = load_dataset(data)[0]
    res['baselines'] = {
        'mean_pose': _summary(evaluate(MeanPoseLocalizer({scene.name: scene.split('train')}),
                                       data, max_frames=args.max_frames, progress=False,
                                       include_frames=False))}
    encoder, _ = build_backbone('efficientnet_lite0', 'imagenet')
    like = APRLocalizer(path, device='cpu', mc_samples=0)
    retrieval = RetrievalLocalizer(encoder, like.preprocess, {scene.name: scene.split('train')},
                                   progress=False)
    res['baselines']['retrieval_imagenet_lite0'] = _summary(evaluate(
        retrieval, data, max_frames=args.max_frames, progress=False, include_frames=False))
    return res


def main(argv=None):
    """Run one experiment and save its JSON under benchmarks/results/."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('experiment', choices=('multi', 'finetune', 'lego'))
    parser.add_argument('--data', type=Path, default=Path('/tmp/aprb/tiny'))
    parser.add_argument('--lego', type=Path, default=REPO / '..' / 'shared' / 'data' /
                        'nerf_lego_200')
    parser.add_argument('--scenes', nargs='+', default=['tiny_00', 'tiny_01'])
    parser.add_argument('--new-scene', default='tiny_02')
    parser.add_argument('--mspn', type=Path, default=Path('/tmp/aprb/work/multi/mspn'))
    parser.add_argument('--apr-preset', default='posenet-cpu')
    parser.add_argument('--mspn-preset', default='mspn-cpu')
    parser.add_argument('--minutes', type=float, default=3.0,
                        help='time budget per training run (optim.max_minutes)')
    parser.add_argument('--epochs', type=int, default=8, help='finetune: epochs per variant')
    parser.add_argument('--max-frames', type=int, default=40,
                        help='test frames per scene, evenly spaced')
    parser.add_argument('--work', type=Path, default=Path('/tmp/aprb/work'))
    parser.add_argument('--set', dest='overrides', action='append', default=[])
    parser.add_argument('--out', type=Path, default=None)
    parser.add_argument('--reuse', action='store_true',
                        help='reuse bundles already in --work instead of retraining them')
    args = parser.parse_args(argv)
    if args.reuse:
        REUSE.append(True)
    common = ['run.progress=false', f'optim.max_minutes={args.minutes}'] + args.overrides
    t0 = time.perf_counter()
    result = {'run_multi': run_multi, 'run_finetune': run_finetune,
              'run_lego': run_lego}[f'run_{args.experiment}'](args, common)
    result['meta'] = {
        'command': ' '.join([Path(sys.argv[0]).name] + (argv or sys.argv[1:])),
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'hardware': f'{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}),'
                    ' no GPU, shared with other jobs',
        'torch': torch.__version__, 'seconds': round(time.perf_counter() - t0, 1),
        'presets': [args.apr_preset, args.mspn_preset], 'overrides': common,
    }
    out = args.out or REPO / 'benchmarks' / 'results' / f'apr_{args.experiment}.json'
    write_json(out, result)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
