# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Procedural textures for synthetic scenes, and the texture atlas the ray caster samples.

Every generator takes a ``numpy.random.Generator`` and returns an ``(H, W, 3) uint8 RGB``
image; the same generator state gives the same bytes (OpenCV drawing and resizing are
deterministic). Textures come in three kinds, as in real rooms: rich ones to localize from
(noise, bricks, wood, posters, text-like marks, facades with windows), repeated ones (the
same poster or cabinet texture on several surfaces, tiled floors) and almost textureless
ones (painted plaster, ceilings).

:class:`TextureAtlas` packs all textures of a scene and their mip-maps into one flat texel
array so the renderer samples any surface with a single gather (bilinear within the mip
level chosen from the pixel footprint).
"""

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import cv2
import numpy as np

_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
          cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_TRIPLEX)
_GLYPHS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'


def _u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img, 0.0, 255.0).astype(np.uint8)


def random_colour(rng: np.random.Generator, saturation: Tuple[float, float] = (0.1, 0.7),
                  value: Tuple[float, float] = (0.35, 0.95)) -> np.ndarray:
    """Draw a random RGB colour from hue/saturation/value ranges.

    Args:
        rng: the random generator.
        saturation: (low, high) saturation range in [0, 1].
        value: (low, high) brightness range in [0, 1].

    Returns:
        (3,) float64 RGB colour in [0, 255].
    """
    h = rng.uniform(0.0, 360.0)
    s = rng.uniform(*saturation)
    v = rng.uniform(*value)
    c = v * s
    x = c * (1 - abs((h / 60.0) % 2 - 1))
    m = v - c
    sector = int(h // 60) % 6
    rgb = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][sector]
    return (np.array(rgb) + m) * 255.0


def value_noise(rng: np.random.Generator, height: int, width: int, scale_px: float,
                octaves: int = 4, persistence: float = 0.5) -> np.ndarray:
    """Fractal value noise (sum of bicubically upsampled random grids).

    Args:
        rng: the random generator.
        height: output rows.
        width: output columns.
        scale_px: feature size of the coarsest octave, in pixels.
        octaves: number of octaves, each at half the previous feature size.
        persistence: amplitude ratio between successive octaves.

    Returns:
        (height, width) float32 noise normalized to zero mean and unit standard deviation.
    """
    out = np.zeros((height, width), np.float32)
    amp = 1.0
    scale = float(scale_px)
    for _ in range(octaves):
        gh = max(2, int(np.ceil(height / scale)) + 2)
        gw = max(2, int(np.ceil(width / scale)) + 2)
        grid = rng.standard_normal((gh, gw)).astype(np.float32)
        up = cv2.resize(grid, (int(gw * scale), int(gh * scale)), interpolation=cv2.INTER_CUBIC)
        out += amp * up[:height, :width]
        amp *= persistence
        scale = max(1.0, scale / 2.0)
    std = float(out.std())
    return (out - out.mean()) / (std if std > 0 else 1.0)


def flat(rng: np.random.Generator, height: int, width: int, colour=None,
         grain: float = 1.5) -> np.ndarray:
    """Almost textureless paint: one colour with faint grain (``grain`` grey levels std)."""
    colour = random_colour(rng, (0.0, 0.25), (0.6, 0.95)) if colour is None else colour
    n = value_noise(rng, height, width, 8.0, 2)[..., None] * grain
    return _u8(np.asarray(colour, np.float32)[None, None] + n)


def noise_material(rng: np.random.Generator, height: int, width: int, colour=None,
                   contrast: float = 30.0, scale_px: float = 24.0) -> np.ndarray:
    """Stone/concrete/carpet-like multi-octave coloured noise."""
    colour = random_colour(rng) if colour is None else colour
    n = value_noise(rng, height, width, scale_px, 5, 0.6)
    tint = rng.uniform(-0.3, 0.3, 3).astype(np.float32)
    img = colour[None, None] + contrast * n[..., None] * (1.0 + tint[None, None])
    return _u8(img)


def bricks(rng: np.random.Generator, height: int, width: int, brick_px: Tuple[int, int] = None
           ) -> np.ndarray:
    """Brick wall: staggered rows, per-brick colour jitter, mortar lines, noise."""
    bw, bh = brick_px or (int(rng.integers(18, 30)), int(rng.integers(6, 10)))
    base = random_colour(rng, (0.3, 0.7), (0.35, 0.7))
    mortar = random_colour(rng, (0.0, 0.1), (0.6, 0.85))
    img = np.empty((height, width, 3), np.float32)
    img[:] = mortar
    jitter = rng.normal(0.0, 18.0, (height // bh + 2, width // bw + 3, 3))
    for r in range(height // bh + 1):
        off = (bw // 2) * (r % 2)
        for c in range(-1, width // bw + 2):
            x0, y0 = c * bw + off, r * bh
            cv2.rectangle(img, (x0 + 1, y0 + 1), (x0 + bw - 1, y0 + bh - 1),
                          (base + jitter[r, c + 1]).tolist(), -1)
    img += 12.0 * value_noise(rng, height, width, 6.0, 3)[..., None]
    return _u8(img)


def tiles(rng: np.random.Generator, height: int, width: int, tile_px: int = None) -> np.ndarray:
    """Floor/wall tiles: a grid with grout lines and slight per-tile shade."""
    t = tile_px or int(rng.integers(16, 40))
    a = random_colour(rng, (0.0, 0.4), (0.4, 0.95))
    b = a * rng.uniform(0.75, 1.0) if rng.random() < 0.6 else random_colour(rng)
    img = np.empty((height, width, 3), np.float32)
    for r in range(0, height, t):
        for c in range(0, width, t):
            col = a if ((r // t) + (c // t)) % 2 == 0 else b
            img[r:r + t, c:c + t] = col + rng.normal(0.0, 5.0, 3)
    img[::t] *= 0.6
    img[:, ::t] *= 0.6
    img += 6.0 * value_noise(rng, height, width, 12.0, 3)[..., None]
    return _u8(img)


def wood(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Wood grain: warped stripes along x in brown tones."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    warp = value_noise(rng, height, width, 40.0, 3) * 6.0
    freq = rng.uniform(0.25, 0.6)
    rings = np.sin((yy + warp + 0.02 * xx) * freq) * 0.5 + 0.5
    light = np.array([rng.uniform(150, 210), rng.uniform(100, 150), rng.uniform(50, 90)])
    dark = light * rng.uniform(0.5, 0.75)
    img = dark[None, None] + (light - dark)[None, None] * rings[..., None]
    img += 8.0 * value_noise(rng, height, width, 4.0, 2)[..., None]
    return _u8(img)


def stripes(rng: np.random.Generator, height: int, width: int,
            saturation: Tuple[float, float] = (0.1, 0.7)) -> np.ndarray:
    """Wallpaper-like vertical stripes, a repeated pattern (colours of ``saturation``)."""
    period = int(rng.integers(8, 30))
    a, b = random_colour(rng, saturation), random_colour(rng, saturation)
    xx = np.arange(width)
    mask = ((xx // max(1, period // 2)) % 2 == 0)[None, :, None]
    img = np.where(mask, a[None, None], b[None, None]).repeat(height, 0).astype(np.float32)
    img += 4.0 * value_noise(rng, height, width, 10.0, 2)[..., None]
    return _u8(img)


def checker(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """High-contrast checkerboard, a strongly repeated pattern."""
    t = int(rng.integers(6, 20))
    a, b = random_colour(rng, value=(0.7, 0.95)), random_colour(rng, value=(0.1, 0.4))
    yy, xx = np.mgrid[0:height, 0:width]
    mask = (((yy // t) + (xx // t)) % 2 == 0)[..., None]
    return _u8(np.where(mask, a[None, None], b[None, None]))


def _random_text(rng: np.random.Generator, n: int) -> str:
    idx = rng.integers(0, len(_GLYPHS), n)
    words = ''.join(_GLYPHS[i] for i in idx)
    cuts = sorted(set(rng.integers(1, max(2, n), max(1, n // 5)).tolist()))
    out, last = [], 0
    for c in cuts:
        out.append(words[last:c])
        last = c
    out.append(words[last:])
    return ' '.join(w for w in out if w)


def text_lines(img: np.ndarray, rng: np.random.Generator, x0: int, y0: int, x1: int, y1: int,
               colour=(20, 20, 20)) -> None:
    """Draw lines of random text-like marks into a uint8 ``img`` (in place) in a rectangle."""
    font = _FONTS[int(rng.integers(0, len(_FONTS)))]
    line_h = int(rng.integers(6, 16))
    scale = line_h / 22.0
    thick = 1
    y = y0 + line_h
    while y < y1:
        n = max(1, int((x1 - x0) / (line_h * 0.6)))
        cv2.putText(img, _random_text(rng, n), (x0, y), font, scale, colour, thick,
                    cv2.LINE_AA)
        y += int(line_h * rng.uniform(1.3, 1.8))


def poster(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Poster: coloured background, random shapes, a title and body text."""
    bg = random_colour(rng, (0.2, 0.9), (0.5, 1.0))
    img = np.empty((height, width, 3), np.float32)
    g = np.linspace(0.8, 1.1, height, dtype=np.float32)[:, None, None]
    img[:] = bg[None, None] * g
    for _ in range(int(rng.integers(3, 9))):
        col = random_colour(rng, (0.3, 1.0), (0.2, 1.0)).tolist()
        kind = rng.integers(0, 3)
        if kind == 0:
            p = rng.integers(0, [width, height, width, height])
            cv2.rectangle(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), col, -1)
        elif kind == 1:
            c = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.circle(img, c, int(rng.integers(3, max(4, min(height, width) // 2))), col, -1,
                       cv2.LINE_AA)
        else:
            p = rng.integers(0, [width, height, width, height])
            cv2.line(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), col,
                     int(rng.integers(1, 5)), cv2.LINE_AA)
    ink = (255, 255, 255) if bg.mean() < 110 else (15, 15, 15)
    img = _u8(img)
    cv2.putText(img, _random_text(rng, int(rng.integers(3, 8))), (width // 12, height // 6),
                _FONTS[int(rng.integers(0, len(_FONTS)))], max(0.3, width / 160.0), ink,
                max(1, width // 80), cv2.LINE_AA)
    text_lines(img, rng, width // 12, height // 2, width - width // 12, height - height // 12,
               ink)
    cv2.rectangle(img, (0, 0), (width - 1, height - 1), (30, 30, 30), max(1, width // 60))
    return img


def whiteboard(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Draw a whiteboard / notice board with handwriting-like text marks."""
    img = np.full((height, width, 3), int(rng.integers(225, 251)), np.uint8)
    ink = random_colour(rng, (0.6, 1.0), (0.2, 0.6)).tolist()
    text_lines(img, rng, width // 20, height // 20, width - width // 20,
               height - height // 20, ink)
    cv2.rectangle(img, (0, 0), (width - 1, height - 1), (90, 90, 95), max(2, width // 50))
    return img


def facade(rng: np.random.Generator, height: int, width: int, texel_m: float) -> np.ndarray:
    """Make a building facade: storeys of windows, base course, doors, signs, weathering.

    Args:
        rng: the random generator.
        height: rows (the facade's height / texel_m).
        width: columns.
        texel_m: metres per texel, to size windows (about 1.2 m x 1.5 m, 3.2 m storeys).

    Returns:
        (height, width, 3) uint8 RGB.
    """
    kind = rng.integers(0, 3)
    if kind == 0:
        img = bricks(rng, height, width).astype(np.float32)
    elif kind == 1:
        img = noise_material(rng, height, width, contrast=14.0, scale_px=30.0)
        img = img.astype(np.float32)
    else:
        img = flat(rng, height, width, grain=3.0).astype(np.float32)
    storey = int(rng.uniform(2.9, 3.6) / texel_m)
    win_w = int(rng.uniform(0.8, 1.6) / texel_m)
    win_h = int(rng.uniform(1.2, 1.8) / texel_m)
    pitch = win_w + int(rng.uniform(0.8, 2.5) / texel_m)
    frame = random_colour(rng, (0.0, 0.3), (0.2, 0.95)).tolist()
    glass = np.array([rng.uniform(40, 80), rng.uniform(50, 90), rng.uniform(70, 120)])
    base_h = int(rng.uniform(0.6, 1.2) / texel_m)
    img[height - base_h:] = img[height - base_h:] * 0.6 + 40
    row = 0
    while height - (row + 1) * storey > 0:
        y_bot = height - row * storey - int(0.9 / texel_m)
        y_top = y_bot - win_h
        if y_top < 0:
            break
        for x in range(pitch // 3, width - win_w, pitch):
            if row == 0 and rng.random() < 0.15:
                d_w = int(1.1 / texel_m)
                cv2.rectangle(img, (x, height - int(2.2 / texel_m)), (x + d_w, height - 1),
                              (60, 45, 35), -1)
                continue
            g = glass * rng.uniform(0.6, 1.5)
            cv2.rectangle(img, (x, y_top), (x + win_w, y_bot), g.tolist(), -1)
            cv2.rectangle(img, (x, y_top), (x + win_w, y_bot), frame, max(1, win_w // 12))
            cv2.line(img, (x + win_w // 2, y_top), (x + win_w // 2, y_bot), frame,
                     max(1, win_w // 20))
            if rng.random() < 0.3:
                sh = int(rng.uniform(0.2, 1.0) * win_h)
                cv2.rectangle(img, (x, y_top), (x + win_w, y_top + sh),
                              random_colour(rng).tolist(), -1)
        row += 1
    for _ in range(int(rng.integers(1, 4))):
        sw, sh = int(rng.uniform(1.5, 4.0) / texel_m), int(rng.uniform(0.4, 0.9) / texel_m)
        x = int(rng.integers(0, max(1, width - sw)))
        y = height - int(rng.uniform(2.6, 3.2) / texel_m)
        paste(img, poster(rng, sh, sw).astype(np.float32), x, y)
    img *= (1.0 + 0.12 * value_noise(rng, height, width, 80.0, 3))[..., None]
    return _u8(img)


MATERIALS = ('flat', 'noise', 'bricks', 'tiles', 'wood', 'stripes', 'checker')


def material(rng: np.random.Generator, name: str, height: int, width: int,
             muted: bool = False) -> np.ndarray:
    """Make a base material texture by name (one of :data:`MATERIALS`).

    Args:
        rng: the random generator.
        name: material name.
        height: rows.
        width: columns.
        muted: wall paint colours (low saturation, light) for ``noise`` and ``stripes``.

    Raises:
        ValueError: for an unknown material name.
    """
    if name == 'flat':
        return flat(rng, height, width)
    if name == 'noise':
        if muted:
            paint = random_colour(rng, (0.02, 0.3), (0.55, 0.9))
            return noise_material(rng, height, width, paint, 18.0)
        return noise_material(rng, height, width)
    if name == 'bricks':
        return bricks(rng, height, width)
    if name == 'tiles':
        return tiles(rng, height, width)
    if name == 'wood':
        return wood(rng, height, width)
    if name == 'stripes':
        return stripes(rng, height, width, (0.05, 0.35) if muted else (0.1, 0.7))
    if name == 'checker':
        return checker(rng, height, width)
    raise ValueError(f'unknown material {name!r}; expected one of {MATERIALS}')


def tile_to(texture: np.ndarray, height: int, width: int) -> np.ndarray:
    """Repeat a texture to cover ``(height, width)``; returns a new uint8 array."""
    reps = (-(-height // texture.shape[0]), -(-width // texture.shape[1]), 1)
    return np.tile(texture, reps)[:height, :width].copy()


def paste(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    """Paste ``src`` into ``dst`` (in place) at column ``x``, row ``y``, clipped to ``dst``."""
    h, w = dst.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(w, x + src.shape[1]), min(h, y + src.shape[0])
    if x1 > x0 and y1 > y0:
        dst[y0:y1, x0:x1] = src[y0 - y:y1 - y, x0 - x:x1 - x]


@dataclass
class TextureAtlas:
    """All textures of a scene with their mip-maps, packed into one flat texel array.

    Attributes:
        texels_t: (T,) uint32 texels of every level of every texture, each the
            little-endian bytes R, G, B, 0 (one 4-byte gather per bilinear tap).
        offsets_kl: (K, L) int64 start of texture k's level l in ``texels_t``.
        widths_kl: (K, L) int64 level widths (texels).
        heights_kl: (K, L) int64 level heights.
        levels_k: (K,) int64 number of levels per texture.
    """

    texels_t: np.ndarray
    offsets_kl: np.ndarray
    widths_kl: np.ndarray
    heights_kl: np.ndarray
    levels_k: np.ndarray

    @classmethod
    def build(cls, textures: Sequence[np.ndarray], max_levels: int = 10) -> 'TextureAtlas':
        """Pack textures (each (H, W, 3) uint8) and their area-filtered mip-maps."""
        if not textures:
            raise ValueError('TextureAtlas.build needs at least one texture')
        chunks: List[np.ndarray] = []
        k = len(textures)
        offsets = np.zeros((k, max_levels), np.int64)
        widths = np.ones((k, max_levels), np.int64)
        heights = np.ones((k, max_levels), np.int64)
        levels = np.zeros(k, np.int64)
        pos = 0
        for i, tex in enumerate(textures):
            if tex.ndim != 3 or tex.shape[2] != 3 or tex.dtype != np.uint8:
                raise ValueError(f'texture {i}: expected (H, W, 3) uint8, got '
                                 f'{tex.shape} {tex.dtype}')
            level = tex
            for lv in range(max_levels):
                h, w = level.shape[:2]
                offsets[i, lv], widths[i, lv], heights[i, lv] = pos, w, h
                chunks.append(level.reshape(-1, 3))
                pos += h * w
                levels[i] = lv + 1
                if h == 1 and w == 1:
                    break
                level = cv2.resize(level, (max(1, w // 2), max(1, h // 2)),
                                   interpolation=cv2.INTER_AREA)
            offsets[i, levels[i]:] = offsets[i, levels[i] - 1]
            widths[i, levels[i]:] = widths[i, levels[i] - 1]
            heights[i, levels[i]:] = heights[i, levels[i] - 1]
        rgba = np.zeros((pos, 4), np.uint8)
        rgba[:, :3] = np.concatenate(chunks, 0)
        return cls(rgba.view('<u4').reshape(-1), offsets, widths, heights, levels)

    def sample(self, tex_n: np.ndarray, x_n: np.ndarray, y_n: np.ndarray,
               footprint_n: np.ndarray) -> np.ndarray:
        """Bilinear, mip-mapped, wrapping texture lookup.

        Args:
            tex_n: (N,) int texture indices.
            x_n: (N,) float texture column coordinates in level-0 texels.
            y_n: (N,) float texture row coordinates in level-0 texels.
            footprint_n: (N,) float pixel footprint in level-0 texels (selects the level).

        Returns:
            (N, 3) float32 RGB in [0, 1].
        """
        lv = np.frexp(np.maximum(footprint_n, np.float32(1.0)))[1] - 1
        lv = np.minimum(lv, np.take(self.levels_k, tex_n) - 1)
        flat = tex_n * self.widths_kl.shape[1] + lv
        w = np.take(self.widths_kl, flat).astype(np.int32)
        h = np.take(self.heights_kl, flat).astype(np.int32)
        off = np.take(self.offsets_kl, flat)
        s = np.ldexp(np.float32(1.0), -lv).astype(np.float32)
        taps = []
        fracs = []
        for coord, size in ((x_n, w), (y_n, h)):
            size_f = size.astype(np.float32)
            c = coord * s - np.float32(0.5)
            c -= size_f * np.floor(c / size_f)     # wrap into [0, size)
            c0f = np.floor(c)
            fracs.append((c - c0f)[:, None])
            c0 = np.minimum(c0f.astype(np.int32), size - 1)
            c1 = c0 + 1
            c1[c1 == size] = 0
            taps.append((c0, c1))
        (x0, x1), (y0, y1) = taps
        fx, fy = fracs
        r0 = off + y0 * w
        r1 = off + y1 * w
        t = self.texels_t

        def tap(index):
            return np.take(t, index).view(np.uint8).reshape(-1, 4).astype(np.float32)

        c00, c01 = tap(r0 + x0), tap(r0 + x1)
        c10, c11 = tap(r1 + x0), tap(r1 + x1)
        top = c00 + (c01 - c00) * fx
        bot = c10 + (c11 - c10) * fx
        return (top[:, :3] + (bot[:, :3] - top[:, :3]) * fy) * np.float32(1.0 / 255.0)
