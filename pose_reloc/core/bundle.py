# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Model bundles: a directory with ``config.json`` + ``model.safetensors``, no pickle.

``config.json`` describes the model completely::

    {"format": "pose_reloc.bundle", "format_version": 1, "package_version": "0.1.0",
     "method": "apr" | "mspn" | "scr",
     "architecture": {"name": "PoseRegressor", ...kwargs to rebuild the model},
     "scenes": [{"name", "translation_mean", "translation_scale", "coord_mean", "camera"}],
     "input": {"height", "width", "resize", "mean", "std", ...the input spec},
     "pose_convention": "T_world_cam, opencv-optical, quat xyzw",
     "training": {...the TrainConfig and run facts...},
     "covariance_calibration": {...optional, see inference.calibration...},
     "components": {"discriminator": {"architecture": {"name": ...}, "file":
                    "components/discriminator.safetensors"}}   (optional networks)}

Tensors are stored with safetensors, so reading a bundle never executes code. Pickle
files (``torch.save`` output: ``.pt``/``.pth``, zip or pickle magic bytes) are refused
with :class:`BundleError`, as are bundles of another method or architecture.

Every read checks ``config.json`` against a schema (:data:`SCHEMAS`: the sections and key
types each architecture's localizer reads, registered with :func:`register_schema` by a new
method), so that a malformed file ends in one :class:`BundleError` line naming the file and
the key (``.../config.json: "input.mean" must be a list of 3 numbers, got 'abc'``) instead of
a traceback from deep inside a localizer. Keys the schema does not name are kept and ignored.
"""

import dataclasses
import json
import math
import os
from pathlib import Path
import shutil
import typing
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from safetensors.torch import load_file, save_file
import torch

from pose_reloc import __version__
from pose_reloc.core import distributed
from pose_reloc.core.files import atomic_write_text

FORMAT = 'pose_reloc.bundle'
FORMAT_VERSION = 1
CONFIG_NAME = 'config.json'
WEIGHTS_NAME = 'model.safetensors'
COMPONENTS_DIR = 'components'
POSE_CONVENTION = 'T_world_cam, opencv-optical, quat xyzw'

_ZIP_MAGIC = b'PK\x03\x04'
_PICKLE_SUFFIXES = ('.pt', '.pth', '.pkl', '.pickle', '.ckpt', '.bin', '.tar')


class BundleError(ValueError):
    """A model bundle is missing, malformed, pickled or of the wrong kind (one line)."""

    def __init__(self, message: Any):
        """Keep the message on one line (wrapped errors may carry newlines)."""
        super().__init__(' '.join(str(message).split()))


def save_bundle(path: Union[str, Path], method: str, architecture: Mapping[str, Any],
                state_dict: Mapping[str, torch.Tensor], meta: Mapping[str, Any],
                components: Optional[Mapping[str, Tuple[Mapping[str, Any],
                                                        Mapping[str, torch.Tensor]]]] = None
                ) -> Path:
    """Write a bundle directory atomically (``<path>.partial`` then rename).

    In a data-parallel run only rank 0 writes; every process returns when the bundle is
    complete.

    Args:
        path: bundle directory to create (replaced if it exists).
        method: ``apr``, ``mspn``, ``scr``, ...
        architecture: JSON-ready kwargs that rebuild the model; must contain ``name``.
        state_dict: tensors to store (made contiguous, moved to CPU).
        meta: the other top-level keys (``scenes``, ``input``, ``training``, ...).
        components: optional named networks beside the model (a pose discriminator, a
            generator): ``{name: (architecture with a "name", state_dict)}``, each stored as
            ``components/<name>.safetensors`` and listed in ``config.json`` under
            ``components`` (read back with :func:`read_component`).

    Returns:
        The bundle path.

    Raises:
        BundleError: if ``architecture`` has no ``name`` or ``meta`` is not JSON-ready.
    """
    path = Path(path)
    if not distributed.is_main():  # data-parallel training: rank 0 writes, the others wait
        distributed.barrier()
        return path
    try:
        return _write_bundle(path, method, architecture, state_dict, meta, components or {})
    finally:
        distributed.barrier()


def _write_bundle(path: Path, method: str, architecture: Mapping[str, Any],
                  state_dict: Mapping[str, torch.Tensor], meta: Mapping[str, Any],
                  components: Mapping[str, Tuple[Mapping[str, Any], Mapping[str, torch.Tensor]]]
                  ) -> Path:
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
    for name, (arch, _) in components.items():
        if not isinstance(name, str) or not name.replace('_', '').replace('-', '').isalnum():
            raise BundleError(f'bundle {path}: component name {name!r} must be a plain name')
        if not isinstance(arch, Mapping) or 'name' not in arch:
            raise BundleError(f'bundle {path}: component {name!r} architecture needs a "name"')
    if components:
        config['components'] = {name: {'architecture': dict(arch),
                                       'file': f'{COMPONENTS_DIR}/{name}.safetensors'}
                                for name, (arch, _) in components.items()}
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
    _readable_by_all(partial / WEIGHTS_NAME)
    for name, (_, component_state) in components.items():
        (partial / COMPONENTS_DIR).mkdir(exist_ok=True)
        save_file(_unshare({k: v.detach().to('cpu').contiguous()
                            for k, v in component_state.items()}),
                  str(partial / config['components'][name]['file']),
                  metadata={'format': FORMAT})
        _readable_by_all(partial / config['components'][name]['file'])
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


def _readable_by_all(path: Path) -> None:
    """Give a tensor file the mode of a file ``open`` creates (safetensors writes 0600).

    A node running as another user (a systemd service, a container) must be able to read
    the bundle; the process umask still applies.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def config_file(path: Union[str, Path]) -> Path:
    """Return the ``config.json`` of the bundle at ``path`` (the name errors use)."""
    path = Path(path)
    return path if path.name == CONFIG_NAME else path / CONFIG_NAME


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
    return config, _load_tensors(weights, map_location)


def _load_tensors(weights: Path, map_location: str) -> Dict[str, torch.Tensor]:
    """Read a safetensors file, refusing pickle (BundleError naming the file)."""
    _refuse_pickle(weights)
    try:
        return load_file(str(weights), device=map_location)
    except Exception as exc:  # safetensors raises its own error types
        raise BundleError(f'{weights} is not a valid safetensors file: {exc}') from exc


def bundle_components(config: Mapping[str, Any]) -> List[str]:
    """Return the names of the optional components a bundle's config lists (sorted)."""
    return sorted(config.get('components') or {})


def read_component(path: Union[str, Path], name: str, map_location: str = 'cpu'
                   ) -> Tuple[Dict[str, Any], Dict[str, torch.Tensor]]:
    """Read the optional component ``name`` of a bundle (e.g. ``discriminator``).

    Returns:
        ``(architecture dict, state_dict)``.

    Raises:
        BundleError: naming the bundle's config and the component when the bundle lists no
            such component, or its file is missing, pickled or not safetensors.
    """
    path = Path(path)
    if path.is_file() and path.name == CONFIG_NAME:
        path = path.parent
    config = read_bundle_config(path)
    entry = (config.get('components') or {}).get(name)
    if entry is None:
        raise BundleError(f'{config_file(path)}: no component {name!r} in "components" '
                          f'(has {bundle_components(config) or "none"})')
    weights = path / entry['file']
    if not weights.is_file():
        raise BundleError(f'{config_file(path)}: component {name!r} file {weights} is missing')
    return dict(entry['architecture']), _load_tensors(weights, map_location)


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
        with open(config_path, 'rb') as f:
            raw = f.read()
    except OSError as exc:
        raise BundleError(f'{config_path} cannot be read: {exc}') from exc
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise BundleError(f'{config_path} is not UTF-8 text (byte {exc.start}: '
                          f'{raw[exc.start:exc.start + 1]!r})') from exc
    try:
        config = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise BundleError(f'{config_path} is not valid JSON: {exc}') from exc
    validate_config(config, config_path)
    return config


#: A key's kind: ``'str'``, ``'int'``, ``'pos_int'``, ``'number'``, ``'pos_number'``,
#: ``'dict'`` (any mapping), ``('numbers', n)`` / ``('pos_numbers', n)`` / ``('ints', n)``
#: (a list of n), ``('list', spec, min_length)`` (a list of mappings checked against
#: ``spec``), ``('nullable', kind)`` (``null`` or ``kind``) or a nested ``spec``. A spec maps
#: key -> ``(kind, required)``.
Spec = Mapping[str, Tuple[Any, bool]]

#: The keys every bundle has, whatever its method.
COMMON_SCHEMA: Spec = {
    'format': ('str', True),
    'format_version': ('int', True),
    'package_version': ('str', False),
    'method': ('str', True),
    'architecture': ({'name': ('str', True)}, True),
    'pose_convention': ('str', False),
    'scenes': (('list', {'name': ('str', True)}, 0), True),
    'input': ('dict', True),
    'training': ('dict', False),
    'components': ('dict', False),
    'covariance_calibration': ({'translation_scale': ('pos_number', True),
                                'rotation_scale': ('pos_number', True),
                                'frames': ('int', False), 'frames_rejected': ('int', False),
                                'split': ('str', False), 'method': ('str', False)}, False),
}

_COMPONENT: Spec = {'architecture': ({'name': ('str', True)}, True), 'file': ('str', True)}
_APR_SCENE: Spec = {'name': ('str', True), 'translation_mean': (('numbers', 3), True),
                    'translation_scale': ('pos_number', True),
                    'camera': (('nullable', 'dict'), False),
                    'coord_mean': (('nullable', ('numbers', 3)), False)}
#: the input spec (``data.transforms.InputSpec``; its ``from_bundle`` checks the values).
_IMAGE_INPUT: Spec = {'height': ('pos_int', True), 'width': ('pos_int', True),
                      'resize': ('int', False), 'multiple': ('pos_int', False),
                      'crop': ('str', False), 'mean': (('numbers', 3), True),
                      'std': (('pos_numbers', 3), True), 'color': ('str', False),
                      'range': (('numbers', 2), False), 'interpolation': ('str', False)}
_POSE_HEADS: Spec = {'backbone': ('str', True), 'fc_dim': ('int', True),
                     'dropout': ('number', True), 'rotation': ('str', True)}
_UNCERTAINTY: Spec = {'mc_samples': ('int', False), 'mc_dropout': ('number', False)}
_SCR_SCENE: Spec = {'name': ('str', True), 'camera': ('dict', True),
                    'coord_mean': (('nullable', ('numbers', 3)), False)}

#: architecture name -> ``{'methods': (...), 'keys': Spec}``: what each localizer reads.
SCHEMAS: Dict[str, Dict[str, Any]] = {}


def register_schema(architecture: str, methods: Sequence[str], keys: Spec) -> None:
    """Declare the ``config.json`` keys of bundles of ``architecture`` (a new method's entry).

    Args:
        architecture: the ``architecture.name`` value.
        methods: the ``method`` values such bundles may have.
        keys: top-level key -> ``(kind, required)`` (see :data:`Spec`); these are checked
            after, and on top of, :data:`COMMON_SCHEMA`.
    """
    SCHEMAS[architecture] = {'methods': tuple(methods), 'keys': dict(keys)}


register_schema('PoseRegressor', ['apr'], {
    'architecture': (_POSE_HEADS, True),
    'scenes': (('list', _APR_SCENE, 0), True),
    'input': (_IMAGE_INPUT, True),
    'uncertainty': (_UNCERTAINTY, False)})
register_schema('MultiScenePoseNet', ['mspn'], {
    'architecture': ({**_POSE_HEADS, 'num_scenes': ('pos_int', True)}, True),
    'scenes': (('list', _APR_SCENE, 0), True),
    'input': (_IMAGE_INPUT, True),
    'uncertainty': (_UNCERTAINTY, False)})
register_schema('SCRNet', ['scr'], {
    'architecture': ({'trunk': ('str', True), 'head_channels': (('ints', 2), True)}, True),
    'scenes': (('list', _SCR_SCENE, 0), True),
    'input': (_IMAGE_INPUT, True),
    'pnp': ('dict', False)})
register_schema('KeypointSCR', ['scr'], {
    'architecture': ({'features': ('dict', True), 'match_ratio': ('pos_number', True),
                      'match_checks': ('pos_int', False)}, True),
    'scenes': (('list', _SCR_SCENE, 0), True),
    'input': ({'short_side': ('int', True), 'color_order': ('str', False)}, True),
    'pnp': ('dict', False)})


def validate_config(config: Any, where: Union[str, Path]) -> None:
    """Check a parsed ``config.json`` against :data:`COMMON_SCHEMA` and its architecture's.

    Args:
        config: the parsed JSON.
        where: the file, named in errors.

    Raises:
        BundleError: one line naming ``where`` and the first missing or malformed key.
    """
    if not isinstance(config, dict) or config.get('format') != FORMAT:
        raise BundleError(f'{where} is not a pose_reloc bundle ("format" is '
                          f'{config.get("format") if isinstance(config, dict) else None!r}, '
                          f'expected {FORMAT!r})')
    version = config.get('format_version')
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise BundleError(f'{where}: "format_version" {version!r} is not supported (this '
                          f'package reads {FORMAT_VERSION}; re-train or re-export the model '
                          'with this version)')
    _check_spec(config, COMMON_SCHEMA, where, '')
    for component, entry in (config.get('components') or {}).items():
        _check_spec({component: entry}, {component: (_COMPONENT, True)}, where, 'components.')
        if '..' in entry['file'] or entry['file'].startswith('/'):
            raise BundleError(f'{where}: "components.{component}.file" must be a path inside '
                              f'the bundle, got {entry["file"]!r}')
    name = config['architecture']['name']
    schema = SCHEMAS.get(name)
    if schema is None:
        return
    if config['method'] not in schema['methods']:
        expected = sorted(n for n, other in SCHEMAS.items()
                          if config['method'] in other['methods'])
        raise BundleError(f'{where}: "method" {config["method"]!r} expects architecture '
                          f'{expected or "unknown to this package"}, got {name!r} '
                          '("architecture.name")')
    _check_spec(config, schema['keys'], where, '')


def check_fields(cls: type, values: Any, where: Union[str, Path], key: str,
                 require_all: bool = False) -> Any:
    """Build the frozen dataclass ``cls`` from a bundle section, or say what is wrong.

    Args:
        cls: a dataclass with ``int``/``float``/``bool``/``str`` (or Optional / Tuple of
            them) fields; its ``__post_init__`` may raise ``ValueError``.
        values: the section (a mapping of field -> value).
        where: the file, named in errors.
        key: the section's key path (``pnp``, ``architecture.features``).
        require_all: every field must be present (the section was written in full and a
            default would silently change the model).

    Returns:
        ``cls(**values)``.

    Raises:
        BundleError: naming ``where`` and the key of an unknown, missing or mistyped field,
            or the dataclass's own complaint.
    """
    if not isinstance(values, Mapping):
        raise BundleError(f'{where}: "{key}" must be a mapping, got {_show(values)}')
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    for name, value in values.items():
        if name not in hints:
            raise BundleError(f'{where}: "{key}.{name}" is not a field of {key} '
                              f'(known: {fields})')
        if not _matches_type(value, hints[name]):
            raise BundleError(f'{where}: "{key}.{name}" must be {_type_name(hints[name])}, '
                              f'got {_show(value)}')
    if require_all:
        missing = [n for n in fields if n not in values]
        if missing:
            raise BundleError(f'{where}: missing key "{key}.{missing[0]}"')
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise BundleError(f'{where}: "{key}": {exc}') from exc


def _check_spec(section: Mapping[str, Any], spec: Spec, where: Union[str, Path],
                prefix: str) -> None:
    for key, (kind, required) in spec.items():
        path = f'{prefix}{key}'
        if key not in section:
            if required:
                raise BundleError(f'{where}: missing key "{path}"')
            continue
        _check_value(section[key], kind, where, path)


def _check_value(value: Any, kind: Any, where: Union[str, Path], path: str) -> None:
    problem = None
    if isinstance(kind, Mapping):
        if not isinstance(value, dict):
            problem = 'a mapping'
        else:
            _check_spec(value, kind, where, path + '.')
    elif isinstance(kind, tuple) and kind[0] == 'nullable':
        if value is not None:
            _check_value(value, kind[1], where, path)
    elif isinstance(kind, tuple) and kind[0] == 'list':
        _, item_spec, min_length = kind
        if not isinstance(value, list) or len(value) < min_length:
            problem = f'a list of at least {min_length} mapping(s)' if min_length else \
                'a list of mappings'
        else:
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    raise BundleError(f'{where}: "{path}[{i}]" must be a mapping, got '
                                      f'{_show(item)}')
                _check_spec(item, item_spec, where, f'{path}[{i}].')
    elif isinstance(kind, tuple):
        element, count = kind
        ok = isinstance(value, list) and len(value) == count
        if ok and element == 'ints':
            ok = all(_is_int(v) and v > 0 for v in value)
        elif ok:
            ok = all(_is_number(v) and (element == 'numbers' or v > 0) for v in value)
        if not ok:
            what = {'ints': 'positive integers', 'numbers': 'numbers',
                    'pos_numbers': 'positive numbers'}[element]
            problem = f'a list of {count} {what}'
    else:
        checks = {
            'str': (lambda v: isinstance(v, str), 'a string'),
            'int': (_is_int, 'an integer'),
            'pos_int': (lambda v: _is_int(v) and v > 0, 'a positive integer'),
            'number': (_is_number, 'a number'),
            'pos_number': (lambda v: _is_number(v) and v > 0, 'a number, finite and > 0'),
            'dict': (lambda v: isinstance(v, dict), 'a mapping'),
        }
        test, problem_name = checks[kind]
        if not test(value):
            problem = problem_name
    if problem is not None:
        raise BundleError(f'{where}: "{path}" must be {problem}, got {_show(value)}')


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def _matches_type(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is Union:
        return any(_matches_type(value, h) for h in typing.get_args(hint))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return isinstance(value, list) and all(
            any(_matches_type(v, a) for a in args) for v in value)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return _is_int(value)
    if hint is float:
        return _is_number(value)
    if hint is str:
        return isinstance(value, str)
    return True


def _type_name(hint: Any) -> str:
    names = {bool: 'true or false', int: 'an integer', float: 'a number', str: 'a string'}
    return names.get(hint, str(hint).replace('typing.', ''))


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


def _refuse_constant(name: str) -> None:
    raise ValueError(f'{name} is not JSON (the bundle writer never stores it)')


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
    reserved = {'format', 'format_version', 'package_version', 'method', 'architecture',
                'pose_convention'}
    bad = sorted(set(updates) & reserved)
    if bad:
        raise BundleError(f'bundle {path}: keys {bad} are reserved')
    config = read_bundle_config(path)
    config.update(updates)
    try:
        text = json.dumps(config, indent=2, sort_keys=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BundleError(f'bundle {path}: config is not JSON-serializable: {exc}') from exc
    atomic_write_text(path / CONFIG_NAME, text + '\n')
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
