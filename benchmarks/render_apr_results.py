# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Print the markdown tables of docs/results/apr.md from benchmarks/results/apr_*.json."""

import json
from pathlib import Path
import sys

RESULTS = Path(__file__).resolve().parent / 'results'


def _fmt(summary):
    if summary is None:
        return '| n/a | n/a | n/a | n/a |'
    cov = summary.get('covariance', {})
    within = cov.get('within_2sigma_translation')
    acc = summary.get('scene_accuracy')
    return '| {:.2f} | {:.1f} | {} | {} |'.format(
        summary['median_translation_m'], summary['median_rotation_deg'],
        f'{acc:.2f}' if acc is not None else '-',
        f'{within:.2f}' if within is not None else '-')


def _row(name, summary, extra=''):
    return f'| {name} {extra}' + _fmt(summary)


def multi(res):
    """Print the multi-scene table."""
    lines = ['| model | scene | median t (m) | median r (deg) | scene acc. | '
             't within 2 sigma |', '|---|---|---|---|---|---|']
    for scene in res['scenes']:
        lines.append(_row('PoseNet (one per scene)', res['per_scene_posenet'][scene],
                          f'| {scene} '))
        lines.append(_row('naive PoseNet (all scenes)', res['naive_posenet']['per_scene'][scene],
                          f'| {scene} '))
        lines.append(_row('MSPN, predicted scene', res['mspn_predicted']['per_scene'][scene],
                          f'| {scene} '))
        lines.append(_row('MSPN, oracle scene', res['mspn_oracle']['per_scene'][scene],
                          f'| {scene} '))
        for key, label in (('retrieval_imagenet_lite0', 'retrieval (ImageNet Lite0 NN)'),
                           ('mean_pose', 'mean training pose')):
            lines.append(_row(label, res['baselines'][key][scene], f'| {scene} '))
    print('\n'.join(lines))
    print()
    runs = res['runs']
    print('| run | epochs | seconds | parameters |\n|---|---|---|---|')
    for key, info in runs.items():
        print(f"| {key} | {info['epochs']} | {info['seconds']} | {info['parameters']:,} |")
    p = res['mspn_parameters']
    print(f"\nMSPN: shared {p['shared']:,}, per scene {p['per_scene']:,}, total {p['total']:,}")


def finetune(res):
    """Print the fine-tuning table."""
    print('| initialization | epochs | median t (m) | median r (deg) | scene acc. | '
          't within 2 sigma |\n|---|---|---|---|---|---|')
    for key, summary in res['results'].items():
        print(f"| {key} | {res['runs'][key]['epochs']} " + _fmt(summary))
    for key, per_scene in res['baselines'].items():
        print(f'| {key} (baseline) | - ' + _fmt(per_scene[res['new_scene']]))


def lego(res):
    """Print the NeRF lego table."""
    print('| model | median t (m) | median r (deg) | scene acc. | t within 2 sigma |\n'
          '|---|---|---|---|---|')
    print('| PoseNet (posenet-cpu) ' + _fmt(res['posenet']))
    for key, summary in res['baselines'].items():
        print(f'| {key} (baseline) ' + _fmt(summary))


def main():
    """Render every available result file."""
    for name, fn in (('multi', multi), ('finetune', finetune), ('lego', lego)):
        path = RESULTS / f'apr_{name}.json'
        if path.is_file():
            res = json.loads(path.read_text())
            print(f"### {name}\n\n`{res['meta']['command']}` ({res['meta']['date']}, "
                  f"{res['meta']['seconds']} s)\n")
            fn(res)
            print()
    return 0


if __name__ == '__main__':
    sys.exit(main())
