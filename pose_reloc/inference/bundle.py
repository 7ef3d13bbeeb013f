# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Model bundles: a directory with ``config.json`` + ``model.safetensors``, no pickle.

``config.json`` describes the model completely::

    {"format": "pose_reloc.bundle", "format_version": 1, "package_version": "0.1.0",
     "method": "apr" | "mspn" | "scr",
     "architecture": {"name": "PoseRegressor", ...kwargs to rebuild the model},
     "scenes": [{"name", "translation_mean", "translation_scale", "coord_mean", "camera"}],
     "input": {"height", "width", "mean", "std"},
     "pose_convention": "T_world_cam, opencv-optical, quat xyzw",
     "training": {...the TrainConfig and run facts...},
     "covariance_calibration": {...optional, see inference.calibration...}}

Tensors are stored with safetensors, so reading a bundle never executes code. Pickle
files (``torch.save`` output: ``.pt``/``.pth``, zip or pickle magic bytes) are refused
with :class:`BundleError`, as are bundles of another method or architecture.
"""

import json
import os
from pathlib import Path
import shutil
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple, Union

from safetensors.torch import load_file, save_file
import torch

from pose_reloc import __version__

FORMAT = 'pose_reloc.bundle'
FORMAT_VERSION = 1
CONFIG_NAME = 'config.json'
WEIGHTS_NAME = 'model.safetensors'
POSE_CONVENTION = 'T_world_cam, opencv-optical, quat xyzw'

_ZIP_MAGIC = b'PK\x03\x04'
_PICKLE_SUFFIXES = ('.pt', '.pth', '.pkl', '.pickle', '.ckpt', '.bin', '.tar')


class BundleError(ValueError):
    """A model bundle is missing, malformed, pickled or of the wrong kind."""


def save_bundle(path: Union[str, Path], method: str, architecture: Mapping[str, Any],
                state_dict: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> Path:
    """Write a bundle directory atomically (``<path>.partial`` then rename).

    Args:
        path: bundle directory to create (replaced if it exists).
        method: ``apr``, ``mspn``, ``scr``, ...
        architecture: JSON-ready kwargs that rebuild the model; must contain ``name``.
        state_dict: tensors to store (made contiguous, moved to CPU).
        meta: the other top-level keys (``scenes``, ``input``, ``training``, ...).

    Returns:
        The bundle path.

    Raises:
        BundleError: if ``architecture`` has no ``name`` or ``meta`` is not JSON-ready.
    """
    path = Path(path)
    if not isinstance(architecture, Mapping) or 'name' not in architecture:
        raise BundleError(f'bundle {path}: architecture needs a "name" key, got {architecture}')
    config = {
        'format': FORMAT,
        'format_version': FORMAT_VERSION,
        'package_version': __version__,
        'method': method,
        'architecture': dict(architecture),
        'pose_convention': POSE_CONVENTION,
    }
    reserved = set(config)
    for key, value in meta.items():
        if key in reserved:
            raise BundleError(f'bundle {path}: meta key {key!r} is reserved')
        config[key] = value
    config.setdefault('scenes', [])
    try:
        text = json.dumps(config, indent=2, sort_keys=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BundleError(f'bundle {path}: config is not JSON-serializable: {exc}') from exc
    tensors = {k: v.detach().to('cpu').contiguous() for k, v in state_dict.items()}
    tensors = _unshare(tensors)
    partial = path.with_name(path.name + '.partial')
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    save_file(tensors, str(partial / WEIGHTS_NAME), metadata={'format': FORMAT})
    with open(partial / CONFIG_NAME, 'w', encoding='utf-8') as f:
        f.write(text + '\n')
    if path.exists():
        old = path.with_name(path.name + '.old')
        if old.exists():
            shutil.rmtree(old)
        os.replace(path, old)
        os.replace(partial, path)
        shutil.rmtree(old)
    else:
        os.replace(partial, path)
    return path


def read_bundle(path: Union[str, Path], methods: Optional[Iterable[str]] = None,
                architectures: Optional[Iterable[str]] = None,
                map_location: str = 'cpu') -> Tuple[Dict[str, Any], Dict[str, torch.Tensor]]:
    """Read a bundle's config and tensors, refusing pickle and unexpected kinds.

    Args:
        path: bundle directory (or its ``config.json``).
        methods: accepted ``method`` values (None = any).
        architectures: accepted ``architecture.name`` values (None = any).
        map_location: device for the tensors.

    Returns:
        ``(config dict, state_dict)``.

    Raises:
        BundleError: naming the cause: missing files, a pickle/``torch.save`` file,
            a foreign format or version, another method or architecture.
    """
    path = Path(path)
    if path.is_file() and path.name == CONFIG_NAME:
        path = path.parent
    config = read_bundle_config(path)
    method = config.get('method')
    if methods is not None:
        methods = list(methods)
        if method not in methods:
            raise BundleError(
                f'bundle {path} holds a {method!r} model; this loader accepts {methods}')
    name = config['architecture'].get('name')
    if architectures is not None:
        architectures = list(architectures)
        if name not in architectures:
            raise BundleError(
                f'bundle {path} has architecture {name!r}; expected one of {architectures}')
    weights = path / WEIGHTS_NAME
    if not weights.is_file():
        raise BundleError(f'bundle {path} has no {WEIGHTS_NAME}')
    _refuse_pickle(weights)
    try:
        state_dict = load_file(str(weights), device=map_location)
    except Exception as exc:  # safetensors raises its own error types
        raise BundleError(f'{weights} is not a valid safetensors file: {exc}') from exc
    return config, state_dict


def read_bundle_config(path: Union[str, Path]) -> Dict[str, Any]:
    """Read and check only ``config.json`` of a bundle (no tensors).

    Raises:
        BundleError: as :func:`read_bundle`.
    """
    path = Path(path)
    if not path.exists():
        raise BundleError(f'model bundle {path} does not exist')
    if path.is_file():
        _refuse_pickle(path)
        raise BundleError(
            f'{path} is a file; a model bundle is a directory with {CONFIG_NAME} and '
            f'{WEIGHTS_NAME}')
    config_path = path / CONFIG_NAME
    if not config_path.is_file():
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in _PICKLE_SUFFIXES)
        hint = f' (found pickle file(s) {pickles}; they are not loaded)' if pickles else ''
        raise BundleError(f'model bundle {path} has no {CONFIG_NAME}{hint}')
    try:
        with open(config_path, encoding='utf-8') as f:
            config = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f'{config_path} is not valid JSON: {exc}') from exc
    if not isinstance(config, dict) or config.get('format') != FORMAT:
        raise BundleError(f'{config_path} is not a pose_reloc bundle (format '
                          f'{config.get("format") if isinstance(config, dict) else None!r}, '
                          f'expected {FORMAT!r})')
    version = config.get('format_version')
    if version != FORMAT_VERSION:
        raise BundleError(f'{config_path}: bundle format_version {version!r} is not supported '
                          f'(this package reads {FORMAT_VERSION})')
    for key in ('method', 'architecture'):
        if key not in config:
            raise BundleError(f'{config_path} lacks the {key!r} key')
    if not isinstance(config['architecture'], dict) or 'name' not in config['architecture']:
        raise BundleError(f'{config_path}: "architecture" must be a mapping with a "name"')
    return config


def update_bundle_config(path: Union[str, Path], updates: Mapping[str, Any]) -> Path:
    """Set top-level keys of an existing bundle's ``config.json`` (atomic rewrite).

    Args:
        path: the bundle directory.
        updates: JSON-ready top-level keys to set (e.g. ``covariance_calibration``);
            the keys written by :func:`save_bundle` itself are refused.

    Returns:
        The bundle path.

    Raises:
        BundleError: for a missing/foreign bundle, a reserved key or non-JSON values.
    """
    path = Path(path)
    config = read_bundle_config(path)
    reserved = {'format', 'format_version', 'package_version', 'method', 'architecture',
                'pose_convention'}
    bad = sorted(set(updates) & reserved)
    if bad:
        raise BundleError(f'bundle {path}: keys {bad} are reserved')
    config.update(updates)
    try:
        text = json.dumps(config, indent=2, sort_keys=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BundleError(f'bundle {path}: config is not JSON-serializable: {exc}') from exc
    tmp = path / (CONFIG_NAME + '.tmp')
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text + '\n')
    os.replace(tmp, path / CONFIG_NAME)
    return path


def load_state_strict(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor],
                      where: Union[str, Path]) -> None:
    """Load ``state_dict`` into ``model`` exactly, turning mismatches into BundleError.

    Raises:
        BundleError: listing missing/unexpected keys or the first shape mismatch.
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    if missing or unexpected:
        raise BundleError(f'bundle {where} does not match the architecture it names: '
                          f'missing {missing[:5]}, unexpected {unexpected[:5]}')
    for key, tensor in own.items():
        if tuple(tensor.shape) != tuple(state_dict[key].shape):
            raise BundleError(f'bundle {where}: tensor {key!r} has shape '
                              f'{tuple(state_dict[key].shape)}, the architecture expects '
                              f'{tuple(tensor.shape)}')
    model.load_state_dict(state_dict, strict=True)


def _refuse_pickle(path: Path) -> None:
    """Raise BundleError if ``path`` is a pickle / ``torch.save`` file.

    A safetensors file starts with a little-endian u64 header length followed by a JSON
    header (``{``); that structure is accepted even when its first byte happens to equal
    pickle's protocol opcode (0x80).
    """
    with open(path, 'rb') as f:
        head = f.read(9)
    looks_safetensors = len(head) == 9 and head[8:9] == b'{'
    pickle_opcode = head[:1] == b'\x80' and head[1:2] in (b'\x02', b'\x03', b'\x04', b'\x05')
    if path.suffix in _PICKLE_SUFFIXES or head.startswith(_ZIP_MAGIC) or (
            pickle_opcode and not looks_safetensors):
        raise BundleError(
            f'{path} is a pickle / torch.save file; pose_reloc loads only bundles of '
            f'{CONFIG_NAME} + {WEIGHTS_NAME} (pickle can execute code and is refused)')


def _unshare(tensors: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Clone tensors that share storage (safetensors refuses shared memory)."""
    seen = set()
    out = {}
    for key, tensor in tensors.items():
        ptr = tensor.untyped_storage().data_ptr()
        if ptr in seen and tensor.numel() > 0:
            tensor = tensor.clone()
        seen.add(ptr)
        out[key] = tensor
    return out
