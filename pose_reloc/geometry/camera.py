# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Pinhole camera model with optional lens distortion, and camera_info YAML conversion.

Camera frame: OpenCV / ROS optical (x right, y down, z forward). Pixel coordinates follow
OpenCV: the centre of the top-left pixel is (0, 0), ``u`` grows to the right and ``v``
downwards. Distortion models (the names of ROS ``sensor_msgs/CameraInfo``):

- ``'none'``: ideal pinhole.
- ``'plumb_bob'``: OpenCV radial-tangential, coefficients ``(k1, k2, p1, p2[, k3[, k4, k5,
  k6]])`` (4, 5 or 8 values; 8 is ROS ``rational_polynomial``). All-zero coefficients are
  stored as ``'none'``.
- ``'equidistant'``: OpenCV fisheye, coefficients ``(k1, k2, k3, k4)``.
"""

from dataclasses import dataclass
import functools
import math
from pathlib import Path

import cv2
import numpy as np
import yaml

from pose_reloc.core.files import atomic_write_text
from pose_reloc.geometry.rotations import as_float_array

#: Pose conversion between camera axis conventions: the OpenGL / NeRF camera frame
#: (x right, y up, z backward) and the OpenCV optical frame (x right, y down, z forward):
#: ``T_world_cam_opencv = T_world_cam_opengl @ T_OPENGL_OPENCV`` (the matrix is its own
#: inverse). Read-only.
T_OPENGL_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])
T_OPENGL_OPENCV.setflags(write=False)

DISTORTION_MODELS = ('none', 'plumb_bob', 'equidistant')
_N_COEFFS = {'none': (0,), 'plumb_bob': (4, 5, 8), 'equidistant': (4,)}
# Undistortion iterations: stop at a 1e-6 px reprojection error or after 100 iterations
# (10, OpenCV's default, leaves 1e-3 px on a webcam-like k1 = -0.28 lens).
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-6)


def _is_positive_integer(value):
    """Return True for a positive int or integral float (not bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return False
    return math.isfinite(value) and float(value).is_integer() and value > 0


@dataclass(frozen=True)
class PinholeCamera:
    """Intrinsics of a pinhole camera with optional lens distortion.

    Attributes:
        width: image width, pixels (> 0).
        height: image height, pixels (> 0).
        fx: focal length along x, pixels (> 0).
        fy: focal length along y, pixels (> 0).
        cx: principal point x, pixels (OpenCV convention: pixel centres at integers).
        cy: principal point y, pixels.
        distortion_model: ``'none'``, ``'plumb_bob'`` or ``'equidistant'``.
        distortion: tuple of distortion coefficients (see the module docstring).
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion_model: str = 'none'
    distortion: tuple = ()

    def __post_init__(self):
        """Validate and normalize the fields (raise ValueError naming the bad field)."""
        for name in ('width', 'height'):
            value = getattr(self, name)
            if not _is_positive_integer(value):
                raise ValueError(f'PinholeCamera: {name} must be a positive integer, got '
                                 f'{value!r}')
            object.__setattr__(self, name, int(value))
        for name in ('fx', 'fy', 'cx', 'cy'):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f'PinholeCamera: {name} must be finite, got {value!r}')
            if name in ('fx', 'fy') and value <= 0.0:
                raise ValueError(f'PinholeCamera: {name} must be positive, got {value!r}')
            object.__setattr__(self, name, value)
        model = self.distortion_model
        if model not in DISTORTION_MODELS:
            raise ValueError(f'PinholeCamera: unknown distortion_model {model!r}; expected one '
                             f'of {DISTORTION_MODELS}')
        coeffs = tuple(float(c) for c in np.asarray(self.distortion, dtype=np.float64).ravel())
        if not all(math.isfinite(c) for c in coeffs):
            raise ValueError(f'PinholeCamera: distortion coefficients must be finite, got '
                             f'{coeffs}')
        if model in ('none', 'plumb_bob') and not any(coeffs):
            model, coeffs = 'none', ()
        if len(coeffs) not in _N_COEFFS[model]:
            raise ValueError(f'PinholeCamera: distortion_model {model!r} takes '
                             f'{" or ".join(map(str, _N_COEFFS[model]))} coefficients, got '
                             f'{len(coeffs)}: {coeffs}')
        object.__setattr__(self, 'distortion_model', model)
        object.__setattr__(self, 'distortion', coeffs)

    @property
    def K(self):
        """(3, 3) float64 intrinsic matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def is_distorted(self):
        """Whether the model has non-trivial lens distortion (bool)."""
        return self.distortion_model != 'none'

    def resized(self, width, height):
        """Camera of the same lens for the image resized to ``width`` x ``height`` pixels.

        Scales focal lengths and the principal point with the pixel-centre convention
        ``cx' = (cx + 0.5) * sx - 0.5`` (``sx = width / self.width``); distortion, which
        acts on normalized coordinates, is unchanged.

        Args:
            width: new image width, pixels.
            height: new image height, pixels.

        Returns:
            A new PinholeCamera.
        """
        if width <= 0 or height <= 0:
            raise ValueError(f'resized: width and height must be positive, got {width}x'
                             f'{height}')
        sx = width / self.width
        sy = height / self.height
        return PinholeCamera(width, height, self.fx * sx, self.fy * sy,
                             (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5,
                             self.distortion_model, self.distortion)

    def cropped(self, x0, y0, width, height):
        """Camera for the crop ``image[y0:y0 + height, x0:x0 + width]``.

        Args:
            x0: left column of the crop, pixels (>= 0).
            y0: top row of the crop, pixels (>= 0).
            width: crop width, pixels (``x0 + width <= self.width``).
            height: crop height, pixels (``y0 + height <= self.height``).

        Returns:
            A new PinholeCamera with the principal point shifted by ``(-x0, -y0)``.
        """
        if (x0 < 0 or y0 < 0 or width <= 0 or height <= 0 or x0 + width > self.width
                or y0 + height > self.height):
            raise ValueError(f'cropped: crop x0={x0} y0={y0} {width}x{height} does not fit in '
                             f'the {self.width}x{self.height} image')
        return PinholeCamera(width, height, self.fx, self.fy, self.cx - x0, self.cy - y0,
                             self.distortion_model, self.distortion)

    def _distort_normalized(self, xy):
        """Apply the lens distortion to normalized coordinates (..., 2)."""
        x, y = xy[..., 0], xy[..., 1]
        r2 = x * x + y * y
        if self.distortion_model == 'plumb_bob':
            k = np.zeros(8)
            k[:len(self.distortion)] = self.distortion
            k1, k2, p1, p2, k3, k4, k5, k6 = k
            radial = ((1.0 + r2 * (k1 + r2 * (k2 + r2 * k3)))
                      / (1.0 + r2 * (k4 + r2 * (k5 + r2 * k6))))
            xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
            yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
            return np.stack([xd, yd], axis=-1)
        if self.distortion_model == 'equidistant':
            k1, k2, k3, k4 = self.distortion
            r = np.sqrt(r2)
            theta = np.arctan(r)
            t2 = theta * theta
            theta_d = theta * (1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
            scale = np.where(r > 1e-12, theta_d / np.where(r > 1e-12, r, 1.0), 1.0)
            return xy * scale[..., None]
        return xy

    def _to_normalized(self, uv):
        return np.stack([(uv[..., 0] - self.cx) / self.fx, (uv[..., 1] - self.cy) / self.fy],
                        axis=-1)

    def _to_pixels(self, xy):
        return np.stack([xy[..., 0] * self.fx + self.cx, xy[..., 1] * self.fy + self.cy],
                        axis=-1)

    def distort_points(self, uv_n2):
        """Map ideal pinhole pixels to the pixels of this distorted camera.

        Args:
            uv_n2: (..., 2) pixel coordinates of the ideal (undistorted) camera with the same K.

        Returns:
            (..., 2) float64 pixel coordinates in the distorted image.
        """
        uv = _as_points(uv_n2, 2, 'uv_n2')
        if not self.is_distorted:
            return uv.copy()
        return self._to_pixels(self._distort_normalized(self._to_normalized(uv)))

    def undistort_points(self, uv_n2):
        """Map pixels of this distorted camera to ideal pinhole pixels (same K), via OpenCV.

        Uses ``cv2.undistortPoints`` (plumb_bob) or ``cv2.fisheye.undistortPoints``
        (equidistant) with up to 100 iterations, so that ``distort_points`` of the result
        reproduces the input within 1e-3 px inside the image.

        Args:
            uv_n2: (..., 2) pixel coordinates in the distorted image.

        Returns:
            (..., 2) float64 pixel coordinates of the ideal camera with the same K.
        """
        uv = _as_points(uv_n2, 2, 'uv_n2')
        if not self.is_distorted or uv.size == 0:
            return uv.copy()
        src = np.ascontiguousarray(uv.reshape(-1, 1, 2))
        dst = _cv_undistort(src, self.K, np.asarray(self.distortion, dtype=np.float64),
                            self.distortion_model == 'equidistant')
        return dst.reshape(uv.shape).astype(np.float64)

    def project(self, points_cam_n3):
        """Project points in the camera (optical) frame to pixels, applying distortion.

        Args:
            points_cam_n3: (..., 3) points in the camera frame, metres.

        Returns:
            Tuple ``(uv_n2, valid_n)``: (..., 2) float64 pixel coordinates (NaN where
            invalid) and (...,) bool, True where the point is finite and in front of the
            camera (z > 0). Points outside the image are still valid; compare with
            ``width``/``height`` to test visibility.
        """
        points = _as_points(points_cam_n3, 3, 'points_cam_n3')
        z = points[..., 2]
        valid = np.all(np.isfinite(points), axis=-1) & (z > 0.0)
        z_safe = np.where(valid, z, 1.0)
        xy = points[..., :2] / z_safe[..., None]
        xy[~valid] = np.nan
        return self._to_pixels(self._distort_normalized(xy)), valid

    def backproject(self, uv_n2, depth_n):
        """Lift pixels with depth to 3-D points in the camera frame (undistorting first).

        Args:
            uv_n2: (..., 2) pixel coordinates in this (possibly distorted) camera's image.
            depth_n: (...,) z-depth (distance along the optical axis, not along the ray),
                metres; broadcast against ``uv_n2[..., 0]``.

        Returns:
            (..., 3) float64 points in the camera frame, metres.
        """
        xy = self._to_normalized(self.undistort_points(uv_n2))
        depth = np.asarray(depth_n, dtype=np.float64)
        rays = np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], axis=-1)
        return rays * depth[..., None]

    def pixel_rays(self):
        """Return the viewing rays of all pixel centres, undistorted.

        The rays of the last few cameras are cached (undistorting a 640x480 grid takes
        ~0.2 s); the returned array is a fresh copy.

        Returns:
            (height, width, 3) float64 rays in the camera frame with z = 1 (multiply by a
            z-depth map to get points), ``rays[v, u]`` for pixel column u, row v.
        """
        return _pixel_rays_cached(self).copy()


@functools.lru_cache(maxsize=8)
def _pixel_rays_cached(camera):
    """Read-only (H, W, 3) z = 1 rays of ``camera``'s pixel centres (see pixel_rays)."""
    v, u = np.mgrid[0:camera.height, 0:camera.width].astype(np.float64)
    xy = camera._to_normalized(camera.undistort_points(np.stack([u, v], axis=-1)))
    rays = np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], axis=-1)
    rays.setflags(write=False)
    return rays


def _cv_undistort(src_n12, K, D, fisheye):
    """Undistort pixels with OpenCV 4.x or 5.x (their Python signatures differ)."""
    eye = np.eye(3)
    if fisheye:
        try:
            return cv2.fisheye.undistortPoints(src_n12, K, D, R=eye, P=K,
                                               criteria=_UNDISTORT_CRITERIA)
        except cv2.error:
            # OpenCV < 4.6 (e.g. Ubuntu 22.04 / Humble) has no criteria argument here.
            return cv2.fisheye.undistortPoints(src_n12, K, D, R=eye, P=K)
    if hasattr(cv2, 'undistortPointsIter'):  # OpenCV 4.x
        return cv2.undistortPointsIter(src_n12, K, D, eye, K, _UNDISTORT_CRITERIA)
    return cv2.undistortPoints(src_n12, K, D, R=eye, P=K, criteria=_UNDISTORT_CRITERIA)


def _as_points(points, dim, name):
    """Return ``points`` as a float64 array of shape (..., dim) or raise ValueError."""
    return as_float_array(points, (dim,), name, 'points')


def depth_to_scene_coords(depth_hw, camera, T_world_cam):
    """Turn a z-depth map into per-pixel world coordinates (scene coordinates).

    Args:
        depth_hw: (H, W) z-depth, metres; values <= 0 or non-finite are invalid.
        camera: PinholeCamera of the depth image (``H == camera.height``,
            ``W == camera.width``).
        T_world_cam: (4, 4) camera-to-world pose.

    Returns:
        (H, W, 3) float64 world points, metres, NaN where the depth is invalid.
    """
    depth = np.asarray(depth_hw, dtype=np.float64)
    if depth.shape != (camera.height, camera.width):
        raise ValueError(f'depth_to_scene_coords: depth shape {depth.shape} does not match '
                         f'the camera size (height, width) = ({camera.height}, {camera.width})')
    T = np.asarray(T_world_cam, dtype=np.float64)
    if T.shape != (4, 4):
        raise ValueError(f'depth_to_scene_coords: T_world_cam must be (4, 4), got {T.shape}')
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(depth) & (depth > 0.0)
    points_cam = _pixel_rays_cached(camera) * np.where(valid, depth, np.nan)[..., None]
    return points_cam @ T[:3, :3].T + T[:3, 3]


def _yaml_matrix(data, key, rows, cols, source):
    """Read a ``{rows, cols, data}`` matrix entry of a camera_info YAML."""
    entry = data.get(key)
    if not isinstance(entry, dict) or 'data' not in entry:
        raise ValueError(f'{source}: key {key!r} must be a mapping with rows, cols and data, '
                         f'got {entry!r}')
    values = entry['data']
    try:
        arr = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ValueError(f'{source}: key {key}.data must hold numbers, got {values!r}') from exc
    n_rows = entry.get('rows', rows)
    n_cols = entry.get('cols', cols)
    if rows is not None and (n_rows, n_cols) != (rows, cols):
        raise ValueError(f'{source}: key {key} must be {rows}x{cols}, got rows={n_rows} '
                         f'cols={n_cols}')
    if n_rows is None or n_cols is None:  # free-size entry without rows/cols: take data
        n_rows, n_cols = 1, arr.size
    if not (_is_positive_integer(n_rows) or n_rows == 0) or not (
            _is_positive_integer(n_cols) or n_cols == 0):
        raise ValueError(f'{source}: key {key} rows/cols must be integers, got rows={n_rows!r} '
                         f'cols={n_cols!r}')
    if arr.size != int(n_rows) * int(n_cols):
        raise ValueError(f'{source}: key {key}.data has {arr.size} values but rows*cols = '
                         f'{n_rows}*{n_cols}')
    if not np.all(np.isfinite(arr)):
        raise ValueError(f'{source}: key {key}.data has NaN/inf: {arr.tolist()}')
    return arr


def camera_from_ros_yaml(data, source='camera yaml'):
    """Build a camera from a parsed ROS camera_info YAML (camera_calibration's format).

    Keys read: ``image_width``, ``image_height``, ``camera_matrix`` ({rows: 3, cols: 3,
    data}), ``distortion_model`` (``plumb_bob``, ``rational_polynomial``, ``equidistant``
    or ``none``; missing means none) and ``distortion_coefficients`` ({rows, cols, data}).
    ``rectification_matrix`` and ``projection_matrix`` are not needed for a monocular camera
    and are ignored.

    Args:
        data: the mapping from ``yaml.safe_load``.
        source: name of the origin (e.g. the file path) used in error messages.

    Returns:
        PinholeCamera.

    Raises:
        ValueError: naming ``source`` and the missing or malformed key.
    """
    if not isinstance(data, dict):
        raise ValueError(f'{source}: expected a mapping of camera_info keys, got '
                         f'{type(data).__name__}')
    size = {}
    for key in ('image_width', 'image_height'):
        if key not in data:
            raise ValueError(f'{source}: missing key {key!r}')
        value = data[key]
        if not _is_positive_integer(value):
            raise ValueError(f'{source}: key {key!r} must be a positive integer, got {value!r}')
        size[key] = int(value)
    K = _yaml_matrix(data, 'camera_matrix', 3, 3, source).reshape(3, 3)
    if K[0, 1] != 0.0 or K[1, 0] != 0.0 or np.any(K[2] != [0.0, 0.0, 1.0]):
        raise ValueError(f'{source}: key camera_matrix must be [[fx, 0, cx], [0, fy, cy], '
                         f'[0, 0, 1]] (no skew), got {K.tolist()}')
    model = data.get('distortion_model', 'none') or 'none'
    if not isinstance(model, str):
        raise ValueError(f'{source}: key distortion_model must be a string, got {model!r}')
    aliases = {'rational_polynomial': 'plumb_bob', 'fisheye': 'equidistant'}
    model = aliases.get(model, model)
    if model not in DISTORTION_MODELS:
        raise ValueError(f'{source}: key distortion_model has unsupported value '
                         f'{data.get("distortion_model")!r}; expected plumb_bob, '
                         f'rational_polynomial, equidistant or none')
    coeffs = ()
    if data.get('distortion_coefficients') is not None:
        coeffs = tuple(_yaml_matrix(data, 'distortion_coefficients', None, None, source))
    if model == 'none' and any(coeffs):
        raise ValueError(f'{source}: distortion_model none with non-zero '
                         f'distortion_coefficients {coeffs}')
    if model == 'none':
        coeffs = ()
    try:
        return PinholeCamera(size['image_width'], size['image_height'], K[0, 0], K[1, 1],
                             K[0, 2], K[1, 2], model, coeffs)
    except ValueError as exc:
        raise ValueError(f'{source}: {exc}') from exc


def ros_distortion(camera):
    """ROS ``distortion_model`` name and coefficients of a camera (CameraInfo / YAML).

    A camera without distortion is ``plumb_bob`` with five zeros (what ROS drivers
    publish); 8 plumb_bob coefficients are ``rational_polynomial``.

    Args:
        camera: PinholeCamera.

    Returns:
        Tuple ``(model, coeffs)``: str and list of float.
    """
    if camera.distortion_model == 'none':
        return 'plumb_bob', [0.0] * 5
    if camera.distortion_model == 'plumb_bob' and len(camera.distortion) == 8:
        return 'rational_polynomial', list(camera.distortion)
    return camera.distortion_model, list(camera.distortion)


def camera_to_ros_yaml(camera, name):
    """Describe a camera as a ROS camera_info YAML mapping (camera_calibration's format).

    The distortion is written as :func:`ros_distortion` gives it. The rectification matrix
    is the identity and the projection matrix ``[K | 0]`` (monocular camera).

    Args:
        camera: PinholeCamera.
        name: the ``camera_name`` value.

    Returns:
        dict ready for ``yaml.safe_dump``.
    """
    model, coeffs = ros_distortion(camera)
    K = camera.K
    P = np.concatenate([K, np.zeros((3, 1))], axis=1)
    return {
        'image_width': camera.width,
        'image_height': camera.height,
        'camera_name': str(name),
        'camera_matrix': {'rows': 3, 'cols': 3, 'data': [float(x) for x in K.ravel()]},
        'distortion_model': model,
        'distortion_coefficients': {'rows': 1, 'cols': len(coeffs),
                                    'data': [float(x) for x in coeffs]},
        'rectification_matrix': {'rows': 3, 'cols': 3,
                                 'data': [float(x) for x in np.eye(3).ravel()]},
        'projection_matrix': {'rows': 3, 'cols': 4, 'data': [float(x) for x in P.ravel()]},
    }


def read_camera_yaml(path):
    """Read a ROS camera_info YAML file.

    Args:
        path: file path.

    Returns:
        PinholeCamera.

    Raises:
        FileNotFoundError: if the file is missing.
        ValueError: naming the file and the bad key.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'camera file not found: {path}')
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f'{path}: not valid YAML: {exc}') from exc
    return camera_from_ros_yaml(data, source=str(path))


def write_camera_yaml(path, camera, name):
    """Write a camera as a ROS camera_info YAML file (atomic: temp file, then rename).

    Args:
        path: output file path.
        camera: PinholeCamera.
        name: the ``camera_name`` value.

    Returns:
        Path of the written file.
    """
    return atomic_write_text(path, yaml.safe_dump(camera_to_ros_yaml(camera, name),
                                                  sort_keys=False, default_flow_style=None))
