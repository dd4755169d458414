"""The hooks' settings: `[tool.scaffold.hooks]` in the repository's pyproject.toml.

Every setting has a default here, so a repo without the table gets the same rules as the
template's commented-out example (template/pyproject.toml.jinja), and docs/commit-hooks.md
explains each one. A list replaces its default; copy the default to extend it.

Paths match gitignore-style patterns: a pattern without `/` matches a file name in any
folder (`*.pt`), one with `/` matches the path from the top of the repo, where `*` also
crosses folders (`data/**`); a leading `!` takes a path back out (`!data/README.md`), and
the last matching pattern wins.
"""

import fnmatch
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from scaffold.hooks.report import HookError

PYPROJECT = "pyproject.toml"
TABLE = "[tool.scaffold.hooks]"

# Environment changes: what the code runs on. They go in a commit of their own, beside
# the lock that pins them; pyproject.toml's dependency tables count too (atomic_commit).
ENVIRONMENT = (
    "environment.yml",
    "environment-*.yml",
    "virtual-packages.yml",
    "conda-lock.yml",
    "requirements*.txt",
    "Dockerfile",
    "Dockerfile.*",
    "*.Dockerfile",
    ".dockerignore",
)

# Written by tools, not people: reviewing them line by line means nothing, so they never
# count towards a commit's size.
GENERATED = (
    "conda-lock.yml",
    "*-lock.yml",
    "*-lock.yaml",
    "*-lock.json",
    "*.lock",
    ".copier-answers.yml",
)

# Checkpoints and model weights, data and run outputs, and what merges and patches leave
# behind. data/ and runs/ are git-ignored in generated repos; this catches `git add -f`
# and repos whose .gitignore lost them.
CHECKPOINTS = (
    "*.pt",
    "*.pth",
    "*.ckpt",
    "*.safetensors",
    "*.onnx",
    "*.h5",
    "*.hdf5",
    "*.keras",
    "*.tflite",
    "*.pkl",
    "*.pickle",
    "*.joblib",
)
DATA = (
    "*.npy",
    "*.npz",
    "*.parquet",
    "*.feather",
    "*.arrow",
    "*.tfrecord",
    "*.mat",
    "data/**",
    "!data/README.md",
    "runs/**",
    "mlruns/**",
    "wandb/**",
)
LEFTOVERS = ("*.rej", "*.orig")

COMMIT_TYPES = (
    "feat",
    "fix",
    "docs",
    "style",
    "refactor",
    "perf",
    "test",
    "build",
    "ci",
    "chore",
    "revert",
)


@dataclass(frozen=True)
class Settings:
    """The rules' knobs. Field names are the TOML keys with `-` written as `_`."""

    # atomic-commit: ~400 changed lines is where reviews stop finding defects (the
    # 200-400 lines per review of the SmartBear/Cisco study); a new model module with its
    # config and test, or a refactor of one interface, fits. Files catch sprawl.
    max_lines: int = 400
    max_files: int = 20
    environment: tuple[str, ...] = ENVIRONMENT
    generated: tuple[str, ...] = GENERATED
    # no-artifacts: 500 KB, as pre-commit-hooks' check-added-large-files.
    artifacts: tuple[str, ...] = CHECKPOINTS + DATA + LEFTOVERS
    max_file_size_kb: int = 500
    # commit-msg
    commit_types: tuple[str, ...] = COMMIT_TYPES
    max_subject_length: int = 72


def load(root: Path) -> Settings:
    """The settings of the repository at `root`: its pyproject.toml's table over the defaults.

    Raises HookError naming the key and the fix for an unknown key or a wrong type, so a
    typo never silently turns a rule off.
    """
    path = root / PYPROJECT
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as error:
        raise HookError(f"{PYPROJECT}: cannot read it ({error}).") from error
    return parse(text)


def parse(text: str) -> Settings:
    """The settings a pyproject.toml's text holds (raises HookError, as `load`)."""
    try:
        scaffold = tomllib.loads(text).get("tool", {}).get("scaffold", {})
    except tomllib.TOMLDecodeError as error:
        raise HookError(
            f"{PYPROJECT}: not valid TOML ({error}): fix it, the hooks read {TABLE} there."
        ) from error
    if not isinstance(scaffold, dict):
        raise HookError(f"{PYPROJECT}: [tool.scaffold] must be a table, holding {TABLE}.")
    # scaffold reads nothing else under [tool.scaffold]: another name is a typo of the
    # table's, which would otherwise turn every setting in it off.
    for name in scaffold:
        if name != "hooks":
            raise HookError(
                f"{PYPROJECT}: there is no table [tool.scaffold.{name}]: the hooks' settings "
                f"go in {TABLE}."
            )
    table = scaffold.get("hooks", {})
    if not isinstance(table, dict):
        raise HookError(f"{PYPROJECT}: {TABLE} must be a table of settings.")
    return from_table(table)


def from_table(table: dict[str, Any]) -> Settings:
    """Settings from the parsed `[tool.scaffold.hooks]` table (raises HookError)."""
    defaults = Settings()
    known = {field.name.replace("_", "-"): field.name for field in fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise HookError(
                f"{PYPROJECT}: {TABLE} has no setting {key!r}; "
                f"the settings are: {', '.join(sorted(known))}."
            )
        default = getattr(defaults, known[key])
        if isinstance(default, int):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise HookError(f"{PYPROJECT}: {TABLE} {key} must be a positive whole number.")
        elif not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise HookError(f"{PYPROJECT}: {TABLE} {key} must be a list of strings.")
        else:
            value = tuple(value)
        values[known[key]] = value
    return Settings(**values)


def match(path: str, patterns: tuple[str, ...]) -> str | None:
    """The pattern that decides `path` (the last one matching), or None when none takes it.

    Case is ignored, as the file systems of macOS and Windows ignore it: BEST.PT is a
    checkpoint too.
    """
    decided = None
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern[1:] if negated else pattern
        if _matches(path.lower(), glob.lower()):
            decided = None if negated else pattern
    return decided


def _matches(path: str, glob: str) -> bool:
    """Whether `path` matches one pattern, read as .gitignore reads it: without a `/` but a
    trailing one, it matches a name in any folder; with one (a leading `/` too), the path
    from the top, where `*` also crosses folders and `**/` may match no folder; a trailing
    `/` names a folder, so it matches every file below it."""
    body = glob.strip("/")
    anchored = glob.startswith("/") or "/" in body
    forms = [body, body.removeprefix("**/")] if body.startswith("**/") else [body]
    if glob.endswith("/"):
        folders = path.split("/")[:-1]
        subjects = ["/".join(folders[: n + 1]) for n in range(len(folders))]
        if not anchored:
            subjects = folders
    else:
        subjects = [path] if anchored else [path.rsplit("/", 1)[-1]]
    return any(fnmatch.fnmatchcase(subject, form) for subject in subjects for form in forms)
