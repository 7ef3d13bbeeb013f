# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Pose geometry: quaternions (xyzw), SE(3), camera model, metrics (numpy; torch_ops: torch).

Submodules: ``rotations``, ``se3``, ``camera``, ``metrics``, ``torch_ops`` (imports torch,
so it is not imported here), ``pnp``.
"""
