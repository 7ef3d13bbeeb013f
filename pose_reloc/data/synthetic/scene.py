# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Synthetic scenes: a seeded layout of textured boxes inside a room or courtyard.

A scene is described in its own *layout* frame (metres, z up, the floor at z = 0, the room
spanning ``[room_lo, room_hi]``), and placed in its *world* frame by ``T_world_layout``
(a random yaw and offset per scene, so that scenes do not share coordinates). All poses
the generator writes are ``T_world_cam``.

Geometry is made of boxes, which keeps ray casting exact and fast (slab method):

- the room itself, seen from inside: four walls, floor, ceiling (no ceiling outdoors,
  where the "walls" are building facades and rays leaving through the top hit the sky);
- furniture and occluders: oriented boxes (cabinets, shelves, tables, pillars, partitions,
  crates, rugs; outdoors kiosks, benches, planters, cars, lamp posts, trees, building
  wings).

Every box face is a *surface* with a texture frame: an origin (top-left corner), unit
``u`` (to the right as seen by a viewer) and ``v`` (down) axes, and a size in metres.
Texture coordinates of a point are ``((p - origin) . u, (p - origin) . v) / texel``.

Surface ids: room faces are 0..5 in the order ``-x, +x, -y, +y, -z (floor), +z
(ceiling)``; face ``f`` of box ``b`` is ``6 + 6 b + f`` in the same order.
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import List, Tuple

import cv2
import numpy as np

from pose_reloc.data.synthetic import textures as tx
from pose_reloc.data.synthetic.presets import LayoutConfig, SynthPreset
from pose_reloc.geometry.se3 import invert, make_T

#: randomness streams of a scene (each gets its own numpy Generator).
STREAM_LAYOUT, STREAM_TEXTURE, STREAM_PATH, STREAM_PHOTO, STREAM_SCAN = 1, 2, 3, 4, 5


def stream_rng(seed: int, scene_index: int, stream: int, *extra: int) -> np.random.Generator:
    """Return the numpy Generator of one randomness source of one scene.

    Args:
        seed: the dataset seed.
        scene_index: the scene number within the dataset.
        stream: one of the ``STREAM_*`` constants.
        *extra: further integers (e.g. a sequence index) for sub-streams.

    Returns:
        A Generator seeded from ``SeedSequence([seed, scene_index, stream, *extra])``.
    """
    if seed < 0:
        raise ValueError(f'seed must be >= 0, got {seed}')
    return np.random.default_rng(np.random.SeedSequence([seed, scene_index, stream, *extra]))


def yaw_matrix(yaw: float) -> np.ndarray:
    """(3, 3) rotation about +z by ``yaw`` radians."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass
class Box:
    """An oriented box (layout frame).

    Attributes:
        center: (3,) centre, metres.
        half: (3,) half extents along the box axes, metres.
        R: (3, 3) rotation box -> layout (columns are the box axes).
        kind: what it represents (``'cabinet'``, ``'table'``, ...).
        textures: six (texture id, texel_m) pairs, faces ``-x, +x, -y, +y, -z, +z``.
    """

    center: np.ndarray
    half: np.ndarray
    R: np.ndarray
    kind: str
    textures: List[Tuple[int, float]] = field(default_factory=list)


@dataclass
class SyntheticScene:
    """A generated scene: geometry, surface texture frames, textures, lights.

    Attributes:
        name: scene name (folder name in datasets).
        kind: ``'indoor'`` or ``'outdoor'``.
        T_world_layout: (4, 4) layout-to-world transform.
        room_lo: (3,) room interior minimum corner (layout), metres.
        room_hi: (3,) room interior maximum corner (layout), metres.
        open_top: True when the room has no ceiling (sky above).
        boxes: the furniture / occluder boxes.
        surf_origin_s3: (S, 3) texture-frame origins (layout), metres.
        surf_u_s3: (S, 3) unit u axes (layout).
        surf_v_s3: (S, 3) unit v axes (layout).
        surf_normal_s3: (S, 3) unit normals facing the viewer side (layout).
        surf_size_s2: (S, 2) face size along u and v, metres.
        surf_tex_s: (S,) texture ids.
        surf_texel_s: (S,) metres per texel.
        surf_valid_s: (S,) False for faces that do not exist (an open ceiling).
        atlas: the packed textures.
        light_pos_l3: (L, 3) point-light positions (layout), metres.
        light_rgb_l3: (L, 3) point-light intensities (linear RGB at 1 m scale).
        light_range_m: falloff distance d0 in ``1 / (1 + (d / d0)^2)``, metres.
        ambient_rgb: (3,) ambient light, linear RGB.
        sun_dir: (3,) unit direction towards the sun (layout), zeros indoors.
        sun_rgb: (3,) sun intensity, linear RGB.
        sky_rgb: (2, 3) sky colour at the horizon and at the zenith, linear RGB.
        metadata: JSON-serializable description (preset, seed, sizes, counts).
    """

    name: str
    kind: str
    T_world_layout: np.ndarray
    room_lo: np.ndarray
    room_hi: np.ndarray
    open_top: bool
    boxes: List[Box]
    surf_origin_s3: np.ndarray
    surf_u_s3: np.ndarray
    surf_v_s3: np.ndarray
    surf_normal_s3: np.ndarray
    surf_size_s2: np.ndarray
    surf_tex_s: np.ndarray
    surf_texel_s: np.ndarray
    surf_valid_s: np.ndarray
    atlas: tx.TextureAtlas
    light_pos_l3: np.ndarray
    light_rgb_l3: np.ndarray
    light_range_m: float
    ambient_rgb: np.ndarray
    sun_dir: np.ndarray
    sun_rgb: np.ndarray
    sky_rgb: np.ndarray
    metadata: dict

    @cached_property
    def surface_table(self) -> dict:
        """Per-surface float32 component arrays for the renderer (computed once).

        Keys ``ox oy oz`` (origin), ``ux uy uz``, ``vx vy vz``, ``nx ny nz`` (each (S,)
        float32), ``inv_texel`` (S,) float32 texels per metre, ``tex`` (S,) int64.
        """
        out = {}
        for name, arr in (('o', self.surf_origin_s3), ('u', self.surf_u_s3),
                          ('v', self.surf_v_s3), ('n', self.surf_normal_s3)):
            for k, axis in enumerate('xyz'):
                out[name + axis] = np.ascontiguousarray(arr[:, k], np.float32)
        out['inv_texel'] = (1.0 / self.surf_texel_s).astype(np.float32)
        out['tex'] = self.surf_tex_s.astype(np.int64)
        return out

    @property
    def T_layout_world(self) -> np.ndarray:
        """(4, 4) world-to-layout transform."""
        return invert(self.T_world_layout)

    def to_layout(self, points_world_n3: np.ndarray) -> np.ndarray:
        """Map (N, 3) world points to the layout frame (metres)."""
        T = self.T_layout_world
        return np.asarray(points_world_n3, np.float64) @ T[:3, :3].T + T[:3, 3]

    def to_world(self, points_layout_n3: np.ndarray) -> np.ndarray:
        """Map (N, 3) layout points to the world frame (metres)."""
        T = self.T_world_layout
        return np.asarray(points_layout_n3, np.float64) @ T[:3, :3].T + T[:3, 3]

    def surface_distance(self, points_world_n3: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """Distance from world points to the nearest existing surface (any face rectangle).

        Args:
            points_world_n3: (N, 3) world points, metres.
            chunk: points per vectorized block.

        Returns:
            (N,) float64 distances, metres.
        """
        pts = self.to_layout(np.asarray(points_world_n3, np.float64).reshape(-1, 3))
        keep = self.surf_valid_s
        org, u, v = self.surf_origin_s3[keep], self.surf_u_s3[keep], self.surf_v_s3[keep]
        size = self.surf_size_s2[keep]
        out = np.empty(len(pts))
        for i in range(0, len(pts), chunk):
            d = pts[i:i + chunk, None, :] - org[None]
            a = np.clip(np.einsum('nsk,sk->ns', d, u), 0.0, size[None, :, 0])
            b = np.clip(np.einsum('nsk,sk->ns', d, v), 0.0, size[None, :, 1])
            closest = org[None] + a[..., None] * u[None] + b[..., None] * v[None]
            out[i:i + chunk] = np.linalg.norm(pts[i:i + chunk, None, :] - closest,
                                              axis=-1).min(axis=1)
        return out

    def clearance(self, points_layout_n3: np.ndarray, walkable: bool = False) -> np.ndarray:
        """Signed free-space clearance of layout points (negative inside a box / outside).

        Args:
            points_layout_n3: (N, 3) points in the layout frame, metres.
            walkable: measure as someone walking on the floor would: ignore floor and
                ceiling, treat boxes standing on the floor as infinitely tall prisms (you
                walk around a table, not over it) and ignore flat rugs.

        Returns:
            (N,) float64: distance to the nearest wall / floor / ceiling / box, negative for
            points outside the room or inside a box.
        """
        p = np.asarray(points_layout_n3, np.float64).reshape(-1, 3)
        lo_hi = np.concatenate([p - self.room_lo, self.room_hi - p], axis=1)
        if walkable:
            lo_hi = lo_hi[:, [0, 1, 3, 4]]
        elif self.open_top:
            lo_hi = lo_hi[:, :5]
        out = lo_hi.min(axis=1)
        for box in self.boxes:
            q = np.abs((p - box.center) @ box.R) - box.half
            if walkable:
                on_floor = box.center[2] - box.half[2] <= self.room_lo[2] + 0.05
                if on_floor and box.half[2] < 0.03:
                    continue
                if on_floor:
                    q = q[:, :2]
            outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
            inside = np.minimum(q.max(axis=1), 0.0)
            out = np.minimum(out, outside + inside)
        return out


# ----------------------------------------------------------------------------- builders


def _face_frame(center, R, half, axis, sign, inward):
    """Texture frame of one face of a box: (origin, u, v, normal, size_uv)."""
    up = R[:, 2]
    n_out = sign * R[:, axis]
    normal = -n_out if inward else n_out
    fc = center + sign * half[axis] * R[:, axis]
    if axis < 2:
        u = np.cross(-normal, up)
        v = -up
        size = np.array([2.0 * half[1 - axis], 2.0 * half[2]])
    else:
        u = R[:, 0].copy()
        v = -R[:, 1] if normal @ up > 0 else R[:, 1].copy()
        size = np.array([2.0 * half[0], 2.0 * half[1]])
    origin = fc - u * size[0] / 2.0 - v * size[1] / 2.0
    return origin, u, v, normal, size


class _TexturePool:
    """Collects textures during scene building; repeated textures share an id."""

    def __init__(self):
        self.images: List[np.ndarray] = []

    def add(self, image: np.ndarray) -> int:
        self.images.append(image)
        return len(self.images) - 1


def _rects_overlap(c1, h1, yaw1, c2, h2, yaw2, margin):
    """Separating-axis test for two yawed rectangles (xy), inflated by ``margin``."""
    axes = []
    corners = []
    for c, h, yaw in ((c1, h1, yaw1), (c2, h2, yaw2)):
        R = yaw_matrix(yaw)[:2, :2]
        axes.extend([R[:, 0], R[:, 1]])
        hh = np.asarray(h[:2]) + margin / 2.0
        sx = np.array([1, 1, -1, -1]) * hh[0]
        sy = np.array([1, -1, 1, -1]) * hh[1]
        corners.append(np.asarray(c[:2]) + np.stack([sx, sy], 1) @ R.T)
    for a in axes:
        p1, p2 = corners[0] @ a, corners[1] @ a
        if p1.max() < p2.min() or p2.max() < p1.min():
            return False
    return True


_INDOOR_KINDS = ('cabinet', 'shelf', 'table', 'pillar', 'partition', 'crate', 'rug')
_OUTDOOR_KINDS = ('kiosk', 'bench', 'planter', 'car', 'lamp', 'tree', 'wing', 'monument')


def _box_size(rng, kind, height):
    """(width, depth, height, against_wall, z0) of a furniture kind, metres."""
    u = rng.uniform
    table = {
        'cabinet': lambda: (u(0.4, 1.2), u(0.35, 0.6), u(0.8, 2.1), True, 0.0),
        'shelf': lambda: (u(0.8, 1.6), u(0.28, 0.4), u(1.6, max(1.7, min(2.2, height - 0.1))),
                          True, 0.0),
        'table': lambda: (u(0.8, 2.0), u(0.6, 1.0), u(0.72, 0.78), False, 0.0),
        'pillar': lambda: (u(0.3, 0.6), u(0.3, 0.6), height, False, 0.0),
        'partition': lambda: (u(1.0, 2.0), u(0.04, 0.08), u(1.4, 2.0), False, 0.0),
        'crate': lambda: (u(0.5, 2.0), u(0.5, 0.9), u(0.4, 0.9), False, 0.0),
        'rug': lambda: (u(1.0, 3.0), u(1.0, 2.0), 0.012, False, 0.0),
        'kiosk': lambda: (u(2.0, 4.0), u(2.0, 3.0), u(2.5, 3.2), False, 0.0),
        'bench': lambda: (u(1.5, 2.2), u(0.45, 0.6), u(0.42, 0.5), False, 0.0),
        'planter': lambda: (u(0.8, 2.0), u(0.8, 2.0), u(0.5, 0.9), False, 0.0),
        'car': lambda: (u(3.9, 4.6), u(1.7, 1.9), u(1.4, 1.6), False, 0.0),
        'lamp': lambda: (u(0.12, 0.2), u(0.12, 0.2), u(3.5, 6.0), False, 0.0),
        'tree': lambda: (u(2.5, 4.5), u(2.5, 4.5), u(1.8, 3.0), False, u(2.6, 3.6)),
        'wing': lambda: (u(4.0, 12.0), u(1.0, 4.0), u(3.0, max(3.1, height)), True, 0.0),
        'monument': lambda: (u(1.5, 3.0), u(1.5, 3.0), u(2.0, 4.0), False, 0.0),
    }
    return table[kind]()


def _place_boxes(rng: np.random.Generator, cfg: LayoutConfig, lo, hi) -> List[dict]:
    """Choose furniture kinds, sizes and collision-free placements (layout frame)."""
    outdoor = cfg.kind == 'outdoor'
    size = hi - lo
    area = size[0] * size[1]
    n_target = int(min(cfg.max_furniture, max(2, round(area * cfg.furniture_per_m2))))
    kinds = _OUTDOOR_KINDS if outdoor else _INDOOR_KINDS
    if outdoor:
        weights = np.array([1.0, 2.0, 1.5, 1.5, 1.5, 1.5, 2.0, 0.5])
    else:
        weights = np.array([2.0, 2.0, 2.0, 0.3 + 0.08 * size[:2].max(), 1.0, 1.5, 0.8])
    weights = weights / weights.sum()
    walkway = 1.5 if outdoor else 0.8
    placed: List[dict] = []
    for _ in range(n_target):
        kind = kinds[int(rng.choice(len(kinds), p=weights))]
        w, d, h, against, z0 = _box_size(rng, kind, size[2])
        for _attempt in range(30):
            if against:
                wall = int(rng.integers(0, 4))
                axis, side = wall // 2, wall % 2
                along = 1 - axis
                if size[along] < w + 0.2:
                    continue
                t = rng.uniform(lo[along] + w / 2 + 0.05, hi[along] - w / 2 - 0.05)
                c = np.zeros(3)
                c[along] = t
                inward = 1.0 if side == 0 else -1.0
                wall_pos = lo[axis] if side == 0 else hi[axis]
                c[axis] = wall_pos + inward * (d / 2.0 + 0.01)
                # Box local y points into the room.
                y_axis = np.zeros(2)
                y_axis[axis] = inward
                yaw = float(np.arctan2(y_axis[1], y_axis[0]) - np.pi / 2.0)
                margin = 0.05
            else:
                r = 0.5 * np.hypot(w, d)
                free = walkway if kind != 'rug' else 0.3
                if np.any(size[:2] < 2 * (r + free)):
                    continue
                c = np.array([rng.uniform(lo[0] + r + free, hi[0] - r - free),
                              rng.uniform(lo[1] + r + free, hi[1] - r - free), 0.0])
                yaw = float(rng.uniform(-np.pi, np.pi)) if rng.random() < 0.6 else float(
                    rng.integers(0, 4) * np.pi / 2.0 + rng.normal(0.0, 0.05))
                margin = walkway
            half = np.array([w / 2.0, d / 2.0, h / 2.0])
            c[2] = lo[2] + z0 + h / 2.0
            clash = False
            for other in placed:
                if kind == 'rug' or other['kind'] == 'rug':
                    continue
                m = min(margin, other['margin'])
                if _rects_overlap(c, half, yaw, other['center'], other['half'], other['yaw'],
                                  m):
                    clash = True
                    break
            if not clash:
                placed.append({'kind': kind, 'center': c, 'half': half, 'yaw': yaw,
                               'margin': margin})
                if kind == 'tree':  # the canopy floats: add its trunk
                    r = rng.uniform(0.12, 0.2)
                    trunk_h = z0 + 0.2
                    placed.append({'kind': 'trunk', 'center': np.array([c[0], c[1], trunk_h / 2]),
                                   'half': np.array([r, r, trunk_h / 2]), 'yaw': yaw,
                                   'margin': margin})
                break
    return placed


def _wall_texture(rng, cfg: LayoutConfig, length_m, height_m, base_tex, shared_decals,
                  outdoor):
    """Make a full-size wall (or facade) texture with decals painted in."""
    t = cfg.texel_m
    w, h = max(4, int(round(length_m / t))), max(4, int(round(height_m / t)))
    if outdoor:
        return tx.facade(rng, h, w, t)
    img = tx.tile_to(base_tex, h, w)
    if rng.random() < cfg.plain_wall_prob:
        return img
    skirting = int(0.08 / t)
    if skirting > 0 and rng.random() < 0.7:
        img[h - skirting:] = (img[h - skirting:].astype(np.float32) * 0.55).astype(np.uint8)
    n = int(rng.integers(cfg.decals_per_wall[0], cfg.decals_per_wall[1] + 1))
    for _ in range(n):
        roll = rng.random()
        if roll < 0.25 and shared_decals:
            decal = shared_decals[int(rng.integers(0, len(shared_decals)))]
        elif roll < 0.55:
            dw, dh = rng.uniform(0.4, 1.0), rng.uniform(0.5, 1.2)
            decal = tx.poster(rng, max(4, int(dh / t)), max(4, int(dw / t)))
        elif roll < 0.7:
            dw, dh = rng.uniform(1.0, 2.0), rng.uniform(0.7, 1.2)
            decal = tx.whiteboard(rng, max(4, int(dh / t)), max(4, int(dw / t)))
        elif roll < 0.85:
            dw, dh = rng.uniform(0.8, 1.0), rng.uniform(1.95, 2.1)
            decal = tx.wood(rng, max(4, int(dh / t)), max(4, int(dw / t)))
            x = int(rng.uniform(0, max(1, w - decal.shape[1])))
            tx.paste(img, decal, x, h - decal.shape[0])
            continue
        else:
            dw, dh = rng.uniform(0.3, 0.8), rng.uniform(0.2, 0.5)
            decal = np.full((max(4, int(dh / t)), max(4, int(dw / t)), 3), 235, np.uint8)
            tx.text_lines(decal, rng, 1, 1, decal.shape[1] - 1, decal.shape[0] - 1)
        x = int(rng.uniform(0, max(1, w - decal.shape[1])))
        y = int(rng.uniform(0.15 * h, max(0.15 * h + 1, 0.75 * h - decal.shape[0])))
        tx.paste(img, decal, x, y)
    return img


def _floor_texture(rng, cfg: LayoutConfig, sx, sy, outdoor):
    t = cfg.floor_texel_m
    w, h = max(4, int(round(sx / t))), max(4, int(round(sy / t)))
    if outdoor:
        tile_px = int(rng.integers(8, 16))
        img = tx.tiles(rng, h, w, tile_px).astype(np.float32)
        for _ in range(int(rng.integers(4, 12))):
            p = rng.integers(0, [w, h, w, h])
            cv2.line(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), (235, 235, 225),
                     max(1, int(0.12 / t)))
    else:
        kind = ('tiles', 'wood', 'noise', 'flat', 'checker')[int(
            rng.choice(5, p=[0.3, 0.3, 0.25, 0.1, 0.05]))]
        img = tx.material(rng, kind, h, w).astype(np.float32)
    img *= (1.0 + 0.15 * tx.value_noise(rng, h, w, 60.0, 3))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _ceiling_texture(rng, cfg: LayoutConfig, sx, sy):
    t = cfg.floor_texel_m
    w, h = max(4, int(round(sx / t))), max(4, int(round(sy / t)))
    img = tx.flat(rng, h, w, colour=np.full(3, rng.uniform(200, 240)), grain=1.0)
    panel = int(rng.uniform(0.6, 1.2) / t)
    step = int(rng.uniform(2.0, 3.5) / t)
    for y in range(step // 2, h - panel, step):
        for x in range(step // 2, w - panel, step):
            img[y:y + panel // 2, x:x + panel] = 252
    return img


def _box_textures(rng, pool: _TexturePool, kind, half, cfg: LayoutConfig, shared):
    """Return the (texture id, texel_m) of the six faces of a box of a given kind."""
    t = cfg.texel_m
    if kind in shared:
        base = shared[kind]
    else:
        name = {'cabinet': 'wood', 'shelf': 'wood', 'table': 'wood', 'pillar': 'noise',
                'partition': 'noise', 'crate': 'noise', 'rug': 'checker', 'kiosk': 'stripes',
                'bench': 'wood', 'planter': 'bricks', 'car': 'flat', 'lamp': 'flat',
                'tree': 'noise', 'trunk': 'wood', 'wing': 'bricks', 'monument': 'noise'}[kind]
        if rng.random() < 0.35:
            name = tx.MATERIALS[int(rng.integers(0, len(tx.MATERIALS)))]
        img = tx.material(rng, name, 256, 256)
        if kind in ('tree', 'trunk'):
            tint = [0.4, 0.9, 0.35] if kind == 'tree' else [0.75, 0.6, 0.45]
            img = (img.astype(np.float32) * np.array(tint)).astype(np.uint8)
        base = (pool.add(img), t if kind not in ('wing', 'kiosk') else 2 * t)
        if rng.random() < 0.5:  # repeated: later boxes of this kind reuse the texture
            shared[kind] = base
    faces = [base] * 6
    w, d, h = 2 * half
    if kind == 'shelf':
        faces[3] = (pool.add(_books(rng, max(4, int(h / t)), max(4, int(w / t)))), t)
    elif kind in ('partition', 'kiosk') and rng.random() < 0.7:
        side = 3 if rng.random() < 0.5 else 2
        faces[side] = (pool.add(tx.poster(rng, max(4, int(h / t)), max(4, int(w / t)))), t)
    elif kind == 'wing':
        faces[3] = (pool.add(tx.facade(rng, max(4, int(h / t)), max(4, int(w / t)), t)), t)
    elif kind in ('rug', 'table') and rng.random() < 0.6:
        top = tx.material(rng, ('stripes', 'checker', 'noise', 'wood')[int(rng.integers(0, 4))],
                          max(4, int(d / t)), max(4, int(w / t)))
        faces[5] = (pool.add(top), t)
    return faces


def _books(rng, height, width):
    """Bookshelf front: shelves of books with varied spines."""
    img = np.full((height, width, 3), 60, np.uint8)
    shelf_h = max(4, int(height / rng.integers(4, 7)))
    for y0 in range(0, height - shelf_h + 1, shelf_h):
        x = 2
        while x < width - 2:
            bw = int(rng.integers(2, 6))
            bh = int(shelf_h * rng.uniform(0.6, 0.92))
            col = tx.random_colour(rng, (0.3, 0.9), (0.25, 0.9)).astype(np.uint8)
            img[y0 + shelf_h - bh:y0 + shelf_h - 1, x:x + bw] = col
            x += bw + int(rng.integers(0, 2))
            if rng.random() < 0.05:
                x += int(rng.integers(3, 12))
        img[y0 + shelf_h - 1:y0 + shelf_h] = 110
    return img


def build_scene(preset: SynthPreset, seed: int, index: int, name: str = '') -> SyntheticScene:
    """Generate one scene from a preset and a seed.

    Args:
        preset: the generator preset (its ``layout`` part is used here).
        seed: dataset seed (>= 0).
        index: scene number within the dataset (scenes of one seed differ by index).
        name: scene name (default ``f'{preset.name}_{index:02d}'``).

    Returns:
        SyntheticScene. The same (preset, seed, index) gives an identical scene.
    """
    cfg = preset.layout
    if cfg.kind not in ('indoor', 'outdoor'):
        raise ValueError(f'layout kind must be indoor or outdoor, got {cfg.kind!r}')
    if cfg.size_m[0] <= 0 or cfg.size_m[1] < cfg.size_m[0]:
        raise ValueError(f'layout size_m must be 0 < low <= high, got {cfg.size_m}')
    outdoor = cfg.kind == 'outdoor'
    rng = stream_rng(seed, index, STREAM_LAYOUT)
    trng = stream_rng(seed, index, STREAM_TEXTURE)
    sx = rng.uniform(*cfg.size_m)
    sy = float(np.clip(sx * rng.uniform(0.6, 1.4), cfg.size_m[0], cfg.size_m[1]))
    sz = rng.uniform(*cfg.height_m)
    lo, hi = np.zeros(3), np.array([sx, sy, sz])
    yaw = rng.uniform(-np.pi, np.pi)
    offset = np.array([rng.uniform(-cfg.world_offset_m, cfg.world_offset_m),
                       rng.uniform(-cfg.world_offset_m, cfg.world_offset_m),
                       rng.uniform(-2.0, 2.0)])
    T_world_layout = make_T(yaw_matrix(yaw), offset)
    placements = _place_boxes(rng, cfg, lo, hi)

    pool = _TexturePool()
    # Wall materials are made at the size of the largest wall (no visible tiling) and shared
    # between walls (a repeated texture); every wall crops its own part.
    wall_w = int(round(max(sx, sy) / cfg.texel_m))
    wall_h = int(round(sz / cfg.texel_m))
    wall_materials = [] if outdoor else [
        tx.material(trng, m, wall_h, wall_w, muted=True) for m in trng.choice(
            ['flat', 'noise', 'bricks', 'stripes', 'tiles', 'wood'], 2,
            p=[0.35, 0.25, 0.15, 0.1, 0.1, 0.05])]
    shared_decals = [tx.poster(trng, int(0.7 / cfg.texel_m), int(0.5 / cfg.texel_m))
                     for _ in range(2)] if not outdoor else []
    room_tex = []
    for wall in range(4):
        length = sy if wall < 2 else sx
        base = wall_materials[int(trng.integers(0, len(wall_materials)))] \
            if wall_materials else None
        img = _wall_texture(trng, cfg, length, sz, base, shared_decals, outdoor)
        room_tex.append((pool.add(img), cfg.texel_m))
    room_tex.append((pool.add(_floor_texture(trng, cfg, sx, sy, outdoor)), cfg.floor_texel_m))
    if outdoor:
        room_tex.append((room_tex[4][0], cfg.floor_texel_m))
    else:
        room_tex.append((pool.add(_ceiling_texture(trng, cfg, sx, sy)), cfg.floor_texel_m))

    boxes: List[Box] = []
    shared: dict = {}
    for p in placements:
        faces = _box_textures(trng, pool, p['kind'], p['half'], cfg, shared)
        boxes.append(Box(p['center'], p['half'], yaw_matrix(p['yaw']), p['kind'], faces))

    surf = {k: [] for k in ('origin', 'u', 'v', 'normal', 'size', 'tex', 'texel', 'valid')}
    prims = [((lo + hi) / 2.0, np.eye(3), (hi - lo) / 2.0, True, room_tex)]
    prims += [(b.center, b.R, b.half, False, b.textures) for b in boxes]
    for center, R, half, inward, texs in prims:
        for f in range(6):
            axis, sign = f // 2, (1.0 if f % 2 else -1.0)
            origin, u, v, normal, size = _face_frame(center, R, half, axis, sign, inward)
            surf['origin'].append(origin)
            surf['u'].append(u)
            surf['v'].append(v)
            surf['normal'].append(normal)
            surf['size'].append(size)
            surf['tex'].append(texs[f][0])
            surf['texel'].append(texs[f][1])
            surf['valid'].append(not (inward and outdoor and f == 5))

    if outdoor:
        elev = rng.uniform(np.radians(25), np.radians(60))
        az = rng.uniform(-np.pi, np.pi)
        sun_dir = np.array([np.cos(elev) * np.cos(az), np.cos(elev) * np.sin(az),
                            np.sin(elev)])
        sun_rgb = np.array([1.0, 0.95, 0.85]) * rng.uniform(0.7, 0.9)
        ambient = np.array([0.42, 0.46, 0.55]) * rng.uniform(0.8, 1.1)
        light_pos, light_rgb = np.zeros((0, 3)), np.zeros((0, 3))
    else:
        n_lights = int(rng.integers(cfg.lights[0], cfg.lights[1] + 1))
        light_pos = np.stack([rng.uniform(lo[0] + 0.3, hi[0] - 0.3, n_lights),
                              rng.uniform(lo[1] + 0.3, hi[1] - 0.3, n_lights),
                              np.full(n_lights, sz - 0.25)], 1)
        temp = rng.uniform(-1.0, 1.0, n_lights)[:, None]
        light_rgb = (np.array([1.0, 0.97, 0.92]) + temp * np.array([0.08, 0.0, -0.1])
                     ) * rng.uniform(0.8, 1.4, (n_lights, 1)) * (2.0 / max(1, n_lights)) ** 0.5
        sun_dir, sun_rgb = np.zeros(3), np.zeros(3)
        ambient = np.full(3, rng.uniform(0.25, 0.4))
    sky = np.array([[0.75, 0.82, 0.9], [0.35, 0.5, 0.8]]) * rng.uniform(0.9, 1.1)

    kinds = [b.kind for b in boxes]
    metadata = {
        'preset': preset.name, 'seed': int(seed), 'index': int(index),
        'kind': cfg.kind, 'size_m': [float(sx), float(sy), float(sz)],
        'T_world_layout': T_world_layout.tolist(),
        'boxes': {k: kinds.count(k) for k in sorted(set(kinds))},
        'textures': len(pool.images),
    }
    return SyntheticScene(
        name=name or f'{preset.name}_{index:02d}', kind=cfg.kind,
        T_world_layout=T_world_layout, room_lo=lo, room_hi=hi, open_top=outdoor, boxes=boxes,
        surf_origin_s3=np.array(surf['origin']), surf_u_s3=np.array(surf['u']),
        surf_v_s3=np.array(surf['v']), surf_normal_s3=np.array(surf['normal']),
        surf_size_s2=np.array(surf['size']), surf_tex_s=np.array(surf['tex'], np.int64),
        surf_texel_s=np.array(surf['texel']), surf_valid_s=np.array(surf['valid']),
        atlas=tx.TextureAtlas.build(pool.images), light_pos_l3=light_pos,
        light_rgb_l3=light_rgb, light_range_m=max(2.5, 0.35 * float(max(sx, sy))),
        ambient_rgb=ambient, sun_dir=sun_dir, sun_rgb=sun_rgb, sky_rgb=sky,
        metadata=metadata)
