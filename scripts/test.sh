#!/usr/bin/env bash
# Set up .venv and run scaffold's whole test suite, slow tests included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# podman, runc, docker-registry and a local Debian base image for the image tests (root).
bash scripts/setup_engine.sh
# Debian's Slurm and munge for the Slurm tests (tests/test_slurm.py starts the cluster).
bash scripts/slurm_cluster.sh install
# One worker per core (pytest-xdist); the slow tests run each generated project's own suite.
exec .venv/bin/python -m pytest -n auto "$@"
