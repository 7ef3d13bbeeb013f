# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Cambridge Landmarks reader and writer (Kendall et al., PoseNet, ICCV 2015).

One scene folder::

    <scene>/dataset_train.txt, dataset_test.txt
    <scene>/seqN/frameNNNNN.png

Each list file has three header lines, then one row per image::

    seq1/frame00001.png X Y Z W P Q R

``X Y Z`` is the camera centre in the world frame (metres, up to the reconstruction's
scale) and ``W P Q R`` the *world-to-camera* rotation as a quaternion in ``wxyz`` order.
It is converted at load time to ``T_world_cam = [[R_cam_world^T, XYZ], [0, 1]]`` (the camera
frame of the SfM reconstruction is already x right, y down, z forward).

Intrinsics: Cambridge has per-image focal lengths only in its SfM (.nvm) files. By default
a shared pinhole camera is built from the image size read from the first image:
``f = 1670 * width / 1920`` (the full-resolution 1920x1080 frames have f ~ 1670 px),
principal point at the image centre; pass ``camera=`` (or ``focal_px_at_1920=``) to
override. Time stamps are synthetic: ``synthetic_timestamp_ns(N, frame number)``.
"""

from pathlib import Path
import re
from typing import Iterable, Optional, Union

import cv2
import numpy as np

from pose_reloc.core.files import atomic_write_text
from pose_reloc.data.records import check_image_size, check_T_world_cam, Frame
from pose_reloc.data.records import QUAT_NORM_TOL, read_image_size, Scene
from pose_reloc.data.records import synthetic_timestamp_ns
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.rotations import matrix_to_quat, quat_normalize, quat_to_matrix
from pose_reloc.geometry.rotations import quat_validate, quat_wxyz_to_xyzw, quat_xyzw_to_wxyz
from pose_reloc.geometry.se3 import make_T

#: focal length of the full-resolution (1920 px wide) Cambridge frames, pixels.
FOCAL_PX_AT_1920 = 1670.0

#: (list file, split) pairs of a scene.
LIST_FILES = (('dataset_train.txt', 'train'), ('dataset_test.txt', 'test'))

#: number of header lines before the first row of a list file.
HEADER_LINES = 3

_HEADER = ('Visual Landmark Dataset V1\nImageFile, Camera Position [X Y Z W P Q R]\n\n')
_DIGITS = re.compile(r'(\d+)')


def default_camera(width: int, height: int,
                   focal_px_at_1920: float = FOCAL_PX_AT_1920) -> PinholeCamera:
    """Shared Cambridge camera for images of ``width`` x ``height`` pixels.

    Args:
        width: image width, pixels.
        height: image height, pixels.
        focal_px_at_1920: focal length of a 1920 px wide frame, pixels (scaled to ``width``).

    Returns:
        PinholeCamera with ``fx = fy = focal_px_at_1920 * width / 1920`` and the principal
        point at the image centre.
    """
    focal = focal_px_at_1920 * width / 1920.0
    return PinholeCamera(width, height, focal, focal, (width - 1) / 2.0, (height - 1) / 2.0)


def is_cambridge(path: Union[str, Path]) -> bool:
    """Return True if ``path`` holds a dataset_train.txt or dataset_test.txt list."""
    return any((Path(path) / name).is_file() for name, _ in LIST_FILES)


def pose_from_row(xyz, wpqr, where: str) -> np.ndarray:
    """Convert one Cambridge row to ``T_world_cam``.

    Args:
        xyz: (3,) camera centre in the world frame.
        wpqr: (4,) world-to-camera rotation quaternion, **wxyz** order.
        where: source (``file:line``) named in errors.

    Returns:
        (4, 4) float64 ``T_world_cam``.

    Raises:
        ValueError: naming ``where`` for NaN/inf, zero or non-unit quaternions.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    if not np.all(np.isfinite(xyz)):
        raise ValueError(f'{where}: camera position has NaN/inf: {xyz.tolist()}')
    q_cw_xyzw = quat_validate(quat_wxyz_to_xyzw(np.asarray(wpqr, dtype=np.float64)), where,
                              tol=QUAT_NORM_TOL)
    R_cam_world = quat_to_matrix(quat_normalize(q_cw_xyzw))
    return check_T_world_cam(make_T(R_cam_world.T, xyz), where)


def pose_to_row(T_world_cam) -> tuple:
    """Inverse of :func:`pose_from_row`: return ``(xyz (3,), wpqr (4,) wxyz)``."""
    T = check_T_world_cam(T_world_cam, 'pose_to_row')
    return T[:3, 3].copy(), quat_xyzw_to_wxyz(matrix_to_quat(T[:3, :3].T))


def _read_list(path: Path) -> list:
    """Return ``(relative image name, T_world_cam, line number)`` rows of a list file."""
    rows = []
    with open(path, 'r', encoding='utf-8') as stream:
        lines = stream.readlines()
    if len(lines) < HEADER_LINES:
        raise ValueError(f'{path}: expected {HEADER_LINES} header lines, file has {len(lines)} '
                         f'lines')
    for lineno, line in enumerate(lines[HEADER_LINES:], start=HEADER_LINES + 1):
        fields = line.split()
        if not fields:
            continue
        where = f'{path}:{lineno}'
        if len(fields) != 8:
            raise ValueError(f'{where}: expected "image X Y Z W P Q R" (8 fields), got '
                             f'{len(fields)}: {line.strip()!r}')
        try:
            values = [float(v) for v in fields[1:]]
        except ValueError:
            raise ValueError(f'{where}: non-numeric value in {line.strip()!r}') from None
        rows.append((fields[0], pose_from_row(values[:3], values[3:], where), lineno))
    return rows


def _indices(name: str, sequence_numbers: dict, row_number: int) -> tuple:
    """Return (sequence index, frame index) for an image name like ``seq3/frame00012.png``."""
    parts = Path(name).parts
    sequence = parts[0] if len(parts) > 1 else ''
    if sequence not in sequence_numbers:
        digits = _DIGITS.findall(sequence)
        sequence_numbers[sequence] = int(digits[-1]) if digits else len(sequence_numbers)
    digits = _DIGITS.findall(Path(name).stem)
    frame_index = int(digits[-1]) if digits else row_number
    return sequence, sequence_numbers[sequence], frame_index


def read_scene(path: Union[str, Path], camera: Optional[PinholeCamera] = None,
               focal_px_at_1920: float = FOCAL_PX_AT_1920, scene_name: Optional[str] = None,
               check_images: bool = True) -> Scene:
    """Read one Cambridge Landmarks scene.

    Args:
        path: the scene folder (holding dataset_train.txt and/or dataset_test.txt).
        camera: intrinsics of every image; default :func:`default_camera` of the first
            image's size.
        focal_px_at_1920: focal length for the default camera (see :func:`default_camera`).
        scene_name: overrides the name (default: folder name).
        check_images: check every image's size against the camera (file headers).

    Returns:
        Scene (train rows, then test rows, in file order); ``sequence`` is the image's folder
        (``seqN``); ``source_format='cambridge'``.

    Raises:
        FileNotFoundError: no list file, or an image listed in one is missing (the message
            names the list file and line).
        ValueError: malformed rows, zero/non-unit quaternions, NaN values, a repeated image
            (file and line), or image sizes contradicting the camera.
    """
    root = Path(path)
    if not is_cambridge(root):
        raise FileNotFoundError(f'{root}: no dataset_train.txt or dataset_test.txt')
    name = scene_name or root.name
    frames = []
    seen = {}
    sequence_numbers = {}
    for file_name, split in LIST_FILES:
        list_path = root / file_name
        if not list_path.is_file():
            continue
        for row_number, (image_name, T_world_cam, lineno) in enumerate(_read_list(list_path)):
            where = f'{list_path}:{lineno}'
            image_path = root / image_name
            if not image_path.is_file():
                raise FileNotFoundError(f'{image_path}: image not found (listed at {where})')
            if camera is None:
                camera = default_camera(*read_image_size(image_path), focal_px_at_1920)
            sequence, seq_index, frame_index = _indices(image_name, sequence_numbers,
                                                        row_number)
            timestamp_ns = synthetic_timestamp_ns(seq_index, frame_index)
            if timestamp_ns in seen:
                raise ValueError(f'{where}: {image_name} (sequence {seq_index}, frame '
                                 f'{frame_index}) repeats {seen[timestamp_ns]}')
            seen[timestamp_ns] = where
            frame = Frame(image_path=image_path, timestamp_ns=timestamp_ns,
                          T_world_cam=T_world_cam, camera=camera, scene=name,
                          sequence=sequence, split=split, source=where)
            if check_images:
                check_image_size(frame, where)
            frames.append(frame)
    return Scene(name=name, root=root, frames=frames, source_format='cambridge')


def write_dataset(path: Union[str, Path], rows: Iterable) -> Path:
    """Write a scene in the Cambridge layout (images as PNG + list files).

    Args:
        path: the scene folder (created; existing list files are replaced).
        rows: dicts with ``name`` (relative image path, e.g. ``'seq1/frame00001.png'``),
            ``T_world_cam`` (4, 4), ``image`` (H, W, 3) uint8 RGB and ``split``
            ('train' or 'test').

    Returns:
        The scene folder.
    """
    root = Path(path)
    lines = {split: [] for _, split in LIST_FILES}
    for row in rows:
        if row['split'] not in lines:
            raise ValueError(f'{row["name"]}: split must be train or test, got '
                             f'{row["split"]!r}')
        image_path = root / row['name']
        image_path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(image_path), cv2.cvtColor(np.asarray(row['image'], np.uint8),
                                                         cv2.COLOR_RGB2BGR)):
            raise OSError(f'{image_path}: could not write image')
        xyz, wpqr = pose_to_row(row['T_world_cam'])
        values = ' '.join(f'{v:.9f}' for v in list(xyz) + list(wpqr))
        lines[row['split']].append(f'{row["name"]} {values}\n')
    for file_name, split in LIST_FILES:
        if lines[split]:
            atomic_write_text(root / file_name, _HEADER + ''.join(lines[split]))
    return root
