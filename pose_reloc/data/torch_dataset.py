# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""A torch Dataset over :class:`~pose_reloc.data.records.Frame` records.

Items are dicts (never positional tuples)::

    {'image': (3, H, W) float32, 'T_world_cam': (4, 4) float32, 'scene_id': int,
     'K': (3, 3) float32, 'index': int, 'depth': (H, W) float32 metres (with_depth only)}

``K`` is the intrinsic matrix *after* the transform (resize / crop update it).
"""

from typing import Callable, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from pose_reloc.data.records import load_depth, load_image
from pose_reloc.data.transforms import to_tensor


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
            no_depth = [f.image_path for f in self.frames if f.depth_path is None]
            if no_depth:
                raise ValueError(f'with_depth=True but {len(no_depth)} frames have no depth, '
                                 f'e.g. {no_depth[0]}')

    def __len__(self) -> int:
        """Return the number of frames."""
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        """Load, transform and convert frame ``index`` (see the module docstring)."""
        frame = self.frames[index]
        sample = {'image': load_image(frame), 'camera': frame.camera}
        if self.with_depth:
            sample['depth'] = load_depth(frame)
        if self.transform is not None:
            sample = self.transform(sample)
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
