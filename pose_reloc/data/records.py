# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The frame record every dataset format yields, and the image / depth loaders.

A :class:`Frame` is one posed image: where its pixels are on disk, when it was taken
(integer nanoseconds), where the camera was (``T_world_cam``, camera-to-world, 4x4 float64,
OpenCV optical camera frame), which camera took it (:class:`PinholeCamera`) and, optionally,
where its depth map is. A :class:`Scene` is the list of frames of one map.

Images load as ``(H, W, 3) uint8`` RGB, depth as ``(H, W) float32`` metres with ``0`` marking
invalid pixels, whatever the on-disk encoding (``0`` or ``65535`` invalid, millimetres).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

if TYPE_CHECKING:  # annotations only: records do not need the camera model's code.
    from pose_reloc.geometry.camera import PinholeCamera

#: split names a frame may carry ('' = not assigned to a split).
SPLITS = ('train', 'val', 'test', '')

#: accepted deviation of ``R @ R.T`` from the identity (and of ``det R`` from 1) in a pose.
#: Loose on purpose: datasets store slightly non-orthonormal rotations (7-Scenes'
#: KinectFusion poses reach ``|det R - 1|`` ~ 2e-4) and are kept as written; scaled,
#: reflected or garbage matrices are still refused.
ROTATION_TOL = 1e-2

#: accepted deviation of a quaternion's norm from 1 in dataset files (printed with ~7 digits).
QUAT_NORM_TOL = 1e-4

#: on-disk depth values that mean "no measurement".
DEPTH_INVALID_VALUES = (0, 65535)


def check_T_world_cam(T, where: str) -> np.ndarray:
    """Validate a camera-to-world pose and return it as a read-only float64 copy.

    Args:
        T: (4, 4) array-like, ``T_world_cam`` (metres).
        where: text naming the source (``file:line``, record, ...); it starts the message.

    Returns:
        (4, 4) float64 read-only array.

    Raises:
        ValueError: naming ``where`` for a wrong shape, NaN/inf entries, a last row other
            than ``(0, 0, 0, 1)`` or a rotation block that is not a proper rotation (within
            :data:`ROTATION_TOL`).
    """
    try:
        T_arr = np.array(T, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f'{where}: pose is not numeric: {exc}') from None
    if T_arr.shape != (4, 4):
        raise ValueError(f'{where}: pose must have shape (4, 4), got {T_arr.shape}')
    if not np.all(np.isfinite(T_arr)):
        raise ValueError(f'{where}: pose has NaN/inf entries: {T_arr.tolist()}')
    if not np.allclose(T_arr[3], (0.0, 0.0, 0.0, 1.0), atol=1e-9):
        raise ValueError(f'{where}: pose last row must be (0, 0, 0, 1), got {T_arr[3].tolist()}')
    R = T_arr[:3, :3]
    ortho_err = float(np.abs(R @ R.T - np.eye(3)).max())
    det = float(np.linalg.det(R))
    if ortho_err > ROTATION_TOL or abs(det - 1.0) > ROTATION_TOL:
        raise ValueError(f'{where}: pose rotation is not a rotation matrix '
                         f'(max |R R^T - I| = {ortho_err:.3g}, det = {det:.6g})')
    T_arr.flags.writeable = False
    return T_arr


@dataclass(frozen=True, eq=False)
class Frame:
    """One posed image.

    Attributes:
        image_path: colour image file (any format OpenCV reads).
        timestamp_ns: capture time, integer nanoseconds (synthetic for datasets without
            time stamps, see each format's docstring).
        T_world_cam: (4, 4) float64 camera-to-world pose, OpenCV optical camera frame,
            metres; validated and stored read-only.
        camera: intrinsics of the image (``PinholeCamera``; width/height must match it).
        scene: scene (map) name.
        sequence: recording / sequence name within the scene ('' if unknown).
        split: ``'train'``, ``'val'``, ``'test'`` or ``''`` (not assigned).
        depth_path: optional depth image (uint16); not necessarily registered to the
            colour image (7-Scenes' is not).
        depth_scale: metres per depth unit (0.001 for millimetres).
        depth_invalid: the on-disk value meaning "no depth", 0 or 65535.
        source: where the frame's pose was read (``file:line``, a pose file, a JSON
            frame), named by dataset sanity checks ('' if built in memory).

    Frames compare by identity (they hold an array); compare fields explicitly.
    """

    image_path: Path
    timestamp_ns: int
    T_world_cam: np.ndarray
    camera: PinholeCamera
    scene: str = ''
    sequence: str = ''
    split: str = ''
    depth_path: Optional[Path] = None
    depth_scale: float = 0.001
    depth_invalid: int = 0
    source: str = ''

    def __post_init__(self):
        """Validate and normalize the fields (paths to Path, pose to read-only float64)."""
        where = f'frame {self.image_path}'
        object.__setattr__(self, 'image_path', Path(self.image_path))
        if self.depth_path is not None:
            object.__setattr__(self, 'depth_path', Path(self.depth_path))
        if isinstance(self.timestamp_ns, (bool, np.bool_)) or not isinstance(
                self.timestamp_ns, (int, np.integer)):
            raise ValueError(f'{where}: timestamp_ns must be an integer (nanoseconds), '
                             f'got {self.timestamp_ns!r}')
        object.__setattr__(self, 'timestamp_ns', int(self.timestamp_ns))
        object.__setattr__(self, 'T_world_cam', check_T_world_cam(self.T_world_cam, where))
        if self.split not in SPLITS:
            raise ValueError(f'{where}: split must be one of {SPLITS}, got {self.split!r}')
        if self.depth_invalid not in DEPTH_INVALID_VALUES:
            raise ValueError(f'{where}: depth_invalid must be one of {DEPTH_INVALID_VALUES}, '
                             f'got {self.depth_invalid!r}')
        if not (np.isfinite(self.depth_scale) and self.depth_scale > 0):
            raise ValueError(f'{where}: depth_scale must be > 0 (metres per unit), '
                             f'got {self.depth_scale!r}')

    @property
    def camera_center(self) -> np.ndarray:
        """(3,) float64 camera centre in the world frame, metres."""
        return np.array(self.T_world_cam[:3, 3])


@dataclass
class Scene:
    """The frames of one scene (map), as loaded from one dataset folder.

    Attributes:
        name: scene name (folder name unless the dataset names it).
        root: the scene's folder.
        frames: the frames, in file order.
        source_format: the format it was read from (``'posed'``, ``'7scenes'``,
            ``'cambridge'``, ``'nerf'``; '' if built in memory).
        metadata: free-form metadata (a posed folder's ``scene.json`` ``metadata``).
        outliers: rows left out by the dataset sanity checks
            (:func:`pose_reloc.data.sanity.position_outliers` dicts: ``source``,
            ``image``, ``position``, ``distance_m``, ``threshold_m``).
    """

    name: str
    root: Path
    frames: list = field(default_factory=list)
    source_format: str = ''
    metadata: dict = field(default_factory=dict)
    outliers: list = field(default_factory=list)

    def split(self, name: str) -> list:
        """Return the frames whose ``split`` is ``name`` ('train', 'val', 'test' or '')."""
        if name not in SPLITS:
            raise ValueError(f'scene {self.name}: unknown split {name!r}, expected one of '
                             f'{SPLITS}')
        return [f for f in self.frames if f.split == name]

    def split_counts(self) -> dict:
        """Return ``{split name: frame count}`` of the non-empty splits, in SPLITS order."""
        counts = {name: sum(1 for f in self.frames if f.split == name) for name in SPLITS}
        return {name: n for name, n in counts.items() if n}

    def __len__(self) -> int:
        """Return the number of frames."""
        return len(self.frames)


def _check_size(path: Path, width: int, height: int, camera, what: str):
    if (width, height) != (int(camera.width), int(camera.height)):
        raise ValueError(f'{path}: {what} is {width}x{height} (WxH) but the camera intrinsics '
                         f'say {int(camera.width)}x{int(camera.height)}')


def load_image(frame) -> np.ndarray:
    """Load a frame's colour image.

    Args:
        frame: a :class:`Frame`, or an unlabeled
            :class:`~pose_reloc.data.unlabeled.ImageRecord` (whose camera may be None: then
            the size is not checked).

    Returns:
        (H, W, 3) uint8 RGB image (alpha dropped, grey expanded to 3 channels).

    Raises:
        FileNotFoundError: the image file does not exist.
        ValueError: the file is not a readable image, or its size contradicts
            ``frame.camera`` (the message names the file and both sizes).
    """
    path = frame.image_path
    if not path.is_file():
        raise FileNotFoundError(f'{path}: image file not found')
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f'{path}: not a readable image')
    if frame.camera is not None:
        _check_size(path, bgr.shape[1], bgr.shape[0], frame.camera, 'image')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def load_depth(frame: Frame) -> np.ndarray:
    """Load a frame's depth map in metres.

    Args:
        frame: a frame with ``depth_path`` set.

    Returns:
        (H, W) float32 depth in metres; 0 where the file holds ``frame.depth_invalid`` or 0.

    Raises:
        ValueError: the frame has no depth, the file is not a single-channel 16-bit (or
            float) image, or its size contradicts ``frame.camera``.
        FileNotFoundError: the depth file does not exist.
    """
    path = frame.depth_path
    if path is None:
        raise ValueError(f'frame {frame.image_path}: has no depth image')
    if not path.is_file():
        raise FileNotFoundError(f'{path}: depth file not found')
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError(f'{path}: not a readable depth image')
    if raw.ndim != 2 or raw.dtype not in (np.uint16, np.float32):
        raise ValueError(f'{path}: depth must be a single-channel uint16 (or float32) image, '
                         f'got shape {raw.shape} dtype {raw.dtype}')
    _check_size(path, raw.shape[1], raw.shape[0], frame.camera, 'depth image')
    invalid = (raw == frame.depth_invalid) | (raw == 0) | ~np.isfinite(raw)
    depth_m = raw.astype(np.float32) * np.float32(frame.depth_scale)
    depth_m[invalid] = 0.0
    return depth_m


def read_image_size(path: Path) -> tuple:
    """Return ``(width, height)`` of an image file from its header (no pixel decoding).

    Args:
        path: image file.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: image file not found')
    try:
        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f'{path}: not a readable image ({exc})') from None


def check_image_size(frame: Frame, where: str = '') -> None:
    """Check from the file header that a frame's image exists and matches its camera.

    Args:
        frame: the frame.
        where: optional source (e.g. ``file:line``) appended to the message.

    Raises:
        FileNotFoundError: the image file does not exist.
        ValueError: the image is unreadable or its size contradicts ``frame.camera``.
    """
    suffix = f' (listed at {where})' if where else ''
    try:
        width, height = read_image_size(frame.image_path)
        _check_size(frame.image_path, width, height, frame.camera, 'image')
    except FileNotFoundError as exc:
        raise FileNotFoundError(f'{exc}{suffix}') from None
    except ValueError as exc:
        raise ValueError(f'{exc}{suffix}') from None


#: frame rate assumed when a dataset has frame numbers but no time stamps, Hz.
SYNTHETIC_FPS = 30.0

#: time between the synthetic time stamps of consecutive sequences, nanoseconds (1000 s).
SYNTHETIC_SEQUENCE_SPACING_NS = 1000 * 10 ** 9


def synthetic_timestamp_ns(sequence_index: int, frame_index: int) -> int:
    """Time stamp for datasets without one: ``sequence * 1000 s + frame / 30 Hz``.

    Unique within a scene as long as sequences have fewer than 30000 frames.

    Args:
        sequence_index: sequence number (>= 0).
        frame_index: frame number within the sequence (>= 0).

    Returns:
        Integer nanoseconds.
    """
    if sequence_index < 0 or frame_index < 0:
        raise ValueError(f'synthetic_timestamp_ns: indices must be >= 0, got sequence '
                         f'{sequence_index} frame {frame_index}')
    return (int(sequence_index) * SYNTHETIC_SEQUENCE_SPACING_NS
            + int(round(frame_index * 1e9 / SYNTHETIC_FPS)))
