# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Every Python and shell file starts with the project's copyright and license lines.

The project uses the short SPDX form of the Apache-2.0 header::

    # Copyright <year> pose_reloc authors
    # SPDX-License-Identifier: Apache-2.0

(after an optional shebang line). ament_copyright only accepts the full Apache boilerplate
(ament/ament_lint issue 246) and has no wheel on PyPI, so this test checks the header itself,
with or without ament_copyright installed.
"""

import os
from pathlib import Path
import re

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
COPYRIGHT_RE = re.compile(r'# Copyright (\d{4})(-\d{4})? pose_reloc authors$')
LICENSE_LINE = '# SPDX-License-Identifier: Apache-2.0'
SKIP_DIRS = {'build', 'install', 'log'}
SUFFIXES = ('.py', '.sh')


def _source_files(root: Path):
    """Yield the .py and .sh files under ``root``, skipping hidden, private and build folders."""
    for dirpath, dirnames, filenames in os.walk(root):
        if {'AMENT_IGNORE', 'COLCON_IGNORE'} & set(filenames):
            dirnames[:] = []
            continue
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(('.', '_')) and not d.endswith('.egg-info')
            and not (Path(dirpath) == root and d in SKIP_DIRS))
        for name in sorted(filenames):
            if name.endswith(SUFFIXES):
                yield Path(dirpath) / name


def header_problem(path: Path):
    """Return what is wrong with the header of ``path``, or None when it is right."""
    lines = path.read_text(encoding='utf-8').splitlines()
    if lines and lines[0].startswith('#!'):
        lines = lines[1:]
    if not lines:
        return 'empty file, no copyright header'
    if not COPYRIGHT_RE.match(lines[0]):
        return f'line 1 is {lines[0]!r}, expected "# Copyright <year> pose_reloc authors"'
    if len(lines) < 2 or lines[1] != LICENSE_LINE:
        second = lines[1] if len(lines) > 1 else '<end of file>'
        return f'line 2 is {second!r}, expected {LICENSE_LINE!r}'
    return None


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    """All source files carry the copyright and SPDX license lines."""
    files = list(_source_files(REPO_ROOT))
    assert any(f.name == 'cli.py' for f in files), f'no source files found under {REPO_ROOT}'
    problems = [f'{f.relative_to(REPO_ROOT)}: {p}' for f in files if (p := header_problem(f))]
    assert not problems, 'Files without the copyright header:\n' + '\n'.join(problems)


@pytest.mark.copyright
def test_header_check_rejects_bad_headers(tmp_path):
    """The header check accepts the project's header and rejects a missing or wrong one."""
    good = tmp_path / 'good.py'
    good.write_text('#!/usr/bin/env python3\n# Copyright 2026 pose_reloc authors\n'
                    f'{LICENSE_LINE}\n"""Doc."""\n')
    assert header_problem(good) is None
    no_license = tmp_path / 'no_license.py'
    no_license.write_text('# Copyright 2026 pose_reloc authors\n"""Doc."""\n')
    assert 'line 2' in header_problem(no_license)
    other_holder = tmp_path / 'other.py'
    other_holder.write_text(f'# Copyright 2026 Someone Else\n{LICENSE_LINE}\n')
    assert 'line 1' in header_problem(other_holder)
    empty = tmp_path / 'empty.py'
    empty.write_text('')
    assert header_problem(empty) == 'empty file, no copyright header'
