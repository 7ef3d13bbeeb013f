# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Frames without poses: the record and loader for unlabeled images.

Methods that adapt across domains need images whose pose nobody knows: APANet's target
scene (all but a labeled fraction), CUT's pool of real photos (DANCE). An
:class:`ImageRecord` is such an image: a file, a time stamp, optionally the camera that took
it. :func:`load_images` reads them from

- a posed dataset of any format :func:`~pose_reloc.data.formats.load_dataset` reads (a scene
  folder or a multi-scene root); the poses are dropped, the splits and cameras kept;
- a posed folder without ``poses.txt`` (``camera.yaml`` + ``rgb/``): the images of
  ``rgb/`` (not ``depth/``) with the camera;
- any folder of images (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.tif``, ``.tiff``,
  ``.webp``, searched recursively, sorted by path).

A bag's image topic with no pose source becomes such a folder with ``pose-reloc extract BAG
OUT --image-topic TOPIC --no-poses``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, TYPE_CHECKING, Union

if TYPE_CHECKING:  # annotations only
    from pose_reloc.geometry.camera import PinholeCamera

#: file suffixes read as images (lower case).
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


@dataclass(frozen=True)
class ImageRecord:
    """One image without a pose.

    Attributes:
        image_path: colour image file.
        timestamp_ns: capture time, integer nanoseconds (the file order for plain folders).
        camera: the image's intrinsics when known, else None.
        scene: scene name ('' when unknown).
        sequence: sequence name ('' when unknown).
        split: ``'train'``, ``'val'``, ``'test'`` or ``''`` (not assigned).
    """

    image_path: Path
    timestamp_ns: int = 0
    camera: Optional[PinholeCamera] = None
    scene: str = ''
    sequence: str = ''
    split: str = ''


def frames_as_images(frames: Sequence) -> List[ImageRecord]:
    """Return the :class:`ImageRecord` of each posed ``Frame`` (poses dropped)."""
    return [ImageRecord(f.image_path, f.timestamp_ns, f.camera, f.scene, f.sequence, f.split)
            for f in frames]


def load_images(root: Union[str, Path], split: str = '',
                scenes: Sequence[str] = ()) -> List[ImageRecord]:
    """Load the images under ``root`` as unlabeled records (see the module docstring).

    Args:
        root: a posed dataset, a posed folder without poses, or a folder of images.
        split: keep only this split of a dataset that has splits ('' = every image).
            Plain image folders have none, so ``split`` must be '' for them.
        scenes: keep only these scenes of a multi-scene dataset (empty = all).

    Returns:
        The records, in dataset order (plain folders: sorted by path).

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: naming ``root`` when it holds no image, when ``split`` is asked of a
            folder without splits, or when a wanted scene is missing.
    """
    from pose_reloc.data.formats import detect_format, load_dataset
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f'{root}: no such image folder or dataset')
    if detect_format(root) or _has_scene_subfolders(root, detect_format):
        records: List[ImageRecord] = []
        loaded = load_dataset(root)
        names = [s.name for s in loaded]
        missing = [s for s in scenes if s not in names]
        if missing:
            raise ValueError(f'{root}: scenes {missing} not found (has {names})')
        for scene in loaded:
            if scenes and scene.name not in scenes:
                continue
            frames = scene.split(split) if split else scene.frames
            records += frames_as_images(frames)
    else:
        if split:
            raise ValueError(f'{root} is a folder of images without splits; cannot select '
                             f'split {split!r} (pass split="")')
        if scenes:
            raise ValueError(f'{root} is a folder of images without scenes; cannot select '
                             f'scenes {list(scenes)}')
        records = _image_folder(root)
    if not records:
        raise ValueError(f'{root}: no images found'
                         + (f' in split {split!r}' if split else '')
                         + f' (image suffixes: {", ".join(IMAGE_SUFFIXES)})')
    return records


def _has_scene_subfolders(root: Path, detect_format) -> bool:
    return root.is_dir() and any(detect_format(p) for p in sorted(root.iterdir()) if p.is_dir())


def _image_folder(root: Path) -> List[ImageRecord]:
    """Read a folder of images; a posed folder's ``rgb/`` (not ``depth/``) and its camera."""
    from pose_reloc.geometry.camera import read_camera_yaml
    camera = None
    if (root / 'camera.yaml').is_file():
        camera = read_camera_yaml(root / 'camera.yaml')
    folder = root / 'rgb' if (root / 'rgb').is_dir() else root
    paths = sorted(p for p in folder.rglob('*') if p.is_file()
                   and p.suffix.lower() in IMAGE_SUFFIXES)
    return [ImageRecord(path, index, camera, root.name) for index, path in enumerate(paths)]
