# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Synthetic scenes: exact depth, cross-view consistency, paths, presets (CPU, seconds)."""

import numpy as np
import pytest

from pose_reloc.data.synthetic import paths, scan
from pose_reloc.data.synthetic.generate import make_camera
from pose_reloc.data.synthetic.presets import get_preset, load_preset, override, PRESETS
from pose_reloc.data.synthetic.presets import preset_from_dict, preset_to_dict
from pose_reloc.data.synthetic.raycast import cast_rays, render, subpixel_rays
from pose_reloc.data.synthetic.scene import build_scene, STREAM_PATH, stream_rng
from pose_reloc.geometry.camera import depth_to_scene_coords, PinholeCamera
from pose_reloc.geometry.se3 import invert


@pytest.fixture(scope='module')
def tiny():
    preset = get_preset('tiny')
    scene = build_scene(preset, seed=3, index=0)
    camera = make_camera(preset, (96, 72))
    traj = paths.trajectory(scene, preset.path, camera, 12, stream_rng(3, 0, STREAM_PATH, 0))
    return preset, scene, camera, traj


def _check_depth_on_surfaces(scene, camera, T_world_cam, tol_m=0.01):
    out = render(scene, camera, T_world_cam, colour=False)
    coords = depth_to_scene_coords(out.depth, camera, T_world_cam)
    valid = out.depth > 0
    dist = scene.surface_distance(coords[valid])
    assert dist.max() < tol_m, f'back-projected depth is {dist.max():.4f} m off the surfaces'
    return out, valid


def test_depth_backprojects_onto_surfaces(tiny):
    _, scene, camera, traj = tiny
    for T in traj.poses[::4]:
        out, valid = _check_depth_on_surfaces(scene, camera, T)
        assert valid.all(), 'an indoor room has no sky: every pixel must have depth'
    # A point 10 cm in front of a surface is not on it: the check can fail.
    coords = depth_to_scene_coords(out.depth * 0.9, camera, traj.poses[-1])
    assert scene.surface_distance(coords[valid]).max() > 0.05


def test_distorted_camera_depth_is_exact(tiny):
    _, scene, camera, traj = tiny
    distorted = PinholeCamera(camera.width, camera.height, camera.fx, camera.fy, camera.cx,
                              camera.cy, 'plumb_bob', (-0.2, 0.05, 0.001, -0.001, 0.0))
    _check_depth_on_surfaces(scene, distorted, traj.poses[0])


def test_outdoor_sky_has_no_depth():
    preset = override(get_preset('outdoor'), layout__size_m=(25.0, 30.0))
    scene = build_scene(preset, seed=1, index=0)
    camera = make_camera(preset, (64, 48))
    views = paths.random_views(scene, preset.path, camera, 2, stream_rng(1, 0, STREAM_PATH, 0))
    for T in views:
        out, valid = _check_depth_on_surfaces(scene, camera, T, tol_m=0.02)
        sky = out.surface < 0
        assert np.array_equal(sky, ~valid)
        # Sky only above the horizon: rays through sky pixels point up in the layout frame.
        if sky.any():
            rays_world = camera.pixel_rays()[sky] @ T[:3, :3].T
            assert (rays_world[:, 2] > 0).all()


def test_point_seen_in_two_frames_matches_pixels_and_colours(tiny):
    _, scene, camera, traj = tiny
    T_a, T_b = traj.pose_at([traj.times_s[2], traj.times_s[2] + 0.4])
    assert np.linalg.norm(T_a[:3, 3] - T_b[:3, 3]) > 0.05, 'the two views differ'
    a = render(scene, camera, T_a, shade=True, supersample=1)
    b = render(scene, camera, T_b, shade=True, supersample=1)
    coords = depth_to_scene_coords(a.depth, camera, T_a)
    rows, cols = np.nonzero(a.depth > 0)
    pts_world = coords[rows, cols]
    T_b_world = invert(T_b)
    pts_b = pts_world @ T_b_world[:3, :3].T + T_b_world[:3, 3]
    uv_b, ok = camera.project(pts_b)
    ok &= (uv_b[:, 0] > 1) & (uv_b[:, 0] < camera.width - 2)
    ok &= (uv_b[:, 1] > 1) & (uv_b[:, 1] < camera.height - 2)
    # The ray of frame B through the projected (sub-pixel) position meets the same point,
    # unless something occludes it in B.
    T_layout_b = scene.T_layout_world @ T_b
    d_layout = subpixel_rays(camera, uv_b[ok]) @ T_layout_b[:3, :3].T
    t_hit, _ = cast_rays(scene, T_layout_b[:3, 3], d_layout)
    hit_world = scene.to_world(T_layout_b[:3, 3] + d_layout * t_hit[:, None])
    err = np.linalg.norm(hit_world - pts_world[ok], axis=1)
    visible = err < 0.002
    assert ok.sum() > 0.3 * ok.size
    assert visible.mean() > 0.8, 'most points of frame A must be seen again by frame B'
    # Colours match: frame B at the projected pixel (bilinear) vs frame A's pixel.
    uv = uv_b[ok][visible]
    x0, y0 = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
    fx, fy = (uv[:, 0] - x0)[:, None], (uv[:, 1] - y0)[:, None]
    img = b.rgb
    col_b = ((1 - fy) * ((1 - fx) * img[y0, x0] + fx * img[y0, x0 + 1])
             + fy * ((1 - fx) * img[y0 + 1, x0] + fx * img[y0 + 1, x0 + 1]))
    col_a = a.rgb[rows[ok][visible], cols[ok][visible]]
    diff = np.abs(col_a - col_b).mean(axis=1)
    shuffled = np.abs(col_a - col_b[np.random.default_rng(0).permutation(len(col_b))])
    assert np.median(diff) < 0.02
    assert np.median(diff) < 0.25 * np.median(shuffled.mean(axis=1))


def test_trajectory_is_smooth_and_keeps_margins(tiny):
    preset, scene, camera, traj = tiny
    cfg = preset.path
    pos_layout = scene.to_layout(traj.poses[:, :3, 3])
    assert (pos_layout[:, 2] >= cfg.height_m[0] - 1e-9).all()
    assert (pos_layout[:, 2] <= cfg.height_m[1] + 1e-9).all()
    assert (scene.clearance(pos_layout, walkable=True) >= cfg.wall_margin_m).all()
    # Continuous: dense samples move less than 2 cm and 1 degree per 10 ms.
    dense = traj.pose_at(np.arange(0.0, traj.times_s[-1], 0.01))
    step = np.linalg.norm(np.diff(dense[:, :3, 3], axis=0), axis=1)
    assert step.max() < 0.02
    rel = np.einsum('nji,njk->nik', dense[:-1, :3, :3], dense[1:, :3, :3])
    angle = np.degrees(np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    assert angle.max() < 1.0
    assert np.allclose(traj.pose_at(traj.times_s), traj.poses)
    for T in traj.poses:
        out = render(scene, camera.resized(32, 24), T, colour=False)
        assert out.distance.min() >= cfg.min_view_distance_m
        assert np.median(out.depth) >= cfg.min_median_depth_m


def test_sequences_and_random_views_differ(tiny):
    preset, scene, camera, traj = tiny
    other = paths.trajectory(scene, preset.path, camera, 12, stream_rng(3, 0, STREAM_PATH, 1))
    assert not np.allclose(other.poses[:, :3, 3], traj.poses[:, :3, 3], atol=0.05)
    views = paths.random_views(scene, preset.path, camera, 6, stream_rng(3, 0, STREAM_PATH, 9))
    assert views.shape == (6, 4, 4)
    gaps = np.linalg.norm(np.diff(views[:, :3, 3], axis=0), axis=1)
    assert np.median(gaps) > 0.3, 'random views are independent, not a path'


def test_scenes_have_their_own_world_frames():
    preset = get_preset('tiny')
    a, b = build_scene(preset, 0, 0), build_scene(preset, 0, 1)
    assert not np.allclose(a.T_world_layout, b.T_world_layout)
    again = build_scene(preset, 0, 0)
    assert np.array_equal(a.T_world_layout, again.T_world_layout)
    assert np.array_equal(a.atlas.texels_t, again.atlas.texels_t)


def test_presets_are_frozen_and_validated():
    base = get_preset('room')
    changed = override(base, path__fps=5.0, layout__size_m=(3.0, 4.0))
    assert changed.path.fps == 5.0 and base.path.fps == 10.0
    assert base.layout.size_m == (3.0, 15.0)
    assert {'room', 'outdoor', 'robot', 'tiny'} <= set(PRESETS)
    with pytest.raises(ValueError, match='unknown synth preset'):
        get_preset('nope')
    with pytest.raises(ValueError, match='unknown preset field'):
        override(base, path__nope=1)
    for preset in PRESETS.values():
        assert preset_from_dict(preset_to_dict(preset)) == preset


def test_yaml_preset_and_overrides(repo_root, tmp_path):
    preset = load_preset(repo_root / 'config' / 'synth' / 'robot_office.yaml',
                         ['path.fps=5', 'layout.size_m=[4, 5]'])
    assert preset.name == 'robot_office' and preset.path.style == 'robot'
    assert preset.path.fps == 5 and preset.layout.size_m == (4, 5)
    assert preset.path.mount_xyz_m == (0.12, 0.0, 0.45)
    assert get_preset('robot').path.fps == 10.0
    bad = tmp_path / 'bad.yaml'
    bad.write_text('path: {speed: 3}\n')
    with pytest.raises(ValueError, match='bad.yaml'):
        load_preset(bad)
    with pytest.raises(ValueError, match='section.field=value'):
        load_preset('room', ['fps'])
    with pytest.raises(FileNotFoundError):
        load_preset(tmp_path / 'missing.yaml')


def test_robot_mounting_keeps_base_on_the_floor(repo_root):
    preset = load_preset(repo_root / 'config' / 'synth' / 'robot_office.yaml')
    assert preset.path.mount_pitch_deg > 0
    scene = build_scene(preset, 0, 0)
    camera = make_camera(preset, (64, 48))
    traj = paths.trajectory(scene, preset.path, camera, 6, stream_rng(0, 0, STREAM_PATH, 0))
    T_base_cam = paths.mount_transform(preset.path)
    T_layout_base = scene.T_layout_world @ traj.poses @ invert(T_base_cam)
    assert np.allclose(T_layout_base[:, 2, 3], 0.0, atol=1e-9), 'base_link on the floor'
    assert np.allclose(T_layout_base[:, :3, 2], [0.0, 0.0, 1.0], atol=1e-9), 'base z is up'


def test_scan_point_cloud_lies_on_surfaces_and_is_seeded():
    preset = get_preset('tiny')
    scene = build_scene(preset, 3, 0)
    cloud = scan.scan_scene(scene, preset.scan, 3, 0)
    assert len(cloud.points_n3) > 10000
    dist = scene.surface_distance(cloud.points_world()[::20])
    assert np.percentile(dist, 99) < 5 * preset.scan.range_noise_m
    assert np.allclose(np.linalg.norm(cloud.normals_n3, axis=1), 1.0, atol=1e-5)
    assert (cloud.footprint_n >= preset.scan.voxel_m - 1e-7).all()
    again = scan.scan_scene(scene, preset.scan, 3, 0)
    assert np.array_equal(cloud.points_n3, again.points_n3)
    assert np.array_equal(cloud.colours_n3, again.colours_n3)
