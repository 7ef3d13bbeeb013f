# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Data roles on the command line, frames without poses, optional bundle components."""

import json

import cv2
import numpy as np
import pytest
import torch

from pose_reloc.core.bundle import bundle_components, BundleError, read_bundle, \
    read_bundle_config, read_component, save_bundle
from pose_reloc.data.formats.posed_folder import PosedFolderWriter
from pose_reloc.data.records import load_image
from pose_reloc.data.roles import check_roles, DataRoles, parse_data_args
from pose_reloc.data.unlabeled import ImageRecord, load_images
from pose_reloc.geometry.camera import PinholeCamera
from pose_reloc.workflows import train_bundle

CAMERA = PinholeCamera(16, 12, 10.0, 10.0, 8.0, 6.0)


def _posed(path, frames=4):
    with PosedFolderWriter(path, CAMERA, scene_name=path.name) as writer:
        for i in range(frames):
            writer.add(1000 * (i + 1), np.eye(4), np.full((12, 16, 3), 10 * i, np.uint8),
                       split='test' if i == 3 else 'train')
    return path


def test_parse_roles_and_bare_roots(tmp_path):
    """Known values: ROLE=ROOT pairs keep order and repeat; a bare root is role 'train'."""
    roles = parse_data_args(['source=a', 'source=b', 'target=c'])
    assert roles.roles() == ['source', 'target']
    assert [str(p) for p in roles.get('source')] == ['a', 'b']
    assert str(roles.one('target')) == 'c'
    assert roles.as_dict() == {'source': ['a', 'b'], 'target': ['c']}
    assert parse_data_args([tmp_path]).entries == (('train', tmp_path),)
    odd = tmp_path / 'x=y'  # an existing path with '=' in it stays a root
    odd.mkdir()
    assert parse_data_args([str(odd)]).entries == (('train', odd),)
    assert DataRoles.single('r').one('train').name == 'r'


def test_roles_bad_input_names_the_role_and_the_way_out():
    """Bad input: a missing or repeated role, an unread role, an empty root."""
    roles = parse_data_args(['source=a', 'source=b'])
    with pytest.raises(ValueError, match='exactly one --data source=ROOT, got 2'):
        roles.one('source')
    with pytest.raises(ValueError, match='exactly one --data target=ROOT, got 0'):
        roles.one('target')
    with pytest.raises(ValueError, match=r"apr does not read data of role\(s\) \['source'\]"):
        check_roles('apr', roles, ('train',))
    with pytest.raises(ValueError, match='root after "target=" is empty'):
        parse_data_args(['target='])


def test_single_domain_trainer_refuses_roles(tmp_path):
    """`pose-reloc train --method apr --data target=X` is refused before any work."""
    from pose_reloc.training.config import load_preset
    cfg = load_preset('posenet-cpu', ['run.progress=false'])
    with pytest.raises(ValueError, match=r"apr does not read data of role\(s\) \['target'\]"):
        train_bundle('apr', cfg, ['target=' + str(tmp_path)], tmp_path / 'out')


def test_missing_root_is_named_with_its_role(tmp_path):
    """A missing target root names the role, before the sources are loaded."""
    from pose_reloc.training.config import load_preset
    cfg = load_preset('apanet-cpu', ['run.progress=false'])
    with pytest.raises(FileNotFoundError, match=r'apanet: dataset path not found: '
                       rf'--data target={tmp_path}/nope$'):
        train_bundle('apanet', cfg, [f'source={tmp_path}', f'target={tmp_path}/nope'],
                     tmp_path / 'out')
    with pytest.raises(FileNotFoundError, match=rf'not found: --data {tmp_path}/nope$'):
        train_bundle('apr', load_preset('posenet-cpu'), [f'{tmp_path}/nope'], tmp_path / 'o')


def test_unlabeled_images_from_a_posed_dataset_drop_poses_keep_splits(tmp_path):
    """A posed folder gives one record per frame, with its camera and split, no pose."""
    _posed(tmp_path / 'room')
    records = load_images(tmp_path / 'room')
    assert len(records) == 4 and all(isinstance(r, ImageRecord) for r in records)
    assert not hasattr(records[0], 'T_world_cam')
    assert records[0].camera.width == 16 and records[0].scene == 'room'
    assert len(load_images(tmp_path / 'room', split='test')) == 1
    assert len(load_images(tmp_path, scenes=['room'])) == 4  # multi-scene root
    with pytest.raises(ValueError, match=r"scenes \['hall'\] not found"):
        load_images(tmp_path, scenes=['hall'])


def test_unlabeled_images_from_a_folder_and_a_posed_folder_without_poses(tmp_path):
    """Shapes: images load as (H, W, 3) uint8; camera.yaml is kept when poses.txt is gone."""
    room = _posed(tmp_path / 'room')
    (room / 'poses.txt').unlink()
    (room / 'depth').mkdir(exist_ok=True)
    cv2.imwrite(str(room / 'depth' / '1000.png'), np.zeros((12, 16), np.uint16))
    records = load_images(room)
    assert len(records) == 4 and records[0].camera is not None
    assert load_image(records[2]).shape == (12, 16, 3)
    plain = tmp_path / 'photos'
    (plain / 'sub').mkdir(parents=True)
    cv2.imwrite(str(plain / 'b.jpg'), np.zeros((5, 7, 3), np.uint8))
    cv2.imwrite(str(plain / 'sub' / 'a.png'), np.zeros((6, 9, 3), np.uint8))
    (plain / 'notes.txt').write_text('not an image')
    records = load_images(plain)
    assert [r.image_path.name for r in records] == ['b.jpg', 'a.png']
    assert records[0].camera is None and load_image(records[1]).shape == (6, 9, 3)
    with pytest.raises(ValueError, match='without splits'):
        load_images(plain, split='train')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='empty: no images found'):
        load_images(tmp_path / 'empty')
    with pytest.raises(FileNotFoundError, match='nowhere'):
        load_images(tmp_path / 'nowhere')


def _bundle(path, components=None):
    meta = {'scenes': [], 'input': {'height': 4, 'width': 4, 'mean': [0, 0, 0],
                                    'std': [1, 1, 1]}}
    return save_bundle(path, 'toy', {'name': 'Toy'}, {'w': torch.ones(2)}, meta,
                       components=components)


def test_bundle_components_round_trip(tmp_path):
    """A discriminator beside the model round-trips bit for bit, as safetensors."""
    disc = {'conv.weight': torch.randn(3, 4), 'conv.bias': torch.zeros(3)}
    path = _bundle(tmp_path / 'b', {'discriminator': ({'name': 'PoseDisc', 'width': 4}, disc)})
    config = read_bundle_config(path)
    assert bundle_components(config) == ['discriminator']
    assert (path / 'components' / 'discriminator.safetensors').is_file()
    arch, state = read_component(path, 'discriminator')
    assert arch == {'name': 'PoseDisc', 'width': 4}
    assert all(torch.equal(state[k], disc[k]) for k in disc)
    assert torch.equal(read_bundle(path)[1]['w'], torch.ones(2))
    assert bundle_components(read_bundle_config(_bundle(tmp_path / 'plain'))) == []


def test_bundle_components_bad_input(tmp_path):
    """Bad input: a missing component, a missing file, a malformed entry: one line each."""
    path = _bundle(tmp_path / 'b', {'generator': ({'name': 'G'}, {'w': torch.ones(1)})})
    with pytest.raises(BundleError, match=r"config.json: no component 'discriminator'.*"
                                          r"\['generator'\]"):
        read_component(path, 'discriminator')
    (path / 'components' / 'generator.safetensors').unlink()
    with pytest.raises(BundleError, match="component 'generator' file .* is missing"):
        read_component(path, 'generator')
    config = json.loads((path / 'config.json').read_text())
    config['components']['generator'] = {'file': 'components/generator.safetensors'}
    (path / 'config.json').write_text(json.dumps(config))
    with pytest.raises(BundleError, match='missing key "components.generator.architecture"'):
        read_bundle_config(path)
    config['components']['generator'] = {'architecture': {'name': 'G'}, 'file': '../x'}
    (path / 'config.json').write_text(json.dumps(config))
    with pytest.raises(BundleError, match='must be a path inside the bundle'):
        read_bundle_config(path)
    with pytest.raises(BundleError, match='component name'):
        _bundle(tmp_path / 'c', {'a/b': ({'name': 'G'}, {})})


def test_bundle_files_are_readable_by_other_users(tmp_path):
    """A node running as another user reads the bundle (safetensors alone writes 0600)."""
    import os
    import stat
    old = os.umask(0o022)
    try:
        path = _bundle(tmp_path / 'b', {'generator': ({'name': 'G'}, {'w': torch.ones(1)})})
    finally:
        os.umask(old)
    for name in ('model.safetensors', 'components/generator.safetensors', 'config.json'):
        assert stat.S_IMODE((path / name).stat().st_mode) & 0o044 == 0o044, name


def test_resume_on_other_data_is_refused(tmp_path):
    """--resume with another --data names both data sets; the same data resumes."""
    from pose_reloc.workflows import check_resumed_data
    out = tmp_path / 'bundle'
    check_resumed_data(out, parse_data_args([str(tmp_path / 'room_a')]), resume=False)
    check_resumed_data(out, parse_data_args([str(tmp_path / 'room_a')]), resume=True)
    with pytest.raises(ValueError, match=r'cannot resume .*bundle: it was trained on .*room_a.*'
                                         r'this run gives .*room_b.*pass the same --data'):
        check_resumed_data(out, parse_data_args([str(tmp_path / 'room_b')]), resume=True)
    check_resumed_data(tmp_path / 'old', parse_data_args(['x']), resume=True)  # no record
