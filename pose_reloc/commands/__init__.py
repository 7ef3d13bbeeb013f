# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""CLI subcommands; each module defines HELP, add_arguments(parser) and run(args)."""
