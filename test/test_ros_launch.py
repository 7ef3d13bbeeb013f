# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The launch files, run for real, and the plain-Python launcher's commands.

The package is used as a ROS user has it: from an install (under ``colcon test``, the one being
tested; otherwise a colcon build of this checkout into a temporary workspace, two seconds),
found through the ament index. Each launch file is executed by launch's ``LaunchService`` in its
own process (what ``ros2 launch`` does), the running node is checked (arguments, remappings,
parameter file), a replayed bag gives poses, and SIGINT ends everything without a traceback
or a process left behind. Without launch / launch_ros (no ROS 2, no ../shared/ros2-launch
installed by scripts/setup_env.sh) those tests skip; the launcher's tests run everywhere.
"""

import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest
import yaml

from pose_reloc.ros.launcher import (child_env, default_params_file, LaunchConfig, node_command,
                                     replay_command)

ROOT = Path(__file__).resolve().parents[1]

RUNNER = textwrap.dedent("""
    import sys
    from launch import LaunchDescription, LaunchService
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    path, args = sys.argv[1], [a.split(':=', 1) for a in sys.argv[2:]]
    service = LaunchService(argv=sys.argv[2:])
    service.include_launch_description(LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(path), launch_arguments=args)]))
    sys.exit(service.run())
""")


def _launch_available() -> bool:
    try:
        import launch  # noqa: F401
        import launch_ros.actions  # noqa: F401
    except ImportError:
        return False
    return True


needs_launch = pytest.mark.skipif(
    not _launch_available(), reason='launch / launch_ros are not importable (no ROS 2 install; '
    'scripts/setup_env.sh installs them from ../shared/ros2-launch)')


@pytest.fixture(scope='module')
def install(tmp_path_factory):
    """Return ``(prefix, env)``: an install of pose_reloc and the environment that uses it."""
    if not _launch_available():
        pytest.skip('launch / launch_ros are not importable')
    from ament_index_python.packages import get_package_prefix, PackageNotFoundError
    env = child_env()
    try:
        prefix = Path(get_package_prefix('pose_reloc'))
        if not (prefix / 'share' / 'pose_reloc' / 'launch').is_dir():
            raise PackageNotFoundError('pose_reloc')
    except (PackageNotFoundError, ValueError, OSError):  # OSError: no AMENT_PREFIX_PATH
        colcon = shutil.which('colcon') or str(Path(sys.executable).parent / 'colcon')
        if not os.access(colcon, os.X_OK):
            pytest.skip('no colcon to build the package')
        ws = tmp_path_factory.mktemp('colcon_ws')
        (ws / 'src').mkdir()
        (ws / 'src' / 'pose_reloc').symlink_to(ROOT)
        result = subprocess.run(
            [colcon, '--log-base', str(ws / 'log'), 'build', '--merge-install',
             '--build-base', str(ws / 'build'), '--install-base', str(ws / 'install'),
             '--base-paths', str(ws / 'src'), '--event-handlers', 'console_direct-'],
            cwd=ws, env=dict(env, PATH=f'{Path(sys.executable).parent}{os.pathsep}'
                             f'{env.get("PATH", "")}'),
            capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        prefix = ws / 'install'
        site = next(prefix.glob('lib/python3*/site-packages'))
        # the installed package first, as after `source install/setup.bash`
        env['PYTHONPATH'] = os.pathsep.join([str(site), env.get('PYTHONPATH', '')])
        env['AMENT_PREFIX_PATH'] = os.pathsep.join(
            [str(prefix), env.get('AMENT_PREFIX_PATH', sys.prefix)])
    return prefix, env


@pytest.fixture(scope='module')
def bundle(tmp_path_factory):
    """Make an untrained tiny APR model bundle: 48x64 input, MC-dropout covariance."""
    import torch

    from pose_reloc.core.bundle import save_bundle
    from pose_reloc.models.apr import PoseRegressor
    torch.manual_seed(0)
    model = PoseRegressor('tiny', None, fc_dim=16, dropout=0.3, rotation='quat').eval()
    meta = {'scenes': [{'name': 's', 'translation_mean': [0, 0, 0], 'translation_scale': 1.0,
                        'coord_mean': None, 'camera': None}],
            'input': {'height': 48, 'width': 64, 'resize': 0, 'mean': [0.5] * 3,
                      'std': [0.25] * 3},
            'uncertainty': {'mc_samples': 4, 'mc_dropout': 0.3}}
    return save_bundle(tmp_path_factory.mktemp('bundle') / 'apr', 'apr', model.architecture,
                       model.state_dict(), meta)


def _run_launch(install, tmp_path, launch_file, **arguments):
    prefix, env = install
    runner = tmp_path / 'run_launch.py'
    runner.write_text(RUNNER)
    log = tmp_path / f'{launch_file}.log'
    path = prefix / 'share' / 'pose_reloc' / 'launch' / launch_file
    with open(log, 'wb') as out:
        proc = subprocess.Popen(
            [sys.executable, str(runner), str(path)]
            + [f'{k}:={v}' for k, v in arguments.items()],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def _processes_with(marker: str):
    """Return the live processes whose command line contains ``marker``."""
    import psutil
    found = []
    for proc in psutil.process_iter(['cmdline', 'status']):
        try:
            if (proc.info['status'] != psutil.STATUS_ZOMBIE
                    and marker in ' '.join(proc.info['cmdline'] or [])):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _interrupt(proc, log, timeout=30):
    """Press Ctrl-C: SIGINT to the launch's whole process group, as a terminal sends it.

    launch does not forward a SIGINT it received to its processes (the terminal delivered it
    to them already); a SIGINT to launch alone ends them with SIGTERM after 5 s.
    """
    os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f'the launch did not stop on SIGINT:\n{log.read_text()}')


def _get_parameters(rec, node, names):
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python
    client = rec.node.create_client(GetParameters, f'{node}/get_parameters')
    assert rec.spin_until(client.service_is_ready, 30)
    future = client.call_async(GetParameters.Request(names=list(names)))
    assert rec.spin_until(future.done, 10)
    return {n: parameter_value_to_python(v) for n, v in zip(names, future.result().values)}


@needs_launch
def test_reloc_launch_runs_with_its_arguments_and_stops_on_sigint(install, bundle, tmp_path):
    from geometry_msgs.msg import PoseWithCovarianceStamped
    from sensor_msgs.msg import Image

    from pose_reloc.ros.conversions import rgb_to_image
    from pose_reloc.ros.recorder import Recorder
    from pose_reloc.ros.reloc_node import POSE_QOS
    ns = f'lt_{uuid.uuid4().hex[:8]}'
    params = yaml.safe_load(default_params_file().read_text())
    params['/**']['ros__parameters'].update(tf_mode='none', path_length=7,
                                            relocalize_frames=3)
    params_file = tmp_path / 'params.yaml'
    params_file.write_text(yaml.safe_dump(params))
    # a copy of the session's Fast DDS profile (a different one would not discover this test)
    profile = tmp_path / 'dds_profile.xml'
    shutil.copy(os.environ['FASTDDS_DEFAULT_PROFILES_FILE'], profile)
    proc, log = _run_launch(install, tmp_path, 'reloc.launch.py', bundle=str(bundle),
                            params_file=str(params_file), image_topic=f'/{ns}/image',
                            camera_info_topic=f'/{ns}/camera_info', rviz='true',
                            dds_profile=str(profile))
    rec = Recorder({'/reloc_node/pose': (PoseWithCovarianceStamped, POSE_QOS)},
                   node_name=f'{ns}_observer')
    try:
        images = rec.publisher(Image, f'/{ns}/image', 10)
        assert rec.spin_until(lambda: images.get_subscription_count() > 0
                              and rec.node.count_subscribers(f'/{ns}/camera_info') > 0, 60), \
            log.read_text()
        values = _get_parameters(rec, '/reloc_node', ['bundle', 'tf_mode', 'path_length',
                                                      'relocalize_frames', 'use_sim_time',
                                                      'autostart'])
        assert values == {'bundle': str(bundle), 'tf_mode': 'none', 'path_length': 7,
                          'relocalize_frames': 3, 'use_sim_time': False, 'autostart': True}
        pixels = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
        for k in range(100):
            images.publish(rgb_to_image(pixels, 10**9 + k, 'cam_optical'))
            if rec.spin_until(lambda: rec.count('/reloc_node/pose') > 0, 0.2):
                break
        assert rec.count('/reloc_node/pose') > 0, log.read_text()
        node_process, = [p for p in _processes_with(f'image:=/{ns}/image')
                         if '__node:=reloc_node' in ' '.join(p.cmdline())]
        assert node_process.environ()['FASTDDS_DEFAULT_PROFILES_FILE'] == str(profile)
    finally:
        rec.close()
        code = _interrupt(proc, log)
    text = log.read_text()
    assert 'rviz2 is not installed' in text
    assert code == 0 and "escalating to 'SIGTERM'" not in text, text
    assert 'Traceback' not in text, text
    assert not _processes_with(f'/{ns}/image'), 'a process outlived the launch'


@needs_launch
def test_a_failing_node_ends_the_launch(install, tmp_path):
    ns = f'lt_{uuid.uuid4().hex[:8]}'
    proc, log = _run_launch(install, tmp_path, 'reloc.launch.py',
                            bundle=str(tmp_path / 'missing'), image_topic=f'/{ns}/image',
                            rviz='true')
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        _interrupt(proc, log)
        raise AssertionError(f'the launch outlived its node:\n{log.read_text()}')
    text = log.read_text()
    assert 'does not exist' in text and 'Traceback' not in text, text
    assert not _processes_with(f'/{ns}/image')


@needs_launch
def test_ros2_run_params_file_after_bundle_keeps_the_bundle(install, bundle, tmp_path):
    """``reloc_node --ros-args -p bundle:=B --params-file <shipped yaml>`` starts with B."""
    prefix, env = install
    program = prefix / 'lib' / 'pose_reloc' / 'reloc_node'
    yaml_file = prefix / 'share' / 'pose_reloc' / 'config' / 'reloc_node.yaml'
    proc = subprocess.Popen(
        [str(program), '--ros-args', '-r', '__node:=params_order', '-p', f'bundle:={bundle}',
         '--params-file', str(yaml_file)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    from pose_reloc.ros.recorder import Recorder
    rec = Recorder({}, node_name='params_order_observer')
    try:
        values = _get_parameters(rec, '/params_order', ['bundle'])
        assert values == {'bundle': str(bundle)}
    finally:
        rec.close()
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0]
    assert 'configured' in output and 'Traceback' not in output, output


@needs_launch
def test_bag_eval_launch_scores_every_replayed_image(install, bundle, tmp_path):
    from pose_reloc.data.synthetic.generate import generate_scene
    from pose_reloc.ros.bag_export import export_bag
    scene = generate_scene(tmp_path / 'scene', 'tiny', seed=0, frames=24, size=(64, 48))
    bag = export_bag(scene, tmp_path / 'run.mcap', sequence='seq-01', progress=False)
    out = tmp_path / 'eval'
    proc, log = _run_launch(install, tmp_path, 'bag_eval.launch.py', bundle=str(bundle),
                            bag=str(bag), out=str(out), rate='2.0')
    try:
        code = proc.wait(timeout=240)
    except subprocess.TimeoutExpired:
        _interrupt(proc, log)
        raise AssertionError(f'bag_eval.launch.py did not finish:\n{log.read_text()}')
    text = log.read_text()
    assert code == 0, text
    report = json.loads((out / 'live_report.json').read_text())
    rows = report['per_frame']
    # The replay waits for the scorer in the ROS graph plus a grace for DDS to match the node's
    # pose writer to the scorer's reader (replay.MATCH_GRACE_S); that match is not observable
    # from the replay, and the first pose was still lost once in a CI run: allow that one.
    assert rows and (rows[0]['ok'] or rows[1]['ok']), \
        f'the first images lost their poses (start-up race): {report.get("node")}\n{text}'
    assert sum(r['ok'] for r in rows) >= 0.9 * len(rows), text
    failing, flog = _run_launch(install, tmp_path / 'eval', 'bag_eval.launch.py',
                                bundle=str(bundle), bag=str(tmp_path / 'missing.mcap'),
                                out=str(tmp_path / 'eval2'))
    assert failing.wait(timeout=120) != 0, flog.read_text()


def test_reloc_launch_builds_the_same_node_and_replay(tmp_path):
    cfg = LaunchConfig(bundle=str(tmp_path / 'bundle'), image_topic='/cam/img',
                       camera_info_topic='/cam/info', use_sim_time=True, bag='run.mcap',
                       rate=2.0, parameters={'tf_mode': 'none', 'min_confidence': 0.5})
    node = node_command(cfg)
    assert node[1:3] == ['-m', 'pose_reloc.ros.reloc_node']
    text = ' '.join(node)
    for piece in (f'bundle:={tmp_path / "bundle"}', 'use_sim_time:=true', 'image:=/cam/img',
                  'camera_info:=/cam/info', 'tf_mode:=none', 'min_confidence:=0.5',
                  str(default_params_file())):
        assert piece in text
    # the bundle comes after the parameter file: a later -p wins
    assert text.index('--params-file') < text.index('bundle:=')
    replay = ' '.join(replay_command(cfg))
    assert 'replay run.mcap --rate 2.0 --wait-for /cam/img' in replay and '--clock' in replay
    with pytest.raises(FileNotFoundError):
        node_command(LaunchConfig(bundle='b', params_file=str(tmp_path / 'missing.yaml')))


def test_parameter_file_matches_the_node_declarations():
    """Every parameter of the shipped YAML is declared by the node, and only bundle is left out."""
    import rclpy
    from rclpy.parameter import Parameter

    from pose_reloc.ros.reloc_node import RelocNode
    params = yaml.safe_load(default_params_file().read_text())['/**']['ros__parameters']
    context = rclpy.Context()
    rclpy.init(context=context)
    node = RelocNode(localizer=object(), node_name='declarations', context=context,
                     parameter_overrides=[Parameter('autostart', value=False)])
    try:
        # minus rclpy's own (use_sim_time; Jazzy+: start_type_description_service)
        declared = set(node.list_parameters([], 0).names) - {
            'use_sim_time', 'start_type_description_service'}
    finally:
        node.destroy_node()
        context.try_shutdown()
    assert set(params) <= declared
    assert declared - set(params) == {'bundle'}
    rviz = yaml.safe_load((default_params_file().parent / 'reloc.rviz').read_text())
    topics = {d.get('Topic', {}).get('Value') for d in rviz['Visualization Manager']['Displays']}
    assert {'/reloc_node/pose', '/reloc_node/path', '/camera/image_raw'} <= topics


@needs_launch
def test_named_presets_are_found_from_an_install(install, tmp_path):
    """``--config posenet-cpu`` works from a colcon install (presets in share/pose_reloc)."""
    prefix, env = install
    result = subprocess.run(
        [sys.executable, '-c', 'import pose_reloc.training.config as c; '
         'print(c.__file__); print(c.preset_path("posenet-cpu"))'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    module, preset = result.stdout.split()
    if Path(module).resolve().is_relative_to(ROOT):
        pytest.skip('pose_reloc is imported from the checkout here, not from an install')
    assert Path(preset).resolve() == (prefix / 'share' / 'pose_reloc' / 'config' / 'train'
                                      / 'posenet-cpu.yaml').resolve()
