"""Run directories: runs/<run-id>/ holds everything one run wrote, runs/LATEST names the newest."""

import json
import secrets
import time
from pathlib import Path

LATEST = "LATEST"


def new_run_id(experiment: str | None, smoke: bool) -> str:
    """Sortable and readable: 20261126-181502-wide-3f9a, with '-smoke' for smoke runs."""
    name = Path(experiment).stem if experiment else "base"
    suffix = "-smoke" if smoke else ""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{name}{suffix}-{secrets.token_hex(2)}"


def runs_dir() -> Path:
    """The runs directory every command reads and writes: base.yaml's `runs_dir`.

    base.yaml reads it from the environment variable <PACKAGE>_RUNS_DIR when that is set
    (e.g. scratch space on a cluster), so train, eval, infer, rerun and 'latest' always
    agree on where runs live.
    """
    from .config import load_config

    return Path(load_config().runs_dir)


def mark_latest(run_dir: Path) -> str | None:
    """Make `run_dir` the one 'latest' names; return the run it named before, if any."""
    marker = run_dir.parent / LATEST
    previous = marker.read_text().strip() if marker.is_file() else None
    marker.write_text(run_dir.name + "\n")
    return previous


def unmark_latest(run_dir: Path, previous: str | None) -> None:
    """Give 'latest' back to the run it named before `run_dir` (a run that failed)."""
    marker = run_dir.parent / LATEST
    if previous is None:
        marker.unlink(missing_ok=True)
    else:
        marker.write_text(previous + "\n")


def finished(run_dir: Path) -> bool:
    """Whether the run's last attempt completed (so there is nothing to resume)."""
    manifest = run_dir / "manifest.json"
    if not manifest.is_file():
        return False
    attempts = json.loads(manifest.read_text())["attempts"]
    return bool(attempts) and attempts[-1].get("status") == "completed"


def resolve(runs_dir: Path, reference: str) -> Path:
    """A run directory from 'latest', a run id, or a path."""
    if reference == "latest":
        marker = runs_dir / LATEST
        if not marker.is_file():
            raise FileNotFoundError(f"no runs yet in {runs_dir}: train first")
        reference = marker.read_text().strip()
    candidate = Path(reference)
    run_dir = candidate if candidate.is_dir() else runs_dir / reference
    if not (run_dir / "config.yaml").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.yaml)")
    return run_dir
