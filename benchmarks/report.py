# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""What every benchmark writes besides its numbers: the command, the hardware, the date.

Benchmarks are run as scripts (``python benchmarks/bench_x.py``), so this module is
imported as ``report`` from the benchmarks folder::

    from report import run_header, save_report
    result = run_header('benchmarks/bench_x.py', argv, threads=1)
    result['rows'] = rows
    save_report(result, args.out)   # atomic; prints the path
"""

import datetime
import json
import os
from pathlib import Path
import platform
import sys
from typing import Any, Dict, Optional, Sequence

#: where benchmark JSON goes by default.
RESULTS = Path(__file__).resolve().parent / 'results'


def cpu_model() -> str:
    """Return the CPU model name from ``/proc/cpuinfo`` (or the platform's processor)."""
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or 'unknown CPU'


def hardware(threads: Optional[int] = None) -> str:
    """Return ``'<CPU model>, N cores (arch), <GPU or no GPU>[, torch threads T]'``."""
    gpu = 'no GPU'
    if 'torch' in sys.modules:
        torch = sys.modules['torch']
        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    text = f'{cpu_model()}, {os.cpu_count()} cores ({platform.machine()}), {gpu}'
    return text + (f', torch threads {threads}' if threads is not None else '')


def run_header(script: str, argv: Optional[Sequence[str]] = None,
               threads: Optional[int] = None) -> Dict[str, Any]:
    """Return the report's first keys: ``command``, ``hardware``, ``date``, ``load_before``.

    Args:
        script: the script as run from the repository root (``benchmarks/bench_x.py``).
        argv: its arguments (None: ``sys.argv[1:]``).
        threads: torch threads the benchmark set, if it did.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    return {'command': ' '.join([script] + [str(a) for a in args]),
            'hardware': hardware(threads),
            'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'load_before': list(os.getloadavg())}


def save_report(report: Dict[str, Any], out: Path) -> Path:
    """Write ``report`` as JSON to ``out`` atomically (adding ``load_after``); print the path.

    numpy scalars are written as numbers (``float``).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = dict(report, load_after=list(os.getloadavg()))
    tmp = out.with_suffix('.json.partial')
    tmp.write_text(json.dumps(report, indent=2, default=float) + '\n')
    os.replace(tmp, out)
    print(f'load average {os.getloadavg()}; wrote {out}')
    return out
