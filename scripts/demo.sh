#!/usr/bin/env bash
# Set up .venv, generate a demo project with scaffold's defaults, install it and run it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
DEMO=${1:-demo}
rm -rf "$DEMO"
.venv/bin/scaffold new "$DEMO" --defaults --data project_name="Demo Project" --data package_name=demo
cd "$DEMO"
../.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation --editable '.[dev]'
../.venv/bin/demo info
../.venv/bin/python -m pytest -q
