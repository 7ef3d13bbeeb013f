# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The one input pipeline (``data.transforms.InputSpec``): parity, shapes, errors, values.

Parity: for apr, mspn and dense scr, a bundle is trained for one epoch on a tiny two-scene
posed folder (80x60 images, so that the spec resizes and, for APR, crops), and each held-out
frame goes through the training-time validation path (the trainer's own dataset builders,
fed the config the bundle recorded) and through the localizer's ``localize``; the tensor
the network receives (captured by a forward pre-hook) must be identical, bit for bit.
"""

import dataclasses
import json

import numpy as np
import pytest
import torch

from pose_reloc.core.bundle import BundleError, read_bundle_config
from pose_reloc.data import transforms as T
from pose_reloc.data.formats import load_dataset, PosedFolderWriter
from pose_reloc.data.records import load_image
from pose_reloc.data.transforms import InputSpec, InputSpecError
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.se3 import T_from_pos_quat
from pose_reloc.inference import load_localizer
from pose_reloc.training import apr, scr
from pose_reloc.training.config import config_from_dict, load_preset
from pose_reloc.training.loop import make_loader
from pose_reloc.training.registry import get_trainer

CAMERA = PinholeCamera(80, 60, 70.0, 72.0, 39.0, 31.0)
BIG = PinholeCamera(640, 480, 500.0, 510.0, 330.0, 235.0)
COMMON = ['optim.epochs=1', 'optim.max_minutes=0', 'optim.batch_size=4', 'run.progress=false',
          'run.device=cpu', 'data.val_frames=0', 'data.hue=0.05']
POSE_NETS = ['model.backbone=tiny', 'model.pretrained=none', 'model.fc_dim=16',
             'model.mc_samples=0', 'model.freeze_encoder=0', 'data.height=48', 'data.width=64',
             'data.resize=52', 'data.mean=[0.5, 0.4, 0.3]']


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """Two scenes of 12 noise images with flat depth; every 3rd frame is held out."""
    rng = np.random.default_rng(0)
    out = tmp_path_factory.mktemp('pipeline')
    for scene in ('a', 'b'):
        with PosedFolderWriter(out / scene, CAMERA, scene_name=scene) as writer:
            for i in range(12):
                image = rng.integers(0, 256, (CAMERA.height, CAMERA.width, 3), dtype=np.uint8)
                depth = np.full((CAMERA.height, CAMERA.width), 2.0 + 0.1 * i, np.float32)
                T_world_cam = T_from_pos_quat(rng.uniform(-1, 1, 3), np.array([0, 0, 0, 1.0]))
                writer.add(10 ** 9 * (i + 1), T_world_cam, image, depth,
                           split='test' if i % 3 == 2 else 'train')
    return out


def _train(method, preset, overrides, data, out):
    cfg = load_preset(preset, COMMON + overrides, method=method)
    return get_trainer(method)(cfg, data, out)


def _recorded_config(bundle):
    return config_from_dict(read_bundle_config(bundle)['training']['config'])


def _localize_inputs(localizer, module, images, camera=None):
    """Return the tensor ``module`` receives during ``localize`` of each image."""
    seen = []
    handle = module.register_forward_pre_hook(lambda _, args: seen.append(args[0].clone()))
    try:
        for image in images:
            localizer.localize(image, camera)
    finally:
        handle.remove()
    return seen


@pytest.mark.parametrize('method,preset,extra', [
    ('apr', 'posenet-cpu', ['data.scenes=[a]']),
    ('mspn', 'mspn-cpu', []),
])
def test_pose_regressor_validation_and_localize_give_identical_tensors(
        root, tmp_path, method, preset, extra):
    bundle = _train(method, preset, POSE_NETS + extra, root, tmp_path / method)
    cfg = _recorded_config(bundle)
    spec = apr.input_spec(cfg.data, cfg.model.backbone)
    # the bundle records the spec, and the localizer rebuilds the same one
    assert InputSpec.from_bundle(read_bundle_config(bundle), bundle) == spec
    assert (spec.resize, spec.height, spec.width, spec.mean) == (52, 48, 64, (0.5, 0.4, 0.3))
    data = apr.prepare_data(cfg, root, spec)
    batches = list(make_loader(data.val, cfg, train=False))
    val_inputs = torch.cat([batch['image'] for batch in batches])
    localizer = load_localizer(bundle, device='cpu')
    assert localizer.input_spec == spec
    seen = _localize_inputs(localizer, localizer.model.encoder,
                            [load_image(f) for f in data.val.frames])
    assert len(seen) == len(data.val.frames) == val_inputs.shape[0] > 0
    for index, tensor in enumerate(seen):
        assert tensor.shape == (1, 3, 48, 64) and tensor.dtype == torch.float32
        assert torch.equal(tensor[0], val_inputs[index]), data.val.frames[index].image_path
    # the training path differs from it (random crop, jitter) but has the same shape
    assert data.train[0]['image'].shape == (3, 48, 64)


def test_dense_scr_validation_and_localize_give_identical_tensors(root, tmp_path):
    bundle = _train('scr', 'scr-lite-cpu', ['data.resize=40', 'data.height=32',
                                            'data.width=48', 'data.scenes=[a]'],
                    root, tmp_path / 'scr')
    cfg = _recorded_config(bundle)
    frames = load_dataset(root / 'a')[0].split(cfg.data.val_split)
    spec, crop_hw = scr.input_spec(cfg.data, frames[0].camera)
    assert crop_hw == (32, 48)
    assert (spec.width, spec.height, spec.multiple, spec.crop) == (56, 40, 8, 'none')
    config = read_bundle_config(bundle)
    assert InputSpec.from_bundle(config, bundle) == spec and config['input']['crop'] == 'none'
    val_set = scr.SCRFrames(frames, spec, max_depth_spread=cfg.model.max_depth_spread)
    localizer = load_localizer(bundle, device='cpu')
    assert localizer.input_spec == spec
    images = [load_image(f) for f in frames]
    for camera in (None, CAMERA):
        seen = _localize_inputs(localizer, localizer.model, images, camera)
        assert len(seen) == len(frames) > 0
        for index, tensor in enumerate(seen):
            assert tensor.shape == (1, 3, 40, 56)
            assert torch.equal(tensor[0], val_set[index]['image']), frames[index].image_path
    # the camera handed to PnP is the validation sample's
    _, camera = localizer.preprocess(images[0])
    np.testing.assert_array_equal(camera.K.astype(np.float32), val_set[0]['K'].numpy())


def test_prepare_shapes_and_camera_follow():
    image = np.zeros((480, 640, 3), np.uint8)
    spec = InputSpec(200, 260, resize=240)
    out = spec.prepare(image, BIG)
    assert out['image'].shape == (3, 200, 260) and out['image'].dtype == torch.float32
    assert (out['camera'].width, out['camera'].height) == (260, 200)
    assert spec.prepare(image)['camera'] is None  # no camera: nothing to update
    whole = InputSpec(64, 80, resize=60, multiple=8, crop='none')
    assert whole.prepare(image, BIG)['image'].shape == (3, 64, 80)
    assert whole.prepare(np.zeros((480, 480, 3), np.uint8))['image'].shape == (3, 64, 64)
    straight = InputSpec(48, 64)  # resize 0: straight to height x width, any aspect
    assert straight.prepare(np.zeros((100, 30, 3), np.uint8))['image'].shape == (3, 48, 64)
    train = spec.train_steps((100, 120), (0.2, 0.2, 0.2, 0.05))
    sample = train(T.Resize(spec)({'image': image, 'camera': BIG,
                                   'depth': np.ones((480, 640), np.float32)}))
    assert sample['image'].shape == (3, 100, 120) and sample['depth'].shape == (100, 120)
    assert (sample['camera'].width, sample['camera'].height) == (120, 100)


def test_bad_input_raises_naming_the_problem():
    spec = InputSpec(48, 64, resize=52)
    with pytest.raises(ValueError, match=r'uint8 RGB image, got shape \(60, 80, 3\) dtype '
                                         r'float32'):
        spec.prepare(np.zeros((60, 80, 3), np.float32))
    with pytest.raises(ValueError, match=r'got shape \(60, 80\)'):
        spec.prepare(np.zeros((60, 80), np.uint8))
    with pytest.raises(ValueError, match='image is 80x60 .* camera is 640x480'):
        spec.prepare(np.zeros((60, 80, 3), np.uint8), BIG)
    # a square image resized to a shorter side of 52 cannot give a 64-wide crop: refused
    # (neither stretched nor padded), naming both sizes
    with pytest.raises(ValueError, match=r'image of 60x60 resized to 52x52 \(shorter side '
                                         r'52\) is smaller than the 64x48 crop'):
        spec.prepare(np.zeros((60, 60, 3), np.uint8))
    for fields, field in (({'height': 0}, 'height'), ({'resize': -1}, 'resize'),
                          ({'multiple': 0}, 'multiple'), ({'crop': 'random'}, 'crop'),
                          ({'color': 'rgba'}, 'color'), ({'mean': (0.5, 0.5)}, 'mean'),
                          ({'std': (0.2, 0.0, 0.2)}, 'std'),
                          ({'value_range': (1.0, 0.0)}, 'value_range'),
                          ({'interpolation': 'cubic'}, 'interpolation'),
                          ({'width': 64.0}, 'width')):
        with pytest.raises(InputSpecError, match=f'^input spec: "{field}"') as info:
            InputSpec(**{'height': 48, 'width': 64, **fields})
        assert info.value.field == field
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.resize = 10


def test_known_values_K_after_resize_and_crop():
    spec = InputSpec(200, 260, resize=240)
    out = spec.prepare(np.zeros((480, 640, 3), np.uint8), BIG)
    camera = out['camera']
    # 640x480 -> 320x240 (scale 1/2, pixel-centre aware), then the centre crop at (30, 20)
    assert (camera.fx, camera.fy) == (250.0, 255.0)
    assert camera.cx == pytest.approx((330.0 + 0.5) / 2 - 0.5 - 30)
    assert camera.cy == pytest.approx((235.0 + 0.5) / 2 - 0.5 - 20)
    # sides rounded to multiples of 8: 640x480 at a shorter side of 60 -> 80x64 (not 80x60)
    rounded = InputSpec(64, 80, resize=60, multiple=8, crop='none')
    assert rounded.resized_size(640, 480) == (80, 64)
    camera = rounded.prepare(np.zeros((480, 640, 3), np.uint8), BIG)['camera']
    assert camera.fx == pytest.approx(500.0 / 8) and camera.fy == pytest.approx(510.0 * 64 / 480)
    assert T.shorter_side_size(100, 50, 24, multiple=8) == (48, 24)


def test_known_values_normalization_colour_order_and_range():
    image = np.zeros((2, 3, 3), np.uint8)
    image[..., 0] = 255  # red
    rgb = InputSpec(2, 3, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)).prepare(image)['image']
    np.testing.assert_array_equal(rgb[:, 0, 0].numpy(), [1.0, -1.0, -1.0])
    caffe = InputSpec(2, 3, mean=(10.0, 20.0, 30.0), std=(1.0, 1.0, 1.0), color='bgr',
                      value_range=(0.0, 255.0)).prepare(image)['image']
    np.testing.assert_allclose(caffe[:, 0, 0].numpy(), [-10.0, -20.0, 225.0], rtol=1e-6)
    # ImageNet default: (x / 255 - mean) / std, the arithmetic of every earlier copy
    x = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    expected = (torch.from_numpy(x).permute(2, 0, 1).float() / 255.0
                - torch.tensor(T.IMAGENET_MEAN).view(3, 1, 1)) / \
        torch.tensor(T.IMAGENET_STD).view(3, 1, 1)
    assert torch.equal(InputSpec(4, 5).prepare(x)['image'], expected)


def test_jitter_is_deterministic_under_a_seeded_generator():
    image = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    sample = {'image': image, 'camera': CAMERA.resized(40, 30)}

    def run(seed):
        steps = InputSpec(24, 32).train_steps((24, 32), (0.4, 0.4, 0.4, 0.1),
                                              torch.Generator().manual_seed(seed))
        return [steps(sample) for _ in range(3)]

    first, again, other = run(0), run(0), run(1)
    for a, b in zip(first, again):
        assert torch.equal(a['image'], b['image']) and a['camera'] == b['camera']
    assert not torch.equal(first[0]['image'], first[1]['image'])  # it does vary
    assert not all(torch.equal(a['image'], b['image']) for a, b in zip(first, other))
    # the global generator, as the training loop re-seeds it every epoch
    jitter = T.ColorJitter(0.4, 0.4, 0.4, 0.1)
    torch.manual_seed(5)
    a = jitter(sample)['image']
    torch.manual_seed(5)
    assert np.array_equal(a, jitter(sample)['image']) and a.dtype == np.uint8


def test_bundle_section_round_trip_and_old_sections(tmp_path):
    spec = InputSpec(40, 56, resize=40, multiple=8, crop='none', mean=(0.1, 0.2, 0.3),
                     std=(0.4, 0.5, 0.6), color='bgr', value_range=(0.0, 255.0))
    section = json.loads(json.dumps(spec.to_json()))
    assert section['range'] == [0.0, 255.0] and 'value_range' not in section
    assert InputSpec.from_bundle({'input': section}, tmp_path) == spec
    # an APR / MSPN section written before the spec: the defaults are what it meant
    old_apr = {'height': 48, 'width': 64, 'resize': 52, 'mean': [0.5] * 3, 'std': [0.2] * 3,
               'color': 'rgb', 'range': [0, 1]}
    assert InputSpec.from_bundle({'input': old_apr}, tmp_path) == InputSpec(
        48, 64, resize=52, mean=(0.5,) * 3, std=(0.2,) * 3)
    # a dense SCR section of before: the localizer's legacy reading (short_side ignored)
    from pose_reloc.inference.scr import scr_input_spec
    old_scr = {'height': 40, 'width': 56, 'mean': [0.5] * 3, 'std': [0.2] * 3, 'short_side': 40}
    assert scr_input_spec({'input': old_scr}, tmp_path) == InputSpec(
        40, 56, resize=40, multiple=8, crop='none', mean=(0.5,) * 3, std=(0.2,) * 3,
        interpolation='area')
    # ... but a section that has the spec's keys is read as written
    assert scr_input_spec({'input': section}, tmp_path) == spec
    where = str(tmp_path / 'config.json')
    for broken, key in (({**section, 'crop': 'middle'}, 'input.crop'),
                        ({**section, 'range': [1, 0]}, 'input.range'),
                        ({k: v for k, v in section.items() if k != 'std'}, 'input.std')):
        with pytest.raises(BundleError, match=f'"{key}"') as info:
            InputSpec.from_bundle({'input': broken}, tmp_path)
        assert str(info.value).startswith(where) and '\n' not in str(info.value)
    with pytest.raises(BundleError, match='missing key "input"'):
        InputSpec.from_bundle({}, tmp_path)
