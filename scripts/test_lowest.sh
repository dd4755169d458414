#!/usr/bin/env bash
# Install scaffold with the lowest versions of its dependencies that pyproject.toml allows
# (uv's lowest-direct resolution) into .venv-lowest, and run the fast tests there, so that
# every declared floor is tested. Safe to run again; it touches nothing but .venv-lowest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The lowest Python that pyproject.toml allows.
PYTHON=${PYTHON:-$(command -v python3.11 || echo python3)}
VENV=.venv-lowest

echo "test_lowest: installing scaffold with its lowest allowed dependencies in $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
[ -x "$VENV/bin/uv" ] || "$VENV/bin/python" -m pip install --quiet uv
# --upgrade re-resolves from scratch, so a rerun also moves packages down to new floors.
"$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" --upgrade \
    --resolution lowest-direct --editable '.[test]'
"$VENV/bin/uv" pip list --python "$VENV/bin/python" 2>/dev/null |
    grep -iE '^(copier|typer|click|pyyaml) ' | tr -s ' ' | paste -sd, - | sed 's/,/, /g; s/^/test_lowest: /'

echo "test_lowest: running the fast tests"
# Deselected: it imports every module of generated projects, which needs torch.
exec "$VENV/bin/python" -m pytest -m "not slow" -q \
    --deselect tests/test_update.py::test_every_release_updates_to_the_working_tree_and_commits_whole \
    tests/test_cli.py tests/test_generation.py tests/test_update.py tests/test_template_history.py \
    tests/test_locking.py tests/test_images.py tests/test_dockerfile.py "$@"
