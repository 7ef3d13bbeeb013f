# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Coloured point clouds: PLY / PCD round-trips (binary and ASCII), the synth export."""

import numpy as np
import pytest

from pose_reloc.data.pointcloud import ColoredCloud, read_cloud, write_cloud


def _cloud(n=500, extras=True, seed=0):
    rng = np.random.default_rng(seed)
    normals = rng.normal(size=(n, 3)) if extras else None
    radius = rng.random(n) * 0.01 if extras else None
    return ColoredCloud(rng.normal(size=(n, 3)) * 5.0 + [100.0, -3.0, 1.5],
                        rng.integers(0, 256, (n, 3), dtype=np.uint8), normals, radius)


@pytest.mark.parametrize('suffix', ['.ply', '.pcd'])
@pytest.mark.parametrize('binary', [True, False])
@pytest.mark.parametrize('extras', [True, False])
def test_round_trip_keeps_points_colours_normals(tmp_path, suffix, binary, extras):
    cloud = _cloud(extras=extras)
    path = write_cloud(tmp_path / f'c{suffix}', cloud, binary=binary)
    head = path.read_bytes()[:400]
    assert (b'ascii' in head) != binary
    back = read_cloud(path)
    np.testing.assert_array_equal(back.points_n3, cloud.points_n3)
    np.testing.assert_array_equal(back.colours_n3, cloud.colours_n3)
    assert back.colours_n3.dtype == np.uint8 and back.points_n3.dtype == np.float32
    if extras:
        # pypcd4 prints ASCII floats with 10 fixed decimals: exact to 5e-11 m.
        atol = 1e-10 if (suffix, binary) == ('.pcd', False) else 0.0
        np.testing.assert_allclose(back.normals_n3, cloud.normals_n3, rtol=0, atol=atol)
        np.testing.assert_allclose(back.radius_n, cloud.radius_n, rtol=0, atol=atol)
    else:
        assert back.normals_n3 is None and back.radius_n is None


def test_ply_from_another_tool_float_colours_and_doubles(tmp_path):
    from plyfile import PlyData, PlyElement
    vertex = np.array([(1.0, 2.0, 3.0, 1.0, 0.5, 0.0), (4.0, 5.0, 6.0, 0.0, 0.0, 1.0)],
                      dtype=[('x', 'f8'), ('y', 'f8'), ('z', 'f8'), ('diffuse_red', 'f4'),
                             ('diffuse_green', 'f4'), ('diffuse_blue', 'f4')])
    path = tmp_path / 'other.ply'
    PlyData([PlyElement.describe(vertex, 'vertex')], text=True).write(str(path))
    cloud = read_cloud(path)
    np.testing.assert_array_equal(cloud.points_n3, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(cloud.colours_n3, [[255, 128, 0], [0, 0, 255]])


def test_pcd_header_is_pcl_style(tmp_path):
    path = write_cloud(tmp_path / 'c.pcd', _cloud(10, extras=False))
    header = path.read_bytes().split(b'DATA')[0].decode()
    assert 'FIELDS x y z rgb' in header and 'TYPE F F F F' in header


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match='unknown point-cloud format'):
        write_cloud(tmp_path / 'c.xyz', _cloud(5))
    with pytest.raises(FileNotFoundError):
        read_cloud(tmp_path / 'missing.ply')
    from plyfile import PlyData, PlyElement
    vertex = np.zeros(3, dtype=[('x', 'f4'), ('y', 'f4'), ('z', 'f4')])
    PlyData([PlyElement.describe(vertex, 'vertex')]).write(str(tmp_path / 'grey.ply'))
    with pytest.raises(ValueError, match='no colour'):
        read_cloud(tmp_path / 'grey.ply')
    with pytest.raises(ValueError, match='colours_n3'):
        ColoredCloud(np.zeros((3, 3)), np.zeros((2, 3), np.uint8))


def test_synth_exports_the_scan_in_the_world_frame(tmp_path):
    from pose_reloc.data.formats import load_dataset
    from pose_reloc.data.records import load_depth
    from pose_reloc.data.synthetic import generate_dataset
    root = generate_dataset(tmp_path / 'synth', preset='tiny', scenes=1, frames=6,
                            size=(64, 48), progress=False, export_cloud=True)
    scene = load_dataset(root)[0]
    cloud = read_cloud(root / scene.name / 'cloud.ply')
    assert len(cloud) > 1000 and cloud.normals_n3 is not None and cloud.radius_n is not None
    # The photos' depth back-projects onto the scan: both live in the same world frame.
    from pose_reloc.geometry.camera import depth_to_scene_coords
    from scipy.spatial import cKDTree
    frame = scene.frames[0]
    coords = depth_to_scene_coords(load_depth(frame), frame.camera, frame.T_world_cam)
    coords = coords[np.all(np.isfinite(coords), axis=-1)]
    dist, _ = cKDTree(cloud.points_n3).query(coords)
    assert np.median(dist) < 0.1
