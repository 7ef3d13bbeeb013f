# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Foundation self-check: load every dataset format and verify one known answer each.

Runs on the shared test data (``7scenes_sample``, ``nerf_lego_200``), on a Cambridge
Landmarks fixture written to a temporary folder, and on a posed folder converted from the
7-Scenes sample (write -> read round trip). Used by ``pose-reloc demo --selfcheck``.
"""

from pathlib import Path
import tempfile
import time
from typing import Optional, Union

import numpy as np

from pose_reloc.data.formats import cambridge, load_dataset, write_scene
from pose_reloc.data.formats.sevenscenes import read_pose_file
from pose_reloc.data.records import load_depth, load_image
from pose_reloc.geometry.rotations import quat_to_matrix
from pose_reloc.geometry.se3 import invert, make_T


def default_data_dir() -> Path:
    """Return the shared test data folder next to the repository, ``<repo>/../shared/data``."""
    return Path(__file__).resolve().parents[2].parent / 'shared' / 'data'


def make_cambridge_fixture(root: Union[str, Path], sequences: int = 2,
                           frames_per_sequence: int = 3,
                           width: int = 96, height: int = 54, seed: int = 0) -> list:
    """Write a small Cambridge Landmarks scene with random poses and textured images.

    Sequence 1 goes to ``dataset_train.txt``, the others to ``dataset_test.txt``.

    Args:
        root: scene folder to write.
        sequences: number of ``seqN`` folders.
        frames_per_sequence: images per sequence.
        width: image width, pixels (the default camera scales f = 1670 px at 1920 px).
        height: image height, pixels.
        seed: random seed.

    Returns:
        The rows written: dicts with ``name``, ``T_world_cam``, ``image`` and ``split``.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for seq in range(1, sequences + 1):
        for index in range(frames_per_sequence):
            q = rng.normal(size=4)
            T_world_cam = make_T(quat_to_matrix(q / np.linalg.norm(q)),
                                 rng.uniform(-20.0, 20.0, size=3))
            image = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
            rows.append({'name': f'seq{seq}/frame{index + 1:05d}.png', 'T_world_cam': T_world_cam,
                         'image': image, 'split': 'train' if seq == 1 else 'test'})
    cambridge.write_dataset(root, rows)
    return rows


def _summary(scenes) -> dict:
    splits = {}
    for scene in scenes:
        for name, count in scene.split_counts().items():
            splits[name] = splits.get(name, 0) + count
    return {'scenes': [s.name for s in scenes], 'frames': sum(len(s) for s in scenes),
            'splits': splits}


def _check_7scenes(path: Path) -> dict:
    scenes = load_dataset(path)
    frame = scenes[0].frames[0]
    pose_path = frame.image_path.with_name(frame.image_path.name.split('.')[0] + '.pose.txt')
    pose_err = float(np.abs(frame.T_world_cam - read_pose_file(pose_path)).max())
    image = load_image(frame)
    depth = load_depth(frame)
    valid = float((depth > 0).mean())
    ok = pose_err == 0.0 and image.shape == (480, 640, 3) and 0.1 < valid <= 1.0
    return dict(_summary(scenes), ok=ok,
                check=f'pose equals its .pose.txt (max diff {pose_err:g}); image '
                      f'{image.shape[1]}x{image.shape[0]}; {valid:.0%} valid depth, median '
                      f'{float(np.median(depth[depth > 0])):.2f} m')


def _check_nerf(path: Path) -> dict:
    scenes = load_dataset(path)
    inside = []
    for frame in scenes[0].frames:
        origin_cam = invert(frame.T_world_cam) @ np.array([0.0, 0.0, 0.0, 1.0])
        uv, valid = frame.camera.project(origin_cam[None, :3])
        inside.append(bool(valid[0]) and origin_cam[2] > 0
                      and 0 <= uv[0, 0] < frame.camera.width
                      and 0 <= uv[0, 1] < frame.camera.height)
    rate = float(np.mean(inside))
    image = load_image(scenes[0].frames[0])
    return dict(_summary(scenes), ok=rate > 0.9 and image.dtype == np.uint8,
                check=f'world origin (the object) in front of and inside the image in '
                      f'{rate:.0%} of frames')


def _check_cambridge(work: Path) -> dict:
    rows = make_cambridge_fixture(work / 'cambridge_fixture')
    scenes = load_dataset(work / 'cambridge_fixture')
    errors = [float(np.abs(f.T_world_cam - row['T_world_cam']).max())
              for f, row in zip(scenes[0].frames, rows)]
    images_equal = all(np.array_equal(load_image(f), row['image'])
                       for f, row in zip(scenes[0].frames, rows))
    ok = len(errors) == len(rows) and max(errors) < 1e-6 and images_equal
    return dict(_summary(scenes), ok=ok,
                check=f'fixture poses recovered from XYZ + WPQR (max diff {max(errors):.1e}); '
                      f'images {"bit-exact" if images_equal else "DIFFER"}')


def _check_posed(seven_path: Path, work: Path) -> dict:
    source = load_dataset(seven_path)[0]
    out = write_scene(work / 'posed' / source.name, None, source.frames,
                      source.frames[0].camera, overwrite=True)
    scenes = load_dataset(work / 'posed')
    frames = scenes[0].frames
    same_images = all(np.array_equal(load_image(a), load_image(b))
                      for a, b in zip(source.frames, frames))
    same_depth = all(np.array_equal(load_depth(a), load_depth(b))
                     for a, b in zip(source.frames, frames))
    t_err = max(float(np.linalg.norm(a.T_world_cam[:3, 3] - b.T_world_cam[:3, 3]))
                for a, b in zip(source.frames, frames))
    ok = (len(frames) == len(source.frames) and same_images and same_depth and t_err < 1e-8
          and [f.split for f in frames] == [f.split for f in source.frames])
    return dict(_summary(scenes), ok=ok, path=str(out),
                check=f'7-Scenes sample written and read back: images and depth '
                      f'{"bit-exact" if same_images and same_depth else "DIFFER"}, '
                      f'max centre diff {t_err:.1e} m, splits kept')


def selfcheck(data_dir: Optional[Union[str, Path]] = None,
              work_dir: Optional[Union[str, Path]] = None) -> dict:
    """Load every dataset format and check one known answer per format.

    Args:
        data_dir: the shared test data folder (default :func:`default_data_dir`).
        work_dir: folder for the written fixtures (default: a temporary folder, removed).

    Returns:
        dict ``{'ok': bool, 'data_dir': str, 'seconds': float, 'formats': {name: {'ok',
        'scenes', 'frames', 'splits', 'check' (what was verified, with figures)} or
        {'ok': False, 'error': message}}}`` for ``7scenes``, ``nerf``, ``cambridge`` and
        ``posed``.
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix='pose_reloc_selfcheck_') as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        checks = {
            '7scenes': lambda: _check_7scenes(data_dir / '7scenes_sample'),
            'nerf': lambda: _check_nerf(data_dir / 'nerf_lego_200'),
            'cambridge': lambda: _check_cambridge(work),
            'posed': lambda: _check_posed(data_dir / '7scenes_sample', work),
        }
        formats = {}
        for name, check in checks.items():
            try:
                formats[name] = check()
            except (OSError, ValueError) as exc:
                formats[name] = {'ok': False, 'error': f'{type(exc).__name__}: {exc}'}
    return {'ok': all(r['ok'] for r in formats.values()), 'data_dir': str(data_dir),
            'seconds': time.perf_counter() - start, 'formats': formats}


def format_selfcheck(report: dict) -> str:
    """Render a :func:`selfcheck` report as text, one line per format."""
    lines = [f'self-check of the dataset formats on {report["data_dir"]}']
    for name, result in report['formats'].items():
        status = 'ok  ' if result['ok'] else 'FAIL'
        if 'error' in result:
            lines.append(f'  {status} {name:9s} {result["error"]}')
            continue
        splits = ', '.join(f'{k or "unassigned"} {v}' for k, v in result['splits'].items())
        lines.append(f'  {status} {name:9s} {len(result["scenes"])} scene(s), '
                     f'{result["frames"]} frames ({splits}): {result["check"]}')
    lines.append(f'{"all formats ok" if report["ok"] else "SELF-CHECK FAILED"} '
                 f'({report["seconds"]:.1f} s)')
    return '\n'.join(lines)
