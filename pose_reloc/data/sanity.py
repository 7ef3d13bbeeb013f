# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Sanity checks on dataset rows, the same for every format.

Published pose lists hold broken rows: the Cambridge Landmarks Great Court list has camera
positions about 3e9 m away from a scene a few hundred metres across. One such row makes the
scene's extent meaningless and training's position normalization (mean / scale of the camera
centres) squeezes every good frame to nothing.

The test is robust (it does not let the outliers set their own threshold): the spread of a
scene is the median distance of its camera centres from their coordinate-wise median (a
multivariate median absolute deviation); a row whose centre is more than
:data:`OUTLIER_FACTOR` times that spread away from the median is an outlier. Legitimate
layouts stay below the factor (a uniform path reaches ~2x; a dense cluster with sparse frames
elsewhere is flagged only when those lie a hundred cluster radii away). Scenes with fewer
than :data:`MIN_FRAMES` frames are not tested.
"""

import logging
from typing import List

import numpy as np

_LOG = logging.getLogger(__name__)

#: a centre farther than this many times the scene's spread from the median is an outlier.
OUTLIER_FACTOR = 100.0

#: spread floor, metres (cameras that barely move, e.g. on a tripod).
MIN_SPREAD_M = 1e-3

#: scenes with fewer frames are not tested (the median means little).
MIN_FRAMES = 5


def position_outliers(frames, factor: float = OUTLIER_FACTOR) -> List[dict]:
    """Return the frames whose camera centre is far outside the scene (see the module).

    Args:
        frames: :class:`~pose_reloc.data.records.Frame` objects of one scene.
        factor: distance threshold in multiples of the scene's spread.

    Returns:
        One dict per outlier, in frame order: ``index`` (in ``frames``), ``source`` (file and
        line, or file), ``image``, ``split``, ``position`` (metres), ``distance_m`` from the
        median centre, ``spread_m`` and ``threshold_m``.
    """
    if len(frames) < MIN_FRAMES:
        return []
    centres = np.array([f.T_world_cam[:3, 3] for f in frames], dtype=np.float64)
    median = np.median(centres, axis=0)
    distance = np.linalg.norm(centres - median, axis=1)
    spread = max(float(np.median(distance)), MIN_SPREAD_M)
    threshold = factor * spread
    return [{'index': int(i), 'source': frames[i].source or str(frames[i].image_path),
             'image': str(frames[i].image_path), 'split': frames[i].split,
             'position': centres[i].tolist(), 'distance_m': float(distance[i]),
             'spread_m': spread, 'threshold_m': threshold}
            for i in np.flatnonzero(distance > threshold)]


def describe_outlier(outlier: dict) -> str:
    """Return one line for an outlier dict: where, position and how far out it is."""
    x, y, z = outlier['position']
    return (f'{outlier["source"]}: camera position ({x:.6g}, {y:.6g}, {z:.6g}) is '
            f'{outlier["distance_m"]:.3g} m from the scene median, more than '
            f'{outlier["threshold_m"]:.3g} m ({OUTLIER_FACTOR:g} x the spread '
            f'{outlier["spread_m"]:.3g} m)')


def drop_position_outliers(scene, factor: float = OUTLIER_FACTOR):
    """Move a scene's position outliers from ``scene.frames`` to ``scene.outliers``.

    Each one is logged as a warning naming its file and line; training, evaluation and
    ``info`` then see the scene without them, and ``info`` lists them.

    Returns:
        The same scene (modified in place).
    """
    found = position_outliers(scene.frames, factor)
    if not found:
        return scene
    bad = {o['index'] for o in found}
    scene.frames = [f for i, f in enumerate(scene.frames) if i not in bad]
    scene.outliers = list(scene.outliers) + found
    for outlier in found:
        _LOG.warning('scene %s: left out: %s', scene.name, describe_outlier(outlier))
    return scene
