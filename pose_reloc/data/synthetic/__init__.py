# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""pose_reloc.data.synthetic."""
