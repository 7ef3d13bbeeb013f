# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Atomic file writes and JSON of numpy values."""

import json
import os
from pathlib import Path
from typing import Any, Union

import numpy as np


def atomic_write_text(path: Union[str, Path], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through ``<path>.tmp`` and a rename.

    A reader never sees a half-written file, and a crash leaves the old one.

    Returns:
        ``path``.
    """
    path = Path(path)
    tmp = path.with_name(path.name + '.tmp')
    with open(tmp, 'w', encoding='utf-8', newline='') as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def json_ready(value: Any) -> Any:
    """Return ``value`` with numpy scalars/arrays as Python values and NaN/inf as None.

    Dict keys become strings, tuples lists; other values are returned as they are.
    """
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    return value


def write_json(path: Union[str, Path], value: Any) -> Path:
    """Write ``json_ready(value)`` as indented JSON atomically (parents created).

    Returns:
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, json.dumps(json_ready(value), indent=2) + '\n')
