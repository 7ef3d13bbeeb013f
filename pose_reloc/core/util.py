# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Small helpers used across the layers: time units, even subsampling, the image check."""

from typing import List, Sequence, TypeVar

import numpy as np

#: nanoseconds per second (timestamps are integer nanoseconds inside the package).
NS_PER_S = 1_000_000_000

T = TypeVar('T')


def evenly_spaced(items: Sequence[T], count: int) -> List[T]:
    """Return at most ``count`` items of ``items``, evenly spaced, first and last kept.

    ``count <= 0`` or ``count >= len(items)`` returns all items (as a list).
    """
    items = list(items)
    if count <= 0 or len(items) <= count:
        return items
    index = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in index]


def check_rgb_image(image_rgb_hw3: np.ndarray) -> np.ndarray:
    """Return ``image_rgb_hw3`` as an array if it is an ``(H, W, 3) uint8`` image.

    Raises:
        ValueError: naming the shape and dtype otherwise.
    """
    image = np.asarray(image_rgb_hw3)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'expected an (H, W, 3) uint8 RGB image, got shape {image.shape} '
                         f'dtype {image.dtype}')
    return image
