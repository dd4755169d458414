#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with scaffold installed
# for development, its test tools, and what generated projects need to run on a CPU.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
# The CPU wheel of torch that generated projects are tested with; override to taste.
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

missing=""
for tool in git make; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
if [ -n "$missing" ]; then
    echo "setup: installing$missing with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq $missing >/dev/null
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip setuptools
.venv/bin/python -m pip install --quiet "$TORCH_SPEC"
.venv/bin/python -m pip install --quiet --editable '.[test]' -r scripts/generated-project-requirements.txt
