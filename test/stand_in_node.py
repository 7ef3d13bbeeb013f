# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Run the real RelocNode around a scripted localizer (the ROS tests' stand-in for a model).

The stand-in reads the pose from the image: ``x = red(0, 0) / 100`` metres, identity rotation,
covariance ``diag(0.01, 0.02, 0.03, 0.001, 0.002, 0.003)``, confidence 0.9. With
``--scripted`` three red values misbehave on purpose: 1 gives a NaN pose, 2 a confidence of
0.1, 3 takes 0.6 s. With ``--no-localizer`` the node loads its ``bundle`` parameter as
usual. Everything after ``--ros-args`` goes to the node::

    python test/stand_in_node.py [--scripted] [--no-localizer] --ros-args -r __node:=x ...
"""

import sys
import time

import numpy as np
import rclpy

from pose_reloc.inference.base import PoseEstimate
from pose_reloc.ros.reloc_node import RelocNode

#: the covariance every stand-in pose carries (ROS order x, y, z, rx, ry, rz).
COVARIANCE = np.diag([0.01, 0.02, 0.03, 0.001, 0.002, 0.003])


class StandInLocalizer:
    """A localizer whose pose is written in the image (see the module docstring)."""

    method, scenes, camera = 'apr', ['lab'], None

    def __init__(self, scripted: bool = False):
        """Misbehave on red values 1, 2 and 3 when ``scripted``."""
        self.scripted = scripted

    def localize(self, image, camera=None, scene=None):
        """Return ``x = red / 100`` metres (see the module docstring)."""
        value = int(image[0, 0, 0])
        T = np.eye(4)
        T[0, 3] = value / 100.0
        confidence = 0.9
        if self.scripted:
            if value == 1:
                T[1, 3] = float('nan')
            if value == 2:
                confidence = 0.1
            if value == 3:
                time.sleep(0.6)
        return PoseEstimate(ok=True, T_world_cam=T, covariance=COVARIANCE.copy(),
                            confidence=confidence, scene='lab')


def main() -> None:
    """Spin the node until interrupted."""
    own = sys.argv[1:sys.argv.index('--ros-args')] if '--ros-args' in sys.argv else []
    rclpy.init(args=sys.argv)
    localizer = None if '--no-localizer' in own else StandInLocalizer('--scripted' in own)
    node = RelocNode(localizer=localizer)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == '__main__':
    main()
