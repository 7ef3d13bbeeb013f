# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``colcon build`` of the package in a fresh workspace, as a ROS 2 user builds it.

Uses the colcon and ROS 2 of the running environment: the venv's pip ROS 2 wheels, or a
sourced ROS 2 install. The package is copied (not linked) into ``<tmp>/ws/src`` so that the
build writes nothing into the repository.
"""

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
COPY_IGNORE = shutil.ignore_patterns(
    '.*', '__pycache__', '*.egg-info', 'build', 'install', 'log', 'runs', 'demo_out')


def _colcon():
    """Return the colcon executable beside this Python, or on PATH, or None."""
    beside = Path(sys.executable).parent / 'colcon'
    return str(beside) if beside.is_file() else shutil.which('colcon')


@pytest.mark.slow
@pytest.mark.parametrize('symlink_install', [False, True], ids=['copy', 'symlink-install'])
def test_colcon_build_installs_package(tmp_path, symlink_install):
    """The package builds with colcon and installs its executables, launch and config files."""
    colcon = _colcon()
    if colcon is None:
        pytest.skip('colcon is not installed (scripts/setup_env.sh installs it)')
    ws = tmp_path / 'ws'
    shutil.copytree(REPO_ROOT, ws / 'src' / 'pose_reloc', ignore=COPY_IGNORE)
    env = dict(os.environ)
    env['PATH'] = os.pathsep.join([str(Path(sys.executable).parent), env.get('PATH', '')])
    env.setdefault('AMENT_PREFIX_PATH', sys.prefix)
    env['COLCON_HOME'] = str(tmp_path / 'colcon_home')
    result = subprocess.run(
        [colcon, 'build', '--packages-select', 'pose_reloc',
         '--event-handlers', 'console_direct-']
        + (['--symlink-install'] if symlink_install else []),
        cwd=ws, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f'colcon build failed:\n{result.stdout}\n{result.stderr}'

    prefix = ws / 'install' / 'pose_reloc'
    share = prefix / 'share' / 'pose_reloc'
    assert (share / 'package.xml').read_bytes() == (REPO_ROOT / 'package.xml').read_bytes()
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' /
            'pose_reloc').is_file()
    for pattern in ('launch/*.py', 'config/*.yaml', 'config/*.xml', 'config/*.rviz',
                    'config/train/*.yaml'):
        for source in REPO_ROOT.glob(pattern):
            installed = share / source.relative_to(REPO_ROOT)
            assert installed.is_file(), f'{source.relative_to(REPO_ROOT)} was not installed'
    assert (share / 'config' / 'fastdds_shm.xml').is_file()

    executables = prefix / 'lib' / 'pose_reloc'
    for name in ('pose-reloc', 'reloc_node', 'reloc_launch'):
        assert os.access(executables / name, os.X_OK), f'lib/pose_reloc/{name} is missing'
    if symlink_install:
        return

    # The copied install runs on its own: its module, not the repository's, is imported.
    site_packages = next(prefix.glob('lib/python3*/site-packages'))
    run_env = dict(env, PYTHONPATH=str(site_packages))
    version = subprocess.run(
        [str(executables / 'pose-reloc'), '--version'], cwd=tmp_path, env=run_env,
        capture_output=True, text=True, timeout=120)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip().startswith('pose_reloc ')
    where = subprocess.run(
        [sys.executable, '-c', 'import pose_reloc; print(pose_reloc.__file__)'],
        cwd=tmp_path, env=run_env, capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(site_packages), where.stdout + where.stderr
