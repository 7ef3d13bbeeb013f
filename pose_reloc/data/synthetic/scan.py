# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Scan domain (DANCE's synthetic domain): a coloured point cloud and its splat renders.

:func:`scan_scene` simulates a terrestrial laser scan with a colour camera: a few scanner
stations, each casting a cube map of rays into the scene (exact hits, range noise along
the ray, no returns at grazing angles or beyond the range, blob-shaped dropouts where a
real scanner misses surfaces), coloured from the shaded scene through the scanner's own
colour response (per-scan channel gains, desaturation, exposure). Stations are merged and
thinned to one point per voxel. The cloud therefore has the density pattern of a real
scan: dense near the stations, sparse far away, empty in their occlusion shadows.

:func:`render_scan` renders the cloud at a camera pose: points are projected (with the
camera's distortion) and drawn as square splats whose size follows their distance, with
a z-buffer (``np.minimum.at`` on packed depth|index keys). A splat covers its point's
footprint (the scan's local spacing: range times the scanner's angular step over the
incidence cosine, at least a voxel), clamped to ``splat_px``. Pixels no splat covers are
holes (black, depth 0); sparse foreground lets background splats show through (splat
artefacts). Depth is the z-depth of the winning splat's point, metres.
"""

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from pose_reloc.data.synthetic import textures as tx
from pose_reloc.data.synthetic.presets import ScanConfig
from pose_reloc.data.synthetic.raycast import render
from pose_reloc.data.synthetic.scene import stream_rng, STREAM_SCAN, SyntheticScene
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.se3 import invert, make_T

#: cube-map face rotations ``R_layout_cam`` (columns: right, down, forward).
_CUBE_FACES = tuple(np.array(R, np.float64).T for R in (
    [[0, -1, 0], [0, 0, -1], [1, 0, 0]],     # +x
    [[0, 1, 0], [0, 0, -1], [-1, 0, 0]],     # -x
    [[1, 0, 0], [0, 0, -1], [0, 1, 0]],      # +y
    [[-1, 0, 0], [0, 0, -1], [0, -1, 0]],    # -y
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]],       # +z (up)
    [[1, 0, 0], [0, -1, 0], [0, 0, -1]],     # -z (down)
))


@dataclass
class PointCloud:
    """A coloured point cloud of a scene.

    Attributes:
        points_n3: (N, 3) float32 points in the scene's layout frame, metres.
        colours_n3: (N, 3) uint8 RGB.
        normals_n3: (N, 3) float32 unit surface normals (layout frame, towards the scanner).
        footprint_n: (N,) float32 local point spacing (splat size), metres.
        T_world_layout: (4, 4) layout-to-world transform of the scene.
        metadata: JSON-serializable description (stations, counts, colour cast).
    """

    points_n3: np.ndarray
    colours_n3: np.ndarray
    normals_n3: np.ndarray
    footprint_n: np.ndarray
    T_world_layout: np.ndarray
    metadata: dict
    _xyz_3n: np.ndarray = field(init=False, repr=False)
    _nrm_3n: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        """Keep coordinate-major copies (3, N) for fast per-frame transforms."""
        self._xyz_3n = np.ascontiguousarray(self.points_n3.T, np.float32)
        self._nrm_3n = np.ascontiguousarray(self.normals_n3.T, np.float32)

    def points_world(self) -> np.ndarray:
        """(N, 3) float64 points in the world frame, metres."""
        T = self.T_world_layout
        return self.points_n3.astype(np.float64) @ T[:3, :3].T + T[:3, 3]


def _stations(scene: SyntheticScene, cfg: ScanConfig, rng):
    n = int(rng.integers(cfg.scanners[0], cfg.scanners[1] + 1))
    lo, hi = scene.room_lo, scene.room_hi
    height = (1.0, 1.7) if scene.kind == 'indoor' else (1.5, 2.0)
    out = []
    for _ in range(500):
        if len(out) == n:
            break
        p = np.array([rng.uniform(lo[0] + 0.5, hi[0] - 0.5), rng.uniform(lo[1] + 0.5, hi[1] - 0.5),
                      rng.uniform(*height)])
        if scene.clearance(p[None], walkable=True)[0] >= 0.5:
            out.append(p)
    if len(out) < n:
        raise ValueError(f'scene {scene.name}: found only {len(out)} of {n} scanner stations')
    return out


def scan_scene(scene: SyntheticScene, cfg: ScanConfig, seed: int, index: int) -> PointCloud:
    """Simulate a coloured laser scan of a scene (see the module docstring).

    Args:
        scene: the scene.
        cfg: scan settings.
        seed: dataset seed.
        index: scene number (with ``seed``, selects the random stream).

    Returns:
        PointCloud in the layout frame.
    """
    if cfg.face_size < 8 or cfg.voxel_m <= 0:
        raise ValueError(f'scan: face_size must be >= 8 and voxel_m > 0, got {cfg.face_size}, '
                         f'{cfg.voxel_m}')
    rng = stream_rng(seed, index, STREAM_SCAN)
    n = cfg.face_size
    face_cam = PinholeCamera(n, n, n / 2.0, n / 2.0, (n - 1) / 2.0, (n - 1) / 2.0)
    cast = 1.0 + rng.uniform(-cfg.colour_cast, cfg.colour_cast, 3)
    saturation = rng.uniform(0.6, 0.9)
    exposure = rng.uniform(0.8, 1.2)
    v, u = np.mgrid[0:n, 0:n].astype(np.float64)
    rays = np.stack([(u - face_cam.cx) / face_cam.fx, (v - face_cam.cy) / face_cam.fy,
                     np.ones_like(u)], -1)
    stations = _stations(scene, cfg, rng)
    points, colours, footprints, normals = [], [], [], []
    pixel_angle = 2.0 / n
    for station in stations:
        for R in _CUBE_FACES:
            T_world_cam = scene.T_world_layout @ make_T(R, station)
            out = render(scene, face_cam, T_world_cam, shade=True, supersample=1)
            ok = (out.surface >= 0) & (out.distance <= cfg.max_range_m)
            sid = np.where(ok, out.surface, 0)
            d_layout = (rays / np.linalg.norm(rays, axis=-1, keepdims=True)) @ R.T
            cos = np.abs(np.einsum('hwk,hwk->hw', d_layout, scene.surf_normal_s3[sid]))
            ok &= cos > 0.12
            if cfg.dropout > 0:
                blobs = tx.value_noise(rng, n, n, n / 6.0, 3)
                ok &= blobs > np.quantile(blobs, cfg.dropout)
            rng_noise = rng.normal(0.0, cfg.range_noise_m, (n, n))
            dist = out.distance.astype(np.float64) + rng_noise
            p_layout = station + d_layout * dist[..., None]
            rgb = out.rgb * exposure
            grey = rgb.mean(axis=-1, keepdims=True)
            rgb = (grey + saturation * (rgb - grey)) * cast
            rgb8 = (np.clip(rgb, 0.0, 1.0) ** (1.0 / 2.2) * 255.0 + 0.5).astype(np.uint8)
            spacing = dist * pixel_angle / np.maximum(cos, 0.25)
            points.append(p_layout[ok].astype(np.float32))
            colours.append(rgb8[ok])
            footprints.append(np.maximum(spacing[ok], cfg.voxel_m).astype(np.float32))
            normals.append(scene.surf_normal_s3[sid[ok]].astype(np.float32))
    pts = np.concatenate(points)
    cols = np.concatenate(colours)
    foot = np.concatenate(footprints)
    nrm = np.concatenate(normals)
    keys = np.floor(pts / cfg.voxel_m).astype(np.int64)
    keys -= keys.min(axis=0)
    dims = keys.max(axis=0) + 1
    flat = (keys[:, 0] * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2]
    _, first = np.unique(flat, return_index=True)
    first.sort()
    metadata = {'stations': [s.tolist() for s in stations], 'points': int(len(first)),
                'raw_points': int(len(pts)), 'colour_cast': cast.tolist(),
                'saturation': float(saturation), 'exposure': float(exposure)}
    return PointCloud(pts[first], cols[first], nrm[first], foot[first],
                      scene.T_world_layout.copy(), metadata)


def render_scan(cloud: PointCloud, camera: PinholeCamera, T_world_cam: np.ndarray,
                cfg: ScanConfig):
    """Render a point cloud with z-buffered square splats.

    Args:
        cloud: the point cloud.
        camera: intrinsics (distortion applied when projecting).
        T_world_cam: (4, 4) camera-to-world pose.
        cfg: scan settings (``splat_scale``, ``splat_px``).

    Returns:
        Tuple ``(rgb, depth)``: (H, W, 3) uint8 RGB (holes black) and (H, W) float32
        z-depth in metres (0 = hole).
    """
    T_cam_layout = invert(np.asarray(T_world_cam, np.float64)) @ cloud.T_world_layout
    R = T_cam_layout[:3, :3].astype(np.float32)
    t = T_cam_layout[:3, 3].astype(np.float32)
    X, Y, Z = cloud._xyz_3n
    x = X * R[0, 0] + Y * R[0, 1] + Z * R[0, 2] + t[0]
    y = X * R[1, 0] + Y * R[1, 1] + Z * R[1, 2] + t[1]
    z = X * R[2, 0] + Y * R[2, 1] + Z * R[2, 2] + t[2]
    half_w = (max(camera.cx, camera.width - camera.cx) + cfg.splat_px[1]) / camera.fx * 1.3
    half_h = (max(camera.cy, camera.height - camera.cy) + cfg.splat_px[1]) / camera.fy * 1.3
    keep = (z > 0.05) & (np.abs(x) < half_w * z) & (np.abs(y) < half_h * z)
    idx = np.nonzero(keep)[0]
    H, W = camera.height, camera.width
    rgb = np.zeros((H, W, 3), np.uint8)
    depth = np.zeros((H, W), np.float32)
    if len(idx) == 0:
        return rgb, depth
    pts = np.stack([x[idx], y[idx], z[idx]], 1)
    uv, _valid = camera.project(pts.astype(np.float64))
    zi = z[idx]
    foot = cloud.footprint_n[idx]
    size = np.clip(np.ceil(cfg.splat_scale * foot * camera.fx / zi), cfg.splat_px[0],
                   cfg.splat_px[1]).astype(np.int64)
    u0 = np.round(uv[:, 0]).astype(np.int64)
    v0 = np.round(uv[:, 1]).astype(np.int64)
    # Each splat is a small planar disc (surfel): the depth at a covered pixel is where the
    # pixel's ray meets the point's tangent plane, within a few footprints of the point.
    NX, NY, NZ = (c[idx] for c in cloud._nrm_3n)
    n_cam = np.stack([NX * R[k, 0] + NY * R[k, 1] + NZ * R[k, 2] for k in range(3)], 1)
    plane = np.einsum('nk,nk->n', n_cam, pts)
    rays = _pixel_rays(camera)
    idx_bits = max(1, int(len(idx)).bit_length())
    max_q = (1 << (62 - idx_bits)) - 1
    zbuf = np.full(H * W, np.iinfo(np.int64).max, np.int64)
    front = plane < 0.0  # back-facing surfels (normal away from the camera) are not drawn
    for s in range(int(size.min()), int(size.max()) + 1):
        sel = np.nonzero((size == s) & front)[0]
        if len(sel) == 0:
            continue
        offs = np.arange(s) - (s - 1) // 2
        du, dv = (o.reshape(1, -1) for o in np.meshgrid(offs, offs))
        uu = (u0[sel, None] + du).reshape(-1)
        vv = (v0[sel, None] + dv).reshape(-1)
        owner = np.repeat(sel, s * s)
        inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
        owner, pix = owner[inside], vv[inside] * W + uu[inside]
        r = rays[pix]
        nc = n_cam[owner]
        denom = nc[:, 0] * r[:, 0] + nc[:, 1] * r[:, 1] + nc[:, 2] * r[:, 2]
        zp = zi[owner]
        with np.errstate(divide='ignore', invalid='ignore'):
            zf = np.where(np.abs(denom) > 0.2, plane[owner] / denom, zp)
        reach = 2.0 * foot[owner]
        zf = np.clip(zf, zp - reach, zp + reach)
        depth_q = np.clip(np.round(zf * 1e4).astype(np.int64), 1, max_q)
        np.minimum.at(zbuf, pix, (depth_q << idx_bits) | owner)
    covered = np.nonzero(zbuf != np.iinfo(np.int64).max)[0]
    winner = zbuf[covered] & ((1 << idx_bits) - 1)
    rgb.reshape(-1, 3)[covered] = cloud.colours_n3[idx[winner]]
    depth.reshape(-1)[covered] = (zbuf[covered] >> idx_bits).astype(np.float32) * 1e-4
    return rgb, depth


@lru_cache(maxsize=8)
def _pixel_rays(camera: PinholeCamera) -> np.ndarray:
    """(H * W, 3) float32 undistorted pixel rays with z = 1 (read-only, cached)."""
    rays = camera.pixel_rays().reshape(-1, 3).astype(np.float32)
    rays.setflags(write=False)
    return rays
