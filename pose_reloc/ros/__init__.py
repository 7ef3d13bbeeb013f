# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The ROS 2 side of pose_reloc: the only package that imports rclpy or message types.

``conversions`` (messages <-> numpy), ``tf_buffer`` (interpolating TF buffer), ``bag_io``
(reading rosbag2 with rosbags), ``bag_export`` (synthetic scenes -> bags), ``extract``
(bag -> posed folder), ``replay`` (bag -> topics), ``recorder`` (observe a graph),
``reloc_node`` (the node), ``launcher`` (``reloc_launch``), ``bag_eval`` (offline / live
evaluation on a bag) and ``demo`` (the end-to-end demonstration). Modules import rclpy lazily
where they can, so bag tools work without a ROS 2 install (rosbags only).
"""
