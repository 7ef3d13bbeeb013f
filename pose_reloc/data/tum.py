# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""TUM trajectory files: ``timestamp tx ty tz qx qy qz qw`` per line.

Timestamps are seconds; the pose is ``T_world_cam`` (camera-to-world) with the quaternion
in (x, y, z, w) order, the format read by evo (``evo_traj tum ...``) and the TUM RGB-D tools.
Lines starting with ``#`` and blank lines are comments. Float64 seconds cannot hold
nanosecond stamps of the Unix epoch exactly; :func:`read_tum_ns` / :func:`write_tum_ns`
keep exact integer nanoseconds by parsing/printing the decimal text.
"""

from decimal import Decimal, InvalidOperation
import math
from pathlib import Path

import numpy as np

from pose_reloc.geometry.rotations import matrix_to_quat, quat_validate
from pose_reloc.geometry.se3 import is_valid_T, T_from_pos_quat

#: Accepted deviation of a quaternion's norm from 1; files with quaternions rounded to 4
#: decimals (the TUM RGB-D ground truth) pass, unnormalized ones do not.
QUAT_TOLERANCE = 1e-3


def _parse(path):
    """Parse a TUM file into (timestamp strings, (N, 7) values, line numbers)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'TUM trajectory not found: {path}')
    stamps, values, line_numbers = [], [], []
    with path.open() as f:
        for line_no, line in enumerate(f, start=1):
            text = line.strip()
            if not text or text.startswith('#'):
                continue
            fields = text.split()
            if len(fields) != 8:
                raise ValueError(f'{path}:{line_no}: expected 8 columns (timestamp tx ty tz qx '
                                 f'qy qz qw), got {len(fields)}: {text!r}')
            try:
                numbers = [float(x) for x in fields]
            except ValueError as exc:
                raise ValueError(f'{path}:{line_no}: non-numeric value in {text!r}') from exc
            if not all(math.isfinite(x) for x in numbers):
                raise ValueError(f'{path}:{line_no}: NaN/inf in {text!r}')
            quat_validate(numbers[4:], where=f'{path}:{line_no}', tol=QUAT_TOLERANCE)
            stamps.append(fields[0])
            values.append(numbers[1:])
            line_numbers.append(line_no)
    return stamps, np.asarray(values, dtype=np.float64).reshape(-1, 7), line_numbers


def _poses(values_n7):
    return T_from_pos_quat(values_n7[:, :3], values_n7[:, 3:]).reshape(-1, 4, 4)


def read_tum(path):
    """Read a TUM trajectory.

    Args:
        path: file path.

    Returns:
        Tuple ``(timestamps_s, T_world_cam)``: (N,) float64 seconds and (N, 4, 4) float64
        poses (quaternions renormalized).

    Raises:
        FileNotFoundError: if the file is missing.
        ValueError: naming the file and line for a row with a wrong column count, a
            non-numeric value, NaN/inf, or a zero/non-unit quaternion (norm off by more than
            :data:`QUAT_TOLERANCE`).
    """
    stamps, values, _ = _parse(path)
    return np.array([float(s) for s in stamps], dtype=np.float64), _poses(values)


def read_tum_ns(path):
    """Read a TUM trajectory with exact integer-nanosecond timestamps.

    Args:
        path: file path.

    Returns:
        Tuple ``(timestamps_ns, T_world_cam)``: (N,) int64 nanoseconds (decimal text
        rounded to the nearest ns) and (N, 4, 4) float64 poses.

    Raises:
        FileNotFoundError: if the file is missing.
        ValueError: as :func:`read_tum`.
    """
    stamps, values, line_numbers = _parse(path)
    stamps_ns = []
    for text, line_no in zip(stamps, line_numbers):
        try:
            stamps_ns.append(int((Decimal(text) * 1_000_000_000).to_integral_value()))
        except InvalidOperation as exc:
            raise ValueError(f'{path}:{line_no}: bad timestamp {text!r}') from exc
    return np.array(stamps_ns, dtype=np.int64), _poses(values)


def _check_poses(T_world_cam, n, where):
    T = np.asarray(T_world_cam, dtype=np.float64)
    if T.shape != (n, 4, 4):
        raise ValueError(f'{where}: expected T_world_cam of shape ({n}, 4, 4) to match the '
                         f'timestamps, got {T.shape}')
    ok = np.atleast_1d(is_valid_T(T, tol=1e-5)) if n else np.zeros(0, dtype=bool)
    if not np.all(ok):
        i = int(np.argmin(ok))
        raise ValueError(f'{where}: pose {i} is not a finite rigid transform: {T[i].tolist()}')
    return T


def _write_rows(path, stamp_texts, T):
    path = Path(path)
    q = matrix_to_quat(T[:, :3, :3]) if len(T) else np.zeros((0, 4))
    t = T[:, :3, 3]
    tmp = path.with_name(path.name + '.tmp')
    with tmp.open('w') as f:
        f.write('# timestamp tx ty tz qx qy qz qw (T_world_cam, optical frame)\n')
        for stamp, ti, qi in zip(stamp_texts, t, q):
            f.write(stamp + ' ' + ' '.join(f'{x:.9f}' for x in ti) + ' '
                    + ' '.join(f'{x:.12f}' for x in qi) + '\n')
    tmp.replace(path)
    return path


def write_tum(path, timestamps_s, T_world_cam):
    """Write a TUM trajectory (atomic: temp file, then rename).

    Args:
        path: output file path.
        timestamps_s: (N,) seconds, written with 9 decimals.
        T_world_cam: (N, 4, 4) poses; quaternions written xyzw with ``w >= 0``.

    Returns:
        Path of the written file.

    Raises:
        ValueError: for mismatched shapes, non-finite timestamps or invalid poses.
    """
    stamps = np.asarray(timestamps_s, dtype=np.float64)
    if stamps.ndim != 1:
        raise ValueError(f'write_tum {path}: timestamps_s must be 1-D, got shape {stamps.shape}')
    if not np.all(np.isfinite(stamps)):
        raise ValueError(f'write_tum {path}: non-finite timestamp at index '
                         f'{int(np.argmin(np.isfinite(stamps)))}')
    T = _check_poses(T_world_cam, stamps.shape[0], f'write_tum {path}')
    return _write_rows(path, [f'{s:.9f}' for s in stamps], T)


def write_tum_ns(path, timestamps_ns, T_world_cam):
    """Write a TUM trajectory from exact integer-nanosecond timestamps.

    Args:
        path: output file path.
        timestamps_ns: (N,) integer nanoseconds (>= 0), written as ``seconds.nnnnnnnnn``.
        T_world_cam: (N, 4, 4) poses.

    Returns:
        Path of the written file.
    """
    stamps = np.asarray(timestamps_ns)
    if stamps.ndim != 1 or (stamps.size and not np.issubdtype(stamps.dtype, np.integer)):
        raise ValueError(f'write_tum_ns {path}: timestamps_ns must be a 1-D integer array, got '
                         f'{stamps.dtype} of shape {stamps.shape}')
    if np.any(stamps < 0):
        raise ValueError(f'write_tum_ns {path}: negative timestamp at index '
                         f'{int(np.argmax(stamps < 0))}')
    T = _check_poses(T_world_cam, stamps.shape[0], f'write_tum_ns {path}')
    texts = [f'{int(s) // 1_000_000_000}.{int(s) % 1_000_000_000:09d}' for s in stamps]
    return _write_rows(path, texts, T)
