# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Docstring checks (pydocstyle through ament_pep257) on every Python file of the repository.

The project writes Google-style docstrings (``Args:`` / ``Returns:`` sections, summary on
the first line). ament_pep257's default ``ament`` convention checks numpy-style section
underlines (D406, D407, D413) and a summary on the second line (D213), which contradict
Google style, so the style test runs ament_pep257 with pydocstyle's ``google`` convention.
A second test requires docstrings on the package's public names (D100-D104).
"""

from pathlib import Path

from ament_pep257.main import main
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Colcon's folders when the package is built in place.
BUILD_DIRS = [str(REPO_ROOT / name) for name in ('build', 'install', 'log')]
MISSING_DOCSTRING_CODES = ['D100', 'D101', 'D102', 'D103', 'D104', 'D105', 'D106', 'D107']


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257(monkeypatch):
    """Every docstring in the repository follows PEP 257 in the Google convention."""
    monkeypatch.chdir(REPO_ROOT)
    rc = main(argv=['.', '--exclude', *BUILD_DIRS, '--convention', 'google',
                    '--add-ignore', *MISSING_DOCSTRING_CODES])
    assert rc == 0, 'Found docstring style errors (listed in the captured stderr)'


@pytest.mark.linter
@pytest.mark.pep257
def test_public_names_have_docstrings(monkeypatch):
    """Every public module, package, class, method and function of pose_reloc has a docstring."""
    monkeypatch.chdir(REPO_ROOT)
    rc = main(argv=['pose_reloc', '--select', 'D100', 'D101', 'D102', 'D103', 'D104'])
    assert rc == 0, 'Public names without a docstring (listed in the captured stderr)'
