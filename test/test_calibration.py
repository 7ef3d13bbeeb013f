# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Covariance calibration: the 2-block fit, the bundle entry, calibration after training."""

import json
import logging

import numpy as np
import pytest
import torch

from pose_reloc.core.bundle import BundleError, save_bundle, update_bundle_config
from pose_reloc.data.formats.posed_folder import PosedFolderWriter
from pose_reloc.geometry.camera import camera_to_ros_yaml, PinholeCamera
from pose_reloc.geometry.pnp import PnPResult
from pose_reloc.geometry.se3 import T_from_pos_quat
from pose_reloc.inference import load_localizer
from pose_reloc.inference import scr as scr_inference
from pose_reloc.inference.apr import APRLocalizer
from pose_reloc.inference.calibration import (CovarianceCalibration,
                                              fit_covariance_calibration, pose_error_6d,
                                              scale_covariance)
from pose_reloc.models.apr import PoseRegressor
from pose_reloc.models.scr import SCRNet
from pose_reloc.training.config import load_preset
from pose_reloc.workflows import train_bundle

H, W = 32, 48


def _random_spd(rng, n):
    a = rng.normal(size=(n, 6, 6))
    cov = a @ a.transpose(0, 2, 1) + 0.5 * np.eye(6)
    units = np.repeat([0.1, 0.02], 3)  # metres, radians
    return cov * units[:, None] * units[None, :]


@pytest.mark.parametrize('kt, kr', [(9.0, 0.25), (1.0, 40.0)])
def test_fit_recovers_known_block_scales(kt, kr):
    rng = np.random.default_rng(0)
    n = 3000
    reported = _random_spd(rng, n)
    true = np.array([scale_covariance(c, kt, kr) for c in reported])
    errors = np.array([rng.multivariate_normal(np.zeros(6), c) for c in true])
    calib = fit_covariance_calibration(reported, errors, split='val')
    assert calib.translation_scale == pytest.approx(kt, rel=0.1)
    assert calib.rotation_scale == pytest.approx(kr, rel=0.1)
    assert calib.frames == n and calib.frames_rejected == 0 and calib.split == 'val'
    for block in ('translation', 'rotation', 'pose'):
        assert getattr(calib, f'within_2sigma_{block}_after') == pytest.approx(0.9545, abs=0.02)
    for k, name in ((kt, 'translation'), (kr, 'rotation')):
        before = getattr(calib, f'within_2sigma_{name}_before')
        if k > 4:  # far too confident before
            assert before < 0.8
        elif k < 1:  # under-confident: the honest fit shrinks it
            assert before > 0.99
        else:
            assert before == pytest.approx(0.9545, abs=0.02)


def test_fit_is_robust_to_outliers_and_rejects_singular_blocks():
    rng = np.random.default_rng(1)
    n = 1000
    reported = _random_spd(rng, n)
    true = np.array([scale_covariance(c, 4.0, 4.0) for c in reported])
    errors = np.array([rng.multivariate_normal(np.zeros(6), c) for c in true])
    errors[:50] *= 100.0  # 5 % gross failures (wrong scene, wrong PnP solution)
    reported[50:60, :3, :3] = 0.0  # singular translation blocks
    calib = fit_covariance_calibration(reported, errors)
    assert calib.frames_rejected == 10
    assert calib.translation_scale == pytest.approx(4.0, rel=0.2)
    assert calib.rotation_scale == pytest.approx(4.0, rel=0.2)
    with pytest.raises(ValueError, match='>= 5 frames'):
        fit_covariance_calibration(reported[50:60], errors[50:60])
    with pytest.raises(ValueError, match=r'\(N, 6, 6\)'):
        fit_covariance_calibration(reported[:, :3, :3], errors)


def test_pose_error_6d_is_world_rotvec():
    T_gt = T_from_pos_quat(np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 0.0, 1.0]))
    angle = 0.1
    q = np.array([0.0, 0.0, np.sin(angle / 2), np.cos(angle / 2)])
    T_est = T_from_pos_quat(np.array([1.5, 2.0, 3.0]), q)
    np.testing.assert_allclose(pose_error_6d(T_est, T_gt), [0.5, 0, 0, 0, 0, angle],
                               atol=1e-12)


def test_evaluate_coverage_uses_the_mahalanobis_distance():
    from pose_reloc.inference.evaluate import covariance_coverage
    T_gt = np.eye(4)
    T_est = T_from_pos_quat(np.array([0.25, 0.0, 0.0]), np.array([0.0, 0.0, 0.0, 1.0]))
    cov = np.diag([0.01] * 3 + [1e-4] * 3)  # sigma 0.1 m: d2_t = 6.25 < 8.02 inside
    out = covariance_coverage(T_est, T_gt, cov)
    assert out == {'within_2sigma_t': True, 'within_2sigma_r': True,
                   'within_2sigma_pose': True, 'sigma_translation_m': pytest.approx(0.1)}
    out = covariance_coverage(T_est, T_gt, cov * np.repeat([0.5, 1.0], 3))  # d2_t = 12.5
    assert (out['within_2sigma_t'], out['within_2sigma_r'], out['within_2sigma_pose']) == \
        (False, True, True)
    indefinite = cov.copy()
    indefinite[0, 0] = -0.01  # not a covariance: never counted as covering the error
    out = covariance_coverage(T_est, T_gt, indefinite)
    assert (out['within_2sigma_t'], out['within_2sigma_r'], out['within_2sigma_pose']) == \
        (False, True, False)


def _apr_bundle(path, mc_samples=8, height=H, width=W):
    """Write a seeded tiny APR bundle (one scene, MC dropout) to ``path``."""
    torch.manual_seed(0)
    model = PoseRegressor('tiny', None, fc_dim=16, dropout=0.3, rotation='quat').eval()
    meta = {'scenes': [{'name': 's', 'translation_mean': [0, 0, 0], 'translation_scale': 1.0,
                        'coord_mean': None, 'camera': None}],
            'input': {'height': height, 'width': width, 'resize': 0, 'mean': [0.5] * 3,
                      'std': [0.25] * 3},
            'uncertainty': {'mc_samples': mc_samples, 'mc_dropout': 0.3}}
    return save_bundle(path, 'apr', model.architecture, model.state_dict(), meta)


def test_apr_localizer_applies_the_bundle_calibration(tmp_path):
    path = _apr_bundle(tmp_path / 'b')
    image = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    old = APRLocalizer(path, device='cpu', seed=3)  # no entry: scale 1
    assert old.covariance_calibration is None
    raw = old.localize(image).covariance
    assert raw.shape == (6, 6)
    assert APRLocalizer(path, device='cpu', seed=3).localize(image).covariance == \
        pytest.approx(raw)
    update_bundle_config(path, {'covariance_calibration': {'translation_scale': 4.0,
                                                           'rotation_scale': 9.0}})
    calibrated = load_localizer(path, device='cpu', seed=3)
    cov = calibrated.localize(image).covariance
    np.testing.assert_allclose(cov[:3, :3], 4.0 * raw[:3, :3], rtol=1e-9)
    np.testing.assert_allclose(cov[3:, 3:], 9.0 * raw[3:, 3:], rtol=1e-9)
    np.testing.assert_allclose(cov[:3, 3:], 6.0 * raw[:3, 3:], rtol=1e-9)
    both = APRLocalizer(path, device='cpu', seed=3, covariance_scale=2.0).localize(image)
    np.testing.assert_allclose(both.covariance, 2.0 * cov, rtol=1e-9)
    update_bundle_config(path, {'covariance_calibration': {'translation_scale': -1.0,
                                                           'rotation_scale': 1.0}})
    with pytest.raises(BundleError, match='finite and > 0'):
        APRLocalizer(path, device='cpu')
    with pytest.raises(BundleError, match='reserved'):
        update_bundle_config(path, {'method': 'scr'})


def test_scr_localizer_applies_the_bundle_calibration(tmp_path, monkeypatch):
    camera = PinholeCamera(64, 48, 50.0, 50.0, 32.0, 24.0)
    model = SCRNet('lite', (16, 16))
    meta = {'scenes': [{'name': 's', 'coord_mean': [0.0, 0.0, 0.0],
                        'camera': camera_to_ros_yaml(camera, 's')}],
            'input': {'height': 48, 'width': 64, 'mean': [0.5] * 3, 'std': [0.25] * 3}}
    path = save_bundle(tmp_path / 'scr', 'scr', {'name': 'SCRNet', 'trunk': 'lite',
                                                 'head_channels': [16, 16]},
                       model.state_dict(), meta)
    raw = np.diag([1e-4, 2e-4, 3e-4, 1e-5, 2e-5, 3e-5])
    raw[0, 3] = raw[3, 0] = 1e-6

    def fake_pnp(coords_3hw, cam, cfg):
        n = coords_3hw.shape[1] * coords_3hw.shape[2]
        return PnPResult(True, np.eye(4), raw.copy(), np.ones(n, bool), n, 1.0, 0.5,
                         None), np.zeros((n, 3))

    monkeypatch.setattr(scr_inference, 'localize_coords', fake_pnp)
    image = np.zeros((48, 64, 3), np.uint8)
    assert load_localizer(path, device='cpu').localize(image).covariance == pytest.approx(raw)
    calib = CovarianceCalibration(25.0, 4.0, 10, 0, 0.1, 0.95, 0.2, 0.95, 0.1, 0.95, 'val')
    update_bundle_config(path, {'covariance_calibration': calib.to_json()})
    loc = load_localizer(path, device='cpu')
    assert loc.covariance_calibration == calib
    np.testing.assert_allclose(loc.localize(image).covariance,
                               scale_covariance(raw, 25.0, 4.0), rtol=1e-12)


def _plane_scene(path, frames=60, splits=('train', 'train', 'val', 'test')):
    rng = np.random.default_rng(5)
    tex = 200
    u, v = np.meshgrid(np.linspace(0, 1, tex), np.linspace(0, 1, tex))
    texture = np.stack([40 + 180 * u, 40 + 180 * v, np.full_like(u, 128)], axis=2)
    texture = (texture + rng.normal(0, 8, texture.shape)).clip(0, 255).astype(np.uint8)
    camera = PinholeCamera(W, H, 40.0, 40.0, W / 2, H / 2)
    with PosedFolderWriter(path, camera, scene_name='plane') as writer:
        for i in range(frames):
            x, y = rng.uniform(-1, 1, size=2)
            r0 = int((y + 1) / 2 * (tex - H - 1))
            c0 = int((x + 1) / 2 * (tex - W - 1))
            split = splits[i % len(splits)]
            writer.add(1_000_000 * (i + 1), T_from_pos_quat(np.array([x, y, 0.0]),
                                                            np.array([0, 0, 0, 1.0])),
                       texture[r0:r0 + H, c0:c0 + W], split=split, sequence='seq0')
    return path


def test_apr_training_writes_a_calibration_from_the_calibration_split(tmp_path, caplog):
    root = _plane_scene(tmp_path / 'plane')
    tiny = ['model.backbone=tiny', 'model.pretrained=none', 'model.fc_dim=32',
            'model.dropout=0.2', 'model.mc_samples=8', f'data.height={H}', f'data.width={W}',
            'data.resize=0', 'data.val_frames=5', 'optim.lr=3e-3', 'optim.batch_size=16',
            'optim.epochs=3', 'optim.max_minutes=0', 'run.progress=false', 'run.device=cpu',
            'data.brightness=0', 'data.contrast=0', 'data.saturation=0',
            'model.freeze_encoder=0']
    # the preset calibrates on the val split by default
    cfg = load_preset('posenet-cpu', tiny + ['data.calibration_frames=12'])
    bundle = train_bundle('apr', cfg, root, tmp_path / 'apr')
    entry = json.loads((bundle / 'config.json').read_text())['covariance_calibration']
    assert entry['split'] == 'val' and entry['frames'] == 12
    assert entry['translation_scale'] > 0 and entry['rotation_scale'] > 0
    assert entry['within_2sigma_translation_after'] >= 0.5
    loc = load_localizer(bundle, device='cpu')
    assert loc.covariance_calibration.translation_scale == entry['translation_scale']
    leaky = load_preset('posenet-cpu', tiny + ['data.calibration_split=train'])
    with pytest.raises(ValueError, match='training split'):
        train_bundle('apr', leaky, root, tmp_path / 'leaky')
    # data without a val split: trains, says so once, and writes no entry
    no_val = _plane_scene(tmp_path / 'no_val', frames=40, splits=('train', 'train', 'test'))
    with caplog.at_level('WARNING', logger='pose_reloc.inference.calibration'):
        plain = train_bundle('apr', cfg, no_val, tmp_path / 'plain')
    assert 'covariance_calibration' not in json.loads((plain / 'config.json').read_text())
    assert load_localizer(plain, device='cpu').covariance_calibration is None
    skipped = [r for r in caplog.records if r.name == 'pose_reloc.inference.calibration'
               and r.levelno >= logging.WARNING]
    assert len(skipped) == 1 and "no 'val' frames" in skipped[0].getMessage()


def test_training_keeps_the_bundle_when_calibration_has_too_few_frames(tmp_path, caplog):
    root = _plane_scene(tmp_path / 'plane')
    # without MC dropout the APR localizer returns no covariance: nothing to calibrate
    cfg = load_preset('posenet-cpu', [
        'model.backbone=tiny', 'model.pretrained=none', 'model.fc_dim=32',
        'model.mc_samples=0', f'data.height={H}', f'data.width={W}', 'data.resize=0',
        'data.val_frames=5', 'optim.epochs=1', 'optim.max_minutes=0', 'run.progress=false',
        'run.device=cpu', 'model.freeze_encoder=0', 'data.calibration_frames=8'])
    with caplog.at_level('WARNING', logger='pose_reloc.inference.calibration'):
        bundle = train_bundle('apr', cfg, root, tmp_path / 'apr')
    assert 'covariance_calibration' not in json.loads((bundle / 'config.json').read_text())
    messages = [r.getMessage() for r in caplog.records
                if r.name == 'pose_reloc.inference.calibration' and r.levelno >= logging.WARNING]
    assert len(messages) == 1 and 'calibration skipped' in messages[0]
