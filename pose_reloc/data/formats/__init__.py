# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Dataset formats: one loader for every layout, all yielding :class:`Scene` records.

``load_dataset(path)`` recognizes, in this order:

- ``'posed'``: the project's posed folder (``camera.yaml`` + ``poses.txt``);
- ``'7scenes'``: Microsoft 7-Scenes (``seq-NN/frame-*.pose.txt``, ``TrainSplit.txt``);
- ``'cambridge'``: Cambridge Landmarks (``dataset_train.txt`` / ``dataset_test.txt``);
- ``'nerf'``: NeRF ``transforms_{train,val,test}.json`` or ``transforms.json``;

and a *multi-scene root*: a folder that is none of these but whose sub-folders are (each
sub-folder is read with its own detected format; other sub-folders are ignored).

Every scene, whatever its format, goes through the row sanity checks of
:mod:`pose_reloc.data.sanity`: rows whose camera position is far outside the scene are left
out (with a warning naming file and line) and listed in ``Scene.outliers``.
"""

from pathlib import Path
from typing import Callable, Dict, Optional, Union

from pose_reloc.data.formats import cambridge, nerf, posed_folder, sevenscenes
from pose_reloc.data.formats.posed_folder import PosedFolderWriter, write_scene
from pose_reloc.data.sanity import drop_position_outliers

__all__ = ['FORMATS', 'detect_format', 'load_dataset', 'PosedFolderWriter', 'write_scene',
           'cambridge', 'nerf', 'posed_folder', 'sevenscenes']

#: format name -> (detector, scene reader), in detection order.
FORMATS: Dict[str, tuple] = {
    'posed': (posed_folder.is_posed_folder, posed_folder.read_scene),
    '7scenes': (sevenscenes.is_sevenscenes, sevenscenes.read_scene),
    'cambridge': (cambridge.is_cambridge, cambridge.read_scene),
    'nerf': (nerf.is_nerf, nerf.read_scene),
}


def detect_format(path: Union[str, Path]) -> Optional[str]:
    """Return the format name of the scene folder ``path``, or None if it is not one."""
    path = Path(path)
    if not path.is_dir():
        return None
    for name, (detector, _) in FORMATS.items():
        if detector(path):
            return name
    return None


def _scene_format(path: Path, fmt: str) -> Optional[str]:
    """Format to read ``path`` with: detected (``fmt='auto'``) or ``fmt`` if it matches."""
    if fmt == 'auto':
        return detect_format(path)
    return fmt if FORMATS[fmt][0](path) else None


def _reader(fmt: str) -> Callable:
    if fmt not in FORMATS:
        raise ValueError(f'unknown dataset format {fmt!r}; expected auto or one of '
                         f'{", ".join(FORMATS)}')
    return FORMATS[fmt][1]


def _sanitized(scene, keep_outliers: bool):
    """Apply the row sanity checks (outliers left out unless ``keep_outliers``)."""
    if keep_outliers:
        from pose_reloc.data.sanity import position_outliers
        scene.outliers = position_outliers(scene.frames)
        return scene
    return drop_position_outliers(scene)


def load_dataset(path: Union[str, Path], fmt: str = 'auto', keep_outliers: bool = False,
                 **kw) -> list:
    """Load a dataset: one scene folder or a multi-scene root.

    Args:
        path: a scene folder or a folder of scene folders.
        fmt: ``'auto'`` (detect per folder) or one of :data:`FORMATS`.
        keep_outliers: keep rows the sanity checks flag in ``frames`` (they are still listed
            in ``Scene.outliers``); by default they are left out, with a warning.
        **kw: passed to the scene reader (e.g. ``camera=`` for 7-Scenes / Cambridge,
            ``check_images=False`` to skip the per-image size check).

    Returns:
        list of Scene (one for a scene folder; sorted by folder name for a root).

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no recognizable scene.
        ValueError: unknown ``fmt``, or bad data (see each reader).
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f'{root}: dataset path not found')
    if not root.is_dir():
        raise FileNotFoundError(f'{root}: a dataset is a folder, got a file')
    if fmt != 'auto':
        _reader(fmt)
    own = _scene_format(root, fmt)
    if own is not None:
        return [_sanitized(_reader(own)(root, **kw), keep_outliers)]
    scenes = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if sub.name.startswith('.') or sub.name.endswith(posed_folder.PARTIAL_SUFFIX):
            continue
        sub_fmt = _scene_format(sub, fmt)
        if sub_fmt is not None:
            scenes.append(_sanitized(_reader(sub_fmt)(sub, **kw), keep_outliers))
    if not scenes:
        wanted = 'a dataset' if fmt == 'auto' else f'a {fmt} dataset'
        raise FileNotFoundError(f'{root}: not {wanted}: found no scene folder here or in its '
                                f'sub-folders (formats: {", ".join(FORMATS)})')
    return scenes
