# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Evaluate a localizer on a posed dataset: errors, rates, latency, TUM files, a plot.

The report (``evaluate(...)``, ``pose-reloc eval --json``) has stable keys:

- the summary keys of :func:`pose_reloc.geometry.metrics.summarize`, computed over the
  frames that got a pose: ``median_translation_m``, ``mean_translation_m``,
  ``p95_translation_m``, ``max_translation_m`` and the same with ``_rotation_deg``
  (null when no frame got a pose); ``rate_<cm>cm_<deg>deg`` (e.g. ``rate_5cm_5deg``) are
  over **all** frames (a failure counts as a miss);
- ``frames`` (all evaluated frames), ``localized``, ``failures``, ``failure_rate``;
- ``latency_ms``: ``{mean, median, p95, max}`` of the wall time of ``localize`` calls;
- ``timings_ms``: ``{stage: {mean, median, p95, max}}`` from the estimates' ``timings_ms``
  (e.g. ``network``, ``pnp``);
- ``extras``: ``{key: {mean, median, p95, max}}`` of numeric per-frame ``extras``
  (e.g. ``inlier_ratio``, ``scene_probability``);
- ``scene_accuracy``: fraction of frames whose predicted scene is right (multi-scene
  models without an oracle scene; else absent);
- ``covariance``: calibration of the reported covariances (when given): fraction of frames
  whose translation / rotation / full 6-D error lies inside the 2-sigma region
  (chi-square 95.45 % quantile), ``expected`` = 0.9545; the covariances are those the
  localizer returns, i.e. scaled by the bundle's ``covariance_calibration`` when it has one;
- ``per_scene``: ``{scene: {...the same keys...}}``;
- ``method``, ``bundle``, ``data_root``, ``split``, ``oracle_scene``, ``device``,
  ``per_frame`` (one dict per frame, when ``include_frames``).
"""

import logging
import os
from pathlib import Path
import time
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
from tqdm import tqdm

from pose_reloc.core.files import write_json
from pose_reloc.core.util import evenly_spaced
from pose_reloc.data.formats import load_dataset
from pose_reloc.data.records import Frame, load_image
from pose_reloc.data.tum import write_tum_ns
from pose_reloc.geometry.metrics import rotation_error_deg, summarize, translation_error_m
from pose_reloc.inference.calibration import CHI2_2SIGMA, mahalanobis_sq, pose_error_6d

LOG = logging.getLogger(__name__)

TWO_SIGMA_MASS = 0.9545


def evaluate(bundle_or_localizer: Any, data_root: Union[str, Path], split: str = 'test',
             scenes: Optional[Sequence[str]] = None, device: str = 'auto',
             oracle_scene: bool = False, max_frames: int = 0,
             json_out: Optional[Union[str, Path]] = None,
             tum_out: Optional[Union[str, Path]] = None,
             plot_out: Optional[Union[str, Path]] = None, include_frames: bool = True,
             progress: bool = True, **localizer_options: Any) -> Dict[str, Any]:
    """Localize every frame of ``split`` and compare with the ground truth.

    Args:
        bundle_or_localizer: a bundle path or an object following the ``Localizer``
            protocol.
        data_root: a dataset readable by :func:`pose_reloc.data.formats.load_dataset`.
        split: the split to evaluate (``''`` = all frames).
        scenes: scene names to evaluate (default: the dataset scenes the model knows; a
            single-scene model whose scene name is not in the dataset is evaluated on all
            of its scenes, e.g. the naive one-PoseNet-for-all-scenes model).
        device: for a bundle path: ``auto``, ``cpu`` or ``cuda``.
        oracle_scene: pass the true scene name to ``localize`` (MSPN's oracle head).
        max_frames: evaluate at most this many frames per scene, evenly spaced (0 = all).
        json_out: write the report here (atomic).
        tum_out: write predicted poses as TUM (one scene: this path; several scenes:
            ``<stem>_<scene><suffix>`` beside it).
        plot_out: write a top-down trajectory plot (ground truth vs prediction per scene).
        include_frames: keep the per-frame list in the report.
        progress: show a tqdm bar.
        **localizer_options: passed to ``load_localizer`` for a bundle path; refused with
            a localizer object (it is built already).

    Returns:
        The report dict (see the module docstring).

    Raises:
        ValueError: if no frame of ``split`` in a scene the model knows is found, or
            ``localizer_options`` come with a localizer object.
    """
    if localizer_options and not isinstance(bundle_or_localizer, (str, Path)):
        raise ValueError(f'localizer options {sorted(localizer_options)} apply when '
                         'evaluate() loads a bundle path; pass them to load_localizer() for '
                         'a localizer object')
    if isinstance(bundle_or_localizer, (str, Path)):
        from pose_reloc.inference import load_localizer
        localizer = load_localizer(bundle_or_localizer, device=device, **localizer_options)
        bundle = str(bundle_or_localizer)
    else:
        localizer = bundle_or_localizer
        bundle = getattr(localizer, 'bundle_path', None)
        bundle = str(bundle) if bundle is not None else None
    frames_by_scene = select_frames(load_dataset(data_root), list(localizer.scenes), split,
                                    scenes, max_frames)
    model_scenes = list(localizer.scenes)
    multi_scene = len(model_scenes) > 1
    rows: List[Dict[str, Any]] = []
    total = sum(len(v) for v in frames_by_scene.values())
    bar = tqdm(total=total, desc='eval', disable=not progress, dynamic_ncols=True)
    for scene_name, frames in frames_by_scene.items():
        query_scene = _model_scene_name(scene_name, model_scenes)
        for frame in frames:
            image = load_image(frame)
            t0 = time.perf_counter()
            est = localizer.localize(image, camera=frame.camera,
                                     scene=query_scene if oracle_scene else None)
            latency = (time.perf_counter() - t0) * 1000.0
            rows.append(_frame_row(frame, scene_name, query_scene, est, latency, multi_scene,
                                   oracle_scene))
            bar.update(1)
    bar.close()
    report: Dict[str, Any] = {
        'method': getattr(localizer, 'method', None),
        'bundle': bundle,
        'data_root': str(data_root),
        'split': split,
        'oracle_scene': bool(oracle_scene),
        'device': str(getattr(localizer, 'device', device)),
    }
    report.update(_summarize_rows(rows, multi_scene and not oracle_scene))
    report['per_scene'] = {
        name: _summarize_rows([r for r in rows if r['scene'] == name],
                              multi_scene and not oracle_scene)
        for name in frames_by_scene}
    if include_frames:
        report['per_frame'] = rows
    if tum_out is not None:
        report['tum_files'] = [str(p) for p in write_predictions_tum(rows, tum_out)]
    if plot_out is not None:
        report['plot'] = str(plot_trajectories(rows, plot_out))
    if json_out is not None:
        write_json(json_out, report)
    return report


def select_frames(dataset_scenes: Sequence[Any], model_scenes: Sequence[str], split: str,
                  scenes: Optional[Sequence[str]] = None,
                  max_frames: int = 0) -> Dict[str, List[Frame]]:
    """Pick the frames to evaluate, per scene.

    Args:
        dataset_scenes: ``Scene`` objects from ``load_dataset``.
        model_scenes: the scene names the model knows.
        split: split name (``''`` = all frames).
        scenes: explicit scene names (default: dataset scenes the model knows).
        max_frames: at most this many frames per scene, evenly spaced (0 = all).

    Returns:
        ``{scene name: [Frame, ...]}`` in dataset order.

    Raises:
        ValueError: naming the scenes when nothing matches or a split is empty.
    """
    by_name = {s.name: s for s in dataset_scenes}
    if scenes:
        missing = [s for s in scenes if s not in by_name]
        if missing:
            raise ValueError(f'scenes {missing} not in the dataset (has {sorted(by_name)})')
        names = list(scenes)
    elif len(model_scenes) == 1 and (len(by_name) == 1 or model_scenes[0] not in by_name):
        names = list(by_name)
    else:
        names = [n for n in by_name if n in model_scenes]
        if not names:
            raise ValueError(f'the dataset scenes {sorted(by_name)} are unknown to the model '
                             f'(it knows {list(model_scenes)})')
    out: Dict[str, List[Frame]] = {}
    for name in names:
        scene = by_name[name]
        frames = scene.split(split) if split else list(scene.frames)
        if not frames:
            raise ValueError(f'scene {name!r} has no frames in split {split!r}')
        frames = evenly_spaced(frames, max_frames)
        out[name] = frames
    return out


def _model_scene_name(scene_name: str, model_scenes: Sequence[str]) -> Optional[str]:
    if scene_name in model_scenes:
        return scene_name
    return model_scenes[0] if len(model_scenes) == 1 else None


def _frame_row(frame: Frame, scene_name: str, query_scene: Optional[str], est: Any,
               latency_ms: float, multi_scene: bool, oracle: bool) -> Dict[str, Any]:
    T_gt = np.asarray(frame.T_world_cam, dtype=np.float64)
    row: Dict[str, Any] = {
        'scene': scene_name,
        'timestamp_ns': int(frame.timestamp_ns),
        'image': str(frame.image_path),
        'ok': bool(est.ok and est.T_world_cam is not None
                   and np.all(np.isfinite(est.T_world_cam))),
        'latency_ms': latency_ms,
        'confidence': float(est.confidence),
        'predicted_scene': est.scene,
        'failure': est.failure,
        'T_gt': T_gt.tolist(),
    }
    if multi_scene and not oracle:
        row['scene_correct'] = est.scene == query_scene
    if row['ok']:
        T_est = np.asarray(est.T_world_cam, dtype=np.float64)
        row['T_est'] = T_est.tolist()
        row['translation_error_m'] = float(translation_error_m(T_est[None], T_gt[None])[0])
        row['rotation_error_deg'] = float(rotation_error_deg(T_est[None], T_gt[None])[0])
        if est.covariance is not None:
            row.update(covariance_coverage(T_est, T_gt,
                                           np.asarray(est.covariance, dtype=np.float64)))
    for key, value in (est.timings_ms or {}).items():
        row[f'timing_{key}_ms'] = float(value)
    for key, value in (est.extras or {}).items():
        if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(
                value, bool):
            row[f'extra_{key}'] = float(value)
    return row


def covariance_coverage(T_est: np.ndarray, T_gt: np.ndarray,
                        cov_66: np.ndarray) -> Dict[str, Any]:
    """Whether ``cov_66`` covers the error of ``T_est`` at 2 sigma (Mahalanobis distance).

    Returns:
        ``within_2sigma_t|r|pose`` (bools; False for a covariance that is not positive
        definite) and ``sigma_translation_m`` (RMS of the translation sigmas).
    """
    err = pose_error_6d(T_est, T_gt)[None]
    out = {}
    for name, sl, dof in (('t', slice(0, 3), 3), ('r', slice(3, 6), 3), ('pose', slice(0, 6), 6)):
        d2 = mahalanobis_sq(err, cov_66[None], sl)[0]  # NaN (outside) if not positive definite
        out[f'within_2sigma_{name}'] = bool(d2 <= CHI2_2SIGMA[dof])
    out['sigma_translation_m'] = float(np.sqrt(max(np.trace(cov_66[:3, :3]), 0.0) / 3.0))
    return out


def _stats(values: Sequence[float]) -> Dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {'mean': float(arr.mean()), 'median': float(np.median(arr)),
            'p95': float(np.percentile(arr, 95)), 'max': float(arr.max())}


def _summarize_rows(rows: List[Dict[str, Any]], with_scene_accuracy: bool) -> Dict[str, Any]:
    ok = [r for r in rows if r['ok']]
    n = len(rows)
    out = dict(summarize(np.array([r.get('translation_error_m', np.nan) for r in rows]),
                         np.array([r.get('rotation_error_deg', np.nan) for r in rows]),
                         failed=np.array([not r['ok'] for r in rows], dtype=bool)))
    out['frames'] = n
    out['localized'] = len(ok)
    out['failures'] = n - len(ok)
    out['failure_rate'] = (n - len(ok)) / max(n, 1)
    if rows:
        out['latency_ms'] = _stats([r['latency_ms'] for r in rows])
    timing_keys = sorted({k for r in rows for k in r if k.startswith('timing_')})
    out['timings_ms'] = {k[len('timing_'):-len('_ms')]: _stats([r[k] for r in rows if k in r])
                         for k in timing_keys}
    extra_keys = sorted({k for r in rows for k in r if k.startswith('extra_')})
    out['extras'] = {k[len('extra_'):]: _stats([r[k] for r in rows if k in r])
                     for k in extra_keys}
    if with_scene_accuracy and rows:
        out['scene_accuracy'] = float(np.mean([r.get('scene_correct', False) for r in rows]))
    cov_rows = [r for r in ok if 'within_2sigma_pose' in r]
    if cov_rows:
        out['covariance'] = {
            'frames': len(cov_rows),
            'expected': TWO_SIGMA_MASS,
            'within_2sigma_translation': float(np.mean([r['within_2sigma_t'] for r in cov_rows])),
            'within_2sigma_rotation': float(np.mean([r['within_2sigma_r'] for r in cov_rows])),
            'within_2sigma_pose': float(np.mean([r['within_2sigma_pose'] for r in cov_rows])),
            'median_sigma_translation_m': float(
                np.median([r['sigma_translation_m'] for r in cov_rows])),
        }
    return out


def write_predictions_tum(rows: List[Dict[str, Any]], path: Union[str, Path]) -> List[Path]:
    """Write the predicted poses of ``rows`` as TUM trajectories (one file per scene).

    Returns:
        The written paths: ``path`` for one scene, ``<stem>_<scene><suffix>`` for several.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scene_names = list(dict.fromkeys(r['scene'] for r in rows))
    written = []
    for name in scene_names:
        ok = [r for r in rows if r['scene'] == name and r['ok']]
        target = path if len(scene_names) == 1 else path.with_name(
            f'{path.stem}_{name}{path.suffix}')
        stamps_ns = np.array([r['timestamp_ns'] for r in ok], dtype=np.int64)
        poses = np.array([r['T_est'] for r in ok], dtype=np.float64).reshape(-1, 4, 4)
        write_tum_ns(target, stamps_ns, poses)
        written.append(target)
    return written


def plot_trajectories(rows: List[Dict[str, Any]], path: Union[str, Path]) -> Path:
    """Plot ground truth vs predicted camera positions, top-down, one panel per scene.

    The view plane is spanned by the two principal axes of each scene's ground-truth
    positions (datasets disagree on which world axis is up). Lines join each
    prediction to its ground truth.

    Returns:
        The written image path.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scene_names = list(dict.fromkeys(r['scene'] for r in rows))
    cols = min(len(scene_names), 3) or 1
    nrows = (len(scene_names) + cols - 1) // cols or 1
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 4.5 * nrows), squeeze=False)
    for ax, name in zip(axes.ravel(), scene_names):
        scene_rows = [r for r in rows if r['scene'] == name]
        gt = np.array([np.asarray(r['T_gt'])[:3, 3] for r in scene_rows])
        center = gt.mean(axis=0)
        _, _, vt = np.linalg.svd(gt - center, full_matrices=True)
        basis = vt[:2].T
        gt2 = (gt - center) @ basis
        ax.plot(gt2[:, 0], gt2[:, 1], '-', color='0.3', lw=1.2, label='ground truth')
        ok = [r for r in scene_rows if r['ok']]
        if ok:
            est2 = (np.array([np.asarray(r['T_est'])[:3, 3] for r in ok]) - center) @ basis
            gt_ok2 = (np.array([np.asarray(r['T_gt'])[:3, 3] for r in ok]) - center) @ basis
            for a, b in zip(gt_ok2, est2):
                ax.plot([a[0], b[0]], [a[1], b[1]], '-', color='tab:red', lw=0.4, alpha=0.5)
            ax.plot(est2[:, 0], est2[:, 1], '.', color='tab:blue', ms=3, label='prediction')
        errs = [r['translation_error_m'] for r in ok]
        med = f'{np.median(errs):.3f} m' if errs else 'n/a'
        ax.set_title(f'{name}: {len(scene_rows)} frames, median {med}')
        ax.set_aspect('equal', adjustable='datalim')
        ax.set_xlabel('principal axis 1 (m)')
        ax.set_ylabel('principal axis 2 (m)')
        ax.legend(loc='best', fontsize=8)
    for ax in axes.ravel()[len(scene_names):]:
        ax.axis('off')
    fig.tight_layout()
    tmp = path.with_name(f'{path.stem}.tmp{path.suffix or ".png"}')
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
