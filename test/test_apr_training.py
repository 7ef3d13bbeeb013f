# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""APR / MSPN training, bundles, resume, evaluation and the train/eval CLI (CPU, ~1 min).

The scenes are tiny and made here: a camera translating over a textured plane whose
colour ramps encode the position (red ~ x, green ~ y) and whose blue level names the
scene, 32x48 images, so that a 40 k-parameter CNN learns them in seconds.
"""

import dataclasses
import json
import os

import numpy as np
import pytest
import torch

from pose_reloc.cli import main as cli_main
from pose_reloc.core.bundle import BundleError, read_bundle, save_bundle
from pose_reloc.data.formats import load_dataset
from pose_reloc.data.formats.posed_folder import PosedFolderWriter
from pose_reloc.data.tum import read_tum_ns
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.geometry.se3 import T_from_pos_quat
from pose_reloc.inference import load_localizer
from pose_reloc.inference.apr import APRLocalizer, build_model_from_bundle
from pose_reloc.inference.baselines import MeanPoseLocalizer
from pose_reloc.inference.evaluate import evaluate
from pose_reloc.models.apr import PoseRegressor
from pose_reloc.training.config import load_preset, with_overrides
from pose_reloc.training.registry import get_trainer

H, W = 32, 48
TINY = ['model.backbone=tiny', 'model.pretrained=none', 'model.fc_dim=32',
        'model.dropout=0.1', 'model.mc_samples=0', f'data.height={H}', f'data.width={W}',
        'data.resize=0', 'data.val_frames=8', 'optim.lr=3e-3', 'optim.batch_size=16',
        'optim.max_minutes=0', 'run.progress=false', 'run.device=cpu',
        # the colours encode the position here, so no photometric jitter
        'data.brightness=0', 'data.contrast=0', 'data.saturation=0',
        # equal initial weights: with s_q = -3 the rotation term dominates 90 short steps
        'model.s_q=0', 'model.freeze_encoder=0']


def _write_plane_scene(path, name, blue, frames=64, seed=0, T_world_local=None):
    """Write a camera over a colour-ramp plane; ``T_world_local`` moves the scene's frame."""
    T_world_local = np.eye(4) if T_world_local is None else T_world_local
    rng = np.random.default_rng(seed)
    tex = 256
    u, v = np.meshgrid(np.linspace(0, 1, tex), np.linspace(0, 1, tex))
    texture = np.stack([40 + 180 * u, 40 + 180 * v, np.full_like(u, blue)], axis=2)
    texture += rng.normal(0, 8, size=texture.shape)
    texture = texture.clip(0, 255).astype(np.uint8)
    camera = PinholeCamera(W, H, 40.0, 40.0, W / 2, H / 2)
    with PosedFolderWriter(path, camera, scene_name=name) as writer:
        for i in range(frames):
            x, y = rng.uniform(-1, 1, size=2)
            yaw = 0.3 * x  # the view turns with x (visible only through the position)
            q = np.array([0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)])
            T = T_world_local @ T_from_pos_quat(np.array([x, y, 0.1 * rng.normal()]), q)
            r0 = int((y + 1) / 2 * (tex - H - 1))
            c0 = int((x + 1) / 2 * (tex - W - 1))
            writer.add(1_000_000 * (i + 1), T, texture[r0:r0 + H, c0:c0 + W],
                       split='test' if i % 4 == 3 else 'train', sequence='seq0')
    return path


@pytest.fixture(scope='module')
def planes(tmp_path_factory):
    root = tmp_path_factory.mktemp('planes')
    _write_plane_scene(root / 'blue', 'blue', blue=220, seed=1)
    _write_plane_scene(root / 'dark', 'dark', blue=20, seed=2)
    return root


@pytest.fixture(scope='module')
def apr_bundle(planes, tmp_path_factory):
    cfg = load_preset('posenet-cpu', TINY + ['optim.epochs=30', 'data.scenes=[blue]'])
    out = tmp_path_factory.mktemp('apr') / 'blue_apr'
    return get_trainer('apr')(cfg, planes, out)


@pytest.fixture(scope='module')
def mspn_bundle(planes, tmp_path_factory):
    cfg = load_preset('mspn-cpu', TINY + ['optim.epochs=25'])
    out = tmp_path_factory.mktemp('mspn') / 'planes_mspn'
    return get_trainer('mspn')(cfg, planes, out)


def test_presets_load_override_and_stay_frozen():
    base = load_preset('posenet')
    assert (base.model.backbone, base.optim.lr, base.optim.batch_size) == ('resnet34', 1e-4, 64)
    assert (base.data.resize, base.data.height, base.data.width) == (256, 224, 224)
    assert load_preset('mspn').optim.epochs == 100
    assert load_preset('mapnet').model.rotation == 'logq'
    changed = with_overrides(base, ['optim.lr=3e-4', 'data.scenes=[a, b]'])
    assert changed.optim.lr == 3e-4 and changed.data.scenes == ('a', 'b')
    assert base.optim.lr == 1e-4 and load_preset('posenet').optim.lr == 1e-4
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.optim.lr = 1.0
    with pytest.raises(ValueError, match='unknown key'):
        load_preset('posenet', ['optim.learning_rate=1'])
    with pytest.raises(ValueError, match='expected a number'):
        load_preset('posenet', ['optim.lr=fast'])
    with pytest.raises(ValueError, match="for method 'apr'"):
        load_preset('posenet', method='mspn')
    with pytest.raises(FileNotFoundError, match='posenet-cpu'):
        load_preset('no-such-preset')


def test_apr_beats_mean_pose_on_held_out_frames(apr_bundle, planes, tmp_path):
    report = evaluate(apr_bundle, planes / 'blue', progress=False,
                      json_out=tmp_path / 'r.json', tum_out=tmp_path / 'pred.txt',
                      plot_out=tmp_path / 'traj.png')
    train = load_dataset(planes / 'blue')[0].split('train')
    baseline = evaluate(MeanPoseLocalizer({'blue': train}), planes / 'blue', progress=False)
    assert report['frames'] == baseline['frames'] == 16
    assert report['median_translation_m'] < 0.5 * baseline['median_translation_m']
    for key in ('frames', 'median_translation_m', 'median_rotation_deg', 'mean_translation_m',
                'p95_translation_m', 'max_rotation_deg', 'rate_50cm_5deg', 'failures',
                'failure_rate', 'latency_ms', 'timings_ms', 'per_scene', 'per_frame'):
        assert key in report, key
    assert set(report['per_scene']) == {'blue'}
    assert report['per_scene']['blue']['median_translation_m'] == pytest.approx(
        report['median_translation_m'])
    on_disk = json.loads((tmp_path / 'r.json').read_text())
    assert on_disk['frames'] == 16 and 'median_rotation_deg' in on_disk['per_scene']['blue']
    stamps_ns, poses = read_tum_ns(tmp_path / 'pred.txt')
    assert stamps_ns.tolist() == [r['timestamp_ns'] for r in report['per_frame']]
    np.testing.assert_allclose(poses, [r['T_est'] for r in report['per_frame']], atol=1e-6)
    assert (tmp_path / 'traj.png').stat().st_size > 1000
    log = (apr_bundle.parent / 'blue_apr.work' / 'log.csv').read_text().splitlines()
    assert log[0].startswith('epoch,train_loss') and len(log) == 31
    assert 'val_median_translation_m' in log[0]


def test_bundle_round_trip_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = PoseRegressor('tiny', None, fc_dim=16, dropout=0.3, rotation='logq').eval()
    meta = {'scenes': [{'name': 's', 'translation_mean': [0, 0, 0], 'translation_scale': 1.0,
                        'coord_mean': None, 'camera': None}],
            'input': {'height': H, 'width': W, 'resize': 0, 'mean': [0.5] * 3,
                      'std': [0.25] * 3}}
    path = save_bundle(tmp_path / 'b', 'apr', model.architecture, model.state_dict(), meta)
    assert sorted(p.name for p in path.iterdir()) == ['config.json', 'model.safetensors']
    config, loaded = build_model_from_bundle(path)
    assert config['pose_convention'] == 'T_world_cam, opencv-optical, quat xyzw'
    x = torch.randn(3, 3, H, W)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.equal(a['t'], b['t']) and torch.equal(a['rot'], b['rot'])
    loc = APRLocalizer(path, device='cpu', mc_samples=0)
    image = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    e1, e2 = loc.localize(image), loc.localize(image)
    assert e1.ok and np.array_equal(e1.T_world_cam, e2.T_world_cam)
    assert e1.covariance is None


def test_loading_refuses_pickle_and_foreign_bundles(apr_bundle, mspn_bundle, tmp_path):
    pickled = tmp_path / 'model.pt'
    torch.save({'w': torch.zeros(2)}, pickled)
    with pytest.raises(BundleError, match='pickle'):
        load_localizer(pickled)
    folder = tmp_path / 'legacy'
    folder.mkdir()
    torch.save({'w': torch.zeros(2)}, folder / 'model.pth')
    with pytest.raises(BundleError, match='pickle'):
        load_localizer(folder)
    # a safetensors name holding a torch.save zip is refused before parsing
    fake = tmp_path / 'fake'
    fake.mkdir()
    (fake / 'config.json').write_text((apr_bundle / 'config.json').read_text())
    torch.save({'w': torch.zeros(2)}, fake / 'model.safetensors')
    with pytest.raises(BundleError, match='pickle'):
        load_localizer(fake)
    with pytest.raises(BundleError, match="holds a 'mspn' model"):
        read_bundle(mspn_bundle, methods=('apr',))
    # an architecture this method does not know
    other = tmp_path / 'other'
    config, state = read_bundle(apr_bundle)
    arch = dict(config['architecture'], name='SCRNet')
    save_bundle(other, 'apr', arch, state,
                {'scenes': config['scenes'], 'input': config['input']})
    with pytest.raises(BundleError, match="expects architecture .*got 'SCRNet'"):
        load_localizer(other)
    # the right name but different shapes (fc_dim)
    wrong = tmp_path / 'wrong'
    save_bundle(wrong, 'apr', dict(config['architecture'], fc_dim=64), state,
                {'scenes': config['scenes'], 'input': config['input']})
    with pytest.raises(BundleError, match='does not match|shape'):
        load_localizer(wrong)
    with pytest.raises(BundleError, match='does not exist'):
        load_localizer(tmp_path / 'missing')


def test_safetensors_whose_header_length_starts_like_pickle_loads(tmp_path):
    """A safetensors header length with low byte 0x80 is not mistaken for pickle."""
    from safetensors.torch import save_file
    model = PoseRegressor('tiny', None, fc_dim=0, dropout=0.0)
    meta = {'scenes': [], 'input': {'height': H, 'width': W, 'resize': 0,
                                    'mean': [0.5] * 3, 'std': [0.25] * 3}}
    path = save_bundle(tmp_path / 'b', 'apr', model.architecture, model.state_dict(), meta)
    weights = path / 'model.safetensors'
    state = {'w': torch.zeros(2)}
    for pad in range(1000):
        save_file(state, str(weights), metadata={'pad': 'x' * pad})
        head = weights.read_bytes()[:2]
        if head[0] == 0x80 and head[1] in (2, 3, 4, 5):
            break
    assert head[0] == 0x80  # the case that was once refused as pickle
    _, loaded = read_bundle(path)
    assert set(loaded) == set(state)


def test_resume_continues_from_checkpoint(planes, tmp_path):
    cfg = load_preset('posenet-cpu', TINY + ['optim.epochs=2', 'data.scenes=[dark]'])
    out = tmp_path / 'dark'
    get_trainer('apr')(cfg, planes, out)
    ckpt = tmp_path / 'dark.work' / 'checkpoint.pt'
    assert torch.load(ckpt, weights_only=True)['epoch'] == 2
    longer = with_overrides(cfg, ['optim.epochs=3'])
    get_trainer('apr')(longer, planes, out, resume=True)
    state = torch.load(ckpt, weights_only=True)
    assert state['epoch'] == 3 and [r['epoch'] for r in state['history']] == [1, 2, 3]
    assert len((tmp_path / 'dark.work' / 'log.csv').read_text().splitlines()) == 4
    config, _ = read_bundle(out)
    assert config['training']['epochs_completed'] == 3
    other = with_overrides(cfg, ['model.fc_dim=8', 'optim.epochs=3'])
    with pytest.raises(ValueError, match='cannot resume'):
        get_trainer('apr')(other, planes, out, resume=True)


def test_mspn_classifies_scenes_and_uses_the_oracle_head(mspn_bundle, planes):
    config, _ = read_bundle(mspn_bundle)
    assert [s['name'] for s in config['scenes']] == ['blue', 'dark']
    assert config['parameters']['per_scene'] == 7 * 32 + 7 + 32 + 1  # fc_dim 32
    report = evaluate(mspn_bundle, planes, progress=False, include_frames=False)
    assert report['scene_accuracy'] > 0.8  # chance: 0.5
    assert set(report['per_scene']) == {'blue', 'dark'}
    oracle = evaluate(mspn_bundle, planes, progress=False, oracle_scene=True)
    assert 'scene_accuracy' not in oracle
    assert all(r['predicted_scene'] == r['scene'] for r in oracle['per_frame'])
    means = {name: MeanPoseLocalizer({name: load_dataset(planes / name)[0].split('train')})
             for name in ('blue', 'dark')}
    for name, loc in means.items():
        base = evaluate(loc, planes / name, progress=False)
        assert oracle['per_scene'][name]['median_translation_m'] < \
            0.7 * base['median_translation_m']


def test_cli_train_init_new_scene_and_eval(mspn_bundle, planes, tmp_path):
    third = _write_plane_scene(tmp_path / 'data' / 'green', 'green', blue=120, frames=32,
                               seed=3)
    out = tmp_path / 'finetuned'
    args = ['train', '--method', 'mspn', '--config', 'mspn-cpu', '--data', str(third.parent),
            '--out', str(out), '--init', str(mspn_bundle), '--device', 'cpu']
    for item in TINY + ['optim.epochs=2']:
        args += ['--set', item]
    assert cli_main(args) == 0
    config, _ = read_bundle(out)
    assert [s['name'] for s in config['scenes']] == ['blue', 'dark', 'green']
    assert config['architecture']['num_scenes'] == 3
    old, _ = read_bundle(mspn_bundle)
    assert config['scenes'][0]['translation_mean'] == old['scenes'][0]['translation_mean']
    report_path = tmp_path / 'eval.json'
    assert cli_main(['eval', str(out), str(third.parent), '--json', str(report_path),
                     '--oracle-scene', '--mc-samples', '8']) == 0
    report = json.loads(report_path.read_text())
    assert report['frames'] == 8 and set(report['per_scene']) == {'green'}
    assert report['covariance']['frames'] == 8
    assert 0.0 <= report['covariance']['within_2sigma_translation'] <= 1.0
    assert os.path.isdir(out)


def test_apr_refuses_several_scenes_and_names_the_way_out(planes, tmp_path, capsys):
    args = ['train', '--method', 'apr', '--config', 'posenet-cpu', '--data', str(planes),
            '--out', str(tmp_path / 'naive'), '--device', 'cpu']
    for item in TINY + ['optim.epochs=1']:
        args += ['--set', item]
    assert cli_main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err
    assert "['blue', 'dark']" in err and '--set data.scenes=[blue]' in err
    assert '--method mspn' in err
    assert not (tmp_path / 'naive').exists()
    # the way out: one scene, or the naive baseline asked for by name
    cfg = load_preset('posenet-cpu', TINY + ['optim.epochs=1', 'data.allow_multi_scene=true'])
    naive = get_trainer('apr')(cfg, planes, tmp_path / 'naive')
    config, _ = read_bundle(naive)
    assert [s['name'] for s in config['scenes']] == ['blue+dark']
