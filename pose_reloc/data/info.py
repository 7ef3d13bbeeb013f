# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Dataset summaries: frames, splits, intrinsics and spatial extent per scene."""

from pathlib import Path
from typing import Union

import numpy as np

from pose_reloc.data.formats import load_dataset
from pose_reloc.data.sanity import describe_outlier


def _camera_dict(camera) -> dict:
    return {'width': camera.width, 'height': camera.height, 'fx': camera.fx, 'fy': camera.fy,
            'cx': camera.cx, 'cy': camera.cy, 'distortion_model': camera.distortion_model,
            'distortion': list(camera.distortion)}


def scene_info(scene) -> dict:
    """Summarize one Scene.

    Args:
        scene: a :class:`~pose_reloc.data.records.Scene`.

    Returns:
        dict with ``name``, ``format``, ``root``, ``frames``, ``splits`` ({split: count};
        '' = unassigned), ``sequences`` (names), ``frames_with_depth``, ``cameras`` (list of
        intrinsics dicts with their ``frames`` count) and ``extent`` (``min``/``max``/``size``
        of the camera centres, metres, and ``path_length_m``: summed distance between
        consecutive camera centres within each sequence, in time order), and ``outliers``:
        the rows the sanity checks left out (``pose_reloc.data.sanity``; not counted in
        ``frames`` nor the extent).
    """
    frames = scene.frames
    cameras = {}
    for frame in frames:
        cameras[frame.camera] = cameras.get(frame.camera, 0) + 1
    sequences = {}
    for frame in frames:
        sequences.setdefault(frame.sequence, []).append(frame)
    path_length = 0.0
    for members in sequences.values():
        ordered = sorted(members, key=lambda f: f.timestamp_ns)
        centres = np.array([f.T_world_cam[:3, 3] for f in ordered])
        if len(centres) > 1:
            path_length += float(np.linalg.norm(np.diff(centres, axis=0), axis=1).sum())
    extent = None
    if frames:
        centres = np.array([f.T_world_cam[:3, 3] for f in frames])
        lo, hi = centres.min(axis=0), centres.max(axis=0)
        extent = {'min': lo.tolist(), 'max': hi.tolist(), 'size': (hi - lo).tolist(),
                  'path_length_m': path_length}
    return {
        'name': scene.name,
        'format': scene.source_format,
        'root': str(scene.root),
        'frames': len(frames),
        'splits': scene.split_counts(),
        'sequences': sorted(sequences),
        'frames_with_depth': sum(1 for f in frames if f.depth_path is not None),
        'cameras': [dict(_camera_dict(c), frames=n) for c, n in cameras.items()],
        'extent': extent,
        'outliers': [{k: o[k] for k in ('source', 'image', 'split', 'position', 'distance_m',
                                        'spread_m', 'threshold_m')} for o in scene.outliers],
    }


def dataset_info(path: Union[str, Path], fmt: str = 'auto') -> dict:
    """Summarize a dataset (one scene folder or a multi-scene root).

    Args:
        path: dataset folder.
        fmt: ``'auto'`` or a format name (see :data:`pose_reloc.data.formats.FORMATS`).

    Returns:
        dict with ``path``, ``frames`` (total) and ``scenes`` (list of :func:`scene_info`).

    Raises:
        FileNotFoundError, ValueError: from :func:`~pose_reloc.data.formats.load_dataset`.
    """
    scenes = load_dataset(path, fmt)
    return {'path': str(path), 'frames': sum(len(s.frames) for s in scenes),
            'scenes': [scene_info(s) for s in scenes]}


def _vec(values) -> str:
    return '(' + ', '.join(f'{v:.3f}' for v in values) + ')'


def format_info(info: dict) -> str:
    """Render :func:`dataset_info`'s dict as human-readable text."""
    lines = [f'dataset {info["path"]}: {len(info["scenes"])} scene(s), {info["frames"]} frames']
    for scene in info['scenes']:
        splits = ', '.join(f'{name or "unassigned"} {n}' for name, n in scene['splits'].items())
        lines.append(f'scene {scene["name"]} ({scene["format"]}, {scene["root"]})')
        lines.append(f'  frames      {scene["frames"]} ({splits}); '
                     f'{len(scene["sequences"])} sequence(s); '
                     f'{scene["frames_with_depth"]} with depth')
        for cam in scene['cameras']:
            distortion = cam['distortion_model']
            if cam['distortion']:
                distortion += ' ' + ' '.join(f'{d:.4g}' for d in cam['distortion'])
            lines.append(f'  camera      {cam["width"]}x{cam["height"]} fx {cam["fx"]:.3f} '
                         f'fy {cam["fy"]:.3f} cx {cam["cx"]:.3f} cy {cam["cy"]:.3f} '
                         f'distortion {distortion} ({cam["frames"]} frames)')
        extent = scene['extent']
        if extent is not None:
            lines.append(f'  extent      min {_vec(extent["min"])} max {_vec(extent["max"])} '
                         f'size {_vec(extent["size"])} m')
            lines.append(f'  path length {extent["path_length_m"]:.3f} m')
        outliers = scene.get('outliers') or []
        if outliers:
            lines.append(f'  outliers    {len(outliers)} row(s) left out (camera position far '
                         'outside the scene):')
            for outlier in outliers:
                lines.append(f'    {describe_outlier(outlier)}')
    return '\n'.join(lines)
