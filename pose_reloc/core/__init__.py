# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The bottom layer: what training, inference, ROS and the CLI all need.

``device`` (torch device choice, seeding), ``bundle`` (model bundle I/O and its schema),
``files`` (atomic writes, JSON of numpy values) and ``util`` (time units, even subsampling, the
RGB image check). Modules here import nothing else of the package except
``pose_reloc.__version__`` (``test/test_imports.py`` enforces the layers).
"""
