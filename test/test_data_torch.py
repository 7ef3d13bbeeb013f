# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of the image transforms (intrinsics kept in step) and the torch PoseDataset."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pose_reloc.data import transforms as T
from pose_reloc.data.formats import load_dataset
from pose_reloc.data.records import load_depth, load_image
from pose_reloc.data.torch_dataset import PoseDataset, scene_id_map
from pose_reloc.geometry.camera import PinholeCamera

CAMERA = PinholeCamera(640, 480, 500.0, 510.0, 330.0, 235.0)
POINTS_CAM = np.array([[0.3, -0.2, 2.0], [-0.4, 0.25, 3.0], [0.05, 0.1, 1.5]])


def _dot_image(camera, points_cam):
    """Black image with a bright 9x9 square at each projected point; and their pixels."""
    uv, _ = camera.project(points_cam)
    image = np.zeros((camera.height, camera.width, 3), np.uint8)
    for u, v in np.round(uv).astype(int):
        image[v - 4:v + 5, u - 4:u + 5] = 255
    return image, np.round(uv)


def _centroids(image, uv_guess):
    grey = image.astype(np.float64).mean(axis=2)
    out = []
    for u, v in uv_guess:
        u0, v0 = int(round(u)), int(round(v))
        win = grey[max(v0 - 12, 0):v0 + 13, max(u0 - 12, 0):u0 + 13]
        ys, xs = np.mgrid[max(v0 - 12, 0):max(v0 - 12, 0) + win.shape[0],
                          max(u0 - 12, 0):max(u0 - 12, 0) + win.shape[1]]
        out.append([(xs * win).sum() / win.sum(), (ys * win).sum() / win.sum()])
    return np.array(out)


def test_geometric_transforms_keep_pixels_and_intrinsics_in_step():
    image, uv = _dot_image(CAMERA, POINTS_CAM)
    depth = np.full((480, 640), 2.0, np.float32)
    sample = {'image': image, 'camera': CAMERA, 'depth': depth}
    pipeline = T.Compose([T.ResizeShorter(240), T.RandomCrop(200, 260, torch.Generator()
                                                             .manual_seed(3))])
    out = pipeline(sample)
    camera = out['camera']
    assert out['image'].shape == (200, 260, 3) and (camera.width, camera.height) == (260, 200)
    assert out['depth'].shape == (200, 260)
    uv_expected, _ = camera.project(POINTS_CAM)
    # The dots sit where the updated camera projects the 3D points (no flip, no rotation).
    np.testing.assert_allclose(_centroids(out['image'], uv_expected), uv_expected, atol=0.6)
    assert camera.fx == pytest.approx(250.0) and camera.fy == pytest.approx(255.0)
    assert CAMERA.fx == 500.0  # the input camera is not modified


def test_center_crop_and_resize_values():
    image = np.arange(480 * 640 * 3, dtype=np.uint32).reshape(480, 640, 3).astype(np.uint8)
    out = T.CenterCrop(100, 200)({'image': image, 'camera': CAMERA})
    np.testing.assert_array_equal(out['image'], image[190:290, 220:420])
    assert (out['camera'].cx, out['camera'].cy) == (330.0 - 220, 235.0 - 190)
    small, cam, depth = T.resize_shorter(image, CAMERA, 120)
    assert small.shape == (120, 160, 3) and (cam.width, cam.height) == (160, 120)
    assert depth is None
    assert cam.cx == pytest.approx((330.0 + 0.5) / 4 - 0.5)
    with pytest.raises(ValueError, match=r'^RandomCrop: 100x500 crop does not fit in the '
                                         r'640x480 image$'):
        T.RandomCrop(500, 100)({'image': image, 'camera': CAMERA})
    with pytest.raises(ValueError, match=r'^CenterCrop: 700x100 crop does not fit'):
        T.CenterCrop(100, 700)({'image': image, 'camera': CAMERA})
    assert repr(T.CenterCrop(100, 200)) == 'CenterCrop(100, 200)'
    assert repr(T.RandomCrop(50, 60)) == 'RandomCrop(50, 60)'
    with pytest.raises(ValueError, match='image is 640x480 .* camera is 320x240'):
        T.resize_shorter(image, CAMERA.resized(320, 240), 100)


def test_depth_resize_never_blends_invalid():
    depth = np.zeros((480, 640), np.float32)
    depth[:, ::2] = 3.0
    _, _, small = T.resize_shorter(np.zeros((480, 640, 3), np.uint8), CAMERA, 240, depth)
    assert set(np.unique(small)) <= {0.0, 3.0}


def test_depth_resize_follows_pixel_centres():
    # Depth = source column / row index; after resizing, each pixel must hold the source
    # pixel under its centre: src = (dst + 0.5) * scale - 0.5, within half a pixel.
    rows, cols = np.mgrid[0:480, 0:640].astype(np.float32)
    for depth, axis in ((cols, 1), (rows, 0)):
        _, cam, small = T.resize_shorter(np.zeros((480, 640, 3), np.uint8), CAMERA, 256, depth)
        scale = 640 / cam.width if axis == 1 else 480 / cam.height
        dst = np.arange(small.shape[axis], dtype=np.float64)
        src = np.take(small, 0, axis=1 - axis)
        assert np.abs(src - ((dst + 0.5) * scale - 0.5)).max() <= 0.5 + 1e-9


def test_random_crop_is_reproducible_and_varies():
    image = np.zeros((480, 640, 3), np.uint8)
    crops = [T.RandomCrop(224, 224, torch.Generator().manual_seed(0))(
        {'image': image, 'camera': CAMERA})['camera'].cx for _ in range(2)]
    assert crops[0] == crops[1]
    gen = torch.Generator().manual_seed(0)
    many = {T.RandomCrop(224, 224, gen)({'image': image, 'camera': CAMERA})['camera'].cx
            for _ in range(10)}
    assert len(many) > 5


def test_photometric_functions():
    rng = np.random.default_rng(0)
    image = rng.integers(20, 200, size=(16, 16, 3), dtype=np.uint8)
    np.testing.assert_array_equal(T.adjust_photometric(image), image)
    half = T.adjust_photometric(image, brightness=0.5)
    np.testing.assert_allclose(half, np.round(image * 0.5), atol=1)
    grey = T.adjust_photometric(image, saturation=0.0)
    assert np.abs(grey[..., 0].astype(int) - grey[..., 2]).max() <= 1
    flat = T.adjust_photometric(image, contrast=0.0)
    assert flat.std() < 1.0
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200
    green = T.adjust_photometric(red, hue=1 / 3)  # +120 deg: red -> green
    assert green[0, 0, 1] > 190 and green[0, 0, 0] < 10


def test_color_jitter_leaves_geometry():
    image = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    depth = np.ones((48, 64), np.float32)
    camera = CAMERA.resized(64, 48)
    jitter = T.ColorJitter(0.4, 0.4, 0.4, 0.1, generator=torch.Generator().manual_seed(0))
    out = jitter({'image': image, 'camera': camera, 'depth': depth})
    assert out['camera'] is camera and out['depth'] is depth
    assert out['image'].shape == image.shape and not np.array_equal(out['image'], image)
    with pytest.raises(ValueError, match='hue'):
        T.ColorJitter(hue=0.7)


def test_to_tensor_normalization():
    image = np.full((2, 3, 3), 255, np.uint8)
    tensor = T.to_tensor(image)
    assert tensor.shape == (3, 2, 3) and tensor.dtype == torch.float32
    expected = (1.0 - np.array(T.IMAGENET_MEAN)) / np.array(T.IMAGENET_STD)
    np.testing.assert_allclose(tensor[:, 0, 0].numpy(), expected, rtol=1e-6)


@pytest.fixture(scope='module')
def stairs(shared_data):
    return load_dataset(shared_data / '7scenes_sample')[0]


def test_pose_dataset_items(stairs):
    frames = stairs.split('train')
    dataset = PoseDataset(frames, T.eval_transform(resize=120, crop_hw=(96, 128)),
                          with_depth=True, scene_ids=['other', 'stairs'])
    assert len(dataset) == len(frames)
    item = dataset[1]
    assert set(item) == {'image', 'T_world_cam', 'scene_id', 'K', 'depth', 'index'}
    assert item['image'].shape == (3, 96, 128) and item['image'].dtype == torch.float32
    assert item['depth'].shape == (96, 128) and item['depth'].dtype == torch.float32
    assert item['scene_id'] == 1 and item['index'] == 1
    np.testing.assert_allclose(item['T_world_cam'].numpy(), frames[1].T_world_cam, atol=1e-6)
    # K follows the resize (640x480 -> 160x120) and the centre crop (16 px each side).
    assert item['K'][0, 0].item() == pytest.approx(585.0 / 4)
    assert item['K'][0, 2].item() == pytest.approx((320.0 + 0.5) / 4 - 0.5 - 16)
    # Depth: the source pixel under each target pixel centre, (dst + 0.5) * 4 - 0.5 ->
    # pixel 4 i + 2 (the lower-right of the two nearest), then the centre crop.
    full_depth = load_depth(frames[1])
    np.testing.assert_array_equal(item['depth'].numpy(), full_depth[2::4, 2::4][12:108, 16:144])
    batch = next(iter(DataLoader(dataset, batch_size=3)))
    assert batch['image'].shape == (3, 3, 96, 128) and batch['K'].shape == (3, 3, 3)
    assert batch['scene_id'].tolist() == [1, 1, 1]


def test_pose_dataset_default_transform_and_ids(stairs):
    dataset = PoseDataset(stairs.frames[:2])
    item = dataset[0]
    assert item['image'].shape == (3, 480, 640) and 'depth' not in item
    expected = T.to_tensor(load_image(stairs.frames[0]))
    assert torch.equal(item['image'], expected)
    assert dataset.scene_ids == {'stairs': 0}
    assert scene_id_map(stairs.frames, {'stairs': 4}) == {'stairs': 4}
    with pytest.raises(ValueError, match=r"scenes \['stairs'\] .* not in the scene list"):
        PoseDataset(stairs.frames, scene_ids=['kitchen'])


def test_train_transform_runs_on_dataset(stairs):
    torch.manual_seed(0)
    dataset = PoseDataset(stairs.frames[:2], T.train_transform(resize=64, crop_hw=(48, 48)))
    a, b = dataset[0]['image'], dataset[0]['image']
    assert a.shape == (3, 48, 48) and not torch.equal(a, b)  # random crop + jitter
