# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Evaluate a model bundle live on a bag: replay -> reloc_node -> poses vs ground truth.

Includes ``reloc.launch.py`` (the node, with ``use_sim_time``) and runs
``pose-reloc replay BAG --clock`` into it, plus the recorder/scorer
``pose-reloc bag-eval BUNDLE BAG --attach`` which records ``/reloc_node/pose`` and compares it
with the bag's ground truth. Arguments: ``bundle``, ``bag``, ``out`` (report folder),
``rate``, ``image_topic``, ``camera_info_topic``, ``gt_args`` (ground-truth options of
bag-eval, default ``--tf-parent map``), ``params_file``, ``rviz``. Example::

    ros2 launch pose_reloc bag_eval.launch.py bundle:=/path/bundle bag:=/path/run.mcap

Without launch_ros, ``pose-reloc bag-eval BUNDLE BAG --live`` starts the same processes.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, EmitEvent, ExecuteProcess,
                            IncludeLaunchDescription, RegisterEventHandler)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration


def generate_launch_description():
    """Return the launch description of a live bag evaluation."""
    share = get_package_share_directory('pose_reloc')
    image_topic = LaunchConfiguration('image_topic')
    scorer = ExecuteProcess(
        cmd=['pose-reloc', 'bag-eval', LaunchConfiguration('bundle'),
             LaunchConfiguration('bag'), '--attach', '--out', LaunchConfiguration('out'),
             '--image-topic', image_topic, '--camera-info-topic',
             LaunchConfiguration('camera_info_topic'), LaunchConfiguration('gt_args')],
        shell=True, output='screen')
    replay = ExecuteProcess(
        cmd=['pose-reloc', 'replay', LaunchConfiguration('bag'), '--clock', '--rate',
             LaunchConfiguration('rate'), '--wait-for', image_topic, '--no-progress'],
        output='screen')
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
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'reloc.launch.py')),
            launch_arguments={'bundle': LaunchConfiguration('bundle'),
                              'params_file': LaunchConfiguration('params_file'),
                              'image_topic': image_topic,
                              'camera_info_topic': LaunchConfiguration('camera_info_topic'),
                              'use_sim_time': 'true',
                              'rviz': LaunchConfiguration('rviz')}.items()),
        scorer,
        replay,
        RegisterEventHandler(OnProcessExit(target_action=scorer,
                                           on_exit=[EmitEvent(event=Shutdown())])),
    ])
