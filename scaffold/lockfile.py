"""conda-lock.yml: what a generated repo's environment spec says, and whether the lock matches.

A generated repo declares its conda environment in `environment.yml` (what the code needs
to run), `environment-dev.yml` (what developing it needs: conda-lock's `dev` category) and
`virtual-packages.yml` (the machine the lock is solved for: `__cuda`, `__glibc`, ...).
`scaffold lock` (locking.py) solves them into `conda-lock.yml`, in conda-lock's v1 format,
which `conda-lock install`, `conda-lock render` and `micromamba create -f` read.

Freshness must be cheap: the doctor, the commit hooks and CI ask it on every run, and
parsing a 600-package lock with PyYAML costs ~1.5 s. So `scaffold lock` records a
fingerprint of the inputs per platform (in conda-lock's `content_hash` field) at the top
of the lock, and `check_freshness` reads those first lines, and scans the rest for a merge's
conflict markers: no YAML library, no conda-lock.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold.hooks.no_artifacts import CONFLICT_MARKER

LOCK_FILE = "conda-lock.yml"
ENVIRONMENT_FILE = "environment.yml"
# Where the channels cannot be reached, a local mirror (a conda channel on disk) can.
OFFLINE_HINT = " (offline: `scaffold lock --channel file:///path/to/mirror`)"
DEV_ENVIRONMENT_FILE = "environment-dev.yml"
VIRTUAL_PACKAGES_FILE = "virtual-packages.yml"
INPUT_FILES = (ENVIRONMENT_FILE, DEV_ENVIRONMENT_FILE, VIRTUAL_PACKAGES_FILE)
LOCK_AND_INPUTS = (*INPUT_FILES, LOCK_FILE)  # what an environment change touches
_FINGERPRINT_VERSION = b"scaffold-lock-inputs-1"
_HASH_LINE = re.compile(r"^\s{4}([\w.-]+):\s*([0-9a-f]{64})\s*$")


def fingerprint(project: Path, platform: str) -> str:
    """A hash of everything that decides the lock of `platform`: the input files' bytes.

    Any edit to an input file changes it (comments too: erring towards "stale" costs one
    re-lock; erring the other way ships an environment that does not match its spec).
    """
    digest = hashlib.sha256(_FINGERPRINT_VERSION + b"\0" + platform.encode())
    for name in INPUT_FILES:
        path = project / name
        if path.is_file():  # as git stores it: a CRLF checkout (Windows) changes nothing
            content = path.read_bytes().replace(b"\r\n", b"\n")
            digest.update(b"\0" + name.encode() + b"\0" + content)
    return digest.hexdigest()


def recorded_fingerprints(lock: Path) -> dict[str, str]:
    """The per-platform `content_hash` entries at the top of a lock, without parsing it all.

    Reads line by line and stops at the package list, so its cost does not grow with the
    number of packages.
    """
    hashes: dict[str, str] = {}
    inside = False
    with lock.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("package:"):
                break
            if line.startswith("  content_hash:"):
                inside = True
                continue
            if inside:
                match = _HASH_LINE.match(line)
                if not match:
                    break
                hashes[match.group(1)] = match.group(2)
    return hashes


@dataclass(frozen=True)
class Freshness:
    """Whether the lock matches the inputs, per platform, and what to tell the user."""

    present: bool
    stale_platforms: list[str]
    missing_platforms: list[str]
    conflicted: bool = False  # it holds a merge's conflict markers

    @property
    def fresh(self) -> bool:
        return (
            self.present
            and not self.conflicted
            and not self.stale_platforms
            and not self.missing_platforms
        )

    def describe(self) -> str:
        if not self.present:
            return f"no {LOCK_FILE}: run `scaffold lock`{OFFLINE_HINT}."
        if self.conflicted:
            return (
                f"{LOCK_FILE} holds a merge's conflict markers (<<<<<<<): take one side's lock "
                f"(`git checkout --theirs -- {LOCK_FILE}` in a merge), then run `scaffold lock`."
            )
        problems = []
        if self.stale_platforms:
            problems.append(
                f"{', '.join(self.stale_platforms)}: the environment files changed since"
            )
        if self.missing_platforms:
            problems.append(f"{', '.join(self.missing_platforms)}: not locked")
        if not problems:
            return f"{LOCK_FILE} matches the environment files."
        return f"{LOCK_FILE} is stale ({'; '.join(problems)}): run `scaffold lock`{OFFLINE_HINT}."


def check_freshness(project: Path, platforms: list[str] | None = None) -> Freshness:
    """Compare the lock's recorded fingerprints with the inputs, for each platform.

    `platforms` defaults to those `environment.yml` lists.
    """
    lock = project / LOCK_FILE
    if platforms is None:
        platforms = declared_platforms(project)
    if not lock.is_file():
        return Freshness(False, [], list(platforms))
    recorded = recorded_fingerprints(lock)
    missing = [platform for platform in platforms if platform not in recorded]
    # Every locked platform too: one no longer declared (or that a hand-written
    # environment.yml hid from the reader above) must not let an edit pass as fresh.
    judged = [*platforms, *(platform for platform in recorded if platform not in platforms)]
    stale = [
        platform
        for platform in judged
        if platform in recorded and recorded[platform] != fingerprint(project, platform)
    ]
    conflicted = bool(CONFLICT_MARKER.search(lock.read_bytes()))  # a few ms for a large lock
    return Freshness(True, stale, missing, conflicted)


def declared_platforms(project: Path) -> list[str]:
    """The `platforms:` list of environment.yml, read without a YAML parser: as a block,
    its items indented or not, or in flow style (`platforms: [linux-64, osx-arm64]`)."""
    path = project / ENVIRONMENT_FILE
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [n for n, line in enumerate(lines) if re.match(r"platforms:", line)]
    if not starts:
        return []
    first, *after = (line.split("#", 1)[0] for line in lines[starts[0] :])
    value = first.removeprefix("platforms:").strip()
    if value:  # flow style, maybe over several lines
        return re.findall(r"[\w-]+", " ".join([value, *after]).split("]", 1)[0])
    platforms = []
    for line in after:
        if item := re.match(r"\s*-\s*['\"]?([\w-]+)", line):
            platforms.append(item.group(1))
        elif line.strip():
            break  # the next key
    return platforms


def read_lock(path: Path) -> dict[str, Any]:
    """The whole lock, parsed (PyYAML's C loader when present): for writing and comparing,
    never for the freshness check above, which the stdlib-only commit hooks run."""
    import yaml

    from scaffold.errors import ScaffoldError

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as error:
        raise ScaffoldError(
            f"{path} is not valid YAML ({error}): delete it and lock again."
        ) from error
    if not isinstance(data, dict) or data.get("version") != 1 or "package" not in data:
        raise ScaffoldError(f"{path} is not a conda-lock v1 lock file: delete it and lock again.")
    return data
