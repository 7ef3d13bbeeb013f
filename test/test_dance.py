# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The DANCE chain: runs end to end on a tiny scene, skips finished steps, resumes training."""

import json
import shutil

import pytest
import torch

from pose_reloc.dance import load_dance_config, run_dance

torch.set_num_threads(1)

TINY = ['render.views=6', 'render.width=64', 'render.height=48', 'dance.device=cpu',
        'dance.max_photos=6',
        'cut.overrides=[optim.epochs=2, optim.batch_size=2, data.resize=48, data.height=32, '
        'data.width=32, model.ngf=4, model.n_blocks=1, model.ndf=4, model.num_patches=16, '
        'model.mlp_dim=16, run.progress=false]',
        'scr.overrides=[optim.epochs=2, data.resize=0, data.width=64, data.height=48, '
        '"model.head_channels=[16,16]", run.progress=false, "data.calibration_split="]']


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    from pose_reloc.data.synthetic import generate_dataset
    root = generate_dataset(tmp_path_factory.mktemp('dance') / 'synth', preset='tiny',
                            scenes=1, frames=8, size=(64, 48), progress=False,
                            export_cloud=True)
    return next(p for p in root.iterdir() if p.is_dir())


def test_presets_load_and_overrides_apply():
    conf = load_dance_config('dance-cpu', ['dance.variant=histmatch', 'render.views=7'])
    assert conf.dance.variant == 'histmatch' and conf.render.views == 7
    assert load_dance_config('dance-cpu').render.views == 300  # the preset is untouched
    assert load_dance_config('dance').cut.config == 'cut'
    with pytest.raises(ValueError, match='variant'):
        load_dance_config('dance-cpu', ['dance.variant=cyclegan'])
    with pytest.raises(ValueError, match='unknown keys'):
        load_dance_config('dance-cpu', ['render.fov=3'])


def test_chain_runs_skips_finished_steps_and_resumes(scene, tmp_path):
    from pose_reloc.core.bundle import read_bundle_config
    conf = load_dance_config('dance-cpu', TINY)
    out = tmp_path / 'out'
    first = run_dance(scene / 'cloud.ply', scene, scene / 'camera.yaml', out, conf,
                      progress=False)
    assert list(first['steps']) == ['render', 'cut_train', 'translate', 'scr']
    assert not any(step['skipped'] for step in first['steps'].values())
    config = read_bundle_config(out / 'bundle')
    assert config['method'] == 'scr' and config['scenes'][0]['name'] == scene.name
    assert len(list((out / 'translated' / 'rgb').iterdir())) == 6
    history = config['training']['history']

    again = run_dance(scene / 'cloud.ply', scene, scene / 'camera.yaml', out, conf,
                      progress=False)
    assert all(step['skipped'] for step in again['steps'].values())

    # Interrupted after training, before the bundle was written: the SCR step resumes from
    # its checkpoint (same history, not a new run); the lost translation is redone.
    shutil.rmtree(out / 'bundle')
    shutil.rmtree(out / 'translated')
    third = run_dance(scene / 'cloud.ply', scene, scene / 'camera.yaml', out, conf,
                      progress=False)
    skipped = {name: step['skipped'] for name, step in third['steps'].items()}
    assert skipped == {'render': True, 'cut_train': True, 'translate': False, 'scr': False}
    resumed = read_bundle_config(out / 'bundle')['training']['history']
    assert [row['elapsed_s'] for row in resumed] == [row['elapsed_s'] for row in history]
    assert json.loads((out / 'report.json').read_text())['bundle'] == str(out / 'bundle')

    with pytest.raises(ValueError, match='fresh --out'):
        run_dance(scene / 'cloud.ply', scene, scene / 'camera.yaml', out,
                  load_dance_config('dance-cpu', TINY + ['dance.variant=blind']),
                  progress=False)
