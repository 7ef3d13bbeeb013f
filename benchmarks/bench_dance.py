# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""DANCE's Table 1 on a synthetic room: blind / + histogram matching / + CUT / fully supervised.

The scene (``pose-reloc synth --domain photo --export-cloud``): its scan (``cloud.ply``) is
the 3-D model; its photo-domain frames are the real camera's photos: the ``train`` split is
the unlabeled pool (poses never used by rows a-d), the ``test`` split is scored. Rows:

- (a) blind: ``pose-reloc dance --set dance.variant=blind`` (SCR trained on raw renders);
- (b) + histogram matching (``dance.variant=histmatch``);
- (d) + CUT (``dance.variant=cut``, DANCE);
- (e) fully supervised: the same SCR preset trained on the labeled train photos (with depth).

Every row uses the ``dance-cpu`` preset's SCR (``scr-lite-cpu``, no photometric jitter) at
the same image size, and the same renders (rendered once, reused by the chain's skip).
Saves ``benchmarks/results/bench_dance.json`` (median and 95th-percentile errors, failure
rate, step timings, the issue's targets checked) and ``bench_dance_triplets.png`` (renders at
test poses / histogram-matched / CUT-translated / the photo).

Run: ``python benchmarks/bench_dance.py [--views 300] [--frames 300] [--cut-minutes 6]
[--scr-minutes 4.5]`` (about 30 minutes on the shared 2-core CPU).
"""

import argparse
import json
from pathlib import Path
import shutil
import sys
import tempfile
import time

import cv2
import numpy as np
from report import run_header, save_report
import torch

REPO = Path(__file__).resolve().parents[1]
ROWS = ('blind', 'histmatch', 'cut')


def _metrics(report):
    keys = ('frames', 'failures', 'median_translation_m', 'p95_translation_m',
            'median_rotation_deg', 'p95_rotation_deg', 'rate_25cm_2deg', 'rate_50cm_5deg',
            'rate_500cm_10deg', 'failure_rate')
    return {k: report.get(k) for k in keys}


def _triplets(scene_dir, out_dirs, path, count=4):
    from pose_reloc.data.cloud_render import CloudRenderer
    from pose_reloc.data.formats import load_dataset
    from pose_reloc.data.histmatch import load_pool, match_histograms, pooled_histogram
    from pose_reloc.data.pointcloud import read_cloud
    from pose_reloc.data.records import load_image
    from pose_reloc.inference.translate import translator
    scene = load_dataset(scene_dir)[0]
    test = scene.split('test')
    frames = [test[i] for i in np.linspace(0, len(test) - 1, count).astype(int)]
    renderer = CloudRenderer(read_cloud(scene_dir / 'cloud.ply'))
    reference = pooled_histogram(load_image(r) for r in load_pool(scene_dir, 'train', 500))
    translate = translator(out_dirs['cut'] / 'cut_model', 'cpu')
    rows = []
    for frame in frames:
        view = renderer.render(frame.camera, frame.T_world_cam)
        matched = match_histograms(view.rgb, reference, view.valid)
        rows.append(np.concatenate([view.rgb, matched, translate(view.rgb), load_image(frame)],
                                   axis=1))
    grid = np.concatenate(rows, axis=0)
    grid = cv2.resize(grid, (grid.shape[1] * 2, grid.shape[0] * 2),
                      interpolation=cv2.INTER_NEAREST)
    header = np.full((28, grid.shape[1], 3), 255, np.uint8)
    w = grid.shape[1] // 4
    for i, text in enumerate(('render (scan)', '+ histogram matching', '+ CUT', 'photo')):
        cv2.putText(header, text, (i * w + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0),
                    1, cv2.LINE_AA)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate([header, grid]), cv2.COLOR_RGB2BGR))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--views', type=int, default=300)
    parser.add_argument('--frames', type=int, default=300)
    parser.add_argument('--size', default='128x96')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cut-minutes', type=float, default=6.0)
    parser.add_argument('--scr-minutes', type=float, default=4.5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--scr-config', default='scr-lite-cpu',
                        help='SCR preset of every row (scr-lite-cpu: dense, the DANCE '
                             'recipe; scr-cpu: the keypoint regressor, mapped in seconds)')
    parser.add_argument('--tag', default='',
                        help='suffix of the outputs and run folders (bench_dance_TAG.json); '
                             'finished renders / histmatch / CUT steps of the untagged run in '
                             '--work are reused')
    parser.add_argument('--reuse', default='renders,histmatch,cut_model,translated',
                        help='with --tag: the finished steps of the untagged run to reuse '
                             '(comma-separated; e.g. renders,histmatch to train CUT anew)')
    parser.add_argument('--reuse-tag', default='',
                        help='reuse the steps of the run tagged so instead of the untagged one')
    parser.add_argument('--work', type=Path, default=None,
                        help='keep the runs here (default: a temporary folder, removed)')
    parser.add_argument('--out', type=Path, default=REPO / 'benchmarks' / 'results')
    args = parser.parse_args()
    from pose_reloc.dance import load_dance_config, run_dance
    from pose_reloc.data.synthetic import generate_dataset
    from pose_reloc.inference.evaluate import evaluate
    from pose_reloc.workflows import train_from_preset
    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split('x'))
    header = run_header('python benchmarks/bench_dance.py', threads=args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix='bench_dance_'))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    synth = work / 'synth'
    if not synth.exists():
        generate_dataset(synth, preset='room', scenes=1, seed=args.seed, frames=args.frames,
                         size=(width, height), export_cloud=True)
    scene_dir = next(p for p in sorted(synth.iterdir()) if p.is_dir())
    scr_overrides = [f'optim.max_minutes={args.scr_minutes}', 'data.brightness=0.0',
                     'data.contrast=0.0', 'data.saturation=0.0', 'run.progress=false']
    common = [f'scr.config={args.scr_config}', f'render.views={args.views}',
              f'render.width={width}', f'render.height={height}', f'render.seed={args.seed}',
              'dance.device=cpu',
              f'scr.overrides={json.dumps(scr_overrides)}',
              f'cut.overrides={json.dumps([f"optim.max_minutes={args.cut_minutes}"])}']
    rows, outs, timings = {}, {}, {}
    suffix = f'-{args.tag}' if args.tag else ''
    for variant in ROWS:
        out = work / f'{variant}{suffix}'
        outs[variant] = out
        out.mkdir(parents=True, exist_ok=True)
        # Reuse finished steps: the first row's renders, the untagged run's other steps.
        sources = {'renders': work / ROWS[0] / 'renders'}
        donor = work / (f'{variant}-{args.reuse_tag}' if args.reuse_tag else variant)
        sources.update({step: donor / step for step in ('histmatch', 'cut_model', 'translated')})
        sources = {k: v for k, v in sources.items() if k in args.reuse.split(',')}
        for step, source in sources.items():
            if source.exists() and source.parent != out and not (out / step).exists():
                shutil.copytree(source, out / step)
        conf = load_dance_config('dance-cpu', common + [f'dance.variant={variant}'])
        report = run_dance(scene_dir / 'cloud.ply', scene_dir, scene_dir / 'camera.yaml', out,
                           conf, progress=False)
        timings[variant] = report['steps']
        rows[variant] = _metrics(evaluate(out / 'bundle', scene_dir, split='test',
                                          device='cpu', include_frames=False))
        print(variant, json.dumps(rows[variant]), flush=True)
    sup = work / f'supervised{suffix}'
    if not (sup / 'config.json').is_file():
        s0 = time.monotonic()
        train_from_preset('scr', args.scr_config, scene_dir, sup,
                          scr_overrides + ['data.val_split=', 'data.calibration_split='],
                          device='cpu')
        timings['supervised'] = {'scr': {'seconds': round(time.monotonic() - s0, 1)}}
    rows['supervised'] = _metrics(evaluate(sup, scene_dir, split='test', device='cpu',
                                           include_frames=False))
    print('supervised', json.dumps(rows['supervised']), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    figure = args.out / f'bench_dance_triplets{suffix.replace("-", "_")}.png'
    _triplets(scene_dir, outs, figure)

    med = {k: rows[k]['median_translation_m'] for k in rows}

    def ratio(a, b):
        return None if not med[a] or med[b] is None else round(med[b] / med[a], 2)

    order = ['blind', 'histmatch', 'cut', 'supervised']
    targets = {
        'cut_vs_blind_median_translation_ratio': ratio('cut', 'blind'),
        'cut_5x_better_than_blind': bool(med['cut'] and med['blind']
                                         and med['blind'] >= 5 * med['cut']),
        'cut_over_supervised_median_translation': (
            round(med['cut'] / med['supervised'], 2) if med['cut'] and med['supervised']
            else None),
        'cut_within_1_5x_of_supervised': bool(med['cut'] and med['supervised']
                                              and med['cut'] <= 1.5 * med['supervised']),
        'each_row_better_than_the_one_above': all(
            med[a] is not None and med[b] is not None and med[b] < med[a]
            for a, b in zip(order[:3], order[1:3])),
    }
    result = {
        **header,
        'settings': {'scr_config': args.scr_config, 'views': args.views,
                     'frames': args.frames, 'size': [width, height],
                     'cut_minutes': args.cut_minutes, 'scr_minutes': args.scr_minutes,
                     'scene': scene_dir.name, 'preset': 'room', 'seed': args.seed},
        'rows': rows, 'targets': targets, 'timings': timings,
        'figure': str(figure.relative_to(REPO)) if figure.is_relative_to(REPO) else str(figure),
        'total_minutes': round((time.monotonic() - t0) / 60.0, 1),
    }
    print(json.dumps(result, indent=2))
    save_report(result, args.out / f'bench_dance{suffix.replace("-", "_")}.json')
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
