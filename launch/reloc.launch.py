# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
r"""Start ``reloc_node`` on a camera (and optionally RViz).

Arguments: ``bundle`` (model bundle directory, required), ``params_file`` (default
``config/reloc_node.yaml``), ``image_topic``, ``camera_info_topic``, ``use_sim_time``,
``rviz``. Example::

    ros2 launch pose_reloc reloc.launch.py bundle:=/path/to/bundle \
        image_topic:=/oakd/rgb/image_raw camera_info_topic:=/oakd/rgb/camera_info rviz:=true

Without launch_ros, ``reloc_launch`` (pose_reloc.ros.launcher) starts the same processes.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description():
    """Return the launch description of the relocalization node."""
    share = get_package_share_directory('pose_reloc')
    bundle = LaunchConfiguration('bundle')
    use_sim_time = LaunchConfiguration('use_sim_time')
    return LaunchDescription([
        DeclareLaunchArgument('bundle', description='model bundle directory'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', 'reloc_node.yaml'),
                              description='node parameter YAML'),
        DeclareLaunchArgument('image_topic', default_value='/camera/image_raw',
                              description='sensor_msgs/Image topic of the camera'),
        DeclareLaunchArgument('camera_info_topic', default_value='/camera/camera_info',
                              description='sensor_msgs/CameraInfo topic of the camera'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='follow /clock (bag replay)'),
        DeclareLaunchArgument('rviz', default_value='false', description='start RViz'),
        Node(package='pose_reloc', executable='reloc_node', name='reloc_node', output='screen',
             parameters=[LaunchConfiguration('params_file'),
                         {'bundle': bundle,
                          'use_sim_time': ParameterValue(use_sim_time, value_type=bool)}],
             remappings=[('image', LaunchConfiguration('image_topic')),
                         ('camera_info', LaunchConfiguration('camera_info_topic'))]),
        Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
             arguments=['-d', os.path.join(share, 'config', 'reloc.rviz')],
             parameters=[{'use_sim_time': ParameterValue(use_sim_time, value_type=bool)}],
             condition=IfCondition(LaunchConfiguration('rviz'))),
    ])
