# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Histogram matching of renders to a photo pool, and restyling a posed dataset (DANCE).

DANCE's second row (``+ histogram matching``): each colour channel of a render is mapped so
that its histogram matches the *pooled* histogram of the real camera's photos (all pixels of
all pool images, per channel). The mapping is the classic cumulative-distribution transfer
(Gonzalez & Woods, *Digital Image Processing*, histogram specification): a source value
``x`` goes to ``CDF_ref^-1(CDF_src(x))``, interpolated linearly between reference levels.

Why not ``skimage.exposure.match_histograms``: it matches one reference *image*; DANCE
matches to a pool of photos, whose pooled histogram we accumulate with ``np.bincount`` (no
need to hold the pool in memory) and then map with ``np.interp`` exactly as skimage's
``_match_cumulative_cdf`` does for uint8 images. Renders have holes (black, no point): they
are left out of the source histogram and stay black.

:func:`restyle_dataset` writes a copy of a posed dataset with every RGB image passed through
a function (histogram matching here, the CUT generator in ``training.cut``), keeping poses,
depth, scene coordinates, splits and camera: the labels stay valid because the geometry of
the images does not change.
"""

from pathlib import Path
import shutil
import sys
from typing import Callable, Iterable, Optional, Union

import cv2
import numpy as np
from tqdm import tqdm

#: levels of an 8-bit channel.
LEVELS = 256


def pooled_histogram(images: Iterable[np.ndarray]) -> np.ndarray:
    """Accumulate the per-channel histogram of a pool of images.

    Args:
        images: (H, W, 3) uint8 RGB images (any sizes).

    Returns:
        (3, 256) int64 counts.

    Raises:
        ValueError: for a non-uint8 RGB image or an empty pool.
    """
    counts = np.zeros((3, LEVELS), np.int64)
    seen = 0
    for image in images:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f'pool images must be (H, W, 3) uint8, got {image.shape} '
                             f'{image.dtype}')
        for c in range(3):
            counts[c] += np.bincount(image[..., c].reshape(-1), minlength=LEVELS)
        seen += 1
    if seen == 0:
        raise ValueError('empty photo pool: no image to build the reference histogram from')
    return counts


def cdf(counts_c256: np.ndarray) -> np.ndarray:
    """Return the normalized cumulative distributions (C, 256) float64 of (C, 256) counts."""
    counts = np.asarray(counts_c256, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError('cannot take the CDF of an empty histogram')
    return np.cumsum(counts, axis=-1) / total


def match_histograms(image: np.ndarray, reference_counts: np.ndarray,
                     valid: Optional[np.ndarray] = None) -> np.ndarray:
    """Map each channel of ``image`` so that its histogram matches ``reference_counts``.

    Args:
        image: (H, W, 3) uint8 RGB.
        reference_counts: (3, 256) reference histogram (:func:`pooled_histogram`).
        valid: optional (H, W) bool, the pixels to match (render holes excluded: they
            neither count in the source histogram nor change). Default: every pixel.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'image must be (H, W, 3) uint8, got {image.shape} {image.dtype}')
    reference_counts = np.asarray(reference_counts)
    ref_cdf = cdf(reference_counts)
    mask = np.ones(image.shape[:2], bool) if valid is None else np.asarray(valid, bool)
    if not mask.any():
        return image.copy()
    out = image.copy()
    levels = np.arange(LEVELS, dtype=np.float64)
    for c in range(3):
        src = image[..., c][mask]
        src_cdf = cdf(np.bincount(src, minlength=LEVELS)[None])[0]
        # Quantile transfer: the value of the reference at the source value's quantile,
        # interpolated between the reference's present levels only (empty levels would make
        # flat CDF steps, which np.interp cannot invert), as skimage does.
        present = reference_counts[c] > 0
        lut = np.interp(src_cdf, ref_cdf[c][present], levels[present])
        out[..., c][mask] = np.clip(np.round(lut[src]), 0, 255).astype(np.uint8)
    return out


def restyle_dataset(src: Union[str, Path], out: Union[str, Path],
                    fn: Callable[[np.ndarray, Path], np.ndarray], overwrite: bool = False,
                    progress: bool = True, desc: str = 'restyle') -> Path:
    """Copy a posed-folder scene (or multi-scene root) with every RGB image passed through ``fn``.

    Everything else (poses, depth, ``coords/``, splits, camera, scene.json) is copied as is.
    Atomic: written to ``<out>.partial`` and renamed.

    Args:
        src: posed-folder scene or root of scenes.
        out: the copy to create.
        fn: ``fn(image (H, W, 3) uint8 RGB, image_path) -> (H, W, 3) uint8 RGB`` of the
            same size.
        overwrite: replace ``out``.
        progress: tqdm bar.
        desc: the bar's label.

    Returns:
        ``out``.
    """
    src, out = Path(src), Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f'{out}: already exists (pass overwrite=True)')
    partial = out.with_name(out.name + '.partial')
    if partial.exists():
        shutil.rmtree(partial)
    shutil.copytree(src, partial)
    images = sorted(p for p in partial.rglob('rgb/*') if p.is_file())
    if not images:
        shutil.rmtree(partial)
        raise ValueError(f'{src}: no rgb/ images to restyle')
    try:
        for path in tqdm(images, desc=desc, unit='img', disable=not progress, file=sys.stderr):
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise OSError(f'{path}: could not read image')
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            new = np.asarray(fn(rgb, src / path.relative_to(partial)))
            if new.shape != rgb.shape or new.dtype != np.uint8:
                raise ValueError(f'{path}: restyled image is {new.shape} {new.dtype}, expected '
                                 f'{rgb.shape} uint8')
            if not cv2.imwrite(str(path), cv2.cvtColor(new, cv2.COLOR_RGB2BGR)):
                raise OSError(f'{path}: could not write image')
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return out


def load_pool(root: Union[str, Path], split: str = '', max_images: int = 0) -> list:
    """Return the photo pool of ``root`` as ``ImageRecord`` s, evenly spaced.

    Args:
        root: anything ``data.unlabeled.load_images`` reads.
        split: keep this split when the dataset has splits ('' = all; a folder of images
            has none and gives all its images).
        max_images: at most this many (0 = all).

    Raises:
        ValueError: when the dataset has splits but none of them is ``split``.
    """
    from pose_reloc.core.util import evenly_spaced
    from pose_reloc.data.unlabeled import load_images
    records = load_images(root)
    if split and any(r.split for r in records):
        records = [r for r in records if r.split == split]
        if not records:
            raise ValueError(f'{root}: no image in split {split!r}')
    return evenly_spaced(records, max_images)


def histmatch_dataset(renders: Union[str, Path], photos: Union[str, Path],
                      out: Union[str, Path], max_photos: int = 500, split: str = '',
                      overwrite: bool = False, progress: bool = True) -> Path:
    """Histogram-match every render of a posed dataset to a photo pool (DANCE row b).

    Args:
        renders: posed dataset of renders (``render-cloud`` output); black pixels with
            depth 0 are holes, read from ``depth/`` when present (else: pure black pixels).
        photos: the photo pool (anything ``data.unlabeled.load_images`` reads).
        out: the matched copy to create.
        max_photos: at most this many pool images (evenly spaced) build the histogram.
        split: pool split of a photo dataset with splits (:func:`load_pool`).
        overwrite: replace ``out``.
        progress: tqdm bars.

    Returns:
        ``out``.
    """
    from pose_reloc.data.records import load_image
    records = load_pool(photos, split, max_photos)
    reference = pooled_histogram(load_image(r) for r in records)

    def matched(image: np.ndarray, path: Path) -> np.ndarray:
        depth_path = path.parent.parent / 'depth' / path.name
        if depth_path.is_file():
            valid = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED) > 0
        else:
            valid = image.any(axis=-1)
        return match_histograms(image, reference, valid)

    return restyle_dataset(renders, out, matched, overwrite, progress, desc='histmatch')
