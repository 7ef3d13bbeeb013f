# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Coloured point clouds in and out: PLY (binary and ASCII) and PCD, in the map frame.

The 3-D model of DANCE (a laser scan, a phone's LiDAR scan, a BIM export) enters the package
here. Both formats are read and written by maintained PyPI libraries, not by code of ours:

- PLY: ``plyfile`` (vertex element; ``x y z`` float or double, colours ``red green blue``
  (uchar, also ``diffuse_*``; float colours in [0, 1] are scaled), optional normals
  ``nx ny nz`` and optional ``radius`` (surfel radius, metres, as in surfel PLYs)).
- PCD: ``pypcd4`` (fields ``x y z``, colour ``rgb`` or ``rgba`` bit-packed ``0x00RRGGBB``
  as PCL writes it (type F or U, size 4), optional ``normal_x normal_y normal_z`` and
  ``radius``). ASCII PCD files are written with ``rgb`` as an unsigned integer (type U),
  because a bit-packed colour printed as a float (a denormal) does not survive the text
  round-trip; PCL reads either type. pypcd4 prints ASCII floats with 10 fixed decimals
  (exact to 5e-11 m for points; normals and radii below 1e-3 keep fewer digits).

Points are kept as float32 (10 M points: 120 MB) in the map frame: millimetre precision
up to ~ 16 km from the origin, far beyond a building. The renderer
(:mod:`pose_reloc.data.cloud_render`) consumes :class:`ColoredCloud`.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

#: file suffixes this module reads and writes.
CLOUD_SUFFIXES = ('.ply', '.pcd')


@dataclass(frozen=True, eq=False)
class ColoredCloud:
    """A coloured point cloud in the map (world) frame.

    Attributes:
        points_n3: (N, 3) float32 points, metres, map frame (``x_map``; the frame that
            ``T_world_cam`` poses of renders refer to).
        colours_n3: (N, 3) uint8 RGB.
        normals_n3: optional (N, 3) float32 unit normals (map frame).
        radius_n: optional (N,) float32 surfel radius (half the local point spacing),
            metres; the renderer sizes splats from it (estimated from the density if absent).
        frame: name of the frame of the points (``'map'``).
    """

    points_n3: np.ndarray
    colours_n3: np.ndarray
    normals_n3: Optional[np.ndarray] = None
    radius_n: Optional[np.ndarray] = None
    frame: str = 'map'

    def __post_init__(self):
        """Check shapes and dtypes (``ValueError`` naming the offending array)."""
        points = np.ascontiguousarray(self.points_n3, dtype=np.float32)
        colours = np.asarray(self.colours_n3)
        if points.ndim != 2 or points.shape[1] != 3:
            raise ValueError(f'points_n3 must be (N, 3), got {points.shape}')
        if colours.shape != points.shape:
            raise ValueError(f'colours_n3 must be {points.shape}, got {colours.shape}')
        if colours.dtype != np.uint8:
            raise ValueError(f'colours_n3 must be uint8 RGB, got {colours.dtype}')
        object.__setattr__(self, 'points_n3', points)
        object.__setattr__(self, 'colours_n3', np.ascontiguousarray(colours))
        if self.normals_n3 is not None:
            normals = np.ascontiguousarray(self.normals_n3, dtype=np.float32)
            if normals.shape != points.shape:
                raise ValueError(f'normals_n3 must be {points.shape}, got {normals.shape}')
            object.__setattr__(self, 'normals_n3', normals)
        if self.radius_n is not None:
            radius = np.ascontiguousarray(self.radius_n, dtype=np.float32).reshape(-1)
            if radius.shape != (len(points),):
                raise ValueError(f'radius_n must be ({len(points)},), got {radius.shape}')
            object.__setattr__(self, 'radius_n', radius)

    def __len__(self) -> int:
        """Return the number of points."""
        return len(self.points_n3)

    def bounds(self):
        """Return ``(lo (3,), hi (3,))`` float64 axis-aligned bounds, metres."""
        return (self.points_n3.min(axis=0).astype(np.float64),
                self.points_n3.max(axis=0).astype(np.float64))


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in CLOUD_SUFFIXES:
        raise ValueError(f'{path}: unknown point-cloud format {suffix!r}; expected one of '
                         f'{CLOUD_SUFFIXES}')
    return suffix


def read_cloud(path: Union[str, Path]) -> ColoredCloud:
    """Read a coloured point cloud from a PLY or PCD file (binary or ASCII).

    Args:
        path: ``.ply`` or ``.pcd`` file.

    Returns:
        The cloud (points float32, colours uint8; normals and radius when present).

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown suffix, no ``x y z`` or no colour fields (the message names them).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no such point-cloud file')
    if _suffix(path) == '.ply':
        return _read_ply(path)
    return _read_pcd(path)


def write_cloud(path: Union[str, Path], cloud: ColoredCloud, binary: bool = True) -> Path:
    """Write a cloud as PLY or PCD (by suffix), atomically (``<path>.tmp`` then rename).

    Args:
        path: ``.ply`` or ``.pcd`` file to write.
        cloud: the cloud.
        binary: binary (little-endian PLY, PCD ``binary``) or ASCII.

    Returns:
        ``path``.
    """
    path = Path(path)
    suffix = _suffix(path)
    tmp = path.with_name(path.name + '.tmp')
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if suffix == '.ply':
            _write_ply(tmp, cloud, binary)
        else:
            _write_pcd(tmp, cloud, binary)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# -- PLY (plyfile) ---------------------------------------------------------------------------

_PLY_COLOURS = (('red', 'green', 'blue'), ('diffuse_red', 'diffuse_green', 'diffuse_blue'),
                ('r', 'g', 'b'))


def _colour_channels(columns, names, where: str) -> np.ndarray:
    channels = [np.asarray(columns(n)) for n in names]
    if channels[0].dtype.kind == 'f':
        peak = max(float(c.max()) if c.size else 0.0 for c in channels)
        scale = 255.0 if peak <= 1.0 else 1.0
        return np.stack([np.clip(np.round(c * scale), 0, 255) for c in channels],
                        1).astype(np.uint8)
    if any(c.size and c.max() > 255 for c in channels):
        raise ValueError(f'{where}: colour values above 255 ({names}); expected 8-bit colours')
    return np.stack(channels, 1).astype(np.uint8)


def _read_ply(path: Path) -> ColoredCloud:
    from plyfile import PlyData
    ply = PlyData.read(str(path))
    if 'vertex' not in ply:
        raise ValueError(f'{path}: no "vertex" element in the PLY header')
    vertex = ply['vertex'].data
    names = set(vertex.dtype.names)
    missing = {'x', 'y', 'z'} - names
    if missing:
        raise ValueError(f'{path}: PLY vertices lack {sorted(missing)}')
    colour_names = next((c for c in _PLY_COLOURS if set(c) <= names), None)
    if colour_names is None:
        raise ValueError(f'{path}: PLY vertices have no colour (expected red green blue); '
                         f'properties: {sorted(names)}')
    points = np.stack([vertex['x'], vertex['y'], vertex['z']], 1).astype(np.float32)
    colours = _colour_channels(lambda n: vertex[n], colour_names, str(path))
    normals = None
    if {'nx', 'ny', 'nz'} <= names:
        normals = np.stack([vertex['nx'], vertex['ny'], vertex['nz']], 1)
    radius = np.asarray(vertex['radius']) if 'radius' in names else None
    return ColoredCloud(points, colours, normals, radius)


def _write_ply(path: Path, cloud: ColoredCloud, binary: bool):
    from plyfile import PlyData, PlyElement
    fields = [('x', 'f4'), ('y', 'f4'), ('z', 'f4'), ('red', 'u1'), ('green', 'u1'),
              ('blue', 'u1')]
    if cloud.normals_n3 is not None:
        fields += [('nx', 'f4'), ('ny', 'f4'), ('nz', 'f4')]
    if cloud.radius_n is not None:
        fields += [('radius', 'f4')]
    vertex = np.empty(len(cloud), dtype=fields)
    for k, name in enumerate('xyz'):
        vertex[name] = cloud.points_n3[:, k]
    for k, name in enumerate(('red', 'green', 'blue')):
        vertex[name] = cloud.colours_n3[:, k]
    if cloud.normals_n3 is not None:
        for k, name in enumerate(('nx', 'ny', 'nz')):
            vertex[name] = cloud.normals_n3[:, k]
    if cloud.radius_n is not None:
        vertex['radius'] = cloud.radius_n
    element = PlyElement.describe(vertex, 'vertex')
    PlyData([element], text=not binary, byte_order='<',
            comments=[f'pose_reloc coloured point cloud, frame {cloud.frame}, metres']
            ).write(str(path))


# -- PCD (pypcd4) ----------------------------------------------------------------------------

def _read_pcd(path: Path) -> ColoredCloud:
    from pypcd4 import PointCloud
    pcd = PointCloud.from_path(path)
    fields = list(pcd.fields)
    types = dict(zip(fields, pcd.types))
    missing = {'x', 'y', 'z'} - set(fields)
    if missing:
        raise ValueError(f'{path}: PCD fields lack {sorted(missing)} (fields: {fields})')

    def column(name):
        return pcd.numpy((name,))[:, 0].astype(types[name], copy=False)

    points = np.stack([column('x'), column('y'), column('z')], 1).astype(np.float32)
    packed_name = next((n for n in ('rgb', 'rgba') if n in fields), None)
    if packed_name is not None:
        packed = np.ascontiguousarray(column(packed_name))
        if packed.dtype.itemsize != 4:
            raise ValueError(f'{path}: PCD field {packed_name!r} must have size 4 (packed '
                             f'0x00RRGGBB), got {packed.dtype}')
        bits = packed.view(np.uint32)
        colours = np.stack([(bits >> 16) & 255, (bits >> 8) & 255, bits & 255],
                           1).astype(np.uint8)
    elif {'r', 'g', 'b'} <= set(fields):
        colours = _colour_channels(column, ('r', 'g', 'b'), str(path))
    else:
        raise ValueError(f'{path}: PCD has no colour field (rgb, rgba or r g b); fields: '
                         f'{fields}')
    normals = None
    if {'normal_x', 'normal_y', 'normal_z'} <= set(fields):
        normals = np.stack([column('normal_x'), column('normal_y'), column('normal_z')], 1)
    radius = column('radius') if 'radius' in fields else None
    return ColoredCloud(points, colours, normals, radius)


def _write_pcd(path: Path, cloud: ColoredCloud, binary: bool):
    from pypcd4 import Encoding, PointCloud
    c = cloud.colours_n3.astype(np.uint32)
    packed = (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]
    columns = [cloud.points_n3[:, 0], cloud.points_n3[:, 1], cloud.points_n3[:, 2]]
    names, types = ['x', 'y', 'z'], [np.float32] * 3
    # Binary: PCL's float-typed bit-packed rgb; ASCII: the same bits as an integer.
    columns.append(packed.view(np.float32) if binary else packed)
    names.append('rgb')
    types.append(np.float32 if binary else np.uint32)
    if cloud.normals_n3 is not None:
        columns += [cloud.normals_n3[:, k] for k in range(3)]
        names += ['normal_x', 'normal_y', 'normal_z']
        types += [np.float32] * 3
    if cloud.radius_n is not None:
        columns.append(cloud.radius_n)
        names.append('radius')
        types.append(np.float32)
    pcd = PointCloud.from_points(columns, tuple(names), tuple(types))
    with open(path, 'wb') as stream:
        pcd.save(stream, encoding=Encoding.BINARY if binary else Encoding.ASCII)
