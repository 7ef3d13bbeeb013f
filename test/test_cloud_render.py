# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Point-cloud renders: projection to the right pixel, occlusion, holes, posed-folder output."""

import numpy as np
import pytest
import torch

from pose_reloc.data.cloud_render import CloudRenderer, Occupancy, render_cloud_dataset, \
    sample_views, SplatConfig, ViewConfig
from pose_reloc.data.pointcloud import ColoredCloud, write_cloud
from pose_reloc.geometry.camera import PinholeCamera, write_camera_yaml
from pose_reloc.geometry.se3 import make_T

torch.set_num_threads(1)
CAMERA = PinholeCamera(64, 48, 50.0, 50.0, 31.5, 23.5)


def _yaw(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def test_point_lands_on_its_pixel_with_its_coordinate():
    # Camera at (1, 2, 0.5), rotated: a point 3 m ahead and offset lands where K says.
    T_world_cam = make_T(_yaw(0.3), np.array([1.0, 2.0, 0.5]))
    p_cam = np.array([0.4, -0.3, 3.0])
    p_world = T_world_cam[:3, :3] @ p_cam + T_world_cam[:3, 3]
    cloud = ColoredCloud(p_world[None], np.array([[200, 10, 30]], np.uint8),
                         radius_n=np.array([1e-4]))
    view = CloudRenderer(cloud).render(CAMERA, T_world_cam)
    u = CAMERA.fx * p_cam[0] / p_cam[2] + CAMERA.cx
    v = CAMERA.fy * p_cam[1] / p_cam[2] + CAMERA.cy
    assert view.valid.sum() == 1
    assert view.valid[int(round(v)), int(round(u))]
    np.testing.assert_array_equal(view.rgb[int(round(v)), int(round(u))], [200, 10, 30])
    np.testing.assert_allclose(view.coords[int(round(v)), int(round(u))], p_world, atol=1e-5)
    assert view.depth[int(round(v)), int(round(u))] == pytest.approx(3.0, abs=1e-5)
    # Holes stay holes.
    assert (view.rgb[~view.valid] == 0).all() and np.isnan(view.coords[~view.valid]).all()
    assert (view.depth[~view.valid] == 0).all()


@pytest.mark.parametrize('radius', [1e-4, 0.05])
def test_nearer_point_occludes_farther(radius):
    T_world_cam = np.eye(4)
    near, far = np.array([0.0, 0.0, 2.0]), np.array([0.0, 0.0, 4.0])
    for order in ([near, far], [far, near]):
        colours = np.array([[255, 0, 0], [0, 255, 0]], np.uint8)
        if order[0] is far:
            colours = colours[::-1]
        cloud = ColoredCloud(np.stack(order), colours, radius_n=np.full(2, radius))
        view = CloudRenderer(cloud).render(CAMERA, T_world_cam)
        centre = (int(round(CAMERA.cy)), int(round(CAMERA.cx)))
        np.testing.assert_array_equal(view.rgb[centre], [255, 0, 0])
        assert view.depth[centre] == pytest.approx(2.0)
        if radius > 0.01:  # the near splat covers several pixels, the far one fewer
            assert view.valid.sum() > 1
            assert (view.depth[view.valid] == pytest.approx(2.0))


def test_points_behind_and_outside_are_not_drawn():
    cloud = ColoredCloud(np.array([[0.0, 0.0, -2.0], [50.0, 0.0, 1.0], [0.0, 0.0, 0.05]]),
                         np.full((3, 3), 255, np.uint8), radius_n=np.full(3, 1e-4))
    view = CloudRenderer(cloud, SplatConfig(near_m=0.1)).render(CAMERA, np.eye(4))
    assert not view.valid.any()


def _box_room(n=60_000, seed=0):
    """Points on the walls, floor and ceiling of a 4 x 3 x 2.5 m room, coloured by face."""
    rng = np.random.default_rng(seed)
    face = rng.integers(0, 6, n)
    p = rng.uniform([0, 0, 0], [4, 3, 2.5], (n, 3))
    for axis, hi in enumerate((4.0, 3.0, 2.5)):
        on = face // 2 == axis
        p[on, axis] = np.where(face[on] % 2, hi, 0.0)
    colours = (np.stack([face * 40, 255 - face * 40, (p[:, 2] * 80) % 255], 1)).astype(np.uint8)
    return ColoredCloud(p, colours)


def test_sampled_views_follow_the_distribution_and_cover_the_image():
    cloud = _box_room()
    renderer = CloudRenderer(cloud)
    cfg = ViewConfig(height_m=(1.0, 1.5), min_coverage=0.9)
    views = list(sample_views(renderer, cloud, CAMERA, 5, cfg, seed=3))
    assert len(views) == 5
    for T, view in views:
        assert 1.0 - 0.05 <= T[2, 3] <= 1.5 + 0.05
        assert 0.3 < T[0, 3] < 3.7 and 0.3 < T[1, 3] < 2.7
        assert view.coverage >= 0.9
        assert abs(T[2, 0]) < np.sin(np.radians(4))  # small roll: image x stays horizontal
    occupancy = Occupancy(cloud.points_n3, 0.2)
    assert occupancy.enclosed(np.array([2.0, 1.5, 1.2]))
    assert not occupancy.enclosed(np.array([8.0, 1.5, 1.2]))


def test_render_cloud_dataset_is_a_posed_folder(tmp_path):
    from pose_reloc.data.formats import load_dataset
    from pose_reloc.data.records import load_depth
    from pose_reloc.geometry.camera import depth_to_scene_coords
    path = write_cloud(tmp_path / 'room.ply', _box_room())
    write_camera_yaml(tmp_path / 'camera.yaml', CAMERA, 'cam')
    out = render_cloud_dataset(path, CAMERA, tmp_path / 'renders', 3, progress=False)
    scene = load_dataset(out)[0]
    assert len(scene.split('train')) == 3
    frame = scene.frames[0]
    coords = np.load(out / 'coords' / f'{frame.timestamp_ns}.npy')
    depth = load_depth(frame)
    assert np.isfinite(coords).all(axis=-1).mean() > 0.6
    # depth back-projects to the stored coordinates (pixel-centre vs point: < 1 px apart).
    back = depth_to_scene_coords(depth, frame.camera, frame.T_world_cam)
    ok = np.isfinite(back).all(-1) & np.isfinite(coords).all(-1)
    err = np.linalg.norm(back[ok] - coords[ok], axis=-1)
    assert np.median(err) < 0.05


def test_render_cloud_command(tmp_path, capsys):
    from pose_reloc.cli import main
    write_cloud(tmp_path / 'room.pcd', _box_room())
    write_camera_yaml(tmp_path / 'camera.yaml', CAMERA, 'cam')
    assert main(['render-cloud', str(tmp_path / 'room.pcd'), str(tmp_path / 'camera.yaml'),
                 str(tmp_path / 'out'), '--views', '2', '--size', '32x24', '--quiet']) == 0
    assert '"views": 2' in capsys.readouterr().out
    assert len(list((tmp_path / 'out' / 'rgb').iterdir())) == 2
    assert main(['render-cloud', str(tmp_path / 'missing.ply'), str(tmp_path / 'camera.yaml'),
                 str(tmp_path / 'out2'), '--views', '1', '--quiet']) == 1
