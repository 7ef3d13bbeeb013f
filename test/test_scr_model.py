# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of the SCR network, its cell grid and the scene coordinate targets."""

import numpy as np
import pytest
import torch

from pose_reloc.geometry.camera import depth_to_scene_coords, PinholeCamera
from pose_reloc.models.scr import cell_centres, network_size, OUTPUT_STRIDE, SCRNet
from pose_reloc.training.scr import coordinate_loss, reprojection_loss, \
    scene_coordinate_targets, SCRModelConfig


@pytest.mark.parametrize('trunk', ['resnet18', 'resnet18_layer2', 'lite'])
def test_output_stride_8_and_shapes(trunk):
    net = SCRNet(trunk, head_channels=(32, 16), coord_mean=(1.0, -2.0, 3.0)).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 48, 64))
        odd = net(torch.randn(1, 3, 50, 70))
    assert out.shape == (2, 3, 6, 8)
    assert odd.shape == (1, 3, 7, 9)
    assert net.output_stride == OUTPUT_STRIDE == 8
    # the buffer is part of the state (saved in the bundle) and offsets the prediction
    assert torch.equal(net.state_dict()['coord_mean'], torch.tensor([1.0, -2.0, 3.0]))
    torch.nn.init.zeros_(net.head[-1].weight)
    torch.nn.init.zeros_(net.head[-1].bias)
    with torch.no_grad():
        centred = net(torch.randn(1, 3, 16, 16))
    assert torch.allclose(centred[0, :, 0, 0], torch.tensor([1.0, -2.0, 3.0]))


def test_dance_trunk_is_dilated_not_strided():
    net = SCRNet('resnet18')
    layer3, layer4 = net.trunk[6], net.trunk[7]
    assert layer3[0].conv1.stride == (1, 1) and layer4[0].conv1.stride == (1, 1)
    assert layer3[0].downsample[0].stride == (1, 1)
    assert layer3[1].conv2.dilation == (2, 2) and layer4[1].conv2.dilation == (4, 4)
    assert layer4[0].conv1.dilation == (2, 2)


def test_bad_input_raises():
    with pytest.raises(ValueError, match='trunk'):
        SCRNet('vgg')
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        SCRNet('resnet18_layer2')(torch.zeros(1, 1, 16, 16))


def test_cell_centres_are_pixel_centres_of_8x8_blocks():
    uv = cell_centres(2, 3)
    assert uv.shape == (2, 3, 2)
    np.testing.assert_allclose(uv[0, 0], [3.5, 3.5])
    np.testing.assert_allclose(uv[1, 2], [19.5, 11.5])


def test_targets_match_the_per_pixel_scene_coordinates():
    camera = PinholeCamera(32, 16, 30.0, 28.0, 15.2, 8.1)
    T_world_cam = np.eye(4)
    T_world_cam[:3, 3] = [1.0, 2.0, 3.0]
    depth = np.full((16, 32), 2.0, dtype=np.float32)
    depth[:8, :8] = 0.0                       # invalid corner
    depth[8:, 24:] = np.linspace(2.0, 4.0, 8)  # a steep slope: the 2x2 spread check fires
    coords = scene_coordinate_targets(depth, camera, T_world_cam, max_depth_spread=0.05)
    assert coords.shape == (2, 4, 3)
    assert np.all(np.isnan(coords[0, 0])) and np.all(np.isnan(coords[1, 3]))
    # on the plane, the cell target is the point seen at pixel (8j + 3.5, 8i + 3.5)
    per_pixel = depth_to_scene_coords(np.full((16, 32), 2.0), camera, T_world_cam)
    expected = 0.5 * (per_pixel[11, 11] + per_pixel[12, 12])
    np.testing.assert_allclose(coords[1, 1], expected, atol=1e-9)


def test_network_size_keeps_aspect_in_multiples_of_8():
    camera = PinholeCamera(640, 480, 500.0, 500.0, 320.0, 240.0)
    assert network_size(camera, 96) == (128, 96)
    assert network_size(PinholeCamera(100, 50, 50.0, 50.0, 50.0, 25.0), 24) == (48, 24)


def _batch(camera, T_world_cam, depth):
    coords = scene_coordinate_targets(depth, camera, T_world_cam)
    valid = np.all(np.isfinite(coords), axis=-1)
    return {
        'coords': torch.from_numpy(np.nan_to_num(coords).transpose(2, 0, 1)[None]).float(),
        'valid': torch.from_numpy(valid[None]),
        'uv': torch.from_numpy(cell_centres(*valid.shape)[None]).float(),
        'K': torch.from_numpy(camera.K[None]).float(),
        'T_world_cam': torch.from_numpy(T_world_cam[None]).float(),
    }, coords


def test_reprojection_loss_is_zero_at_the_truth_and_falls_back_when_behind():
    camera = PinholeCamera(32, 16, 30.0, 28.0, 15.5, 7.5)
    T_world_cam = np.eye(4)
    T_world_cam[:3, 3] = [0.5, -0.2, 1.0]
    depth = np.full((16, 32), 2.0, dtype=np.float32)
    depth[:, :8] = 0.0  # no depth in the first column of cells
    batch, coords = _batch(camera, T_world_cam, depth)
    cfg = SCRModelConfig(reproj_soft_clamp_px=5.0, reproj_max_px=50.0)
    # truth where depth exists; the first column gets exact points at another depth: the
    # reprojection loss does not need depth, it is zero there too
    truth = depth_to_scene_coords(np.full((16, 32), 3.0), camera, T_world_cam)
    exact = np.where(np.isfinite(coords), coords, 0.0)
    exact[:, 0] = 0.5 * (truth[3, 3] + truth[4, 4])
    exact[1, 0] = 0.5 * (truth[11, 3] + truth[12, 4])
    pred = torch.from_numpy(exact.transpose(2, 0, 1)[None]).float().requires_grad_(True)
    loss, logs = reprojection_loss(pred, batch, cfg, heuristic_depth_m=2.0)
    assert loss.item() < 1e-3 and logs['reproj_valid'] == 1.0
    # a prediction behind the camera uses the 3-D fallback: distance to the depth target
    behind = pred.detach().clone()
    behind[0, 2, 1, 2] -= 10.0                       # z_world = z_cam here: 10 m behind
    loss, logs = reprojection_loss(behind.requires_grad_(True), batch, cfg, 2.0)
    assert logs['reproj_valid'] == pytest.approx(7 / 8)
    assert loss.item() == pytest.approx(10.0 / 8, rel=1e-4)
    loss.backward()
    assert torch.isfinite(behind.grad).all()
    # far-off reprojections are soft-clamped: sqrt(tau * e) grows slower than e
    shifted = pred.detach().clone()
    shifted[0, 0, 0, 3] += 0.5                       # ~7.5 px at 2 m with fx = 30
    loss, _ = reprojection_loss(shifted, batch, cfg, 2.0)
    error_px = 30.0 * 0.5 / 2.0
    assert loss.item() == pytest.approx(np.sqrt(5.0 * error_px) / 8, rel=0.05)
    assert coordinate_loss(pred, batch['coords'], batch['valid']).item() < 1e-5
