# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""NeRF ``transforms.json`` reader (NeRF-synthetic / Blender, instant-ngp, nerfstudio).

One scene folder::

    <scene>/transforms_train.json, transforms_val.json, transforms_test.json
    (or a single <scene>/transforms.json, whose frames get split '')

Each file holds the intrinsics and ``frames: [{file_path, transform_matrix}, ...]``:

- intrinsics: ``fl_x``/``fl_y``/``cx``/``cy`` (pixels), or ``camera_angle_x`` (horizontal
  field of view, radians; ``fx = 0.5 * w / tan(0.5 * camera_angle_x)``, ``fy = fx`` unless
  ``camera_angle_y``), principal point default ``(w / 2, h / 2)`` (NeRF casts the ray of
  pixel ``i`` through ``i - w / 2``, i.e. integer pixel centres); ``w``/``h`` or, if absent,
  the first image's size; distortion ``k1 k2 p1 p2 [k3]`` (plumb_bob) or, for
  ``camera_model: OPENCV_FISHEYE``, ``k1..k4`` (equidistant). Keys in a frame override the
  file's (nerfstudio per-frame intrinsics).
- ``transform_matrix``: 4x4 camera-to-world with the OpenGL camera axes (x right, y up,
  z backward); converted once here to the OpenCV optical frame:
  ``T_world_cam = T_world_gl @ T_OPENGL_OPENCV``.
- ``file_path``: relative to the scene folder, with or without extension
  (``./train/r_0`` resolves to ``train/r_0.png``).

Frames get ``sequence`` = split name and synthetic time stamps
``synthetic_timestamp_ns(split index, position in the file)``.
"""

import json
import math
from pathlib import Path
from typing import Optional, Union

from pose_reloc.data.records import check_image_size, check_T_world_cam, Frame
from pose_reloc.data.records import read_image_size, Scene, synthetic_timestamp_ns
from pose_reloc.geometry.camera import PinholeCamera, T_OPENGL_OPENCV

#: (file name, split) pairs, in reading order.
SPLIT_FILES = (('transforms_train.json', 'train'), ('transforms_val.json', 'val'),
               ('transforms_test.json', 'test'))

#: single-file layout (no split).
SINGLE_FILE = 'transforms.json'

#: extensions tried when ``file_path`` has none.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.PNG', '.JPG', '.JPEG')

_INTRINSIC_KEYS = ('w', 'h', 'fl_x', 'fl_y', 'cx', 'cy', 'camera_angle_x', 'camera_angle_y',
                   'k1', 'k2', 'k3', 'k4', 'p1', 'p2', 'camera_model')


def is_nerf(path: Union[str, Path]) -> bool:
    """Return True if ``path`` holds transforms_{train,val,test}.json or transforms.json."""
    root = Path(path)
    return any((root / name).is_file() for name, _ in SPLIT_FILES + ((SINGLE_FILE, ''),))


def _line_of(text: str, needle: str) -> int:
    """1-based line of the first occurrence of ``needle`` in ``text`` (0 if absent)."""
    index = text.find(needle)
    return text.count('\n', 0, index) + 1 if index >= 0 else 0


def _number(params: dict, key: str, where: str) -> float:
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value):
        raise ValueError(f'{where}: {key} must be a finite number, got {value!r}')
    return float(value)


def _focal(params: dict, key: str, angle_key: str, size: float, where: str):
    """Focal length (pixels) from ``key`` or the field of view ``angle_key`` (radians).

    Returns None when neither key is present.
    """
    if key in params:
        return _number(params, key, where)
    if angle_key in params:
        return 0.5 * size / math.tan(0.5 * _number(params, angle_key, where))
    return None


def camera_from_params(params: dict, where: str, image_size=None) -> PinholeCamera:
    """Build the camera of a transforms.json (file keys merged with a frame's keys).

    Args:
        params: the intrinsic keys (see the module docstring).
        where: source named in errors.
        image_size: ``(width, height)`` of the image, used when ``w``/``h`` are absent.

    Returns:
        PinholeCamera.

    Raises:
        ValueError: naming ``where`` for missing focal length / size or non-numeric values.
    """
    if 'w' in params and 'h' in params:
        width, height = _number(params, 'w', where), _number(params, 'h', where)
    elif image_size is not None:
        width, height = image_size
    else:
        raise ValueError(f'{where}: no w/h and no image to read the size from')
    fx = _focal(params, 'fl_x', 'camera_angle_x', width, where)
    if fx is None:
        raise ValueError(f'{where}: needs fl_x or camera_angle_x')
    fy = _focal(params, 'fl_y', 'camera_angle_y', height, where)
    if fy is None:
        fy = fx
    cx = _number(params, 'cx', where) if 'cx' in params else width / 2.0
    cy = _number(params, 'cy', where) if 'cy' in params else height / 2.0
    coeff = {k: _number(params, k, where) for k in ('k1', 'k2', 'k3', 'k4', 'p1', 'p2')
             if k in params}
    if str(params.get('camera_model', '')).upper() == 'OPENCV_FISHEYE':
        model = 'equidistant'
        distortion = tuple(coeff.get(k, 0.0) for k in ('k1', 'k2', 'k3', 'k4'))
    else:
        model = 'plumb_bob'
        distortion = tuple(coeff.get(k, 0.0) for k in ('k1', 'k2', 'p1', 'p2', 'k3'))
    try:
        return PinholeCamera(width, height, fx, fy, cx, cy, model, distortion)
    except ValueError as exc:
        raise ValueError(f'{where}: {exc}') from None


def _resolve_image(root: Path, file_path: str) -> Optional[Path]:
    candidate = root / file_path
    if candidate.suffix and candidate.is_file():
        return candidate
    for ext in IMAGE_EXTENSIONS:
        with_ext = candidate.with_name(candidate.name + ext)
        if with_ext.is_file():
            return with_ext
    return None


def _read_file(path: Path, split: str, split_index: int, name: str,
               check_images: bool) -> list:
    text = path.read_text(encoding='utf-8')
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f'{path}:{exc.lineno}: not valid JSON: {exc.msg}') from None
    if not isinstance(data, dict) or not isinstance(data.get('frames'), list):
        raise ValueError(f'{path}: expected an object with a "frames" list')
    file_params = {k: data[k] for k in _INTRINSIC_KEYS if k in data}
    frames = []
    for index, entry in enumerate(data['frames']):
        if not isinstance(entry, dict) or 'file_path' not in entry or (
                'transform_matrix' not in entry):
            raise ValueError(f'{path}: frame {index} needs file_path and transform_matrix')
        file_path = str(entry['file_path'])
        where = f'{path}:{_line_of(text, json.dumps(file_path))} (frame {index})'
        image_path = _resolve_image(path.parent, file_path)
        if image_path is None:
            raise FileNotFoundError(f'{path.parent / file_path}: image not found (listed at '
                                    f'{where})')
        params = dict(file_params)
        params.update({k: entry[k] for k in _INTRINSIC_KEYS if k in entry})
        size = None if ('w' in params and 'h' in params) else read_image_size(image_path)
        camera = camera_from_params(params, where, size)
        T_world_gl = check_T_world_cam(entry['transform_matrix'], where)
        frame = Frame(image_path=image_path,
                      timestamp_ns=synthetic_timestamp_ns(split_index, index),
                      T_world_cam=T_world_gl @ T_OPENGL_OPENCV, camera=camera, scene=name,
                      sequence=split, split=split, source=where)
        if check_images and size is None:  # a size read from the header matches already
            check_image_size(frame, where)
        frames.append(frame)
    return frames


def read_scene(path: Union[str, Path], scene_name: Optional[str] = None,
               check_images: bool = True) -> Scene:
    """Read one NeRF scene.

    Args:
        path: the scene folder.
        scene_name: overrides the name (default: folder name).
        check_images: check every image's size against the intrinsics (file headers).

    Returns:
        Scene with the train, val and test frames (or the single file's, split ''), poses
        in the OpenCV optical camera frame; ``source_format='nerf'``.

    Raises:
        FileNotFoundError: no transforms file, or a listed image is missing.
        ValueError: invalid JSON, missing keys, non-rigid or NaN matrices, or images whose
            size contradicts the intrinsics; each names the file and line (and frame index).
    """
    root = Path(path)
    name = scene_name or root.name
    files = [(root / f, split, i) for i, (f, split) in enumerate(SPLIT_FILES)
             if (root / f).is_file()]
    if not files and (root / SINGLE_FILE).is_file():
        files = [(root / SINGLE_FILE, '', 0)]
    if not files:
        raise FileNotFoundError(f'{root}: no transforms_{{train,val,test}}.json or '
                                f'{SINGLE_FILE}')
    frames = []
    for file_path, split, split_index in files:
        frames.extend(_read_file(file_path, split, split_index, name, check_images))
    return Scene(name=name, root=root, frames=frames, source_format='nerf')
