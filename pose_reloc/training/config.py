# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Training configuration: frozen dataclasses, YAML presets and ``key=value`` overrides.

A preset is a YAML file ``config/train/<name>.yaml``::

    method: apr                 # which training module reads it
    extends: posenet            # optional: start from another preset, then override
                                # (its model section only if the method is the same)
    data:  {height: 96, width: 128, ...}      # DataConfig
    optim: {lr: 1.0e-4, batch_size: 64, ...}  # OptimConfig
    run:   {seed: 0, device: auto, ...}       # RunConfig
    model: {backbone: resnet34, ...}          # the method's own dataclass

The ``model`` section belongs to the method: each training module registers its
frozen dataclass with :func:`register_model_config` (``pose_reloc.training.<method>`` is
imported on demand, so a new method needs no edit here). Overrides are dotted keys with
YAML values (``optim.lr=3e-4``, ``model.backbone=tiny``, ``data.scenes=[a,b]``); they build
a new config and never mutate a preset.
"""

import dataclasses
from dataclasses import dataclass, field
import os
from pathlib import Path
import sys
import typing
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import yaml

from pose_reloc.core.registry import LazyRegistry
from pose_reloc.data.transforms import InputSpec, InputSpecError


def _preset_dirs() -> List[Path]:
    """Return where named presets are looked for, in order.

    The source tree's ``config/train``; then ``share/pose_reloc/config/train`` of the install
    prefix this module lives in (a colcon install or a pip install puts the package under
    ``<prefix>/lib/pythonX.Y/site-packages`` and the presets under ``<prefix>/share``), of
    ``sys.prefix`` and of each ``AMENT_PREFIX_PATH`` entry.
    """
    here = Path(__file__).resolve()
    dirs = [here.parents[2] / 'config' / 'train']
    prefixes = [here.parents[5]] if len(here.parents) > 5 else []
    prefixes += [Path(sys.prefix)]
    prefixes += [Path(p) for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)
                 if p]
    dirs += [prefix / 'share' / 'pose_reloc' / 'config' / 'train' for prefix in prefixes]
    unique = []
    for folder in dirs:
        if folder not in unique:
            unique.append(folder)
    return unique


#: Where the named presets live (see :func:`_preset_dirs`; the first match wins).
PRESET_DIRS: List[Path] = _preset_dirs()

#: method -> its ``model:`` dataclass (``pose_reloc.training.<method>`` registers it).
MODEL_CONFIGS: LazyRegistry[type] = LazyRegistry(
    'training method', lambda method: f'pose_reloc.training.{method}')


@dataclass(frozen=True)
class DataConfig:
    """How frames become network inputs.

    Attributes:
        height: network input height in pixels (after the crop).
        width: network input width in pixels (after the crop).
        resize: images are first resized so that their shorter side has this many
            pixels (aspect kept); a random ``height x width`` crop is taken for training,
            the centre crop at test (PoseNet: 256, crops of 224). 0 = resize straight to
            ``height x width`` (no crop).
        scenes: scene names to use from a multi-scene root (empty = all).
        train_split: split name used for training.
        val_split: split name used for validation each epoch.
        val_frames: at most this many validation frames per scene (0 = all).
        calibration_split: split whose frames calibrate the pose covariance at the end of
            training (``inference.calibration``; stored as the bundle's
            ``covariance_calibration``); '' = no calibration (scale 1); a split with no
            frames in the data is skipped with a logged warning (the presets set ``val``).
            Must differ from ``train_split``; use frames you do not evaluate on (e.g.
            ``val`` when the test split is ``val_split``).
        calibration_frames: at most this many calibration frames per scene, evenly
            spaced (0 = all).
        brightness: photometric jitter amplitude (0 = off), relative.
        contrast: photometric jitter amplitude (0 = off), relative.
        saturation: photometric jitter amplitude (0 = off), relative.
        hue: hue jitter amplitude in [0, 0.5] (0 = off).
        mean: per-channel normalization mean (RGB, images in [0, 1]); empty = the
            backbone's own (``models.backbones.input_stats``).
        std: per-channel normalization std; empty = the backbone's own.
        workers: DataLoader worker processes (0 = main process).
        use_depth: methods that can use depth (SCR) do when every training frame has it;
            False maps from RGB + poses alone even when depth exists.
        allow_multi_scene: single-scene methods (``apr``) refuse data with several scenes
            (their world frames differ); True trains one model across them anyway, the
            naive baseline that Multi-Scene PoseNet (``mspn``) is compared with.
    """

    height: int = 224
    width: int = 224
    resize: int = 256
    scenes: Tuple[str, ...] = ()
    train_split: str = 'train'
    val_split: str = 'test'
    val_frames: int = 0
    calibration_split: str = ''
    calibration_frames: int = 100
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    mean: Tuple[float, ...] = ()
    std: Tuple[float, ...] = ()
    workers: int = 0
    use_depth: bool = True
    allow_multi_scene: bool = False

    def jitter(self) -> Tuple[float, float, float, float]:
        """Return the photometric jitter amounts ``(brightness, contrast, saturation, hue)``."""
        return (self.brightness, self.contrast, self.saturation, self.hue)

    def input_spec(self, default_mean: Sequence[float], default_std: Sequence[float],
                   **fields: Any) -> InputSpec:
        """Return the input spec these settings describe (written into the bundle).

        Args:
            default_mean: normalization mean when ``mean`` is empty (the backbone's).
            default_std: normalization std when ``std`` is empty.
            **fields: further ``InputSpec`` fields or replacements (``multiple``, ``crop``,
                ``height`` / ``width`` of a method whose crop is for training only).

        Returns:
            ``InputSpec(height, width, resize, mean, std, **fields)``.

        Raises:
            ValueError: naming the ``data.<field>`` that the spec refuses.
        """
        values = {'height': self.height, 'width': self.width, 'resize': self.resize,
                  'mean': tuple(self.mean) or tuple(default_mean),
                  'std': tuple(self.std) or tuple(default_std)}
        try:
            return InputSpec(**{**values, **fields})
        except InputSpecError as exc:
            raise ValueError(f'data.{exc.field} {exc.problem}') from exc


def require_one_scene(method: str, data_root: Any, scene_names: Sequence[str]) -> None:
    """Refuse anything but exactly one scene for a single-scene ``method``.

    Raises:
        ValueError: naming the scenes and the ways out (``--set data.scenes=[name]``,
            ``--method mspn``).
    """
    names = list(scene_names)
    if len(names) == 1:
        return
    if not names:
        raise ValueError(f'{method} models one scene, but {data_root} gives none '
                         '(check data.scenes)')
    raise ValueError(f'{method} models one scene (one world frame), but {data_root} gives '
                     f'{len(names)} scenes {names}: pick one with --set data.scenes=[{names[0]}], '
                     'or train them together with --method mspn')


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer and schedule.

    Attributes:
        lr: Adam learning rate.
        weight_decay: L2 weight decay.
        batch_size: frames per step.
        epochs: passes over the training frames.
        max_minutes: wall-clock budget; training stops cleanly after it (0 = none).
        grad_clip: clip the gradient norm to this value (0 = off).
        lr_decay_epochs: multiply the learning rate by ``lr_decay`` every this many
            epochs (0 = constant).
        lr_decay: the step decay factor.
    """

    lr: float = 1e-4
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 100
    max_minutes: float = 0.0
    grad_clip: float = 0.0
    lr_decay_epochs: int = 0
    lr_decay: float = 0.1


@dataclass(frozen=True)
class RunConfig:
    """Run bookkeeping.

    Attributes:
        seed: seed of every random source (torch, numpy, python, data order, crops).
        device: ``auto`` (cuda if available), ``cpu`` or ``cuda[:N]``.
        checkpoint_every: save a checkpoint every this many epochs (always at the end).
        progress: show tqdm progress bars.
        threads: CPU threads for torch (``torch.set_num_threads``); 0 keeps torch's default.
            On a small shared CPU one thread is often faster than two.
        amp: mixed precision (float16 autocast + gradient scaling) when training on CUDA;
            ignored on CPU.
    """

    seed: int = 0
    device: str = 'auto'
    checkpoint_every: int = 1
    progress: bool = True
    threads: int = 0
    amp: bool = True


@dataclass(frozen=True)
class TrainConfig:
    """A complete training configuration.

    Attributes:
        method: training method (``apr``, ``mspn``, ``scr``, ...).
        preset: name or path of the preset it came from (for the record).
        data: input pipeline settings.
        optim: optimizer settings.
        run: seeds, device, checkpoints.
        model: the method's registered model dataclass.
    """

    method: str
    preset: str = ''
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    model: Any = None

    def to_dict(self) -> Dict[str, Any]:
        """Return a JSON/YAML-ready nested dict (tuples become lists)."""
        return _to_plain(dataclasses.asdict(self))


def register_model_config(method: str, cls: type) -> None:
    """Register the frozen dataclass holding ``method``'s ``model:`` section.

    Args:
        method: the method name used in presets and ``--method``.
        cls: a frozen dataclass whose fields all have defaults.

    Raises:
        ValueError: if ``cls`` is not a frozen dataclass.
    """
    if not (dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen):
        raise ValueError(f'model config for {method!r} must be a frozen dataclass, got {cls!r}')
    MODEL_CONFIGS.register(method, cls)


def model_config_class(method: str) -> type:
    """Return the registered model dataclass of ``method``.

    Imports ``pose_reloc.training.<method>`` on first use so that the method module
    can register itself.

    Raises:
        ValueError: if no module registers ``method``.
    """
    return MODEL_CONFIGS.get(method)


def preset_path(name_or_path: Union[str, Path]) -> Path:
    """Resolve a preset name (``posenet-cpu``) or a YAML path to an existing file.

    Raises:
        FileNotFoundError: naming the searched places.
    """
    candidate = Path(name_or_path)
    if candidate.suffix in ('.yaml', '.yml') or candidate.exists():
        if candidate.is_file():
            return candidate
        raise FileNotFoundError(f'training preset file {candidate} does not exist')
    for folder in PRESET_DIRS:
        path = folder / f'{name_or_path}.yaml'
        if path.is_file():
            return path
    names = sorted({p.stem for d in PRESET_DIRS if d.is_dir() for p in d.glob('*.yaml')})
    raise FileNotFoundError(
        f'no training preset named {name_or_path!r} in {[str(d) for d in PRESET_DIRS]} '
        f'(available: {", ".join(names) or "none"})')


def available_presets() -> List[str]:
    """Return the names of the presets found in :data:`PRESET_DIRS`."""
    return sorted({p.stem for d in PRESET_DIRS if d.is_dir() for p in d.glob('*.yaml')})


def load_preset(name_or_path: Union[str, Path], overrides: Sequence[str] = (),
                method: Optional[str] = None) -> TrainConfig:
    """Load a preset, apply ``key=value`` overrides and build a :class:`TrainConfig`.

    Args:
        name_or_path: preset name under ``config/train`` or a YAML file path.
        overrides: dotted ``key=value`` strings; values are parsed as YAML
            (``optim.lr=3e-4``, ``data.scenes=[kitchen,office]``, ``method=mspn``).
        method: if given, the preset must be for this method (or name none).

    Returns:
        A new frozen :class:`TrainConfig`.

    Raises:
        FileNotFoundError: if the preset is missing.
        ValueError: naming the file and key for unknown keys, bad types or a method
            mismatch.
    """
    path = preset_path(name_or_path)
    raw = _read_preset_tree(path, seen=())
    for item in overrides:
        _apply_override(raw, item)
    if method is not None:
        preset_method = raw.get('method')
        if preset_method is not None and preset_method != method:
            raise ValueError(
                f'preset {path} is for method {preset_method!r}, not {method!r}')
        raw['method'] = method
    raw['preset'] = str(name_or_path)
    return config_from_dict(raw, where=str(path))


def config_from_dict(raw: Dict[str, Any], where: str = '<dict>') -> TrainConfig:
    """Build a :class:`TrainConfig` from a nested dict (e.g. a bundle's ``training``).

    Raises:
        ValueError: naming ``where`` and the key on unknown keys or bad values.
    """
    raw = dict(raw)
    method = raw.get('method')
    if not isinstance(method, str) or not method:
        raise ValueError(f'{where}: a training config needs a "method" string')
    model_cls = model_config_class(method)
    raw['model'] = _build(model_cls, raw.get('model') or {}, f'{where}: model')
    top = {k: v for k, v in raw.items() if k != 'model'}
    cfg = _build(TrainConfig, top, where)
    return dataclasses.replace(cfg, model=raw['model'])


def with_overrides(cfg: TrainConfig, overrides: Sequence[str]) -> TrainConfig:
    """Return a new config with dotted ``key=value`` overrides applied to ``cfg``."""
    raw = cfg.to_dict()
    for item in overrides:
        _apply_override(raw, item)
    return config_from_dict(raw, where=f'overrides of {cfg.preset or cfg.method}')


def _read_preset_tree(path: Path, seen: Tuple[Path, ...]) -> Dict[str, Any]:
    if path.resolve() in seen:
        raise ValueError(f'preset {path}: "extends" cycle through {[str(p) for p in seen]}')
    with open(path, encoding='utf-8') as f:
        try:
            raw = yaml.safe_load(f) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f'preset {path}: invalid YAML: {exc}') from exc
    if not isinstance(raw, dict):
        raise ValueError(f'preset {path}: top level must be a mapping, got {type(raw).__name__}')
    base_name = raw.pop('extends', None)
    if base_name is None:
        return raw
    base_path = preset_path(base_name) if not Path(str(base_name)).is_absolute() \
        else Path(base_name)
    if not base_path.is_file():
        base_path = path.parent / str(base_name)
    base = _read_preset_tree(base_path, seen + (path.resolve(),))
    if raw.get('method') not in (None, base.get('method')):
        base.pop('model', None)  # another method's model section does not carry over
    return _merge(base, raw)


def _merge(base: Dict[str, Any], top: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _apply_override(raw: Dict[str, Any], item: str) -> None:
    if '=' not in item:
        raise ValueError(f'override {item!r} must look like key=value (e.g. optim.lr=1e-3)')
    key, text = item.split('=', 1)
    key = key.strip()
    if not key:
        raise ValueError(f'override {item!r} has an empty key')
    try:
        value = yaml.safe_load(text) if text.strip() else ''
    except yaml.YAMLError as exc:
        raise ValueError(f'override {item!r}: value is not valid YAML: {exc}') from exc
    node = raw
    parts = key.split('.')
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ValueError(f'override {item!r}: {part!r} is not a section')
        node = child
    node[parts[-1]] = value


def _build(cls: type, values: Dict[str, Any], where: str) -> Any:
    if not isinstance(values, dict):
        raise ValueError(f'{where}: expected a mapping for {cls.__name__}, got {values!r}')
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f'{where}: unknown key(s) {unknown} for {cls.__name__} '
                         f'(known: {sorted(names)})')
    kwargs = {}
    for name, value in values.items():
        kwargs[name] = _coerce(hints[name], value, f'{where}.{name}')
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f'{where}: {exc}') from exc


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return value if dataclasses.is_dataclass(value) else _build(hint, value, where)
    if origin is Union:
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where) if len(inner) == 1 else value
    if origin in (tuple, Tuple):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f'{where}: expected a list, got {value!r}')
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        if args and len(args) != len(value):
            raise ValueError(f'{where}: expected {len(args)} values, got {len(value)}')
        return tuple(_coerce(a, v, where) for a, v in zip(args, value)) if args \
            else tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f'{where}: expected true/false, got {value!r}')
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError(f'{where}: expected an integer, got {value!r}')
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
            raise ValueError(f'{where}: expected a number, got {value!r}')
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f'{where}: expected a string, got {value!r}')
        return value
    return value


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value
