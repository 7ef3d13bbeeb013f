# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Named presets of the synthetic scene generator (frozen dataclasses).

A :class:`SynthPreset` bundles what a generated dataset depends on: the scene layout
(:class:`LayoutConfig`), the camera (:class:`CameraConfig`), the camera paths
(:class:`PathConfig`), the photo effects (:class:`PhotoConfig`) and the point-cloud scan
(:class:`ScanConfig`). Presets are never mutated: :func:`get_preset` returns the frozen
object and :func:`override` returns a copy with ``dataclasses.replace``.

Presets:

- ``room``: indoor rooms of 3 to 15 m, furniture, posters, handheld paths at 1.0-1.8 m
  (7-Scenes-like; the default).
- ``office``: small rooms (3 to 6 m), crowded, more text on the walls.
- ``hall``: large rooms (10 to 15 m, 3.5 to 5 m high) with pillars.
- ``robot``: rooms of 4 to 12 m seen from a wheeled robot (camera 0.5 m above the floor on
  a planar base; base_link on the floor).
- ``outdoor``: building facades around a courtyard, 25 to 70 m across, open sky, walking
  paths at 1.5-1.8 m (Cambridge-Landmarks-like).
- ``tiny``: a small, fast room for unit tests.

Presets can also be YAML files (e.g. ``config/synth/*.yaml``): ``base:`` names the preset
they start from (default ``room``), ``name:`` their name (default: the file stem), and the
other keys are the sections and fields to change, e.g. ``path: {fps: 15.0}``.
:func:`load_preset` reads a name or a file and applies ``key=value`` overrides.
"""

from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Dict, Sequence, Tuple, Union

import yaml


@dataclass(frozen=True)
class LayoutConfig:
    """Scene layout.

    Attributes:
        kind: ``'indoor'`` (a closed room) or ``'outdoor'`` (facades around a courtyard,
            open sky).
        size_m: (low, high) side lengths of the room / courtyard, metres.
        height_m: (low, high) ceiling / facade height, metres.
        furniture_per_m2: furniture density (boxes per square metre of floor).
        max_furniture: upper bound on the number of furniture boxes.
        decals_per_wall: (low, high) posters / boards / signs painted on each wall.
        plain_wall_prob: probability that a wall is plain paint (textureless).
        texel_m: wall texture resolution, metres per texel.
        floor_texel_m: floor texture resolution, metres per texel.
        world_offset_m: random world-frame offset range (+-, metres, xy) of the scene.
        lights: (low, high) number of point lights (indoor).
    """

    kind: str = 'indoor'
    size_m: Tuple[float, float] = (3.0, 15.0)
    height_m: Tuple[float, float] = (2.5, 3.5)
    furniture_per_m2: float = 0.12
    max_furniture: int = 24
    decals_per_wall: Tuple[int, int] = (1, 5)
    plain_wall_prob: float = 0.2
    texel_m: float = 0.01
    floor_texel_m: float = 0.02
    world_offset_m: float = 50.0
    lights: Tuple[int, int] = (2, 5)


@dataclass(frozen=True)
class CameraConfig:
    """Camera intrinsics, relative to the image size.

    Attributes:
        hfov_deg: horizontal field of view in degrees (fx = W / (2 tan(hfov / 2)), fy = fx).
        principal_offset_px: (dx, dy) principal point offset from the image centre,
            in pixels at 320x240 (scaled with the width).
        distortion_model: ``'none'`` or ``'plumb_bob'``.
        distortion: plumb_bob coefficients (k1, k2, p1, p2, k3).
    """

    hfov_deg: float = 62.0
    principal_offset_px: Tuple[float, float] = (1.5, -1.0)
    distortion_model: str = 'none'
    distortion: Tuple[float, ...] = ()


@dataclass(frozen=True)
class PathConfig:
    """Camera trajectories and random views.

    Attributes:
        style: ``'handheld'`` (6-DoF, height band, look-around) or ``'robot'`` (planar base,
            fixed camera height, no roll).
        height_m: (low, high) camera height above the floor, metres.
        speed_mps: mean walking / driving speed, metres per second.
        fps: camera frame rate, frames per second (frame times are multiples of 1 / fps).
        coverage: path length of a sequence in room perimeters; the frames are spread
            evenly over it (a subsampled video), never closer than 1 / fps.
        pitch_deg: (mean, amplitude) camera pitch (negative = looking down), degrees.
        roll_deg: roll amplitude, degrees.
        look_around_deg: amplitude of the heading deviation from the look-at target, degrees.
        wall_margin_m: minimum camera clearance from any surface, metres.
        min_view_distance_m: minimum distance along any viewing ray to a surface, metres.
        min_median_depth_m: minimum median depth of a view, metres (no views into walls).
        sequences: sequences per scene.
        test_sequences: how many of them are test sequences (the last ones).
        mount_xyz_m: camera optical centre in base_link (x forward, y left, z up), metres.
        mount_pitch_deg: downward tilt of the camera on its mount, degrees.
    """

    style: str = 'handheld'
    height_m: Tuple[float, float] = (1.0, 1.8)
    speed_mps: float = 0.5
    fps: float = 10.0
    coverage: float = 0.6
    pitch_deg: Tuple[float, float] = (-8.0, 12.0)
    roll_deg: float = 3.0
    look_around_deg: float = 25.0
    wall_margin_m: float = 0.35
    min_view_distance_m: float = 0.3
    min_median_depth_m: float = 0.9
    sequences: int = 3
    test_sequences: int = 1
    mount_xyz_m: Tuple[float, float, float] = (0.1, 0.0, 1.1)
    mount_pitch_deg: float = 5.0


@dataclass(frozen=True)
class PhotoConfig:
    """Photo-domain effects (camera and sensor); every amount 0 disables the effect.

    Attributes:
        shading: Lambertian shading with light falloff (False: flat albedo).
        exposure_stops: amplitude of the smooth exposure drift over a sequence, stops.
        white_balance: amplitude of the smooth per-channel white-balance drift (gain - 1).
        vignetting: relative brightness loss at the image corners.
        shot_noise: shot-noise scale (std at full white, linear units).
        read_noise: read-noise std, linear units.
        exposure_s: shutter time, seconds (motion blur follows the camera motion during it).
        jpeg_quality: (low, high) JPEG quality range; (0, 0) disables JPEG.
        gamma: display gamma applied to linear radiance.
    """

    shading: bool = True
    exposure_stops: float = 0.5
    white_balance: float = 0.06
    vignetting: float = 0.35
    shot_noise: float = 0.02
    read_noise: float = 0.006
    exposure_s: float = 0.02
    jpeg_quality: Tuple[int, int] = (55, 92)
    gamma: float = 2.2


@dataclass(frozen=True)
class ScanConfig:
    """Point-cloud scan and splat rendering (DANCE's synthetic domain).

    Attributes:
        scanners: (low, high) number of scanner stations per scene.
        face_size: resolution of each face of a scanner's cube map (pixels).
        voxel_m: voxel size of the merged point cloud, metres.
        range_noise_m: std of the range noise along the scan ray, metres.
        dropout: fraction of surface area missing in blobs (unscanned patches).
        max_range_m: maximum scanner range, metres.
        colour_cast: amplitude of the scan's own colour cast (per-channel gain - 1).
        splat_scale: splat size relative to each point's footprint (the scan's local point
            spacing); the on-screen size is ``splat_scale * footprint * f / z`` pixels.
        splat_px: (min, max) splat size clamp in pixels.
    """

    scanners: Tuple[int, int] = (3, 4)
    face_size: int = 320
    voxel_m: float = 0.015
    range_noise_m: float = 0.002
    dropout: float = 0.06
    max_range_m: float = 25.0
    colour_cast: float = 0.12
    splat_scale: float = 1.2
    splat_px: Tuple[int, int] = (1, 6)


@dataclass(frozen=True)
class SynthPreset:
    """A named generator preset: layout, camera, paths, photo effects and scan settings."""

    name: str = 'room'
    layout: LayoutConfig = field(default_factory=LayoutConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    path: PathConfig = field(default_factory=PathConfig)
    photo: PhotoConfig = field(default_factory=PhotoConfig)
    scan: ScanConfig = field(default_factory=ScanConfig)


PRESETS: Dict[str, SynthPreset] = {
    'room': SynthPreset('room'),
    'office': SynthPreset(
        'office',
        layout=LayoutConfig(size_m=(3.0, 6.0), height_m=(2.5, 3.0), furniture_per_m2=0.22,
                            max_furniture=12, decals_per_wall=(2, 6), plain_wall_prob=0.1)),
    'hall': SynthPreset(
        'hall',
        layout=LayoutConfig(size_m=(10.0, 15.0), height_m=(3.5, 5.0), furniture_per_m2=0.08,
                            max_furniture=24, decals_per_wall=(3, 8), texel_m=0.015),
        path=PathConfig(speed_mps=0.7, min_median_depth_m=1.5)),
    'robot': SynthPreset(
        'robot',
        layout=LayoutConfig(size_m=(4.0, 12.0)),
        path=PathConfig(style='robot', height_m=(0.5, 0.5), speed_mps=0.4, pitch_deg=(0.0, 0.0),
                        roll_deg=0.0, look_around_deg=10.0, wall_margin_m=0.45,
                        mount_xyz_m=(0.15, 0.0, 0.5), mount_pitch_deg=0.0)),
    'outdoor': SynthPreset(
        'outdoor',
        layout=LayoutConfig(kind='outdoor', size_m=(25.0, 70.0), height_m=(8.0, 20.0),
                            furniture_per_m2=0.01, max_furniture=30, decals_per_wall=(0, 0),
                            plain_wall_prob=0.0, texel_m=0.03, floor_texel_m=0.05,
                            world_offset_m=500.0, lights=(0, 0)),
        camera=CameraConfig(hfov_deg=66.0, distortion_model='plumb_bob',
                            distortion=(-0.06, 0.01, 0.0, 0.0, 0.0)),
        path=PathConfig(height_m=(1.5, 1.8), speed_mps=1.2, pitch_deg=(2.0, 6.0),
                        look_around_deg=35.0, wall_margin_m=1.0, min_view_distance_m=1.0,
                        min_median_depth_m=4.0, mount_xyz_m=(0.0, 0.0, 1.6)),
        photo=PhotoConfig(exposure_stops=0.8, white_balance=0.08, exposure_s=0.008),
        scan=ScanConfig(face_size=384, voxel_m=0.05, max_range_m=80.0)),
    'tiny': SynthPreset(
        'tiny',
        layout=LayoutConfig(size_m=(4.0, 5.0), height_m=(2.5, 2.8), furniture_per_m2=0.15,
                            max_furniture=4, decals_per_wall=(1, 2), texel_m=0.02,
                            floor_texel_m=0.04, lights=(2, 2)),
        path=PathConfig(sequences=2, test_sequences=1),
        scan=ScanConfig(scanners=(2, 2), face_size=128, voxel_m=0.03)),
}


def get_preset(name: str) -> SynthPreset:
    """Return the named preset (frozen).

    Raises:
        ValueError: for an unknown preset name.
    """
    if name not in PRESETS:
        raise ValueError(f'unknown synth preset {name!r}; choose from {sorted(PRESETS)}')
    return PRESETS[name]


def override(preset: SynthPreset, **changes) -> SynthPreset:
    """Return a copy of ``preset`` with dotted fields replaced, e.g. ``path.fps=5``.

    Keyword names use ``__`` for the dot: ``override(p, path__fps=5.0)``.

    Raises:
        ValueError: for an unknown field name.
    """
    out = preset
    for key, value in changes.items():
        parts = key.split('__')
        out = _replace_path(out, parts, value, key)
    return out


def _replace_path(obj, parts, value, key):
    names = {f.name for f in fields(obj)}
    if parts[0] not in names:
        raise ValueError(f'unknown preset field {key!r} ({parts[0]!r} not in {sorted(names)})')
    if len(parts) == 1:
        return replace(obj, **{parts[0]: value})
    child = getattr(obj, parts[0])
    if not is_dataclass(child):
        raise ValueError(f'preset field {key!r}: {parts[0]!r} has no sub-fields')
    return replace(obj, **{parts[0]: _replace_path(child, parts[1:], value, key)})


def preset_to_dict(preset: SynthPreset) -> dict:
    """Plain-dict view of a preset (tuples as lists), for scene.json metadata."""
    def conv(obj):
        if is_dataclass(obj):
            return {f.name: conv(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, tuple):
            return [conv(v) for v in obj]
        return obj
    return conv(preset)


def preset_from_dict(data: dict) -> SynthPreset:
    """Rebuild a preset from :func:`preset_to_dict`'s output (e.g. a dataset's scene.json).

    Raises:
        ValueError: for unknown sections or fields.
    """
    if not isinstance(data, dict):
        raise ValueError(f'preset must be a mapping, got {type(data).__name__}')
    tree = dict(data)
    name = str(tree.pop('name', 'room'))
    return override(SynthPreset(name), **_flatten(tree))


def _tupled(value):
    """YAML lists become tuples (the dataclass fields are tuples)."""
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value


def _flatten(tree: dict, prefix: str = '') -> Dict[str, object]:
    """Nested sections to ``section__field`` keyword names (the :func:`override` form)."""
    out = {}
    for key, value in tree.items():
        name = f'{prefix}__{key}' if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flatten(value, name))
        else:
            out[name] = _tupled(value)
    return out


def load_preset(name_or_path: Union[str, Path], overrides: Sequence[str] = ()) -> SynthPreset:
    """Load a preset by name or from a YAML file, then apply ``key=value`` overrides.

    Args:
        name_or_path: a name in :data:`PRESETS` or a ``.yaml`` file (see the module doc).
        overrides: dotted ``section.field=value`` strings, values parsed as YAML
            (``path.fps=15``, ``layout.size_m=[4, 6]``).

    Returns:
        A new frozen SynthPreset (the named presets are not modified).

    Raises:
        FileNotFoundError: a ``.yaml`` path that does not exist.
        ValueError: unknown preset, unknown field or malformed file / override (the message
            names the file or the override).
    """
    text = str(name_or_path)
    if text in PRESETS:
        preset = PRESETS[text]
    elif text.endswith(('.yaml', '.yml')):
        path = Path(text)
        if not path.is_file():
            raise FileNotFoundError(f'synth preset file not found: {path}')
        try:
            tree = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f'{path}: not valid YAML: {exc}') from exc
        if not isinstance(tree, dict):
            raise ValueError(f'{path}: expected a mapping of preset sections, got '
                             f'{type(tree).__name__}')
        base = get_preset(str(tree.pop('base', 'room')))
        name = str(tree.pop('name', path.stem))
        try:
            preset = override(replace(base, name=name), **_flatten(tree))
        except ValueError as exc:
            raise ValueError(f'{path}: {exc}') from exc
    else:
        preset = get_preset(text)
    changes = {}
    for item in overrides:
        key, sep, value = item.partition('=')
        if not sep or not key.strip():
            raise ValueError(f'override {item!r} must look like section.field=value')
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ValueError(f'override {item!r}: value is not valid YAML: {exc}') from exc
        changes[key.strip().replace('.', '__')] = _tupled(parsed)
    return override(preset, **changes)
