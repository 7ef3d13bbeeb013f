# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""What a trainer library would cost: install size and import time, against our own loop.

Issue 9 asked whether PyTorch Lightning (manual optimization) or Accelerate should replace
``pose_reloc.training.loop``. This measures, in fresh interpreters, the wall time of
``import torch`` alone and with each candidate (median of ``--repeats``), and the installed
size of each candidate's packages found under ``--site`` (a ``pip install --target`` folder,
since neither is a dependency of this package).

Run::

    pip download lightning accelerate -d /tmp/lw
    pip install --no-deps --target /tmp/ltarget /tmp/lw/{lightning,pytorch_lightning,\
torchmetrics,lightning_utilities,accelerate,...}*.whl
    .venv/bin/python benchmarks/bench_trainer_libs.py --site /tmp/ltarget

Prints a table and writes ``benchmarks/results/bench_trainer_libs.json``.
"""

import argparse
import os
from pathlib import Path
import platform
import statistics
import subprocess
import sys
import time

from report import RESULTS, run_header, save_report

CANDIDATES = {
    'torch only': ('import torch', []),
    'pose_reloc loop': ('import torch, pose_reloc.training.loop', []),
    'lightning': ('import torch, lightning.pytorch',
                  ['lightning', 'pytorch_lightning', 'torchmetrics', 'lightning_utilities',
                   'aiohttp', 'fsspec', 'yarl', 'multidict', 'frozenlist', 'propcache']),
    'accelerate': ('import torch, accelerate', ['accelerate', 'huggingface_hub', 'hf_xet',
                                                'psutil', 'httpx2', 'httpcore2']),
}


def folder_mb(path: Path) -> float:
    """Return the size of the files under ``path`` in MB (0 when missing)."""
    if not path.exists():
        return 0.0
    return sum(p.stat().st_size for p in path.rglob('*') if p.is_file()) / 1e6


def import_time(statement: str, site: str, repeats: int) -> float:
    """Return the median wall time (s) of a fresh interpreter running ``statement``."""
    env = dict(os.environ, PYTHONPATH=site + os.pathsep + os.environ.get('PYTHONPATH', ''))
    times = []
    for _ in range(repeats):
        t0 = time.monotonic()
        subprocess.run([sys.executable, '-c', statement], check=True, env=env)
        times.append(time.monotonic() - t0)
    return statistics.median(times)


def main() -> None:
    """Measure every candidate, print a table, save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--site', required=True, help='pip --target folder with the candidates')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--out', type=Path, default=RESULTS / 'bench_trainer_libs.json')
    args = parser.parse_args()
    rows = []
    for name, (statement, packages) in CANDIDATES.items():
        seconds = import_time(statement, args.site, args.repeats)
        size = sum(folder_mb(Path(args.site) / p) for p in packages)
        rows.append({'candidate': name, 'statement': statement, 'import_s': round(seconds, 3),
                     'installed_mb': round(size, 1), 'packages': packages})
        print(f'{name:16s} import {seconds:6.2f} s   installed {size:6.1f} MB')
    result = {**run_header('benchmarks/bench_trainer_libs.py'), 'rows': rows,
              'repeats': args.repeats, 'python': platform.python_version()}
    save_report(result, args.out)


if __name__ == '__main__':
    main()
