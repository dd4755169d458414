#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with scaffold installed
# for development, its test tools, and what generated projects need to run on a CPU.
# Run by scripts/demo.sh and scripts/test.sh; safe to run again (a rerun takes seconds).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
# The CPU wheel of torch that generated projects are tested with; override to taste.
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
# PyPI's torch for Linux on x86_64 is the CUDA build (several GB of nvidia-* wheels):
# there, the CPU build comes from PyTorch's own index. TORCH_INDEX= (empty) asks PyPI alone.
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
    TORCH_INDEX=${TORCH_INDEX-https://download.pytorch.org/whl/cpu}
else
    TORCH_INDEX=${TORCH_INDEX-}
fi

step() { echo "setup [$1/4] $2" >&2; }

missing=""
for tool in git make; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
# The generated projects' browser test drives Debian's Chromium at these paths; the demo
# (scripts/demo.sh sets SETUP_BROWSER=0) runs no browser.
if [ "${SETUP_BROWSER:-1}" = 1 ]; then
    [ -x /usr/bin/chromium ] || missing="$missing chromium"
    [ -x /usr/bin/chromedriver ] || missing="$missing chromium-driver"
fi
if [ -n "$missing" ]; then
    step 0 "installing$missing with apt-get"
    as_root=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || {
            echo "setup: install$missing as root (apt-get install$missing), then run this again" >&2
            exit 1
        }
        as_root=sudo
    fi
    $as_root apt-get update -qq && $as_root apt-get install -y -qq $missing >/dev/null
fi
step 1 "virtual environment .venv"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools
step 2 "PyTorch, CPU build ($TORCH_SPEC)"
# torch alone from that index (one retry: where it cannot be reached, as on a machine that
# reaches PyPI only, pip then takes PyPI's or a local wheel), then its dependencies from PyPI.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
    ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX" --retries 1} "$TORCH_SPEC"
.venv/bin/python -m pip install --quiet --disable-pip-version-check "$TORCH_SPEC"
step 3 "scaffold and its test tools"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --editable '.[test]'
step 4 "what generated projects import (trackers, plotting, data tools)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -r scripts/generated-project-requirements.txt
echo "setup: .venv is ready" >&2
