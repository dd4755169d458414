"""The template's released versions, shipped inside the package as a git bundle.

A generated repo records where its template came from (`_src_path`) and which version
rendered it (`_commit`). Copier regenerates that old version during an update, so every
released version must stay reachable, offline, for as long as repos made from it exist.

scaffold therefore ships `data/template-history.bundle`: a git repository holding one
commit per release (`copier.yml`, `template/`, `CHANGELOG.md`), each tagged `vX.Y.Z`.
Generated repos record the project's public URL, never a path on this machine; while
scaffold runs copier, git's `url.<bundle>.insteadOf` setting (passed through the
environment) sends that URL to the bundle. Plain `copier update` without scaffold reads the
same versions from the public repository.

Maintainers add a release with `scripts/release_template.py`, which calls `record_release`.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scaffold.errors import ScaffoldError
from scaffold.git import git

PUBLIC_URL = "https://github.com/scaffold-ml/scaffold.git"
BUNDLE = Path(__file__).parent / "data" / "template-history.bundle"
HISTORY_VARIABLE = "SCAFFOLD_TEMPLATE_HISTORY"
TEMPLATE_FILES = ("copier.yml", "template", "CHANGELOG.md")
ANSWERS_FILE = ".copier-answers.yml"  # where generated repos record answers (copier.yml)


def history_bundle(bundle: Path | None = None) -> Path:
    """The bundle to read: `bundle`, else $SCAFFOLD_TEMPLATE_HISTORY, else the shipped one.

    The variable lets a lab that maintains its own fork of the template point scaffold at
    that fork's history (and lets tests use a history with extra releases).
    """
    if bundle is not None:
        return bundle
    return Path(os.environ[HISTORY_VARIABLE]) if os.environ.get(HISTORY_VARIABLE) else BUNDLE


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def released_versions(bundle: Path | None = None) -> list[str]:
    """Every version in the history, oldest first, without the leading 'v'."""
    bundle = history_bundle(bundle)
    if not bundle.is_file():
        return []
    heads = git("bundle", "list-heads", str(bundle))
    tags = [line.split()[1].removeprefix("refs/tags/v") for line in heads.splitlines()]
    versions = [tag for tag in tags if tag.replace(".", "").isdigit()]
    return sorted(set(versions), key=_version_key)


def is_newer(version: str, than: str) -> bool:
    """Whether release `version` comes after release `than` (both 'X.Y.Z')."""
    return _version_key(version) > _version_key(than)


@contextmanager
def served_from(bundle: Path | None = None) -> Iterator[str]:
    """Make copier's git read `PUBLIC_URL` from `bundle` while the block runs; yields the URL.

    The setting is passed as GIT_CONFIG_COUNT/KEY/VALUE environment variables, so the
    user's own git configuration is untouched. Copier starts git through plumbum, which
    keeps its own copy of the environment: that copy is the one to change.
    """
    from plumbum import local

    bundle = history_bundle(bundle)
    if not bundle.is_file():
        raise ScaffoldError(
            f"The template history {bundle} is missing: reinstall scaffold "
            "(maintainers: run scripts/release_template.py)."
        )
    index = int(local.env.get("GIT_CONFIG_COUNT", "0") or 0)
    settings = {
        f"GIT_CONFIG_KEY_{index}": f"url.{bundle.resolve()}.insteadOf",
        f"GIT_CONFIG_VALUE_{index}": PUBLIC_URL,
        "GIT_CONFIG_COUNT": str(index + 1),
    }
    with local.env(**settings):
        yield PUBLIC_URL


def changelog_since(version: str, bundle: Path | None = None) -> str:
    """The CHANGELOG.md sections of the newest release that come after `version`."""
    bundle = history_bundle(bundle)
    latest = released_versions(bundle)[-1]
    with tempfile.TemporaryDirectory(prefix="scaffold-history-") as tmp:
        git("clone", "--quiet", "--bare", str(bundle), tmp)
        text = git("show", f"v{latest}:CHANGELOG.md", cwd=Path(tmp))
    sections = text.split("\n## ")
    newer = [
        "## " + section
        for section in sections[1:]
        if is_newer(section.split()[0].lstrip("v"), version)
    ]
    return "\n".join(newer).strip()


def copy_template_files(source: Path, dest: Path) -> None:
    """Copy what a release holds (TEMPLATE_FILES) from a checkout `source` over `dest`."""
    for name in TEMPLATE_FILES:
        target = dest / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        if (source / name).is_dir():
            shutil.copytree(source / name, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source / name, target)


def record_release(source: Path, version: str, bundle: Path = BUNDLE) -> bool:
    """Add the template in `source` (a scaffold checkout) to `bundle` as `v{version}`.

    Returns False when that version is already recorded with the same files. Refuses to
    change a recorded version: repos generated from it need it exactly as it was.
    """
    with tempfile.TemporaryDirectory(prefix="scaffold-release-") as tmp:
        work = Path(tmp) / "history"
        if bundle.is_file():
            git("clone", "--quiet", "--branch", "main", str(bundle), str(work))
        else:
            git("init", "--quiet", "--initial-branch=main", str(work))
        copy_template_files(source, work)
        git("add", "--all", cwd=work)
        changed = bool(git("status", "--porcelain", cwd=work))
        if version in released_versions(bundle):
            if changed or git("rev-parse", "HEAD", cwd=work) != git(
                "rev-parse", f"v{version}^{{commit}}", cwd=work
            ):
                raise ScaffoldError(
                    f"Template v{version} is already released with other files; "
                    "bump scaffold.__version__ and record a new release."
                )
            return False
        identity = [
            "-c",
            "user.name=scaffold release",
            "-c",
            "user.email=release@scaffold.invalid",
        ]
        git(
            *identity, "commit", "--quiet", "--allow-empty", "-m", f"release: v{version}", cwd=work
        )
        git(*identity, "tag", "--annotate", f"v{version}", "-m", f"v{version}", cwd=work)
        bundle.parent.mkdir(parents=True, exist_ok=True)
        staged = bundle.with_suffix(".tmp")
        git("bundle", "create", "--quiet", str(staged), "HEAD", "main", "--tags", cwd=work)
        staged.replace(bundle)
    return True
