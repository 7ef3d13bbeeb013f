# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Start and stop the stand-in node (``stand_in_node.py``) from the ROS tests."""

from pathlib import Path
import subprocess
import sys
from typing import Dict, Optional, Sequence

from pose_reloc.ros.launcher import child_env

SCRIPT = Path(__file__).with_name('stand_in_node.py')


def start_stand_in(log: Path, ros_args: Sequence[str] = (), scripted: bool = False,
                   localizer: bool = True,
                   env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    """Start the node around the stand-in localizer; its output goes to ``log``.

    Args:
        log: file for the node's stdout and stderr (read it in assertion messages).
        ros_args: what follows ``--ros-args`` (``-r __node:=name``, ``-p key:=value``...).
        scripted: red values 1, 2, 3 misbehave (see ``stand_in_node``).
        localizer: False starts the node without one (it loads its ``bundle`` parameter).
        env: extra environment variables for the child.
    """
    args = [sys.executable, str(SCRIPT)]
    args += ['--scripted'] if scripted else []
    args += [] if localizer else ['--no-localizer']
    with open(log, 'wb') as out:
        return subprocess.Popen(args + ['--ros-args', *ros_args], env=child_env(env),
                                stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate the node and wait for it."""
    proc.terminate()
    proc.wait(timeout=timeout)
