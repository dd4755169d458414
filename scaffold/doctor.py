"""`scaffold doctor`: diagnose a generated repo and say what to do about each finding.

Each check is a small function returning a `Finding`; `diagnose` runs them all on the top
of the repo holding the given path (found as git finds it): git state, template drift, the
commit hooks installed, the lock's freshness, the active environment against the lock, the
NVIDIA driver against the locked CUDA, the Dockerfile's CUDA against the answers, the lock's
platforms against the image's, and whether the newest image of the repo holds HEAD. Later
checks join the list in `CHECKS`.
"""

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from scaffold import answers as answers_module
from scaffold import environments, git, images, lockfile, locking, template_history, update
from scaffold.errors import EngineError, ScaffoldError

# Untracked files with these suffixes are code or configuration the next commit would miss.
SOURCE_SUFFIXES = (".py", ".pyi", ".yaml", ".yml", ".toml", ".cfg", ".jinja", ".sh")


@dataclass(frozen=True)
class Finding:
    """One check's verdict: `ok` False means the user should act on `message`."""

    check: str
    ok: bool
    message: str


def check_git(project: Path) -> Finding:
    if not git.is_repo_root(project):
        return Finding(
            "git", False, f"{project} has no git repository of its own: run `git init` there."
        )
    if killed := update.killed_update(project):
        return Finding("git", False, killed)
    entries = git.status_entries(project)
    conflicts = update.conflicted_files(project)
    if conflicts:
        return Finding(
            "git",
            False,
            f"{len(conflicts)} file(s) with unresolved conflicts, from an update or a merge: "
            f"{_listing(conflicts)}; resolve the <<<<<<< / >>>>>>> markers (or the .rej "
            "files), then `git add --all && git commit`.",
        )
    if any(path == template_history.ANSWERS_FILE for _, path in entries):
        return Finding(
            "git",
            False,
            f"a template update is not committed ({template_history.ANSWERS_FILE} changed): "
            "review it with `git diff --staged`, then `git add --all && git commit`.",
        )
    untracked = [path for code, path in entries if code == "??" and path.endswith(SOURCE_SUFFIXES)]
    if untracked:
        return Finding(
            "git",
            False,
            f"{len(untracked)} untracked source file(s) that commits would miss: "
            f"{_listing(untracked)}; "
            "`git add` them (or list them in .gitignore).",
        )
    if entries:
        return Finding("git", True, f"{len(entries)} uncommitted change(s).")
    return Finding("git", True, "clean work tree.")


def _listing(paths: list[str]) -> str:
    """The first five paths, and '...' for the rest: a finding stays one line."""
    return ", ".join(paths[:5]) + (", ..." if len(paths) > 5 else "")


def check_template(project: Path) -> Finding:
    status = update.check(project)
    if status.available:
        return Finding(
            "template",
            False,
            f"template v{status.current}; v{status.target} is available: "
            "run `scaffold update` (see `scaffold update --check` for what changed).",
        )
    return Finding("template", True, f"template v{status.current}, the newest.")


def check_lock(project: Path) -> Finding:
    if not (project / lockfile.ENVIRONMENT_FILE).is_file():
        return Finding("lock", True, f"no {lockfile.ENVIRONMENT_FILE}: nothing to lock.")
    freshness = lockfile.check_freshness(project)
    if not freshness.fresh:
        return Finding("lock", False, freshness.describe())
    local = locking.local_channels(lockfile.read_lock(project / lockfile.LOCK_FILE))
    if local:
        return Finding("lock", False, f"{freshness.describe()} {locking.local_warning(local)}")
    return Finding("lock", True, freshness.describe())


def check_environment(project: Path) -> Finding:
    """The active environment (conda, micromamba or a virtualenv) against the lock."""
    if not (project / lockfile.LOCK_FILE).is_file():
        return Finding("environment", True, "no lock to compare the environment with.")
    active = environments.active()
    if active is None:
        return Finding(
            "environment",
            True,
            "no active conda environment or virtualenv to compare with the lock: "
            "activate the project's environment and run `scaffold doctor` again.",
        )
    differences = environments.differences(active, project / lockfile.LOCK_FILE)
    if not differences:
        return Finding("environment", True, f"{active.describe()} matches the lock.")
    listing = "; ".join(differences[:5])
    if len(differences) > 5:
        listing += f"; and {len(differences) - 5} more"
    fix = (
        "`micromamba update --file conda-lock.yml` (or `conda-lock install`)"
        if active.kind == "conda"
        else "a conda environment from the lock (see the README), or pin these with pip"
    )
    return Finding(
        "environment",
        False,
        f"{active.describe()} differs from the lock in {len(differences)} package(s): "
        f"{listing}. Use {fix}.",
    )


def check_gpu_driver(project: Path) -> Finding:
    """The NVIDIA driver must support the CUDA version the lock was solved for."""
    needed = environments.locked_cuda(project)
    if needed is None:
        return Finding("gpu", True, "the environment is CPU-only: no driver needed.")
    supported = environments.driver_cuda()
    if supported is None:
        return Finding(
            "gpu", True, f"no GPU found (no nvidia-smi); the environment targets CUDA {needed}."
        )
    if supported.startswith("error:"):
        return Finding("gpu", False, f"nvidia-smi failed: {supported.removeprefix('error:')}")
    if environments.version_tuple(supported) < environments.version_tuple(needed):
        return Finding(
            "gpu",
            False,
            f"the NVIDIA driver supports CUDA up to {supported}, the lock needs {needed}: "
            "update the driver, or lock for an older CUDA "
            f"(`scaffold update --data cuda_version=X.Y`, then `scaffold lock`).",
        )
    return Finding("gpu", True, f"the NVIDIA driver supports CUDA {supported} (lock: {needed}).")


def check_hooks(project: Path) -> Finding:
    """The commit hooks of .pre-commit-config.yaml are installed in this clone."""
    if not (project / ".pre-commit-config.yaml").is_file():
        return Finding("hooks", True, "no .pre-commit-config.yaml: no hooks to install.")
    if not git.is_repo_root(project):  # the hooks would be another repository's
        return Finding(
            "hooks", False, "no git repository of its own to install them in: `git init` first."
        )
    hooks = Path(git.git("rev-parse", "--git-path", "hooks", cwd=project))
    hooks = hooks if hooks.is_absolute() else project / hooks
    missing = [
        stage for stage in ("pre-commit", "commit-msg") if "pre-commit" not in _read(hooks / stage)
    ]
    if missing:
        return Finding(
            "hooks",
            False,
            f"the {' and '.join(missing)} hook(s) are not installed in this clone: run "
            "`pip install pre-commit && pre-commit install`.",
        )
    unfetched = unfetched_hook_repos(project / ".pre-commit-config.yaml")
    if unfetched:
        return Finding(
            "hooks",
            False,
            f"the hooks are installed, but pre-commit has not fetched {', '.join(unfetched)} "
            "yet, so the next commit needs the network: run `pre-commit install-hooks` "
            "while online.",
        )
    return Finding("hooks", True, "pre-commit and commit-msg hooks installed, repos fetched.")


def unfetched_hook_repos(config: Path) -> list[str]:
    """The hook repositories of `config` (at their rev) missing from pre-commit's store.

    pre-commit clones each one on first use; offline, that first commit fails. The store is
    a SQLite table of (repo, ref) in PRE_COMMIT_HOME, or the user's cache folder.
    """
    try:
        repos = yaml.safe_load(config.read_text(encoding="utf-8")).get("repos") or []
        wanted = {(r["repo"], str(r["rev"])) for r in repos if r["repo"] not in ("local", "meta")}
    except (OSError, yaml.YAMLError, AttributeError, KeyError, TypeError):
        return []  # a broken config is pre-commit's to report, at the next commit
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    store = Path(os.environ.get("PRE_COMMIT_HOME") or Path(cache, "pre-commit")) / "db.db"
    rows: list[tuple[str, str]] = []
    if store.is_file():
        try:
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
                rows = db.execute("SELECT repo, ref FROM repos").fetchall()
        except sqlite3.Error:
            return []  # a store of another pre-commit version: nothing to say

    def fetched(repo: str, rev: str) -> bool:  # with additional_dependencies: "repo:dep,dep"
        return any(ref == rev and (r == repo or r.startswith(f"{repo}:")) for r, ref in rows)

    return sorted(f"{repo}@{rev}" for repo, rev in wanted if not fetched(repo, rev))


def check_dockerfile_cuda(project: Path) -> Finding:
    """The Dockerfile's CUDA (CONDA_OVERRIDE_CUDA, NVIDIA_REQUIRE_CUDA) is the answers' one."""
    answer = images.answers(project).get("cuda_version")
    if not (project / "Dockerfile").is_file() or answer is None:
        return Finding("dockerfile", True, "no Dockerfile, or no cuda_version answer to compare.")
    named = images.dockerfile_cuda(project)
    expected = set() if answer == "none" else {str(answer)}
    if named != expected:
        found = ", ".join(sorted(named)) or "none"
        return Finding(
            "dockerfile",
            False,
            f"the Dockerfile names CUDA {found}, the answers say cuda_version {answer}: "
            "`scaffold update --data cuda_version=X` changes both, or edit the Dockerfile's "
            "CONDA_OVERRIDE_CUDA and NVIDIA_REQUIRE_CUDA to match.",
        )
    return Finding("dockerfile", True, f"the Dockerfile's CUDA matches the answers ({answer}).")


def check_image_platform(project: Path) -> Finding:
    """The image is Linux: a lock pinning no Linux platform (a project answered, say,
    platforms=osx-arm64 alone) cannot build it, nor the Kubernetes Job that runs it."""
    lock = project / lockfile.LOCK_FILE
    if not (project / "Dockerfile").is_file() or not lock.is_file():
        return Finding("platform", True, "no Dockerfile or no lock: no image to build.")
    locked = list(lockfile.recorded_fingerprints(lock))
    linux = [platform for platform in locked if platform in images.ENGINE_PLATFORMS.values()]
    if not locked:
        return Finding("platform", True, "the lock pins no platform yet (see the lock check).")
    if linux:
        return Finding("platform", True, f"the lock pins {', '.join(linux)} for the image.")
    platforms = ",".join([*locked, "linux-64"])
    return Finding(
        "platform",
        False,
        f"conda-lock.yml pins no Linux platform (only {', '.join(locked)}), and the Dockerfile "
        "builds a Linux image: add one and lock (`scaffold update --data "
        f"platforms={platforms}`, then `scaffold lock`), or delete the Dockerfile if this "
        "project never runs in a container.",
    )


def check_image(project: Path) -> Finding:
    """An image of this repo that the engine holds is of HEAD, not of an older commit."""
    package = images.answers(project).get("package_name")
    if not (project / "Dockerfile").is_file() or not package:
        return Finding("image", True, "no Dockerfile: no image to check.")
    try:
        built = images.built_commits(str(package))
    except EngineError:
        return Finding("image", True, "no container engine answers: images not checked.")
    # Another repo's images may bear the same name (a clone, a fork, a second experiment):
    # only those built from a commit of this one are its.
    built = {
        tag: commit
        for tag, commit in built.items()
        if commit and git.exit_code("cat-file", "-e", f"{commit}^{{commit}}", cwd=project) == 0
    }
    if not built:
        return Finding("image", True, "no image of this repo built yet (`scaffold image build`).")
    head = git.head_commit(project)
    current = [tag for tag, commit in built.items() if commit == head]
    if current:
        return Finding("image", True, f"{current[0]} holds HEAD.")
    return Finding(
        "image",
        False,
        f"the images of this repo ({', '.join(sorted(built))}) are behind HEAD "
        f"{head[:12]}: run `scaffold image build`.",
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


# Each check by the name its findings carry, which a check that cannot run carries too.
CHECKS: dict[str, Callable[[Path], Finding]] = {
    "git": check_git,
    "template": check_template,
    "hooks": check_hooks,
    "lock": check_lock,
    "environment": check_environment,
    "gpu": check_gpu_driver,
    "dockerfile": check_dockerfile_cuda,
    "platform": check_image_platform,
    "image": check_image,
}


def diagnose(path: Path) -> list[Finding]:
    """Run every check on the repo holding `path`; a check that cannot run is a failure."""
    try:
        root = git.repo_root(path)
    except ScaffoldError as error:  # e.g. git is not installed
        return [Finding("git", False, str(error))]
    project = answers_module.project_root(path)
    if not (project / template_history.ANSWERS_FILE).is_file():
        answers = template_history.ANSWERS_FILE
        why = f"no git repository, no {answers}" if root is None else f"no {answers} at its root"
        return [
            Finding(
                "project",
                False,
                f"{root or path.resolve()} is not a generated repo ({why}): cd into one, or "
                "make one with `scaffold new`.",
            )
        ]
    findings = []
    for name, check in CHECKS.items():
        try:
            findings.append(check(project))
        except ScaffoldError as error:
            findings.append(Finding(name, False, str(error)))
    return findings
