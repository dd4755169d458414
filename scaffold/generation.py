"""`scaffold new`: render the template into a new directory, all or nothing.

The project is rendered, git-initialised and committed in a hidden staging directory
beside DEST, then moved into place with one rename. A failure, Ctrl-C or SIGTERM at any
point removes the staging directory, so DEST either holds a complete, committed project
or does not exist.
"""

import os
import shutil
import subprocess
import tempfile
import tomllib
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scaffold import answers as answers_module
from scaffold import git, lockfile, locking, template_history
from scaffold.errors import ScaffoldError
from scaffold.interrupts import termination_as_interrupt, undone


@dataclass(frozen=True)
class NewProject:
    """What `new_project` made, for the caller to report."""

    path: Path
    answers: dict[str, Any]
    template_version: str
    commit: str | None
    used_fallback_identity: bool
    lock_note: str | None  # what became of the attempt to lock the environment
    hooks: "HookSetup | None" = None  # None: no git, or a template without commit hooks
    extras: tuple[str, ...] = ()  # the pip extras its pyproject.toml declares ('dev', ...)


@dataclass(frozen=True)
class HookSetup:
    """What became of `pre-commit install` in the new repo."""

    installed: bool
    note: str  # one line for the user: what happened, or what to run


def new_project(
    dest: Path,
    *,
    data: dict[str, str] | None = None,
    defaults: bool = False,
    init_git: bool = True,
    template_version: str | None = None,
    template: str | None = None,
    lock: bool = True,
    channels: list[str] | None = None,
) -> NewProject:
    """Generate a project at `dest` from the bundled template (or `template`, a copier source).

    `defaults` answers every question not in `data` with its default instead of prompting.
    `template_version` picks a released template version (default: the newest). With
    `lock`, the environment is pinned right away when its channels (or `channels`) answer,
    so that the first commit holds conda-lock.yml; otherwise generation goes on and the
    returned `lock_note` says how to lock later.
    """
    dest = Path(os.path.abspath(dest))
    _refuse_non_empty(dest)
    try:
        created_parents = _make_parents(dest.parent)
    except OSError as error:
        raise ScaffoldError(f"cannot create {error.filename}: {error.strerror}.") from None
    try:
        staging = Path(
            tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".scaffold", dir=dest.parent)
        )
    except OSError as error:  # a read-only folder, another user's, or a file
        for parent in created_parents:
            parent.rmdir()
        raise ScaffoldError(f"cannot write in {dest.parent}: {error.strerror}.") from None
    try:
        with termination_as_interrupt():
            answers, version = _render(
                staging, dest.name, data or {}, defaults, template_version, template
            )
            lock_note = None
            if lock and (staging / lockfile.ENVIRONMENT_FILE).is_file():
                lock_note = locking.lock_new_project(staging, channels)
            commit, fallback = (
                _first_commit(staging, answers, version) if init_git else (None, False)
            )
            hooks = install_hooks(staging) if init_git else None
            os.chmod(staging, 0o777 & ~_umask())
            os.replace(staging, dest)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        for parent in created_parents:
            parent.rmdir()
        if isinstance(error, KeyboardInterrupt):
            raise undone(error, f"nothing was generated at {dest}.") from None
        raise
    return NewProject(dest, answers, version, commit, fallback, lock_note, hooks, _extras(dest))


def _extras(project: Path) -> tuple[str, ...]:
    """The optional dependency groups of the project: older template versions have fewer,
    and a template of one's own (`--template`) may have no pyproject.toml at all."""
    try:
        with (project / "pyproject.toml").open("rb") as file:
            table = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError):
        return ()
    return tuple(table.get("project", {}).get("optional-dependencies", {}))


def _refuse_non_empty(dest: Path) -> None:
    if dest.is_symlink():  # generation ends by renaming a folder into place: not onto a link
        raise ScaffoldError(
            f"{dest} is a symbolic link: give the folder it points to, or a new directory."
        )
    if dest.is_dir() and any(dest.iterdir()):
        raise ScaffoldError(f"{dest} already exists and is not empty: choose a new directory.")
    if dest.exists() and not dest.is_dir():
        raise ScaffoldError(f"{dest} already exists and is a file: choose a new directory.")


def _make_parents(directory: Path) -> list[Path]:
    """Create `directory` and its missing parents; return those created, deepest first."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir()
    return missing


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _git_identity_defaults() -> dict[str, str]:
    """Author defaults from the user's git configuration, which most people have set."""
    defaults = {}
    if name := git.config_value("user.name"):
        defaults["author_name"] = name
    if email := git.config_value("user.email"):
        defaults["author_email"] = email
    return defaults


def _render(
    staging: Path,
    name: str,
    data: dict[str, str],
    defaults: bool,
    template_version: str | None,
    template: str | None,
) -> tuple[dict[str, Any], str]:
    """Run copier into `staging`; return the recorded answers and the template version."""
    from copier import run_copy
    from copier.errors import InteractiveSessionError

    user_defaults = {"project_name": name, **_git_identity_defaults()}
    if template:
        if (local := Path(template).expanduser()).is_dir():
            # Copier records the source in the answers, which `update` reads from the repo:
            # a path relative to where `new` ran would name nothing from there.
            template = str(local.resolve())
        source = nullcontext(template)
        vcs_ref = f"v{template_version}" if template_version else None
        questions = answers_module.local_template_questions(template)
    else:
        source = template_history.served_from()
        available = template_history.released_versions()
        version = (template_version or available[-1]).removeprefix("v")
        if version not in available:
            raise ScaffoldError(
                f"There is no template version {version}; "
                f"this scaffold has {', '.join(available)}."
            )
        vcs_ref = f"v{version}"
        questions = answers_module.questions_from(
            template_history.show(version, "copier.yml").decode("utf-8")
        )
    checked = answers_module.check(data, questions) if questions is not None else data
    try:
        with source as src_path:
            run_copy(
                src_path,
                staging,
                data=checked,
                defaults=defaults,
                user_defaults=user_defaults,
                vcs_ref=vcs_ref,
                quiet=True,
                overwrite=True,
                cleanup_on_error=False,
            )
    except InteractiveSessionError as error:
        raise ScaffoldError(
            "No terminal to ask the questions in: pass --defaults, "
            "and --data key=value for the answers you want to set."
        ) from error
    except Exception as error:
        if user_error := answers_module.copier_rejection(error):
            raise user_error from error
        raise
    answers = yaml.safe_load((staging / template_history.ANSWERS_FILE).read_text(encoding="utf-8"))
    if questions is not None:
        answers_module.refuse_unasked(checked, answers, questions)
    version = str(answers.get("_commit", "unversioned")).removeprefix("v")
    return answers, version


def _first_commit(project: Path, answers: dict[str, Any], version: str) -> tuple[str, bool]:
    git.git("init", "--quiet", "--initial-branch=main", cwd=project)
    fallback = git.commit_all(
        project,
        f"chore: generate project from scaffold template v{version}",
        fallback_name=answers.get("author_name") or "scaffold",
        fallback_email=answers.get("author_email") or "scaffold@localhost",
    )
    return git.head_commit(project), fallback


PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
INSTALL_HOOKS = "pip install pre-commit && pre-commit install"


def install_hooks(project: Path) -> HookSetup | None:
    """Set up the commit hooks of `project` with `pre-commit install`, if pre-commit is here.

    Without network access it only writes the .git/hooks shims (~0.2 s); pre-commit
    fetches the hooks themselves on the first commit. Its config sets both hook types
    (default_install_hook_types). Never fails generation: a missing pre-commit, or one
    that refuses (e.g. a global core.hooksPath), becomes a note that says what to run.
    """
    if not (project / PRE_COMMIT_CONFIG).is_file():
        return None
    pre_commit = shutil.which("pre-commit")
    if pre_commit is None:
        return HookSetup(False, "Commit hooks not installed: pre-commit is not on PATH.")
    try:
        result = subprocess.run(
            [pre_commit, "install"], cwd=project, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return HookSetup(
            False, f"Commit hooks not installed: `pre-commit install` failed: {error}"
        )
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines() or ["no message"]
        return HookSetup(
            False, f"Commit hooks not installed: `pre-commit install` said {said[-1]}"
        )
    return HookSetup(True, "Commit hooks installed: pre-commit checks every commit.")
