# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Synthetic datasets: posed-folder output, domains, determinism, atomicity, CLI."""

import hashlib
import json

import numpy as np
import pytest

from pose_reloc.cli import main
from pose_reloc.data.formats.posed_folder import read_root
from pose_reloc.data.records import load_depth, load_image
from pose_reloc.data.synthetic import generate
from pose_reloc.data.synthetic.generate import generate_dataset, generate_scene, scene_of
from pose_reloc.data.synthetic.presets import get_preset, override
from pose_reloc.data.synthetic.scene import build_scene
from pose_reloc.geometry.camera import depth_to_scene_coords

SIZE = (64, 48)


def _digest(root):
    out = {}
    for path in sorted(p for p in root.rglob('*') if p.is_file()):
        out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope='module')
def photo_root(tmp_path_factory):
    out = tmp_path_factory.mktemp('synth') / 'photo'
    return generate_dataset(out, 'tiny', scenes=2, seed=5, frames=6, size=SIZE,
                            random_views=2, progress=False)


def test_multi_scene_posed_folder(photo_root):
    scenes = read_root(photo_root)
    assert [s.name for s in scenes] == ['tiny_00', 'tiny_01']
    for scene in scenes:
        assert len(scene.frames) == 8
        assert scene.split_counts() == {'train': 5, 'test': 3}
        seq_split = {(f.sequence, f.split) for f in scene.frames}
        assert seq_split == {('seq-01', 'train'), ('seq-02', 'test'), ('views', 'train')}
        assert scene.metadata['domain'] == 'photo'
        assert np.asarray(scene.metadata['T_base_cam']).shape == (4, 4)
        stamps = [f.timestamp_ns for f in scene.frames]
        assert len(set(stamps)) == len(stamps)
    a, b = scenes
    assert not np.allclose(a.frames[0].T_world_cam, b.frames[0].T_world_cam, atol=1.0), \
        'scenes live in different world frames'
    assert not (photo_root.parent / 'photo.partial').exists()


def test_single_scene_folder_matches_the_root_scene(tmp_path, photo_root):
    one = generate_scene(tmp_path / 'one', 'tiny', seed=5, index=1, frames=6, size=SIZE,
                         random_views=2)
    (scene,) = read_root(one)
    assert scene.root == one and scene.name == 'tiny_01'
    assert _digest(one) == {k.split('/', 1)[1]: v for k, v in _digest(photo_root).items()
                            if k.startswith('tiny_01/')}


def test_photo_domain_has_no_holes_and_exact_depth(photo_root):
    scene = read_root(photo_root)[0]
    geometry = scene_of(scene.root)
    assert np.array_equal(geometry.T_world_layout,
                          build_scene(get_preset('tiny'), seed=5, index=0).T_world_layout)
    for frame in scene.frames[:3]:
        depth = load_depth(frame)
        image = load_image(frame)
        assert (depth > 0).all(), 'photo domain: every pixel has depth'
        assert image.std() > 10
        coords = depth_to_scene_coords(depth, frame.camera, frame.T_world_cam)
        # Depth is stored in millimetres: within 1 cm of the analytic surfaces.
        assert geometry.surface_distance(coords.reshape(-1, 3)).max() < 0.01


def test_scan_domain_has_holes_and_depth_from_splats(tmp_path):
    root = generate_dataset(tmp_path / 'scan', 'tiny', scenes=1, seed=5, frames=4, size=SIZE,
                            domain='scan', progress=False)
    scene = read_root(root)[0]
    geometry = build_scene(get_preset('tiny'), seed=5, index=0)
    holes, near = [], []
    for frame in scene.frames:
        depth = load_depth(frame)
        image = load_image(frame)
        hole = depth == 0
        holes.append(hole.mean())
        assert (image[hole] == 0).all(), 'holes are black'
        coords = depth_to_scene_coords(depth, frame.camera, frame.T_world_cam)
        dist = geometry.surface_distance(coords[~hole])
        near.append(np.mean(dist < 0.02))
    assert max(holes) > 0.005, 'scan renders leave holes'
    assert min(holes) < 0.5
    assert np.mean(near) > 0.8, 'splat depth lies mostly on the scanned surfaces'
    photo = generate_dataset(tmp_path / 'photo', 'tiny', scenes=1, seed=5, frames=4,
                             size=SIZE, progress=False)
    same = read_root(photo)[0]
    assert [f.timestamp_ns for f in same.frames] == [f.timestamp_ns for f in scene.frames]
    assert all(np.array_equal(a.T_world_cam, b.T_world_cam)
               for a, b in zip(same.frames, scene.frames)), 'same seed, same poses'


def test_same_seed_same_bytes(tmp_path, photo_root):
    again = generate_dataset(tmp_path / 'photo', 'tiny', scenes=2, seed=5, frames=6,
                             size=SIZE, random_views=2, progress=False)
    first, second = _digest(photo_root), _digest(again)
    assert first == second
    assert any(k.startswith('tiny_00/rgb/') for k in first)
    other = generate_dataset(tmp_path / 'other', 'tiny', scenes=2, seed=6, frames=6,
                             size=SIZE, random_views=2, progress=False)
    assert _digest(other)['tiny_00/poses.txt'] != first['tiny_00/poses.txt']


def test_val_sequences_add_a_disjoint_val_split(tmp_path, capsys, photo_root):
    out = tmp_path / 'val'
    assert main(['synth', str(out), '--preset', 'tiny', '--scenes', '1', '--frames', '6',
                 '--size', '64x48', '--seed', '5', '--random-views', '2', '--val-sequences',
                 '1', '--quiet']) == 0
    assert json.loads(capsys.readouterr().out)['frames'] == 11
    (scene,) = read_root(out)
    assert scene.split_counts() == {'train': 5, 'test': 3, 'val': 3}
    sequences = {split: {f.sequence for f in scene.split(split)}
                 for split in ('train', 'test', 'val')}
    assert sequences['val'] == {'val-01'}
    assert not sequences['val'] & (sequences['train'] | sequences['test'])
    stamps = [f.timestamp_ns for f in scene.frames]
    assert len(set(stamps)) == len(stamps)
    held_out = np.array([f.T_world_cam[:3, 3] for f in scene.split('val')])
    others = np.array([f.T_world_cam[:3, 3] for f in scene.frames if f.split != 'val'])
    gaps = np.linalg.norm(held_out[:, None] - others[None], axis=2)
    assert gaps.min() > 1e-3, 'the val trajectory is its own path'
    # the train and test frames are those of the same dataset without val sequences
    base = read_root(photo_root)[0]
    by_stamp = {f.timestamp_ns: f for f in scene.frames}
    for frame in base.frames:
        twin = by_stamp[frame.timestamp_ns]
        assert twin.split == frame.split and twin.sequence == frame.sequence
        assert np.array_equal(twin.T_world_cam, frame.T_world_cam)
        assert np.array_equal(load_image(twin), load_image(frame))


def test_interrupted_run_leaves_no_dataset(tmp_path, monkeypatch):
    calls = {'n': 0}
    real = generate.render

    def failing_render(*args, **kwargs):
        calls['n'] += 1
        if calls['n'] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(generate, 'render', failing_render)
    out = tmp_path / 'broken'
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(out, 'tiny', scenes=1, seed=0, frames=4, size=SIZE, progress=False)
    assert not out.exists()
    assert not (tmp_path / 'broken.partial').exists()


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match='domain'):
        generate_dataset(tmp_path / 'a', 'tiny', domain='lidar', progress=False)
    with pytest.raises(ValueError, match='unknown synth preset'):
        generate_dataset(tmp_path / 'b', 'castle', progress=False)
    with pytest.raises(ValueError, match='at least the number of sequences'):
        generate_dataset(tmp_path / 'c', 'tiny', frames=1, size=SIZE, progress=False)
    (tmp_path / 'd').mkdir()
    with pytest.raises(FileExistsError):
        generate_dataset(tmp_path / 'd', 'tiny', frames=2, size=SIZE, progress=False)
    # A sequence longer than the 1000 s between sequence starts would interleave its time
    # stamps with the next sequence's: refused, and nothing is left behind.
    slow = override(get_preset('tiny'), path__fps=0.01)
    with pytest.raises(ValueError, match='seq-01 lasts 1100.0 s, longer than the 1000 s'):
        generate_dataset(tmp_path / 'e', slow, frames=12 * slow.path.sequences, size=(32, 24),
                         progress=False)
    assert not (tmp_path / 'e').exists() and not (tmp_path / 'e.partial').exists()


def test_cli_synth_then_info(tmp_path, capsys):
    out = tmp_path / 'cli'
    code = main(['synth', str(out), '--preset', 'tiny', '--scenes', '2', '--frames', '4',
                 '--size', '64x48', '--seed', '1', '--quiet', '--bag',
                 str(tmp_path / 'run.mcap')])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary['frames'] == 8
    assert (tmp_path / 'run' / 'metadata.yaml').is_file()
    assert (tmp_path / 'run' / 'run.mcap').is_file()
    assert main(['info', str(out), '--json']) == 0
    info = json.loads(capsys.readouterr().out)
    assert info['frames'] == 8 and len(info['scenes']) == 2
    with pytest.raises(SystemExit):
        main(['synth', str(tmp_path / 'x'), '--size', '64by48'])
