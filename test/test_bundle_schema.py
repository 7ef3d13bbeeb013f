# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Malformed bundles end in one BundleError line naming config.json and the key (~30 s).

A valid bundle of each kind (apr, mspn, dense scr, keypoint scr) is written, then its
``config.json`` is broken in many ways: every key deleted, every value replaced by values of
other JSON types, number lists shortened or spoiled, ``method`` as a list, bytes that are not
UTF-8, text that is not JSON. ``load_localizer`` must either load the bundle (for keys that
are optional) or raise exactly ``BundleError`` with a one-line message that names the file
and the key; ``pose-reloc eval`` must print that line, without a traceback.
"""

import copy
import dataclasses
import json

import numpy as np
import pytest

from pose_reloc.cli import main as cli_main
from pose_reloc.core.bundle import BundleError, read_bundle_config, save_bundle
from pose_reloc.geometry.camera import camera_to_ros_yaml, PinholeCamera
from pose_reloc.geometry.pnp import PnPConfig
from pose_reloc.inference import load_localizer
from pose_reloc.models.apr import PoseRegressor
from pose_reloc.models.keypoints import FeatureConfig, SceneCoordinateMap
from pose_reloc.models.mspn import MultiScenePoseNet
from pose_reloc.models.scr import SCRNet

CAMERA = PinholeCamera(64, 48, 50.0, 50.0, 32.0, 24.0)
#: sections nobody reads back (free-form records of the run) are not mutated.
FREE = ('training', 'package_version', 'pose_convention', 'parameters')
#: values that replace a value of another JSON type.
OTHERS = ['text', 2.5, True, None, [1, 2], {'a': 1}]


def _apr_scene(name):
    return {'name': name, 'translation_mean': [0.1, 0.2, 0.3], 'translation_scale': 1.5,
            'coord_mean': None, 'camera': camera_to_ros_yaml(CAMERA, name)}


def _image_input():
    return {'height': 48, 'width': 64, 'resize': 0, 'mean': [0.5, 0.5, 0.5],
            'std': [0.25, 0.25, 0.25], 'color': 'rgb', 'range': [0, 1]}


def _calibration():
    return {'translation_scale': 2.0, 'rotation_scale': 0.5, 'frames': 20, 'split': 'val'}


def _apr(tmp_path):
    model = PoseRegressor('tiny', None, fc_dim=8, dropout=0.2)
    meta = {'scenes': [_apr_scene('lab')], 'input': _image_input(),
            'uncertainty': {'mc_samples': 4, 'mc_dropout': 0.2},
            'covariance_calibration': _calibration(), 'training': {'config': {'seed': 0}}}
    return save_bundle(tmp_path / 'apr', 'apr', model.architecture, model.state_dict(), meta)


def _mspn(tmp_path):
    model = MultiScenePoseNet(2, 'tiny', None, fc_dim=8, dropout=0.2)
    meta = {'scenes': [_apr_scene('lab'), _apr_scene('hall')], 'input': _image_input(),
            'uncertainty': {'mc_samples': 0, 'mc_dropout': 0.2},
            'parameters': {'shared': 1, 'per_scene': 1, 'total': 2}}
    return save_bundle(tmp_path / 'mspn', 'mspn', model.architecture, model.state_dict(), meta)


def _scr(tmp_path):
    model = SCRNet('lite', (16, 16))
    meta = {'scenes': [{'name': 'lab', 'coord_mean': [0.0, 0.0, 1.0],
                        'camera': camera_to_ros_yaml(CAMERA, 'lab')}],
            'input': {'height': 48, 'width': 64, 'mean': [0.5] * 3, 'std': [0.25] * 3},
            'pnp': dataclasses.asdict(PnPConfig()), 'covariance_calibration': _calibration()}
    return save_bundle(tmp_path / 'scr', 'scr', {'name': 'SCRNet', 'trunk': 'lite',
                                                 'head_channels': [16, 16]},
                       model.state_dict(), meta)


def _keypoints(tmp_path):
    rng = np.random.default_rng(0)
    descriptors = rng.random((50, 128)).astype(np.float32)
    scene_map = SceneCoordinateMap(descriptors / np.linalg.norm(descriptors, axis=1)[:, None],
                                   rng.normal(size=(50, 3)))
    features = FeatureConfig(max_keypoints=200, short_side=48)
    meta = {'scenes': [{'name': 'lab', 'coord_mean': [0.0, 0.0, 1.0],
                        'camera': camera_to_ros_yaml(CAMERA, 'lab')}],
            'input': {'short_side': 48, 'color_order': 'rgb'},
            'pnp': dataclasses.asdict(PnPConfig())}
    arch = {'name': 'KeypointSCR', 'features': dataclasses.asdict(features),
            'match_ratio': 0.85}
    return save_bundle(tmp_path / 'kp', 'scr', arch, scene_map.state_dict(), meta)


MAKERS = {'apr': _apr, 'mspn': _mspn, 'scr': _scr, 'scr-keypoints': _keypoints}


def _paths(value, path=()):
    """Yield the key path of every dict entry and list-of-dicts item below ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not path and key in FREE:
                continue
            yield path + (key,)
            yield from _paths(item, path + (key,))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, item in enumerate(value):
            yield from _paths(item, path + (i,))


def _dotted(path):
    out = ''
    for part in path:
        out += f'[{part}]' if isinstance(part, int) else (f'.{part}' if out else part)
    return out


def _get(config, path):
    for part in path:
        config = config[part]
    return config


def _variants(config):
    """Yield ``(description, key path, new config)`` for the malformed copies of ``config``."""
    for path in _paths(config):
        parent, key, value = _get(config, path[:-1]), path[-1], _get(config, path)
        if isinstance(parent, dict):
            broken = copy.deepcopy(config)
            del _get(broken, path[:-1])[key]
            yield 'deleted', path, broken
        for other in OTHERS:
            if type(other) is type(value) or (isinstance(value, float) and type(other) is int):
                continue
            broken = copy.deepcopy(config)
            _get(broken, path[:-1])[key] = other
            yield f'= {other!r}', path, broken
        if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
            for spoiled in (value[:-1], value[:-1] + ['x'], [None] * len(value)):
                broken = copy.deepcopy(config)
                _get(broken, path[:-1])[key] = spoiled
                yield f'= {spoiled!r}', path, broken


def _names_key(message, path):
    """Return whether ``message`` names the key at ``path``.

    That is its dotted path, or (for a section that another module parses, e.g. a camera)
    the section's path and the names of the keys below it.
    """
    for cut in range(len(path), 0, -1):
        if f'"{_dotted(path[:cut])}"' in message:
            return all(str(part) in message for part in path[cut:])
    return False


def _must_fail(kind, description, path):
    """Return whether no loader may accept this mutation: any change of a value's type.

    Except: deletions (optional keys may go; the test lists them), ``null`` for a key that
    may be null (``coord_mean``: APR bundles have none; ``pnp.seed``; an APR scene's
    ``camera``: APR does not need the intrinsics), and the keys inside a
    ROS camera entry, whose reader (``geometry.camera.camera_from_ros_yaml``) ignores the
    ones a monocular pinhole camera does not need (``camera_name``, ``projection_matrix``).
    """
    nullable = {'coord_mean', 'seed'} | ({'camera'} if kind in ('apr', 'mspn') else set())
    if description == 'deleted' or (description == '= None' and path[-1] in nullable):
        return False
    return 'camera' not in path[:-1]


@pytest.mark.parametrize('kind', sorted(MAKERS))
def test_every_malformed_config_is_one_bundle_error_line(kind, tmp_path):
    bundle = MAKERS[kind](tmp_path)
    config_path = bundle / 'config.json'
    valid = json.loads(config_path.read_text())
    load_localizer(bundle, device='cpu')
    failures, loaded, tried = 0, [], 0
    for description, path, broken in _variants(valid):
        tried += 1
        config_path.write_text(json.dumps(broken))
        where = f'{_dotted(path)} {description}'
        try:
            load_localizer(bundle, device='cpu')
        except BundleError as exc:
            message = str(exc)
            assert '\n' not in message, where
            assert str(config_path) in message, f'{where}: {message}'
            assert _names_key(message, path), f'{where}: {message}'
            failures += 1
        except Exception as exc:  # noqa: B902 - nothing but BundleError may escape
            pytest.fail(f'{kind} {where}: {type(exc).__name__}: {exc}')
        else:
            assert not _must_fail(kind, description, path), f'{kind} {where} was accepted'
            loaded.append(_dotted(path))
    assert tried > 150 and failures > 100, (tried, failures, loaded)
    # optional keys only: their absence is allowed, anything else is refused
    optional = {'uncertainty', 'uncertainty.mc_samples', 'uncertainty.mc_dropout',
                'covariance_calibration', 'input.resize', 'input.color', 'input.range',
                'input.color_order', 'pnp', 'scenes[0].coord_mean', 'scenes[1].coord_mean',
                'architecture.match_checks',
                'scenes[0].camera', 'scenes[1].camera'}
    optional |= {f'pnp.{f.name}' for f in dataclasses.fields(PnPConfig)}
    optional |= {f'covariance_calibration.{k}' for k in ('frames', 'split')}
    optional |= {k for k in loaded if k.startswith('scenes[') and '.camera.' in k}
    assert set(loaded) <= optional, set(loaded) - optional


def test_the_cases_once_seen_as_tracebacks_are_one_line_in_eval(tmp_path, capsys):
    cases = {
        'scenes': lambda c: c.pop('scenes'),
        'input': lambda c: c.pop('input'),
        'input.mean': lambda c: c['input'].pop('mean'),
        'architecture.trunk': lambda c: c['architecture'].pop('trunk'),
        'method': lambda c: c.update(method=['scr']),
    }
    bundle = _scr(tmp_path)
    config_path = bundle / 'config.json'
    valid = json.loads(config_path.read_text())
    for key, spoil in cases.items():
        broken = copy.deepcopy(valid)
        spoil(broken)
        config_path.write_text(json.dumps(broken))
        with pytest.raises(BundleError) as info:
            read_bundle_config(bundle)
        assert f'"{key}"' in str(info.value) and str(config_path) in str(info.value)
        assert cli_main(['eval', str(bundle), str(tmp_path / 'no_data')]) == 1
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and 'Traceback' not in err, err
        assert err.startswith('pose-reloc eval: error: ') and f'"{key}"' in err
        assert str(config_path) in err
    for raw, what in ((b'{"format": "pose_reloc.bundle", "x": "\xff\xfe"}', 'UTF-8'),
                      (b'{"format": "pose_reloc.bundle",', 'JSON'),
                      (b'{"format": "pose_reloc.bundle", "format_version": NaN}', 'JSON'),
                      (b'[1, 2]', 'not a pose_reloc bundle')):
        config_path.write_bytes(raw)
        assert cli_main(['eval', str(bundle), str(tmp_path / 'no_data')]) == 1
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and what in err and str(config_path) in err, err
