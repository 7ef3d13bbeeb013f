# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""Model bundle I/O; it lives in :mod:`pose_reloc.core.bundle`, below training and inference.

This module re-exports the public names for ``ros.reloc_node`` and code written against the
old location; new code imports ``pose_reloc.core.bundle``.
"""

from pose_reloc.core.bundle import (BundleError, check_fields, CONFIG_NAME, FORMAT,
                                    FORMAT_VERSION, load_state_strict, POSE_CONVENTION,
                                    read_bundle, read_bundle_config, register_schema,
                                    save_bundle, SCHEMAS, update_bundle_config,
                                    validate_config, WEIGHTS_NAME)

__all__ = ['BundleError', 'CONFIG_NAME', 'FORMAT', 'FORMAT_VERSION', 'POSE_CONVENTION',
           'SCHEMAS', 'WEIGHTS_NAME', 'check_fields', 'load_state_strict', 'read_bundle',
           'read_bundle_config', 'register_schema', 'save_bundle', 'update_bundle_config',
           'validate_config']
