#!/usr/bin/env bash
# Set up .venv and run scaffold's whole test suite, slow tests included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# One worker per core (pytest-xdist); the slow tests run each generated project's own suite.
exec .venv/bin/python -m pytest -n auto "$@"
