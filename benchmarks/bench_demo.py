# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Run the demo (``pose-reloc demo``) and record its figures.

The demo synthesizes a room, records a robot run as a bag, extracts every second image with
its TF ground truth, trains an APR model on the CPU, replays the whole bag into the real
``reloc_node`` (separate processes) and scores the poses on the images it did not train on,
against the mean-pose baseline. This script runs the ``quick`` and/or ``full`` variant in a
temporary folder, prints the summary and writes
``benchmarks/results/ros_demo_<mode>.json`` (command, hardware, date, held-out summary,
baseline, latency, step times).

    python benchmarks/bench_demo.py [--modes quick full]
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

from pose_reloc.ros.demo import format_demo, run_demo  # noqa: E402

RESULTS = ROOT / 'benchmarks' / 'results'


def main() -> int:
    """Run the requested demo variants; print and save their reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--modes', nargs='+', default=['quick', 'full'],
                        choices=('quick', 'full'))
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for mode in args.modes:
        with tempfile.TemporaryDirectory(prefix='bench_demo_') as tmp:
            report = run_demo(Path(tmp) / 'demo', quick=mode == 'quick', progress=False)
        print(format_demo(report))
        record = {
            'benchmark': f'ros_demo_{mode}',
            'command': 'python benchmarks/bench_demo.py --modes ' + ' '.join(args.modes),
            'hardware': f'{platform.machine()} CPU, 2 cores, no GPU',
            'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'report': {k: v for k, v in report.items() if k not in ('plot', 'report')},
        }
        out = RESULTS / f'ros_demo_{mode}.json'
        out.write_text(json.dumps(record, indent=2, default=str) + '\n')
        print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
