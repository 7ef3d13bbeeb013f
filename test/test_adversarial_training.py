# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Adversarial APR training (issue 12): regressor and discriminator in turn, one bundle.

A tiny synthetic scene (40 frames at 64x48) and tiny backbones for the regressor and the
discriminator's frozen features, 6 epochs (about 10 s on one core).
"""

import csv
import json

import numpy as np
import pytest
import torch

from pose_reloc.cli import main as cli_main
from pose_reloc.core.bundle import bundle_components, read_bundle_config, read_component, \
    save_bundle
from pose_reloc.data.synthetic.generate import generate_scene
from pose_reloc.inference import load_localizer
from pose_reloc.inference.refine import load_refiner
from pose_reloc.models.apr import PoseRegressor
from pose_reloc.models.pose_discriminator import pose_vector, PoseDiscriminator
from pose_reloc.workflows import train_from_preset

torch.set_num_threads(1)
OVERRIDES = ['model.backbone=tiny', 'model.pretrained=none', 'model.fc_dim=32',
             'model.freeze_encoder=0', 'model.adversarial.backbone=tiny',
             'model.adversarial.pretrained=none', 'model.adversarial.warmup_epochs=2',
             'optim.epochs=6', 'data.height=48', 'data.width=64', 'run.device=cpu',
             'run.progress=false', 'run.threads=1']


@pytest.fixture(scope='module')
def adv_bundle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('adv')
    generate_scene(tmp / 'data' / 'tiny_0', 'tiny', seed=0, frames=40, size=(64, 48),
                   val_sequences=1)
    bundle = train_from_preset('apr', 'posenet-adv-cpu', tmp / 'data', tmp / 'bundle',
                               OVERRIDES)
    return {'tmp': tmp, 'bundle': bundle, 'data': tmp / 'data'}


def test_training_alternates_and_writes_an_apr_bundle_with_a_discriminator(adv_bundle):
    bundle = adv_bundle['bundle']
    config = read_bundle_config(bundle)
    assert config['method'] == 'apr' and bundle_components(config) == ['discriminator']
    assert config['refinement'] == {'iterations': 30, 'step': 1e-3, 'max_translation_m': 0.5,
                                    'max_rotation_deg': 10.0}
    assert config['training']['config']['model']['adversarial']['lambda_adv'] == 1e-3
    # calibrated with the bundle's default refinement on (the localizer it builds)
    assert config['covariance_calibration']['frames'] > 0
    with open(f'{bundle}.work/log.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6
    pose_loss = [float(r['train_loss_pose']) for r in rows]
    assert pose_loss[-1] < pose_loss[0]  # the regressor learns
    # the discriminator learns to tell true from regressed poses on held-out frames
    assert float(rows[-1]['val_d_real']) > float(rows[-1]['val_d_fake'])
    # warm-up: the total loss is the pose loss alone, then the adversarial term is added
    assert float(rows[0]['train_loss']) == pytest.approx(pose_loss[0])
    assert float(rows[-1]['train_loss']) > pose_loss[-1]


def test_localizer_refines_with_the_bundle_discriminator(adv_bundle):
    from pose_reloc.data.formats.posed_folder import read_scene
    from pose_reloc.data.records import load_image
    frame = read_scene(adv_bundle['data'] / 'tiny_0').split('test')[0]
    image = load_image(frame)
    off = load_localizer(adv_bundle['bundle'], device='cpu', refine_iterations=0)
    assert off.refiner is None
    on = load_localizer(adv_bundle['bundle'], device='cpu')  # the bundle's default: 30
    assert on.refiner is not None and on.refiner.cfg.iterations == 30
    est = on.localize(image)
    assert est.ok and est.timings_ms['refine'] > 0
    assert est.extras['refine_status'] in ('refined', 'confident', 'rejected_confidence',
                                           'rejected_trust_region')
    base = off.localize(image)
    # the covariance is the regressor's (refinement moves the pose only)
    np.testing.assert_allclose(est.covariance, base.covariance)
    moved = np.linalg.norm(est.T_world_cam[:3, 3] - base.T_world_cam[:3, 3])
    assert moved <= 0.5 + 1e-9  # the trust region
    big = load_localizer(adv_bundle['bundle'], device='cpu', refine_iterations=5,
                         refine_step='1.0')
    assert big.refiner.cfg.step == 1.0 and big.localize(image).extras['refine_iterations'] <= 5


def test_eval_command_forwards_refinement_options(adv_bundle, tmp_path, capsys):
    out = {}
    for n in (0, 30):
        path = tmp_path / f'r{n}.json'
        assert cli_main(['eval', str(adv_bundle['bundle']), str(adv_bundle['data']), '--split',
                         'test', '--refine-iterations', str(n), '--json', str(path),
                         '--device', 'cpu']) == 0
        out[n] = json.loads(path.read_text())
    assert 'refine' not in out[0]['timings_ms'] and 'refine' in out[30]['timings_ms']
    assert out[30]['extras']['refine_iterations']['max'] <= 30
    assert 0.0 <= out[30]['extras']['refine_rejected']['mean'] <= 1.0
    assert cli_main(['eval', str(adv_bundle['bundle']), str(adv_bundle['data']),
                     '-o', 'min_inliers=3']) == 1
    assert 'unknown APR localizer option(s) min_inliers' in capsys.readouterr().err


def test_a_bundle_with_a_discriminator_round_trips(tmp_path):
    torch.manual_seed(0)
    model = PoseRegressor('tiny', None, fc_dim=16, dropout=0.0, rotation='quat').eval()
    disc = PoseDiscriminator('logq', length=16, channels=8, backbone='tiny').eval()
    meta = {'scenes': [{'name': 's', 'translation_mean': [1.0, 2.0, 3.0],
                        'translation_scale': 2.0, 'coord_mean': None, 'camera': None}],
            'input': {'height': 32, 'width': 40, 'resize': 0, 'mean': [0.5] * 3,
                      'std': [0.25] * 3},
            'refinement': {'iterations': 7, 'step': 0.01}}
    path = save_bundle(tmp_path / 'b', 'apr', model.architecture, model.state_dict(), meta,
                       components={'discriminator': (disc.architecture, disc.state_dict())})
    arch, state = read_component(path, 'discriminator')
    assert arch == disc.architecture
    refiner = load_refiner(path, read_bundle_config(path), torch.device('cpu'), {})
    assert refiner.cfg.iterations == 7 and refiner.cfg.step == 0.01
    assert refiner.max_translation_m == 0.5  # not in the bundle: the default
    images = torch.rand(2, 3, 32, 40)
    pose = pose_vector(torch.randn(2, 3), torch.randn(2, 4), 'logq')
    loaded = refiner.discriminator
    with torch.no_grad():
        torch.testing.assert_close(loaded(loaded.image_features(images), pose),
                                   disc(disc.image_features(images), pose), rtol=0, atol=0)
    assert load_refiner(path, read_bundle_config(path), torch.device('cpu'),
                        {'refine_iterations': 0}) is None


def test_perturbed_negatives_have_the_asked_spread():
    from pose_reloc.training.adversarial import perturbed_pose
    from pose_reloc.training.adversarial_config import AdversarialConfig
    adv = AdversarialConfig(noise_translation=0.2, noise_rotation_deg=8.0)
    gen = torch.Generator().manual_seed(0)
    t = torch.zeros(4000, 3)
    q = torch.tensor([[0.0, 0.0, 0.0, 1.0]]).repeat(4000, 1)
    p = perturbed_pose(t, q, adv, gen)
    assert p.shape == (4000, 7)
    assert float(p[:, :3].std()) == pytest.approx(0.2, rel=0.05)
    angle = np.degrees(2 * np.arccos(np.clip(p[:, 6].abs().numpy(), 0, 1)))
    # |N(0, 8 deg)|: median 0.674 sigma
    assert float(np.median(angle)) == pytest.approx(0.674 * 8.0, rel=0.08)
    with pytest.raises(ValueError, match='noise must be >= 0'):
        AdversarialConfig(noise_rotation_deg=-1.0)


def test_resume_continues_the_game_exactly(tmp_path):
    from pose_reloc.core.bundle import read_bundle
    generate_scene(tmp_path / 'data' / 'tiny_0', 'tiny', seed=0, frames=24, size=(64, 48))
    small = [o for o in OVERRIDES if not o.startswith('optim.epochs')] + [
        'model.adversarial.warmup_epochs=1', 'model.adversarial.noise_translation=0.1',
        'model.adversarial.noise_rotation_deg=5', 'data.calibration_split=']
    whole = train_from_preset('apr', 'posenet-adv-cpu', tmp_path / 'data', tmp_path / 'a',
                              small + ['optim.epochs=3'])
    train_from_preset('apr', 'posenet-adv-cpu', tmp_path / 'data', tmp_path / 'b',
                      small + ['optim.epochs=2'])
    resumed = train_from_preset('apr', 'posenet-adv-cpu', tmp_path / 'data', tmp_path / 'b',
                                small + ['optim.epochs=3'], resume=True)
    for name in (None, 'discriminator'):
        a = read_bundle(whole)[1] if name is None else read_component(whole, name)[1]
        b = read_bundle(resumed)[1] if name is None else read_component(resumed, name)[1]
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
