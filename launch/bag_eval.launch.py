# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Evaluate a model bundle live on a bag: replay -> reloc_node -> poses vs ground truth.

Includes ``reloc.launch.py`` (the node, with ``use_sim_time``) and runs
``pose-reloc replay BAG --clock`` into it, plus the recorder/scorer
``pose-reloc bag-eval BUNDLE BAG --attach`` which records ``/reloc_node/pose`` and compares it
with the bag's ground truth. The replay starts once the node reads the image topic and the
scorer reads the node's pose topic, so no pose is lost to the start-up. The launch ends when
the scorer exits, with a non-zero status when the scorer or the replay failed. Arguments:
``bundle``, ``bag``, ``out`` (report folder), ``rate``, ``image_topic``,
``camera_info_topic``, ``gt_args`` (ground-truth options of bag-eval, default
``--tf-parent map``), ``params_file``, ``rviz``. Example::

    ros2 launch pose_reloc bag_eval.launch.py bundle:=/path/bundle bag:=/path/run.mcap

``pose-reloc`` is run from the package's install (``lib/pose_reloc``, where colcon puts it,
not on the PATH), else from the PATH, else as ``python -m pose_reloc.cli``. Without
launch_ros, ``pose-reloc bag-eval BUNDLE BAG --live`` starts the same processes.
"""

import os
import shutil
import sys

from ament_index_python.packages import (get_package_prefix, get_package_share_directory,
                                         PackageNotFoundError)
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, EmitEvent, ExecuteProcess,
                            IncludeLaunchDescription, OpaqueFunction, RegisterEventHandler)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration


def pose_reloc_command():
    """Return the command that runs ``pose-reloc`` (a list of the program and its prefix)."""
    try:
        program = os.path.join(get_package_prefix('pose_reloc'), 'lib', 'pose_reloc',
                               'pose-reloc')
        if os.access(program, os.X_OK):
            return [program]
    except PackageNotFoundError:
        pass
    program = shutil.which('pose-reloc')
    return [program] if program else [sys.executable, '-m', 'pose_reloc.cli']


def _processes(context):
    """Return the scorer, the replay and their exit handlers."""
    def arg(name):
        return LaunchConfiguration(name).perform(context)

    pose_reloc = pose_reloc_command()
    image_topic = arg('image_topic')
    scorer = ExecuteProcess(
        name='bag_eval_scorer',
        cmd=pose_reloc + ['bag-eval', arg('bundle'), arg('bag'), '--attach', '--out',
                          arg('out'), '--image-topic', image_topic, '--camera-info-topic',
                          arg('camera_info_topic')] + arg('gt_args').split(),
        output='screen')
    replay = ExecuteProcess(
        name='bag_replay',
        cmd=pose_reloc + ['replay', arg('bag'), '--clock', '--rate', arg('rate'),
                          '--wait-for', image_topic, '/reloc_node/pose',
                          '--wait-timeout', '600', '--no-progress'],
        output='screen')

    def failed(what):
        def check(event, _context):
            if event.returncode != 0:
                raise RuntimeError(f'{what} exited with status {event.returncode}')
            return []
        return check

    def scorer_done(event, _context):
        failed('the bag-eval scorer')(event, _context)
        return [EmitEvent(event=Shutdown(reason='bag-eval finished'))]

    return [scorer, replay,
            RegisterEventHandler(OnProcessExit(target_action=scorer, on_exit=scorer_done)),
            RegisterEventHandler(OnProcessExit(target_action=replay,
                                               on_exit=failed('the bag replay')))]


def generate_launch_description():
    """Return the launch description of a live bag evaluation."""
    share = get_package_share_directory('pose_reloc')
    return LaunchDescription([
        DeclareLaunchArgument('bundle', description='model bundle directory'),
        DeclareLaunchArgument('bag', description='rosbag2 directory, .mcap or .db3'),
        DeclareLaunchArgument('out', default_value='bag_eval_out',
                              description='report folder'),
        DeclareLaunchArgument('rate', default_value='1.0', description='replay speed'),
        DeclareLaunchArgument('image_topic', default_value='/camera/image_raw'),
        DeclareLaunchArgument('camera_info_topic', default_value='/camera/camera_info'),
        DeclareLaunchArgument('gt_args', default_value='--tf-parent map',
                              description='ground-truth options of pose-reloc bag-eval'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', 'reloc_node.yaml')),
        DeclareLaunchArgument('rviz', default_value='false'),
        DeclareLaunchArgument('dds_profile', default_value=''),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'reloc.launch.py')),
            launch_arguments={'bundle': LaunchConfiguration('bundle'),
                              'params_file': LaunchConfiguration('params_file'),
                              'image_topic': LaunchConfiguration('image_topic'),
                              'camera_info_topic': LaunchConfiguration('camera_info_topic'),
                              'use_sim_time': 'true',
                              'rviz': LaunchConfiguration('rviz'),
                              'dds_profile': LaunchConfiguration('dds_profile')}.items()),
        OpaqueFunction(function=_processes),
    ])
