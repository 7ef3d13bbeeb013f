# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Render a coloured point cloud at known poses: RGB, depth and scene coordinates (DANCE).

:class:`CloudRenderer` draws every point as a square, camera-facing splat with a z-buffer
(nearest point wins), in the camera's own intrinsics (``PinholeCamera``, distortion applied
when the camera has any). Pixels that no splat covers stay holes: black RGB, depth 0, scene
coordinates NaN (DANCE: renders keep the scan's holes; the SCR loss ignores them).

Speed (10 M points, 320 x 240, 2 CPU cores; ``benchmarks/bench_cloud_render.py``): the
points are sorted once into cubic cells; per view, cells outside the view frustum are
dropped by a sphere test against the frustum's five planes, the remaining points are
transformed with one ``torch.addmm``, and the z-buffer is one ``scatter_reduce_('amin')`` on
packed ``(depth in 0.1 mm) << b | point index`` int64 keys, so the smallest key of a pixel is
its nearest point (ties: the lower index). No Python loop runs over points.

Splat size: a point covers ``ceil(splat_scale * 2 * radius * f / z)`` pixels per side (at
least 1, at most ``max_splat_px``; splats larger than a pixel are snapped to a grid of
their own pitch, see :meth:`CloudRenderer._splat`), where ``radius`` is the cloud's surfel
radius when the file has one, else half the local spacing estimated from the cell density
(a surface through a cell of side ``c`` holding ``n`` points is sampled every
``c / sqrt(n)``).

Poses (:func:`sample_views`) follow a robot's or a hand-held camera's distribution: a
height band above the floor (the cloud's 1st percentile of z, the map frame being z-up as
REP-103 asks), yaw uniform, small pitch and roll; positions uniform over the cloud's
horizontal extent, kept when they are inside the scanned space (horizontal rays in eight
directions all hit the cloud's occupancy grid) and clear of it by ``clearance_m``, and when
the render covers at least ``min_coverage`` of the image. With a rough trajectory
(``T_world_cam`` poses), positions and angles are drawn around its poses instead.
"""

from dataclasses import dataclass
import math
from pathlib import Path
import sys
from typing import Optional, Tuple, Union

import numpy as np
import torch
from tqdm import tqdm

from pose_reloc.data.pointcloud import ColoredCloud
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.se3 import invert, make_T

#: depth quantum of the z-buffer keys, metres.
DEPTH_QUANTUM_M = 1e-4
#: the empty z-buffer key.
_NO_KEY = torch.iinfo(torch.int64).max


@dataclass(frozen=True)
class SplatConfig:
    """Splat renderer settings.

    Attributes:
        splat_scale: splat side over the surfel diameter (> 1 closes gaps of a noisy scan).
        max_splat_px: largest splat side, pixels.
        near_m: points closer to the camera plane are not drawn, metres.
        cell_m: side of the culling cells, metres.
    """

    splat_scale: float = 1.5
    max_splat_px: int = 5
    near_m: float = 0.1
    cell_m: float = 0.5


@dataclass
class CloudView:
    """One render.

    Attributes:
        rgb: (H, W, 3) uint8 RGB, holes black.
        depth: (H, W) float32 z-depth of the visible point, metres, 0 = hole.
        coords: (H, W, 3) float32 world (map) coordinates of the visible point, NaN = hole.
        valid: (H, W) bool, covered pixels.
    """

    rgb: np.ndarray
    depth: np.ndarray
    coords: np.ndarray
    valid: np.ndarray

    @property
    def coverage(self) -> float:
        """Fraction of covered pixels."""
        return float(self.valid.mean())


def estimate_radius(points_n3: np.ndarray, cell_m: float = 0.25) -> np.ndarray:
    """Surfel radius per point from the local density: ``0.5 * cell_m / sqrt(n_cell)``.

    Args:
        points_n3: (N, 3) float points, metres.
        cell_m: cell side, metres.

    Returns:
        (N,) float32 radius, metres.
    """
    keys = np.floor(points_n3 / cell_m).astype(np.int64)
    keys -= keys.min(axis=0)
    dims = keys.max(axis=0) + 1
    flat = (keys[:, 0] * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2]
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    return (0.5 * cell_m / np.sqrt(counts[inverse])).astype(np.float32)


class CloudRenderer:
    """Z-buffered splat renderer of a coloured cloud (see the module docstring).

    Args:
        cloud: the cloud (map frame).
        cfg: splat settings.
        threads: ``torch.set_num_threads`` for rendering (0 = leave torch's setting).
    """

    def __init__(self, cloud: ColoredCloud, cfg: SplatConfig = SplatConfig(), threads: int = 0):
        """Sort the points into culling cells (once; about 1 s for 10 M points)."""
        if len(cloud) == 0:
            raise ValueError('cannot render an empty point cloud')
        if cfg.cell_m <= 0 or cfg.max_splat_px < 1 or cfg.near_m <= 0:
            raise ValueError(f'bad SplatConfig {cfg}: cell_m and near_m must be > 0, '
                             'max_splat_px >= 1')
        if threads > 0:
            torch.set_num_threads(threads)
        self.cfg = cfg
        points = cloud.points_n3
        radius = cloud.radius_n if cloud.radius_n is not None else estimate_radius(points)
        keys = np.floor(points / cfg.cell_m).astype(np.int64)
        keys -= keys.min(axis=0)
        dims = keys.max(axis=0) + 1
        flat = (keys[:, 0] * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2]
        order = np.argsort(flat, kind='stable')
        flat = flat[order]
        cells, starts, counts = np.unique(flat, return_index=True, return_counts=True)
        self.points_n3 = torch.from_numpy(points[order])
        self.colours_n3 = cloud.colours_n3[order]
        self.radius_n = torch.from_numpy(np.ascontiguousarray(radius[order]))
        self.cell_start = starts.astype(np.int64)
        self.cell_count = counts.astype(np.int64)
        # Cell spheres: the centre and half-diagonal of each cell's points' bounding box.
        lo = np.minimum.reduceat(points[order], starts, axis=0)
        hi = np.maximum.reduceat(points[order], starts, axis=0)
        self.cell_centre = ((lo + hi) * 0.5).astype(np.float64)
        self.cell_radius = (0.5 * np.linalg.norm(hi - lo, axis=1)
                            + 2.0 * float(radius.max())).astype(np.float64)
        self.num_points = len(points)

    def _visible_cells(self, camera: PinholeCamera, T_cam_world: np.ndarray) -> np.ndarray:
        """Return the indices of the cells whose sphere meets the view frustum (conservative)."""
        c_cam = self.cell_centre @ T_cam_world[:3, :3].T + T_cam_world[:3, 3]
        margin = self.cfg.max_splat_px
        # Inward normals of the four side planes through the optical centre (z = 1 rays of
        # the image corners widened by the largest splat) and the near plane.
        x0 = (-0.5 - margin - camera.cx) / camera.fx
        x1 = (camera.width - 0.5 + margin - camera.cx) / camera.fx
        y0 = (-0.5 - margin - camera.cy) / camera.fy
        y1 = (camera.height - 0.5 + margin - camera.cy) / camera.fy
        if camera.is_distorted:
            x0, x1, y0, y1 = 1.5 * x0, 1.5 * x1, 1.5 * y0, 1.5 * y1
        normals = np.array([[1.0, 0.0, -x0], [-1.0, 0.0, x1], [0.0, 1.0, -y0],
                            [0.0, -1.0, y1]])
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        dist = c_cam @ normals.T
        inside = np.all(dist > -self.cell_radius[:, None], axis=1)
        inside &= c_cam[:, 2] > self.cfg.near_m - self.cell_radius
        return np.nonzero(inside)[0]

    def _gather(self, cells: np.ndarray) -> torch.Tensor:
        """Return the indices (int64 tensor) of the points of ``cells``, in cell order."""
        starts, counts = self.cell_start[cells], self.cell_count[cells]
        total = int(counts.sum())
        if total == 0:
            return torch.zeros(0, dtype=torch.int64)
        offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        return torch.from_numpy(offsets + np.arange(total, dtype=np.int64))

    @torch.no_grad()
    def render(self, camera: PinholeCamera, T_world_cam: np.ndarray) -> CloudView:
        """Render the cloud at ``T_world_cam`` with ``camera``.

        Args:
            camera: intrinsics (and distortion) of the virtual camera; image size
                ``camera.width x camera.height``.
            T_world_cam: (4, 4) camera-to-world pose (OpenCV optical frame), metres.

        Returns:
            CloudView (holes: black, depth 0, coords NaN).
        """
        T_world_cam = np.asarray(T_world_cam, dtype=np.float64)
        if T_world_cam.shape != (4, 4) or not np.all(np.isfinite(T_world_cam)):
            raise ValueError(f'T_world_cam must be a finite (4, 4) matrix, got {T_world_cam}')
        H, W = camera.height, camera.width
        T_cam_world = invert(T_world_cam)
        index = self._gather(self._visible_cells(camera, T_cam_world))
        zbuf = torch.full((H * W,), _NO_KEY, dtype=torch.int64)
        bits, drawn = 1, index[:0]
        if len(index):
            pts_world = self.points_n3.index_select(0, index)
            R = torch.from_numpy(T_cam_world[:3, :3].T.astype(np.float32))
            t = torch.from_numpy(T_cam_world[:3, 3].astype(np.float32))
            pts_cam = torch.addmm(t, pts_world, R)
            del pts_world
            z = pts_cam[:, 2]
            front = z > self.cfg.near_m
            if camera.is_distorted:
                uv, _ = camera.project(pts_cam.double().numpy())
                uv = np.where(np.isfinite(uv) & front.numpy()[:, None], uv, -1e6)
                u, v = (torch.from_numpy(uv[:, k].astype(np.float32)) for k in range(2))
            else:
                inv_z = torch.reciprocal(z)
                u = pts_cam[:, 0].mul(inv_z).mul_(camera.fx).add_(camera.cx)
                v = pts_cam[:, 1].mul(inv_z).mul_(camera.fy).add_(camera.cy)
            u.round_()
            v.round_()
            drawn = index
            bits = max(1, int(len(index)).bit_length())
            keys = z.mul(1.0 / DEPTH_QUANTUM_M).round_().to(torch.int64).clamp_(min=1)
            keys.bitwise_left_shift_(bits).bitwise_or_(torch.arange(len(index)))
            # One-pixel splats: every point, invalid ones masked with the largest key.
            inside = front & (u >= 0) & (u <= W - 1) & (v >= 0) & (v <= H - 1)
            pix = v.mul(W).add_(u).to(torch.int64).masked_fill_(~inside, 0)
            zbuf.scatter_reduce_(0, pix, keys.masked_fill(~inside, _NO_KEY), reduce='amin')
            # Larger splats: only the near points whose surfel spans more than one pixel.
            reach = self.radius_n.index_select(0, index).mul_(
                2.0 * self.cfg.splat_scale * camera.fx)
            big = torch.nonzero(front & (reach > z)).squeeze(1)
            if len(big):
                size = torch.ceil(reach[big] / z[big]).clamp_(1, self.cfg.max_splat_px)
                self._splat(zbuf, u[big].to(torch.int64), v[big].to(torch.int64), keys[big],
                            size.to(torch.int64), H, W)
        covered = torch.nonzero(zbuf != _NO_KEY).squeeze(1)
        rgb = np.zeros((H * W, 3), np.uint8)
        depth = np.zeros(H * W, np.float32)
        coords = np.full((H * W, 3), np.nan, np.float32)
        if len(covered):
            local = zbuf[covered] & ((1 << bits) - 1)
            point = drawn[local]
            cov = covered.numpy()
            rgb[cov] = self.colours_n3[point.numpy()]
            depth[cov] = z[local].numpy()
            coords[cov] = self.points_n3[point].numpy()
        valid = depth > 0
        return CloudView(rgb.reshape(H, W, 3), depth.reshape(H, W), coords.reshape(H, W, 3),
                         valid.reshape(H, W))

    @staticmethod
    def _splat(zbuf, ui, vi, keys, size, H, W):
        """Scatter square splats of side ``size`` > 1 into ``zbuf`` (amin), by block levels.

        A splat of side ``s`` fills the ``s x s`` block of a grid of pitch ``s`` that holds its
        centre pixel (one scatter into an ``H/s x W/s`` buffer, then the buffer is enlarged
        ``s`` times and merged with ``amin``): one write per point instead of ``s^2``, at the
        price of snapping the splat to the grid (shifted by at most ``s - 1`` pixels).
        """
        for s in range(2, int(size.max()) + 1):
            sel = torch.nonzero(size == s).squeeze(1)
            if len(sel) == 0:
                continue
            hb, wb = -(-H // s), -(-W // s)
            bu = torch.div(ui[sel], s, rounding_mode='floor')
            bv = torch.div(vi[sel], s, rounding_mode='floor')
            ok = (bu >= 0) & (bu < wb) & (bv >= 0) & (bv < hb)
            level = torch.full((hb * wb,), _NO_KEY, dtype=torch.int64)
            level.scatter_reduce_(0, (bv * wb + bu)[ok], keys[sel][ok], reduce='amin')
            full = level.view(hb, wb).repeat_interleave(s, 0).repeat_interleave(s, 1)[:H, :W]
            torch.minimum(zbuf, full.reshape(-1), out=zbuf)


# -- view sampling -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ViewConfig:
    """Distribution of the virtual camera poses (map frame z-up, metres and degrees).

    Attributes:
        height_m: (low, high) camera height above the floor (the cloud's 1st percentile of z).
        pitch_deg: (mean, amplitude) pitch of the optical axis (negative looks down).
        roll_deg: roll amplitude.
        clearance_m: the camera keeps this distance from the cloud's occupied voxels.
        min_coverage: a view is kept when its render covers at least this fraction.
        voxel_m: occupancy voxel side (inside / clearance tests).
        trajectory_sigma_m: with a trajectory: position noise (std per axis).
        trajectory_yaw_deg: with a trajectory: yaw noise amplitude (uniform).
        max_tries: candidate poses per requested view before giving up.
    """

    height_m: Tuple[float, float] = (1.0, 1.8)
    pitch_deg: Tuple[float, float] = (-8.0, 12.0)
    roll_deg: float = 3.0
    clearance_m: float = 0.3
    min_coverage: float = 0.6
    voxel_m: float = 0.2
    trajectory_sigma_m: float = 0.3
    trajectory_yaw_deg: float = 30.0
    max_tries: int = 50


def look_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Return ``R_world_cam`` (3, 3), an OpenCV optical frame in a z-up world, from angles.

    Args:
        yaw: heading of the optical axis about +z, radians (0 = +x).
        pitch: elevation of the optical axis, radians (negative looks down).
        roll: rotation about the optical axis, radians.
    """
    fwd = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw),
                    math.sin(pitch)])
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    c, s = math.cos(roll), math.sin(roll)
    return np.stack([c * right + s * down, -s * right + c * down, fwd], axis=1)


class Occupancy:
    """Boolean voxel grid of a cloud (inside-the-scan and clearance tests)."""

    def __init__(self, points_n3: np.ndarray, voxel_m: float):
        """Voxelize ``points_n3`` (N, 3) metres; the voxel grows until the grid has < 64 M."""
        lo = points_n3.min(axis=0).astype(np.float64)
        hi = points_n3.max(axis=0).astype(np.float64)
        while np.prod(np.ceil((hi - lo) / voxel_m) + 1) > 64e6:
            voxel_m *= 1.5
        self.voxel_m, self.lo = voxel_m, lo
        self.dims = (np.floor((hi - lo) / voxel_m) + 1).astype(np.int64)
        keys = np.floor((points_n3 - lo) / voxel_m).astype(np.int64)
        self.grid = np.zeros(self.dims, bool)
        self.grid[keys[:, 0], keys[:, 1], keys[:, 2]] = True

    def occupied(self, points_m3: np.ndarray) -> np.ndarray:
        """Tell which points fall in occupied voxels: (M,) bool, False outside the grid."""
        keys = np.floor((np.atleast_2d(points_m3) - self.lo) / self.voxel_m).astype(np.int64)
        inside = np.all((keys >= 0) & (keys < self.dims), axis=1)
        out = np.zeros(len(keys), bool)
        k = keys[inside]
        out[inside] = self.grid[k[:, 0], k[:, 1], k[:, 2]]
        return out

    def clear(self, p: np.ndarray, radius_m: float) -> bool:
        """Return True when no occupied voxel lies within ``radius_m`` (a cube) of ``p``."""
        steps = np.arange(-radius_m, radius_m + 1e-9, self.voxel_m * 0.5)
        grid = np.stack(np.meshgrid(steps, steps, steps, indexing='ij'), -1).reshape(-1, 3)
        return not self.occupied(p + grid).any()

    def enclosed(self, p: np.ndarray, directions: int = 8, max_range_m: float = 50.0) -> bool:
        """Return True when horizontal rays from ``p`` in ``directions`` directions all hit."""
        angles = np.arange(directions) * (2.0 * np.pi / directions)
        d = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], 1)
        steps = np.arange(self.voxel_m * 0.5, max_range_m, self.voxel_m * 0.5)
        samples = p + d[:, None, :] * steps[None, :, None]
        hits = self.occupied(samples.reshape(-1, 3)).reshape(directions, len(steps))
        return bool(hits.any(axis=1).all())


def sample_views(renderer: CloudRenderer, cloud: ColoredCloud, camera: PinholeCamera, n: int,
                 cfg: ViewConfig = ViewConfig(), seed: int = 0,
                 trajectory: Optional[np.ndarray] = None, progress: bool = False):
    """Draw ``n`` virtual camera poses and render them (see the module docstring).

    Args:
        renderer: the cloud's renderer.
        cloud: the cloud (for the floor height, extent and occupancy).
        camera: the virtual camera.
        n: number of views.
        cfg: pose distribution.
        seed: seed of the pose generator.
        trajectory: optional (M, 4, 4) rough ``T_world_cam`` poses to sample around.
        progress: show a tqdm bar.

    Yields:
        ``(T_world_cam (4, 4) float64, CloudView)``.

    Raises:
        ValueError: when ``cfg.max_tries * n`` candidates give fewer than ``n`` views.
    """
    rng = np.random.default_rng(seed)
    points = cloud.points_n3
    sub = points[rng.choice(len(points), min(len(points), 2_000_000), replace=False)]
    occupancy = Occupancy(sub, cfg.voxel_m)
    floor = float(np.percentile(sub[:, 2], 1.0))
    lo, hi = np.percentile(sub[:, :2], 0.5, axis=0), np.percentile(sub[:, :2], 99.5, axis=0)
    bar = tqdm(total=n, unit='view', desc='render-cloud', disable=not progress,
               file=sys.stderr)
    made, tries = 0, 0
    try:
        while made < n:
            tries += 1
            if tries > cfg.max_tries * n:
                raise ValueError(f'only {made} of {n} views passed the checks in {tries - 1} '
                                 'candidates: is the cloud an enclosed space seen from inside '
                                 '(z up, metres)? Relax --min-coverage or give a trajectory')
            if trajectory is None:
                p = np.array([rng.uniform(lo[0], hi[0]), rng.uniform(lo[1], hi[1]),
                              floor + rng.uniform(*cfg.height_m)])
                yaw = rng.uniform(-np.pi, np.pi)
                pitch = np.radians(cfg.pitch_deg[0] + rng.uniform(-1, 1) * cfg.pitch_deg[1])
                R = look_rotation(yaw, pitch, np.radians(rng.uniform(-1, 1) * cfg.roll_deg))
                if not occupancy.enclosed(p):
                    continue
            else:
                T0 = trajectory[rng.integers(len(trajectory))]
                p = T0[:3, 3] + rng.normal(0.0, cfg.trajectory_sigma_m, 3)
                fwd = T0[:3, 2]
                yaw = math.atan2(fwd[1], fwd[0]) + np.radians(
                    rng.uniform(-1, 1) * cfg.trajectory_yaw_deg)
                pitch = math.asin(np.clip(fwd[2], -1, 1)) + np.radians(
                    rng.uniform(-1, 1) * cfg.pitch_deg[1] * 0.5)
                R = look_rotation(yaw, pitch, np.radians(rng.uniform(-1, 1) * cfg.roll_deg))
            if not occupancy.clear(p, cfg.clearance_m):
                continue
            T_world_cam = make_T(R, p)
            view = renderer.render(camera, T_world_cam)
            if view.coverage < cfg.min_coverage:
                continue
            made += 1
            bar.update(1)
            yield T_world_cam, view
    finally:
        bar.close()


def render_cloud_dataset(cloud_path: Union[str, Path], camera: PinholeCamera,
                         out: Union[str, Path], views: int, view_cfg: ViewConfig = ViewConfig(),
                         splat_cfg: SplatConfig = SplatConfig(), seed: int = 0,
                         trajectory: Optional[np.ndarray] = None, write_coords: bool = True,
                         overwrite: bool = False, progress: bool = True,
                         scene_name: Optional[str] = None) -> Path:
    """Render ``views`` random views of a cloud into a posed-folder scene.

    The scene (``data.formats.posed_folder``) holds ``rgb/``, ``depth/`` (uint16 mm, 0 =
    hole), ``poses.txt`` (``T_world_cam``), ``camera.yaml`` and, with ``write_coords``,
    ``coords/<timestamp_ns>.npy`` ((H, W, 3) float32 map coordinates, NaN = hole; the loaders
    ignore it, SCR targets come from depth and pose). Every view is in the ``train`` split.

    Args:
        cloud_path: ``.ply`` / ``.pcd`` coloured cloud (map frame, z up, metres).
        camera: the virtual camera (the real camera's intrinsics).
        out: the scene folder to create (atomic).
        views: number of views.
        view_cfg: pose distribution.
        splat_cfg: renderer settings.
        seed: pose seed.
        trajectory: optional (M, 4, 4) rough poses to sample around.
        write_coords: also write per-pixel scene coordinates.
        overwrite: replace ``out``.
        progress: tqdm bar.
        scene_name: scene name (default: the folder name).

    Returns:
        The scene folder.
    """
    from pose_reloc.data.formats.posed_folder import PosedFolderWriter
    from pose_reloc.data.pointcloud import read_cloud
    from pose_reloc.data.records import synthetic_timestamp_ns
    if views < 1:
        raise ValueError(f'views must be >= 1, got {views}')
    cloud = read_cloud(cloud_path)
    renderer = CloudRenderer(cloud, splat_cfg)
    metadata = {'generator': 'pose_reloc.data.cloud_render', 'cloud': str(cloud_path),
                'points': len(cloud), 'seed': int(seed), 'views': int(views),
                'view_config': _asdict(view_cfg), 'splat_config': _asdict(splat_cfg),
                'trajectory_poses': 0 if trajectory is None else int(len(trajectory))}
    with PosedFolderWriter(out, camera, scene_name=scene_name, overwrite=overwrite,
                           metadata=metadata) as writer:
        for i, (T_world_cam, view) in enumerate(sample_views(
                renderer, cloud, camera, views, view_cfg, seed, trajectory, progress)):
            stamp = synthetic_timestamp_ns(1, i)
            writer.add(stamp, T_world_cam, view.rgb, view.depth, split='train',
                       sequence='renders')
            if write_coords:
                folder = writer.partial_dir / 'coords'
                folder.mkdir(exist_ok=True)
                np.save(folder / f'{stamp}.npy', view.coords)
    return Path(out)


def _asdict(cfg) -> dict:
    import dataclasses
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(cfg).items()}
