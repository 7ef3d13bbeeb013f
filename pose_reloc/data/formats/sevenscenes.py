# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Microsoft 7-Scenes reader (Shotton et al., CVPR 2013), original layout.

One scene folder::

    <scene>/seq-NN/frame-NNNNNN.color.png | .color.jpg   640x480 RGB
    <scene>/seq-NN/frame-NNNNNN.depth.png   uint16 millimetres, 65535 (and 0) = invalid
    <scene>/seq-NN/frame-NNNNNN.pose.txt    4x4 camera-to-world (T_world_cam), metres
    <scene>/TrainSplit.txt, TestSplit.txt   one ``sequenceN`` per line

The depth is *not* registered to the colour image (different sensors of the Kinect); it is
recorded as-is. 7-Scenes has no time stamps: frames get
``synthetic_timestamp_ns(sequence_number, frame_number)`` (sequence * 1000 s + frame / 30 Hz).
Intrinsics default to the commonly used Kinect values fx = fy = 585, cx = 320, cy = 240
(:data:`DEFAULT_CAMERA`); pass ``camera=`` to override.
"""

from pathlib import Path
import re
from typing import Optional, Union

import numpy as np

from pose_reloc.data.records import check_image_size, check_T_world_cam, Frame, Scene
from pose_reloc.data.records import synthetic_timestamp_ns
from pose_reloc.data.tum import data_lines
from pose_reloc.geometry.camera import PinholeCamera

#: default 7-Scenes colour intrinsics (640x480, fx = fy = 585, principal point at the centre).
DEFAULT_CAMERA = PinholeCamera(640, 480, 585.0, 585.0, 320.0, 240.0)

_SEQ_DIR = re.compile(r'^seq-(\d+)$')
_FRAME_POSE = re.compile(r'^frame-(\d+)\.pose\.txt$')
_SPLIT_LINE = re.compile(r'^sequence(\d+)$', re.IGNORECASE)
_SPLIT_FILES = (('TrainSplit.txt', 'train'), ('TestSplit.txt', 'test'))


def _sequence_dirs(root: Path) -> dict:
    """Return ``{sequence number: folder}`` for the ``seq-NN`` folders of a scene."""
    found = {}
    for sub in root.iterdir() if root.is_dir() else ():
        match = _SEQ_DIR.match(sub.name)
        if match and sub.is_dir():
            found[int(match.group(1))] = sub
    return dict(sorted(found.items()))


def is_sevenscenes(path: Union[str, Path]) -> bool:
    """Return True if ``path`` looks like a 7-Scenes scene (split files or seq-NN poses)."""
    root = Path(path)
    if any((root / name).is_file() for name, _ in _SPLIT_FILES):
        return True
    return any(any(seq.glob('frame-*.pose.txt')) for seq in _sequence_dirs(root).values())


def read_pose_file(path: Union[str, Path]) -> np.ndarray:
    """Read a 7-Scenes ``.pose.txt``: four rows of four numbers (camera-to-world).

    Args:
        path: the pose file.

    Returns:
        (4, 4) float64 read-only ``T_world_cam``, exactly the file's numbers.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: naming ``file:line`` for a row without four numbers, or the file for a
            wrong row count, NaN/inf or a matrix that is not a rigid transform.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: pose file not found')
    rows = []
    for lineno, line in data_lines(path):
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise ValueError(f'{path}:{lineno}: non-numeric value in {line!r}') from None
        if len(values) != 4:
            raise ValueError(f'{path}:{lineno}: expected 4 numbers per row, got '
                             f'{len(values)}: {line!r}')
        if not all(np.isfinite(values)):
            raise ValueError(f'{path}:{lineno}: NaN/inf in pose row {values}')
        rows.append(values)
    if len(rows) != 4:
        raise ValueError(f'{path}: expected 4 rows of a 4x4 matrix, got {len(rows)}')
    return check_T_world_cam(rows, str(path))


def _read_split_file(path: Path, sequences: dict) -> list:
    """Return the sequence numbers listed in a TrainSplit/TestSplit file."""
    numbers = []
    for lineno, text in data_lines(path):
        match = _SPLIT_LINE.match(text)
        if not match:
            raise ValueError(f'{path}:{lineno}: expected "sequenceN", got {text!r}')
        number = int(match.group(1))
        if number not in sequences:
            raise FileNotFoundError(f'{path}:{lineno}: {text} is listed but folder '
                                    f'seq-{number:02d} is missing')
        numbers.append(number)
    return numbers


def read_scene(path: Union[str, Path], camera: Optional[PinholeCamera] = None,
               scene_name: Optional[str] = None, check_images: bool = True) -> Scene:
    """Read one 7-Scenes scene.

    Args:
        path: the scene folder (holding ``seq-NN`` folders and the split files).
        camera: intrinsics of the colour images (default :data:`DEFAULT_CAMERA`).
        scene_name: overrides the name (default: folder name).
        check_images: check every colour image's size against ``camera`` (file headers).

    Returns:
        Scene with frames ordered by sequence and frame number; ``split`` is 'train' or
        'test' from the split files ('' for a sequence in neither); ``sequence`` is
        ``seq-NN``; ``source_format='7scenes'``.

    Raises:
        FileNotFoundError: the folder, a colour image or a split-listed sequence is missing.
        ValueError: malformed pose or split files (naming file and line), a sequence in both
            splits, or an image whose size contradicts ``camera``.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f'{root}: 7-Scenes scene folder not found')
    camera = camera or DEFAULT_CAMERA
    name = scene_name or root.name
    sequences = _sequence_dirs(root)
    if not sequences:
        raise FileNotFoundError(f'{root}: no seq-NN folders')
    split_of = {}
    for file_name, split in _SPLIT_FILES:
        split_path = root / file_name
        if not split_path.is_file():
            continue
        for number in _read_split_file(split_path, sequences):
            if split_of.get(number, split) != split:
                raise ValueError(f'{split_path}: sequence{number} is also in the '
                                 f'{split_of[number]} split')
            split_of[number] = split

    frames = []
    for number, seq_dir in sequences.items():
        pose_files = sorted((int(m.group(1)), p) for p in seq_dir.iterdir()
                            for m in [_FRAME_POSE.match(p.name)] if m)
        for frame_number, pose_path in pose_files:
            stem = pose_path.name[:-len('.pose.txt')]
            image_path = next((seq_dir / f'{stem}.color.{ext}' for ext in ('png', 'jpg')
                               if (seq_dir / f'{stem}.color.{ext}').is_file()), None)
            if image_path is None:
                raise FileNotFoundError(f'{seq_dir / stem}.color.png|jpg: colour image not '
                                        f'found for {pose_path}')
            depth_path = seq_dir / f'{stem}.depth.png'
            frame = Frame(image_path=image_path,
                          timestamp_ns=synthetic_timestamp_ns(number, frame_number),
                          T_world_cam=read_pose_file(pose_path), camera=camera, scene=name,
                          sequence=seq_dir.name, split=split_of.get(number, ''),
                          depth_path=depth_path if depth_path.is_file() else None,
                          depth_scale=0.001, depth_invalid=65535, source=str(pose_path))
            if check_images:
                check_image_size(frame)
            frames.append(frame)
    if not frames:
        raise FileNotFoundError(f'{root}: no frame-NNNNNN.pose.txt files in its seq-NN folders')
    return Scene(name=name, root=root, frames=frames, source_format='7scenes')
