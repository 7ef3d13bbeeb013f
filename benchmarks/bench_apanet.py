# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""APANet benchmark: the structure of the paper's Table 2 and Fig. 4 on synthetic scenes.

Chidlovskii & Sadek (ECCV-W 2020) adapt a pose regressor from labeled source scenes to a
target scene with a labeled fraction ``nu`` of its training images. This benchmark makes
four synthetic scenes (``tiny`` preset: small rooms, each with its own world frame: its own
yaw and an offset of tens of metres), then trains on a 2-core CPU (``apanet-cpu`` preset,
ImageNet EfficientNet-Lite0, 64x64 crops, the same number of steps for every run):

- three 1-to-1 tasks and one 3-to-1 task at ``nu = 0.05``: ``source_only``, ``ss``,
  ``joint``, ``apanet``, ``apanets``, plus a single-scene APR model of each target trained
  on all its labels (``posenet-cpu`` with the same input size and steps: the adaptability
  reference of ``joint``);
- on the first task, ``ss`` and ``apanet`` at ``nu`` in {0.01, 0.05, 0.2, 0.9} (Fig. 4), and
  the relative-pose (RPE, anchors) ``ss`` and ``apanet`` at ``nu = 0.05``.

Every bundle is evaluated with :func:`pose_reloc.inference.evaluate.evaluate` on the
target's test split (a held-out trajectory). Results go to
``benchmarks/results/bench_apanet.json`` after every run (a partial run keeps what it
finished), the nu plot to ``docs/apanet_nu.png``. Run (about 25 minutes here)::

    python benchmarks/bench_apanet.py --work /tmp/apanet_bench
    python benchmarks/bench_apanet.py --quick   (1 epoch, first task: a smoke test)
    python benchmarks/bench_apanet.py --epochs 30 --tasks 1 --no-sweep
        --variants ss,apanet,joint,single --json benchmarks/results/bench_apanet_long.json
        (one line: the first task trained 3.75x longer, about 9 minutes)
"""

import argparse
import datetime
import json
import os
from pathlib import Path
import platform
import sys
import time

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pose_reloc.core.files import write_json  # noqa: E402
from pose_reloc.data.synthetic import generate_dataset  # noqa: E402
from pose_reloc.inference.evaluate import evaluate  # noqa: E402
from pose_reloc.training.config import load_preset  # noqa: E402
from pose_reloc.training.registry import get_trainer  # noqa: E402

VARIANTS = ('source_only', 'ss', 'joint', 'apanet', 'apanets')
NUS = (0.01, 0.05, 0.2, 0.9)
SCENES = ['tiny_00', 'tiny_01', 'tiny_02', 'tiny_03']
TASKS = [(['tiny_00'], 'tiny_01'), (['tiny_01'], 'tiny_02'), (['tiny_02'], 'tiny_03'),
         (['tiny_00', 'tiny_01', 'tiny_02'], 'tiny_03')]
SYNTH = {'preset': 'tiny', 'scenes': 4, 'seed': 11, 'frames': 160, 'random_views': 240,
         'size': (80, 64)}


def task_name(sources, target):
    """Return ``a+b->c``."""
    return '+'.join(sources) + '->' + target


def run_one(root, work, sources, target, variant, nu, epochs, steps, relative=False):
    """Train one variant and evaluate it on the target's test split; return a result row."""
    common = ['run.progress=false', 'run.threads=1', 'model.mc_samples=0',
              'data.val_split=""', f'optim.epochs={epochs}', 'optim.max_minutes=0']
    name = f'{task_name(sources, target)}_{variant}_nu{nu:g}' + ('_rpe' if relative else '')
    out = work / 'bundles' / name.replace('>', '')
    t0 = time.monotonic()
    if variant == 'single':
        cfg = load_preset('posenet-cpu', common + [
            'data.height=64', 'data.width=64', 'data.resize=72', 'model.fc_dim=256',
            'model.dropout=0.2', 'model.s_q=-1', 'optim.batch_size=16',
            'data.calibration_split=""', f'data.scenes=[{target}]'])
        # posenet-cpu steps per epoch = train frames / batch (320 / 16 = 20 = steps here)
        bundle = get_trainer('apr')(cfg, root, out)
    else:
        cfg = load_preset('apanet-cpu', common + [
            f'model.variant={variant}', f'model.nu={nu}', f'model.steps_per_epoch={steps}',
            f'model.relative={"true" if relative else "false"}'])
        data = {'source': [root / s for s in sources], 'target': root / target}
        bundle = get_trainer('apanet')(cfg, data, out)
    train_s = time.monotonic() - t0
    report = evaluate(bundle, root / target, split='test', device='cpu',
                      include_frames=False)
    row = {'task': task_name(sources, target), 'sources': sources, 'target': target,
           'variant': variant, 'nu': nu, 'relative': relative, 'epochs': epochs,
           'steps_per_epoch': steps, 'train_s': round(train_s, 1),
           'frames': report['frames'],
           'median_translation_m': report['median_translation_m'],
           'median_rotation_deg': report['median_rotation_deg'],
           'mean_translation_m': report['mean_translation_m']}
    print(f'{row["task"]:32s} {variant:12s} nu={nu:<5g} rpe={relative!s:5s} '
          f'{row["median_translation_m"]:7.3f} m {row["median_rotation_deg"]:7.2f} deg '
          f'({train_s:.0f} s)', flush=True)
    return row


def mean_pose_baseline(root, target):
    """Median error of always answering the target's mean training position (m)."""
    from pose_reloc.data.formats import load_dataset
    scene = load_dataset(root / target)[0]
    train = np.array([f.T_world_cam[:3, 3] for f in scene.split('train')])
    test = np.array([f.T_world_cam[:3, 3] for f in scene.split('test')])
    return float(np.median(np.linalg.norm(test - train.mean(0), axis=1)))


def summarize(rows):
    """Average the nu = 0.05 APE rows per variant over the 1-to-1 tasks; check the targets."""
    def pick(variant, nu=0.05, one_to_one=True, relative=False):
        return [r for r in rows if r['variant'] == variant and r['nu'] == nu
                and r['relative'] == relative and (len(r['sources']) == 1) == one_to_one]

    out = {'one_to_one_mean': {}, 'n_to_1': {}}
    one_to_one_targets = {t for _, t in TASKS[:3]}
    for variant in VARIANTS + ('single',):
        sel = pick(variant, 0.05)
        if variant == 'single':
            sel = [r for r in rows if r['variant'] == 'single'
                   and r['target'] in one_to_one_targets]
        if sel:
            out['one_to_one_mean'][variant] = {
                'tasks': len(sel),
                'median_translation_m': float(np.mean([r['median_translation_m'] for r in sel])),
                'median_rotation_deg': float(np.mean([r['median_rotation_deg'] for r in sel]))}
        sel = pick(variant, 0.05, one_to_one=False)
        if sel:
            out['n_to_1'][variant] = {k: sel[0][k] for k in ('median_translation_m',
                                                             'median_rotation_deg')}
    m = out['one_to_one_mean']
    checks = {}
    per_task = {}
    for sources, target in TASKS[:3]:
        task = task_name(sources, target)
        by_variant = {r['variant']: r for r in rows if r['task'] == task and r['nu'] == 0.05
                      and not r['relative']}
        single = [r for r in rows if r['variant'] == 'single' and r['target'] == target]
        if single:
            by_variant['single'] = single[0]
        if {'ss', 'apanet'} <= set(by_variant):
            entry = {'apanet_reduction_vs_ss': 1 - by_variant['apanet']['median_translation_m']
                     / by_variant['ss']['median_translation_m']}
            if {'joint', 'single'} <= set(by_variant):
                entry['joint_over_single_translation'] = \
                    by_variant['joint']['median_translation_m'] / \
                    by_variant['single']['median_translation_m']
            per_task[task] = entry
    if per_task:
        checks['per_task'] = per_task
    if 'ss' in m and 'apanet' in m:
        checks['apanet_position_reduction_vs_ss'] = \
            1 - m['apanet']['median_translation_m'] / m['ss']['median_translation_m']
        checks['target_apanet_30pct_below_ss'] = \
            checks['apanet_position_reduction_vs_ss'] >= 0.30
    if 'apanet' in m and 'apanets' in m:
        checks['target_apanets_orientation_below_apanet'] = \
            m['apanets']['median_rotation_deg'] < m['apanet']['median_rotation_deg']
    ratios = [e['joint_over_single_translation'] for e in per_task.values()
              if 'joint_over_single_translation' in e]
    if ratios:
        checks['joint_over_single_translation_mean'] = float(np.mean(ratios))
    sweep = {}
    for nu in NUS:
        ss = [r for r in rows if r['task'] == task_name(*TASKS[0]) and r['variant'] == 'ss'
              and r['nu'] == nu and not r['relative']]
        ap = [r for r in rows if r['task'] == task_name(*TASKS[0]) and r['variant'] == 'apanet'
              and r['nu'] == nu and not r['relative']]
        if ss and ap:
            sweep[str(nu)] = 1 - ap[0]['median_translation_m'] / ss[0]['median_translation_m']
    if sweep:
        checks['apanet_reduction_vs_ss_by_nu'] = sweep
        values = [sweep[str(nu)] for nu in NUS if str(nu) in sweep]
        if len(values) == len(NUS):  # the ends only: read the four values, not this flag
            checks['target_advantage_fades_with_nu'] = values[0] > values[-1]
    out['checks'] = checks
    return out


def plot(rows, path, mean_pose_m=None):
    """Median errors against nu on the first task (ss vs apanet); PNG at ``path``.

    ``mean_pose_m``: the target's mean-pose baseline (m), drawn as a horizontal line.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    task = task_name(*TASKS[0])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for variant, style in (('ss', 'o--'), ('apanet', 's-')):
        sel = sorted((r for r in rows if r['task'] == task and r['variant'] == variant
                      and not r['relative'] and r['nu'] in NUS), key=lambda r: r['nu'])
        if not sel:
            continue
        nus = [r['nu'] for r in sel]
        axes[0].plot(nus, [r['median_translation_m'] for r in sel], style, label=variant)
        axes[1].plot(nus, [r['median_rotation_deg'] for r in sel], style, label=variant)
    if mean_pose_m is not None:
        axes[0].axhline(mean_pose_m, color='grey', lw=1, ls=':', label='mean training position')
    for ax, label in zip(axes, ('median position error (m)', 'median orientation error (deg)')):
        ax.set_xscale('log')
        ax.set_xlabel('labeled fraction of the target nu')
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f'APANet vs semi-supervised (SS), synthetic task {task}', fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv=None):
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work', type=Path, default=Path('/tmp/apanet_bench'))
    parser.add_argument('--json', type=Path,
                        default=REPO / 'benchmarks' / 'results' / 'bench_apanet.json')
    parser.add_argument('--plot', type=Path, default=REPO / 'docs' / 'apanet_nu.png')
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--steps', type=int, default=20, help='steps per epoch')
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--tasks', type=int, default=len(TASKS),
                        help='run the first N tasks only')
    parser.add_argument('--variants', default='',
                        help='comma-separated subset of the variants (and single)')
    parser.add_argument('--no-sweep', action='store_true', help='skip the nu sweep and RPE')
    parser.add_argument('--replot', action='store_true',
                        help='recompute the summary and the plot from the rows in --json')
    args = parser.parse_args(argv)
    if args.replot:
        result = json.loads(args.json.read_text())
        result['summary'] = summarize(result['rows'])
        write_json(args.json, result)
        plot(result['rows'], args.plot, result['mean_pose_baseline_m'].get(TASKS[0][1]))
        print(json.dumps(result['summary'], indent=1))
        return result
    torch.set_num_threads(1)
    root = args.work / 'scenes'
    if not root.exists():
        generate_dataset(root, progress=False, **SYNTH)
    epochs = 1 if args.quick else args.epochs
    plan = []
    tasks = TASKS[:1] if args.quick else TASKS[:args.tasks]
    for sources, target in tasks:
        for variant in ('ss', 'apanet', 'source_only', 'joint', 'apanets'):
            plan.append((sources, target, variant, 0.05, False))
        if (['tiny_02'], 'tiny_03') != (sources, target) or args.quick:
            plan.append((sources, target, 'single', 1.0, False))
        if (sources, target) == TASKS[0] and not args.no_sweep:
            for nu in (0.01, 0.2, 0.9):
                plan += [(sources, target, 'ss', nu, False), (sources, target, 'apanet', nu,
                                                              False)]
            plan += [(sources, target, 'ss', 0.05, True), (sources, target, 'apanet', 0.05,
                                                           True)]
    if args.variants:
        keep = args.variants.split(',')
        plan = [p for p in plan if p[2] in keep]
    if args.quick:
        plan = plan[:3]
    result = {
        'benchmark': 'bench_apanet', 'command': 'python ' + ' '.join(
            [os.path.relpath(__file__, REPO)] + (argv if argv is not None else sys.argv[1:])),
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'machine': {'cpu_count': os.cpu_count(), 'platform': platform.platform(),
                    'torch': torch.__version__, 'threads': 1},
        'synthetic_data': {k: list(v) if isinstance(v, tuple) else v for k, v in SYNTH.items()},
        'preset': 'apanet-cpu', 'epochs': epochs, 'steps_per_epoch': args.steps,
        'mean_pose_baseline_m': {t: mean_pose_baseline(root, t) for t in SCENES[1:]},
        'rows': [],
    }
    t0 = time.monotonic()
    for sources, target, variant, nu, relative in plan:
        row = run_one(root, args.work, sources, target, variant, nu, epochs, args.steps,
                      relative)
        result['rows'].append(row)
        result['summary'] = summarize(result['rows'])
        result['elapsed_s'] = round(time.monotonic() - t0, 1)
        write_json(args.json, result)
    if not args.quick and not args.no_sweep:
        plot(result['rows'], args.plot, result['mean_pose_baseline_m'].get(TASKS[0][1]))
    print(json.dumps(result['summary'], indent=1))
    return result


if __name__ == '__main__':
    main()
