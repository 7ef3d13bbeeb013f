# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Sparse scene coordinate regression on local features: the scene coordinate map.

A ``KeypointSCR`` bundle predicts scene coordinates at the keypoints of an image instead of on
a dense stride-8 grid:

1. local features: SIFT keypoints and descriptors (OpenCV's ``cv2.SIFT``, Lowe 2004), the
   descriptors mapped to RootSIFT (Arandjelovic and Zisserman 2012: L1-normalize, then the
   element-wise square root, so that Euclidean distance compares them as the Hellinger
   kernel does);
2. the regressor: the scene coordinate map, ``(N, 128)`` descriptors of mapped keypoints and
   their ``(N, 3)`` world points. A query descriptor's scene coordinate is the world point of
   its nearest map descriptor when Lowe's ratio test (nearest / second nearest distance below
   ``ratio``) says the match is distinctive; the search uses an approximate FLANN k-d forest
   (Muja and Lowe 2009, built into OpenCV);
3. PnP-RANSAC on the resulting 2D-3D correspondences (``geometry.pnp``), as for the dense net.

Why not a network head: ``benchmarks/bench_scr_mapping.py`` (``docs/results/scr.md``) trained
an MLP head on frozen ImageNet EfficientNet-Lite0 feature buffers (ACE's design) and on the
same SIFT descriptors: on held-out trajectories of synthetic rooms the ImageNet features were
not viewpoint-invariant enough (median coordinate error 1.4 m on new views, 87 % of the
frames refused) and the MLP on RootSIFT did not learn the descriptor-to-point map within a CPU
budget (4.1 m), while the nearest-neighbour map localizes to about a centimetre after seconds
of mapping.

Mapping (``training.scr_keypoints``) fills the map from depth where a frame has it, otherwise
by triangulating matched keypoints across training frames under their known poses.
"""

from dataclasses import dataclass
import time
from typing import Any, Dict, Tuple

import cv2
import numpy as np
import torch

from pose_reloc.geometry.pnp import PnPConfig, solve_pnp_ransac

#: descriptor length of SIFT.
DESCRIPTOR_DIM = 128
#: RootSIFT values lie in [0, 1]; the map stores them as uint8 after this scale.
DESCRIPTOR_SCALE = 255.0


@dataclass(frozen=True)
class FeatureConfig:
    """Local feature settings, stored in the bundle and used by mapping and localization.

    Attributes:
        max_keypoints: at most this many keypoints per image (the strongest; 0 = all).
        contrast_threshold: SIFT's contrast threshold (lower = more keypoints in weak texture).
        edge_threshold: SIFT's edge threshold.
        short_side: images are resized so that their shorter side has this many pixels before
            detection (0 = native size); mapping and localization use the same value.
    """

    max_keypoints: int = 1000
    contrast_threshold: float = 0.02
    edge_threshold: float = 10.0
    short_side: int = 240

    def __post_init__(self):
        """Validate the settings (raises ``ValueError`` naming the field)."""
        if self.max_keypoints < 0:
            raise ValueError(f'features.max_keypoints must be >= 0, got {self.max_keypoints}')
        if not self.contrast_threshold > 0:
            raise ValueError('features.contrast_threshold must be > 0, got '
                             f'{self.contrast_threshold}')
        if self.short_side < 0 or 0 < self.short_side < 32:
            raise ValueError(f'features.short_side must be 0 or >= 32, got {self.short_side}')


def detection_scale(width: int, height: int, cfg: FeatureConfig) -> float:
    """Return the factor by which an image of ``width x height`` is resized before detection."""
    return 1.0 if cfg.short_side == 0 else cfg.short_side / min(width, height)


def extract_features(image_rgb_hw3: np.ndarray, cfg: FeatureConfig
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """Detect SIFT keypoints and compute RootSIFT descriptors.

    Args:
        image_rgb_hw3: (H, W, 3) uint8 RGB image (or (H, W) uint8 grey).
        cfg: feature settings; the image is resized by :func:`detection_scale` first.

    Returns:
        ``(uv_n2, descriptors_nd)``: (N, 2) float64 keypoint positions in pixels of the
        *original* image (OpenCV convention: pixel centres at integers), and (N, 128) float32
        RootSIFT descriptors (unit L2 norm). N = 0 gives empty arrays of those widths.

    Raises:
        ValueError: for an image that is not (H, W[, 3]) uint8.
    """
    image = np.asarray(image_rgb_hw3)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (
            image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f'expected an (H, W, 3) or (H, W) uint8 image, got {image.shape} '
                         f'{image.dtype}')
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    scale = detection_scale(grey.shape[1], grey.shape[0], cfg)
    if scale != 1.0:
        size = (max(1, int(round(grey.shape[1] * scale))),
                max(1, int(round(grey.shape[0] * scale))))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1
                          else cv2.INTER_LINEAR)
    sift = cv2.SIFT_create(nfeatures=cfg.max_keypoints,
                           contrastThreshold=cfg.contrast_threshold,
                           edgeThreshold=cfg.edge_threshold)
    keypoints, descriptors = sift.detectAndCompute(grey, None)
    if descriptors is None or not keypoints:
        return np.zeros((0, 2)), np.zeros((0, DESCRIPTOR_DIM), np.float32)
    uv = np.array([kp.pt for kp in keypoints], dtype=np.float64)
    # resized pixel centres map back as (u + 0.5) / scale - 0.5.
    uv = (uv + 0.5) / scale - 0.5
    return uv, root_sift(descriptors)


def root_sift(descriptors_nd: np.ndarray) -> np.ndarray:
    """RootSIFT: L1-normalize each (non-negative) descriptor, then take the square root.

    Args:
        descriptors_nd: (N, D) non-negative descriptors.

    Returns:
        (N, D) float32 descriptors of unit L2 norm (zero rows stay zero).
    """
    d = np.asarray(descriptors_nd, dtype=np.float32)
    return np.sqrt(d / np.maximum(d.sum(axis=1, keepdims=True), 1e-12))


class SceneCoordinateMap:
    """Descriptor -> scene coordinate regressor by nearest neighbour with a ratio test.

    Args:
        descriptors_nd: (N, 128) RootSIFT descriptors, float32 in [0, 1] or uint8 scaled by
            :data:`DESCRIPTOR_SCALE`.
        points_n3: (N, 3) world points, metres, map frame.
        ratio: Lowe's ratio-test threshold in (0, 1].
        checks: FLANN leaf checks per query (accuracy / time trade-off: 32 halves the search
            time of 64 at the same accuracy on the synthetic rooms).

    Raises:
        ValueError: on mismatched or malformed arrays, or a ratio outside (0, 1].
    """

    def __init__(self, descriptors_nd: np.ndarray, points_n3: np.ndarray, ratio: float = 0.9,
                 checks: int = 32):
        """Store the map and build the FLANN index (see the class docstring)."""
        descriptors = np.asarray(descriptors_nd)
        points = np.asarray(points_n3, dtype=np.float32)
        if descriptors.ndim != 2 or descriptors.shape[1] != DESCRIPTOR_DIM:
            raise ValueError(f'map descriptors must be (N, {DESCRIPTOR_DIM}), got '
                             f'{descriptors.shape}')
        if points.shape != (len(descriptors), 3):
            raise ValueError(f'map points must be ({len(descriptors)}, 3), got {points.shape}')
        if not np.all(np.isfinite(points)):
            raise ValueError('map points must be finite')
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f'ratio must be in (0, 1], got {ratio}')
        if descriptors.dtype == np.uint8:
            descriptors = descriptors.astype(np.float32) / DESCRIPTOR_SCALE
        self.descriptors = np.ascontiguousarray(descriptors, dtype=np.float32)
        self.points = points
        self.ratio = float(ratio)
        self._matcher = None
        if len(self.descriptors) >= 2:
            self._matcher = cv2.FlannBasedMatcher({'algorithm': 1, 'trees': 4},
                                                  {'checks': int(checks)})
            self._matcher.add([self.descriptors])
            self._matcher.train()

    def __len__(self) -> int:
        """Return the number of mapped keypoints."""
        return len(self.points)

    def regress(self, descriptors_nd: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Predict the scene coordinates of query descriptors.

        Args:
            descriptors_nd: (M, 128) float32 RootSIFT descriptors.

        Returns:
            ``(points_k3, index_k)``: (K, 3) float64 world points for the K <= M queries that
            pass the ratio test, and (K,) int64 indices of those queries.
        """
        queries = np.ascontiguousarray(descriptors_nd, dtype=np.float32)
        if self._matcher is None or len(queries) == 0:
            return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
        pairs = self._matcher.knnMatch(queries, k=2)
        query, train = [], []
        for pair in pairs:
            if len(pair) == 2 and pair[0].distance < self.ratio * pair[1].distance:
                query.append(pair[0].queryIdx)
                train.append(pair[0].trainIdx)
        query = np.asarray(query, dtype=np.int64)
        return self.points[np.asarray(train, dtype=np.int64)].astype(np.float64), query

    def state_dict(self) -> Dict[str, torch.Tensor]:
        """Return the tensors a bundle stores: uint8 ``descriptors`` and float32 ``points``."""
        quantized = np.clip(np.round(self.descriptors * DESCRIPTOR_SCALE), 0, 255)
        return {'descriptors': torch.from_numpy(quantized.astype(np.uint8)),
                'points': torch.from_numpy(self.points)}

    @classmethod
    def from_state_dict(cls, state: Dict[str, torch.Tensor], ratio: float = 0.9,
                        checks: int = 32) -> 'SceneCoordinateMap':
        """Rebuild a map from :meth:`state_dict`'s tensors.

        Raises:
            ValueError: if ``descriptors`` or ``points`` is missing or malformed.
        """
        missing = sorted({'descriptors', 'points'} - set(state))
        if missing:
            raise ValueError(f'scene coordinate map lacks tensors {missing}')
        return cls(state['descriptors'].numpy(), state['points'].numpy(), ratio, checks)


def localize_with_map(image_rgb_hw3: np.ndarray, camera: Any, scene_map: SceneCoordinateMap,
                      feature_cfg: FeatureConfig, pnp_cfg: PnPConfig):
    """Localize one image against a scene coordinate map.

    Args:
        image_rgb_hw3: (H, W, 3) uint8 RGB image.
        camera: its ``PinholeCamera`` (same size).
        scene_map: the map.
        feature_cfg: feature settings of the map.
        pnp_cfg: PnP settings.

    Returns:
        ``(PnPResult, points_world (K, 3), timings_ms)`` with ``features``, ``regression``
        and ``pnp`` timings.
    """
    t0 = time.perf_counter()
    uv, descriptors = extract_features(image_rgb_hw3, feature_cfg)
    t1 = time.perf_counter()
    points, query = scene_map.regress(descriptors)
    t2 = time.perf_counter()
    result = solve_pnp_ransac(points, uv[query], camera, pnp_cfg)
    t3 = time.perf_counter()
    return result, points, {'features': 1e3 * (t1 - t0), 'regression': 1e3 * (t2 - t1),
                            'pnp': 1e3 * (t3 - t2)}
