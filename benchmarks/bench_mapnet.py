# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""PoseNet vs MapNet (log-quaternion + relative-pose term) at the same CPU time budget.

Generates one synthetic ``tiny`` room (a handheld training sequence + random views, a
separate test sequence), trains ``posenet-cpu`` and ``mapnet-cpu`` (log-quaternion rotation,
relative-pose loss on frame pairs 5 apart) for the same number of minutes each, and
evaluates both on the test sequence. Prints a table and writes
``benchmarks/results/bench_mapnet.json`` (command, hardware, date, reports).

    python benchmarks/bench_mapnet.py [--minutes 3] [--seed 5]
"""

import argparse
import datetime
import json
from pathlib import Path
import platform
import sys
import tempfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pose_reloc.data.synthetic.generate import generate_dataset  # noqa: E402
from pose_reloc.inference.evaluate import evaluate  # noqa: E402
from pose_reloc.workflows import train_from_preset  # noqa: E402

KEYS = ('median_translation_m', 'median_rotation_deg', 'p95_translation_m',
        'p95_rotation_deg', 'rate_50cm_5deg', 'rate_500cm_10deg')


def main() -> int:
    """Train both presets on the same data and budget; print and save the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--minutes', type=float, default=3.0, help='training budget each')
    parser.add_argument('--seed', type=int, default=5, help='scene seed')
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix='bench_mapnet_') as tmp:
        root = generate_dataset(Path(tmp) / 'data', preset='tiny', scenes=1, seed=args.seed,
                                frames=240, size=(128, 96), random_views=120,
                                progress=False)
        scene = sorted(p for p in Path(root).iterdir() if p.is_dir())[0]
        for name in ('posenet-cpu', 'mapnet-cpu'):
            bundle = train_from_preset('apr', name, scene, Path(tmp) / name,
                                       [f'optim.max_minutes={args.minutes}', 'optim.epochs=1000',
                                        'run.progress=false', 'run.threads=1'])
            report = evaluate(bundle, scene, split='test', device='cpu', progress=False,
                              include_frames=False)
            rows[name] = {k: report[k] for k in KEYS + ('frames',)}
            print(f'{name:12s} ' + '  '.join(f'{k} {report[k]:.3f}' for k in KEYS))
    record = {
        'benchmark': 'bench_mapnet',
        'command': 'python benchmarks/bench_mapnet.py ' + ' '.join(sys.argv[1:]),
        'hardware': f'{platform.machine()} CPU, 2 cores, no GPU',
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'minutes_each': args.minutes, 'seed': args.seed, 'results': rows,
    }
    out = ROOT / 'benchmarks' / 'results' / 'bench_mapnet.json'
    out.write_text(json.dumps(record, indent=2) + '\n')
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
