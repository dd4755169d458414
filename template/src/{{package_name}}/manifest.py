"""Run manifests: for every result, which code, command, config, data and environment.

runs/<run-id>/manifest.json holds one entry per attempt (a resumed run adds one): the
commit and whether the tree was dirty, the exact argv, the resolved config and seed, the
environment (Python, torch, CUDA, cuDNN, GPUs, the conda lock's hash and whether this
environment matches it, every installed package), the data manifest's hashes, start and
end times, and how it ended.
"""

import errno
import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any

from .errors import InvalidInputError, UserError
from .runs import process_started

LOCK_FILE = Path("conda-lock.yml")
ENV_PREFIX = __package__.upper()  # of the variables the Docker image and its runner set


class DirtyTreeError(UserError, RuntimeError):
    """Training on uncommitted code would make the result impossible to trace."""


def git(*args: str) -> str:
    try:
        result = subprocess.run(["git", *args], capture_output=True, text=True)
    except FileNotFoundError:  # no git, e.g. in the Docker image
        return ""
    return result.stdout.rstrip() if result.returncode == 0 else ""


def git_state() -> dict[str, Any]:
    """The commit, the modified tracked and untracked (not ignored) files, and the remote
    branches known to hold the commit (as of the last fetch): where to get the code back."""
    # -z: names as they are, not quoted (spaces, non-ASCII), each entry ended by a NUL.
    entries = iter(git("status", "--porcelain", "-z", "--untracked-files=all").split("\0"))
    modified, untracked = [], []
    for entry in entries:
        if not entry:
            continue
        code, name = entry[:2], entry[3:]
        (untracked if code == "??" else modified).append(name)
        if "R" in code or "C" in code:
            next(entries)  # the name it was renamed or copied from
    head = commit()
    held = (
        git("branch", "--remotes", "--contains", head, "--format=%(refname:short)") if head else ""
    )
    return {
        "commit": head,
        "modified": modified,
        "untracked": untracked,
        "pushed_to": held.split(),
    }


def code_moved(attempts: list[dict[str, Any]], state: dict[str, Any]) -> str | None:
    """A note when a resumed run goes on with other code than its last attempt ran: the
    steps before and after come from two commits, which its figures do not show."""
    then = ((attempts[-1] if attempts else {}).get("git") or {}).get("commit")
    now = state.get("commit")
    if not (then and now) or then == now:
        return None
    return (
        f"note: resuming on commit {now[:8]}; the run's last attempt ran on {then[:8]} "
        f"(`git diff {then[:8]} {now[:8]}` shows what changed). Its record keeps both; "
        "`reproduce` rebuilds the first attempt's code alone"
    )


def keep_out_of_git(folder: Path) -> None:
    """Make `folder`, for runs, data or weights, with a `.gitignore` of `*` in it where it
    lies in the project and .gitignore does not cover it: a variable may put it anywhere,
    and what runs write there must not read as uncommitted changes (to train's clean-tree
    check, `scaffold doctor` and `update`, and Slurm's submit.sh)."""
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if ignore.exists():
        return
    try:
        checked = subprocess.run(["git", "check-ignore", str(folder)], capture_output=True)
    except FileNotFoundError:  # no git, e.g. in the Docker image: nothing to keep out of
        return
    if checked.returncode == 1:  # in the repo, not ignored (0: ignored; 128: outside it)
        ignore.write_text(f"# {__package__}'s outputs: none of them belong in git\n*\n")


class UnpushedCommitError(UserError, RuntimeError):
    """A long run on a commit no remote holds could not be reproduced anywhere else."""


def require_pushed(state: dict[str, Any], required: bool) -> str | None:
    """Refuse (when `required`) or return a warning for a commit that no remote holds."""
    if not state["commit"] or state["pushed_to"]:
        return None
    problem = (
        f"commit {state['commit'][:12]} is on no remote branch, so nobody else could "
        "reproduce this run: git push"
    )
    if required:
        raise UnpushedCommitError(f"{problem} first (require_pushed: true in configs/base.yaml)")
    return f"warning: {problem} (require_pushed: true makes this an error)"


def commit() -> str | None:
    """HEAD's commit; in a Docker image or a Slurm job's snapshot (no .git), its source's."""
    return git("rev-parse", "HEAD") or os.environ.get(f"{ENV_PREFIX}_SOURCE_COMMIT") or None


def require_clean_tree(state: dict[str, Any], allow_dirty: bool, run_dir: Path) -> list[str]:
    """Refuse a dirty or unversioned tree, or (when allowed) save what rebuilds it beside the run.

    Saved: dirty.patch (`git apply` it on the recorded commit; none when only untracked
    files differ), untracked/ (copies of the untracked text files up to UNTRACKED_LIMIT
    bytes each) and untracked.txt (every untracked file, and why one was not copied).
    Returns the names saved, so that the caller can say so.
    """
    if state["commit"] is None and not allow_dirty:
        raise DirtyTreeError(
            "this directory is not a git repository with a commit, so the run could not be "
            "traced to its code: commit first, or pass --allow-dirty."
        )
    dirty = state["modified"] or state["untracked"]
    if dirty and not allow_dirty:
        listing = "\n  ".join((state["modified"] + state["untracked"])[:15])
        raise DirtyTreeError(
            "uncommitted changes: commit them so the run records the code it used, or pass "
            f"--allow-dirty to store the diff in the run directory:\n  {listing}"
        )
    if not dirty:
        return []
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    patch = git("diff", "HEAD", "--binary")
    if patch:  # untracked files alone make no patch (and `git apply` refuses an empty one)
        (run_dir / "dirty.patch").write_text(patch + "\n")
        saved.append("dirty.patch")
    if not state["untracked"]:
        return saved
    listing = []
    for name in state["untracked"]:
        why_not = save_untracked(Path(name), run_dir / "untracked")
        listing.append(f"{name}{f'  (not saved: {why_not})' if why_not else ''}\n")
    (run_dir / "untracked.txt").write_text("".join(listing))
    return [*saved, "untracked.txt"] + (["untracked/"] if (run_dir / "untracked").is_dir() else [])


UNTRACKED_LIMIT = 1 << 20  # bytes: larger untracked files are data, not code; named only


def save_untracked(path: Path, into: Path) -> str | None:
    """Copy an untracked text file into `into`, keeping its path; else return why not."""
    try:
        size = path.stat().st_size
        if size > UNTRACKED_LIMIT:
            return f"{size} bytes, over {UNTRACKED_LIMIT}"
        content = path.read_bytes()
    except OSError as error:
        return error.strerror or str(error)
    if b"\0" in content[:8192]:
        return "binary"
    (into / path).parent.mkdir(parents=True, exist_ok=True)
    (into / path).write_bytes(content)
    return None


def environment() -> dict[str, Any]:
    """What the code ran on: interpreter, torch and CUDA builds, GPUs, packages, lock hash."""
    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hostname": platform.node(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "gpus": gpus,
        "lock": lock_state(),
        "image": image(),
        "packages": [f"{name}=={version}" for name, version in installed_packages()],
    }


SLURM_VARIABLES = {
    "job_id": "SLURM_JOB_ID",
    "nodelist": "SLURM_JOB_NODELIST",
    "nodes": "SLURM_JOB_NUM_NODES",
    "array_job_id": "SLURM_ARRAY_JOB_ID",
    "array_task_id": "SLURM_ARRAY_TASK_ID",
    "restart_count": "SLURM_RESTART_COUNT",  # how often the job was requeued
}


def cluster() -> dict[str, str] | None:
    """The Slurm job this runs in (job id, node list, array task, requeues); None outside it."""
    if "SLURM_JOB_ID" not in os.environ:
        return None
    found = {key: os.environ.get(name) for key, name in SLURM_VARIABLES.items()}
    return {"scheduler": "slurm", **{key: value for key, value in found.items() if value}}


def image() -> dict[str, str] | None:
    """The Docker image this runs in, as `scaffold image run` tells it (tag and digest)."""
    tag = os.environ.get(f"{ENV_PREFIX}_IMAGE")
    return {"tag": tag, "digest": os.environ.get(f"{ENV_PREFIX}_IMAGE_DIGEST")} if tag else None


@functools.cache
def installed_packages() -> list[tuple[str, str]]:
    """(name, version) of every installed distribution, sorted; read once per process.

    What is installed does not change while a process runs. The two fields are read from
    each metadata file's header, the lines before its first blank one: `metadata()` parses
    the whole file, long description included, ten times slower (0.25 s for 200 packages).
    """
    found = []
    for distribution in metadata.distributions():
        text = distribution.read_text("METADATA") or distribution.read_text("PKG-INFO") or ""
        fields: dict[str, str] = {}
        for line in text.splitlines():
            if not line:
                break  # the header ends at the first blank line; the description follows
            key, _, value = line.partition(": ")
            fields.setdefault(key, value.strip())
        if "Name" in fields and "Version" in fields:
            found.append((fields["Name"], fields["Version"]))
    return sorted(found)


CONDA_TO_PYPI = {"pytorch": "torch", "matplotlib-base": "matplotlib"}


def conda_platform() -> str:
    """This machine as a conda platform name (linux-64, osx-arm64, ...)."""
    system = {"linux": "linux", "darwin": "osx", "win32": "win"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    arch = {"x86_64": "64", "amd64": "64", "aarch64": "aarch64", "arm64": "arm64"}
    return f"{system}-{arch.get(machine, machine)}"


def lock_state() -> dict[str, Any] | None:
    """The lock's per-platform hashes, and whether this environment is what it pins.

    In a conda environment (sys.prefix/conda-meta) every locked package of this platform is
    compared, build for build; in a pip environment, the versions of the Python packages
    that both know. A result from an environment that drifted from the lock is still a
    result, but one to reproduce with care: the manifest says so.
    """
    if not LOCK_FILE.is_file():
        return None
    import yaml

    lock = yaml.load(LOCK_FILE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    here = conda_platform()
    locked = {p["name"]: p for p in lock.get("package", []) if p.get("platform") == here}
    state: dict[str, Any] = {
        "content_hash": lock.get("metadata", {}).get("content_hash"),
        "platform": here,
    }
    if not locked:
        return {**state, "compared": None, "matches": None, "differences": ["platform not locked"]}
    conda_meta = Path(sys.prefix) / "conda-meta"
    if conda_meta.is_dir():
        installed = {}
        for record in conda_meta.glob("*.json"):
            entry = json.loads(record.read_text())
            installed[entry["name"]] = f"{entry['version']} {entry['build']}"
        wanted = {
            name: f"{p['version']} {p.get('build', '')}".strip() for name, p in locked.items()
        }
        compared = "conda"
    else:
        installed = {
            _normalise(name): version.split("+")[0] for name, version in installed_packages()
        }
        wanted = {
            _normalise(CONDA_TO_PYPI.get(name, name)): p["version"]
            for name, p in locked.items()
            if _normalise(CONDA_TO_PYPI.get(name, name)) in installed
        }
        compared = "pip"
    differences = [
        f"{name}: locked {version}, installed {installed.get(name, 'nothing')}"
        for name, version in sorted(wanted.items())
        if installed.get(name) != version
    ]
    return {**state, "compared": compared, "matches": not differences, "differences": differences}


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def data_hashes(data_manifest: Path) -> dict[str, Any]:
    """The data manifest's own sha256 and each file's, tying the run to its exact data."""
    if not data_manifest.is_file():
        return {"manifest": None}
    raw = data_manifest.read_bytes()
    files = json.loads(raw)["files"]
    return {
        "manifest": str(data_manifest),
        "manifest_sha256": hashlib.sha256(raw).hexdigest(),
        "files": {name: entry["sha256"] for name, entry in files.items()},
    }


def config_hash(config_yaml: str) -> str:
    return hashlib.sha256(config_yaml.encode()).hexdigest()[:16]


ONE_RUN_OPTIONS = ("--note", "--run-id")  # what names the original run alone, with its value


def command_for_new_run(run_dir: Path, command: list[str], note: str) -> list[str]:
    """The `train` command line that made the run, to run again as a new run (rerun,
    reproduce): without the options that named the original alone, and with `note` saying
    where it comes from."""
    if command[:1] != ["train"]:
        raise InvalidInputError(
            f"{run_dir.name} was not made by `train` ({' '.join(command)}): nothing to rerun"
        )
    kept, arguments = [], iter(command)
    for argument in arguments:
        if argument in ONE_RUN_OPTIONS:
            next(arguments, None)
        elif not argument.startswith(tuple(f"{option}=" for option in ONE_RUN_OPTIONS)):
            kept.append(argument)
    return [*kept, "--note", note]


def read_record(run_dir: Path) -> dict[str, Any] | None:
    """runs/<run-id>/manifest.json, or None where the run has none. A file cut short (a full
    disk, a copy that stopped) or edited into invalid JSON is named, not a traceback."""
    path = run_dir / "manifest.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        attempts = record.get("attempts", []) if isinstance(record, dict) else None
        if not isinstance(attempts, list) or not all(isinstance(a, dict) for a in attempts):
            raise ValueError("not a record of attempts")
    except (ValueError, UnicodeDecodeError) as error:  # (JSONDecodeError is a ValueError)
        syntax = isinstance(error, json.JSONDecodeError)
        why = f"{error.msg}, line {error.lineno}" if syntax else error
        raise InvalidInputError(
            f"{path} is damaged ({why}): the run's record cannot be read. Repair its JSON "
            "(or restore it from a backup), or leave this run out"
        ) from None
    return record


class Manifest:
    """runs/<run-id>/manifest.json, one entry per attempt, rewritten atomically."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "manifest.json"
        self.data = read_record(run_dir) or {"run_id": run_dir.name, "attempts": []}

    def start(self, **fields: Any) -> None:
        # host and pid let the runs table tell a live run from one whose process was killed.
        attempt = {
            "started_at": _now(),
            "status": "running",
            "host": platform.node(),
            "pid": os.getpid(),
            "process_started": process_started(os.getpid()),
            "argv": sys.argv,
            **fields,
        }
        self.data["attempts"].append(attempt)
        self._write()

    def finish(self, status: str, error: BaseException | None = None, **fields: Any) -> None:
        attempt = self.data["attempts"][-1]
        attempt.update(status=status, ended_at=_now(), **fields)
        if error is not None:
            attempt["error"] = "".join(traceback.format_exception(error))
        self._write()

    @property
    def attempts(self) -> list[dict[str, Any]]:
        return self.data["attempts"]

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(self.data, indent=2, default=str) + "\n")
        temporary.replace(self.path)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
