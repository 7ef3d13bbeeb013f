# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Conversions between ROS 2 messages and the package's numpy types.

Images: ``sensor_msgs/Image`` (rgb8, bgr8, mono8, rgba8, bgra8, mono16, 16UC1) and
``sensor_msgs/CompressedImage`` become ``(H, W, 3) uint8 RGB`` arrays. Every message is
validated first (encoding, size, step, data length); a bad one raises ``ValueError`` with the
reason. cv_bridge converts when a working ROS 2 cv_bridge is importable (checked once with a
round trip), the numpy path below otherwise; both give the same pixels.

Poses: ``Pose``, ``PoseStamped``, ``PoseWithCovariance(Stamped)``, ``Transform(Stamped)`` and
``nav_msgs/Odometry`` <-> ``T_world_cam`` (4x4 float64). Quaternions at this boundary are the
messages' ``(x, y, z, w)``, the package's order too. Covariances are 6x6, order
``(x, y, z, rot_x, rot_y, rot_z)``, m^2 and rad^2.

The functions read messages by attribute, so they accept both rclpy messages and the
messages that ``rosbags`` deserializes; the builders return rclpy messages.
"""

import functools
import logging
from typing import Optional, Tuple

import cv2
import numpy as np

from pose_reloc.geometry.rotations import quat_validate
from pose_reloc.geometry.se3 import T_from_pos_quat, T_to_pos_quat

_LOG = logging.getLogger(__name__)

#: encoding -> (channels, numpy dtype) of the raw Image encodings this module reads.
IMAGE_ENCODINGS = {
    'rgb8': (3, np.uint8),
    'bgr8': (3, np.uint8),
    'mono8': (1, np.uint8),
    '8UC1': (1, np.uint8),
    'rgba8': (4, np.uint8),
    'bgra8': (4, np.uint8),
    'mono16': (1, np.uint16),
    '16UC1': (1, np.uint16),
}

#: accepted deviation of a message quaternion from unit norm (tf2's tolerance).
QUAT_NORM_TOLERANCE = 1e-2


# --------------------------------------------------------------------------- time
def stamp_to_ns(stamp) -> int:
    """Return a ``builtin_interfaces/Time`` (``sec``, ``nanosec``) as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(timestamp_ns: int):
    """Return a ``builtin_interfaces.msg.Time`` for integer nanoseconds (must be >= 0)."""
    from builtin_interfaces.msg import Time
    timestamp_ns = int(timestamp_ns)
    if timestamp_ns < 0:
        raise ValueError(f'negative timestamp {timestamp_ns} ns cannot be a ROS Time')
    return Time(sec=timestamp_ns // 1_000_000_000, nanosec=timestamp_ns % 1_000_000_000)


# --------------------------------------------------------------------------- images
def _data_bytes(data) -> np.ndarray:
    """Return a message's ``data`` field (bytes, array.array, list or ndarray) as uint8."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, dtype=np.uint8)
    arr = np.asarray(data)
    if arr.dtype != np.uint8:
        arr = arr.astype(np.uint8)
    return arr.reshape(-1)


def validate_image_msg(msg) -> Tuple[int, type]:
    """Check a ``sensor_msgs/Image`` and return ``(channels, dtype)`` of its encoding.

    Raises:
        ValueError: unknown encoding, zero size, a step smaller than one row or not a whole
            number of pixels wide, or fewer data bytes than ``step * height`` (truncated).

    """
    encoding = str(msg.encoding)
    if encoding not in IMAGE_ENCODINGS:
        raise ValueError(f'unknown image encoding {encoding!r}; supported: '
                         f'{", ".join(sorted(IMAGE_ENCODINGS))}')
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ValueError(f'zero size image {width}x{height} ({encoding})')
    channels, dtype = IMAGE_ENCODINGS[encoding]
    row_bytes = width * channels * np.dtype(dtype).itemsize
    if step < row_bytes:
        raise ValueError(f'wrong step {step} for a {width}x{height} {encoding} image: '
                         f'a row needs at least {row_bytes} bytes')
    if step % np.dtype(dtype).itemsize:
        raise ValueError(f'wrong step {step}: not a multiple of the {encoding} pixel size')
    size = len(msg.data)
    if size < step * height:
        raise ValueError(f'truncated data: {size} bytes for a {width}x{height} {encoding} '
                         f'image with step {step} (needs {step * height})')
    return channels, dtype


def _numpy_image_to_rgb(msg, channels: int, dtype: type) -> np.ndarray:
    """Convert a validated Image (``channels``, ``dtype`` of its encoding) to RGB uint8."""
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    itemsize = np.dtype(dtype).itemsize
    raw = _data_bytes(msg.data)[:step * height].reshape(height, step)
    raw = raw[:, :width * channels * itemsize]
    if itemsize == 2:
        order = '>' if bool(getattr(msg, 'is_bigendian', False)) else '<'
        pixels = raw.copy().view(np.dtype(order + 'u2')).reshape(height, width)
        return np.repeat(_mono16_to_8(pixels)[:, :, None], 3, axis=2)
    pixels = raw.reshape(height, width, channels)
    encoding = str(msg.encoding)
    if encoding == 'rgb8':
        return np.ascontiguousarray(pixels)
    if encoding == 'bgr8':
        return np.ascontiguousarray(pixels[:, :, ::-1])
    if encoding == 'rgba8':
        return np.ascontiguousarray(pixels[:, :, :3])
    if encoding == 'bgra8':
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    return np.repeat(pixels, 3, axis=2)


def _mono16_to_8(pixels_hw: np.ndarray) -> np.ndarray:
    """Map 16-bit intensities to 8 bits over the full 16-bit range (``v // 257``)."""
    return (pixels_hw.astype(np.uint32) // 257).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _cv_bridge():
    """Return a working ROS 2 ``CvBridge`` or None (checked once by a 2x1 round trip)."""
    try:
        from cv_bridge import CvBridge
        from sensor_msgs.msg import Image
    except ImportError:
        return None
    try:
        bridge = CvBridge()
        msg = Image(height=1, width=2, encoding='bgr8', step=6,
                    data=bytes([1, 2, 3, 4, 5, 6]))
        out = bridge.imgmsg_to_cv2(msg, desired_encoding='rgb8')
        if np.asarray(out).reshape(-1).tolist() != [3, 2, 1, 6, 5, 4]:
            raise ValueError('round trip gave wrong pixels')
    except Exception as exc:  # a ROS 1 stand-in or a broken build: use the numpy path
        _LOG.warning('cv_bridge is importable but not usable (%s); using numpy conversion',
                     exc)
        return None
    return bridge


def image_to_rgb(msg, use_cv_bridge: bool = True) -> np.ndarray:
    """Convert a ``sensor_msgs/Image`` to ``(H, W, 3) uint8 RGB``.

    Alpha is dropped, mono is replicated to three channels, 16-bit mono (``mono16``,
    ``16UC1``) is scaled by ``1/257`` to 8 bits. The message is validated first.

    Raises:
        ValueError: the reason the message is unusable (see ``validate_image_msg``).

    """
    channels, dtype = validate_image_msg(msg)
    bridge = _cv_bridge() if use_cv_bridge else None
    if bridge is None or str(msg.encoding) in ('mono16', '16UC1'):
        return _numpy_image_to_rgb(msg, channels, dtype)
    return np.ascontiguousarray(bridge.imgmsg_to_cv2(msg, desired_encoding='rgb8'))


def compressed_to_rgb(msg) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (jpeg, png) to ``(H, W, 3) uint8 RGB``.

    Raises:
        ValueError: empty data, or data that OpenCV cannot decode (truncated or not an image).

    """
    raw = _data_bytes(msg.data)
    fmt = str(getattr(msg, 'format', ''))
    if raw.size == 0:
        raise ValueError(f'zero size compressed image (format {fmt!r})')
    if 'compressedDepth' in fmt:
        raise ValueError(f'compressed depth images are not camera images (format {fmt!r})')
    decoded = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise ValueError(f'cannot decode compressed image ({raw.size} bytes, format {fmt!r}):'
                         ' truncated data or not jpeg/png')
    if decoded.dtype == np.uint16:
        decoded = _mono16_to_8(decoded)
    if decoded.ndim == 2:
        return np.repeat(decoded[:, :, None], 3, axis=2)
    if decoded.shape[2] == 4:
        return cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def any_image_to_rgb(msg) -> np.ndarray:
    """Convert an Image or CompressedImage (told apart by its ``format`` field) to RGB."""
    if hasattr(msg, 'format') and not hasattr(msg, 'encoding'):
        return compressed_to_rgb(msg)
    return image_to_rgb(msg)


def rgb_to_image(image_rgb_hw3: np.ndarray, timestamp_ns: int = 0, frame_id: str = '',
                 encoding: str = 'rgb8'):
    """Build a ``sensor_msgs.msg.Image`` from ``(H, W, 3) uint8 RGB``.

    Args:
        image_rgb_hw3: (H, W, 3) uint8 RGB.
        timestamp_ns: header stamp, integer nanoseconds.
        frame_id: header frame (the camera's optical frame).
        encoding: ``rgb8``, ``bgr8`` or ``mono8``.

    """
    from sensor_msgs.msg import Image
    image = _check_rgb(image_rgb_hw3)
    if encoding == 'rgb8':
        pixels = image
    elif encoding == 'bgr8':
        pixels = image[:, :, ::-1]
    elif encoding == 'mono8':
        pixels = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    else:
        raise ValueError(f'cannot encode {encoding!r}; use rgb8, bgr8 or mono8')
    pixels = np.ascontiguousarray(pixels)
    msg = Image()
    msg.header.stamp = ns_to_stamp(timestamp_ns)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(pixels.shape[0]), int(pixels.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(pixels.strides[0])
    msg.data = pixels.tobytes()
    return msg


def rgb_to_compressed(image_rgb_hw3: np.ndarray, timestamp_ns: int = 0, frame_id: str = '',
                      fmt: str = 'jpeg', quality: int = 90):
    """Build a ``sensor_msgs.msg.CompressedImage`` (``jpeg`` or ``png``) from RGB uint8."""
    from sensor_msgs.msg import CompressedImage
    msg = CompressedImage()
    msg.header.stamp = ns_to_stamp(timestamp_ns)
    msg.header.frame_id = frame_id
    msg.format = fmt
    msg.data = compress_rgb(image_rgb_hw3, fmt, quality).tobytes()
    return msg


def compress_rgb(image_rgb_hw3: np.ndarray, fmt: str = 'jpeg', quality: int = 90
                 ) -> np.ndarray:
    """Encode ``(H, W, 3) uint8 RGB`` as ``jpeg`` or ``png``; return the (N,) uint8 bytes.

    Raises:
        ValueError: not an RGB uint8 image, an unknown ``fmt``, or OpenCV failing.

    """
    image = _check_rgb(image_rgb_hw3)
    if fmt not in ('jpeg', 'png'):
        raise ValueError(f'cannot compress to {fmt!r}; use jpeg or png')
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if fmt == 'jpeg' else []
    ok, buf = cv2.imencode('.jpg' if fmt == 'jpeg' else '.png',
                           cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f'OpenCV failed to encode a {image.shape} image as {fmt}')
    return buf.reshape(-1)


def _check_rgb(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.size == 0:
        raise ValueError(f'expected a (H, W, 3) uint8 RGB image, got {image.shape} '
                         f'{image.dtype}')
    return image


# --------------------------------------------------------------------------- camera_info
def camera_info_to_camera(msg):
    """Return the ``PinholeCamera`` of a ``sensor_msgs/CameraInfo`` (K, D and model kept).

    ``rational_polynomial`` (8 coefficients) maps to OpenCV's 8-coefficient ``plumb_bob``,
    ``fisheye`` (the name some drivers use) to ``equidistant``.

    Raises:
        ValueError: zero size, a K matrix without positive focal lengths, or a distortion
            model / coefficient count the camera model does not support.

    """
    from pose_reloc.geometry.camera import PinholeCamera
    width, height = int(msg.width), int(msg.height)
    k = np.asarray(msg.k if hasattr(msg, 'k') else msg.K, dtype=np.float64).reshape(-1)
    if width <= 0 or height <= 0:
        raise ValueError(f'camera_info has zero size {width}x{height}')
    if k.size != 9 or not np.all(np.isfinite(k)) or k[0] <= 0 or k[4] <= 0:
        raise ValueError(f'camera_info K is not a valid intrinsic matrix: {k.tolist()}')
    d = tuple(float(v) for v in np.asarray(msg.d if hasattr(msg, 'd') else msg.D).ravel())
    model = str(msg.distortion_model or '') or ('plumb_bob' if any(d) else 'none')
    model = {'rational_polynomial': 'plumb_bob', 'fisheye': 'equidistant'}.get(model, model)
    return PinholeCamera(width=width, height=height, fx=float(k[0]), fy=float(k[4]),
                         cx=float(k[2]), cy=float(k[5]), distortion_model=model,
                         distortion=d if any(d) else ())


def camera_info_fields(camera) -> dict:
    """Return the CameraInfo fields of a ``PinholeCamera`` (for rclpy and rosbags messages).

    Returns:
        ``width``, ``height`` (int, pixels), ``distortion_model`` (str), ``d`` (N,), ``k``
        (9,), ``r`` (9,) identity and ``p`` (12,) float64, row major.

    """
    from pose_reloc.geometry.camera import ros_distortion
    model, coeffs = ros_distortion(camera)
    fx, fy, cx, cy = (float(v) for v in (camera.fx, camera.fy, camera.cx, camera.cy))
    return {'width': int(camera.width), 'height': int(camera.height),
            'distortion_model': model, 'd': np.asarray(coeffs, dtype=np.float64).reshape(-1),
            'k': np.array([fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]),
            'r': np.eye(3).reshape(-1),
            'p': np.array([fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0])}


def camera_to_camera_info(camera, timestamp_ns: int = 0, frame_id: str = ''):
    """Build a ``sensor_msgs.msg.CameraInfo`` from a ``PinholeCamera``."""
    from sensor_msgs.msg import CameraInfo
    fields = camera_info_fields(camera)
    msg = CameraInfo()
    msg.header.stamp = ns_to_stamp(timestamp_ns)
    msg.header.frame_id = frame_id
    msg.width, msg.height = fields['width'], fields['height']
    msg.distortion_model = fields['distortion_model']
    msg.d = fields['d'].tolist()
    msg.k, msg.r, msg.p = fields['k'], fields['r'], fields['p']
    return msg


# --------------------------------------------------------------------------- poses
def _pose_field(msg):
    """Return the inner ``Pose`` or ``Transform`` of any supported pose message."""
    for _ in range(3):
        if hasattr(msg, 'position') or hasattr(msg, 'translation'):
            return msg
        if hasattr(msg, 'transform'):
            msg = msg.transform
        elif hasattr(msg, 'pose'):
            msg = msg.pose
        else:
            break
    raise ValueError(f'{type(msg).__name__} holds no Pose or Transform')


def msg_to_T(msg, where: str = 'pose message') -> np.ndarray:
    """Return the 4x4 transform of a pose-like message.

    Accepts ``Pose``, ``PoseStamped``, ``PoseWithCovariance``, ``PoseWithCovarianceStamped``,
    ``Transform``, ``TransformStamped`` and ``nav_msgs/Odometry``. For a pose in frame
    ``header.frame_id`` of body ``B`` the result is ``T_frame_B``.

    Quaternions within ``QUAT_NORM_TOLERANCE`` of unit norm are normalized (tf2 accepts the
    same tolerance); others are refused.

    Raises:
        ValueError: a NaN position or a zero/NaN/non-unit quaternion, naming ``where``.

    """
    inner = _pose_field(msg)
    if hasattr(inner, 'position'):
        p, q = inner.position, inner.orientation
    else:
        p, q = inner.translation, inner.rotation
    t = np.array([p.x, p.y, p.z], dtype=np.float64)
    q_xyzw = np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
    if not np.all(np.isfinite(t)):
        raise ValueError(f'{where}: non-finite position {t.tolist()}')
    quat_validate(q_xyzw, where, tol=QUAT_NORM_TOLERANCE)
    return T_from_pos_quat(t, q_xyzw / np.linalg.norm(q_xyzw))


def msg_covariance(msg) -> Optional[np.ndarray]:
    """Return the 6x6 covariance of a ``PoseWithCovariance(Stamped)`` or Odometry, else None."""
    holder = msg
    for _ in range(3):
        if hasattr(holder, 'covariance'):
            cov = np.asarray(holder.covariance, dtype=np.float64)
            if cov.size != 36:
                raise ValueError(f'covariance has {cov.size} values, expected 36')
            return cov.reshape(6, 6)
        holder = getattr(holder, 'pose', None)
        if holder is None:
            return None
    return None


def _fill_pose(pose, T_world_cam: np.ndarray) -> None:
    t, q_xyzw = _checked_pos_quat(T_world_cam)
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in t)
    (pose.orientation.x, pose.orientation.y, pose.orientation.z,
     pose.orientation.w) = (float(v) for v in q_xyzw)


def _checked_pos_quat(T: np.ndarray):
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        raise ValueError(f'expected a finite 4x4 transform, got shape {T.shape}')
    return T_to_pos_quat(T)


def T_to_pose(T_world_cam: np.ndarray):
    """Build a ``geometry_msgs.msg.Pose`` from a 4x4 transform."""
    from geometry_msgs.msg import Pose
    pose = Pose()
    _fill_pose(pose, T_world_cam)
    return pose


def T_to_pose_stamped(T_world_cam: np.ndarray, timestamp_ns: int, frame_id: str):
    """Build a ``geometry_msgs.msg.PoseStamped`` in ``frame_id`` stamped ``timestamp_ns``."""
    from geometry_msgs.msg import PoseStamped
    msg = PoseStamped()
    msg.header.stamp = ns_to_stamp(timestamp_ns)
    msg.header.frame_id = frame_id
    _fill_pose(msg.pose, T_world_cam)
    return msg


def T_to_pose_with_covariance_stamped(T_world_cam: np.ndarray, covariance_66: np.ndarray,
                                      timestamp_ns: int, frame_id: str):
    """Build a ``geometry_msgs.msg.PoseWithCovarianceStamped``.

    Args:
        T_world_cam: (4, 4) pose in ``frame_id``.
        covariance_66: (6, 6) float64, order ``(x, y, z, rot_x, rot_y, rot_z)``, m^2/rad^2.
        timestamp_ns: header stamp, integer nanoseconds.
        frame_id: header frame (the map frame).

    Raises:
        ValueError: a non-finite or non-6x6 covariance.

    """
    from geometry_msgs.msg import PoseWithCovarianceStamped
    cov = np.asarray(covariance_66, dtype=np.float64)
    if cov.shape != (6, 6) or not np.all(np.isfinite(cov)):
        raise ValueError(f'expected a finite 6x6 covariance, got shape {cov.shape}')
    msg = PoseWithCovarianceStamped()
    msg.header.stamp = ns_to_stamp(timestamp_ns)
    msg.header.frame_id = frame_id
    _fill_pose(msg.pose.pose, T_world_cam)
    msg.pose.covariance = [float(v) for v in cov.reshape(-1)]
    return msg


def T_to_transform_stamped(T_parent_child: np.ndarray, timestamp_ns: int, parent: str,
                           child: str):
    """Build a ``geometry_msgs.msg.TransformStamped`` ``parent -> child``."""
    from geometry_msgs.msg import TransformStamped
    t, q_xyzw = _checked_pos_quat(T_parent_child)
    msg = TransformStamped()
    msg.header.stamp = ns_to_stamp(timestamp_ns)
    msg.header.frame_id = parent
    msg.child_frame_id = child
    tr = msg.transform
    tr.translation.x, tr.translation.y, tr.translation.z = (float(v) for v in t)
    tr.rotation.x, tr.rotation.y, tr.rotation.z, tr.rotation.w = (float(v) for v in q_xyzw)
    return msg


def T_to_odometry(T_odom_base: np.ndarray, timestamp_ns: int, frame_id: str,
                  child_frame_id: str, covariance_66: Optional[np.ndarray] = None):
    """Build a ``nav_msgs.msg.Odometry`` (pose only, zero twist)."""
    from nav_msgs.msg import Odometry
    msg = Odometry()
    msg.header.stamp = ns_to_stamp(timestamp_ns)
    msg.header.frame_id = frame_id
    msg.child_frame_id = child_frame_id
    _fill_pose(msg.pose.pose, T_odom_base)
    if covariance_66 is not None:
        msg.pose.covariance = [float(v) for v in np.asarray(covariance_66).reshape(36)]
    return msg
