# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
#
# make demo   build the environment (if needed), then run `pose-reloc demo`
# make test   build the environment (if needed), then run the test suite
# make env    build or update the virtualenv only (scripts/setup_env.sh)
# make lint   the ament lint tests (flake8, pep257, copyright)
# Variables: POSE_RELOC_VENV (virtualenv, default .venv), PYTEST_ARGS (extra pytest arguments).

POSE_RELOC_VENV ?= $(CURDIR)/.venv
export POSE_RELOC_VENV
PYTHON := $(POSE_RELOC_VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: env test demo lint

env:
	bash scripts/setup_env.sh

test: env
	$(PYTHON) -m pytest $(PYTEST_ARGS)

# The demo writes demo_out/ (git-ignored); each run starts from a fresh one.
demo: env
	rm -rf demo_out
	$(POSE_RELOC_VENV)/bin/pose-reloc demo --out demo_out

lint: env
	$(PYTHON) -m pytest $(PYTEST_ARGS) test/test_flake8.py test/test_pep257.py test/test_copyright.py
