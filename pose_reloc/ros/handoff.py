# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Hand-off to AMCL: agreement of several relocalizations, and when AMCL needs one.

A single camera fix can be wrong (a repeated structure, a blurred frame). Before a pose is given
to AMCL as its initial pose, ``frames`` consecutive fixes of the robot base must agree with each
other once the robot's motion between them is removed with odometry: fix ``i`` (``T_map_base_i``
at its image time, odometry ``T_odom_base_i`` then) predicts the base at the newest image time
as ``T_map_base_i @ inv(T_odom_base_i) @ T_odom_base_now`` (the map->odom it implies, composed
with the newest odometry). The predictions must lie within ``max_translation`` (m) and
``max_rotation`` (rad) of their mean. Without odometry the robot is taken as standing still.

The agreed pose is the mean of the predictions; its covariance is the mean of the fixes'
covariances (moved to the predicted base position through the lever arm; the fixes' errors are
correlated, so it is not divided by their number) plus the spread of the predictions.

This module holds the arithmetic and the decisions (no rclpy); ``reloc_node`` does the I/O.
"""

from collections import deque
from dataclasses import dataclass
import math
from typing import Optional, Sequence, Tuple

import numpy as np

from pose_reloc.geometry.rotations import matrix_to_quat, quat_log
from pose_reloc.geometry.se3 import invert, mean_pose


@dataclass(frozen=True)
class HandoffConfig:
    """The hand-off parameters of ``reloc_node`` (declared there, validated here once).

    Attributes:
        frames: consecutive fixes that must agree (>= 1).
        timeout_s: how long ``~/relocalize`` waits for them (s, > 0).
        max_translation: largest distance of a prediction from the mean (m, > 0).
        max_rotation: largest rotation of a prediction from the mean (rad, > 0).
        initial_pose_topic: where AMCL listens (``/initialpose``).
        set_initial_pose_service: nav2's ``nav2_msgs/srv/SetInitialPose`` service; used instead
            of the topic when ``nav2_msgs`` is importable and the service is up ('' : never).
        auto: watch AMCL and re-initialize it when it diverged.
        amcl_pose_topic: AMCL's pose (``/amcl_pose``).
        auto_max_position_std: AMCL diverged when sqrt of its larger x/y variance exceeds this
            (m, > 0).
        auto_max_yaw_std: ... or sqrt of its yaw variance exceeds this (rad, > 0).
        auto_max_disagreement_translation: ... or agreeing fixes are this far from AMCL's pose
            (m, > 0).
        auto_max_disagreement_rotation: ... or rotated this much from it (rad, > 0).
        auto_cooldown_s: no automatic hand-off sooner than this after the last one (s, >= 0).

    """

    frames: int = 5
    timeout_s: float = 10.0
    max_translation: float = 0.25
    max_rotation: float = 0.15
    initial_pose_topic: str = '/initialpose'
    set_initial_pose_service: str = 'set_initial_pose'
    auto: bool = False
    amcl_pose_topic: str = '/amcl_pose'
    auto_max_position_std: float = 0.5
    auto_max_yaw_std: float = 0.3
    auto_max_disagreement_translation: float = 1.0
    auto_max_disagreement_rotation: float = 0.5
    auto_cooldown_s: float = 30.0

    def __post_init__(self):
        if int(self.frames) != self.frames or self.frames < 1:
            raise ValueError(f'relocalize_frames must be an integer >= 1, got {self.frames}')
        positive = {'relocalize_timeout': self.timeout_s,
                    'relocalize_max_translation': self.max_translation,
                    'relocalize_max_rotation': self.max_rotation,
                    'auto_max_position_std': self.auto_max_position_std,
                    'auto_max_yaw_std': self.auto_max_yaw_std,
                    'auto_max_disagreement_translation':
                        self.auto_max_disagreement_translation,
                    'auto_max_disagreement_rotation': self.auto_max_disagreement_rotation}
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f'{name} must be a finite number > 0, got {value}')
        if not (math.isfinite(self.auto_cooldown_s) and self.auto_cooldown_s >= 0):
            raise ValueError(f'auto_cooldown must be a finite number >= 0, got '
                             f'{self.auto_cooldown_s}')
        for name, value in (('initial_pose_topic', self.initial_pose_topic),
                            ('amcl_pose_topic', self.amcl_pose_topic)):
            if not str(value).strip():
                raise ValueError(f'{name} must not be empty')


@dataclass(frozen=True)
class Fix:
    """One relocalization of the robot base.

    Attributes:
        stamp_ns: the image time.
        T_map_base: (4, 4) base pose in the map at that time.
        covariance: (6, 6) its covariance (x y z rx ry rz, map axes, m^2 / rad^2).
        T_odom_base: (4, 4) odometry at that time, or None (no odometry).

    """

    stamp_ns: int
    T_map_base: np.ndarray
    covariance: np.ndarray
    T_odom_base: Optional[np.ndarray] = None


@dataclass(frozen=True)
class Agreement:
    """The outcome of an agreement test of the newest fixes.

    Attributes:
        ok: the fixes agree.
        stamp_ns: the newest image time (the agreed pose is the base's then).
        T_map_base: (4, 4) mean of the predictions.
        covariance: (6, 6) positive-definite covariance of that pose.
        spread_translation: largest distance of a prediction from the mean (m).
        spread_rotation: largest rotation of a prediction from the mean (rad).
        frames: fixes used.
        odometry: whether odometry compensated the motion.

    """

    ok: bool
    stamp_ns: int
    T_map_base: np.ndarray
    covariance: np.ndarray
    spread_translation: float
    spread_rotation: float
    frames: int
    odometry: bool

    def describe(self) -> str:
        """Return a one-line summary (pose, spread) for logs and service responses."""
        x, y, z = self.T_map_base[:3, 3]
        yaw = math.atan2(self.T_map_base[1, 0], self.T_map_base[0, 0])
        return (f'x={x:.3f} y={y:.3f} z={z:.3f} yaw={math.degrees(yaw):.1f} deg from '
                f'{self.frames} frames (spread {self.spread_translation:.3f} m, '
                f'{math.degrees(self.spread_rotation):.1f} deg'
                f'{", odometry-compensated" if self.odometry else ", no odometry"})')


def _rotvec(R_n33: np.ndarray) -> np.ndarray:
    """Return the rotation vectors (axis * angle, radians) of ``(N, 3, 3)`` rotations."""
    return 2.0 * quat_log(matrix_to_quat(R_n33))


def _through_lever(covariance_66: np.ndarray, lever_3: np.ndarray) -> np.ndarray:
    skew = np.array([[0.0, -lever_3[2], lever_3[1]], [lever_3[2], 0.0, -lever_3[0]],
                     [-lever_3[1], lever_3[0], 0.0]])
    jac = np.eye(6)
    jac[:3, 3:] = -skew
    return jac @ covariance_66 @ jac.T


def agree(fixes: Sequence[Fix], max_translation: float, max_rotation: float) -> Agreement:
    """Test whether fixes agree once odometry removed the motion between them.

    Args:
        fixes: at least one fix, oldest first.
        max_translation: allowed distance of each prediction from the mean (m).
        max_rotation: allowed rotation of each prediction from the mean (rad).

    Returns:
        The :class:`Agreement` (``ok`` False when a prediction is too far).

    Raises:
        ValueError: no fixes.

    """
    if not fixes:
        raise ValueError('agree needs at least one fix')
    newest = fixes[-1]
    odometry = all(f.T_odom_base is not None for f in fixes)
    predictions, covariances = [], []
    for fix in fixes:
        T_pred = (fix.T_map_base @ invert(fix.T_odom_base) @ newest.T_odom_base if odometry
                  else np.asarray(fix.T_map_base, dtype=np.float64))
        predictions.append(T_pred)
        covariances.append(_through_lever(np.asarray(fix.covariance, dtype=np.float64),
                                          T_pred[:3, 3] - fix.T_map_base[:3, 3]))
    T_pred_n44 = np.stack(predictions)
    T_mean = mean_pose(T_pred_n44)
    dt_n3 = T_pred_n44[:, :3, 3] - T_mean[:3, 3]
    dr_n3 = _rotvec(T_pred_n44[:, :3, :3] @ T_mean[:3, :3].T)
    spread_t = float(np.linalg.norm(dt_n3, axis=1).max())
    spread_r = float(np.linalg.norm(dr_n3, axis=1).max())
    deviations_n6 = np.concatenate([dt_n3, dr_n3], axis=1)
    scatter = deviations_n6.T @ deviations_n6 / len(fixes)
    covariance = np.mean(covariances, axis=0) + scatter
    sym = 0.5 * (covariance + covariance.T)
    values, vectors = np.linalg.eigh(sym)
    covariance = (vectors * np.maximum(values, 1e-9)) @ vectors.T
    return Agreement(ok=spread_t <= max_translation and spread_r <= max_rotation,
                     stamp_ns=newest.stamp_ns, T_map_base=T_mean, covariance=covariance,
                     spread_translation=spread_t, spread_rotation=spread_r,
                     frames=len(fixes), odometry=odometry)


class FixWindow:
    """The newest ``frames`` fixes and their agreement (not thread-safe: lock around it)."""

    def __init__(self, frames: int, max_translation: float, max_rotation: float):
        self.frames = frames
        self.max_translation = max_translation
        self.max_rotation = max_rotation
        self._fixes = deque(maxlen=frames)
        self.last: Optional[Agreement] = None

    def add(self, fix: Fix) -> Optional[Agreement]:
        """Add a fix; return the agreement of the window once it is full, else None."""
        self._fixes.append(fix)
        if len(self._fixes) < self.frames:
            return None
        self.last = agree(list(self._fixes), self.max_translation, self.max_rotation)
        return self.last

    def clear(self) -> None:
        """Forget the fixes (a new request starts from the next frame)."""
        self._fixes.clear()
        self.last = None

    def __len__(self) -> int:
        return len(self._fixes)


def amcl_divergence(covariance_66: np.ndarray, max_position_std: float,
                    max_yaw_std: float) -> Optional[str]:
    """Return why AMCL's covariance says it is lost (None when it is not).

    AMCL fills x, y and yaw of its 6x6 covariance (indices 0, 7, 35).
    """
    cov = np.asarray(covariance_66, dtype=np.float64).reshape(6, 6)
    position_std = math.sqrt(max(cov[0, 0], cov[1, 1], 0.0))
    yaw_std = math.sqrt(max(cov[5, 5], 0.0))
    if not (math.isfinite(position_std) and math.isfinite(yaw_std)):
        return 'AMCL covariance is not finite'
    if position_std > max_position_std:
        return (f'AMCL position std {position_std:.2f} m > auto_max_position_std '
                f'{max_position_std:.2f} m')
    if yaw_std > max_yaw_std:
        return f'AMCL yaw std {yaw_std:.2f} rad > auto_max_yaw_std {max_yaw_std:.2f} rad'
    return None


def planar_disagreement(T_a: np.ndarray, T_b: np.ndarray) -> Tuple[float, float]:
    """Return the x-y distance (m) and the absolute yaw difference (rad) of two base poses."""
    distance = float(np.hypot(*(T_a[:2, 3] - T_b[:2, 3])))
    yaw_a = math.atan2(T_a[1, 0], T_a[0, 0])
    yaw_b = math.atan2(T_b[1, 0], T_b[0, 0])
    return distance, abs(math.remainder(yaw_a - yaw_b, 2 * math.pi))
