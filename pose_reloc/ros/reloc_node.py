# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""``reloc_node``: camera images in, map poses, TF and diagnostics out.

Topics (relative names, remap them):

- subscribes ``image`` (sensor_msgs/Image) or ``image/compressed`` (CompressedImage), chosen
  by ``image_transport``, with ``qos_profile_sensor_data``; ``camera_info`` (intrinsics for
  PnP); ``/tf`` and ``/tf_static`` when ``tf_mode`` needs the robot's transforms.
- publishes ``~/pose`` (PoseWithCovarianceStamped; KeepLast(1), reliable, transient_local as
  nav2 AMCL), ``~/pose_stamped`` (PoseStamped), both stamped with the image's time in
  ``map_frame``; ``~/path`` (nav_msgs/Path of the last ``path_length`` poses, for RViz);
  ``/tf``; ``/diagnostics``; ``~/inliers`` (PointCloud2, SCR only, optional).

Latency stays bounded when inference is slower than the camera: callbacks only store the
newest frame; one worker thread localizes it; a frame replaced before the worker took it is
dropped and counted. A pose that is not finite, has a non-finite covariance, or whose
confidence is below ``min_confidence`` is never published; the reason is logged (throttled)
and reported in the diagnostics.

Transforms: in ``tf_mode`` ``map_to_odom`` the node waits, as AMCL and tf2's message filter
do, for ``odom -> base`` (and in ``map_to_base`` too, for a moving camera mount that TF
knows) to cover the image stamp (cameras lag odometry by tens of ms), up to
``transform_timeout`` seconds after the frame arrived; the wait happens in the worker thread,
so image callbacks never block and the latency stays bounded; timeouts are counted in
``/diagnostics``.

Refusals (each logged and counted): an image whose decoded size exceeds ``max_image_pixels``
(read from the compressed header, before decoding), an image far smaller than the training
images (``min_image_scale``), and at start-up a bundle that cannot give a covariance
(``node_guards.require_covariance``). ``/diagnostics`` degrades to WARN and then ERROR by the
recent failure rate (``failure_warn_rate``, ``failure_error_rate`` over ``failure_window``
frames).

Which pose is published: the camera's (``tf_mode`` ``map_to_camera`` or ``none``) or the
base's (``map_to_base``, ``map_to_odom``, like AMCL's robot pose), with the covariance moved
through the mounting's lever arm.

Hand-off to AMCL (``pose_reloc.ros.amcl_handoff``): the ``~/relocalize`` service
(std_srvs/Trigger) sends the pose of ``base_frame`` agreed by the next ``relocalize_frames``
images to AMCL (``/initialpose`` or nav2's ``set_initial_pose``); ``auto_relocalize`` does it
when ``/amcl_pose`` diverges. Except in ``map_to_camera`` mode the node reads ``/tf`` for the
camera mounting and the odometry that compensates the motion between those images.

Localizer options: the node names no method. It forwards ``mc_samples``,
``refine_iterations`` and ``refine_step`` when set and declared by the bundle's localizer
(``inference.localizer_options``; set but not declared: logged and left out) and the
``name=value`` items of ``localizer_options`` as they are (the localizer refuses unknown
ones). The last pose's stage times (``refine_ms`` with refinement on) and the refinements
the guard rejected are in ``/diagnostics``.

A managed (lifecycle) node, as nav2's: configure validates the parameters, loads the bundle
and creates the publishers and the service; activate opens the subscriptions, the diagnostics
timer and the worker; deactivate stops processing and keeps the model; cleanup releases it.
With ``autostart`` (default true) the node configures and activates itself; set it false when
nav2's lifecycle manager (or ``ros2 lifecycle set``) drives it.
"""

from collections import deque
import math
from pathlib import Path
import sys
import threading
import time
from typing import Optional

import numpy as np
from rcl_interfaces.msg import (FloatingPointRange, ParameterDescriptor, ParameterType,
                                SetParametersResult)
import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)
from rclpy.time import Time

from pose_reloc.geometry.se3 import invert, T_from_pos_quat
from pose_reloc.ros.amcl_handoff import AmclHandoff
from pose_reloc.ros.conversions import (camera_info_to_camera, msg_to_T, stamp_to_ns,
                                        T_to_pose_stamped, T_to_pose_with_covariance_stamped,
                                        T_to_transform_stamped)
from pose_reloc.ros.handoff import Fix, HandoffConfig
from pose_reloc.ros.image_decode import any_image_to_rgb
from pose_reloc.ros.node_guards import (FailureRate, image_size_refusal, require_covariance,
                                        trained_size, wait_for_transform)
from pose_reloc.ros.tf_buffer import TfBuffer, TransformError

TF_MODES = ('map_to_camera', 'map_to_base', 'map_to_odom', 'none')
IMAGE_TRANSPORTS = ('raw', 'compressed')
DEVICES = ('auto', 'cpu', 'cuda')
NS = 1_000_000_000

#: node parameters forwarded as localizer options of the same name, with the value that
#: means "not set" (not forwarded). Which localizer accepts which is the localizer's own
#: declaration (``inference.localizer_options``); the node names no method.
OPTION_PARAMETERS = {'mc_samples': -1, 'refine_iterations': -1, 'refine_step': 0.0}

#: QoS of ``~/pose``: what nav2 AMCL uses for ``amcl_pose`` so late joiners get the last pose.
POSE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)
TF_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                    reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.VOLATILE)
TF_STATIC_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                           reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)


def tf_message_type():
    """Return ``tf2_msgs.msg.TFMessage`` or None when tf2_msgs is not installed."""
    try:
        from tf2_msgs.msg import TFMessage
    except ImportError:
        return None
    return TFMessage


def covariance_through_lever(covariance_66: np.ndarray, lever_world_3: np.ndarray
                             ) -> np.ndarray:
    """Move a pose covariance from a frame to a rigidly attached frame.

    With the rotation perturbed about the fixed world axes (ROS order ``x, y, z, rx, ry, rz``)
    a point at ``lever_world_3`` (world-frame vector from the old to the new origin, metres)
    moves by ``d_theta x lever``, so ``J = [[I, -[lever]x], [0, I]]`` and the result is
    ``J C J^T`` (6x6, m^2 / rad^2).
    """
    a = np.asarray(lever_world_3, dtype=np.float64)
    skew = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    jac = np.eye(6)
    jac[:3, 3:] = -skew
    return jac @ covariance_66 @ jac.T


def make_positive_definite(covariance_66: np.ndarray, floor: float = 1e-9) -> np.ndarray:
    """Return the symmetric part of a covariance with eigenvalues clipped to ``floor``."""
    sym = 0.5 * (covariance_66 + covariance_66.T)
    values, vectors = np.linalg.eigh(sym)
    if values.min() >= floor:
        return sym
    return (vectors * np.maximum(values, floor)) @ vectors.T


class _Throttle:
    """Log each distinct reason at most once per ``period_s``."""

    def __init__(self, period_s: float):
        self.period_s = period_s
        self._last = {}

    def ready(self, key: str) -> bool:
        now = time.monotonic()
        if now - self._last.get(key, -math.inf) < self.period_s:
            return False
        self._last[key] = now
        return True


class RelocNode(LifecycleNode):
    """The relocalization node (see the module docstring for topics and behaviour).

    Args:
        localizer: a ready ``Localizer`` (tests, embedding); None loads the ``bundle``
            parameter with ``pose_reloc.inference.load_localizer`` when configured.
        node_name: the node's name.
        **kwargs: passed to ``rclpy.lifecycle.LifecycleNode`` (e.g. ``parameter_overrides``).

    Raises:
        ValueError, FileNotFoundError: with ``autostart``, what made configure fail (a bad
            parameter, a missing or empty bundle), with a message for the user.

    """

    def __init__(self, localizer=None, node_name: str = 'reloc_node', **kwargs):
        # What destroy_node and the transitions use exists before anything can fail, so that
        # a node whose construction failed can still be destroyed (rclpy.shutdown does that).
        self._given_localizer = localizer
        self.localizer = None
        self._lock = threading.Condition()
        self._pending = None
        self._stop = False
        self._worker = None
        self._active = False
        self._node_ready = False
        self._destroyed = False
        self._startup_error = None
        self._handoff = None
        self._io_subs = []
        self._io_timers = []
        self._tf2_buffer = None
        self._tf2_listener = None
        self._own_tf = None
        self._tf_pub = None
        super().__init__(node_name, **kwargs)
        self._node_ready = True
        self._declare_parameters()
        self.add_on_set_parameters_callback(self._validate_parameters)
        self._refresh_parameters()
        if self._p['autostart']:
            self._autostart()

    def _autostart(self) -> None:
        """Configure and activate (``autostart``); raise what made a transition fail."""
        for name, trigger in (('configure', self.trigger_configure),
                              ('activate', self.trigger_activate)):
            if trigger() != TransitionCallbackReturn.SUCCESS:
                error = self._startup_error or RuntimeError(f'reloc_node: {name} failed')
                raise error

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state) -> TransitionCallbackReturn:
        """Validate the parameters, load the model, create the publishers and the service."""
        self._startup_error = None
        try:
            self._configure()
        except (ValueError, FileNotFoundError, OSError) as exc:
            self._startup_error = exc
            self._release()
            if not self._p['autostart']:  # with autostart, main() prints it once
                self.get_logger().error(f'configure failed: {exc}')
            return TransitionCallbackReturn.FAILURE
        except Exception as exc:  # a bug: say what it was (rclpy would only report ERROR)
            self._startup_error = exc
            self._release()
            self.get_logger().error(f'configure failed: {type(exc).__name__}: {exc}')
            return TransitionCallbackReturn.ERROR
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state) -> TransitionCallbackReturn:
        """Open the subscriptions, the diagnostics timer and the worker thread."""
        self._activate()
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state) -> TransitionCallbackReturn:
        """Stop processing (subscriptions, timer, worker); keep the model and publishers."""
        self._deactivate()
        self.get_logger().info('deactivated')
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state) -> TransitionCallbackReturn:
        """Release the model, the publishers and the service."""
        self._release()
        self.get_logger().info('cleaned up')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state) -> TransitionCallbackReturn:
        """Stop and release everything, from any primary state."""
        self._deactivate()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state) -> TransitionCallbackReturn:
        """Recover to unconfigured: stop and release everything."""
        self._deactivate()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _configure(self) -> None:
        p = self._p
        self._check_startup(p)
        handoff = self._handoff_config()
        localizer = self._given_localizer
        if localizer is None:
            from pose_reloc.inference import load_localizer
            if not p['bundle']:
                raise ValueError('parameter bundle is empty: give the model bundle directory '
                                 '(-p bundle:=/path/to/bundle)')
            localizer = load_localizer(p['bundle'], device=p['device'],
                                       **self.localizer_options(p))
        require_covariance(localizer, p['bundle'])
        self.localizer = localizer
        self._trained_size = trained_size(localizer)
        self._failure_rate = FailureRate(p['failure_window'], p['failure_warn_rate'],
                                         p['failure_error_rate'])
        self._throttle = _Throttle(p['log_throttle_s'])
        self._camera = None
        self._camera_key = None
        self._camera_warned = False
        self._stats = {'received': 0, 'processed': 0, 'published': 0, 'dropped': 0,
                       'failures': 0, 'bad_images': 0, 'last_failure': '',
                       'transform_timeouts': 0, 'refused_images': 0,
                       'confidence': float('nan'), 'latency_ms': float('nan'),
                       'age_ms': float('nan'), 'scene': '', 'last_image_time': None,
                       'timings_ms': {}, 'refinements_rejected': 0}
        self._window = {'received': 0, 'processed': 0, 't': time.monotonic()}
        self._latencies = []
        self._tf_type = tf_message_type()
        self._setup_tf(p)
        self._setup_io(p)
        self._handoff = AmclHandoff(self, handoff, p['map_frame'])
        self.get_logger().info(
            f'configured: method={getattr(localizer, "method", "?")} '
            f'scenes={list(getattr(localizer, "scenes", []))} tf_mode={p["tf_mode"]} '
            f'map_frame={p["map_frame"]} image_transport={p["image_transport"]}')

    def _activate(self) -> None:
        p = self._p
        self._setup_tf_input(p)
        self._setup_inputs(p)
        with self._lock:
            self._stop = False
            self._pending = None
        self._worker = threading.Thread(target=self._work, name='reloc_worker', daemon=True)
        self._worker.start()
        self._handoff.activate()
        self._active = True
        self.get_logger().info(
            f'active: listening on {self._image_topic_name(p)}'
            f'{"; automatic AMCL hand-off on" if self._handoff.config.auto else ""}')

    def _deactivate(self) -> None:
        """Close the inputs and stop the worker (safe to call in any state)."""
        self._active = False
        if self._handoff is not None:
            self._handoff.deactivate()
        for sub in self._io_subs:
            self.destroy_subscription(sub)
        for timer in self._io_timers:
            self.destroy_timer(timer)
        self._io_subs, self._io_timers = [], []
        if self._tf2_listener is not None and hasattr(self._tf2_listener, 'unregister'):
            self._tf2_listener.unregister()
        self._tf2_listener = self._tf2_buffer = self._own_tf = None
        with self._lock:
            self._stop = True
            self._pending = None
            self._lock.notify_all()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=5.0)
        self._worker = None

    def _release(self) -> None:
        """Destroy the publishers and the service, drop the model (safe in any state)."""
        if self._handoff is not None:
            self._handoff.destroy()
            self._handoff = None
        if self._node_ready and not self._destroyed:
            for name in ('_pose_pub', '_pose_stamped_pub', '_diag_pub', '_cloud_pub',
                         '_path_pub', '_tf_pub'):
                pub = getattr(self, name, None)
                if pub is not None:
                    self.destroy_publisher(pub)
                setattr(self, name, None)
        self.localizer = None

    def _handoff_config(self) -> HandoffConfig:
        """Read the hand-off parameters into a validated :class:`HandoffConfig`."""
        value = self._p.get
        return HandoffConfig(
            frames=value('relocalize_frames'), timeout_s=value('relocalize_timeout'),
            max_translation=value('relocalize_max_translation'),
            max_rotation=value('relocalize_max_rotation'),
            initial_pose_topic=value('initial_pose_topic'),
            set_initial_pose_service=value('set_initial_pose_service'),
            auto=value('auto_relocalize'), amcl_pose_topic=value('amcl_pose_topic'),
            auto_max_position_std=value('auto_max_position_std'),
            auto_max_yaw_std=value('auto_max_yaw_std'),
            auto_max_disagreement_translation=value('auto_max_disagreement_translation'),
            auto_max_disagreement_rotation=value('auto_max_disagreement_rotation'),
            auto_cooldown_s=value('auto_cooldown'))

    def localizer_options(self, p: dict) -> dict:
        """Return the ``load_localizer`` options from the parameters, knowing no method.

        ``localizer_options`` (``name=value`` strings) are checked against what the
        bundle's localizer declares (``check_localizer_options``: an undeclared name, e.g.
        ``device``, is refused, never taken as a ``load_localizer`` keyword). The
        parameters of :data:`OPTION_PARAMETERS` go through when set and declared by the
        localizer; set but not declared, they are logged and left out (one launch file
        serves bundles of several methods).

        Raises:
            ValueError: for a malformed ``localizer_options`` item, an option given both
                ways, or one the localizer does not declare or an invalid value.
        """
        from pose_reloc.inference import check_localizer_options, localizer_options
        from pose_reloc.inference.base import parse_option_assignments
        options = dict(parse_option_assignments(
            [item for item in p['localizer_options'] if item.strip()]))
        accepted = {spec.name for spec in localizer_options(Path(p['bundle']))}
        for name, unset in OPTION_PARAMETERS.items():
            if p[name] == unset:
                continue
            if name in options:
                raise ValueError(f'option {name} is given both as a parameter and in '
                                 'localizer_options')
            if name in accepted:
                options[name] = p[name]
            else:
                self.get_logger().warning(
                    f'parameter {name} does not apply to this bundle (its localizer accepts '
                    f'{", ".join(sorted(accepted)) or "no options"}): ignored')
        return check_localizer_options(Path(p['bundle']), options)

    # ------------------------------------------------------------------ parameters
    def _declare_parameters(self) -> None:
        def desc(text, ptype, read_only=False, fp_range=None, choices=None):
            extra = f' One of: {", ".join(choices)}.' if choices else ''
            d = ParameterDescriptor(description=text + extra, type=ptype, read_only=read_only)
            if fp_range is not None:
                d.floating_point_range = [FloatingPointRange(
                    from_value=fp_range[0], to_value=fp_range[1], step=0.0)]
            return d

        s, d, b, da = (ParameterType.PARAMETER_STRING, ParameterType.PARAMETER_DOUBLE,
                       ParameterType.PARAMETER_BOOL, ParameterType.PARAMETER_DOUBLE_ARRAY)
        self.declare_parameter('bundle', '', desc(
            'Model bundle directory (config.json + model.safetensors).', s, read_only=True))
        self.declare_parameter('device', 'auto', desc(
            'Inference device.', s, read_only=True, choices=DEVICES))
        self.declare_parameter('image_transport', 'raw', desc(
            'raw: subscribe to image; compressed: to image/compressed.', s, read_only=True,
            choices=IMAGE_TRANSPORTS))
        self.declare_parameter('map_frame', 'map', desc(
            'Frame of the published poses (the frame the model was trained in).', s))
        self.declare_parameter('camera_frame', '', desc(
            "Camera optical frame; empty: the image's header.frame_id.", s))
        self.declare_parameter('base_frame', 'base_link', desc(
            'Robot base frame (tf_mode map_to_base and map_to_odom).', s))
        self.declare_parameter('odom_frame', 'odom', desc(
            'Odometry frame (tf_mode map_to_odom).', s))
        self.declare_parameter('tf_mode', 'map_to_camera', desc(
            'TF to broadcast: map->camera (standalone), map->base (through the camera '
            'mounting), map->odom (AMCL style, with odom->base at the image time) or none.', s,
            choices=TF_MODES))
        self.declare_parameter('camera_mount', [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], desc(
            'T_base_camera as x y z qx qy qz qw (metres, xyzw), used when TF has no '
            'base->camera transform.', da))
        self.declare_parameter('use_tf_mount', True, desc(
            'Look the camera mounting up in TF first (the parameter is the fallback).', b))
        self.declare_parameter('transform_tolerance', 0.1, desc(
            'Seconds added to the TF stamp (AMCL: lets the transform be used a bit longer).',
            d, fp_range=(0.0, 10.0)))
        self.declare_parameter('transform_timeout', 0.2, desc(
            'Seconds after an image arrives to wait for the TF that covers its stamp '
            '(odom -> base in map_to_odom, a moving camera mount, as tf2 message filters '
            'do); 0: no wait.', d,
            fp_range=(0.0, 10.0)))
        self.declare_parameter('max_image_pixels', 25_000_000, desc(
            'Largest decoded image (width * height); compressed images are checked by their '
            'header before decoding.', ParameterType.PARAMETER_INTEGER))
        self.declare_parameter('min_image_scale', 0.25, desc(
            'Images narrower or lower than this fraction of the training images are refused '
            '(0: off).', d, fp_range=(0.0, 1.0)))
        self.declare_parameter('failure_window', 20, desc(
            'Recent frames over which the failure rate for /diagnostics is measured.',
            ParameterType.PARAMETER_INTEGER, read_only=True))
        self.declare_parameter('failure_warn_rate', 0.5, desc(
            'Failure rate from which /diagnostics is WARN.', d, fp_range=(0.0, 1.0),
            read_only=True))
        self.declare_parameter('failure_error_rate', 0.9, desc(
            'Failure rate from which /diagnostics is ERROR (after 5 frames).', d,
            fp_range=(0.0, 1.0), read_only=True))
        self.declare_parameter('min_confidence', 0.0, desc(
            'Poses with a lower confidence (in [0, 1]) are not published; >= 0, and above 1 '
            'no pose is published (a dry run: the node still localizes and reports in '
            '/diagnostics).', d))
        self.declare_parameter('use_camera_info', True, desc(
            "Use camera_info intrinsics (else the bundle's training intrinsics).", b))
        self.declare_parameter('scene', '', desc(
            'Scene for multi-scene (MSPN) bundles; empty: detect it automatically.', s))
        self.declare_parameter('mc_samples', -1, desc(
            "APR/MSPN: MC-dropout samples for the covariance (>= 2; -1: the bundle's value). "
            'Without a covariance no pose is published.', ParameterType.PARAMETER_INTEGER,
            read_only=True))
        self.declare_parameter('refine_iterations', -1, desc(
            'Pose refinement steps (bundles with a discriminator; 0: off; -1: the '
            "localizer's default, off).", ParameterType.PARAMETER_INTEGER, read_only=True))
        self.declare_parameter('refine_step', 0.0, desc(
            "Pose refinement step size (> 0; 0: the localizer's default, 1e-3).", d,
            read_only=True))
        self.declare_parameter('localizer_options', [''], desc(
            'More localizer options as name=value (e.g. min_inliers=30); the localizer '
            'refuses those it does not declare.', ParameterType.PARAMETER_STRING_ARRAY,
            read_only=True))
        self.declare_parameter('publish_inliers', False, desc(
            'SCR: publish the inlier scene coordinates on ~/inliers (PointCloud2).', b))
        self.declare_parameter('path_length', 1000, desc(
            'Poses kept in ~/path (nav_msgs/Path) for RViz; 0 disables it.',
            ParameterType.PARAMETER_INTEGER, read_only=True))
        self.declare_parameter('diagnostics_period', 1.0, desc(
            'Seconds between /diagnostics messages.', d, fp_range=(0.05, 60.0)))
        self.declare_parameter('no_image_timeout', 5.0, desc(
            'Seconds without images after which diagnostics and the log warn.', d,
            fp_range=(0.1, 3600.0)))
        self.declare_parameter('log_throttle_s', 5.0, desc(
            'Minimum seconds between two log lines of the same reason.', d,
            fp_range=(0.0, 3600.0)))
        self._declare_lifecycle_and_handoff_parameters(desc)

    def _declare_lifecycle_and_handoff_parameters(self, desc) -> None:
        """Declare ``autostart`` and the AMCL hand-off parameters (read at configure)."""
        s, d, b, i = (ParameterType.PARAMETER_STRING, ParameterType.PARAMETER_DOUBLE,
                      ParameterType.PARAMETER_BOOL, ParameterType.PARAMETER_INTEGER)
        h = HandoffConfig()
        self.declare_parameter('autostart', True, desc(
            'Configure and activate at start-up; false: wait for a lifecycle manager.', b,
            read_only=True))
        self.declare_parameter('relocalize_frames', h.frames, desc(
            '~/relocalize: consecutive frames that must agree (>= 1).', i, read_only=True))
        self.declare_parameter('relocalize_timeout', h.timeout_s, desc(
            '~/relocalize: seconds to wait for agreeing frames.', d, read_only=True))
        self.declare_parameter('relocalize_max_translation', h.max_translation, desc(
            'Agreement: largest distance (m) of an odometry-compensated base pose from the '
            'mean.', d, read_only=True))
        self.declare_parameter('relocalize_max_rotation', h.max_rotation, desc(
            'Agreement: largest rotation (rad) of a base pose from the mean.', d,
            read_only=True))
        self.declare_parameter('initial_pose_topic', h.initial_pose_topic, desc(
            'Topic of the initial pose for AMCL (PoseWithCovarianceStamped).', s,
            read_only=True))
        self.declare_parameter('set_initial_pose_service', h.set_initial_pose_service, desc(
            "nav2's SetInitialPose service, used instead of the topic when nav2_msgs is "
            "installed and the service is up; '' never.", s, read_only=True))
        self.declare_parameter('auto_relocalize', h.auto, desc(
            'Watch amcl_pose_topic and re-initialize AMCL when it diverged.', b,
            read_only=True))
        self.declare_parameter('amcl_pose_topic', h.amcl_pose_topic, desc(
            "AMCL's pose topic (automatic mode).", s, read_only=True))
        self.declare_parameter('auto_max_position_std', h.auto_max_position_std, desc(
            'Automatic mode: AMCL diverged when its x or y standard deviation (m) exceeds '
            'this.', d, read_only=True))
        self.declare_parameter('auto_max_yaw_std', h.auto_max_yaw_std, desc(
            'Automatic mode: ... or its yaw standard deviation (rad) exceeds this.', d,
            read_only=True))
        self.declare_parameter('auto_max_disagreement_translation',
                               h.auto_max_disagreement_translation, desc(
                                   'Automatic mode: ... or agreeing relocalizations are this '
                                   'far (m) from its pose.', d, read_only=True))
        self.declare_parameter('auto_max_disagreement_rotation',
                               h.auto_max_disagreement_rotation, desc(
                                   'Automatic mode: ... or their yaw differs by this (rad).',
                                   d, read_only=True))
        self.declare_parameter('auto_cooldown', h.auto_cooldown_s, desc(
            'Automatic mode: seconds between two automatic hand-offs at least.', d,
            read_only=True))

    def _refresh_parameters(self, accepted: Optional[dict] = None) -> None:
        """Cache the parameter values (at start-up and on each accepted set) in ``self._p``.

        The per-frame path reads this dict (replaced whole, so a reader sees one consistent
        snapshot) instead of looking up every parameter per image. It also holds the derived
        ``mount_T_cam_base`` (4x4, the inverse of ``camera_mount``; None while invalid).
        Called from the validation callback with the accepted ``{name: value}`` (rclpy's
        post-set callbacks do not exist on Humble).
        """
        p = self._params()
        p.update(accepted or {})
        mount = np.asarray(p['camera_mount'], dtype=np.float64)
        p['mount_T_cam_base'] = (invert(T_from_pos_quat(mount[:3], mount[3:]))
                                 if self._check_value('camera_mount', mount) is None else None)
        self._p = p

    def _params(self) -> dict:
        names = ('bundle', 'device', 'image_transport', 'map_frame', 'camera_frame',
                 'base_frame', 'odom_frame', 'tf_mode', 'camera_mount', 'use_tf_mount',
                 'transform_tolerance', 'min_confidence', 'use_camera_info', 'scene',
                 'mc_samples', 'refine_iterations', 'refine_step', 'localizer_options',
                 'publish_inliers', 'path_length', 'diagnostics_period',
                 'no_image_timeout', 'log_throttle_s', 'transform_timeout',
                 'max_image_pixels', 'min_image_scale', 'failure_window', 'failure_warn_rate',
                 'failure_error_rate')
        names += ('autostart', 'relocalize_frames', 'relocalize_timeout',
                  'relocalize_max_translation', 'relocalize_max_rotation', 'initial_pose_topic',
                  'set_initial_pose_service', 'auto_relocalize', 'amcl_pose_topic',
                  'auto_max_position_std', 'auto_max_yaw_std',
                  'auto_max_disagreement_translation', 'auto_max_disagreement_rotation',
                  'auto_cooldown')
        return {n: self.get_parameter(n).value for n in names}

    @staticmethod
    def _check_value(name: str, value) -> Optional[str]:
        """Return why ``value`` is not valid for parameter ``name`` (None when it is)."""
        choices = {'tf_mode': TF_MODES, 'image_transport': IMAGE_TRANSPORTS,
                   'device': DEVICES}
        if name in choices and value not in choices[name]:
            return f'{name} must be one of {", ".join(choices[name])}, got {value!r}'
        if name == 'map_frame' and not str(value).strip():
            return 'map_frame must not be empty'
        if name == 'min_confidence' and not (math.isfinite(value) and value >= 0.0):
            return f'min_confidence must be a finite number >= 0, got {value}'
        if name in ('max_image_pixels', 'failure_window') and value < 1:
            return f'{name} must be >= 1, got {value}'
        if name == 'path_length' and value < 0:
            return f'path_length must be >= 0, got {value}'
        if name == 'mc_samples' and not (value == -1 or value >= 2):
            return f'mc_samples must be -1 (bundle default) or >= 2, got {value}'
        if name == 'refine_iterations' and value < -1:
            return f'refine_iterations must be >= -1, got {value}'
        if name == 'refine_step' and not (math.isfinite(value) and value >= 0.0):
            return f'refine_step must be a finite number >= 0, got {value}'
        if name == 'camera_mount':
            values = list(value)
            if len(values) != 7 or not all(math.isfinite(v) for v in values):
                return f'camera_mount needs 7 finite numbers x y z qx qy qz qw, got {values}'
            if abs(math.sqrt(sum(v * v for v in values[3:])) - 1.0) > 1e-2:
                return f'camera_mount quaternion {values[3:]} (xyzw) is not unit'
        return None

    def _check_startup(self, p: dict) -> None:
        for name, value in p.items():
            reason = self._check_value(name, value)
            if reason is not None:
                raise ValueError(f'invalid parameter: {reason}')

    def _validate_parameters(self, params) -> SetParametersResult:
        for param in params:
            reason = self._check_value(param.name, param.value)
            if reason is not None:
                return SetParametersResult(successful=False, reason=reason)
            if param.name == 'tf_mode' and param.value != self.get_parameter('tf_mode').value:
                return SetParametersResult(successful=False,
                                           reason='tf_mode is fixed at start-up')
        self._refresh_parameters({param.name: param.value for param in params})
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ set-up
    def _setup_tf(self, p: dict) -> None:
        """Create the /tf publisher (configure)."""
        self._tf_pub = None
        if p['tf_mode'] != 'none':
            if self._tf_type is None:
                self.get_logger().warning(
                    'tf2_msgs is not importable: no TF is published (poses still are)')
            else:
                self._tf_pub = self.create_publisher(self._tf_type, '/tf', TF_QOS)

    def _setup_tf_input(self, p: dict) -> None:
        """Listen to /tf and /tf_static (activate) unless ``tf_mode`` is ``map_to_camera``.

        ``map_to_base`` / ``map_to_odom`` need the mounting and the odometry; ``none`` reads
        them for the AMCL hand-off. ``map_to_camera`` (a camera without a robot) does not
        listen: it would read its own map->camera back.
        """
        self._tf2_buffer = None
        self._own_tf = None
        if p['tf_mode'] != 'map_to_camera':
            try:
                import tf2_ros
                self._tf2_buffer = tf2_ros.Buffer()
                self._tf2_listener = tf2_ros.TransformListener(self._tf2_buffer, self)
            except ImportError:
                if self._tf_type is None:
                    self.get_logger().warning(
                        'tf2_ros and tf2_msgs are not importable: cannot read /tf; '
                        'map_to_base uses the camera_mount parameter, map_to_odom cannot work')
                else:
                    self._own_tf = TfBuffer(cache_ns=10 * NS)
                    self._io_subs.append(self.create_subscription(
                        self._tf_type, '/tf', lambda m: self._on_tf(m, False), TF_QOS))
                    self._io_subs.append(self.create_subscription(
                        self._tf_type, '/tf_static', lambda m: self._on_tf(m, True),
                        TF_STATIC_QOS))

    def _setup_io(self, p: dict) -> None:
        """Create the publishers (configure)."""
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
        from nav_msgs.msg import Path
        from sensor_msgs.msg import PointCloud2
        self._pose_pub = self.create_publisher(PoseWithCovarianceStamped, '~/pose', POSE_QOS)
        self._pose_stamped_pub = self.create_publisher(PoseStamped, '~/pose_stamped', 10)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._cloud_pub = (self.create_publisher(PointCloud2, '~/inliers', 2)
                           if p['publish_inliers'] else None)
        self._path = Path() if p['path_length'] > 0 else None
        self._path_poses = deque(maxlen=max(p['path_length'], 1))  # read-only parameter
        self._path_pub = (self.create_publisher(Path, '~/path', 2)
                          if self._path is not None else None)

    def _setup_inputs(self, p: dict) -> None:
        """Subscribe to the camera, start the diagnostics timer (activate)."""
        from sensor_msgs.msg import CameraInfo, CompressedImage, Image
        if p['image_transport'] == 'raw':
            self._io_subs.append(self.create_subscription(
                Image, 'image', self._on_image, qos_profile_sensor_data))
        else:
            self._io_subs.append(self.create_subscription(
                CompressedImage, 'image/compressed', self._on_image, qos_profile_sensor_data))
        self._io_subs.append(self.create_subscription(
            CameraInfo, 'camera_info', self._on_camera_info, qos_profile_sensor_data))
        self._diag_timer = self.create_timer(p['diagnostics_period'], self._publish_diagnostics)
        self._io_timers.append(self._diag_timer)
        self._start_time = time.monotonic()

    # ------------------------------------------------------------------ callbacks
    def _on_camera_info(self, msg) -> None:
        # drivers repeat the same camera_info with every image: derive the camera once
        roi = msg.roi
        key = (msg.width, msg.height, msg.distortion_model, tuple(msg.k), tuple(msg.d),
               tuple(msg.p), msg.binning_x, msg.binning_y,
               (roi.x_offset, roi.y_offset, roi.width, roi.height))
        if key == self._camera_key:
            return
        try:
            camera = camera_info_to_camera(msg)
        except ValueError as exc:
            self._log('error', f'camera_info: {exc}', f'ignoring camera_info: {exc}')
            return
        trained = getattr(self.localizer, 'camera', None)
        if trained is not None and not self._camera_warned and _differs(camera, trained):
            self._camera_warned = True
            self.get_logger().warning(
                f'camera_info intrinsics differ from training: {_describe(camera)} vs '
                f'{_describe(trained)}')
        self._camera, self._camera_key = camera, key

    def _on_tf(self, msg, static: bool) -> None:
        """Add each transform of a TFMessage to the own buffer; log and skip bad ones.

        A transform the buffer refuses (non-finite, a frame with a second parent, e.g. this
        node's own map->base while odometry publishes odom->base) must not stop the node.
        """
        for tr in msg.transforms:
            parent, child = tr.header.frame_id, tr.child_frame_id
            try:
                self._own_tf.set_transform(msg_to_T(tr, f'transform {parent} -> {child}'),
                                           stamp_to_ns(tr.header.stamp), parent, child,
                                           static)
            except ValueError as exc:
                hint = (' (tf_mode map_to_base while another node publishes a parent of the '
                        'base: use map_to_odom)'
                        if child.lstrip('/') == self._p['base_frame'] else '')
                self._log('error', f'tf {parent} -> {child}',
                          f'ignoring {"/tf_static" if static else "/tf"} transform: {exc}'
                          f'{hint}')

    def _on_image(self, msg) -> None:
        now = time.monotonic()
        with self._lock:
            self._stats['received'] += 1
            self._window['received'] += 1
            self._stats['last_image_time'] = now
            if self._pending is not None:
                self._stats['dropped'] += 1
            self._pending = (msg, now)
            self._lock.notify()

    # ------------------------------------------------------------------ worker
    def _work(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._stop:
                    self._lock.wait(0.5)
                if self._stop:
                    return
                msg, received = self._pending
                self._pending = None
            try:
                self._process(msg, received)
            except Exception as exc:  # keep serving: one bad frame must not stop the node
                self._fail(f'unexpected error: {type(exc).__name__}: {exc}', level='error')

    def _fail(self, reason: str, stamp_ns: Optional[int] = None, level: str = 'warning',
              detail: str = '') -> None:
        """Count a frame without a pose; log it (throttled per distinct ``reason``)."""
        text = reason + (f': {detail}' if detail else '')
        if stamp_ns is not None:
            text += f' (image stamp {stamp_ns / NS:.3f} s)'
        with self._lock:
            self._stats['failures'] += 1
            self._stats['last_failure'] = text
            self._failure_rate.add(False)
        self._log(level, reason, text)

    def _log(self, level: str, key: str, text: str) -> None:
        """Log ``text`` unless the same ``key`` was logged less than log_throttle_s ago."""
        if not self._throttle.ready(key):
            return
        # rclpy ties a severity to the calling line: one call site per level
        logger = self.get_logger()
        if level == 'error':
            logger.error(text)
        elif level == 'warning':
            logger.warning(text)
        else:
            logger.info(text)

    def _process(self, msg, received: float) -> None:
        stamp_ns = stamp_to_ns(msg.header.stamp)
        with self._lock:
            self._stats['processed'] += 1
            self._window['processed'] += 1
        p = self._p
        try:
            image = any_image_to_rgb(msg, max_pixels=p['max_image_pixels'])
        except ValueError as exc:
            with self._lock:
                self._stats['bad_images'] += 1
            self._fail(f'bad image on {self._image_topic_name(p)}: {exc}', stamp_ns, 'error')
            return
        refusal = image_size_refusal(image.shape[1], image.shape[0], self._trained_size,
                                     p['min_image_scale'])
        if refusal is not None:
            with self._lock:
                self._stats['refused_images'] += 1
            self._fail(f'refused image: {refusal}', stamp_ns, 'error')
            return
        camera = self._camera if p['use_camera_info'] else None
        size = (image.shape[1], image.shape[0])
        if camera is not None and (camera.width, camera.height) != size:
            self._log('warning', 'camera_info size',
                      f'camera_info is {camera.width}x{camera.height} but the image is '
                      f'{size[0]}x{size[1]}: using the training intrinsics')
            camera = None
        try:
            estimate = self.localizer.localize(image, camera=camera, scene=p['scene'] or None)
        except ValueError as exc:
            self._fail(f'localizer refused the image: {exc}', stamp_ns, 'error')
            return
        reason = _rejection(estimate, p['min_confidence'])
        if reason is not None:
            self._fail(f'no pose: {reason}', stamp_ns)
            return
        self._publish(estimate, msg, stamp_ns, received, p)

    def _publish(self, estimate, msg, stamp_ns: int, received: float, p: dict) -> None:
        T_map_cam = np.asarray(estimate.T_world_cam, dtype=np.float64)
        covariance = make_positive_definite(np.asarray(estimate.covariance, dtype=np.float64))
        camera_frame = p['camera_frame'] or msg.header.frame_id or 'camera_optical_frame'
        mode = p['tf_mode']
        T_pose, transform = T_map_cam, (T_map_cam, camera_frame)
        camera_covariance, T_odom_base = covariance, None
        if mode in ('map_to_base', 'map_to_odom'):
            T_cam_base = self._mounting(p, camera_frame, stamp_ns, received)
            if T_cam_base is None:
                return
            T_pose = T_map_cam @ T_cam_base
            covariance = covariance_through_lever(covariance, T_map_cam[:3, :3]
                                                  @ T_cam_base[:3, 3])
            transform = (T_pose, p['base_frame'])
            if mode == 'map_to_odom':
                T_odom_base = self._lookup(p['odom_frame'], p['base_frame'], stamp_ns,
                                           deadline=received + p['transform_timeout'])
                if T_odom_base is None:
                    return
                transform = (T_pose @ invert(T_odom_base), p['odom_frame'])
        self._pose_pub.publish(T_to_pose_with_covariance_stamped(T_pose, covariance, stamp_ns,
                                                                 p['map_frame']))
        pose_stamped = T_to_pose_stamped(T_pose, stamp_ns, p['map_frame'])
        self._pose_stamped_pub.publish(pose_stamped)
        if self._path is not None:
            self._path_poses.append(pose_stamped)
            self._path.header = pose_stamped.header
            self._path.poses = list(self._path_poses)
            self._path_pub.publish(self._path)
        if mode != 'none' and self._tf_pub is not None:
            tf_stamp = stamp_ns + int(p['transform_tolerance'] * NS)
            self._tf_pub.publish(self._tf_type(transforms=[T_to_transform_stamped(
                transform[0], tf_stamp, p['map_frame'], transform[1])]))
        if self._cloud_pub is not None:
            points = estimate.extras.get('inlier_points')
            if points is not None and len(points):
                self._cloud_pub.publish(points_to_cloud(np.asarray(points), stamp_ns,
                                                        p['map_frame']))
        handoff = self._handoff
        if handoff is not None and handoff.wants_fixes():
            base = (T_pose, covariance) if mode in ('map_to_base', 'map_to_odom') else None
            handoff.add_fix(self._base_fix(p, T_map_cam, camera_covariance, camera_frame,
                                           stamp_ns, base, T_odom_base))
        latency = (time.monotonic() - received) * 1e3
        now_ns = self.get_clock().now().nanoseconds
        with self._lock:
            self._stats['published'] += 1
            self._failure_rate.add(True)
            self._stats['confidence'] = float(estimate.confidence)
            self._stats['latency_ms'] = latency
            self._stats['age_ms'] = (now_ns - stamp_ns) / 1e6
            self._latencies.append(latency)
            self._stats['timings_ms'] = dict(estimate.timings_ms)
            if estimate.extras.get('refine_rejected'):
                self._stats['refinements_rejected'] += 1
            if estimate.scene and estimate.scene != self._stats['scene']:
                self.get_logger().info(f'scene: {estimate.scene}')
                self._stats['scene'] = estimate.scene

    def _base_fix(self, p: dict, T_map_cam: np.ndarray, camera_covariance: np.ndarray,
                  camera_frame: str, stamp_ns: int, base=None,
                  T_odom_base: Optional[np.ndarray] = None) -> Fix:
        """Return the fix of the base for the AMCL hand-off (pose, covariance, odometry).

        ``base`` is ``(T_map_base, covariance)`` when ``_publish`` computed it already; the
        odometry is looked up (quietly) when TF is read, else the fix has none.
        """
        if base is None:
            T_cam_base = self._mounting(p, camera_frame, stamp_ns)
            T_map_base = T_map_cam @ T_cam_base
            base = (T_map_base, covariance_through_lever(
                camera_covariance, T_map_cam[:3, :3] @ T_cam_base[:3, 3]))
        if T_odom_base is None and (self._tf2_buffer is not None or self._own_tf is not None):
            T_odom_base = self._lookup(p['odom_frame'], p['base_frame'], stamp_ns, quiet=True)
        return Fix(stamp_ns=stamp_ns, T_map_base=base[0], covariance=base[1],
                   T_odom_base=T_odom_base)

    def _mounting(self, p: dict, camera_frame: str, stamp_ns: int,
                  received: Optional[float] = None) -> Optional[np.ndarray]:
        """Return T_cam_base from TF (if allowed and known) or the camera_mount parameter.

        With ``received`` (the frame's arrival, monotonic s), a mounting that TF knows but not
        yet at the image stamp (a moving camera) is waited for like odometry
        (``transform_timeout``); None when it does not come in time. Without it (the hand-off's
        fix) there is no wait.
        """
        if p['use_tf_mount'] and (self._tf2_buffer is not None or self._own_tf is not None):
            T_cam_base = self._lookup(camera_frame, p['base_frame'], stamp_ns, quiet=True)
            if T_cam_base is not None:
                return T_cam_base
            if received is not None and self._tf_connects(camera_frame, p['base_frame']):
                return self._lookup(camera_frame, p['base_frame'], stamp_ns,
                                    deadline=received + p['transform_timeout'])
        return p['mount_T_cam_base']

    def _tf_connects(self, parent: str, child: str) -> bool:
        """Return True when TF links the two frames at some time (the latest common one)."""
        try:
            if self._tf2_buffer is not None:
                return bool(self._tf2_buffer.can_transform(parent, child, Time()))
            return self._own_tf is not None and self._own_tf.can_transform(parent, child)
        except Exception:  # tf2_ros raises its own exception family
            return False

    def _lookup(self, parent: str, child: str, stamp_ns: int, quiet: bool = False,
                deadline: Optional[float] = None) -> Optional[np.ndarray]:
        """Return T_parent_child at the image time from tf2 or the own buffer, else None.

        With a ``deadline`` (monotonic s) the lookup is retried until the transform covers
        the stamp or the deadline passes (a timeout is counted in the diagnostics).
        """
        def lookup():
            if self._tf2_buffer is not None:
                tr = self._tf2_buffer.lookup_transform(parent, child, Time(nanoseconds=stamp_ns))
                return msg_to_T(tr, f'{parent} -> {child}')
            if self._own_tf is not None:
                return self._own_tf.lookup(parent, child, stamp_ns)
            raise TransformError('no TF input (tf2_ros / tf2_msgs not importable)')

        if self._tf2_buffer is None and self._own_tf is None:
            deadline = None  # nothing can arrive: do not wait
        T, reason, timed_out = wait_for_transform(lookup, deadline)
        if T is not None:
            return T
        if timed_out:
            with self._lock:
                self._stats['transform_timeouts'] += 1
            reason += f' (waited {self._p["transform_timeout"]:.3f} s: transform_timeout)'
        if not quiet:
            self._fail(f'no pose: no transform {parent} -> {child}', stamp_ns, detail=reason)
        return None

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
        p = self._p
        now = time.monotonic()
        with self._lock:
            span = max(now - self._window['t'], 1e-6)
            input_hz = self._window['received'] / span
            processing_hz = self._window['processed'] / span
            self._window = {'received': 0, 'processed': 0, 't': now}
            stats = dict(self._stats)
            latencies, self._latencies = self._latencies, []
            level, message = self._failure_rate.level()
            failure_rate = self._failure_rate.rate
        last = stats['last_image_time']
        silent = (now - (last if last is not None else self._start_time))
        status = DiagnosticStatus()
        status.name = f'{self.get_name()}: relocalization'
        status.hardware_id = str(p['bundle'] or getattr(self.localizer, 'method', ''))
        status.level, status.message = DiagnosticStatus.OK, 'localizing'
        if silent > p['no_image_timeout']:
            status.level = DiagnosticStatus.WARN
            status.message = f'no images for {silent:.1f} s'
            self._log('warning', 'no images', f'no images received on '
                      f'{self._image_topic_name(p)} for {silent:.0f} s')
        else:
            status.level = (DiagnosticStatus.OK, DiagnosticStatus.WARN,
                            DiagnosticStatus.ERROR)[level]
            status.message = message if not stats['last_failure'] or level == 0 else (
                f'{message}; last: {stats["last_failure"]}')
        mean_latency = float(np.mean(latencies)) if latencies else stats['latency_ms']
        values = {'input_rate_hz': input_hz, 'processing_rate_hz': processing_hz,
                  'latency_ms': mean_latency, 'image_age_ms': stats['age_ms'],
                  'frames_received': stats['received'], 'frames_processed': stats['processed'],
                  'poses_published': stats['published'], 'dropped_frames': stats['dropped'],
                  'bad_images': stats['bad_images'], 'failures': stats['failures'],
                  'refused_images': stats['refused_images'],
                  'transform_timeouts': stats['transform_timeouts'],
                  'failure_rate': failure_rate,
                  'confidence': stats['confidence'], 'last_failure': stats['last_failure'],
                  'method': getattr(self.localizer, 'method', ''), 'scene': stats['scene'],
                  'tf_mode': p['tf_mode']}
        # the last published estimate's stage timings (network, pnp, refine, ...)
        values.update({f'{stage}_ms': float(ms) for stage, ms in stats['timings_ms'].items()
                       if stage != 'total'})
        if 'refine' in stats['timings_ms']:
            values['refinements_rejected'] = stats['refinements_rejected']
        if self._handoff is not None:
            values.update(self._handoff.values)
        status.values = [
            KeyValue(key=k, value=(f'{v:.3f}' if isinstance(v, float) else str(v)))
            for k, v in values.items()]
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = [status]
        self._diag_pub.publish(array)

    def _image_topic_name(self, p: dict) -> str:
        return self.resolve_topic_name('image' if p['image_transport'] == 'raw'
                                       else 'image/compressed')

    @property
    def stats(self) -> dict:
        """Return a copy of the counters (received, processed, published, dropped, ...)."""
        with self._lock:
            return dict(self._stats)

    def destroy_node(self) -> None:
        """Stop the worker thread, then destroy the node (once; also a half-built one)."""
        if self._destroyed:
            return
        self._deactivate()
        self._release()
        self._destroyed = True
        if self._node_ready:
            super().destroy_node()


def _rejection(estimate, min_confidence: float) -> Optional[str]:
    """Return why an estimate must not be published, or None."""
    if not estimate.ok:
        return estimate.failure or 'the localizer failed without a reason'
    T = None if estimate.T_world_cam is None else np.asarray(estimate.T_world_cam, float)
    if T is None or T.shape != (4, 4) or not np.all(np.isfinite(T)):
        return 'non-finite pose'
    cov = None if estimate.covariance is None else np.asarray(estimate.covariance, float)
    if cov is None or cov.shape != (6, 6) or not np.all(np.isfinite(cov)):
        return 'missing or non-finite covariance'
    confidence = float(estimate.confidence)
    if not math.isfinite(confidence) or confidence < min_confidence:
        return f'confidence {confidence:.3f} below min_confidence {min_confidence:.3f}'
    return None


def _differs(a, b, rel: float = 1e-3) -> bool:
    """Return True when two cameras differ (after scaling ``b`` to ``a``'s size)."""
    b = b.resized(a.width, a.height) if (a.width, a.height) != (b.width, b.height) else b
    return any(abs(x - y) > rel * max(abs(y), 1.0)
               for x, y in ((a.fx, b.fx), (a.fy, b.fy), (a.cx, b.cx), (a.cy, b.cy)))


def _describe(camera) -> str:
    return (f'{camera.width}x{camera.height} fx={camera.fx:.1f} fy={camera.fy:.1f} '
            f'cx={camera.cx:.1f} cy={camera.cy:.1f}')


def points_to_cloud(points_world_n3: np.ndarray, timestamp_ns: int, frame_id: str):
    """Build an ``xyz`` float32 ``sensor_msgs/PointCloud2`` of ``(N, 3)`` points (metres).

    Uses ``sensor_msgs_py.point_cloud2`` when importable and packs the same layout otherwise.
    """
    from sensor_msgs.msg import PointCloud2, PointField
    from std_msgs.msg import Header
    from pose_reloc.ros.conversions import ns_to_stamp
    points = np.ascontiguousarray(points_world_n3, dtype=np.float32).reshape(-1, 3)
    header = Header(stamp=ns_to_stamp(timestamp_ns), frame_id=frame_id)
    try:
        from sensor_msgs_py import point_cloud2
        return point_cloud2.create_cloud_xyz32(header, points.tolist())
    except ImportError:
        pass
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
              for i, n in enumerate('xyz')]
    return PointCloud2(header=header, height=1, width=int(points.shape[0]), fields=fields,
                       is_bigendian=False, point_step=12, row_step=12 * int(points.shape[0]),
                       data=points.tobytes(), is_dense=True)


def main(args=None) -> int:
    """Entry point of ``reloc_node`` (``ros2 run pose_reloc reloc_node``); returns exit code.

    A start-up error (bad parameter, missing or empty bundle) prints one line,
    ``reloc_node: error: ...``, without a traceback, and returns 1.
    """
    node = None
    try:
        rclpy.init(args=args)
        node = RelocNode()
        rclpy.spin(node)
    except (ValueError, FileNotFoundError, ParameterException, _rclpy.RCLError) as exc:
        # RCLError: rcl refused the command line (e.g. an unparsable -p rule)
        print(f'reloc_node: error: {exc}', file=sys.stderr)
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
