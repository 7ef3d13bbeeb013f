# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""APANet (issue 11): rotation geometry, anchors, adversarial updates, nu selection, training.

The training tests use two tiny plane scenes (colour ramps encode the position, the blue
level names the scene) whose world frames differ by a large offset and a yaw, as real
scenes' frames do, 32x32 crops and the ``tiny`` backbone.
"""

import math

import numpy as np
import pytest
from test_apr_training import _write_plane_scene
import torch

from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.rotations import matrix_to_quat, quat_to_matrix
from pose_reloc.models.apanet import (adversarial_loss, AnchorPoseRegressor,
                                      compose_with_anchor, discriminator_accuracy,
                                      discriminator_loss, encode, nearest_anchor,
                                      relative_to_anchor, rotate_images, rotate_orientation,
                                      RotationHead, SceneDiscriminator, select_anchors)
from pose_reloc.models.apr import PoseRegressor

torch.set_num_threads(1)


# --- the rotation pin -----------------------------------------------------------------------

def _project(T_world_cam, point_world, camera):
    T_cam_world = np.linalg.inv(T_world_cam)
    p_cam = T_cam_world[:3, :3] @ point_world + T_cam_world[:3, 3]
    uv, valid = camera.project(p_cam[None])
    assert valid[0]
    return uv[0]


@pytest.mark.parametrize('k', [1, 2, 3, -1, 5])
def test_rotated_pose_projects_point_to_rotated_pixel(k):
    """A 3-D point projected with the rotated pose lands on the pixel torch.rot90 moved."""
    size = 15
    c = (size - 1) / 2.0  # OpenCV: pixel centres at integers, principal point at the centre
    camera = PinholeCamera(size, size, 12.0, 12.0, c, c)
    rng = np.random.default_rng(k + 10)
    R = quat_to_matrix(matrix_to_quat(np.linalg.qr(rng.normal(size=(3, 3)))[0] *
                                      np.sign(np.linalg.det(np.linalg.qr(
                                          rng.normal(size=(3, 3)))[0]))))
    T_world_cam = np.eye(4)
    T_world_cam[:3, :3] = R
    T_world_cam[:3, 3] = rng.normal(size=3)
    for u, v in [(2, 4), (11, 3), (9, 12)]:
        p_cam = camera.backproject(np.array([[u, v]], float), np.array([2.5]))[0]
        p_world = R @ p_cam + T_world_cam[:3, 3]
        np.testing.assert_allclose(_project(T_world_cam, p_world, camera), [u, v], atol=1e-9)
        image = torch.zeros(1, 1, size, size)
        image[0, 0, v, u] = 1.0
        rotated = rotate_images(image, torch.tensor([k]))
        row, col = divmod(int(rotated.flatten().argmax()), size)
        q = torch.tensor(matrix_to_quat(R)[None], dtype=torch.float64)
        q_rot = rotate_orientation(q, torch.tensor([k]))[0].numpy()
        T_rot = T_world_cam.copy()
        T_rot[:3, :3] = quat_to_matrix(q_rot)
        np.testing.assert_allclose(_project(T_rot, p_world, camera), [col, row], atol=1e-9)
        if k % 4 != 2:  # the opposite turn must miss (an order or sign slip is silent)
            q_wrong = rotate_orientation(q, torch.tensor([-k]))[0].numpy()
            T_wrong = T_world_cam.copy()
            T_wrong[:3, :3] = quat_to_matrix(q_wrong)
            assert np.abs(_project(T_wrong, p_world, camera) - [col, row]).max() > 1.0


def test_rot90_convention_counter_clockwise():
    """Pin torch.rot90's direction: k=1 moves the top-right corner to the top-left."""
    image = torch.zeros(1, 1, 3, 3)
    image[0, 0, 0, 2] = 1.0  # row 0, column 2: top right
    out = rotate_images(image, torch.tensor([1]))
    assert out[0, 0, 0, 0] == 1.0
    out = rotate_images(image, torch.tensor([-1]))
    assert out[0, 0, 2, 2] == 1.0


def test_rotate_images_errors_and_mixed_batch():
    with pytest.raises(ValueError, match='square'):
        rotate_images(torch.zeros(2, 3, 4, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='k_b'):
        rotate_images(torch.zeros(2, 3, 4, 4), torch.tensor([0]))
    x = torch.arange(2 * 16, dtype=torch.float32).view(2, 1, 4, 4)
    out = rotate_images(x, torch.tensor([0, 3]))
    assert torch.equal(out[0], x[0])
    assert torch.equal(out[1], torch.rot90(x[1], 3, dims=(-2, -1)))


def test_rotate_orientation_position_free_and_w_positive():
    q = torch.tensor([[0.1, -0.2, 0.3, 0.9]])
    q = q / q.norm()
    out = rotate_orientation(q.repeat(4, 1), torch.arange(4))
    assert torch.allclose(out[0], q[0])
    assert (out[:, 3] >= 0).all()
    assert torch.allclose(out.norm(dim=1), torch.ones(4))


# --- anchors (RPE) --------------------------------------------------------------------------

def test_anchor_roundtrip_and_selection():
    gen = torch.Generator().manual_seed(0)
    t = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    q = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    q = q / q.norm(dim=1, keepdim=True)
    at = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    aq = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    aq = aq / aq.norm(dim=1, keepdim=True)
    t_rel, q_rel = relative_to_anchor(t, q, at, aq)
    t_back, q_back = compose_with_anchor(t_rel, q_rel, at, aq)
    assert torch.allclose(t_back, t, atol=1e-12)
    assert torch.allclose((q_back * q).sum(1).abs(), torch.ones(6, dtype=torch.float64))
    assert select_anchors(4, 10).tolist() == [0, 3, 6, 9]
    assert select_anchors(5, 3).tolist() == [0, 0, 1, 2, 2]
    with pytest.raises(ValueError):
        select_anchors(0, 3)
    idx = nearest_anchor(at[:3] + 1e-3, aq[:3], at, aq)
    assert idx.tolist() == [0, 1, 2]


def test_anchor_regressor_heads_compose_with_argmax_anchor():
    model = AnchorPoseRegressor('tiny', None, fc_dim=16, dropout=0.0, head_dim=8,
                                num_anchors=3).eval()
    anchor_t = torch.tensor([[0.0, 0, 0], [5.0, 0, 0], [0, 5.0, 0]])
    anchor_q = torch.tensor([[0.0, 0, 0, 1], [0, 0, 1, 0], [1.0, 0, 0, 0]])
    model.set_anchors(anchor_t, anchor_q)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        features = model.features(x)
        rel = model.relative_heads(features)
        out = model.heads(features)
    idx = rel['anchor_logits'].argmax(1)
    t, q = compose_with_anchor(rel['t'], rel['rot'], anchor_t[idx], anchor_q[idx])
    assert torch.allclose(out['t'], t) and torch.allclose(out['rot'], q)
    rebuilt = AnchorPoseRegressor.from_architecture(model.architecture)
    rebuilt.load_state_dict(model.state_dict())
    assert torch.equal(rebuilt.anchor_t, anchor_t)


def test_apanet_pose_regressor_heads():
    """G_p = FC 1024 then position / orientation layers of 256 (scaled down here)."""
    model = PoseRegressor('tiny', None, fc_dim=32, dropout=0.5, head_dim=16)
    assert model.architecture['head_dim'] == 16
    assert isinstance(model.head_t, torch.nn.Sequential) and model.head_t[0].out_features == 16
    out = encode(model.eval(), torch.randn(3, 3, 16, 16))
    assert out['pooled'].shape == (3, 64) and out['features'].shape == (3, 32)
    assert out['t'].shape == (3, 3) and out['rot'].shape == (3, 4)
    assert 'head_dim' not in PoseRegressor('tiny', None, fc_dim=8).architecture


def test_discriminator_shapes_and_errors():
    disc = SceneDiscriminator(64, num_labels=3, dims=(32, 16, 8), dropout=0.5)
    assert disc(torch.randn(5, 64)).shape == (5, 3)
    assert [m.p for m in disc.modules() if isinstance(m, torch.nn.Dropout)] == [0.5] * 3
    with pytest.raises(ValueError):
        SceneDiscriminator(64, num_labels=1)
    with pytest.raises(ValueError):
        adversarial_loss(torch.zeros(2, 2), torch.zeros(2, dtype=torch.long), kind='grl')
    assert RotationHead(64)(torch.randn(2, 64)).shape == (2, 4)
    logits = torch.zeros(4, 2)
    assert math.isclose(float(adversarial_loss(logits, torch.zeros(4, dtype=torch.long))),
                        math.log(2), rel_tol=1e-6)


# --- alternating updates --------------------------------------------------------------------

@pytest.mark.parametrize('kind', ['confusion', 'minimax'])
def test_alternating_updates_move_discriminator_and_encoder_apart(kind):
    """Training only G_d raises its accuracy; training only E against it lowers it again."""
    gen = torch.Generator().manual_seed(0)
    n = 256
    x = torch.cat([torch.randn(n, 8, generator=gen) + 1.0,
                   torch.randn(n, 8, generator=gen) - 1.0])
    labels = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
                                  torch.nn.Linear(16, 16))
    disc = SceneDiscriminator(16, 2, dims=(32, 16, 8), dropout=0.0)
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-2)
    opt_e = torch.optim.Adam(encoder.parameters(), lr=1e-2)

    def accuracy():
        with torch.no_grad():
            return discriminator_accuracy(disc(encoder(x)), labels)

    # the discriminator learns on detached features (the encoder does not move)
    before_e = [p.clone() for p in encoder.parameters()]
    start = accuracy()
    for _ in range(100):
        opt_d.zero_grad()
        discriminator_loss(disc(encoder(x).detach()), labels).backward()
        opt_d.step()
    trained = accuracy()
    assert all(torch.equal(a, b) for a, b in zip(before_e, encoder.parameters()))
    assert trained > max(start, 0.9)
    # the encoder plays against the frozen discriminator (which does not move)
    before_d = [p.clone() for p in disc.parameters()]
    for p in disc.parameters():
        p.requires_grad_(False)
    for _ in range(100):
        opt_e.zero_grad()
        adversarial_loss(disc(encoder(x)), labels, kind).backward()
        opt_e.step()
    assert all(torch.equal(a, b) for a, b in zip(before_d, disc.parameters()))
    assert accuracy() < trained - 0.3


# --- nu selection ---------------------------------------------------------------------------

def test_nu_selection_deterministic_nested_and_disjoint_from_test(planes):
    from pose_reloc.data.formats import load_dataset
    from pose_reloc.training.apanet import select_labeled
    scene = load_dataset(planes / 'target')[0]
    train = scene.split('train')
    test_stamps = {f.timestamp_ns for f in scene.split('test')}
    a = select_labeled(len(train), 0.1, seed=3)
    assert np.array_equal(a, select_labeled(len(train), 0.1, seed=3))
    assert not np.array_equal(a, select_labeled(len(train), 0.1, seed=4))
    assert len(a) == round(0.1 * len(train)) and len(set(a.tolist())) == len(a)
    assert set(a.tolist()) <= set(select_labeled(len(train), 0.5, seed=3).tolist())
    assert not {train[i].timestamp_ns for i in a} & test_stamps
    assert len(select_labeled(len(train), 0.0, 3)) == 0
    assert len(select_labeled(len(train), 0.001, 3)) == 1
    with pytest.raises(ValueError):
        select_labeled(10, 1.5, 0)


# --- training -------------------------------------------------------------------------------

H, W = 32, 48
TINY = ['model.backbone=tiny', 'model.pretrained=none', 'model.fc_dim=32',
        'model.head_dim=16', 'model.disc_dims=[32,16]', 'model.dropout=0.1',
        'model.mc_samples=0', f'data.height={H}', f'data.width={W}', 'data.resize=0',
        'data.val_frames=8', 'optim.lr=3e-3', 'optim.batch_size=16', 'optim.max_minutes=0',
        'run.progress=false', 'run.device=cpu', 'run.threads=1', 'model.freeze_encoder=0',
        'model.s_q=0', 'model.target_batch=8']


@pytest.fixture(scope='module')
def planes(tmp_path_factory):
    """Write a source scene and a target scene whose world frame is 10 m away and turned 90 deg."""
    from pose_reloc.geometry.se3 import T_from_pos_quat
    root = tmp_path_factory.mktemp('apanet_planes')
    _write_plane_scene(root / 'source', 'source', blue=220, T_world_local=np.eye(4), seed=1)
    s = math.sqrt(0.5)
    T_far = T_from_pos_quat(np.array([10.0, -6.0, 1.0]), np.array([0.0, 0.0, s, s]))
    _write_plane_scene(root / 'target', 'target', blue=60, T_world_local=T_far, seed=2)
    return root


def _train(planes, out, variant, extra=(), resume=False):
    from pose_reloc.training.config import load_preset
    from pose_reloc.training.registry import get_trainer
    cfg = load_preset('apanet-cpu', TINY + [f'model.variant={variant}'] + list(extra))
    data = {'source': [planes / 'source'], 'target': planes / 'target'}
    return get_trainer('apanet')(cfg, data, out, resume=resume)


def test_apanet_beats_source_only_on_held_out_target(planes, tmp_path):
    """Seeded, fixed epochs; source-only answers in the source's frame, 10 m away."""
    from pose_reloc.core.bundle import read_bundle
    from pose_reloc.inference.evaluate import evaluate
    common = ['optim.epochs=12', 'model.nu=0.25', 'model.target_share=0.25']
    apanet = _train(planes, tmp_path / 'apanet', 'apanet', common)
    source = _train(planes, tmp_path / 'source_only', 'source_only', common)
    config, _ = read_bundle(apanet)
    assert config['method'] == 'apr' and config['scenes'][0]['name'] == 'target'
    assert config['training']['apanet']['labeled_target_frames'] == 12
    rep_a = evaluate(apanet, planes / 'target', split='test', device='cpu')
    rep_s = evaluate(source, planes / 'target', split='test', device='cpu')
    assert rep_a['frames'] == 16
    # the target's plane spans +-1 m; its frame is 11.7 m from the source's
    assert rep_a['median_translation_m'] < 2.0
    assert rep_s['median_translation_m'] > 5.0
    log = (tmp_path / 'apanet.work' / 'log.csv').read_text()
    assert 'train_loss_d' in log and 'train_acc_d' in log


def test_resume_restores_every_optimizer(planes, tmp_path):
    """Two epochs in one go == one epoch, then resume: generators, optimizers, anchors."""
    from safetensors.torch import load_file
    extra = [f'data.width={H}', 'model.nu=0.25', 'model.relative=true', 'model.num_anchors=4']
    straight = _train(planes, tmp_path / 'straight', 'apanets', extra + ['optim.epochs=2'])
    _train(planes, tmp_path / 'resumed', 'apanets', extra + ['optim.epochs=1'])
    ckpt = torch.load(tmp_path / 'resumed.work' / 'checkpoint.pt', weights_only=True)
    assert sorted(ckpt['optimizers']) == ['discriminator', 'pose']
    assert all(o['state'] for o in ckpt['optimizers'].values())
    resumed = _train(planes, tmp_path / 'resumed', 'apanets', extra + ['optim.epochs=2'],
                     resume=True)
    a, b = load_file(str(straight / 'model.safetensors')), load_file(
        str(resumed / 'model.safetensors'))
    assert sorted(a) == sorted(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert 'anchor_t' in a


def test_bad_roles_and_variants(planes, tmp_path):
    from pose_reloc.training.config import load_preset
    from pose_reloc.training.registry import get_trainer
    with pytest.raises(ValueError, match='variant'):
        load_preset('apanet-cpu', TINY + ['model.variant=grl'])
    cfg = load_preset('apanet-cpu', TINY)
    with pytest.raises(ValueError, match='target'):
        get_trainer('apanet')(cfg, {'source': [planes / 'source']}, tmp_path / 'x')
    roots = {'source': [planes], 'target': planes / 'target'}  # a multi-scene source root
    with pytest.raises(ValueError, match='must all differ'):
        get_trainer('apanet')(cfg, roots, tmp_path / 'z')
    with pytest.raises(ValueError, match=r"\['nope'\] not found"):
        get_trainer('apanet')(load_preset('apanet-cpu', TINY + ['data.scenes=[nope]']), roots,
                              tmp_path / 'z')
    with pytest.raises(ValueError, match='square'):
        get_trainer('apanet')(load_preset('apanet-cpu', TINY + ['model.variant=apanets']),
                              {'source': [planes / 'source'], 'target': planes / 'target'},
                              tmp_path / 'y')


def test_cli_train_rpe_with_roles_then_eval(planes, tmp_path):
    """``pose-reloc train --data source=A --data target=B`` then ``eval``; RPE with MC dropout."""
    import json
    from pose_reloc.cli import main as cli_main
    from pose_reloc.core.bundle import read_bundle
    out = tmp_path / 'rpe'
    args = ['train', '--method', 'apanet', '--config', 'apanet-cpu', '--data',
            f'source={planes / "source"}', '--data', f'target={planes / "target"}',
            '--out', str(out), '--device', 'cpu']
    for item in TINY + ['optim.epochs=2', 'model.variant=apanet', 'model.nu=0.25',
                        'model.relative=true', 'model.num_anchors=4', 'model.mc_samples=4']:
        args += ['--set', item]
    assert cli_main(args) == 0
    config, state = read_bundle(out)
    assert config['method'] == 'apr'
    assert config['architecture']['name'] == 'AnchorPoseRegressor'
    assert state['anchor_t'].shape == (4, 3)
    report_path = tmp_path / 'eval.json'
    assert cli_main(['eval', str(out), str(planes / 'target'), '--split', 'test', '--json',
                     str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report['frames'] == 16 and report['covariance']['frames'] == 16
    assert report['median_translation_m'] < 5.0  # in the target's frame (source's: 11.7 m)


def test_nu_zero_is_unsupervised_adaptation(planes, tmp_path, caplog):
    """Train with nu = 0 (adversary on unlabeled target images): answers in the source frame."""
    import logging
    from pose_reloc.core.bundle import read_bundle
    with caplog.at_level(logging.WARNING, logger='pose_reloc.training.apanet'):
        bundle = _train(planes, tmp_path / 'nu0', 'apanet', ['optim.epochs=1', 'model.nu=0'])
    assert 'no labeled target frame' in caplog.text
    config, _ = read_bundle(bundle)
    source, _ = read_bundle(_train(planes, tmp_path / 'so', 'source_only', ['optim.epochs=1']))
    assert config['training']['apanet']['labeled_target_frames'] == 0
    assert config['scenes'][0]['translation_mean'] == source['scenes'][0]['translation_mean']
    assert config['scenes'][0]['name'] == 'target'
