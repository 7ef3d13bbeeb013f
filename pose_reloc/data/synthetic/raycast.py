# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Exact, vectorized ray casting of synthetic scenes (numpy): RGB, metric depth, surface ids.

Every pixel's ray (the camera's undistorted ray, so plumb_bob lenses are exact) is
intersected with the room box from inside and with every furniture box from outside by the
slab method. Rays of one camera share their origin, so a box only needs the rays inside
its projected bounding rectangle: the caster slices that block of the ray grid (per-row and
per-column bounds of the ideal image coordinates make this exact for distorted cameras too).

Colour is the mip-mapped, bilinear texture albedo, optionally Lambert-shaded by the
scene's point lights (falloff ``1 / (1 + (d / d0)^2)``), ambient light and sun (no cast
shadows). Anti-aliasing is adaptive supersampling: pixels on a geometric edge (a different
surface id next to them) are re-cast with ``supersample x supersample`` sub-pixel rays and
averaged; textures are filtered by their mip-maps. Depth and surface ids always come from
the pixel-centre ray, so depth is exact (no mixed depths at edges).

Depth is z-depth along the optical axis (what ``geometry.camera.depth_to_scene_coords``
expects), in metres, ``0`` where the ray leaves the scene (sky).
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

from pose_reloc.data.synthetic.scene import SyntheticScene
from pose_reloc.geometry.camera import PinholeCamera

_EPS_T = 1e-4
_MIN_COS = 0.15


@dataclass
class RenderOutput:
    """What one render returns.

    Attributes:
        rgb: (H, W, 3) float32 linear radiance (shaded) or albedo, about [0, 1]; None when
            colour was not requested.
        depth: (H, W) float32 z-depth along the optical axis, metres, 0 = no surface (sky).
        distance: (H, W) float32 distance along the pixel-centre ray, metres, inf = sky.
        surface: (H, W) int32 surface id of the pixel centre (see ``scene``), -1 = sky.
    """

    rgb: Optional[np.ndarray]
    depth: np.ndarray
    distance: np.ndarray
    surface: np.ndarray


@dataclass(frozen=True)
class _RayGrid:
    dirs_cam: np.ndarray      # (H, W, 3) float32 unit rays, camera frame
    col_lo: np.ndarray        # (W,) min x/z over each column
    col_hi: np.ndarray
    row_lo: np.ndarray        # (H,) min y/z over each row
    row_hi: np.ndarray


@lru_cache(maxsize=16)
def _ray_grid(camera: PinholeCamera) -> _RayGrid:
    rays = camera.pixel_rays()
    xn, yn = rays[..., 0], rays[..., 1]
    unit = rays / np.linalg.norm(rays, axis=-1, keepdims=True)
    return _RayGrid(unit.astype(np.float32), xn.min(0), xn.max(0), yn.min(1), yn.max(1))


def subpixel_rays(camera: PinholeCamera, uv_n2: np.ndarray) -> np.ndarray:
    """Return unit viewing rays (camera frame) through arbitrary pixels, undistorted.

    Args:
        camera: the camera.
        uv_n2: (N, 2) pixel coordinates (OpenCV convention, centres at integers).

    Returns:
        (N, 3) float32 unit rays.
    """
    uv = camera.undistort_points(uv_n2)
    rays = np.stack([(uv[:, 0] - camera.cx) / camera.fx, (uv[:, 1] - camera.cy) / camera.fy,
                     np.ones(len(uv))], 1)
    return (rays / np.linalg.norm(rays, axis=1, keepdims=True)).astype(np.float32)


@lru_cache(maxsize=8)
def _subpixel_table(camera: PinholeCamera, s: int) -> np.ndarray:
    """(H, W, s * s, 3) float32 unit rays of the s x s sub-pixel samples of every pixel."""
    offs = (np.arange(s) + 0.5) / s - 0.5
    ox, oy = np.meshgrid(offs, offs)
    v, u = np.mgrid[0:camera.height, 0:camera.width].astype(np.float64)
    uv = np.stack([u[..., None] + ox.reshape(-1), v[..., None] + oy.reshape(-1)], -1)
    table = subpixel_rays(camera, uv.reshape(-1, 2)).reshape(camera.height, camera.width,
                                                             s * s, 3)
    table.setflags(write=False)
    return table


def _inv(d):
    # +0.0 turns -0.0 into +0.0, so that zero components give +inf consistently.
    with np.errstate(divide='ignore'):
        return np.float32(1.0) / (d + np.float32(0.0))


def _room_hits(scene: SyntheticScene, o, d3):
    """Exit distance and face of rays leaving the room box from inside.

    Args:
        scene: the scene.
        o: (3,) float64 ray origin (layout).
        d3: tuple of three equally shaped float32 arrays, the ray direction components.

    Returns:
        (t, sid): float32 distances (inf through an open top) and int32 surface ids.
    """
    t_axis = []
    for a in range(3):
        d = d3[a]
        lo = np.float32(scene.room_lo[a] - o[a])
        hi = np.float32(scene.room_hi[a] - o[a])
        with np.errstate(invalid='ignore'):
            t_axis.append(np.where(d >= 0, hi, lo) * _inv(d))
    tx, ty, tz = t_axis
    x_min = (tx <= ty) & (tx <= tz)
    y_min = ~x_min & (ty <= tz)
    t = np.minimum(np.minimum(tx, ty), tz)
    sid = np.where(x_min, (d3[0] > 0).astype(np.int32),
                   np.where(y_min, 2 + (d3[1] > 0), 4 + (d3[2] > 0))).astype(np.int32)
    if scene.open_top:
        sky = sid == 5
        sid[sky] = -1
        t[sky] = np.inf
    return t, sid


def _box_local(box_R, d3):
    """Ray directions in a box frame, component arrays (reuses d_z for yawed boxes)."""
    R = box_R.astype(np.float32)
    dx, dy, dz = d3
    lx = dx * R[0, 0] + dy * R[1, 0]
    ly = dx * R[0, 1] + dy * R[1, 1]
    if R[2, 0] != 0 or R[2, 1] != 0 or R[2, 2] != 1:
        lx += dz * R[2, 0]
        ly += dz * R[2, 1]
        lz = dx * R[0, 2] + dy * R[1, 2] + dz * R[2, 2]
    else:
        lz = dz
    return lx, ly, lz


def _box_hits(o_local, half, l3, t_cur):
    """Slab test of rays against a box in its own frame.

    Args:
        o_local: (3,) ray origin in the box frame.
        half: (3,) half extents.
        l3: three component arrays of the ray directions in the box frame.
        t_cur: current nearest distances (same shape).

    Returns:
        (t_near, hit): float32 entry distances and a bool mask of rays entering the box in
        front of the origin and nearer than ``t_cur``.
    """
    t_near = t_far = None
    for a in range(3):
        inv = _inv(l3[a])
        with np.errstate(invalid='ignore'):
            ta = inv * np.float32(-half[a] - o_local[a])
            tb = inv * np.float32(half[a] - o_local[a])
        lo, hi = np.minimum(ta, tb), np.maximum(ta, tb)
        t_near = lo if t_near is None else np.maximum(t_near, lo)
        t_far = hi if t_far is None else np.minimum(t_far, hi)
    hit = (t_near <= t_far) & (t_near > _EPS_T) & (t_near < t_cur)
    return t_near, hit


def _entry_face(o_local, half, l3, t_near):
    """Face index (0..5: -x, +x, -y, +y, -z, +z) through which hit rays enter a box."""
    best = None
    face = None
    for a in range(3):
        p = o_local[a] + l3[a] * t_near
        dist = np.abs(np.abs(p) - np.float32(half[a]))
        f = 2 * a + (p > 0)
        if best is None:
            best, face = dist, f.astype(np.int32)
        else:
            closer = dist < best
            best = np.where(closer, dist, best)
            face = np.where(closer, f, face)
    return face


def _cast_grid(scene: SyntheticScene, grid: _RayGrid, R_layout_cam, o_layout):
    """Intersect a full camera ray grid.

    Returns:
        (t (H, W) float32, sid (H, W) int32, (dx, dy, dz) layout ray components (H, W)).
    """
    R = R_layout_cam.astype(np.float32)
    dc = grid.dirs_cam
    d3 = tuple(dc[..., 0] * R[a, 0] + dc[..., 1] * R[a, 1] + dc[..., 2] * R[a, 2]
               for a in range(3))
    t, sid = _room_hits(scene, o_layout, d3)
    H, W = t.shape
    R_cam_layout = R_layout_cam.T
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    for b, box in enumerate(scene.boxes):
        corners = box.center + (signs * box.half) @ box.R.T
        corners_cam = (corners - o_layout) @ R_cam_layout.T
        z = corners_cam[:, 2]
        if np.all(z <= 0.0):
            continue
        if np.all(z > 1e-3):
            xn, yn = corners_cam[:, 0] / z, corners_cam[:, 1] / z
            cols = np.nonzero((grid.col_hi >= xn.min()) & (grid.col_lo <= xn.max()))[0]
            rows = np.nonzero((grid.row_hi >= yn.min()) & (grid.row_lo <= yn.max()))[0]
            if len(cols) == 0 or len(rows) == 0:
                continue
            win = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        else:
            win = (slice(0, H), slice(0, W))
        o_local = (o_layout - box.center) @ box.R
        l3 = _box_local(box.R, tuple(d[win] for d in d3))
        t_win = t[win]
        t_near, hit = _box_hits(o_local, box.half, l3, t_win)
        rr, cc = np.nonzero(hit)
        if len(rr) == 0:
            continue
        tn = t_near[rr, cc]
        face = _entry_face(o_local, box.half, tuple(c[rr, cc] for c in l3), tn)
        t_win[rr, cc] = tn
        sid[win][rr, cc] = 6 + 6 * b + face
    return t, sid, d3


def cast_rays(scene: SyntheticScene, origin_layout: np.ndarray, dirs_layout_n3: np.ndarray):
    """Intersect arbitrary rays from one origin with the scene.

    Boxes are culled per ray by their bounding spheres.

    Args:
        scene: the scene.
        origin_layout: (3,) ray origin in the layout frame, metres (inside the room).
        dirs_layout_n3: (N, 3) unit ray directions in the layout frame.

    Returns:
        Tuple ``(distance_n, surface_n)``: (N,) float32 distances along the rays (inf for
        sky) and (N,) int32 surface ids (-1 for sky).
    """
    o = np.asarray(origin_layout, np.float64)
    d = np.asarray(dirs_layout_n3, np.float32).reshape(-1, 3)
    d3 = (d[:, 0].copy(), d[:, 1].copy(), d[:, 2].copy())
    t, sid = _room_hits(scene, o, d3)
    for b, box in enumerate(scene.boxes):
        to_c = (box.center - o).astype(np.float32)
        dist2 = float(to_c @ to_c)
        r2 = float(box.half @ box.half)
        if dist2 > r2:
            proj = d3[0] * to_c[0] + d3[1] * to_c[1] + d3[2] * to_c[2]
            idx = np.nonzero((proj > 0) & (proj * proj >= np.float32(dist2 - r2)))[0]
            if len(idx) == 0:
                continue
        else:
            idx = np.arange(len(d))
        o_local = (o - box.center) @ box.R
        l3 = _box_local(box.R, tuple(c[idx] for c in d3))
        t_near, hit = _box_hits(o_local, box.half, l3, t[idx])
        if not hit.any():
            continue
        tn = t_near[hit]
        face = _entry_face(o_local, box.half, tuple(c[hit] for c in l3), tn)
        idx = idx[hit]
        t[idx] = tn
        sid[idx] = 6 + 6 * b + face
    return t, sid


def _shade(scene, tab, p, d, sid, dist, pixel_angle, shade):
    """Colour of surface hits: mip-mapped texture albedo, optionally Lambert-shaded.

    ``p`` and ``d`` are the hit points and unit ray directions (layout frame) as three
    (N,) float32 component arrays, ``sid`` the surface ids, ``dist`` the ray distances
    (select the mip level with ``pixel_angle``). Returns (N, 3) float32 linear RGB.
    """
    def g(name):
        return np.take(tab[name], sid)

    rel = [p[k] - g('o' + 'xyz'[k]) for k in range(3)]
    inv_texel = g('inv_texel')
    x = (rel[0] * g('ux') + rel[1] * g('uy') + rel[2] * g('uz')) * inv_texel
    y = (rel[0] * g('vx') + rel[1] * g('vy') + rel[2] * g('vz')) * inv_texel
    n = [g('nx'), g('ny'), g('nz')]
    cos = np.abs(d[0] * n[0] + d[1] * n[1] + d[2] * n[2])
    footprint = dist * np.float32(pixel_angle) / np.maximum(cos, np.float32(_MIN_COS)) * inv_texel
    albedo = scene.atlas.sample(np.take(tab['tex'], sid), x, y, footprint)
    if not shade:
        return albedo
    light = np.empty_like(albedo)
    light[:] = scene.ambient_rgb.astype(np.float32)
    inv_range2 = np.float32(1.0 / scene.light_range_m ** 2)
    for pos, rgb in zip(scene.light_pos_l3.astype(np.float32),
                        scene.light_rgb_l3.astype(np.float32)):
        lx, ly, lz = pos[0] - p[0], pos[1] - p[1], pos[2] - p[2]
        dist2 = lx * lx + ly * ly + lz * lz
        lam = np.maximum(lx * n[0] + ly * n[1] + lz * n[2], 0.0) / np.sqrt(dist2 + 1e-12)
        fall = lam / (1.0 + dist2 * inv_range2)
        light += fall[:, None] * rgb
    if np.any(scene.sun_rgb):
        sd = scene.sun_dir.astype(np.float32)
        lam = np.maximum(n[0] * sd[0] + n[1] * sd[1] + n[2] * sd[2], 0.0)
        light += lam[:, None] * scene.sun_rgb.astype(np.float32)
    return albedo * light


def _colour(scene, o, d3, sid, t, pixel_angle, shade):
    """Colour of rays given as flat component arrays; returns (N, 3) float32."""
    out = np.empty((len(sid), 3), np.float32)
    hit = sid >= 0
    idx = np.nonzero(hit)[0]
    if len(idx):
        th = t[idx]
        dh = [c[idx] for c in d3]
        ph = [np.float32(o[k]) + dh[k] * th for k in range(3)]
        out[idx] = _shade(scene, scene.surface_table, ph, dh, sid[idx], th, pixel_angle, shade)
    if len(idx) < len(sid):
        sky = np.nonzero(~hit)[0]
        a = np.sqrt(np.clip(d3[2][sky], 0.0, 1.0))[:, None]
        out[sky] = ((1 - a) * scene.sky_rgb[0] + a * scene.sky_rgb[1]).astype(np.float32)
    return out


def render(scene: SyntheticScene, camera: PinholeCamera, T_world_cam: np.ndarray,
           shade: bool = True, supersample: int = 2, colour: bool = True) -> RenderOutput:
    """Render one view of a scene exactly.

    Args:
        scene: the scene.
        camera: intrinsics (plumb_bob / equidistant distortion handled exactly).
        T_world_cam: (4, 4) camera-to-world pose (OpenCV optical frame), metres.
        shade: Lambert shading with the scene's lights (False: albedo only).
        supersample: sub-pixel rays per axis on geometric edges (1 disables).
        colour: compute colour (False: depth, distance and surface ids only).

    Returns:
        RenderOutput.
    """
    T = np.asarray(T_world_cam, np.float64)
    if T.shape != (4, 4):
        raise ValueError(f'render: T_world_cam must be (4, 4), got {T.shape}')
    if supersample < 1:
        raise ValueError(f'render: supersample must be >= 1, got {supersample}')
    T_layout_cam = scene.T_layout_world @ T
    R, o = T_layout_cam[:3, :3], T_layout_cam[:3, 3]
    grid = _ray_grid(camera)
    t, sid, d3 = _cast_grid(scene, grid, R, o)
    H, W = t.shape
    depth = np.where(sid >= 0, t * grid.dirs_cam[..., 2], np.float32(0.0))
    if not colour:
        return RenderOutput(None, depth, t, sid)
    pixel_angle = 1.0 / max(camera.fx, camera.fy)
    rgb = _colour(scene, o, [c.reshape(-1) for c in d3], sid.reshape(-1), t.reshape(-1),
                  pixel_angle, shade).reshape(H, W, 3)
    if supersample > 1:
        edge = np.zeros((H, W), bool)
        dh = sid[:, 1:] != sid[:, :-1]
        dv = sid[1:, :] != sid[:-1, :]
        edge[:, 1:] |= dh
        edge[:, :-1] |= dh
        edge[1:, :] |= dv
        edge[:-1, :] |= dv
        rows, cols = np.nonzero(edge)
        if len(rows):
            s = supersample
            d_cam = _subpixel_table(camera, s)[rows, cols].reshape(-1, 3)
            d_lay = d_cam @ np.ascontiguousarray(R.T, np.float32)
            ts, ss = cast_rays(scene, o, d_lay)
            d3s = [np.ascontiguousarray(d_lay[:, k]) for k in range(3)]
            col = _colour(scene, o, d3s, ss, ts, pixel_angle / s, shade)
            rgb[rows, cols] = col.reshape(len(rows), s * s, 3).mean(1)
    return RenderOutput(rgb, depth, t, sid)
