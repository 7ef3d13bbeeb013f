# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""pose_reloc: camera relocalization in a known map from single images."""

__version__ = '0.1.0'
