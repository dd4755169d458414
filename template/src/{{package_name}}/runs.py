"""Run directories: runs/<run-id>/ holds everything one run wrote, runs/LATEST names the newest."""

import json
import os
import platform
import re
import secrets
import time
from pathlib import Path

from .errors import InvalidInputError, MissingInputError

LATEST = "LATEST"
MAX_OVERRIDES_IN_ID = 48  # characters of a run id that show its overrides
SECTION_KEYS = ("name", "enabled")  # run ids show these keys' sections: model=mlp


def new_run_id(
    experiment: str | None, smoke: bool, overrides: list[str] | None = None, label: str = ""
) -> str:
    """Sortable, and saying what differs: 20261126-181502-wide-smoke-lr=1e-3-3f9a.

    The experiment's name, '-smoke' for smoke runs, a label (e.g. 'weights-NAME' for weights
    no run trained), then each override as its last key and value (train.lr=1e-3 ->
    lr=1e-3). A key that says nothing alone shows its section instead: a choice by name
    as what it chooses (model.name=mlp -> model=mlp), a switch as what it switches
    (smoke_checks.enabled=false -> smoke_checks=false). Overrides that would make the name
    too long are counted, not cut ('+2': two more), so that no value shown is wrong; the
    full command line is in manifest.json.
    """
    parts = [time.strftime("%Y%m%d-%H%M%S"), Path(experiment).stem if experiment else "base"]
    if smoke:
        parts.append("smoke")
    if label:
        parts.append(_readable(label))
    changes = []
    for item in overrides or []:
        key, _, value = item.partition("=")
        parent, _, last = key.rpartition(".")
        shown = parent.rsplit(".", 1)[-1] if last in SECTION_KEYS and parent else last
        changes.append(_readable(f"{shown}={_rounded(value)}"))
    shown_changes: list[str] = []
    for number, change in enumerate(changes):
        if len("-".join([*shown_changes, change])) > MAX_OVERRIDES_IN_ID:
            shown_changes.append(f"+{len(changes) - number}")
            break
        shown_changes.append(change)
    return "-".join([*parts, *shown_changes, secrets.token_hex(2)])


def _rounded(value: str) -> str:
    """A long decimal to 3 significant digits (a sweep's 0.000123456789 -> 0.000123)."""
    if len(value) <= 8 or not re.fullmatch(r"[-+]?\d*\.\d+(e[-+]?\d+)?|[-+]?\d+e[-+]?\d+", value):
        return value
    return f"{float(value):.3g}"


def _readable(text: str) -> str:
    """`text` as part of a directory name: [a,b] -> a,b; '/', spaces and the like -> '_'."""
    return re.sub(r"[^A-Za-z0-9=.,_+-]+", "_", re.sub(r"[\[\]'\"]", "", text))


def named_run(runs_dir: Path, run_id: str, check_new: bool = True) -> Path:
    """The directory of a new run named `run_id` (e.g. by a Slurm job, after itself)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9=.,_+-]*", run_id):
        raise InvalidInputError(
            f"run id {run_id!r}: use ASCII letters, digits and . , _ + - = only (no / or spaces)"
        )
    if run_id.lower() in {"latest", "sweeps"} or run_id.startswith("compare-"):
        raise InvalidInputError(
            f"run id {run_id!r} is taken by the runs directory's own names ('latest' names the "
            "newest run, sweeps/ holds the studies, compare-* the comparisons): pick another id"
        )
    if check_new and (runs_dir / run_id).exists():
        raise InvalidInputError(
            f"{runs_dir / run_id} exists: --resume {run_id} continues it, or pick another id"
        )
    return runs_dir / run_id


def runs_dir() -> Path:
    """The runs directory every command reads and writes: base.yaml's `runs_dir`.

    base.yaml reads it from an environment variable when that is set (the package's name
    in capitals, then _RUNS_DIR; e.g. scratch space on a cluster), so train, eval, infer,
    rerun and 'latest' always agree on where runs live.
    """
    from .config import base_setting

    return Path(base_setting("runs_dir"))  # (not the whole config: `runs` stays quick)


def mark_latest(run_dir: Path) -> str | None:
    """Make `run_dir` the one 'latest' names; return the run it named before, if any."""
    marker = run_dir.parent / LATEST
    previous = marker.read_text().strip() if marker.is_file() else None
    marker.write_text(run_dir.name + "\n")
    return previous


def unmark_latest(run_dir: Path, previous: str | None) -> None:
    """Give 'latest' back to the run it named before `run_dir` (a run that failed), unless
    a run started since (another sweep worker, another shell) has taken it, or that run
    failed too (runs that overlapped): then `latest` names none."""
    marker = run_dir.parent / LATEST
    if not marker.is_file() or marker.read_text().strip() != run_dir.name:
        return
    if previous is None or last_status(run_dir.parent / previous) in {"failed", "pruned"}:
        marker.unlink(missing_ok=True)
    else:
        marker.write_text(previous + "\n")


def last_attempt(run_dir: Path) -> dict | None:
    """The manifest's record of the run's last attempt (status, error, ...), or None."""
    manifest = run_dir / "manifest.json"
    try:
        attempts = json.loads(manifest.read_text())["attempts"]
    except (FileNotFoundError, json.JSONDecodeError):  # none, or cut short: nothing known
        return None
    return attempts[-1] if attempts else None


def last_status(run_dir: Path) -> str | None:
    """How the run's last attempt ended (completed, interrupted, failed, ...), or None."""
    return (last_attempt(run_dir) or {}).get("status")


def finished(run_dir: Path) -> bool:
    """Whether the run's last attempt completed (so there is nothing to resume)."""
    return last_status(run_dir) == "completed"


def read_metrics(run_dir: Path) -> list[dict]:
    """Every record of the run's metrics.jsonl, in order. A last line cut short (the run was
    killed as it wrote it) is left out: `train --resume` drops it from the file too."""
    path = run_dir / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):
                raise InvalidInputError(
                    f"{path}, line {number}, is no JSON record: the file was edited or damaged"
                ) from None
    return records


def process_alive(attempt: dict) -> bool | None:
    """Whether the process that recorded `attempt` as running still runs: None when that
    cannot be told from here (another host's, or no pid) or the attempt has ended."""
    if attempt.get("status") != "running":
        return None
    return alive_here(attempt.get("host"), attempt.get("pid"), attempt.get("process_started"))


def alive_here(host: object, pid: object, started: object = None) -> bool | None:
    """Whether process `pid` of `host` runs: None when that cannot be told from here (another
    host's, no pid, or this process's own). `started` (`process_started`, when recorded)
    tells it from a later process given the same pid: a pod that replaces one keeps its
    host name, and numbers its processes from 1 again."""
    if host != platform.node() or not isinstance(pid, int) or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        pass
    return started is None or process_started(pid) in (None, started)


def process_started(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since the machine booted (Linux's /proc);
    None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[19])  # field 22; the name may hold spaces


def refuse_while_training(run_dir: Path, then: str) -> None:
    """Stop here if the run is training now, on this machine: a second process would write
    its checkpoints and records over the first's, and weights read mid-run go stale."""
    attempt = last_attempt(run_dir) or {}
    if process_alive(attempt):
        raise InvalidInputError(
            f"{run_dir.name} is training now (pid {attempt['pid']}): {then} once it ends, "
            f"or stop it first (Ctrl-C where it runs, or `kill {attempt['pid']}`: it "
            "saves a checkpoint)"
        )


def resumable(run_dir: Path) -> bool:
    """Whether the run left a step checkpoint to continue from."""
    return any((run_dir / "checkpoints").glob("step-*.pt"))


def resolve(runs_dir: Path, reference: str) -> Path:
    """A run directory from 'latest', a run id, the short id `compare` shows (its last four
    characters), or a path."""
    if reference == "latest":
        marker = runs_dir / LATEST
        if not marker.is_file():
            if any(runs_dir.glob("*/config.yaml")):
                raise MissingInputError(
                    f"no run is 'latest' in {runs_dir} (the newest failed, or was cleaned away "
                    "with the smoke runs): name one; `runs` lists them"
                )
            raise MissingInputError(f"no runs yet in {runs_dir}: train first")
        reference = marker.read_text().strip()
        if not (runs_dir / reference).is_dir():
            raise MissingInputError(
                f"{marker} names {reference}, which is gone: name a run (`runs` lists them)"
            )
    candidate = Path(reference)
    run_dir = candidate if candidate.is_dir() else runs_dir / reference
    if not run_dir.is_dir() and re.fullmatch(r"[0-9a-f]{4}", reference):
        # (runs only: `compare` names its report folders after the runs it compared)
        matches = sorted(path.parent for path in runs_dir.glob(f"*-{reference}/config.yaml"))
        if len(matches) > 1:
            raise InvalidInputError(
                f"{reference} ends {len(matches)} run ids: name one of "
                + ", ".join(match.name for match in matches)
            )
        run_dir = matches[0] if matches else run_dir
    if not (run_dir / "config.yaml").is_file():
        raise MissingInputError(f"{run_dir} is not a run directory (no config.yaml)")
    return run_dir
