# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Generate synthetic posed-folder datasets (and rosbags) from a preset and a seed.

:func:`generate_dataset` writes a multi-scene root (one posed folder per scene, see
``docs/ARCHITECTURE.md``): ``rgb/`` photos or scan renders, ``depth/`` uint16 millimetres
(0 = invalid: sky, scan holes), ``poses.txt`` (``T_world_cam``), ``splits/`` (whole
sequences are train or test, as in 7-Scenes, and with ``val_sequences`` also val) and
``scene.json`` (sequence of every frame and the generator settings, including the camera
mounting ``T_base_cam`` used by the bag export). The root is filled under
``<out>.partial`` and renamed at the end, so an interrupted run never leaves a dataset that
looks complete.

Randomness: every source (layout, textures, paths, photo effects, scan) of every scene
has its own generator seeded from ``(seed, scene index, source[, sequence, frame])``, so a
seed reproduces the dataset bit for bit, and the same seed with another ``domain`` gives
the same scenes and poses.
"""

import json
import os
from pathlib import Path
import shutil
import sys
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from tqdm import tqdm

from pose_reloc import __version__
from pose_reloc.data.formats.posed_folder import PosedFolderWriter
from pose_reloc.data.synthetic import paths, photo, scan
from pose_reloc.data.synthetic.presets import load_preset, preset_from_dict, preset_to_dict
from pose_reloc.data.synthetic.presets import SynthPreset
from pose_reloc.data.synthetic.raycast import render
from pose_reloc.data.synthetic.scene import build_scene, STREAM_PATH, STREAM_PHOTO
from pose_reloc.data.synthetic.scene import stream_rng, SyntheticScene
from pose_reloc.geometry.camera import PinholeCamera

#: first time stamp of every scene (2023-11-14T22:13:20Z), nanoseconds.
T0_NS = 1_700_000_000 * 10 ** 9
#: time between the starts of consecutive sequences, nanoseconds (1000 s).
SEQUENCE_SPACING_NS = 1000 * 10 ** 9
DOMAINS = ('photo', 'scan')
RANDOM_VIEWS_SEQUENCE = 'views'


def make_camera(preset: SynthPreset, size: Tuple[int, int]) -> PinholeCamera:
    """Return the dataset camera of a preset at an image size.

    Args:
        preset: the generator preset (its ``camera`` section: horizontal field of view,
            principal-point offset in pixels at 320 px width, distortion).
        size: ``(width, height)`` in pixels, at least 8x8.

    Returns:
        PinholeCamera with ``fx = fy`` from the field of view and the principal point at
        the image centre ``((W - 1) / 2, (H - 1) / 2)`` plus the scaled offset.
    """
    width, height = int(size[0]), int(size[1])
    if width < 8 or height < 8:
        raise ValueError(f'image size must be at least 8x8, got {width}x{height}')
    cfg = preset.camera
    f = width / (2.0 * np.tan(np.radians(cfg.hfov_deg) / 2.0))
    scale = width / 320.0
    return PinholeCamera(width, height, f, f,
                         (width - 1) / 2.0 + cfg.principal_offset_px[0] * scale,
                         (height - 1) / 2.0 + cfg.principal_offset_px[1] * scale,
                         cfg.distortion_model, tuple(cfg.distortion))


def sequence_plan(preset: SynthPreset, frames: int, random_views: int = 0,
                  val_sequences: int = 0) -> list:
    """Names, splits and frame counts of a scene's sequences.

    ``frames`` is split over ``preset.path.sequences`` trajectories (``seq-01``, ...); the
    last ``test_sequences`` are the test split. ``random_views`` adds a ``views`` sequence
    (train split) of independent random poses. ``val_sequences`` adds that many trajectories
    ``val-01``, ... (val split, ``frames // sequences`` frames each, own paths) after all
    others, so the train and test sequences are the same with or without them.

    Args:
        preset: the generator preset (``path.sequences``, ``path.test_sequences``).
        frames: trajectory frames of the scene (>= the number of sequences).
        random_views: frames of the extra ``views`` sequence (0 = none).
        val_sequences: extra held-out trajectories in the val split (0 = none).

    Returns:
        list of dicts ``{name, split, kind ('trajectory'|'random_views'), frames}``.
    """
    cfg = preset.path
    n_seq = cfg.sequences
    if n_seq < 1 or not 0 <= cfg.test_sequences <= n_seq:
        raise ValueError(f'preset {preset.name}: need sequences >= 1 and 0 <= test_sequences '
                         f'<= sequences, got {n_seq} and {cfg.test_sequences}')
    if frames < n_seq:
        raise ValueError(f'frames ({frames}) must be at least the number of sequences '
                         f'({n_seq}) of preset {preset.name}')
    if val_sequences < 0:
        raise ValueError(f'val_sequences must be >= 0, got {val_sequences}')
    plan = []
    for i in range(n_seq):
        count = frames // n_seq + (1 if i < frames % n_seq else 0)
        split = 'test' if i >= n_seq - cfg.test_sequences else 'train'
        plan.append({'name': f'seq-{i + 1:02d}', 'split': split, 'kind': 'trajectory',
                     'frames': count})
    if random_views > 0:
        plan.append({'name': RANDOM_VIEWS_SEQUENCE, 'split': 'train', 'kind': 'random_views',
                     'frames': int(random_views)})
    for i in range(val_sequences):
        plan.append({'name': f'val-{i + 1:02d}', 'split': 'val', 'kind': 'trajectory',
                     'frames': frames // n_seq})
    return plan


def _sequence(scene: SyntheticScene, preset: SynthPreset, camera: PinholeCamera, seed: int,
              index: int, seq_index: int, item: dict):
    """(timestamps_ns list, poses (N, 4, 4), Trajectory or None) of one planned sequence."""
    rng = stream_rng(seed, index, STREAM_PATH, seq_index)
    start = T0_NS + seq_index * SEQUENCE_SPACING_NS
    if item['kind'] == 'random_views':
        poses = paths.random_views(scene, preset.path, camera, item['frames'], rng)
        step = int(round(1e9 / preset.path.fps))
        return [start + i * step for i in range(len(poses))], poses, None
    traj = paths.trajectory(scene, preset.path, camera, item['frames'], rng)
    stamps = [start + int(round(t * 1e9)) for t in traj.times_s]
    if stamps and stamps[-1] - start >= SEQUENCE_SPACING_NS:
        raise ValueError(f'preset {preset.name}: sequence {item["name"]} lasts '
                         f'{(stamps[-1] - start) * 1e-9:.1f} s, longer than the '
                         f'{SEQUENCE_SPACING_NS * 1e-9:.0f} s between sequence starts (its time '
                         f'stamps would run into the next sequence); use fewer frames')
    return stamps, traj.poses, traj


class _PhotoSequence:
    """Develops the renders of one sequence into photos (stateful auto-exposure)."""

    def __init__(self, preset, camera, seed, index, seq_index, stamps, effects):
        self.cfg = preset.photo
        self.camera = camera
        self.effects = effects
        self.seed, self.index, self.seq_index = seed, index, seq_index
        rng = stream_rng(seed, index, STREAM_PHOTO, seq_index)
        times = (np.asarray(stamps, np.int64) - stamps[0]) * 1e-9
        self.look = photo.sequence_appearance(self.cfg, times, rng)
        self.ae = photo.AutoExposure()
        self.vignette = photo.vignette(camera, self.cfg.vignetting) \
            if self.cfg.vignetting > 0 else None

    def develop(self, i, radiance, depth, traj):
        if not self.effects:
            return photo.to_srgb8(radiance, self.cfg.gamma)
        gain = self.ae.update(radiance) * 2.0 ** self.look.drift_stops_n[i]
        blur = np.zeros(2)
        if self.cfg.exposure_s > 0 and traj is not None:
            T_open = traj.pose_at(traj.times_s[i] - self.cfg.exposure_s)[0]
            blur = photo.blur_vector(depth, self.camera, traj.poses[i], T_open)
        rng = stream_rng(self.seed, self.index, STREAM_PHOTO, self.seq_index, i + 1)
        return photo.develop(radiance, self.cfg, gain, self.look.white_balance_n3[i],
                             int(self.look.jpeg_quality_n[i]), blur, self.vignette, rng)


def scene_of(scene_dir: Union[str, Path]) -> SyntheticScene:
    """Rebuild the :class:`SyntheticScene` of a generated scene folder from its scene.json.

    Useful to check a dataset against the analytic geometry (``surface_distance``) or to
    render new views of the same scene.

    Args:
        scene_dir: a scene folder written by :func:`generate_scene`.

    Returns:
        The SyntheticScene (layout, textures, world frame) it was rendered from.

    Raises:
        FileNotFoundError: the folder has no scene.json.
        ValueError: the folder was not written by the synthetic generator.
    """
    path = Path(scene_dir) / 'scene.json'
    if not path.is_file():
        raise FileNotFoundError(f'{path}: not found (not a generated scene folder?)')
    info = json.loads(path.read_text())
    meta = info.get('metadata', {})
    if meta.get('generator') != 'pose_reloc.data.synthetic':
        raise ValueError(f'{path}: not written by pose_reloc.data.synthetic (generator = '
                         f'{meta.get("generator")!r})')
    return build_scene(preset_from_dict(meta['preset']), int(meta['seed']),
                       int(meta['scene_index']), str(info.get('name', '')))


def generate_scene(out_dir: Union[str, Path], preset: Union[str, SynthPreset] = 'room',
                   seed: int = 0, index: int = 0, frames: int = 120,
                   size: Tuple[int, int] = (320, 240), domain: str = 'photo',
                   random_views: int = 0, effects: bool = True, name: Optional[str] = None,
                   overwrite: bool = False, progress: Optional[tqdm] = None,
                   val_sequences: int = 0, export_cloud: bool = False) -> Path:
    """Generate one scene as a posed folder (atomic).

    Args:
        out_dir: the scene folder to create.
        preset: preset name, YAML file or object.
        seed: dataset seed (>= 0).
        index: scene number (different scenes of one seed).
        frames: trajectory frames of the scene, split over its sequences.
        size: image size (width, height), pixels.
        domain: ``'photo'`` (ray-traced, camera effects) or ``'scan'`` (splatted point
            cloud, with holes).
        random_views: extra independent random views (sequence ``views``, train split).
        effects: photo domain only: apply the camera effects (False: clean shaded render).
        name: scene name (default ``<preset>_<index>``).
        overwrite: replace an existing folder.
        progress: a tqdm bar to advance per frame (None: no progress output).
        val_sequences: extra trajectories in the val split (``val-01``, ...,
            ``frames // sequences`` frames each; see :func:`sequence_plan`).
        export_cloud: also write the scene's scan (:func:`scan.scan_scene`, the same cloud
            the scan domain renders) as ``<out_dir>/cloud.ply`` (:func:`export_scan_cloud`).

    Returns:
        The scene folder.
    """
    preset = preset if isinstance(preset, SynthPreset) else load_preset(preset)
    if domain not in DOMAINS:
        raise ValueError(f'domain must be one of {DOMAINS}, got {domain!r}')
    camera = make_camera(preset, size)
    scene = build_scene(preset, seed, index, name or '')
    plan = sequence_plan(preset, frames, random_views, val_sequences)
    cloud = None
    if domain == 'scan' or export_cloud:
        cloud = scan.scan_scene(scene, preset.scan, seed, index)
    T_base_cam = paths.mount_transform(preset.path)
    metadata = {
        'generator': 'pose_reloc.data.synthetic', 'package_version': __version__,
        'preset': preset_to_dict(preset), 'seed': int(seed), 'scene_index': int(index),
        'domain': domain, 'photo_effects': bool(effects), 'fps': preset.path.fps,
        'T_base_cam': T_base_cam.tolist(), 'scene': scene.metadata,
        'sequences': {item['name']: {'split': item['split'], 'kind': item['kind']}
                      for item in plan},
    }
    if cloud is not None:
        metadata['scan'] = cloud.metadata
    with PosedFolderWriter(out_dir, camera, scene_name=scene.name, overwrite=overwrite,
                           metadata=metadata) as writer:
        for seq_index, item in enumerate(plan):
            stamps, poses, traj = _sequence(scene, preset, camera, seed, index, seq_index, item)
            developer = _PhotoSequence(preset, camera, seed, index, seq_index, stamps,
                                       effects) if domain == 'photo' else None
            for i, T_world_cam in enumerate(poses):
                if domain == 'photo':
                    out = render(scene, camera, T_world_cam, shade=preset.photo.shading)
                    image = developer.develop(i, out.rgb, out.depth, traj)
                    depth = out.depth
                else:
                    image, depth = scan.render_scan(cloud, camera, T_world_cam, preset.scan)
                writer.add(stamps[i], T_world_cam, image, depth, split=item['split'],
                           sequence=item['name'])
                if progress is not None:
                    progress.update(1)
    if export_cloud:
        export_scan_cloud(cloud, Path(out_dir) / CLOUD_FILE)
    return Path(out_dir)


#: file name of a scene's exported scan (``generate_scene(..., export_cloud=True)``).
CLOUD_FILE = 'cloud.ply'


def export_scan_cloud(cloud: 'scan.PointCloud', path: Union[str, Path],
                      binary: bool = True) -> Path:
    """Write a synthetic scan as a coloured PLY/PCD file in the world (map) frame.

    Points and normals are moved from the layout frame to the world frame
    (``cloud.T_world_layout``); the scan's footprint (local point spacing) is stored as the
    surfel ``radius`` (half the footprint), which the cloud renderer uses to size splats.

    Args:
        cloud: the scan (``scan.scan_scene``).
        path: ``.ply`` or ``.pcd`` file.
        binary: binary or ASCII.

    Returns:
        ``path``.
    """
    from pose_reloc.data.pointcloud import ColoredCloud, write_cloud
    R = cloud.T_world_layout[:3, :3]
    return write_cloud(path, ColoredCloud(
        cloud.points_world().astype(np.float32), cloud.colours_n3,
        (cloud.normals_n3.astype(np.float64) @ R.T).astype(np.float32),
        0.5 * cloud.footprint_n), binary=binary)


def generate_dataset(out: Union[str, Path], preset: Union[str, SynthPreset] = 'room',
                     scenes: int = 2, seed: int = 0, frames: int = 120,
                     size: Tuple[int, int] = (320, 240), domain: str = 'photo',
                     random_views: int = 0, effects: bool = True, overwrite: bool = False,
                     progress: bool = True, scene_names: Optional[Sequence[str]] = None,
                     val_sequences: int = 0, export_cloud: bool = False) -> Path:
    """Generate a multi-scene posed-folder dataset (atomic: ``<out>.partial``, then rename).

    Args:
        out: the dataset root to create (one sub-folder per scene).
        preset: preset name (see ``presets.PRESETS``), YAML file or object.
        scenes: number of scenes (each with its own layout, textures and world frame).
        seed: dataset seed (>= 0); the same seed gives identical bytes.
        frames: trajectory frames per scene, split over the preset's sequences.
        size: image size (width, height), pixels.
        domain: ``'photo'`` or ``'scan'``.
        random_views: extra random views per scene (``views`` sequence, train split).
        effects: photo domain only: camera effects on (False: clean shaded renders).
        overwrite: replace an existing root.
        progress: show a tqdm progress bar (on stderr).
        scene_names: optional scene folder names (default ``<preset>_<NN>``).
        val_sequences: extra held-out trajectories per scene in the ``val`` split
            (``val-01``, ..., ``frames // sequences`` frames each, disjoint from the train and
            test sequences; 0 = none, the dataset is then unchanged). For covariance
            calibration (``data.calibration_split: val``) without touching the test split.
        export_cloud: write each scene's scan as ``<scene>/cloud.ply`` (DANCE's 3-D model;
            the images are unchanged).

    Returns:
        The dataset root.
    """
    preset = preset if isinstance(preset, SynthPreset) else load_preset(preset)
    if scenes < 1:
        raise ValueError(f'scenes must be >= 1, got {scenes}')
    if scene_names is not None and len(scene_names) != scenes:
        raise ValueError(f'scene_names has {len(scene_names)} names for {scenes} scenes')
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f'{out}: already exists (pass overwrite=True / --overwrite)')
    partial = out.with_name(out.name + '.partial')
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    if val_sequences < 0:
        raise ValueError(f'val_sequences must be >= 0, got {val_sequences}')
    total = scenes * (frames + random_views
                      + val_sequences * (frames // max(preset.path.sequences, 1)))
    bar = tqdm(total=total, unit='frame', desc=f'synth {out.name}', disable=not progress,
               file=sys.stderr)
    try:
        for index in range(scenes):
            name = scene_names[index] if scene_names else f'{preset.name}_{index:02d}'
            bar.set_postfix_str(name)
            generate_scene(partial / name, preset, seed, index, frames, size, domain,
                           random_views, effects, name, progress=bar,
                           val_sequences=val_sequences, export_cloud=export_cloud)
    except BaseException:
        bar.close()
        shutil.rmtree(partial, ignore_errors=True)
        raise
    bar.close()
    if out.exists():
        old = out.with_name(f'{out.name}.old-{os.getpid()}')
        out.rename(old)
        partial.rename(out)
        shutil.rmtree(old)
    else:
        partial.rename(out)
    return out
