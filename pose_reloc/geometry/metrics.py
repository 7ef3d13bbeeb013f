# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Pose error metrics, localization rates and summary tables.

Translation error: Euclidean distance of the camera centres (metres). Rotation error:
``2 * acos(|<q, q_hat>|)`` in degrees, with q the (x, y, z, w) quaternions of the two
rotations. Poses are ``T_world_cam`` (camera-to-world).
"""

import math

import numpy as np

from pose_reloc.geometry.rotations import as_float_array, matrix_to_quat, quat_conjugate
from pose_reloc.geometry.rotations import quat_multiply

#: Localization thresholds ``(metres, degrees)``: 5 cm/5 deg, 25 cm/2 deg, 0.5 m/5 deg,
#: 5 m/10 deg.
THRESHOLDS = ((0.05, 5.0), (0.25, 2.0), (0.5, 5.0), (5.0, 10.0))

_STATS = ('median', 'mean', 'p95', 'max')


def rate_key(t_m, r_deg):
    """Return the summary key of a threshold pair, e.g. ``'rate_5cm_5deg'`` for (0.05, 5).

    Args:
        t_m: translation threshold, metres.
        r_deg: rotation threshold, degrees.

    Returns:
        str key.
    """
    return f'rate_{round(t_m * 100):d}cm_{r_deg:g}deg'


def _as_poses(T, name):
    return as_float_array(T, (4, 4), name, 'poses')


def translation_error_m(T_est, T_gt):
    """Distance between estimated and true camera centres.

    Args:
        T_est: (..., 4, 4) estimated ``T_world_cam``.
        T_gt: (..., 4, 4) ground-truth ``T_world_cam``.

    Returns:
        (...,) float64 errors, metres (NaN where an input is NaN).
    """
    T_est_arr = _as_poses(T_est, 'T_est')
    T_gt_arr = _as_poses(T_gt, 'T_gt')
    return np.linalg.norm(T_est_arr[..., :3, 3] - T_gt_arr[..., :3, 3], axis=-1)


def quat_angle_error_deg(q_est, q_gt):
    """Rotation angle between quaternions: ``2 * acos(|<q_est, q_gt>|)``, degrees.

    Evaluated as ``2 * atan2(|v|, |w|)`` of the relative quaternion ``(v, w) = q_gt^-1 *
    q_est``, the same value for unit quaternions (``|w| = |<q_est, q_gt>|``) but accurate
    down to ~1e-12 deg where ``acos`` near 1 bottoms out at ~1e-6 deg.

    Args:
        q_est: (..., 4) quaternions, xyzw (normalized here; sign does not matter).
        q_gt: (..., 4) quaternions, xyzw.

    Returns:
        (...,) float64 angles in [0, 180] degrees (NaN where an input is NaN or zero).
    """
    a = as_float_array(q_est, (4,), 'q_est', 'quaternions xyzw')
    b = as_float_array(q_gt, (4,), 'q_gt', 'quaternions xyzw')
    with np.errstate(invalid='ignore', divide='ignore'):
        a = a / np.linalg.norm(a, axis=-1, keepdims=True)
        b = b / np.linalg.norm(b, axis=-1, keepdims=True)
        q_rel = quat_multiply(quat_conjugate(b), a)
        angle = 2.0 * np.arctan2(np.linalg.norm(q_rel[..., :3], axis=-1), np.abs(q_rel[..., 3]))
    return np.degrees(angle)


def rotation_error_deg(T_est, T_gt):
    """Rotation error between estimated and true poses, ``2 * acos(|<q, q_hat>|)``.

    Args:
        T_est: (..., 4, 4) estimated ``T_world_cam``.
        T_gt: (..., 4, 4) ground-truth ``T_world_cam``.

    Returns:
        (...,) float64 errors in [0, 180] degrees (NaN where an input is NaN).
    """
    q_est = matrix_to_quat(_as_poses(T_est, 'T_est')[..., :3, :3])
    q_gt = matrix_to_quat(_as_poses(T_gt, 'T_gt')[..., :3, :3])
    return quat_angle_error_deg(q_est, q_gt)


def summarize(t_err_m, r_err_deg, failed=None):
    """Summary statistics and localization rates of per-frame errors.

    Frames marked in ``failed`` or with a non-finite error count as failures: they are
    excluded from the statistics and count as not localized in the rates.

    Args:
        t_err_m: (N,) translation errors, metres.
        r_err_deg: (N,) rotation errors, degrees.
        failed: optional (N,) bool mask of frames where localization failed.

    Returns:
        dict with ``frames`` (N), ``failures``, ``median_translation_m``,
        ``mean_translation_m``, ``p95_translation_m``, ``max_translation_m``,
        ``median_rotation_deg``, ``mean_rotation_deg``, ``p95_rotation_deg``,
        ``max_rotation_deg`` (NaN if no frame succeeded) and one ``rate_<cm>cm_<deg>deg``
        per entry of :data:`THRESHOLDS` (fraction of all N frames in [0, 1], NaN if N = 0).
        Values are plain Python ints/floats (JSON-ready).
    """
    t_err = np.asarray(t_err_m, dtype=np.float64).ravel()
    r_err = np.asarray(r_err_deg, dtype=np.float64).ravel()
    if t_err.shape != r_err.shape:
        raise ValueError(f'summarize: t_err_m has {t_err.size} values, r_err_deg {r_err.size}')
    failed_mask = np.zeros(t_err.shape, dtype=bool)
    if failed is not None:
        failed_mask = np.asarray(failed, dtype=bool).ravel()
        if failed_mask.shape != t_err.shape:
            raise ValueError(f'summarize: failed has {failed_mask.size} values, expected '
                             f'{t_err.size}')
    ok = ~failed_mask & np.isfinite(t_err) & np.isfinite(r_err)
    n = int(t_err.size)
    out = {'frames': n, 'failures': int(n - np.count_nonzero(ok))}
    for errors, suffix in ((t_err[ok], 'translation_m'), (r_err[ok], 'rotation_deg')):
        if errors.size == 0:
            stats = dict.fromkeys(_STATS, math.nan)
        else:
            stats = {'median': np.median(errors), 'mean': np.mean(errors),
                     'p95': np.percentile(errors, 95), 'max': np.max(errors)}
        for stat in _STATS:
            out[f'{stat}_{suffix}'] = float(stats[stat])
    for t_thr, r_thr in THRESHOLDS:
        t_ok = np.where(ok, t_err, np.inf) <= t_thr
        r_ok = np.where(ok, r_err, np.inf) <= r_thr
        hits = ok & t_ok & r_ok
        out[rate_key(t_thr, r_thr)] = float(np.count_nonzero(hits) / n) if n else math.nan
    return out


def _format_cell(value, width, percent):
    """Format one table cell right-aligned; NaN and None show as '-'."""
    if value is None or (isinstance(value, (float, np.floating)) and not math.isfinite(value)):
        text = '-'
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        text = str(int(value))
    elif isinstance(value, (float, np.floating)):
        text = f'{100.0 * value:.1f}' if percent else f'{float(value):.3f}'
    else:
        text = str(value)
    return text.rjust(width)


#: Default columns of :func:`per_scene_table`: (summary key, header, percent?).
TABLE_COLUMNS = (
    ('frames', 'frames', False),
    ('failures', 'fail', False),
    ('median_translation_m', 'med t (m)', False),
    ('median_rotation_deg', 'med r (deg)', False),
) + tuple((rate_key(t, r), f'{round(t * 100)}cm/{r:g}deg %', True) for t, r in THRESHOLDS)


def per_scene_table(rows, columns=TABLE_COLUMNS):
    """Format per-scene summaries as a fixed-width text table.

    Args:
        rows: mapping ``scene name -> summary dict`` (from :func:`summarize`) or a sequence
            of ``(scene name, summary dict)`` pairs, in display order.
        columns: sequence of ``(key, header, percent)``; ``percent`` columns show
            ``100 * value`` (rates). Missing keys and NaN show as ``-``.

    Returns:
        str table (header line, rule, one line per scene), no trailing newline.
    """
    items = list(rows.items()) if isinstance(rows, dict) else list(rows)
    name_width = max([len('scene')] + [len(str(name)) for name, _ in items])
    widths = [max(len(header), 9) for _, header, _ in columns]
    lines = ['  '.join(['scene'.ljust(name_width)]
                       + [header.rjust(w) for (_, header, _), w in zip(columns, widths)])]
    lines.append('-' * len(lines[0]))
    for name, summary in items:
        cells = [str(name).ljust(name_width)]
        for (key, _, percent), w in zip(columns, widths):
            cells.append(_format_cell(summary.get(key), w, percent))
        lines.append('  '.join(cells))
    return '\n'.join(lines)
