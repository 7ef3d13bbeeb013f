# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Keypoint scene coordinate regression: features, the map, triangulation, mapping end to end.

The end-to-end tests map a ``tiny`` synthetic room (one training and one held-out test
trajectory, 320x240 photos with the generator's camera effects) from depth and, with the depth
folder removed, from RGB + poses alone, then localize the held-out trajectory. Mapping is
deterministic (SIFT, exhaustive pair matching, seeded USAC); the bounds hold with margins of
3x or more over what was measured (see each test).
"""

import shutil

import numpy as np
import pytest

from pose_reloc.core.bundle import read_bundle_config
from pose_reloc.data.synthetic.generate import generate_dataset
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.inference import load_localizer
from pose_reloc.inference.evaluate import evaluate
from pose_reloc.inference.scr_keypoints import KeypointSCRLocalizer
from pose_reloc.models.keypoints import extract_features, FeatureConfig, root_sift, \
    SceneCoordinateMap
from pose_reloc.training.config import load_preset
from pose_reloc.training.registry import get_trainer
from pose_reloc.training.scr_keypoints import refine_points, select_pairs, \
    triangulate_pair, triangulate_views

CAMERA = PinholeCamera(320, 240, 260.0, 255.0, 161.0, 118.5)


def _look_at(centre, target):
    forward = np.asarray(target, float) - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    T = np.eye(4)
    T[:3, :3] = np.stack([right, np.cross(forward, right), forward], axis=1)
    T[:3, 3] = centre
    return T


def _project(T_world_cam, points_n3):
    T_cam_world = np.linalg.inv(T_world_cam)
    p = points_n3 @ T_cam_world[:3, :3].T + T_cam_world[:3, 3]
    return p[:, :2] / p[:, 2:]


# --- local features -------------------------------------------------------------------------

def test_root_sift_known_values():
    d = root_sift(np.array([[4.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(d[0], [1, 0, 0, 0])
    np.testing.assert_allclose(d[1], [0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(d[2], 0.0)
    assert d.dtype == np.float32


def test_extract_features_shapes_and_scale():
    rng = np.random.default_rng(0)
    image = (rng.uniform(0, 1, (60, 80, 3)) * 255).astype(np.uint8)
    image = np.kron(image, np.ones((4, 4, 1), np.uint8))  # 240x320 blocks: corners to detect
    uv, desc = extract_features(image, FeatureConfig(short_side=240))
    assert uv.shape[1] == 2 and desc.shape == (len(uv), 128) and len(uv) > 50
    np.testing.assert_allclose(np.linalg.norm(desc, axis=1), 1.0, atol=1e-5)
    assert uv[:, 0].max() < 320 and uv[:, 1].max() < 240
    # detection at half resolution maps keypoints back to the full image's pixels
    uv_half, _ = extract_features(image, FeatureConfig(short_side=120))
    assert uv_half[:, 0].max() > 200 and uv_half[:, 1].max() > 150
    # a flat image has no keypoint: empty arrays of the right widths
    uv0, d0 = extract_features(np.full((240, 320, 3), 128, np.uint8), FeatureConfig())
    assert uv0.shape == (0, 2) and d0.shape == (0, 128)


def test_extract_features_bad_input():
    with pytest.raises(ValueError, match='uint8'):
        extract_features(np.zeros((240, 320, 3), np.float32), FeatureConfig())
    with pytest.raises(ValueError, match='short_side'):
        FeatureConfig(short_side=8)


# --- the scene coordinate map ---------------------------------------------------------------

def test_map_regresses_its_own_descriptors_and_round_trips():
    rng = np.random.default_rng(1)
    desc = root_sift(rng.uniform(0, 1, (500, 128)) ** 4)
    points = rng.uniform(-5, 5, (500, 3)).astype(np.float32)
    scene_map = SceneCoordinateMap(desc, points, ratio=0.9)
    pred, index = scene_map.regress(desc[:50])
    assert len(index) >= 45
    np.testing.assert_allclose(pred, points[index], atol=1e-6)
    restored = SceneCoordinateMap.from_state_dict(scene_map.state_dict(), ratio=0.9)
    assert restored.state_dict()['descriptors'].dtype.is_floating_point is False
    pred2, index2 = restored.regress(desc[:50])
    assert len(index2) >= 45
    np.testing.assert_allclose(pred2, points[index2], atol=1e-6)


def test_map_ratio_test_rejects_ambiguous_descriptors():
    rng = np.random.default_rng(2)
    base = root_sift(rng.uniform(0, 1, (1, 128)))
    desc = np.repeat(base, 2, axis=0)   # two identical descriptors at different points
    desc = np.concatenate([desc, root_sift(rng.uniform(0, 1, (20, 128)) ** 4)])
    scene_map = SceneCoordinateMap(desc, rng.uniform(0, 1, (22, 3)), ratio=0.85)
    _, index = scene_map.regress(base)
    assert len(index) == 0


def test_map_bad_input():
    with pytest.raises(ValueError, match='128'):
        SceneCoordinateMap(np.zeros((3, 64), np.float32), np.zeros((3, 3)))
    with pytest.raises(ValueError, match='points'):
        SceneCoordinateMap(np.zeros((3, 128), np.float32), np.zeros((2, 3)))
    with pytest.raises(ValueError, match='ratio'):
        SceneCoordinateMap(np.zeros((3, 128), np.float32), np.zeros((3, 3)), ratio=1.5)
    with pytest.raises(ValueError, match='lacks'):
        SceneCoordinateMap.from_state_dict({})


# --- triangulation --------------------------------------------------------------------------

def test_triangulate_views_known_values_and_refinement():
    rng = np.random.default_rng(3)
    points = rng.uniform([-1, 3, -1], [1, 5, 1], (40, 3))
    poses = [_look_at(np.array([x, 0.0, 0.0]), [x, 4.0, 0.0]) for x in (-0.4, 0.0, 0.5)]
    xy = np.stack([_project(T, points) for T in poses], axis=1)          # (40, 3, 2)
    T_cam_world = np.broadcast_to(np.stack([np.linalg.inv(T) for T in poses]),
                                  (40, 3, 4, 4))
    np.testing.assert_allclose(triangulate_views(xy, T_cam_world), points, atol=1e-9)
    # with 1 px of noise, Gauss-Newton lowers the squared reprojection error DLT leaves
    noisy = xy + rng.normal(0, 1.0 / 260.0, xy.shape)
    dlt = triangulate_views(noisy, T_cam_world)
    refined = refine_points(dlt, noisy, T_cam_world, np.ones((40, 3)))

    def reprojection(X):
        return sum(np.sum((_project(T, X) - noisy[:, v]) ** 2, axis=1)
                   for v, T in enumerate(poses))
    assert np.all(reprojection(refined) <= reprojection(dlt) + 1e-12)
    assert np.median(np.linalg.norm(refined - points, axis=1)) < 0.15  # ~ z^2 sigma / (f b) = 7 cm


def test_triangulate_pair_rejects_epipolar_outliers():
    rng = np.random.default_rng(4)
    points = rng.uniform([-1, 3, -1], [1, 5, 1], (30, 3))
    Ta = _look_at(np.array([0.0, 0.0, 0.0]), [0.0, 4.0, 0.0])
    Tb = _look_at(np.array([0.5, 0.0, 0.0]), [0.0, 4.0, 0.0])
    xa, xb = _project(Ta, points), _project(Tb, points)
    xb[:5, 1] += 0.05    # five wrong matches, 13 px off the (horizontal) epipolar lines
    found, ok = triangulate_pair(xa, xb, Ta, Tb, 260.0, 2.0, 2.0, 1.0)
    assert not ok[:5].any() and ok[10:].all()
    np.testing.assert_allclose(found[10:], points[10:], atol=1e-6)


def test_select_pairs_respects_baseline_and_view_angle():
    poses = np.stack([_look_at(np.array([0.1 * i, 0.0, 0.0]), [0.1 * i, 4.0, 0.0])
                      for i in range(6)] + [_look_at(np.zeros(3), [4.0, 0.0, 0.0])])
    pairs = select_pairs(poses, pairs_per_frame=2, min_baseline_m=0.15, max_view_angle_deg=45)
    assert pairs and all(abs(i - j) >= 2 for i, j in pairs)
    assert not any(6 in pair for pair in pairs)   # the sideways camera pairs with nobody


# --- mapping a scene end to end -------------------------------------------------------------

@pytest.fixture(scope='module')
def room(tmp_path_factory):
    """Generate a tiny synthetic room: 68 training and 67 held-out test frames at 320x240."""
    return generate_dataset(tmp_path_factory.mktemp('kp') / 'room', 'tiny', scenes=1, seed=3,
                            frames=135, progress=False) / 'tiny_00'


def _map(data, out, overrides=()):
    cfg = load_preset('scr-cpu', ['run.progress=false', 'data.calibration_split=',
                                  *overrides], method='scr')
    return get_trainer('scr')(cfg, data, out)


@pytest.fixture(scope='module')
def depth_bundle(room, tmp_path_factory):
    return _map(room, tmp_path_factory.mktemp('kp_depth') / 'bundle')


def test_mapping_from_depth_localizes_held_out_frames(room, depth_bundle):
    config = read_bundle_config(depth_bundle)
    assert config['architecture']['name'] == 'KeypointSCR'
    assert config['training']['mapping']['source'] == 'depth'
    report = evaluate(depth_bundle, room, progress=False, include_frames=False)
    # measured: 1.8 cm, 0.38 deg, 16 % refused (a weakly textured room), 66 % within 5 cm / 5 deg
    assert report['frames'] == 67
    assert report['failure_rate'] <= 0.4
    assert report['median_translation_m'] < 0.06
    assert report['median_rotation_deg'] < 1.5
    assert report['rate_5cm_5deg'] >= 0.3
    assert set(report['timings_ms']) >= {'features', 'regression', 'pnp', 'total'}


def test_mapping_from_rgb_and_poses_alone(room, tmp_path):
    rgb_only = tmp_path / 'rgb_only'
    shutil.copytree(room, rgb_only)
    shutil.rmtree(rgb_only / 'depth')
    bundle = _map(rgb_only, tmp_path / 'bundle')
    mapping = read_bundle_config(bundle)['training']['mapping']
    assert mapping['source'] == 'triangulation' and mapping['mapped'] > 1000
    report = evaluate(bundle, rgb_only, progress=False, include_frames=False)
    # measured: 2.3 cm, 0.58 deg, 51 % refused (fewer mapped points than from depth)
    assert report['failure_rate'] <= 0.75
    assert report['median_translation_m'] < 0.1
    assert report['median_rotation_deg'] < 2.0


def test_localizer_contract(room, depth_bundle):
    from pose_reloc.data.formats import load_dataset
    frame = load_dataset(room)[0].split('test')[0]
    from pose_reloc.data.records import load_image
    image = load_image(frame)
    localizer = load_localizer(depth_bundle, device='cpu')
    assert isinstance(localizer, KeypointSCRLocalizer) and localizer.scenes == ['tiny_00']
    est = localizer.localize(image)
    assert est.ok and est.covariance.shape == (6, 6)
    assert np.all(np.linalg.eigvalsh(est.covariance) > 0)
    assert est.confidence == pytest.approx(est.extras['inlier_ratio'])
    assert est.extras['inlier_points'].shape == (est.extras['inlier_count'], 3)
    # too few inliers: a reported failure, never a pose
    strict = load_localizer(depth_bundle, device='cpu', min_inliers=est.extras['inlier_count'] + 1,
                            min_inlier_ratio=0.999)
    refused = strict.localize(image)
    assert not refused.ok and refused.T_world_cam is None and refused.covariance is None
    assert refused.failure in ('too_few_inliers', 'low_inlier_ratio')
    # an image with nothing to match is refused too
    blank = localizer.localize(np.full_like(image, 90))
    assert not blank.ok and blank.T_world_cam is None
    with pytest.raises(ValueError, match='unknown SCR localizer option'):
        load_localizer(depth_bundle, device='cpu', min_inlier=3)
    with pytest.raises(ValueError, match='aspect'):
        localizer.localize(image[:, :200])
    with pytest.raises(ValueError, match='unknown'):
        localizer.localize(image, scene='elsewhere')


def test_dense_regressor_without_depth_points_to_keypoints(room, tmp_path):
    cfg = load_preset('scr-lite-cpu', ['run.progress=false', 'data.use_depth=false'],
                      method='scr')
    with pytest.raises(ValueError, match='regressor=keypoints'):
        get_trainer('scr')(cfg, room, tmp_path / 'b')


def test_cli_says_whether_it_maps_from_depth(room, tmp_path, caplog):
    from pose_reloc.cli import main
    caplog.set_level('INFO', logger='pose_reloc.training.scr_keypoints')
    assert main(['train', '--method', 'scr', '--config', 'scr-cpu', '--data', str(room),
                 '--out', str(tmp_path / 'b'), '--set', 'run.progress=false',
                 '--set', 'data.calibration_split=']) == 0
    assert 'mapping 68 frames from depth' in caplog.text
