#!/usr/bin/env bash
# Set up .venv, generate a demo project with scaffold's defaults, install it, and run its
# smoke pipeline (download -> preprocess -> train -> eval -> infer) and its tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
DEMO=${1:-demo}
rm -rf "$DEMO"
.venv/bin/scaffold new "$DEMO" --defaults --data project_name="Demo Project" --data package_name=demo
cd "$DEMO"
PYTHON="$(cd .. && pwd)/.venv/bin/python"
"$PYTHON" -m pip install --quiet --no-deps --no-build-isolation --editable '.[dev]'
make smoke PYTHON="$PYTHON"
make test PYTHON="$PYTHON"
echo
echo "Demo project in $DEMO: its runs are in $DEMO/runs (tensorboard --logdir $DEMO/runs)."
