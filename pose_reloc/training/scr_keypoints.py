# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Mapping a scene for the keypoint scene coordinate regressor (``models.keypoints``).

``pose-reloc train --method scr`` with ``model.regressor: keypoints`` (the ``scr-cpu`` and
``scr-gpu`` presets) runs :func:`train`: local features of every training frame, a 3-D world
point for each keypoint that can be given one, and the resulting scene coordinate map written
as an ``scr`` bundle (architecture ``KeypointSCR``).

Where the 3-D points come from:

- **depth** (``data.use_depth: true`` and every training frame has depth): the keypoint's
  depth, read at its nearest pixel and kept only when the 3x3 neighbourhood is valid and
  spreads by at most ``model.max_depth_spread`` of its median (no depth edges), is
  back-projected with the frame's camera (undistorting) and moved to the world by
  ``T_world_cam``;
- **RGB + poses alone** (no depth, or ``data.use_depth: false``): every training frame is
  matched with its ``model.pairs_per_frame`` nearest training frames whose optical axes are
  within ``model.max_view_angle_deg`` and whose centres are at least ``model.min_baseline_m``
  apart (the poses are known, so the pairs are chosen by geometry, not by retrieval); RootSIFT
  matches that pass the ratio test and the epipolar constraint of the known relative pose
  (Sampson distance below ``model.epipolar_px``) are triangulated (linear DLT,
  ``cv2.triangulatePoints``) and kept when in front of both cameras, reprojecting within
  ``model.triangulation_px`` in both and seen under at least ``model.min_triangulation_deg``. A
  keypoint triangulated from several pairs takes the median, and is dropped when those
  estimates disagree by more than ``model.max_track_spread`` of its depth. This is the
  triangulation step of structure-from-motion with known poses (COLMAP's point
  triangulator, hloc's ``triangulation.main``), written here with OpenCV because neither
  installs without a COLMAP database of the whole scene.
"""

from dataclasses import asdict, dataclass
import logging
from pathlib import Path
import time
from typing import Any, Dict, List, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from pose_reloc.core.bundle import save_bundle
from pose_reloc.core.files import json_ready
from pose_reloc.geometry.camera import camera_to_ros_yaml
from pose_reloc.geometry.metrics import rotation_error_deg, translation_error_m
from pose_reloc.geometry.pnp import PnPConfig
from pose_reloc.models.keypoints import extract_features, FeatureConfig, localize_with_map, \
    SceneCoordinateMap

LOG = logging.getLogger(__name__)

#: the ``architecture.name`` of keypoint SCR bundles.
ARCHITECTURE = 'KeypointSCR'


@dataclass
class FrameFeatures:
    """Keypoints of one training frame and the world points mapping gave them.

    Attributes:
        uv_n2: (N, 2) float64 keypoint pixels (original image, distorted if the camera is).
        descriptors_nd: (N, 128) float32 RootSIFT descriptors.
        points_n3: (N, 3) float64 world points, metres; NaN rows have none.
    """

    uv_n2: np.ndarray
    descriptors_nd: np.ndarray
    points_n3: np.ndarray


def depth_points(frame: Any, uv_n2: np.ndarray, max_depth_spread: float) -> np.ndarray:
    """World points of keypoints from the frame's depth image (see the module docstring).

    Args:
        frame: a ``data.records.Frame`` with ``depth_path``.
        uv_n2: (N, 2) keypoint pixels of the frame's image.
        max_depth_spread: relative spread of the 3x3 depths above which a keypoint is dropped.

    Returns:
        (N, 3) float64 world points, NaN where the depth is missing or at an edge.

    Raises:
        ValueError: if the depth image's size differs from the camera's.
    """
    from pose_reloc.data.records import load_depth
    depth = load_depth(frame).astype(np.float64)
    camera = frame.camera
    if depth.shape != (camera.height, camera.width):
        raise ValueError(f'{frame.depth_path}: depth is {depth.shape[1]}x{depth.shape[0]}, the '
                         f'camera {camera.width}x{camera.height}')
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan)
    padded = np.pad(depth, 1, constant_values=np.nan)
    cols = np.clip(np.round(uv_n2[:, 0]).astype(int), 0, camera.width - 1)
    rows = np.clip(np.round(uv_n2[:, 1]).astype(int), 0, camera.height - 1)
    window = np.stack([padded[rows + dr, cols + dc] for dr in range(3) for dc in range(3)])
    with np.errstate(invalid='ignore'):
        z = np.median(window, axis=0)
        spread = np.max(window, axis=0) - np.min(window, axis=0)
        ok = np.all(np.isfinite(window), axis=0) & (spread <= max_depth_spread * z)
    points = np.full((len(uv_n2), 3), np.nan)
    if ok.any():
        points_cam = camera.backproject(uv_n2[ok], z[ok])
        T = np.asarray(frame.T_world_cam, dtype=np.float64)
        points[ok] = points_cam @ T[:3, :3].T + T[:3, 3]
    return points


def select_pairs(T_world_cam_n44: np.ndarray, pairs_per_frame: int, min_baseline_m: float,
                 max_view_angle_deg: float) -> List[Tuple[int, int]]:
    """Choose the frame pairs to triangulate from, by the known poses.

    Args:
        T_world_cam_n44: (N, 4, 4) camera-to-world poses.
        pairs_per_frame: partners per frame (the nearest eligible centres).
        min_baseline_m: partners' centres are at least this far apart.
        max_view_angle_deg: partners' optical axes differ by at most this angle.

    Returns:
        Sorted unique ``(i, j)`` pairs with ``i < j``.
    """
    T = np.asarray(T_world_cam_n44, dtype=np.float64)
    centres = T[:, :3, 3]
    axes = T[:, :3, 2]
    distance = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    cos_angle = np.clip(axes @ axes.T, -1.0, 1.0)
    eligible = (distance >= min_baseline_m) & (cos_angle >= np.cos(np.radians(max_view_angle_deg)))
    pairs = set()
    for i in range(len(T)):
        candidates = np.flatnonzero(eligible[i])
        for j in candidates[np.argsort(distance[i, candidates])][:pairs_per_frame]:
            pairs.add((min(i, int(j)), max(i, int(j))))
    return sorted(pairs)


def _normalized(camera, uv_n2: np.ndarray) -> np.ndarray:
    """Ideal normalized image coordinates (x/z, y/z) of pixels, undistorting."""
    uv = camera.undistort_points(uv_n2).reshape(-1, 2) if camera.is_distorted else uv_n2
    K = camera.K
    return np.stack([(uv[:, 0] - K[0, 2]) / K[0, 0], (uv[:, 1] - K[1, 2]) / K[1, 1]], axis=1)


def triangulate_pair(xy_a: np.ndarray, xy_b: np.ndarray, T_world_a: np.ndarray,
                     T_world_b: np.ndarray, focal_px: float, epipolar_px: float,
                     reproj_px: float, min_angle_deg: float) -> Tuple[np.ndarray, np.ndarray]:
    """Triangulate matched normalized coordinates of two posed cameras.

    Args:
        xy_a: (M, 2) ideal normalized coordinates in camera a.
        xy_b: (M, 2) the matching coordinates in camera b.
        T_world_a: (4, 4) pose of camera a (camera-to-world).
        T_world_b: (4, 4) pose of camera b.
        focal_px: focal length that converts normalized errors to pixels.
        epipolar_px: Sampson distance threshold, pixels.
        reproj_px: reprojection threshold in both views, pixels.
        min_angle_deg: minimum angle between the two viewing rays.

    Returns:
        ``(points_m3, ok_m)``: (M, 3) float64 world points and a (M,) bool mask of the
        matches that pass every check.
    """
    T_a_w = np.linalg.inv(T_world_a)
    T_b_w = np.linalg.inv(T_world_b)
    T_b_a = T_b_w @ T_world_a
    R, t = T_b_a[:3, :3], T_b_a[:3, 3]
    tx = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
    E = tx @ R
    ha = np.column_stack([xy_a, np.ones(len(xy_a))])
    hb = np.column_stack([xy_b, np.ones(len(xy_b))])
    Ea = ha @ E.T
    Etb = hb @ E
    num = np.sum(hb * Ea, axis=1) ** 2
    den = Ea[:, 0] ** 2 + Ea[:, 1] ** 2 + Etb[:, 0] ** 2 + Etb[:, 1] ** 2
    sampson_px = np.sqrt(num / np.maximum(den, 1e-18)) * focal_px
    X = cv2.triangulatePoints(T_a_w[:3], T_b_w[:3], xy_a.T.astype(np.float64),
                              xy_b.T.astype(np.float64))
    with np.errstate(invalid='ignore', divide='ignore'):
        points = (X[:3] / X[3]).T
        pa = points @ T_a_w[:3, :3].T + T_a_w[:3, 3]
        pb = points @ T_b_w[:3, :3].T + T_b_w[:3, 3]
        err_a = np.linalg.norm(pa[:, :2] / pa[:, 2:] - xy_a, axis=1) * focal_px
        err_b = np.linalg.norm(pb[:, :2] / pb[:, 2:] - xy_b, axis=1) * focal_px
        ray_a = points - T_world_a[:3, 3]
        ray_b = points - T_world_b[:3, 3]
        norms = np.linalg.norm(ray_a, axis=1) * np.linalg.norm(ray_b, axis=1)
        cos = np.sum(ray_a * ray_b, axis=1) / norms
        ok = (np.isfinite(points).all(axis=1) & (pa[:, 2] > 0) & (pb[:, 2] > 0)
              & (sampson_px < epipolar_px) & (err_a < reproj_px) & (err_b < reproj_px)
              & (cos < np.cos(np.radians(min_angle_deg))))
    return points, ok


def triangulate_views(xy_vn2: np.ndarray, T_cam_world_v44: np.ndarray) -> np.ndarray:
    """Linear multi-view triangulation (DLT; Hartley and Zisserman, Sec. 12.2), batched.

    Args:
        xy_vn2: (B, V, 2) ideal normalized coordinates of B points, each seen in V views.
        T_cam_world_v44: (B, V, 4, 4) world-to-camera transforms of those views.

    Returns:
        (B, 3) float64 world points (NaN where the solution is at infinity).
    """
    P = T_cam_world_v44[..., :3, :]                                    # (B, V, 3, 4)
    rows_x = xy_vn2[..., 0:1] * P[..., 2, :] - P[..., 0, :]
    rows_y = xy_vn2[..., 1:2] * P[..., 2, :] - P[..., 1, :]
    A = np.concatenate([rows_x, rows_y], axis=1)                       # (B, 2V, 4)
    X = np.linalg.svd(A)[2][:, -1]                                     # (B, 4)
    with np.errstate(invalid='ignore', divide='ignore'):
        return X[:, :3] / X[:, 3:]


def _reprojection_px(points_b3, xy_vn2, T_cam_world_v44, focal_px):
    p = np.einsum('bvij,bj->bvi', T_cam_world_v44[..., :3, :3], points_b3) \
        + T_cam_world_v44[..., :3, 3]
    with np.errstate(invalid='ignore', divide='ignore'):
        err = np.linalg.norm(p[..., :2] / p[..., 2:] - xy_vn2, axis=-1) * focal_px
    return np.where(p[..., 2] > 0, err, np.inf)


def refine_points(points_b3: np.ndarray, xy_bv2: np.ndarray, T_cam_world_bv44: np.ndarray,
                  weight_bv: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Gauss-Newton refinement of triangulated points on the reprojection error, batched.

    Minimizes ``sum_v w_v |pi(T_cam_world_v X) - xy_v|^2`` over each point ``X`` (the
    maximum-likelihood triangulation under Gaussian pixel noise, which the algebraic DLT
    only approximates; Hartley and Zisserman, Sec. 12.4).

    Args:
        points_b3: (B, 3) initial world points.
        xy_bv2: (B, V, 2) ideal normalized observations.
        T_cam_world_bv44: (B, V, 4, 4) world-to-camera transforms.
        weight_bv: (B, V) weights (0 leaves a view out).
        iterations: Gauss-Newton steps.

    Returns:
        (B, 3) refined world points.
    """
    R = T_cam_world_bv44[..., :3, :3]
    t = T_cam_world_bv44[..., :3, 3]
    w = np.asarray(weight_bv, dtype=np.float64)[..., None]
    X = np.array(points_b3, dtype=np.float64)
    for _ in range(iterations):
        p = np.einsum('bvij,bj->bvi', R, X) + t
        z = np.where(np.abs(p[..., 2]) > 1e-9, p[..., 2], 1e-9)
        residual = (p[..., :2] / z[..., None] - xy_bv2) * w
        J_proj = np.zeros(p.shape[:2] + (2, 3))
        J_proj[..., 0, 0] = 1.0 / z
        J_proj[..., 0, 2] = -p[..., 0] / z ** 2
        J_proj[..., 1, 1] = 1.0 / z
        J_proj[..., 1, 2] = -p[..., 1] / z ** 2
        J = (J_proj @ R) * w[..., None]
        H = np.einsum('bvki,bvkj->bij', J, J) + 1e-12 * np.eye(3)
        g = np.einsum('bvki,bvk->bi', J, residual)
        X = X - np.linalg.solve(H, g[..., None])[..., 0]
    return X


def _widest_ray_angle_deg(points_b3, T_world_cam_bv44, keep_bv):
    """Largest angle between the first view's ray to each point and another kept view's."""
    rays = points_b3[:, None, :] - T_world_cam_bv44[..., :3, 3]
    with np.errstate(invalid='ignore', divide='ignore'):
        rays = rays / np.linalg.norm(rays, axis=-1, keepdims=True)
        cos = np.einsum('bvi,bi->bv', rays, rays[:, 0])
    cos = np.where(keep_bv, cos, 1.0)
    return np.degrees(np.arccos(np.clip(np.nan_to_num(cos.min(axis=1), nan=1.0), -1.0, 1.0)))


def triangulate_frames(frames: List[Any], features: List[FrameFeatures], model_cfg: Any,
                       progress: bool = True) -> Dict[str, int]:
    """Fill ``features[i].points_n3`` by triangulation under the known poses (module docstring).

    Every keypoint collects the observations of its matches in the paired frames that pass
    the two-view checks (:func:`triangulate_pair`); it is then triangulated from all of them
    at once (:func:`triangulate_views`), views that reproject further than
    ``model.triangulation_px`` are dropped, and it is triangulated again. A keypoint keeps its
    point when at least ``model.min_views`` views (its own included) agree.

    Args:
        frames: the training frames (``T_world_cam`` and ``camera`` are used).
        features: their keypoints, in the same order; ``points_n3`` is overwritten.
        model_cfg: ``SCRModelConfig`` (pair and threshold settings).
        progress: show a progress bar.

    Returns:
        Counts: ``pairs``, ``matches`` (ratio test), ``two_view`` (pass the two-view checks)
        and ``points`` (keypoints given a point).
    """
    poses = np.stack([np.asarray(f.T_world_cam, dtype=np.float64) for f in frames])
    T_cam_world = np.linalg.inv(poses)
    pairs = select_pairs(poses, model_cfg.pairs_per_frame, model_cfg.min_baseline_m,
                         model_cfg.max_view_angle_deg)
    normalized = [_normalized(f.camera, feat.uv_n2) for f, feat in zip(frames, features)]
    focal = float(np.median([0.5 * (f.camera.K[0, 0] + f.camera.K[1, 1]) for f in frames]))
    # observations[(frame, keypoint)] = [(other frame, other keypoint), ...]
    observations: Dict[Tuple[int, int], List[Tuple[int, int]]] = {}
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    counts = {'pairs': len(pairs), 'matches': 0, 'two_view': 0}
    for a, b in tqdm(pairs, desc='matching pairs', unit='pair', disable=not progress):
        da, db = features[a].descriptors_nd, features[b].descriptors_nd
        if len(da) < 2 or len(db) < 2:
            continue
        good = [m[0] for m in matcher.knnMatch(da, db, k=2) if len(m) == 2
                and m[0].distance < model_cfg.match_ratio * m[1].distance]
        if not good:
            continue
        ia = np.array([m.queryIdx for m in good])
        ib = np.array([m.trainIdx for m in good])
        _, ok = triangulate_pair(normalized[a][ia], normalized[b][ib], poses[a], poses[b],
                                 focal, model_cfg.epipolar_px, model_cfg.triangulation_px,
                                 model_cfg.min_triangulation_deg)
        counts['matches'] += len(good)
        counts['two_view'] += int(ok.sum())
        for ka, kb in zip(ia[ok].tolist(), ib[ok].tolist()):
            observations.setdefault((a, ka), []).append((b, kb))
            observations.setdefault((b, kb), []).append((a, ka))
    for feat in features:
        feat.points_n3 = np.full((len(feat.uv_n2), 3), np.nan)
    counts['points'] = 0
    by_views: Dict[int, List[Tuple[Tuple[int, int], List[Tuple[int, int]]]]] = {}
    for key, others in observations.items():
        views = [key] + others
        if len(views) >= model_cfg.min_views:
            by_views.setdefault(len(views), []).append(views)
    for n_views, groups in by_views.items():
        frame_idx = np.array([[v[0] for v in views] for views in groups])        # (B, V)
        xy = np.stack([np.stack([normalized[f][k] for f, k in views]) for views in groups])
        T = T_cam_world[frame_idx]
        points = triangulate_views(xy, T)
        err = _reprojection_px(points, xy, T, focal)
        keep = err < model_cfg.triangulation_px                                         # (B, V)
        redo = ~keep.all(axis=1) & (keep.sum(axis=1) >= model_cfg.min_views)
        for b in np.flatnonzero(redo):
            sel = keep[b]
            points[b] = triangulate_views(xy[b:b + 1, sel], T[b:b + 1, sel])[0]
            keep[b] = sel & (_reprojection_px(points[b:b + 1], xy[b:b + 1], T[b:b + 1],
                                              focal)[0] < model_cfg.triangulation_px)
        valid = np.isfinite(points).all(axis=1)
        points[valid] = refine_points(points[valid], xy[valid], T[valid], keep[valid])
        keep &= _reprojection_px(points, xy, T, focal) < model_cfg.triangulation_px
        accepted = (keep.sum(axis=1) >= model_cfg.min_views) & keep[:, 0] \
            & np.isfinite(points).all(axis=1) \
            & (_widest_ray_angle_deg(points, poses[frame_idx], keep)
               >= model_cfg.min_track_angle_deg)
        for b in np.flatnonzero(accepted):
            frame, keypoint = groups[b][0]
            features[frame].points_n3[keypoint] = points[b]
        counts['points'] += int(accepted.sum())
    return counts


def extract_all(frames: List[Any], feature_cfg: FeatureConfig, progress: bool = True
                ) -> List[FrameFeatures]:
    """Local features of every frame (points not yet set), with a progress bar."""
    from pose_reloc.data.records import load_image
    out = []
    for frame in tqdm(frames, desc='features', unit='frame', disable=not progress):
        uv, descriptors = extract_features(load_image(frame), feature_cfg)
        out.append(FrameFeatures(uv, descriptors, np.full((len(uv), 3), np.nan)))
    return out


def build_map(frames: List[Any], feature_cfg: FeatureConfig, model_cfg: Any, use_depth: bool,
              progress: bool = True) -> Tuple[SceneCoordinateMap, Dict[str, Any]]:
    """Map a scene: features, world points, and the scene coordinate map.

    Args:
        frames: posed training frames of one scene.
        feature_cfg: local feature settings.
        model_cfg: ``SCRModelConfig`` (``match_ratio`` and the mapping thresholds).
        use_depth: take points from depth (every frame must have it); False = triangulate.
        progress: show progress bars.

    Returns:
        ``(map, stats)``; ``stats`` has ``source`` (``'depth'`` or ``'triangulation'``),
        ``keypoints``, ``mapped`` and, for triangulation, the pair / match counts.

    Raises:
        ValueError: if no keypoint could be given a world point (too little texture,
            poses too close together, or no depth).
    """
    features = extract_all(frames, feature_cfg, progress)
    stats: Dict[str, Any] = {'source': 'depth' if use_depth else 'triangulation',
                             'keypoints': int(sum(len(f.uv_n2) for f in features))}
    if use_depth:
        for frame, feat in zip(frames, features):
            feat.points_n3 = depth_points(frame, feat.uv_n2, model_cfg.max_depth_spread)
    else:
        stats.update(triangulate_frames(frames, features, model_cfg, progress))
    descriptors = np.concatenate([f.descriptors_nd for f in features])
    points = np.concatenate([f.points_n3 for f in features])
    valid = np.all(np.isfinite(points), axis=1)
    stats['mapped'] = int(valid.sum())
    if not valid.any():
        raise ValueError(f'mapping from {stats["source"]} gave no 3-D point for any of the '
                         f'{stats["keypoints"]} keypoints of {len(frames)} frames')
    return SceneCoordinateMap(descriptors[valid], points[valid], model_cfg.match_ratio,
                              model_cfg.match_checks), stats


def validate(frames: List[Any], scene_map: SceneCoordinateMap, feature_cfg: FeatureConfig,
             pnp_cfg: PnPConfig) -> Dict[str, float]:
    """Median errors and failure rate of the map on held-out frames (logged after mapping)."""
    from pose_reloc.data.records import load_image
    t_err, r_err, fails = [], [], 0
    for frame in frames:
        result, _, _ = localize_with_map(load_image(frame), frame.camera, scene_map,
                                         feature_cfg, pnp_cfg)
        if not result.ok:
            fails += 1
            continue
        t_err.append(translation_error_m(result.T_world_cam, frame.T_world_cam))
        r_err.append(rotation_error_deg(result.T_world_cam, frame.T_world_cam))
    return {'frames': len(frames),
            'median_translation_m': float(np.median(t_err)) if t_err else float('nan'),
            'median_rotation_deg': float(np.median(r_err)) if r_err else float('nan'),
            'failure_rate': fails / len(frames) if frames else float('nan')}


def train(cfg: Any, scene: Any, train_frames: List[Any], val_frames: List[Any],
          data_root: Path, out_bundle: Path, use_depth: bool) -> Path:
    """Map one scene and write a ``KeypointSCR`` bundle (called by ``training.scr.train``).

    Args:
        cfg: the ``TrainConfig`` (``model`` is ``SCRModelConfig`` with
            ``regressor='keypoints'``).
        scene: the ``data.records.Scene``.
        train_frames: its training frames.
        val_frames: held-out frames scored after mapping (may be empty).
        data_root: the dataset root (recorded in the bundle).
        out_bundle: the bundle directory to write.
        use_depth: map from depth (True) or triangulate from RGB + poses (False).

    Returns:
        The bundle path.
    """
    model_cfg = cfg.model
    t_start = time.monotonic()
    feature_cfg = model_cfg.feature_config()
    progress = bool(getattr(cfg.run, 'progress', True))
    LOG.info('scene %s: mapping %d frames from %s', scene.name, len(train_frames),
             'depth' if use_depth else 'RGB + poses (triangulation, no depth)')
    scene_map, stats = build_map(train_frames, feature_cfg, model_cfg, use_depth, progress)
    mapping_s = time.monotonic() - t_start
    LOG.info('mapped %d of %d keypoints in %.1f s (%s)', stats['mapped'], stats['keypoints'],
             mapping_s, stats)
    pnp_cfg = model_cfg.pnp_config()
    val = validate(val_frames, scene_map, feature_cfg, pnp_cfg) if val_frames else {}
    if val:
        LOG.info('validation on %d %r frames: median %.3f m / %.2f deg, %.0f %% refused',
                 val['frames'], cfg.data.val_split, val['median_translation_m'],
                 val['median_rotation_deg'], 100 * val['failure_rate'])
    camera = train_frames[0].camera
    architecture = {'name': ARCHITECTURE, 'features': asdict(feature_cfg),
                    'match_ratio': model_cfg.match_ratio,
                    'match_checks': model_cfg.match_checks}
    meta = {
        'scenes': [{'name': scene.name,
                    'coord_mean': [float(x) for x in scene_map.points.mean(axis=0)],
                    'camera': camera_to_ros_yaml(camera, scene.name)}],
        'input': {'short_side': feature_cfg.short_side, 'color_order': 'rgb'},
        'pnp': asdict(pnp_cfg),
        'training': {'config': cfg.to_dict(), 'data_root': str(data_root),
                     'train_frames': len(train_frames), 'val_frames': len(val_frames),
                     'mapping': stats, 'elapsed_s': time.monotonic() - t_start,
                     'validation': json_ready(val)},
    }
    return save_bundle(out_bundle, 'scr', architecture, scene_map.state_dict(), meta)


def frames_have_depth(frames: List[Any]) -> bool:
    """Return True when every frame has a depth image."""
    return bool(frames) and all(f.depth_path is not None for f in frames)


def choose_depth(cfg: Any, frames: List[Any], data_root: Path) -> bool:
    """Decide whether mapping uses depth, logging the choice and why.

    Returns:
        True to map from depth; False for RGB + poses alone.
    """
    if not cfg.data.use_depth:
        LOG.info('data.use_depth is false: mapping from RGB + poses alone')
        return False
    if not frames_have_depth(frames):
        missing = sum(f.depth_path is None for f in frames)
        LOG.info('%s: %d of %d training frames have no depth: mapping from RGB + poses alone',
                 data_root, missing, len(frames))
        return False
    return True


__all__ = ['ARCHITECTURE', 'build_map', 'choose_depth', 'depth_points', 'FrameFeatures',
           'select_pairs', 'train', 'triangulate_frames', 'triangulate_pair', 'validate']
