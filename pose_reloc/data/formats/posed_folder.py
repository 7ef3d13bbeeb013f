# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The posed-folder format: the project's own dataset layout (reader and atomic writer).

One scene is one folder::

    <scene>/camera.yaml          ROS camera_info YAML (camera_calibration's format)
    <scene>/poses.txt            TUM: timestamp_s tx ty tz qx qy qz qw (T_world_cam, optical)
    <scene>/rgb/<timestamp_ns>.png
    <scene>/depth/<timestamp_ns>.png   optional, uint16 millimetres, 0 = invalid
    <scene>/splits/train.txt     optional, one timestamp_ns per line (also val.txt, test.txt)
    <scene>/scene.json           optional: {"name": ..., "sequences": {seq: [timestamp_ns,
                                 ...]}, "metadata": {...}}

A multi-scene root is a folder whose sub-folders are scenes. Time stamps are integer
nanoseconds in file names and split files; ``poses.txt`` holds seconds with exactly nine
decimals, converted without floating point (:func:`pose_reloc.data.tum.timestamp_ns_to_str`,
:func:`~pose_reloc.data.tum.timestamp_str_to_ns`), so the mapping is exact both ways;
``poses.txt`` is read and written by :mod:`pose_reloc.data.tum`.

The writer (:class:`PosedFolderWriter`, :func:`write_scene`) fills ``<out>.partial/`` and
renames it to ``<out>`` only when it closes without error: a crash never leaves a folder
that looks complete (``camera.yaml`` and ``poses.txt`` are written last).
"""

import json
import os
from pathlib import Path
import shutil
from typing import Iterable, Optional, Union

import cv2
import numpy as np
from tqdm import tqdm

from pose_reloc.data.records import check_image_size, check_T_world_cam, Frame
from pose_reloc.data.records import load_depth, load_image, QUAT_NORM_TOL, Scene
from pose_reloc.data.tum import data_lines, read_tum_rows, timestamp_ns_to_str
# timestamp_str_to_ns is re-exported: this module's public API names it (ARCHITECTURE.md).
from pose_reloc.data.tum import timestamp_str_to_ns  # noqa: F401
from pose_reloc.data.tum import write_tum_ns
from pose_reloc.geometry.camera import PinholeCamera, read_camera_yaml, write_camera_yaml

#: split files read from ``splits/`` (``<name>.txt``).
SPLIT_NAMES = ('train', 'val', 'test')

#: suffix of the folder the writer fills before the final rename.
PARTIAL_SUFFIX = '.partial'

#: the largest depth (metres) a uint16 millimetre PNG holds; deeper pixels become invalid.
MAX_DEPTH_M = 65.535


def read_poses(path: Union[str, Path]) -> list:
    """Read a posed folder's ``poses.txt`` (TUM format, exact nanosecond time stamps).

    Args:
        path: the ``poses.txt`` file.

    Returns:
        List of ``(timestamp_ns, T_world_cam (4, 4) float64, line_number)`` in file order.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: naming ``file:line`` for a row that does not have 8 numbers, a NaN/inf
            value, a zero or non-unit quaternion (xyzw, norm off by more than
            ``QUAT_NORM_TOL``) or a repeated time stamp.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: poses file not found')
    stamps_ns, poses, line_numbers = read_tum_rows(path, quat_tol=QUAT_NORM_TOL)
    rows = []
    seen = {}
    for timestamp_ns, T_world_cam, lineno in zip(stamps_ns.tolist(), poses,
                                                 line_numbers.tolist()):
        where = f'{path}:{lineno}'
        if timestamp_ns in seen:
            raise ValueError(f'{where}: time stamp {timestamp_ns_to_str(timestamp_ns)} repeats '
                             f'line {seen[timestamp_ns]}')
        seen[timestamp_ns] = lineno
        rows.append((timestamp_ns, check_T_world_cam(T_world_cam, where), lineno))
    return rows


def _read_timestamp_list(path: Path, known: dict) -> list:
    """Read one time stamp (integer ns) per line; each must be a key of ``known``."""
    stamps = []
    for lineno, line in data_lines(path):
        where = f'{path}:{lineno}'
        try:
            timestamp_ns = int(line)
        except ValueError:
            raise ValueError(f'{where}: expected an integer timestamp_ns, got {line!r}') from None
        if timestamp_ns not in known:
            raise ValueError(f'{where}: timestamp_ns {timestamp_ns} has no row in poses.txt')
        stamps.append((timestamp_ns, where))
    return stamps


def _read_scene_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except json.JSONDecodeError as exc:
        raise ValueError(f'{path}:{exc.lineno}: not valid JSON: {exc.msg}') from None
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a JSON object, got {type(data).__name__}')
    sequences = data.get('sequences', {})
    if not isinstance(sequences, dict) or not all(
            isinstance(v, list) for v in sequences.values()):
        raise ValueError(f'{path}: "sequences" must map sequence names to lists of '
                         f'timestamp_ns')
    return data


def is_posed_folder(path: Union[str, Path]) -> bool:
    """Return True if ``path`` is a posed-folder scene (has camera.yaml and poses.txt)."""
    path = Path(path)
    return (path / 'camera.yaml').is_file() and (path / 'poses.txt').is_file()


def read_scene(path: Union[str, Path], scene_name: Optional[str] = None,
               check_images: bool = True) -> Scene:
    """Read one posed-folder scene.

    Args:
        path: the scene folder.
        scene_name: overrides the name (default: ``scene.json`` ``name``, else the folder
            name).
        check_images: check every image's size against ``camera.yaml`` from the file header.

    Returns:
        Scene with one Frame per ``poses.txt`` row (file order), ``source_format='posed'``.

    Raises:
        FileNotFoundError: camera.yaml, poses.txt, an image or a depth file is missing (the
            message names the file and the poses.txt line).
        ValueError: malformed rows, bad quaternions, NaN poses, split/sequence lists naming
            unknown time stamps, a frame in two splits, or image sizes contradicting the
            camera, each naming the file and line.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f'{root}: posed folder not found')
    camera = read_camera_yaml(root / 'camera.yaml')
    rows = read_poses(root / 'poses.txt')
    known = {ts: lineno for ts, _, lineno in rows}

    info = {}
    if (root / 'scene.json').is_file():
        info = _read_scene_json(root / 'scene.json')
    name = scene_name or str(info.get('name') or root.name)

    split_of = {}
    for split in SPLIT_NAMES:
        split_path = root / 'splits' / f'{split}.txt'
        if not split_path.is_file():
            continue
        for timestamp_ns, where in _read_timestamp_list(split_path, known):
            if timestamp_ns in split_of and split_of[timestamp_ns] != split:
                raise ValueError(f'{where}: timestamp_ns {timestamp_ns} is already in split '
                                 f'{split_of[timestamp_ns]!r}')
            split_of[timestamp_ns] = split

    sequence_of = {}
    for sequence, stamps in info.get('sequences', {}).items():
        for timestamp_ns in stamps:
            if not isinstance(timestamp_ns, int) or timestamp_ns not in known:
                raise ValueError(f'{root / "scene.json"}: sequence {sequence!r} lists '
                                 f'{timestamp_ns!r}, which has no row in poses.txt')
            sequence_of[timestamp_ns] = str(sequence)

    has_depth = (root / 'depth').is_dir()
    frames = []
    for timestamp_ns, T_world_cam, lineno in rows:
        where = f'{root / "poses.txt"}:{lineno}'
        depth_path = None
        if has_depth:
            depth_path = root / 'depth' / f'{timestamp_ns}.png'
            if not depth_path.is_file():
                raise FileNotFoundError(f'{depth_path}: depth file not found (pose at {where}; '
                                        f'a scene with depth/ needs depth for every frame)')
        frame = Frame(image_path=root / 'rgb' / f'{timestamp_ns}.png',
                      timestamp_ns=timestamp_ns, T_world_cam=T_world_cam, camera=camera,
                      scene=name, sequence=sequence_of.get(timestamp_ns, ''),
                      split=split_of.get(timestamp_ns, ''), depth_path=depth_path,
                      depth_scale=0.001, depth_invalid=0, source=where)
        if check_images:
            check_image_size(frame, where)
        elif not frame.image_path.is_file():
            raise FileNotFoundError(f'{frame.image_path}: image file not found (pose at '
                                    f'{where})')
        frames.append(frame)
    return Scene(name=name, root=root, frames=frames, source_format='posed',
                 metadata=dict(info.get('metadata', {})))


def read_root(path: Union[str, Path], check_images: bool = True) -> list:
    """Read a posed scene, or every posed scene directly below a multi-scene root.

    Folders ending in ``.partial`` (unfinished writes) and hidden folders are ignored.

    Args:
        path: a scene folder or a multi-scene root.
        check_images: see :func:`read_scene`.

    Returns:
        list of Scene, sorted by folder name.

    Raises:
        FileNotFoundError: ``path`` is neither a posed scene nor a root holding one.
    """
    root = Path(path)
    if is_posed_folder(root):
        return [read_scene(root, check_images=check_images)]
    subs = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    scenes = [read_scene(sub, check_images=check_images) for sub in subs
              if not sub.name.startswith('.') and not sub.name.endswith(PARTIAL_SUFFIX)
              and is_posed_folder(sub)]
    if not scenes:
        raise FileNotFoundError(f'{root}: no posed scene (camera.yaml + poses.txt) here or in '
                                f'its sub-folders')
    return scenes


def _depth_to_mm(depth, where: str) -> np.ndarray:
    """Convert (H, W) depth (float metres, or uint16 millimetres) to uint16 mm, 0 invalid."""
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f'{where}: depth must have shape (H, W), got {depth.shape}')
    if depth.dtype == np.uint16:
        return depth
    if not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f'{where}: depth must be float metres or uint16 millimetres, got '
                         f'dtype {depth.dtype}')
    depth_m = depth.astype(np.float64)
    valid = np.isfinite(depth_m) & (depth_m > 0) & (depth_m <= MAX_DEPTH_M)
    depth_mm = np.zeros(depth.shape, dtype=np.uint16)
    depth_mm[valid] = np.round(depth_m[valid] * 1000.0).astype(np.uint16)
    return depth_mm


class PosedFolderWriter:
    """Write one posed-folder scene atomically.

    Use as a context manager::

        with PosedFolderWriter(out_dir, camera, scene_name='lab') as writer:
            writer.add(timestamp_ns, T_world_cam, image_rgb, depth_m, split='train')

    Frames go to ``<out_dir>.partial/``; on a clean exit the metadata files are written
    and the folder is renamed to ``out_dir``. On an exception the partial folder is
    removed and ``out_dir`` is left untouched.

    Args:
        out_dir: the scene folder to create.
        camera: PinholeCamera of every image (sizes are checked against it).
        scene_name: ``name`` in scene.json (default: the folder name).
        overwrite: replace an existing ``out_dir`` (else FileExistsError).
        metadata: JSON-serializable dict stored in scene.json (e.g. generator settings).
    """

    def __init__(self, out_dir: Union[str, Path], camera: PinholeCamera,
                 scene_name: Optional[str] = None, overwrite: bool = False,
                 metadata: Optional[dict] = None):
        """Prepare the writer (nothing touches the disk until :meth:`begin`)."""
        self.out_dir = Path(out_dir)
        self.partial_dir = self.out_dir.with_name(self.out_dir.name + PARTIAL_SUFFIX)
        self.camera = camera
        self.scene_name = scene_name or self.out_dir.name
        self.overwrite = overwrite
        self.metadata = dict(metadata or {})
        self._rows = {}
        self._has_depth = None
        self._open = False

    def begin(self) -> 'PosedFolderWriter':
        """Create the partial folder (removing a stale one from an earlier crash)."""
        if self.out_dir.exists() and not self.overwrite:
            raise FileExistsError(f'{self.out_dir}: already exists (remove it or choose another '
                                  'output folder; from Python, overwrite=True)')
        if self.partial_dir.exists():
            shutil.rmtree(self.partial_dir)
        (self.partial_dir / 'rgb').mkdir(parents=True)
        self._open = True
        return self

    def __enter__(self) -> 'PosedFolderWriter':
        """Open the writer."""
        return self.begin()

    def __exit__(self, exc_type, exc, tb) -> bool:
        """Finish on success, discard the partial folder on an exception."""
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    def __len__(self) -> int:
        """Return the number of frames added so far."""
        return len(self._rows)

    def add(self, timestamp_ns: int, T_world_cam, image, depth=None, split: str = '',
            sequence: str = '') -> Path:
        """Add one frame.

        Args:
            timestamp_ns: unique integer nanoseconds (names the files).
            T_world_cam: (4, 4) camera-to-world pose, OpenCV optical frame, metres.
            image: (H, W, 3) uint8 RGB image of the writer's camera size.
            depth: optional (H, W) float depth in metres (NaN/<=0/>65.535 m stored as
                invalid) or uint16 millimetres; either every frame has depth or none.
            split: 'train', 'val', 'test' or ''.
            sequence: sequence name ('' for none).

        Returns:
            Path of the image in the final folder.

        Raises:
            ValueError: bad time stamp (repeated, not an integer), pose, image or depth.
        """
        if not self._open:
            raise RuntimeError('PosedFolderWriter: call begin() or use it as a context manager')
        if isinstance(timestamp_ns, (bool, np.bool_)) or not isinstance(
                timestamp_ns, (int, np.integer)):
            raise ValueError(f'timestamp_ns must be an integer, got {timestamp_ns!r}')
        timestamp_ns = int(timestamp_ns)
        where = f'{self.out_dir} frame {timestamp_ns}'
        if timestamp_ns in self._rows:
            raise ValueError(f'{where}: timestamp_ns added twice')
        if split not in SPLIT_NAMES + ('',):
            raise ValueError(f"{where}: split must be one of {SPLIT_NAMES} or '', got "
                             f'{split!r}')
        T_world_cam = check_T_world_cam(T_world_cam, where)
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f'{where}: image must be (H, W, 3) uint8 RGB, got shape '
                             f'{image.shape} dtype {image.dtype}')
        size = (image.shape[1], image.shape[0])
        if size != (self.camera.width, self.camera.height):
            raise ValueError(f'{where}: image is {size[0]}x{size[1]} (WxH) but the camera is '
                             f'{self.camera.width}x{self.camera.height}')
        if self._has_depth is None:
            self._has_depth = depth is not None
        elif self._has_depth != (depth is not None):
            raise ValueError(f'{where}: either every frame has depth or none does')
        if depth is not None:
            depth_mm = _depth_to_mm(depth, where)
            if depth_mm.shape != image.shape[:2]:
                raise ValueError(f'{where}: depth shape {depth_mm.shape} differs from image '
                                 f'shape {image.shape[:2]}')
            (self.partial_dir / 'depth').mkdir(exist_ok=True)
            self._imwrite(self.partial_dir / 'depth' / f'{timestamp_ns}.png', depth_mm)
        self._imwrite(self.partial_dir / 'rgb' / f'{timestamp_ns}.png',
                      cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        self._rows[timestamp_ns] = (T_world_cam, split, str(sequence))
        return self.out_dir / 'rgb' / f'{timestamp_ns}.png'

    @staticmethod
    def _imwrite(path: Path, array: np.ndarray):
        if not cv2.imwrite(str(path), array):
            raise OSError(f'{path}: could not write image')

    def close(self) -> Path:
        """Write poses, splits, scene.json and camera.yaml, then rename to the final folder.

        Returns:
            The final scene folder.
        """
        if not self._open:
            raise RuntimeError('PosedFolderWriter: not open')
        if not self._rows:
            self.abort()
            raise ValueError(f'{self.out_dir}: no frames were added')
        try:
            self._finish()
        except BaseException:
            self.abort()
            raise
        self._open = False
        return self.out_dir

    def _finish(self):
        """Write the metadata files into the partial folder and rename it."""
        stamps = sorted(self._rows)
        splits = {name: [ts for ts in stamps if self._rows[ts][1] == name]
                  for name in SPLIT_NAMES}
        if any(splits.values()):
            (self.partial_dir / 'splits').mkdir(exist_ok=True)
            for name, members in splits.items():
                if members:
                    _write_text(self.partial_dir / 'splits' / f'{name}.txt',
                                ''.join(f'{ts}\n' for ts in members))
        sequences = {}
        for timestamp_ns in stamps:
            sequence = self._rows[timestamp_ns][2]
            if sequence:
                sequences.setdefault(sequence, []).append(timestamp_ns)
        info = {'name': self.scene_name, 'sequences': sequences, 'metadata': self.metadata}
        _write_text(self.partial_dir / 'scene.json', json.dumps(info, indent=1) + '\n')
        write_camera_yaml(self.partial_dir / 'camera.yaml', self.camera, self.scene_name)
        write_tum_ns(self.partial_dir / 'poses.txt', np.array(stamps, dtype=np.int64),
                     np.stack([self._rows[ts][0] for ts in stamps]))
        if self.out_dir.exists():
            old = self.out_dir.with_name(f'{self.out_dir.name}.old-{os.getpid()}')
            self.out_dir.rename(old)
            self.partial_dir.rename(self.out_dir)
            shutil.rmtree(old)
        else:
            self.partial_dir.rename(self.out_dir)

    def abort(self):
        """Discard everything written so far (the partial folder)."""
        if self.partial_dir.exists():
            shutil.rmtree(self.partial_dir)
        self._open = False


def _write_text(path: Path, text: str):
    with open(path, 'w', encoding='utf-8') as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())


def write_scene(path: Union[str, Path], scene_name: Optional[str], frames_iter: Iterable,
                camera: PinholeCamera, overwrite: bool = False,
                metadata: Optional[dict] = None, progress: bool = False,
                total: Optional[int] = None) -> Path:
    """Write a posed-folder scene from an iterable of frames (atomic, see the module doc).

    Args:
        path: the scene folder to create.
        scene_name: scene name (default: folder name).
        frames_iter: items that are either :class:`Frame` records (image and depth are
            loaded from disk; the frame's camera must equal ``camera``) or dicts with the
            keyword arguments of :meth:`PosedFolderWriter.add` (``timestamp_ns``,
            ``T_world_cam``, ``image``, optional ``depth``, ``split``, ``sequence``).
        camera: PinholeCamera of every image.
        overwrite: replace an existing folder.
        metadata: JSON-serializable dict stored in scene.json.
        progress: show a tqdm progress bar.
        total: number of items, for the progress bar.

    Returns:
        The scene folder.
    """
    if total is None and hasattr(frames_iter, '__len__'):
        total = len(frames_iter)
    with PosedFolderWriter(path, camera, scene_name=scene_name, overwrite=overwrite,
                           metadata=metadata) as writer:
        for item in tqdm(frames_iter, total=total, disable=not progress, unit='frame',
                         desc=f'write {Path(path).name}'):
            if isinstance(item, Frame):
                if item.camera != camera:
                    raise ValueError(f'{item.image_path}: camera {item.camera} differs from '
                                     f'the scene camera {camera}')
                depth = load_depth(item) if item.depth_path is not None else None
                writer.add(item.timestamp_ns, item.T_world_cam, load_image(item), depth,
                           split=item.split, sequence=item.sequence)
            else:
                writer.add(**item)
    return writer.out_dir
