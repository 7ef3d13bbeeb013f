# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""TUM trajectory files: ``timestamp tx ty tz qx qy qz qw`` per line.

Timestamps are seconds; the pose is ``T_world_cam`` (camera-to-world) with the quaternion
in (x, y, z, w) order, the format read by evo (``evo_traj tum ...``) and the TUM RGB-D tools.
Lines starting with ``#`` and blank lines are comments. Float64 seconds cannot hold
nanosecond stamps of the Unix epoch exactly; :func:`read_tum_ns` / :func:`write_tum_ns`
keep exact integer nanoseconds by parsing/printing the decimal text.
"""

import decimal
import math
from pathlib import Path

import numpy as np

from pose_reloc.core.files import atomic_write_text
from pose_reloc.core.util import NS_PER_S
from pose_reloc.data.records import ROTATION_TOL
from pose_reloc.geometry.rotations import matrix_to_quat, quat_validate
from pose_reloc.geometry.se3 import is_valid_T, T_from_pos_quat

#: Accepted deviation of a quaternion's norm from 1; files with quaternions rounded to 4
#: decimals (the TUM RGB-D ground truth) pass, unnormalized ones do not.
QUAT_TOLERANCE = 1e-3


def timestamp_ns_to_str(timestamp_ns: int) -> str:
    """Format integer nanoseconds as seconds with exactly nine decimals (no rounding error).

    Args:
        timestamp_ns: time stamp, integer nanoseconds (may be negative).

    Returns:
        e.g. ``'1700000000.000000001'`` for ``1700000000000000001``.
    """
    ns = int(timestamp_ns)
    sign = '-' if ns < 0 else ''
    seconds, frac = divmod(abs(ns), NS_PER_S)
    return f'{sign}{seconds}.{frac:09d}'


def timestamp_str_to_ns(text: str, where: str) -> int:
    """Parse a time stamp in seconds (decimal text) to integer nanoseconds, exactly.

    The decimal text is converted without binary floating point; digits beyond the ninth
    decimal are rounded to the nearest nanosecond (half to even), never truncated.

    Args:
        text: seconds, e.g. ``'1700000000.123456789'`` or ``'1.5e9'``.
        where: source (``file:line``) named in the error.

    Returns:
        Integer nanoseconds.

    Raises:
        ValueError: naming ``where`` if ``text`` is not a finite number or does not fit
            in int64 nanoseconds.
    """
    try:
        value = decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        raise ValueError(f'{where}: time stamp {text!r} is not a number') from None
    if not value.is_finite():
        raise ValueError(f'{where}: time stamp {text!r} is not finite')
    try:
        scaled = int((value * NS_PER_S).quantize(decimal.Decimal(1),
                                                 rounding=decimal.ROUND_HALF_EVEN,
                                                 context=decimal.Context(prec=40)))
    except decimal.InvalidOperation:
        raise ValueError(f'{where}: time stamp {text!r} is out of range') from None
    if not -2 ** 63 <= scaled < 2 ** 63:
        raise ValueError(f'{where}: time stamp {text!r} is out of range (int64 ns)')
    return scaled


def data_lines(path):
    """Yield ``(line_number, stripped_line)`` for the non-blank, non-``#`` lines of a file.

    Args:
        path: text file (UTF-8).

    Yields:
        ``(int, str)``: 1-based line number and the line without surrounding white space.
    """
    with open(path, 'r', encoding='utf-8') as stream:
        for line_no, line in enumerate(stream, start=1):
            text = line.strip()
            if text and not text.startswith('#'):
                yield line_no, text


def _parse(path, quat_tol):
    """Parse a TUM file into (timestamp strings, (N, 7) values, line numbers)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'TUM trajectory not found: {path}')
    stamps, values, line_numbers = [], [], []
    for line_no, text in data_lines(path):
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
        quat_validate(numbers[4:], where=f'{path}:{line_no}', tol=quat_tol)
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
    stamps, values, _ = _parse(path, QUAT_TOLERANCE)
    return np.array([float(s) for s in stamps], dtype=np.float64), _poses(values)


def read_tum_rows(path, quat_tol=QUAT_TOLERANCE):
    """Read a TUM trajectory row by row, with exact nanoseconds and line numbers.

    Args:
        path: file path.
        quat_tol: accepted deviation of a quaternion's norm from 1.

    Returns:
        Tuple ``(timestamps_ns, T_world_cam, line_numbers)``: (N,) int64 nanoseconds
        (decimal text rounded to the nearest ns, half to even), (N, 4, 4) float64 poses
        (quaternions renormalized) and the (N,) 1-based line number of each row.

    Raises:
        FileNotFoundError: if the file is missing.
        ValueError: as :func:`read_tum`, and for a time stamp beyond int64 nanoseconds.
    """
    stamps, values, line_numbers = _parse(path, quat_tol)
    stamps_ns = [timestamp_str_to_ns(text, f'{path}:{line_no}')
                 for text, line_no in zip(stamps, line_numbers)]
    return (np.array(stamps_ns, dtype=np.int64), _poses(values),
            np.array(line_numbers, dtype=np.int64))


def read_tum_ns(path):
    """Read a TUM trajectory with exact integer-nanosecond timestamps.

    Args:
        path: file path.

    Returns:
        Tuple ``(timestamps_ns, T_world_cam)``: (N,) int64 nanoseconds (decimal text
        rounded to the nearest ns) and (N, 4, 4) float64 poses.

    Raises:
        FileNotFoundError: if the file is missing.
        ValueError: as :func:`read_tum_rows`.
    """
    stamps_ns, T_world_cam, _ = read_tum_rows(path)
    return stamps_ns, T_world_cam


def _check_poses(T_world_cam, n, where):
    T = np.asarray(T_world_cam, dtype=np.float64)
    if T.shape != (n, 4, 4):
        raise ValueError(f'{where}: expected T_world_cam of shape ({n}, 4, 4) to match the '
                         f'timestamps, got {T.shape}')
    ok = np.atleast_1d(is_valid_T(T, tol=ROTATION_TOL)) if n else np.zeros(0, dtype=bool)
    if not np.all(ok):
        i = int(np.argmin(ok))
        raise ValueError(f'{where}: pose {i} is not a finite rigid transform: {T[i].tolist()}')
    return T


def _write_rows(path, stamp_texts, T):
    path = Path(path)
    q = matrix_to_quat(T[:, :3, :3]) if len(T) else np.zeros((0, 4))
    t = T[:, :3, 3]
    lines = ['# timestamp tx ty tz qx qy qz qw (T_world_cam, OpenCV optical frame)\n']
    for stamp, ti, qi in zip(stamp_texts, t, q):
        lines.append(stamp + ' ' + ' '.join(f'{x:.9f}' for x in ti) + ' '
                     + ' '.join(f'{x:.12f}' for x in qi) + '\n')
    return atomic_write_text(path, ''.join(lines))


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
        timestamps_ns: (N,) integer nanoseconds, written as ``seconds.nnnnnnnnn``
            (:func:`timestamp_ns_to_str`).
        T_world_cam: (N, 4, 4) poses.

    Returns:
        Path of the written file.
    """
    stamps = np.asarray(timestamps_ns)
    if stamps.ndim != 1 or (stamps.size and not np.issubdtype(stamps.dtype, np.integer)):
        raise ValueError(f'write_tum_ns {path}: timestamps_ns must be a 1-D integer array, got '
                         f'{stamps.dtype} of shape {stamps.shape}')
    T = _check_poses(T_world_cam, stamps.shape[0], f'write_tum_ns {path}')
    return _write_rows(path, [timestamp_ns_to_str(s) for s in stamps], T)
