# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Adversarial pose refinement (issue 12) and the localizer options / refinement protocol."""

import math

import numpy as np
import pytest
from test_calibration import _apr_bundle
import torch

from pose_reloc.geometry.se3 import T_from_pos_quat, T_to_pos_quat
from pose_reloc.inference import load_localizer, localizer_options
from pose_reloc.inference.base import apply_refinement, check_options, OptionSpec, \
    parse_option_assignments, PoseEstimate, RefinementStage
from pose_reloc.inference.refine import AdversarialRefiner, refine_pose, RefineConfig, \
    sphere_step, tangent_projection
from pose_reloc.models.pose_discriminator import pose_vector, PoseDiscriminator

torch.set_num_threads(1)
H, W = 32, 40


# ------------------------------------------------------------------ the sphere step
def test_sphere_step_known_value_keeps_unit_norm_and_follows_the_tangent():
    q = torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=torch.float64)
    grad = torch.tensor([[2.0, 0.0, 0.0, 0.7]], dtype=torch.float64)  # radial part 0.7
    np.testing.assert_allclose(tangent_projection(q, grad), [[2.0, 0, 0, 0]])
    step = 0.1
    q1 = sphere_step(q, grad, step)
    theta = step * 2.0  # step * |g_t|: along the great circle in the direction -g_t
    np.testing.assert_allclose(q1, [[-math.sin(theta), 0, 0, math.cos(theta)]], atol=1e-15)
    # a generic point: unit norm, and to first order q' = q - step * g_t
    gen = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(16, 4, dtype=torch.float64, generator=gen),
                                      dim=1)
    grad = torch.randn(16, 4, dtype=torch.float64, generator=gen)
    small = sphere_step(q, grad, 1e-6)
    np.testing.assert_allclose(small.norm(dim=1), 1.0, atol=1e-12)
    np.testing.assert_allclose((small - q) / 1e-6, -tangent_projection(q, grad), atol=1e-5)
    big = sphere_step(q, grad, 3.0)
    np.testing.assert_allclose(big.norm(dim=1), 1.0, atol=1e-12)
    # the step stays in the plane spanned by q and g_t (a great circle)
    g_t = tangent_projection(q, grad)
    basis = torch.stack([q, torch.nn.functional.normalize(g_t, dim=1)], dim=2)
    coeff = torch.linalg.lstsq(basis, big[..., None]).solution
    np.testing.assert_allclose((basis @ coeff)[..., 0], big, atol=1e-12)
    # zero tangent gradient: no move
    np.testing.assert_allclose(sphere_step(q, 3.0 * q, 0.5), q, atol=1e-15)


def test_sphere_step_gradcheck_float64():
    gen = torch.Generator().manual_seed(1)
    q = torch.nn.functional.normalize(torch.randn(3, 4, dtype=torch.float64, generator=gen),
                                      dim=1).requires_grad_(True)
    grad = torch.randn(3, 4, dtype=torch.float64, generator=gen).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: sphere_step(a, b, 0.3), (q, grad))
    assert torch.autograd.gradcheck(tangent_projection, (q, grad))


# ------------------------------------------------------------------ analytic discriminators
def test_translation_refinement_converges_to_the_known_optimum():
    # D's logit is linear in t: z = w . (t - a); BCE(sigmoid(z), 0.5) is smallest on the plane
    # z = 0, and gradient descent moves t along w only: the optimum is t0's projection.
    w = torch.tensor([3.0, -4.0, 0.0], dtype=torch.float64)
    a = torch.tensor([0.5, 0.2, -1.0], dtype=torch.float64)
    t0 = torch.tensor([[0.1, 0.9, 0.3]], dtype=torch.float64)
    q0 = torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=torch.float64)

    def score(p):
        return (p[:, :3] - a) @ w

    expected = t0 - ((t0 - a) @ w)[:, None] * w / (w @ w)
    cfg = RefineConfig(iterations=200, step=0.2, tolerance=1e-6)
    result = refine_pose(score, t0, q0, cfg)
    assert result.status == ['refined'] and bool(result.accepted[0])
    np.testing.assert_allclose(result.t, expected, atol=1e-4)
    np.testing.assert_allclose(result.rot, q0)  # D ignores the rotation: gradient 0
    assert abs(torch.sigmoid(result.logit_after[0]) - 0.5) < 1e-5
    assert result.iterations < cfg.iterations  # stopped early


@pytest.mark.parametrize('rotation', ['quat', 'logq'])
def test_rotation_refinement_converges_to_the_known_optimum(rotation):
    # z = k (|<q, q*>| - cos(alpha / 2)): D is unsure exactly at angle alpha from q*; the
    # descent moves q along the great circle towards q*, so it stops at the rotation alpha
    # from q* on the geodesic from q0 (slerp).
    from scipy.spatial.transform import Rotation, Slerp
    q_star = torch.tensor(Rotation.from_rotvec([0.2, -0.1, 0.3]).as_quat())
    q0 = torch.tensor(Rotation.from_rotvec([0.9, 0.4, -0.2]).as_quat())[None]
    alpha = 0.1

    def score(p):
        q = p[:, 3:] if p.shape[1] == 7 else quat_exp(p[:, 3:])
        return 40.0 * ((q * q_star).sum(1).abs() - math.cos(alpha / 2))

    from pose_reloc.geometry.torch_ops import quat_exp, quat_log
    rot0 = q0 if rotation == 'quat' else quat_log(q0)
    t0 = torch.zeros(1, 3, dtype=torch.float64)
    result = refine_pose(score, t0, rot0, RefineConfig(iterations=2000, step=0.05,
                                                       tolerance=1e-7))
    q = result.rot if rotation == 'quat' else quat_exp(result.rot)
    got = Rotation.from_quat(q.numpy()[0])
    assert (got * Rotation.from_quat(q_star.numpy()).inv()).magnitude() == \
        pytest.approx(alpha, abs=1e-4)
    if rotation == 'quat':  # Riemannian descent follows the geodesic exactly
        start, end = Rotation.from_quat(q0.numpy()[0]), Rotation.from_quat(q_star.numpy())
        total = (start * end.inv()).magnitude()
        expected = Slerp([0, 1], Rotation.concatenate([start, end]))([(total - alpha) / total])
        assert (got * expected.inv()).magnitude()[0] < 1e-4
    np.testing.assert_allclose(result.t, t0)


def test_guard_keeps_the_original_pose_and_counts_it():
    # a bump: D is sure near t* = 0 (z = 2 - 50 |t|^2); from t0 = 0.3 a huge step overshoots
    # far beyond t*, where D is less sure than at the start: the guard keeps t0.
    def score(p):
        return 2.0 - 50.0 * (p[:, :3] ** 2).sum(1)

    t0 = torch.tensor([[0.3, 0.0, 0.0]], dtype=torch.float64)
    q0 = torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=torch.float64)
    result = refine_pose(score, t0, q0, RefineConfig(iterations=1, step=1.0))
    assert result.status == ['rejected_confidence'] and not bool(result.accepted[0])
    assert float(result.translation_change[0]) > 1.0
    np.testing.assert_array_equal(result.t, t0)
    assert float(result.logit_after[0]) == float(result.logit_before[0])
    # a small step improves D's confidence, but the trust region is smaller still
    tight = refine_pose(score, t0, q0, RefineConfig(iterations=5, step=1e-3,
                                                    max_translation=1e-4))
    assert tight.status == ['rejected_trust_region']
    np.testing.assert_array_equal(tight.t, t0)
    free = refine_pose(score, t0, q0, RefineConfig(iterations=5, step=1e-3))
    assert free.status == ['refined'] and float(free.t[0, 0]) < 0.3
    # a pose D already takes for real is left alone
    sure = refine_pose(score, torch.zeros(1, 3, dtype=torch.float64), q0, RefineConfig())
    assert sure.status == ['confident'] and sure.iterations == 0


def test_refine_pose_refuses_bad_shapes_and_configs():
    with pytest.raises(ValueError, match=r'\(B, 3\) and \(B, 4\|3\)'):
        refine_pose(lambda p: p[:, 0], torch.zeros(2, 3), torch.zeros(1, 4))
    with pytest.raises(ValueError, match='step'):
        RefineConfig(step=0.0)
    with pytest.raises(ValueError, match='iterations'):
        RefineConfig(iterations=-1)


# ------------------------------------------------------------------ the discriminator
@pytest.mark.parametrize('rotation', ['quat', 'logq'])
def test_discriminator_shapes_pose_only_and_rebuild(rotation):
    torch.manual_seed(0)
    d = PoseDiscriminator(rotation, length=24, channels=8, backbone='tiny')
    images = torch.rand(5, 3, H, W)
    f = d.image_features(images)
    assert f.shape == (5, 24) and not f.requires_grad
    assert all(not p.requires_grad for p in d.features.parameters())
    rot = torch.randn(5, 4)
    pose = pose_vector(torch.randn(5, 3), rot, rotation).requires_grad_(True)
    assert pose.shape == (5, 7 if rotation == 'quat' else 6)
    logits = d(f, pose)
    assert logits.shape == (5,)
    logits.sum().backward()
    assert pose.grad is not None and torch.isfinite(pose.grad).all()
    d.train()
    assert not d.features.training  # the frozen extractor stays in eval mode
    again = PoseDiscriminator.from_architecture(d.architecture)
    again.load_state_dict(d.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(again.image_features(images), pose),
                                   d.eval()(f, pose))
    pose_only = PoseDiscriminator(rotation, length=24, channels=8, backbone='')
    assert pose_only.image_features(images) is None and pose_only(None, pose).shape == (5,)
    with pytest.raises(ValueError, match='pose must be'):
        d(f, torch.zeros(5, 5))
    with pytest.raises(ValueError, match='features must be'):
        d(None, pose)


def test_adversarial_refiner_stage_moves_the_pose_and_times_itself():
    torch.manual_seed(0)
    d = PoseDiscriminator('quat', length=16, channels=8, backbone='tiny').eval()
    stage = AdversarialRefiner(d, np.array([[1.0, 2.0, 3.0]]), np.array([2.0]),
                               {'mean': [0.5] * 3, 'std': [0.25] * 3},
                               RefineConfig(iterations=30, step=0.5),
                               max_translation_m=10.0, max_rotation_deg=90.0)
    assert isinstance(stage, RefinementStage)
    T0 = T_from_pos_quat(np.array([1.5, 2.0, 2.5]), np.array([0.1, 0.2, 0.0, 0.97]) /
                         np.linalg.norm([0.1, 0.2, 0.0, 0.97]))
    image = torch.randn(1, 3, H, W)
    est = apply_refinement(stage, PoseEstimate(ok=True, T_world_cam=T0.copy(),
                                               timings_ms={'total': 1.0}),
                           {'image': image, 'scene_index': 0})
    assert est.timings_ms['refine'] > 0 and est.timings_ms['total'] > 1.0
    extras = est.extras
    assert extras['refine_status'] in ('refined', 'confident', 'rejected_confidence',
                                       'rejected_trust_region')
    if extras['refine_accepted']:
        assert extras['refine_probability_after'] > extras['refine_probability_before']
        t, _ = T_to_pos_quat(est.T_world_cam)
        assert np.linalg.norm(t - T0[:3, 3]) == pytest.approx(extras['refine_translation_m'],
                                                              rel=1e-4)
    else:
        np.testing.assert_array_equal(est.T_world_cam, T0)
    failed = PoseEstimate(ok=False)
    assert apply_refinement(stage, failed, {}) is failed and 'refine' not in failed.timings_ms


# ------------------------------------------------------------------ declared options
def test_option_specs_check_and_parse():
    spec = OptionSpec('n', int, 0, 'count', minimum=0)
    assert spec.check('30') == 30 and spec.check(4) == 4
    with pytest.raises(ValueError, match='must be a int'):
        spec.check(True)
    with pytest.raises(ValueError, match='>= 0'):
        spec.check(-1)
    assert OptionSpec('x', float, 1.0, '').check('1e-3') == pytest.approx(1e-3)
    assert OptionSpec('x', float, 1.0, '').check(2) == 2.0
    for bad in ('nan', float('inf')):
        with pytest.raises(ValueError, match='option x must be a finite number'):
            OptionSpec('x', float, 1.0, '', minimum=0.0).check(bad)
    assert OptionSpec('b', bool, False, '').check('true') is True
    assert OptionSpec('s', str, 'a', '', choices=('a', 'b')).check('b') == 'b'
    with pytest.raises(ValueError, match='one of'):
        OptionSpec('s', str, 'a', '', choices=('a', 'b')).check('c')
    with pytest.raises(ValueError, match='kind must be'):
        OptionSpec('l', list, [], '')
    assert parse_option_assignments(['a=1', ' b = x ']) == {'a': '1', 'b': 'x'}
    with pytest.raises(ValueError, match='name=value'):
        parse_option_assignments(['a'])
    with pytest.raises(ValueError, match='unknown test localizer option.*zzz.*accepts: n'):
        check_options([spec], {'zzz': 1}, 'test localizer')


def test_localizers_declare_their_options():
    apr = {s.name for s in localizer_options('apr')}
    assert {'mc_samples', 'covariance_scale', 'seed', 'refine_iterations',
            'refine_step'} <= apr
    assert {s.name for s in localizer_options('mspn')} == apr
    scr = {s.name for s in localizer_options('scr')}
    assert {'min_inliers', 'reprojection_threshold_px', 'ransac'} <= scr
    assert 'refine_iterations' not in scr
    for spec in localizer_options('scr') + localizer_options('apr'):
        assert spec.description and spec.to_json()['name'] == spec.name


def test_load_localizer_validates_options_against_the_declaration(tmp_path):
    path = _apr_bundle(tmp_path / 'b', mc_samples=4, height=H, width=W)
    with pytest.raises(ValueError, match=r'unknown APR localizer option\(s\) min_inliers; '
                       r'the APR localizer accepts: covariance_scale, mc_samples'):
        load_localizer(path, device='cpu', min_inliers=3)
    with pytest.raises(ValueError, match='mc_samples must be >= 0'):
        load_localizer(path, device='cpu', mc_samples=-2)
    loc = load_localizer(path, device='cpu', mc_samples='6', refine_iterations=0)
    assert loc.mc_samples == 6 and loc.refiner is None
    image = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    est = loc.localize(image)
    assert est.ok and 'refine' not in est.timings_ms
    with pytest.raises(ValueError, match="needs a bundle with a 'discriminator' component"):
        load_localizer(path, device='cpu', refine_iterations=30)


def test_ros_package_names_no_method():
    """The node and the ROS tools forward options without knowing the method (issue 9.7)."""
    import ast
    from pathlib import Path
    import pose_reloc.ros
    methods = {'apr', 'mspn', 'scr', 'apanet'}
    found = []
    for path in Path(pose_reloc.ros.__file__).parent.glob('*.py'):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Constant) and node.value in methods:
                found.append(f'{path.name}:{node.lineno}: {node.value!r}')
    assert not found, found


def test_eval_option_named_like_an_evaluate_keyword_is_refused(tmp_path, capsys):
    """'-o device=cpu' is an unknown localizer option, not a TypeError from evaluate()."""
    from pose_reloc.cli import main
    from pose_reloc.inference import check_localizer_options
    from pose_reloc.inference.evaluate import evaluate
    path = _apr_bundle(tmp_path / 'b', mc_samples=4, height=H, width=W)
    for item in ('device=cpu', 'progress=false', 'json_out=x.json'):
        assert main(['eval', str(path), str(tmp_path / 'data'), '-o', item]) == 1
        err = capsys.readouterr().err
        assert 'unknown APR localizer option(s) ' + item.split('=')[0] in err, err
    assert check_localizer_options(path, {'mc_samples': '3'}) == {'mc_samples': 3}
    loc = load_localizer(path, device='cpu')
    with pytest.raises(ValueError, match=r"localizer options \['refine_iterations'\] apply"):
        evaluate(loc, tmp_path / 'data', refine_iterations=3)
