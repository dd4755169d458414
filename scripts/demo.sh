#!/usr/bin/env bash
# Usage: bash scripts/demo.sh [--no-setup] [DIR]   (--no-setup before or after DIR)
#
# Set up .venv, generate a demo project with scaffold's defaults in DIR (default: demo in
# this repository), install it into its own DIR/.venv (which uses .venv's packages), run its
# smoke pipeline (download -> preprocess
# -> train -> eval -> infer) and print where its runs are and what they scored.
#
# DIR is read against the caller's directory. The script never deletes anything: it
# refuses a file, and a non-empty folder it did not make, before any set-up. A demo it made
# earlier (it marks one with .git/scaffold-demo, inside git's own folder so the project's
# tree stays clean) is reused: its smoke loop runs again beside the earlier runs.
set -euo pipefail
unset CDPATH
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MARKER=.git/scaffold-demo

usage() { echo "usage: bash scripts/demo.sh [--no-setup] [DIR]   (default DIR: $ROOT/demo)"; }

# The absolute path of $1 read against the caller's directory, without requiring it exists.
absolute() {
    if [ -d "$1" ]; then
        (cd -- "$1" && pwd)
    elif [ -d "$(dirname -- "$1")" ]; then
        echo "$(cd -- "$(dirname -- "$1")" && pwd)/$(basename -- "$1")"
    else
        case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac
    fi
}

refuse() {
    echo "demo: $1 Nothing was changed." >&2
    exit 1
}

# Every check on DIR comes first, so a refusal costs nothing and touches nothing.
SETUP=1
FOLDERS=()
for arg in "$@"; do  # --no-setup (.venv is ready: skip scripts/setup.sh), before DIR or after
    if [ "$arg" = "--no-setup" ]; then SETUP=0; else FOLDERS+=("$arg"); fi
done
set -- ${FOLDERS[@]+"${FOLDERS[@]}"}
case "$#:${1-}" in
    0:) DEMO="$ROOT/demo" ;;
    1:-h | 1:--help) usage; exit 0 ;;
    1:) refuse "DIR is empty: give the folder for the demo project, e.g. demo." ;;
    1:-*) usage >&2; refuse "unknown option $1: give a folder path (./$1 for a folder with that name)." ;;
    1:*) DEMO="$(absolute "$1")" ;;
    *) usage >&2; refuse "expected one folder, got $# arguments." ;;
esac
if [ -d "$DEMO" ] && [ -f "$DEMO/$MARKER" ]; then
    REUSE=1
elif [ -e "$DEMO" ] && [ ! -d "$DEMO" ]; then
    refuse "$DEMO is a file, not a folder: give a new folder for the demo project."
elif [ -d "$DEMO" ] && ! ENTRIES="$(ls -A -- "$DEMO")"; then
    refuse "$DEMO cannot be read: give a new folder for the demo project."
elif [ -d "$DEMO" ] && [ -n "$ENTRIES" ]; then
    refuse "$DEMO is not empty and is not a demo made by this script, so it stays as it is: give a new or empty folder for the demo project."
else
    REUSE=0
fi

PYTHON="$ROOT/.venv/bin/python"
cd "$ROOT"
if [ "$SETUP" = 1 ]; then
    echo "==> [1/3] Set-up: .venv with scaffold and what generated projects need (scripts/setup.sh; minutes the first time, seconds after)"
    SETUP_BROWSER=0 bash scripts/setup.sh  # the browser is for the tests only
else
    echo "==> [1/3] Set-up skipped (--no-setup): using .venv as it is"
fi

if [ "$REUSE" = 1 ]; then
    echo "==> [2/3] Reusing the existing demo in $DEMO: made by an earlier run of this script, it keeps its earlier runs."
    echo "    For a fresh demo, delete that folder (rm -rf \"$DEMO\") or give another one."
else
    echo "==> [2/3] Generate: scaffold new $DEMO"
    # .venv's commands first on PATH: scaffold new installs the commit hooks with its pre-commit
    PATH="$ROOT/.venv/bin:$PATH" .venv/bin/scaffold new "$DEMO" --defaults \
        --data project_name="Demo Project" --data package_name=demo
    echo "Made by scaffold's scripts/demo.sh, which reuses this project when run on it again." \
        >"$DEMO/$MARKER"
fi
# The demo project gets an environment of its own ($DEMO/.venv, git-ignored there) that sees
# scaffold's packages through a .pth file: nothing is installed twice, and scaffold's .venv
# never holds the demo project. The .pth is written on every run: a demo reused from a
# checkout that moved or is gone would otherwise see no packages at all.
DEMO_PYTHON="$DEMO/.venv/bin/python"
[ -x "$DEMO_PYTHON" ] || "$PYTHON" -m venv --without-pip "$DEMO/.venv"
"$DEMO_PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' | {
    read -r site
    "$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$site/scaffold-venv.pth"
}
# The commands that the summary below and the project's README name live in .venv: linked
# here, they work once the demo's environment is activated. Its `pip` installs into the
# demo's environment; without it, `pip` there would be whichever another Python's PATH has.
for tool in scaffold pre-commit tensorboard ruff; do
    ln -sf "$ROOT/.venv/bin/$tool" "$DEMO/.venv/bin/$tool"
done
printf '#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n' >"$DEMO/.venv/bin/pip"
chmod +x "$DEMO/.venv/bin/pip"
echo "    Installing the demo project into $DEMO/.venv (editable; its dependencies come from .venv)"
(cd "$DEMO" && "$PYTHON" -m pip --python "$DEMO_PYTHON" install --quiet --no-deps \
    --no-build-isolation --editable .)

echo "==> [3/3] Smoke: make smoke (download -> preprocess -> train -> eval -> infer on tiny data)"
(cd "$DEMO" && make smoke PYTHON="$DEMO_PYTHON")

echo
"$PYTHON" scripts/smoke_summary.py "$DEMO"
