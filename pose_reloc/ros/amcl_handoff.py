# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The ROS side of the AMCL hand-off of ``reloc_node`` (the arithmetic is in ``handoff``).

- ``~/relocalize`` (std_srvs/Trigger): collect the next ``relocalize_frames`` fixes of the
  base until they agree (odometry-compensated), then send their pose and covariance to AMCL;
  the response says what was sent, or why nothing was (no agreement in time, no AMCL, node
  not active).
- Sending: nav2's ``set_initial_pose`` service (nav2_msgs/srv/SetInitialPose) when
  ``nav2_msgs`` is importable and the service is up, else a PoseWithCovarianceStamped on
  ``initial_pose_topic`` (``/initialpose``) in ``map_frame``, stamped with the newest image
  time (AMCL integrates the odometry since then), with :data:`INITIAL_POSE_QOS`.
- Automatic mode (``auto_relocalize``): subscribe ``amcl_pose_topic``; when AMCL's
  covariance passes the thresholds, or agreeing fixes disagree with AMCL's pose by more than
  the thresholds, send the agreed pose; never twice within ``auto_cooldown`` seconds, and
  only when the fix is tighter than the covariance threshold (else it would not help).

Every hand-off is logged and counted (``/diagnostics``: ``handoffs``, ``auto_handoffs``,
``last_handoff``).
"""

import math
import threading
import time
from typing import Optional, Tuple

from geometry_msgs.msg import PoseWithCovarianceStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.task import Future

from pose_reloc.ros.conversions import (msg_covariance, msg_to_T,
                                        T_to_pose_with_covariance_stamped)
from pose_reloc.ros.handoff import (Agreement, amcl_divergence, Fix, FixWindow, HandoffConfig,
                                    planar_disagreement)

#: QoS of the ``/initialpose`` publisher. nav2 AMCL subscribes with SystemDefaultsQoS (Humble:
#: reliable, volatile, depth 10 under Fast DDS / Cyclone) or nav2's StandardTopicQoS (newer:
#: reliable, volatile, depth 10); RViz's "2D Pose Estimate" publishes reliable + volatile.
#: A reliable, volatile writer matches both, and a restarted AMCL is not handed a stale pose.
INITIAL_POSE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                              reliability=ReliabilityPolicy.RELIABLE,
                              durability=DurabilityPolicy.VOLATILE)
#: QoS of the ``/amcl_pose`` subscription: AMCL publishes KeepLast(1), reliable,
#: transient_local, so a late subscriber gets the last pose.
AMCL_POSE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                           reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _set_initial_pose_type():
    """Return ``nav2_msgs.srv.SetInitialPose`` or None when nav2_msgs is not installed."""
    try:
        from nav2_msgs.srv import SetInitialPose
    except ImportError:
        return None
    return SetInitialPose


class AmclHandoff:
    """Service, publisher and automatic mode of the hand-off, owned by ``reloc_node``.

    Created when the node is configured (publisher, service, optional nav2 client);
    :meth:`activate` / :meth:`deactivate` open and close the ``amcl_pose`` subscription;
    :meth:`destroy` releases everything. :meth:`add_fix` is called from the node's worker
    thread with each published fix while :meth:`wants_fixes` is true.

    Args:
        node: the owning rclpy node (its logger, clock and executor are used).
        config: the validated hand-off parameters.
        map_frame: frame of the poses sent to AMCL (AMCL's ``global_frame_id``).

    """

    def __init__(self, node, config: HandoffConfig, map_frame: str):
        from std_srvs.srv import Trigger
        self._node = node
        self.config = config
        self.map_frame = map_frame
        self._lock = threading.Lock()
        self._window = FixWindow(config.frames, config.max_translation, config.max_rotation)
        self._waiter: Optional[Future] = None
        self._timer: Optional[threading.Timer] = None
        self._active = False
        self._last_handoff = -math.inf
        self._amcl: Optional[Tuple[object, object]] = None
        self._amcl_reason: Optional[str] = None
        self._amcl_sub = None
        self.counts = {'handoffs': 0, 'auto_handoffs': 0, 'refused': 0}
        self.last = ''
        self._pub = node.create_publisher(PoseWithCovarianceStamped, config.initial_pose_topic,
                                          INITIAL_POSE_QOS)
        # its own group: a request awaits frames, and a pending coroutine holds its callback
        # group, which must not be the one of the image subscription
        self._srv = node.create_service(Trigger, '~/relocalize', self._on_relocalize,
                                        callback_group=MutuallyExclusiveCallbackGroup())
        srv_type = _set_initial_pose_type()
        self._client = (node.create_client(srv_type, config.set_initial_pose_service)
                        if srv_type is not None and config.set_initial_pose_service else None)

    # ------------------------------------------------------------------ lifecycle
    def activate(self) -> None:
        """Start serving (and watching AMCL in automatic mode)."""
        with self._lock:
            self._active = True
            self._window.clear()
        if self.config.auto and self._amcl_sub is None:
            self._amcl_sub = self._node.create_subscription(
                PoseWithCovarianceStamped, self.config.amcl_pose_topic, self._on_amcl_pose,
                AMCL_POSE_QOS)

    def deactivate(self) -> None:
        """Stop: answer a running request and close the ``amcl_pose`` subscription."""
        with self._lock:
            self._active = False
        self._finish(False, 'reloc_node was deactivated before the frames agreed')
        if self._amcl_sub is not None:
            self._node.destroy_subscription(self._amcl_sub)
            self._amcl_sub = None

    def destroy(self) -> None:
        """Release the publisher, service and client."""
        self.deactivate()
        self._node.destroy_publisher(self._pub)
        self._node.destroy_service(self._srv)
        if self._client is not None:
            self._node.destroy_client(self._client)

    # ------------------------------------------------------------------ fixes
    def wants_fixes(self) -> bool:
        """Return whether fixes are needed now (a request runs, or automatic mode is on)."""
        return self._active and (self._waiter is not None or self.config.auto)

    def add_fix(self, fix: Fix) -> None:
        """Add a fix of the base; hand off when a request or the automatic mode says so."""
        with self._lock:
            agreement = self._window.add(fix)
            if agreement is None or not agreement.ok:
                return
            if self._waiter is not None:
                ok, text = self._send(agreement, 'request')
                self._window.clear()
            else:
                reason = self._auto_reason(agreement)
                if reason is None:
                    return
                ok, text = self._send(agreement, f'automatic ({reason})')
                self._window.clear()
                if ok:
                    self.counts['auto_handoffs'] += 1
                    self._amcl, self._amcl_reason = None, None
                return
        self._finish(ok, text)

    def _auto_reason(self, agreement: Agreement) -> Optional[str]:
        """Return why AMCL needs this pose now (None: it does not, or not yet). Lock held."""
        cfg = self.config
        if not cfg.auto or self._amcl is None:
            return None
        reason = self._amcl_reason
        if reason is None:
            T_amcl, _ = self._amcl
            distance, angle = planar_disagreement(agreement.T_map_base, T_amcl)
            if (distance > cfg.auto_max_disagreement_translation
                    or angle > cfg.auto_max_disagreement_rotation):
                reason = (f'AMCL pose {distance:.2f} m / {math.degrees(angle):.0f} deg from '
                          f'{agreement.frames} agreeing relocalizations')
        if reason is None or time.monotonic() - self._last_handoff < cfg.auto_cooldown_s:
            return None
        if amcl_divergence(agreement.covariance, cfg.auto_max_position_std,
                           cfg.auto_max_yaw_std) is not None:
            self._node_log('warning', 'handoff not tighter',
                           f'AMCL needs a pose ({reason}) but the relocalization is not tighter '
                           'than the auto_max_*_std thresholds: not sent')
            return None
        return reason

    def _send(self, agreement: Agreement, why: str) -> Tuple[bool, str]:
        """Send the agreed pose to AMCL; return (sent, what happened). Lock held."""
        msg = T_to_pose_with_covariance_stamped(agreement.T_map_base, agreement.covariance,
                                                agreement.stamp_ns, self.map_frame)
        if self._client is not None and self._client.service_is_ready():
            self._client.call_async(self._client.srv_type.Request(pose=msg))
            via = f'service {self._client.srv_name}'
        elif self._pub.get_subscription_count() > 0:
            self._pub.publish(msg)
            via = f'topic {self._pub.topic_name}'
        else:
            self.counts['refused'] += 1
            text = (f'not sent: nobody subscribes {self._pub.topic_name} (is AMCL running and '
                    f'active?); agreed pose {agreement.describe()}')
            self._node_log('warning', 'handoff refused', text)
            return False, text
        self._last_handoff = time.monotonic()
        self.counts['handoffs'] += 1
        self.last = f'{why}: {agreement.describe()}'
        text = f'initial pose sent to AMCL on {via} ({why}): {agreement.describe()}'
        self._node.get_logger().info(f'hand-off #{self.counts["handoffs"]}: {text}')
        return True, text

    # ------------------------------------------------------------------ service
    async def _on_relocalize(self, request, response):
        waiter = self._start_request()
        if isinstance(waiter, tuple):
            response.success, response.message = waiter
            return response
        response.success, response.message = await waiter
        return response

    def _start_request(self):
        """Return a Future of (success, message), or that pair when it is known at once."""
        with self._lock:
            if not self._active:
                return False, 'reloc_node is not active (lifecycle): activate it first'
            if self._waiter is not None:  # a second caller shares the running request
                return self._waiter
            self._window.clear()
            self._waiter = Future()
            self._timer = threading.Timer(self.config.timeout_s, self._expire)
            self._timer.daemon = True
            self._timer.start()
            return self._waiter

    def _expire(self) -> None:
        with self._lock:
            if self._waiter is None:  # answered meanwhile
                return
            last, have = self._window.last, len(self._window)
            self.counts['refused'] += 1
        cfg = self.config
        if last is not None:
            text = (f'no agreement of {cfg.frames} frames within {cfg.timeout_s:.1f} s: spread '
                    f'{last.spread_translation:.3f} m / '
                    f'{math.degrees(last.spread_rotation):.1f} deg, allowed '
                    f'{cfg.max_translation:.3f} m / {math.degrees(cfg.max_rotation):.1f} deg '
                    '(relocalize_max_translation / relocalize_max_rotation)')
        else:
            text = (f'timeout: {have} of {cfg.frames} frames localized within '
                    f'{cfg.timeout_s:.1f} s (are images arriving? see /diagnostics)')
        self._node_log('warning', 'relocalize failed', f'~/relocalize: {text}')
        self._finish(False, text)

    def _finish(self, ok: bool, text: str) -> None:
        """Answer the running request (if any) and wake the executor that awaits it."""
        with self._lock:
            waiter, self._waiter = self._waiter, None
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if waiter is None:
            return
        waiter.set_result((ok, text))
        executor = self._node.executor
        if executor is not None and hasattr(executor, 'wake'):
            executor.wake()

    # ------------------------------------------------------------------ AMCL
    def _on_amcl_pose(self, msg) -> None:
        try:
            T_amcl, covariance = msg_to_T(msg, 'amcl_pose'), msg_covariance(msg)
        except ValueError as exc:
            self._node_log('warning', 'amcl_pose', f'ignoring amcl_pose: {exc}')
            return
        if covariance is None:
            return
        reason = amcl_divergence(covariance, self.config.auto_max_position_std,
                                 self.config.auto_max_yaw_std)
        with self._lock:
            self._amcl, self._amcl_reason = (T_amcl, covariance), reason

    def _node_log(self, level: str, key: str, text: str) -> None:
        log = getattr(self._node, '_log', None)
        if log is not None:
            log(level, key, text)
        else:
            self._node.get_logger().warning(text)

    @property
    def values(self) -> dict:
        """Return the counters and last hand-off for ``/diagnostics``."""
        with self._lock:
            return {'handoffs': self.counts['handoffs'],
                    'auto_handoffs': self.counts['auto_handoffs'],
                    'handoffs_refused': self.counts['refused'], 'last_handoff': self.last}
