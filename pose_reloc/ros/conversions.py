# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Conversions between ROS 2 messages and the package's numpy types.

Images: decoding ``sensor_msgs/Image`` and ``CompressedImage`` to ``(H, W, 3) uint8 RGB`` is
:mod:`pose_reloc.ros.image_decode` (every encoding, field and error listed there); its
functions are re-exported here. The builders below write images and CompressedImages.

CameraInfo: :func:`camera_info_to_camera` honours ``k`` (or ``p`` when ``k`` is unusable),
``d`` and ``distortion_model``, ``binning_x/y`` and ``roi``, and refuses by name what the
pinhole model cannot represent (skew, unknown distortion models).

Poses: ``Pose``, ``PoseStamped``, ``PoseWithCovariance(Stamped)``, ``Transform(Stamped)`` and
``nav_msgs/Odometry`` <-> ``T_world_cam`` (4x4 float64). Quaternions at this boundary are the
messages' ``(x, y, z, w)``, the package's order too. Covariances are 6x6, order
``(x, y, z, rot_x, rot_y, rot_z)``, m^2 and rad^2.

The functions read messages by attribute, so they accept both rclpy messages and the
messages that ``rosbags`` deserializes; the builders return rclpy messages.
"""

from typing import Optional

import cv2
import numpy as np

from pose_reloc.geometry.rotations import quat_validate
from pose_reloc.geometry.se3 import T_from_pos_quat, T_to_pos_quat
from pose_reloc.ros.image_decode import (any_image_to_rgb, compressed_to_rgb,  # noqa: F401
                                         IMAGE_ENCODINGS, image_to_rgb, ImageDecodeError,
                                         validate_image_msg)

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
# Decoding lives in ``image_decode`` (shared by the bag tools and the node); the names are
# kept here for callers of this module.


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
    """Build a ``sensor_msgs.msg.CompressedImage`` (``jpeg`` or ``png``) from RGB uint8.

    The ``format`` is image_transport's: ``"rgb8; <fmt> compressed bgr8"`` (a BGR buffer).
    """
    from sensor_msgs.msg import CompressedImage
    msg = CompressedImage()
    msg.header.stamp = ns_to_stamp(timestamp_ns)
    msg.header.frame_id = frame_id
    msg.format = f'rgb8; {fmt} compressed bgr8'
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
#: relative skew ``|K[0, 1]| / fx`` below which the skew is taken as zero (rounding).
SKEW_TOLERANCE = 1e-6


def _info_array(msg, name: str) -> np.ndarray:
    """Return CameraInfo field ``name`` (ROS 2 lower case, ROS 1 upper case) as float64."""
    value = getattr(msg, name, None)
    if value is None:
        value = getattr(msg, name.upper(), ())
    return np.asarray(value, dtype=np.float64).reshape(-1)


def _usable_intrinsics(m: np.ndarray, stride: int) -> bool:
    """Return True when a K (stride 3) or P (stride 4) has finite, positive focal lengths."""
    return bool(np.all(np.isfinite(m)) and m[0] > 0 and m[stride + 1] > 0)


def camera_info_to_camera(msg):
    """Return the ``PinholeCamera`` of a ``sensor_msgs/CameraInfo``, every field honoured.

    - ``k``: fx, fy, cx, cy. A non-zero skew ``k[1]`` is refused (the camera model has none).
    - ``p``: used when ``k`` is unusable (all zero, as uncalibrated drivers publish, or
      non-finite): its left 3x3 is the rectified camera, so the distortion is then none.
    - ``d`` / ``distortion_model``: ``plumb_bob`` (5) and ``rational_polynomial`` (8) as
      OpenCV's plumb_bob, ``equidistant`` / ``fisheye`` (4); other models are refused.
    - ``binning_x`` / ``binning_y`` (0 or 1 = none) and ``roi`` (all zero = full image): the
      published image is the ROI of the full sensor, binned; the intrinsics are moved and
      scaled to it as ``image_geometry`` does (``cx' = (cx - x_offset) / binning_x``).
    - ``r`` (stereo rectification) does not change the image's own intrinsics and is not used.

    Raises:
        ValueError: naming the field: zero size, no usable K or P, skew, an unknown
            distortion model or coefficient count, a ROI outside the image, bad binning.

    """
    from pose_reloc.geometry.camera import PinholeCamera
    width, height = int(msg.width), int(msg.height)
    if width <= 0 or height <= 0:
        raise ValueError(f'camera_info width/height: zero size {width}x{height}')
    k, p = _info_array(msg, 'k'), _info_array(msg, 'p')
    d = tuple(float(v) for v in _info_array(msg, 'd'))
    model = str(getattr(msg, 'distortion_model', '') or '')
    model = model or ('plumb_bob' if any(d) else 'none')
    if k.size == 9 and _usable_intrinsics(k, 3):
        fx, fy, cx, cy, skew = k[0], k[4], k[2], k[5], k[1]
        source = 'k'
    elif p.size == 12 and _usable_intrinsics(p, 4):
        fx, fy, cx, cy, skew = p[0], p[5], p[2], p[6], p[1]
        source, model, d = 'p', 'none', ()
    else:
        raise ValueError(f'camera_info k is not a valid intrinsic matrix ({k.tolist()}) and p '
                         f'cannot replace it ({p.tolist()}): the camera is not calibrated')
    if abs(skew) > SKEW_TOLERANCE * abs(fx):
        raise ValueError(f'camera_info {source}: skew {source}[1] = {skew:g} is not supported '
                         '(the pinhole model has no skew); recalibrate without skew')
    bx = int(getattr(msg, 'binning_x', 0) or 0) or 1
    by = int(getattr(msg, 'binning_y', 0) or 0) or 1
    if bx < 1 or by < 1:
        raise ValueError(f'camera_info binning_x/binning_y must be >= 0, got {bx}, {by}')
    roi = getattr(msg, 'roi', None)
    x0 = int(getattr(roi, 'x_offset', 0) or 0)
    y0 = int(getattr(roi, 'y_offset', 0) or 0)
    roi_w = int(getattr(roi, 'width', 0) or 0) or width - x0
    roi_h = int(getattr(roi, 'height', 0) or 0) or height - y0
    if x0 < 0 or y0 < 0 or x0 + roi_w > width or y0 + roi_h > height:
        raise ValueError(f'camera_info roi: {roi_w}x{roi_h} at ({x0}, {y0}) is outside the '
                         f'{width}x{height} image')
    model = {'rational_polynomial': 'plumb_bob', 'fisheye': 'equidistant'}.get(model, model)
    try:
        return PinholeCamera(width=roi_w // bx, height=roi_h // by, fx=float(fx) / bx,
                             fy=float(fy) / by, cx=(float(cx) - x0) / bx,
                             cy=(float(cy) - y0) / by, distortion_model=model,
                             distortion=d if any(d) or model == 'equidistant' else ())
    except ValueError as exc:
        raise ValueError(f'camera_info distortion_model/d: {exc}') from None


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
