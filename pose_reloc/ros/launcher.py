# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``reloc_launch``: start the processes of ``launch/reloc.launch.py`` without launch_ros.

The launch file is the way to start the node in a ROS 2 workspace; this module starts the
same graph with plain ``subprocess`` (the node, an optional bag replay feeding it, an optional
RViz) so that the graph runs and is testable where ``launch_ros`` is not installed. Both take
the same arguments: ``bundle``, ``params_file``, ``image_topic``, ``camera_info_topic``,
``use_sim_time``, ``rviz`` (+ ``bag`` and ``rate`` for the replay).
"""

import argparse
from dataclasses import dataclass, field
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional

DEFAULT_IMAGE_TOPIC = '/camera/image_raw'
DEFAULT_CAMERA_INFO_TOPIC = '/camera/camera_info'


def share_dir() -> Path:
    """Return the package's share directory (installed) or the source tree's root."""
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory('pose_reloc'))
    except (ImportError, LookupError, ValueError, OSError):
        return Path(__file__).resolve().parents[2]


def default_params_file() -> Path:
    """Return ``config/reloc_node.yaml`` of the package."""
    return share_dir() / 'config' / 'reloc_node.yaml'


@dataclass(frozen=True)
class LaunchConfig:
    """The arguments of ``reloc.launch.py`` (and the replay of ``bag_eval.launch.py``).

    Attributes:
        bundle: model bundle directory.
        params_file: node parameter YAML (None: ``config/reloc_node.yaml``).
        image_topic: camera image topic (the compressed topic when ``image_transport`` is
            ``compressed``).
        camera_info_topic: CameraInfo topic.
        use_sim_time: follow ``/clock`` (set when replaying a bag with ``--clock``).
        rviz: also start RViz with ``config/reloc.rviz`` (needs ``rviz2`` on the PATH).
        bag: a bag to replay into the node (None: live camera).
        rate: replay speed factor.
        node_name: the node's name (its topics are ``/<node_name>/pose`` ...).
        parameters: extra node parameters (name -> value), applied last.

    """

    bundle: str
    params_file: Optional[str] = None
    image_topic: str = DEFAULT_IMAGE_TOPIC
    camera_info_topic: str = DEFAULT_CAMERA_INFO_TOPIC
    use_sim_time: bool = False
    rviz: bool = False
    bag: Optional[str] = None
    rate: float = 1.0
    node_name: str = 'reloc_node'
    parameters: Dict[str, object] = field(default_factory=dict)


def _param_text(value) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(_param_text(v) for v in value) + ']'
    return str(value)


def node_command(cfg: LaunchConfig) -> List[str]:
    """Return the command line that starts the node (``python -m`` of ``reloc_node``)."""
    params_file = cfg.params_file or default_params_file()
    transport = str(cfg.parameters.get('image_transport', 'raw'))
    image_name = 'image/compressed' if transport == 'compressed' else 'image'
    cmd = [sys.executable, '-m', 'pose_reloc.ros.reloc_node', '--ros-args',
           '-r', f'__node:={cfg.node_name}']
    if Path(params_file).exists():
        cmd += ['--params-file', str(params_file)]
    elif cfg.params_file:
        raise FileNotFoundError(f'params file not found: {params_file}')
    cmd += ['-p', f'bundle:={cfg.bundle}', '-p', f'use_sim_time:={_param_text(cfg.use_sim_time)}',
            '-r', f'{image_name}:={cfg.image_topic}',
            '-r', f'camera_info:={cfg.camera_info_topic}']
    for name, value in cfg.parameters.items():
        cmd += ['-p', f'{name}:={_param_text(value)}']
    return cmd


def replay_command(cfg: LaunchConfig, publish_log: Optional[str] = None) -> List[str]:
    """Return the command line that replays ``cfg.bag`` once the node subscribes."""
    if cfg.bag is None:
        raise ValueError('no bag to replay')
    cmd = [sys.executable, '-m', 'pose_reloc.cli', 'replay', str(cfg.bag), '--rate',
           str(cfg.rate), '--wait-for', cfg.image_topic, '--no-progress']
    if cfg.use_sim_time:
        cmd.append('--clock')
    if publish_log is not None:
        cmd += ['--publish-log', str(publish_log)]
    return cmd


def rviz_command() -> Optional[List[str]]:
    """Return the RViz command, or None when ``rviz2`` is not installed."""
    rviz = shutil.which('rviz2')
    if rviz is None:
        return None
    return [rviz, '-d', str(share_dir() / 'config' / 'reloc.rviz')]


def child_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Return the environment for child processes: this one, the source tree on PYTHONPATH."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    if root not in paths:
        env['PYTHONPATH'] = os.pathsep.join([root] + paths)
    env.update(extra or {})
    return env


def start(cfg: LaunchConfig, log_dir: Optional[Path] = None,
          publish_log: Optional[str] = None) -> Dict[str, subprocess.Popen]:
    """Start the graph; return ``{'node': Popen, 'replay': Popen?, 'rviz': Popen?}``.

    Args:
        cfg: the launch arguments.
        log_dir: write each process's stdout+stderr to ``<log_dir>/<name>.log`` (None:
            inherit this process's streams).
        publish_log: passed to the replay (``--publish-log``).

    """
    commands = {'node': node_command(cfg)}
    if cfg.bag is not None:
        commands['replay'] = replay_command(cfg, publish_log)
    if cfg.rviz:
        rviz = rviz_command()
        if rviz is None:
            print('reloc_launch: rviz2 is not installed; not starting RViz', file=sys.stderr)
        else:
            commands['rviz'] = rviz
    processes = {}
    env = child_env()
    for name, cmd in commands.items():
        out = None
        if log_dir is not None:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
            out = open(Path(log_dir) / f'{name}.log', 'wb')
        processes[name] = subprocess.Popen(cmd, env=env, stdout=out,
                                           stderr=subprocess.STDOUT if out else None)
        if out is not None:
            out.close()
    return processes


def stop(processes: Dict[str, subprocess.Popen], timeout_s: float = 10.0) -> Dict[str, int]:
    """Stop the processes (SIGINT, then SIGKILL after ``timeout_s``); return exit codes."""
    for proc in processes.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    codes = {}
    for name, proc in processes.items():
        try:
            codes[name] = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            codes[name] = proc.wait()
    return codes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the launch arguments to ``parser``."""
    parser.add_argument('--bundle', required=True, help='model bundle directory')
    parser.add_argument('--params-file', default=None, help='node parameter YAML')
    parser.add_argument('--image-topic', default=DEFAULT_IMAGE_TOPIC)
    parser.add_argument('--camera-info-topic', default=DEFAULT_CAMERA_INFO_TOPIC)
    parser.add_argument('--use-sim-time', action='store_true')
    parser.add_argument('--rviz', action='store_true', help='start rviz2 when installed')
    parser.add_argument('--bag', default=None, help='replay this bag into the node')
    parser.add_argument('--rate', type=float, default=1.0, help='replay speed factor')
    parser.add_argument('--exit-after-replay', type=float, default=None, metavar='SECONDS',
                        help='stop the node this long after the replay ends')


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``reloc_launch``: start the graph and wait (Ctrl-C stops it)."""
    parser = argparse.ArgumentParser(prog='reloc_launch', description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    cfg = LaunchConfig(bundle=args.bundle, params_file=args.params_file,
                       image_topic=args.image_topic, camera_info_topic=args.camera_info_topic,
                       use_sim_time=args.use_sim_time or bool(args.bag), rviz=args.rviz,
                       bag=args.bag, rate=args.rate)
    processes = start(cfg)
    try:
        while processes['node'].poll() is None:
            replay = processes.get('replay')
            if (replay is not None and replay.poll() is not None
                    and args.exit_after_replay is not None):
                time.sleep(args.exit_after_replay)
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    codes = stop(processes)
    return codes.get('node', 0) if codes.get('node', 0) > 0 else 0


if __name__ == '__main__':
    sys.exit(main())
