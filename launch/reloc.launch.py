# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
r"""Start ``reloc_node`` on a camera (and optionally RViz).

Arguments: ``bundle`` (model bundle directory, required), ``params_file`` (default
``config/reloc_node.yaml``), ``image_topic``, ``camera_info_topic``, ``use_sim_time``,
``autostart`` (false: a lifecycle manager configures and activates the node), ``rviz``,
``dds_profile`` (a Fast DDS XML profile for the node, e.g. the package's
``config/fastdds_camera.xml`` that delivers every 640x480 frame on one host; '' keeps the
environment's). Example::

    ros2 launch pose_reloc reloc.launch.py bundle:=/path/to/bundle \
        image_topic:=/oakd/rgb/image_raw camera_info_topic:=/oakd/rgb/camera_info rviz:=true

The launch ends when the node exits (nothing is left running). ``rviz:=true`` without RViz
installed logs a warning and starts the node alone. Without launch_ros, ``reloc_launch``
(pose_reloc.ros.launcher) starts the same processes.
"""

import os
import shutil

from ament_index_python.packages import get_package_share_directory, PackageNotFoundError
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, EmitEvent, LogInfo, OpaqueFunction,
                            SetEnvironmentVariable)
from launch.conditions import IfCondition
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def _rviz(context, share):
    """Return the RViz node, or a warning when rviz2 is not installed."""
    package = 'rviz2'
    try:
        get_package_share_directory(package)
    except PackageNotFoundError:
        package = None  # launch_ros then looks the executable up on the PATH
        if shutil.which('rviz2') is None:
            return [LogInfo(msg='rviz:=true but rviz2 is not installed: starting without RViz '
                                '(apt install ros-$ROS_DISTRO-rviz2)')]
    use_sim_time = LaunchConfiguration('use_sim_time').perform(context)
    return [Node(package=package, executable='rviz2', name='rviz2', output='screen',
                 arguments=['-d', os.path.join(share, 'config', 'reloc.rviz')],
                 parameters=[{'use_sim_time': use_sim_time.lower() == 'true'}])]


def _dds_profile(context):
    """Point Fast DDS at ``dds_profile`` for the processes started after this action."""
    profile = LaunchConfiguration('dds_profile').perform(context)
    if not profile:
        return []
    if not os.path.isfile(profile):
        raise FileNotFoundError(f'dds_profile {profile} does not exist')
    actions = [SetEnvironmentVariable('FASTDDS_DEFAULT_PROFILES_FILE', profile)]
    if os.environ.get('ROS_DISTRO', '') in ('humble', 'iron', 'jazzy'):
        # the name Fast DDS 2.x reads (Fast DDS 3, Kilted on, warns that it is deprecated)
        actions.append(SetEnvironmentVariable('FASTRTPS_DEFAULT_PROFILES_FILE', profile))
    return actions


def generate_launch_description():
    """Return the launch description of the relocalization node."""
    share = get_package_share_directory('pose_reloc')
    use_sim_time = LaunchConfiguration('use_sim_time')
    node = Node(package='pose_reloc', executable='reloc_node', name='reloc_node',
                output='screen',
                parameters=[LaunchConfiguration('params_file'),
                            {'bundle': LaunchConfiguration('bundle'),
                             'use_sim_time': ParameterValue(use_sim_time, value_type=bool),
                             'autostart': ParameterValue(LaunchConfiguration('autostart'),
                                                         value_type=bool)}],
                remappings=[('image', LaunchConfiguration('image_topic')),
                            ('image/compressed', LaunchConfiguration('image_topic')),
                            ('camera_info', LaunchConfiguration('camera_info_topic'))],
                on_exit=[EmitEvent(event=Shutdown(reason='reloc_node exited'))])
    return LaunchDescription([
        DeclareLaunchArgument('bundle', description='model bundle directory'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', 'reloc_node.yaml'),
                              description='node parameter YAML'),
        DeclareLaunchArgument('image_topic', default_value='/camera/image_raw',
                              description='sensor_msgs/Image topic of the camera (the '
                                          'CompressedImage topic with image_transport '
                                          'compressed)'),
        DeclareLaunchArgument('camera_info_topic', default_value='/camera/camera_info',
                              description='sensor_msgs/CameraInfo topic of the camera'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='follow /clock (bag replay)'),
        DeclareLaunchArgument('autostart', default_value='true',
                              description='configure and activate at start-up; false when '
                                          "nav2's lifecycle manager manages the node"),
        DeclareLaunchArgument('rviz', default_value='false', description='start RViz'),
        DeclareLaunchArgument('dds_profile', default_value='',
                              description='Fast DDS XML profile for the node (e.g. '
                                          f'{os.path.join(share, "config", "fastdds_camera.xml")}'
                                          "); '' keeps the environment's"),
        OpaqueFunction(function=_dds_profile),
        node,
        OpaqueFunction(function=_rviz, args=[share],
                       condition=IfCondition(LaunchConfiguration('rviz'))),
    ])
