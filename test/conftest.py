# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Session-wide test settings: ROS 2 isolation and the paths tests share.

Before any test module is imported (so before anything imports rclpy), the session gets:

- ``ROS_DOMAIN_ID``: a random domain in 1-99, unless the caller (CI) already set one, so
  that test sessions running at the same time do not see each other's nodes (below 100:
  with the PyPI Kilted wheels and Fast DDS 3.2, domains of 100 and above discovered peers
  but delivered no message between processes here; ROS 2 documents 0-101 as safe);
- ``RMW_IMPLEMENTATION=rmw_fastrtps_cpp`` unless set;
- ``FASTDDS_DEFAULT_PROFILES_FILE`` (and ``FASTRTPS_DEFAULT_PROFILES_FILE`` on Humble and
  Jazzy, whose Fast DDS 2.x reads that name) pointing at ``config/fastdds_shm.xml``:
  shared-memory transport only, 32 MB segments, nothing sent over the network.

Child processes started by tests inherit these variables. At the end of the session, Fast DDS's
``fastdds shm clean`` removes the shared-memory files that killed participants left behind in
/dev/shm (files of running participants are kept).
"""

import os
from pathlib import Path
import random
import subprocess
import sys

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / '..' / 'shared' / 'data').resolve()
FASTDDS_PROFILE = REPO_ROOT / 'config' / 'fastdds_shm.xml'


def _isolate_ros():
    """Set the ROS 2 environment variables of the test session (see the module docstring)."""
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(1, 99)))
    os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(FASTDDS_PROFILE)
    if os.environ.get('ROS_DISTRO', '') in ('humble', 'jazzy'):
        os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(FASTDDS_PROFILE)


_isolate_ros()


def _fastdds_tool():
    """Return Fast DDS's ``fastdds.py`` tool of this environment, or None."""
    prefixes = [sys.prefix] + os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)
    for prefix in filter(None, prefixes):
        tool = Path(prefix) / 'tools' / 'fastdds' / 'fastdds.py'
        if tool.is_file():
            return tool
    return None


def pytest_sessionfinish(session, exitstatus):
    """Remove the Fast DDS shared-memory files of dead participants (``fastdds shm clean``)."""
    tool = _fastdds_tool()
    if tool is None:
        return
    result = subprocess.run([sys.executable, str(tool), 'shm', 'clean'],
                            capture_output=True, text=True, timeout=60)
    cleaned = [line for line in result.stdout.splitlines() if 'zombie' in line]
    session.config.pose_reloc_shm_clean = '; '.join(cleaned) or (
        result.stdout + result.stderr).strip()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Report what ``fastdds shm clean`` removed."""
    report = getattr(config, 'pose_reloc_shm_clean', None)
    if report:
        terminalreporter.write_line(f'fastdds shm clean: {report}')


def pytest_report_header(config):
    """Show the ROS 2 isolation settings in pytest's header."""
    return (f"ROS_DOMAIN_ID={os.environ['ROS_DOMAIN_ID']} "
            f"RMW_IMPLEMENTATION={os.environ['RMW_IMPLEMENTATION']} "
            f'Fast DDS profile={FASTDDS_PROFILE.name}')


@pytest.fixture(scope='session')
def repo_root() -> Path:
    """Return the repository root (the directory holding package.xml)."""
    return REPO_ROOT


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """Return ``../shared/data`` next to the repository; fail if it is missing."""
    if not SHARED_DATA.is_dir():
        raise FileNotFoundError(f'test data folder {SHARED_DATA} is missing')
    return SHARED_DATA


@pytest.fixture
def context():
    """Yield an initialized rclpy context of its own, shut down after the test."""
    import rclpy
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    ctx.try_shutdown()
