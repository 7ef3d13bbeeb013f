# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""DANCE as one chain: coloured point cloud + unlabeled photos -> SCR bundle (``dance`` command).

Each step is a typed ``main``-style function (hloc's pattern) that reads its inputs from
disk, writes its output under ``OUT`` and returns its path; a step whose output exists is
skipped (every writer in the chain is atomic, so an existing output is a complete one), and a
training step whose work directory holds a checkpoint resumes from it:

1. :func:`render_step`: ``OUT/renders`` (``data.cloud_render``): ``render.views`` labeled
   renders of the cloud with the camera's intrinsics at ``render.width x render.height``;
2. variant ``histmatch``: :func:`histmatch_step` -> ``OUT/histmatch`` (``data.histmatch``);
   variant ``cut``: :func:`cut_train_step` -> ``OUT/cut_model`` (``training.cut``, preset
   ``cut.config``) then :func:`translate_step` -> ``OUT/translated``
   (``inference.translate``); variant ``blind``: the renders as they are;
3. :func:`scr_step`: ``OUT/bundle``, the dense SCR trainer (``training.scr``, preset
   ``scr.config``) on step 2's dataset; photos are then localized by PnP-RANSAC as with any
   SCR bundle (``pose-reloc eval``, the ROS node).

``OUT/dance.json`` records the configuration of the first run; a later run into the same
``OUT`` with another configuration is refused (its skipped steps would be stale).

Sits above ``workflows`` (whose ``train_bundle`` it calls) and below ``ros`` and the commands.
"""

import dataclasses
from dataclasses import dataclass, field
import json
import logging
from pathlib import Path
import time
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import yaml

from pose_reloc.core.files import write_json
from pose_reloc.training.config import PRESET_DIRS

LOG = logging.getLogger(__name__)

#: folders searched for ``--config NAME`` presets (``config/dance``).
DANCE_PRESET_DIRS = [d.parent / 'dance' for d in PRESET_DIRS]
#: the ``dance.variant`` choices (DANCE's Table 1 rows a, b, d).
VARIANTS = ('blind', 'histmatch', 'cut')


@dataclass(frozen=True)
class DanceSection:
    """The ``dance:`` section.

    Attributes:
        variant: ``blind`` (renders as they are), ``histmatch`` or ``cut``.
        photo_split: photos used as the unlabeled pool when the photo folder is a dataset
            with splits (``''`` = all; ``train`` keeps test photos unseen).
        max_photos: at most this many pool photos (histogram matching and CUT; 0 = all).
        device: ``auto``, ``cpu``, ``cuda`` (CUT and SCR training, translation).
    """

    variant: str = 'cut'
    photo_split: str = 'train'
    max_photos: int = 500
    device: str = 'auto'


@dataclass(frozen=True)
class RenderSection:
    """The ``render:`` section (``data.cloud_render``).

    Attributes:
        views: number of renders.
        width: render width, pixels (0 = the camera's; the camera is rescaled).
        height: render height, pixels (0 = the camera's).
        seed: pose seed.
        height_m: camera height band above the floor, metres.
        pitch_deg: (mean, amplitude) pitch, degrees.
        roll_deg: roll amplitude, degrees.
        min_coverage: minimum covered fraction of a kept view.
    """

    views: int = 300
    width: int = 0
    height: int = 0
    seed: int = 0
    height_m: Tuple[float, float] = (1.0, 1.8)
    pitch_deg: Tuple[float, float] = (-8.0, 12.0)
    roll_deg: float = 3.0
    min_coverage: float = 0.6


@dataclass(frozen=True)
class TrainSection:
    """A ``cut:`` or ``scr:`` section: a training preset and its overrides."""

    config: str = ''
    overrides: Tuple[str, ...] = ()


@dataclass(frozen=True)
class DanceConfig:
    """The whole chain's configuration (``config/dance/<name>.yaml``)."""

    name: str = 'dance'
    dance: DanceSection = field(default_factory=DanceSection)
    render: RenderSection = field(default_factory=RenderSection)
    cut: TrainSection = field(default_factory=lambda: TrainSection('cut-cpu'))
    scr: TrainSection = field(default_factory=lambda: TrainSection('scr-lite-cpu'))

    def __post_init__(self):
        """Validate the variant (``ValueError`` naming the choices)."""
        if self.dance.variant not in VARIANTS:
            raise ValueError(f'dance.variant={self.dance.variant!r}; expected one of '
                             f'{VARIANTS}')

    def to_dict(self) -> Dict[str, Any]:
        """Return the JSON-ready dict of this configuration."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


_SECTIONS = {'dance': DanceSection, 'render': RenderSection, 'cut': TrainSection,
             'scr': TrainSection}


def _section(cls, values: Dict[str, Any], where: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f'{where}: unknown keys {unknown} (known: {sorted(names)})')
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def load_dance_config(name_or_path: str = 'dance-cpu',
                      overrides: Sequence[str] = ()) -> DanceConfig:
    """Load a dance preset (name in ``config/dance`` or a YAML file) and apply overrides.

    Args:
        name_or_path: preset name or YAML path.
        overrides: ``section.key=value`` strings with YAML values
            (``dance.variant=histmatch``, ``render.views=100``,
            ``scr.overrides=[optim.max_minutes=2]``).

    Returns:
        A new :class:`DanceConfig` (presets are never mutated).

    Raises:
        ValueError: unknown preset, section or key (named).
    """
    path = Path(name_or_path)
    if not path.suffix:
        found = [d / f'{name_or_path}.yaml' for d in DANCE_PRESET_DIRS
                 if (d / f'{name_or_path}.yaml').is_file()]
        if not found:
            raise ValueError(f'no dance preset {name_or_path!r} in '
                             f'{[str(d) for d in DANCE_PRESET_DIRS]}')
        path = found[0]
    tree = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
    for item in overrides:
        key, sep, text = item.partition('=')
        section, _, name = key.strip().partition('.')
        if not sep or not name or section not in _SECTIONS:
            raise ValueError(f'override {item!r} must look like SECTION.KEY=VALUE with '
                             f'SECTION one of {sorted(_SECTIONS)}')
        tree.setdefault(section, {})[name] = yaml.safe_load(text) if text.strip() else ''
    sections = {}
    for section, cls in _SECTIONS.items():
        values = tree.get(section) or {}
        if not isinstance(values, dict):
            raise ValueError(f'{path}: section {section!r} must be a mapping')
        sections[section] = _section(cls, values, f'{path} [{section}]')
    unknown = sorted(set(tree) - set(_SECTIONS) - {'name'})
    if unknown:
        raise ValueError(f'{path}: unknown sections {unknown} (known: {sorted(_SECTIONS)})')
    return DanceConfig(name=str(tree.get('name', path.stem)), **sections)


# -- the steps ---------------------------------------------------------------------------------

def render_step(conf: DanceConfig, cloud: Path, camera_yaml: Path, out: Path,
                scene_name: Optional[str] = None, progress: bool = True) -> Path:
    """Step 1: render the cloud into a posed folder (skipped when ``out`` exists)."""
    from pose_reloc.data.cloud_render import render_cloud_dataset, ViewConfig
    from pose_reloc.geometry.camera import read_camera_yaml
    if out.exists():
        LOG.info('dance: renders exist, skipped (%s)', out)
        return out
    camera = read_camera_yaml(camera_yaml)
    r = conf.render
    if r.width or r.height:
        camera = camera.resized(r.width or camera.width, r.height or camera.height)
    view_cfg = ViewConfig(height_m=tuple(r.height_m), pitch_deg=tuple(r.pitch_deg),
                          roll_deg=r.roll_deg, min_coverage=r.min_coverage)
    return render_cloud_dataset(cloud, camera, out, r.views, view_cfg, seed=r.seed,
                                progress=progress, scene_name=scene_name)


def histmatch_step(conf: DanceConfig, renders: Path, photos: Path, out: Path,
                   progress: bool = True) -> Path:
    """Step 2 (histmatch): match the renders to the photo pool (skipped when done)."""
    from pose_reloc.data.histmatch import histmatch_dataset
    if out.exists():
        LOG.info('dance: histogram-matched renders exist, skipped (%s)', out)
        return out
    return histmatch_dataset(renders, photos, out, max_photos=conf.dance.max_photos,
                             split=conf.dance.photo_split, progress=progress)


def cut_train_step(conf: DanceConfig, renders: Path, photos: Path, out: Path) -> Path:
    """Step 2 (cut): train CUT renders -> photos (skipped when the bundle exists; resumes)."""
    from pose_reloc.data.roles import parse_data_args
    from pose_reloc.training.config import load_preset
    from pose_reloc.workflows import train_bundle
    if (out / 'config.json').is_file():
        LOG.info('dance: CUT bundle exists, skipped (%s)', out)
        return out
    overrides = [f'model.target_split={conf.dance.photo_split}',
                 f'model.max_images={conf.dance.max_photos}',
                 f'run.device={conf.dance.device}', *conf.cut.overrides]
    cfg = load_preset(conf.cut.config, overrides, method='cut')
    resume = (Path(str(out) + '.work') / 'checkpoint.pt').is_file()
    return train_bundle('cut', cfg, parse_data_args([f'source={renders}', f'target={photos}']),
                        out, resume=resume)


def translate_step(conf: DanceConfig, cut_bundle: Path, renders: Path, out: Path,
                   progress: bool = True) -> Path:
    """Step 2 (cut): translate the renders with the CUT generator (skipped when done)."""
    from pose_reloc.inference.translate import translate_dataset
    if out.exists():
        LOG.info('dance: translated renders exist, skipped (%s)', out)
        return out
    return translate_dataset(cut_bundle, renders, out, device=conf.dance.device,
                             progress=progress)


def scr_step(conf: DanceConfig, data: Path, out: Path) -> Path:
    """Step 3: train the dense SCR on the (restyled) renders (skipped when done; resumes)."""
    from pose_reloc.training.config import load_preset
    from pose_reloc.workflows import train_bundle
    if (out / 'config.json').is_file():
        LOG.info('dance: SCR bundle exists, skipped (%s)', out)
        return out
    cfg = load_preset(conf.scr.config, [f'run.device={conf.dance.device}', 'data.val_split=',
                                        *conf.scr.overrides], method='scr')
    work = Path(str(out) + '.work')
    resume = any(work.rglob('checkpoint.pt')) if work.is_dir() else False
    return train_bundle('scr', cfg, data, out, resume=resume)


def run_dance(cloud: Union[str, Path], photos: Union[str, Path],
              camera_yaml: Union[str, Path], out: Union[str, Path],
              conf: Optional[DanceConfig] = None, scene_name: Optional[str] = None,
              progress: bool = True) -> Dict[str, Any]:
    """Run the chain (see the module docstring) and return its report.

    Args:
        cloud: coloured point cloud (``.ply`` / ``.pcd``), map frame, z up, metres.
        photos: the unlabeled photos: a posed dataset (poses ignored) or a folder of images.
        camera_yaml: the real camera (ROS camera_info YAML).
        out: output folder (steps' outputs, ``bundle``, ``dance.json``, ``report.json``).
        conf: configuration (default: the ``dance-cpu`` preset).
        scene_name: scene name of the renders and the bundle (default: the cloud's folder).
        progress: progress bars.

    Returns:
        ``{'bundle', 'steps': {name: {'path', 'seconds', 'skipped'}}, 'config'}``, also
        written to ``OUT/report.json``.

    Raises:
        ValueError: when ``OUT`` was made with another configuration.
    """
    conf = conf or load_dance_config('dance-cpu')
    cloud, photos, camera_yaml, out = (Path(p) for p in (cloud, photos, camera_yaml, out))
    for path in (cloud, photos, camera_yaml):
        if not path.exists():
            raise FileNotFoundError(f'{path}: not found')
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / 'dance.json'
    inputs = {'cloud': str(cloud.resolve()), 'photos': str(photos.resolve()),
              'camera': str(camera_yaml.resolve()), 'config': conf.to_dict()}
    if stamp.is_file():
        before = json.loads(stamp.read_text(encoding='utf-8'))
        if before != inputs:
            changed = sorted(k for k in inputs if before.get(k) != inputs[k])
            raise ValueError(f'{out} was made by a dance run with other {changed}; its '
                             'finished steps would be reused: pick a fresh --out')
    else:
        write_json(stamp, inputs)
    steps: Dict[str, Dict[str, Any]] = {}

    def timed(name: str, path: Path, fn, *args, **kwargs) -> Path:
        done = (path / 'config.json').is_file() if name in ('cut_train', 'scr') \
            else path.exists()
        t0 = time.monotonic()
        result = fn(*args, **kwargs)
        steps[name] = {'path': str(result), 'seconds': round(time.monotonic() - t0, 2),
                       'skipped': done}
        return Path(result)

    name = scene_name or cloud.parent.name or 'scene'
    renders = timed('render', out / 'renders', render_step, conf, cloud, camera_yaml,
                    out / 'renders', name, progress)
    data = renders
    if conf.dance.variant == 'histmatch':
        data = timed('histmatch', out / 'histmatch', histmatch_step, conf, renders, photos,
                     out / 'histmatch', progress)
    elif conf.dance.variant == 'cut':
        model = timed('cut_train', out / 'cut_model', cut_train_step, conf, renders, photos,
                      out / 'cut_model')
        data = timed('translate', out / 'translated', translate_step, conf, model, renders,
                     out / 'translated', progress)
    bundle = timed('scr', out / 'bundle', scr_step, conf, data, out / 'bundle')
    report = {'bundle': str(bundle), 'variant': conf.dance.variant, 'steps': steps,
              'config': conf.to_dict()}
    write_json(out / 'report.json', report)
    return report
