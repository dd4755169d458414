"""Reproduce a run from its record alone: the proof that the record is complete.

The run's code is rebuilt in a separate git worktree (its commit, its dirty.patch applied,
its untracked files copied back), its recorded command runs there as a new run, and the
new validation figures are compared with the original's at every evaluation step. Before
it starts, what has drifted since is reported: the environment (lock hash, package
versions) and the data (sha256 of each file). The checkout itself is never touched.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import manifest
from .errors import InvalidInputError, MissingInputError

TOLERANCE = 0.01  # absolute, where bit-for-bit identity is not promised (GPU, no determinism)
LINKED = ("data", "weights")  # folders of inputs git does not hold, shared with the worktree


ONE_RUN_OPTIONS = ("--note", "--run-id")  # what names the original alone, with its value


def training_command(run_dir: Path) -> list[str]:
    """The `train` command line that made the run (a resumed run: its first attempt's),
    for a new run whose note says which run it reproduces.

    Only a completed run has the figures to compare with.
    """
    attempts = _attempts(run_dir)
    command = attempts[0].get("command") or []
    if command[:1] != ["train"]:
        raise InvalidInputError(
            f"{run_dir.name} was not made by `train` ({' '.join(command)}): nothing to rerun"
        )
    status = attempts[-1].get("status")
    if status != "completed":
        raise InvalidInputError(
            f"{run_dir.name} did not complete (its last attempt is {status}): only a "
            "completed run's figures can be reproduced; `train --resume` it first"
        )
    kept, arguments = [], iter(command)
    for argument in arguments:
        if argument in ONE_RUN_OPTIONS:
            next(arguments, None)
        elif not argument.startswith(tuple(f"{option}=" for option in ONE_RUN_OPTIONS)):
            kept.append(argument)
    return [*kept, "--note", f"reproduces {run_dir.name}"]


def drift(run_dir: Path) -> list[str]:
    """What differs now from what the run recorded: lock hash, packages, data files."""
    from .config import from_yaml
    from .data import manifest_path

    recorded = _first_attempt(run_dir)
    then, now = recorded.get("environment") or {}, manifest.environment()
    lines = [
        f"{key}: {then.get(key)} then, {now.get(key)} now"
        for key in ("python", "torch", "cuda", "gpus")
        if then.get(key) != now.get(key)
    ]
    locks = [(e.get("lock") or {}).get("content_hash") for e in (then, now)]
    if locks[0] != locks[1]:
        lines.append(f"conda lock hash: {locks[0]} then, {locks[1]} now")
    before, after = (dict(p.split("==", 1) for p in e.get("packages") or []) for e in (then, now))
    for name in sorted(set(before) | set(after), key=str.lower):
        if before.get(name) != after.get(name):
            lines.append(
                f"package {name}: {before.get(name, '-')} then, {after.get(name, '-')} now"
            )
    data_now = manifest.data_hashes(manifest_path(from_yaml(run_dir / "config.yaml").data))
    files_then = (recorded.get("data") or {}).get("files") or {}
    files_now = data_now.get("files") or {}
    for name in sorted(set(files_then) | set(files_now)):
        if files_then.get(name) != files_now.get(name):
            lines.append(f"data file {name}: its sha256 differs from the recorded one")
    return lines


def rebuild(run_dir: Path, into: Path) -> Path:
    """A worktree at `into` holding the run's code exactly: commit, dirty.patch, untracked/."""
    commit = (_first_attempt(run_dir).get("git") or {}).get("commit")
    if not commit:
        raise MissingInputError(f"{run_dir.name} recorded no commit: its code cannot be rebuilt")
    added = _git("worktree", "add", "--detach", str(into), commit)
    if added.returncode != 0:
        raise MissingInputError(
            f"commit {commit[:12]} of {run_dir.name} is not in this repository (fetch it from "
            f"the remote that holds it): {added.stderr.strip()}"
        )
    patch = run_dir / "dirty.patch"
    if patch.is_file() and patch.read_text().strip():
        applied = _git("-C", str(into), "apply", "--whitespace=nowarn", str(patch.resolve()))
        if applied.returncode != 0:
            raise InvalidInputError(f"{patch} does not apply to {commit[:12]}: {applied.stderr}")
    if (run_dir / "untracked").is_dir():
        shutil.copytree(run_dir / "untracked", into, dirs_exist_ok=True)
    for folder in LINKED:  # the inputs git does not hold, where the code expects them
        if Path(folder).is_dir():
            (into / folder).mkdir(exist_ok=True)
            for entry in Path(folder).iterdir():
                if not (into / folder / entry.name).exists():
                    (into / folder / entry.name).symlink_to(entry.resolve())
    return into


def rerun_in(worktree: Path, command: list[str], runs_dir: Path) -> Path:
    """Run `command` with the worktree's code, writing the new run to `runs_dir`."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(worktree / "src"), os.environ.get("PYTHONPATH")])
        ),
        f"{manifest.ENV_PREFIX}_RUNS_DIR": str(runs_dir.resolve()),
    }
    before = {path.name for path in runs_dir.iterdir()} if runs_dir.is_dir() else set()
    done = subprocess.run(
        [sys.executable, "-m", __package__, *command], cwd=worktree, env=environment
    )
    new = [p for p in runs_dir.iterdir() if p.name not in before and (p / "config.yaml").is_file()]
    if done.returncode != 0 or len(new) != 1:
        raise InvalidInputError(
            f"the reproduction did not finish (exit status {done.returncode}): see above"
        )
    return new[0]


def compare_metrics(original: Path, reproduction: Path, tolerance: float) -> list[dict[str, Any]]:
    """Every validation figure of the original at each step, beside the reproduction's."""
    mine, theirs = (_validation_records(run_dir) for run_dir in (original, reproduction))
    rows = []
    for step, figures in mine.items():
        for name, value in figures.items():
            again = theirs.get(step, {}).get(name)
            rows.append(
                {
                    "step": step,
                    "metric": name,
                    "original": value,
                    "reproduced": again,
                    "same": again is not None and math.isclose(value, again, abs_tol=tolerance),
                }
            )
    return rows


def exact_expected(run_dir: Path) -> bool:
    """Whether the run promised bit-for-bit results: on the CPU, with determinism on."""
    from .config import from_yaml

    attempt = _first_attempt(run_dir)
    on_cpu = not (attempt.get("environment") or {}).get("gpus")
    return on_cpu and from_yaml(run_dir / "config.yaml").deterministic


def reproduce(run_dir: Path, runs_dir: Path) -> tuple[Path, list[dict[str, Any]], float]:
    """Rebuild the run's code, rerun its command, compare; return the new run, rows, tolerance."""
    command = training_command(run_dir)
    tolerance = 0.0 if exact_expected(run_dir) else TOLERANCE
    scratch = Path(tempfile.mkdtemp(prefix="reproduce-"))
    worktree = scratch / run_dir.name
    try:
        rebuild(run_dir, worktree)
        new = rerun_in(worktree, command, runs_dir)
    finally:
        _git("worktree", "remove", "--force", str(worktree))
        shutil.rmtree(scratch, ignore_errors=True)
        _git("worktree", "prune")
    return new, compare_metrics(run_dir, new, tolerance), tolerance


def _validation_records(run_dir: Path) -> dict[int, dict[str, float]]:
    path = run_dir / "metrics.jsonl"
    records = (
        [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    )
    return {
        r["step"]: {k: v for k, v in r.items() if k.startswith("val/")}
        for r in records
        if "val/loss" in r
    }


def _first_attempt(run_dir: Path) -> dict[str, Any]:
    return _attempts(run_dir)[0]


def _attempts(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "manifest.json"
    if not path.is_file():
        raise MissingInputError(f"{path} is missing: only recorded runs can be reproduced")
    return json.loads(path.read_text()).get("attempts") or [{}]


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True)
