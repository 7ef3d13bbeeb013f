# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""flake8 on every Python file of the repository, the way ament_flake8 runs it.

The configuration is ament_flake8's (99 columns, google import order, single quotes, the
ament plugin set) plus ``application-import-names = pose_reloc``: the ``[flake8]`` section
of ``setup.cfg``.
"""

from pathlib import Path

from ament_flake8.main import main_with_errors
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8(monkeypatch):
    """All Python files pass flake8 with the project's configuration."""
    monkeypatch.chdir(REPO_ROOT)
    rc, errors = main_with_errors(argv=['--config', str(REPO_ROOT / 'setup.cfg'), '.'])
    assert rc == 0, 'Found %d code style errors / warnings:\n' % len(errors) + '\n'.join(errors)
