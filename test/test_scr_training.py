# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Dense SCR (SCRNet) end to end: train on a tiny box room, localize held-out frames.

The scene is a ray-cast box room (4 x 3 x 2.5 m) whose walls carry multi-scale colour noise,
seen by a 64x48 camera with fx != fy and an off-centre principal point from random poses
(90 training, 20 held-out test frames). Training is fixed as epochs so that the test is
deterministic: ``scr-lite-cpu`` (lite trunk) 30 epochs, about 30 s with one thread on this
2-core CPU. The keypoint regressor (``scr-cpu``) is tested in ``test_scr_keypoints.py``.
"""

import numpy as np
import pytest
import torch

from pose_reloc.core.bundle import read_bundle_config
from pose_reloc.data.formats import load_dataset, PosedFolderWriter
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.inference import load_localizer
from pose_reloc.inference.baselines import MeanPoseLocalizer
from pose_reloc.inference.evaluate import evaluate
from pose_reloc.inference.scr import SCRLocalizer
from pose_reloc.training.config import load_preset
from pose_reloc.training.registry import get_trainer

ROOM_M = np.array([4.0, 3.0, 2.5])
SCR_EPOCHS = 30
CAMERA = PinholeCamera(64, 48, 58.0, 60.0, 31.2, 24.4)


def _textures(rng, size=128):
    out = []
    for _ in range(6):
        texture = np.zeros((size, size, 3), np.float32)
        for cells, amplitude in ((3, 0.5), (8, 0.3), (32, 0.25)):
            noise = rng.uniform(0, 1, (cells, cells, 3)).astype(np.float32)
            texture += amplitude * torch.nn.functional.interpolate(
                torch.from_numpy(noise).permute(2, 0, 1)[None], size=(size, size),
                mode='bicubic', align_corners=False)[0].permute(1, 2, 0).numpy()
        out.append(np.clip(texture / 1.05, 0, 1))
    return out


def _render(camera, T_world_cam, textures):
    """Ray-cast the box room: (image (H, W, 3) uint8, z-depth (H, W) float32 metres)."""
    directions = camera.pixel_rays() @ T_world_cam[:3, :3].T
    origin = T_world_cam[:3, 3]
    t_hit = np.full(directions.shape[:2], np.inf)
    face = np.zeros(directions.shape[:2], int)
    for axis in range(3):
        for side, bound in enumerate((0.0, ROOM_M[axis])):
            with np.errstate(divide='ignore', invalid='ignore'):
                t = (bound - origin[axis]) / directions[..., axis]
            t[~(t > 0)] = np.inf
            closer = t < t_hit
            t_hit[closer] = t[closer]
            face[closer] = 2 * axis + side
    points = origin + directions * t_hit[..., None]
    image = np.zeros(directions.shape[:2] + (3,))
    for index in range(6):
        mask = face == index
        a, b = [k for k in range(3) if k != index // 2]
        u = (np.clip(points[mask][:, a] / ROOM_M[a], 0, 1) * 127).astype(int)
        v = (np.clip(points[mask][:, b] / ROOM_M[b], 0, 1) * 127).astype(int)
        image[mask] = textures[index][v, u]
    return (image * 255).astype(np.uint8), t_hit.astype(np.float32)


def _random_pose(rng):
    position = rng.uniform([1.0, 0.8, 0.8], ROOM_M - [1.0, 0.8, 0.8])
    yaw, pitch = rng.uniform(-np.pi, np.pi), rng.uniform(-0.3, 0.3)
    forward = np.array([np.cos(yaw) * np.cos(pitch), np.sin(yaw) * np.cos(pitch),
                        np.sin(pitch)])
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    T_world_cam = np.eye(4)
    T_world_cam[:3, :3] = np.stack([right, np.cross(forward, right), forward], axis=1)
    T_world_cam[:3, 3] = position
    return T_world_cam


@pytest.fixture(scope='module')
def scene_dir(tmp_path_factory):
    rng = np.random.default_rng(0)
    textures = _textures(rng)
    out = tmp_path_factory.mktemp('scr') / 'box'
    with PosedFolderWriter(out, CAMERA, scene_name='box') as writer:
        for i in range(110):
            T_world_cam = _random_pose(rng)
            image, depth = _render(CAMERA, T_world_cam, textures)
            writer.add(10 ** 9 + i * 10 ** 8, T_world_cam, image, depth,
                       split='train' if i < 90 else 'test')
    return out


@pytest.fixture(scope='module')
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores: one thread is several times faster
    yield
    torch.set_num_threads(threads)


def _train(method, preset, epochs, overrides, data, out):
    cfg = load_preset(preset, [f'optim.epochs={epochs}', 'optim.max_minutes=0',
                               'run.progress=false', 'data.val_frames=5'] + overrides,
                      method=method)
    return get_trainer(method)(cfg, data, out)


@pytest.fixture(scope='module')
def scr_bundle(scene_dir, one_thread, tmp_path_factory):
    return _train('scr', 'scr-lite-cpu', SCR_EPOCHS,
                  ['data.resize=0', 'data.height=48', 'data.width=64', 'optim.lr_decay_epochs=20',
                   'optim.lr_decay=0.2', 'data.brightness=0', 'data.contrast=0',
                   'data.saturation=0'],
                  scene_dir, tmp_path_factory.mktemp('scr_bundle') / 'scr')


def test_dense_scr_beats_the_mean_pose(scene_dir, scr_bundle):
    # Compared with the mean training pose, not with a second trained model: the former
    # SCR-vs-APR comparison (0.1 m apart) flipped on AMD EPYC CPUs. Measured here: SCR
    # 0.55 m / 15 deg against the mean pose's 0.78 m / 65 deg; the rotation has a 2x margin
    # below, the translation (0.7x) too thin a one to assert across CPUs.
    scr = evaluate(scr_bundle, scene_dir, progress=False, include_frames=False)
    train = load_dataset(scene_dir)[0].split('train')
    mean = evaluate(MeanPoseLocalizer({'box': train}), scene_dir, progress=False,
                    include_frames=False)
    assert scr['frames'] == mean['frames'] == 20
    assert scr['failure_rate'] <= 0.5
    assert scr['median_rotation_deg'] < 0.5 * mean['median_rotation_deg']
    # the SCR report carries what the SCR evaluation needs
    assert 0.0 < scr['extras']['inlier_ratio']['median'] <= 1.0
    assert scr['timings_ms']['network']['median'] > 0 and scr['timings_ms']['pnp']['median'] > 0


def test_bundle_and_localizer(scene_dir, scr_bundle):
    config = read_bundle_config(scr_bundle)
    assert config['method'] == 'scr' and config['architecture']['trunk'] == 'lite'
    assert len(config['scenes'][0]['coord_mean']) == 3
    localizer = load_localizer(scr_bundle, device='cpu')
    assert isinstance(localizer, SCRLocalizer) and localizer.scenes == ['box']
    rng = np.random.default_rng(7)
    textures = _textures(np.random.default_rng(0))
    T_gt = _random_pose(rng)
    image, _ = _render(CAMERA, T_gt, textures)
    est = localizer.localize(image, CAMERA)
    assert est.ok and est.T_world_cam.shape == (4, 4) and est.covariance.shape == (6, 6)
    assert est.confidence == pytest.approx(est.extras['inlier_ratio'])
    assert est.extras['inlier_points'].shape == (est.extras['inlier_count'], 3)
    assert set(est.timings_ms) >= {'network', 'pnp', 'total'}
    # a 2x larger image of the same view (camera scaled with it) gives the same answer
    big = PinholeCamera(128, 96, 116.0, 120.0, 62.9, 49.3)
    big_image, _ = _render(big, T_gt, textures)
    est_big = localizer.localize(big_image, big)
    assert est_big.ok
    assert np.linalg.norm(est_big.T_world_cam[:3, 3] - est.T_world_cam[:3, 3]) < 0.5
    # demanding thresholds: a reported failure, never a pose
    strict = load_localizer(scr_bundle, device='cpu', min_inlier_ratio=0.999)
    refused = strict.localize(image, CAMERA)
    assert not refused.ok and refused.T_world_cam is None and refused.covariance is None
    assert refused.failure == 'low_inlier_ratio'
    with pytest.raises(ValueError, match='unknown SCR localizer option'):
        load_localizer(scr_bundle, device='cpu', min_inlier=3)
    with pytest.raises(ValueError, match='64x48'):
        localizer.localize(big_image, CAMERA)


def test_two_stage_training_and_resume(scene_dir, one_thread, tmp_path):
    overrides = ['data.resize=0', 'data.height=48', 'data.width=64', 'model.reproj_epochs=2',
                 'optim.lr=1e-3']
    out = tmp_path / 'two'
    _train('scr', 'scr-lite-cpu', 2, overrides, scene_dir, out)
    history = read_bundle_config(out)['training']['history']
    assert [row['stage'] for row in history] == ['coords', 'coords', 'reproj', 'reproj']
    assert all(np.isfinite(row['train_loss']) for row in history)
    assert 0.0 < history[-1]['train_reproj_valid'] <= 1.0
    # resuming a finished run trains nothing more and rewrites the same bundle
    cfg = load_preset('scr-lite-cpu', ['optim.epochs=2', 'optim.max_minutes=0',
                                       'run.progress=false', 'data.val_frames=5'] + overrides,
                      method='scr')
    get_trainer('scr')(cfg, scene_dir, out, resume=True)
    assert len(read_bundle_config(out)['training']['history']) == 4


def test_uncropped_samples_compute_their_targets_once(scene_dir, monkeypatch):
    from pose_reloc.data.formats import load_dataset
    from pose_reloc.data.transforms import InputSpec
    from pose_reloc.training import scr
    frames = load_dataset(scene_dir)[0].split('test')[:2]
    dataset = scr.SCRFrames(frames, InputSpec(CAMERA.height, CAMERA.width, multiple=8,
                                              crop='none'))
    first = dataset[1]
    _, depth, camera = dataset.load(1)
    expected = scr.scene_coordinate_targets(depth, camera, frames[1].T_world_cam)
    valid = np.all(np.isfinite(expected), axis=-1)
    assert valid.sum() > valid.size // 2
    np.testing.assert_array_equal(first['valid'].numpy(), valid)
    np.testing.assert_allclose(first['coords'].numpy().transpose(1, 2, 0)[valid],
                               expected[valid], rtol=1e-6)

    def fail(*args, **kwargs):
        raise AssertionError('targets recomputed')
    monkeypatch.setattr(scr, 'scene_coordinate_targets', fail)
    again = dataset[1]
    for key in ('coords', 'valid', 'uv', 'image'):
        assert torch.equal(again[key], first[key])
