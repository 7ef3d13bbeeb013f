# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""APR / MSPN models, backbones, losses and MC-dropout covariance (CPU, seconds)."""

import math

import numpy as np
import pytest
import torch

from pose_reloc.geometry.torch_ops import quat_log
from pose_reloc.models.apr import (enable_mc_dropout, pose_mean_and_covariance,
                                   PoseRegressor)
from pose_reloc.models.backbones import (build_backbone, efficientnet_lite0_weights_path,
                                         input_stats)
from pose_reloc.models.losses import (LearnedWeightLoss, MapNetLoss, PoseNetLoss,
                                      relative_pose, to_quat)
from pose_reloc.models.mspn import MultiScenePoseNet


@pytest.mark.parametrize('rotation,rot_dim', [('quat', 4), ('logq', 3)])
def test_pose_regressor_shapes_and_gradients(rotation, rot_dim):
    torch.manual_seed(0)
    model = PoseRegressor('tiny', None, fc_dim=32, dropout=0.1, rotation=rotation)
    out = model(torch.randn(2, 3, 32, 48))
    assert out['t'].shape == (2, 3) and out['rot'].shape == (2, rot_dim)
    (out['t'].sum() + out['rot'].sum()).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.encoder.layers[0].weight.grad.abs().sum() > 0


def test_pose_regressor_rejects_bad_arguments():
    with pytest.raises(ValueError, match='rotation'):
        PoseRegressor('tiny', rotation='euler')
    with pytest.raises(ValueError, match='unknown backbone'):
        PoseRegressor('vgg16')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        build_backbone('tiny', '/nonexistent/weights.pth')


def test_log_quaternion_round_trip_through_the_head():
    """A logq head whose bias is log(q) and weights are zero outputs exactly q."""
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(5, 4, dtype=torch.float64), dim=1)
    q = torch.where(q[:, 3:] < 0, -q, q)
    model = PoseRegressor('tiny', None, fc_dim=0, dropout=0.0, rotation='logq').double()
    model.eval()
    for i in range(5):
        with torch.no_grad():
            model.head_rot.weight.zero_()
            model.head_rot.bias.copy_(quat_log(q[i:i + 1])[0])
            out = model(torch.randn(1, 3, 16, 16, dtype=torch.float64))
        assert torch.allclose(to_quat(out['rot'])[0], q[i], atol=1e-12)
    # and the quaternion head is normalized at test time
    qhead = torch.tensor([[0.0, 0.0, 0.0, 2.0]])
    assert torch.allclose(to_quat(qhead), torch.tensor([[0.0, 0.0, 0.0, 1.0]]))


def test_posenet_loss_known_value():
    t_pred = torch.tensor([[1.0, 2.0, 2.0]])
    t_true = torch.zeros(1, 3)
    q_pred = torch.tensor([[0.0, 0.0, 0.0, 2.0]])  # normalized to identity
    q_true = torch.tensor([[0.0, 0.0, math.sin(0.25), math.cos(0.25)]])
    out = PoseNetLoss(beta=10.0)(t_pred, q_pred, t_true, q_true)
    dq = math.sqrt(math.sin(0.25) ** 2 + (1 - math.cos(0.25)) ** 2)
    assert out['loss_t'].item() == pytest.approx(3.0)
    assert out['loss'].item() == pytest.approx(3.0 + 10.0 * dq, rel=1e-6)


def test_learned_weight_loss_known_value_and_gradient():
    loss = LearnedWeightLoss(s_t=0.0, s_q=-3.0)
    t_pred = torch.tensor([[1.0, -2.0, 0.5]])
    q_pred = torch.tensor([[0.1, 0.0, 0.0, 1.0]])
    q_true = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    out = loss(t_pred, q_pred, torch.zeros(1, 3), q_true)
    qn = q_pred / q_pred.norm()
    d_q = float((q_true - qn).abs().sum())
    expected = 3.5 * math.exp(0.0) + 0.0 + d_q * math.exp(3.0) - 3.0
    assert out['loss'].item() == pytest.approx(expected, rel=1e-6)
    out['loss'].backward()
    # d/ds_t = -d_t exp(-s_t) + 1 = -2.5
    assert loss.s_t.grad.item() == pytest.approx(-2.5, rel=1e-6)
    # APANet init and per-scene weights pick the scene's pair
    per_scene = LearnedWeightLoss(0.0, -1.0, num_scenes=2)
    with torch.no_grad():
        per_scene.s_t[1] = 1.0
    out2 = per_scene(t_pred, q_pred, torch.zeros(1, 3), q_true, torch.tensor([1]))
    assert out2['loss'].item() == pytest.approx(
        3.5 * math.exp(-1.0) + 1.0 + d_q * math.exp(1.0) - 1.0, rel=1e-6)


def test_mapnet_relative_term():
    half = math.pi / 8  # 45 deg about z -> quaternion half angle
    q_a = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    q_b = torch.tensor([[0.0, 0.0, math.sin(half), math.cos(half)]])
    rel = relative_pose(torch.zeros(1, 3), q_a, torch.ones(1, 3), q_b)
    assert torch.allclose(rel['t'], torch.ones(1, 3))
    assert torch.allclose(rel['logq'], torch.tensor([[0.0, 0.0, half]]), atol=1e-6)
    loss = MapNetLoss(0.0, -3.0, relative_weight=1.0)
    true_a = {'t': torch.zeros(1, 3), 'rot': quat_log(q_a)}
    true_b = {'t': torch.ones(1, 3), 'rot': quat_log(q_b)}
    exact = loss(true_a, true_a, true_b, true_b)
    # perfect predictions leave only the s terms: 0.5 * 2 * (0 - 3) + (0 - 3)
    assert exact['loss'].item() == pytest.approx(-6.0, abs=1e-5)
    shifted = {'t': true_b['t'] + 0.5, 'rot': true_b['rot']}
    assert loss(true_a, true_a, shifted, true_b)['loss_rel_t'].item() == pytest.approx(1.5)


def test_mspn_shapes_oracle_head_and_parameter_count():
    torch.manual_seed(0)
    model = MultiScenePoseNet(3, 'tiny', None, fc_dim=0, dropout=0.0, rotation='quat').eval()
    x = torch.randn(4, 3, 32, 32)
    out = model(x)
    assert out['t'].shape == (4, 3) and out['rot'].shape == (4, 4)
    assert out['logits'].shape == (4, 3)
    assert torch.equal(out['scene_ids'], out['logits'].argmax(1))
    with torch.no_grad():
        model.head_bias[2, :3] = torch.tensor([100.0, 0.0, 0.0])
    oracle = model(x, torch.tensor([2, 2, 0, 1]))
    assert oracle['scene_ids'].tolist() == [2, 2, 0, 1]
    assert (oracle['t'][:2, 0] > 50).all() and (oracle['t'][2:, 0] < 50).all()
    feats = model.features(x)
    manual = feats @ model.head_weight[2].T + model.head_bias[2]
    assert torch.allclose(oracle['t'][0], manual[0, :3], atol=1e-5)
    # each added scene costs a P x F head + bias + a classifier row
    before = sum(p.numel() for p in model.parameters())
    model.add_scenes(1)
    after = sum(p.numel() for p in model.parameters())
    assert after - before == model.parameters_per_scene() == 7 * 64 + 7 + 64 + 1
    assert model.architecture['num_scenes'] == 4
    (model(x, torch.tensor([3, 3, 3, 3]))['t'].sum()).backward()
    assert model.head_weight.grad[3].abs().sum() > 0
    assert model.head_weight.grad[:3].abs().sum() == 0
    with pytest.raises(ValueError, match='out of range'):
        model(x, torch.tensor([0, 1, 2, 7]))


def test_mspn_paper_scale_parameters_per_scene():
    """The MSPN paper's ~14 k parameters per scene: a 2048 x 7 head on a shared FC."""
    model = MultiScenePoseNet(2, 'tiny', None, fc_dim=2048)
    assert model.parameters_per_scene() - 2049 == 2048 * 7 + 7  # head, without classifier


def test_efficientnet_lite0_loads_packaged_imagenet_weights():
    path = efficientnet_lite0_weights_path()
    assert path is not None and path.suffix == '.pth'
    module, dim = build_backbone('efficientnet_lite0', 'imagenet')
    assert dim == 1280
    state = torch.load(path, map_location='cpu', weights_only=True)
    assert torch.equal(module._blocks[5]._depthwise_conv.weight,
                       state['_blocks.5._depthwise_conv.weight'])
    out = module.eval()(torch.zeros(1, 3, 64, 96))
    assert out.shape == (1, 1280, 2, 3)
    assert input_stats('efficientnet_lite0')[0] != input_stats('resnet18')[0]


def test_random_init_when_no_imagenet_cache(caplog, monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    with caplog.at_level('WARNING'):
        module, dim = build_backbone('resnet18', 'imagenet')
    assert dim == 512
    assert 'random initialization' in caplog.text


def test_mc_dropout_covariance():
    rng = np.random.default_rng(0)
    t = rng.normal([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], size=(4000, 3))
    angles = rng.normal(0.0, 0.05, size=4000)  # radians about world z
    q = np.stack([np.zeros_like(angles), np.zeros_like(angles), np.sin(angles / 2),
                  np.cos(angles / 2)], axis=1)
    stats = pose_mean_and_covariance(t, q)
    cov = stats['covariance']
    assert cov.shape == (6, 6)
    assert np.allclose(np.sqrt(np.diag(cov)[:3]), [0.1, 0.2, 0.3], rtol=0.05)
    assert np.sqrt(cov[5, 5]) == pytest.approx(0.05, rel=0.05)
    assert cov[3, 3] < 1e-12 and cov[4, 4] < 1e-12
    assert np.allclose(stats['q'], [0, 0, 0, 1], atol=0.01)
    model = PoseRegressor('tiny', None, fc_dim=8, dropout=0.5)
    enable_mc_dropout(model)
    assert model.dropout.training and not model.encoder.layers[1].training
