# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""A torch Dataset over :class:`~pose_reloc.data.records.Frame` records, and a frame cache.

Items of :class:`PoseDataset` are dicts (never positional tuples)::

    {'image': (3, H, W) float32, 'T_world_cam': (4, 4) float32, 'scene_id': int,
     'K': (3, 3) float32, 'index': int, 'depth': (H, W) float32 metres (with_depth only)}

``K`` is the intrinsic matrix *after* the transform (resize / crop update it).

:class:`FrameCache` decodes frames once through the deterministic first step of the input
pipeline (``transforms.Resize(spec)``) and keeps the results in memory, so that the training
datasets apply only the per-epoch steps (crop, jitter, tensor) to each item.
"""

from typing import Callable, Dict, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from pose_reloc.data.records import load_depth, load_image
from pose_reloc.data.transforms import to_tensor

#: Decoded samples are cached in memory up to this many bytes; beyond, read per item.
CACHE_LIMIT_BYTES = 3 * 1024 ** 3


def scene_id_map(frames: Sequence, scene_ids: Union[None, Sequence[str], Mapping] = None
                 ) -> dict:
    """Return ``{scene name: id}`` for a frame list.

    Args:
        frames: Frame records.
        scene_ids: None (ids = positions in the sorted list of scene names in ``frames``),
            a sequence of scene names (id = position, e.g. a model bundle's scene list) or a
            mapping name -> id.

    Returns:
        dict scene name -> int id.

    Raises:
        ValueError: a frame's scene is not in ``scene_ids`` (the message lists both).
    """
    if scene_ids is None:
        mapping = {name: i for i, name in enumerate(sorted({f.scene for f in frames}))}
    elif isinstance(scene_ids, Mapping):
        mapping = {str(k): int(v) for k, v in scene_ids.items()}
    else:
        mapping = {str(name): i for i, name in enumerate(scene_ids)}
    missing = sorted({f.scene for f in frames} - set(mapping))
    if missing:
        raise ValueError(f'scenes {missing} of the frames are not in the scene list '
                         f'{sorted(mapping, key=mapping.get)}')
    return mapping


def load_sample(frame, with_depth: bool = False, transform: Optional[Callable] = None) -> dict:
    """Load a frame as a sample ``{'image', 'camera', 'depth'?}`` and apply ``transform``.

    Args:
        frame: a Frame record.
        with_depth: also load its depth (``(H, W) float32`` metres).
        transform: optional sample transform (:mod:`pose_reloc.data.transforms`).

    Returns:
        The (transformed) sample.
    """
    sample = {'image': load_image(frame), 'camera': frame.camera}
    if with_depth:
        sample['depth'] = load_depth(frame)
    return transform(sample) if transform is not None else sample


def _require_depth(frames: Sequence) -> None:
    no_depth = [f.image_path for f in frames if f.depth_path is None]
    if no_depth:
        raise ValueError(f'with_depth=True but {len(no_depth)} of {len(frames)} frames have no '
                         f'depth, e.g. {no_depth[0]}')


class PoseDataset(Dataset):
    """Posed images for training and evaluation.

    Args:
        frames: Frame records (any mix of scenes).
        transform: sample transform (see :mod:`pose_reloc.data.transforms`), applied to
            ``{'image', 'camera', 'depth'?}``; if the image is still a uint8 array
            afterwards, it is converted with ImageNet normalization.
        with_depth: also load depth (every frame needs ``depth_path``).
        scene_ids: scene name -> id assignment (see :func:`scene_id_map`).
    """

    def __init__(self, frames: Sequence, transform: Optional[Callable] = None,
                 with_depth: bool = False,
                 scene_ids: Union[None, Sequence[str], Mapping] = None):
        """Check the frames and build the scene id map."""
        self.frames = list(frames)
        self.transform = transform
        self.with_depth = with_depth
        self.scene_ids = scene_id_map(self.frames, scene_ids)
        if with_depth:
            _require_depth(self.frames)

    def __len__(self) -> int:
        """Return the number of frames."""
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        """Load, transform and convert frame ``index`` (see the module docstring)."""
        frame = self.frames[index]
        sample = load_sample(frame, self.with_depth, self.transform)
        image = sample['image']
        if isinstance(image, np.ndarray):
            image = to_tensor(image)
        item = {
            'image': image,
            'T_world_cam': torch.from_numpy(np.asarray(frame.T_world_cam, dtype=np.float32)),
            'scene_id': self.scene_ids[frame.scene],
            'K': torch.from_numpy(sample['camera'].K.astype(np.float32)),
            'index': index,
        }
        if self.with_depth:
            item['depth'] = torch.from_numpy(np.ascontiguousarray(sample['depth'],
                                                                  dtype=np.float32))
        return item


class FrameCache:
    """Frames loaded and passed once through a deterministic transform, kept in memory.

    Args:
        frames: Frame records.
        transform: deterministic sample transform applied once per frame (the input
            pipeline's ``transforms.Resize(spec)``), or None.
        with_depth: also load depth (every frame needs ``depth_path``).
        max_bytes: keep at most this many bytes of images and depth; frames beyond are
            loaded and transformed again on every access.

    Raises:
        ValueError: ``with_depth`` and a frame without depth (naming the first one).
    """

    def __init__(self, frames: Sequence, transform: Optional[Callable] = None,
                 with_depth: bool = False, max_bytes: int = CACHE_LIMIT_BYTES):
        """Check the frames; nothing is loaded yet."""
        self.frames = list(frames)
        self.transform = transform
        self.with_depth = with_depth
        self.max_bytes = int(max_bytes)
        if with_depth:
            _require_depth(self.frames)
        self._samples: Dict[int, dict] = {}
        self._bytes = 0

    def __len__(self) -> int:
        """Return the number of frames."""
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        """Return frame ``index`` as a transformed sample.

        Returns:
            ``{'image': (h, w, 3) uint8 RGB, 'camera': PinholeCamera of those pixels,
            'depth': (h, w) float32 metres (with_depth only)}``; shared with the cache: map
            it to new samples (the transforms do), never modify it in place.
        """
        sample = self._samples.get(index)
        if sample is None:
            sample = load_sample(self.frames[index], self.with_depth, self.transform)
            size = sample['image'].nbytes + (sample['depth'].nbytes if self.with_depth else 0)
            if self._bytes + size <= self.max_bytes:
                self._samples[index] = sample
                self._bytes += size
        return sample

    def fill(self, progress: bool = False, desc: str = 'decoding images') -> None:
        """Load every frame now (before DataLoader workers start, so that they inherit them).

        Stops at the first frame that no longer fits in ``max_bytes``.
        """
        for index in tqdm(range(len(self)), desc=desc, disable=not progress, leave=False):
            self[index]
            if index not in self._samples:
                return
