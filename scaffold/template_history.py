"""The template's released versions, shipped inside the package as a git bundle.

A generated repo records where its template came from (`_src_path`) and which version
rendered it (`_commit`). Copier regenerates that old version during an update, so every
released version must stay reachable, offline, for as long as repos made from it exist.

scaffold therefore ships `data/template-history.bundle`: a git repository holding one
commit per release (`copier.yml`, `template/`, `CHANGELOG.md`), each tagged `vX.Y.Z`, and
`data/template-releases.txt` beside it, which pins every tag to its tree hash so that a released
version can never be changed unnoticed. The template's versions are its own: they move
only when the template changes, never with the version of the `scaffold` package.

Generated repos record the project's public URL, never a path on this machine. The bundle
is unpacked once (per content hash) into scaffold's own cache; while scaffold runs copier,
git's `url.<that repo>.insteadOf` setting (passed through the environment) sends the
public URL there, and copier's mirror cache is pointed beside it. So histories (the
shipped one, a lab's fork, the tests' own) never mix with each other or with plain
copier's cache of the public repository.

Maintainers add a release with `scripts/release_template.py`, which calls `record_release`.
"""

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scaffold.errors import ScaffoldError
from scaffold.git import git

PUBLIC_URL = "https://github.com/scaffold-ml/scaffold.git"
DATA = Path(__file__).parent / "data"
BUNDLE = DATA / "template-history.bundle"
RELEASES_NAME = "template-releases.txt"  # beside each bundle: its tags' pinned trees
HISTORY_VARIABLE = "SCAFFOLD_TEMPLATE_HISTORY"
CACHE_VARIABLE = "SCAFFOLD_CACHE_DIR"
TEMPLATE_FILES = ("copier.yml", "template", "CHANGELOG.md")
ANSWERS_FILE = ".copier-answers.yml"  # where generated repos record answers (copier.yml)
_CHANGELOG_HEADING = re.compile(r"^## v(\d+\.\d+\.\d+)\s*$", re.MULTILINE)


def hooks_release(source: Path) -> tuple[str, str | None]:
    """The commit hooks' rev that `source`'s template pins (`scaffold_hooks_rev`:
    scaffold-vX.Y.Z) and the commit of `source`'s history it names: the one that set
    scaffold's `__version__` to X.Y.Z (None where the history lacks it: a shallow clone).

    Generated repos run the hooks as that commit holds them, and CI checks commits with
    that commit's scaffold: maintainers tag it (docs/commit-hooks.md).
    """
    import yaml

    copier_yml = yaml.safe_load((source / "copier.yml").read_text(encoding="utf-8"))
    rev = str(copier_yml["scaffold_hooks_rev"]["default"])
    setting = f'__version__ = "{rev.removeprefix("scaffold-v")}"'
    found = git(
        "log", "-1", "--format=%H", f"-S{setting}", "--", "scaffold/__init__.py", cwd=source
    )
    return rev, found or None


def history_bundle(bundle: Path | None = None) -> Path:
    """The bundle to read: `bundle`, else $SCAFFOLD_TEMPLATE_HISTORY, else the shipped one.

    The variable lets a lab that maintains its own fork of the template point scaffold at
    that fork's history (and lets tests use a history with extra releases). A bundle that
    is missing or unreadable is the user's problem to fix, so it raises ScaffoldError.
    """
    if bundle is None:
        configured = os.environ.get(HISTORY_VARIABLE)
        bundle = Path(configured) if configured else BUNDLE
    if not bundle.is_file():
        fix = (
            f"unset {HISTORY_VARIABLE} or point it at a history bundle"
            if bundle != BUNDLE
            else "reinstall scaffold (maintainers: run scripts/release_template.py)"
        )
        raise ScaffoldError(f"The template history {bundle} is missing: {fix}.")
    return bundle


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def is_newer(version: str, than: str) -> bool:
    """Whether release `version` comes after release `than` (both 'X.Y.Z')."""
    return _version_key(version) > _version_key(than)


def released_versions(bundle: Path | None = None) -> list[str]:
    """Every version in the history, oldest first, without the leading 'v'.

    Reads only the bundle's header (no unpacking), so `scaffold --version` stays cheap.
    """
    bundle = history_bundle(bundle)
    try:
        heads = git("bundle", "list-heads", str(bundle))
    except ScaffoldError as error:
        raise ScaffoldError(
            f"The template history {bundle} is not a readable git bundle: {error}"
        ) from error
    tags = [line.split()[1].removeprefix("refs/tags/v") for line in heads.splitlines()]
    versions = sorted(
        {tag for tag in tags if re.fullmatch(r"\d+\.\d+\.\d+", tag)}, key=_version_key
    )
    if not versions:
        raise ScaffoldError(f"The template history {bundle} holds no released version (vX.Y.Z).")
    return versions


def latest_version(bundle: Path | None = None) -> str:
    """The newest released template version."""
    return released_versions(bundle)[-1]


def cache_dir() -> Path:
    """scaffold's own cache: $SCAFFOLD_CACHE_DIR, else $XDG_CACHE_HOME/scaffold."""
    if configured := os.environ.get(CACHE_VARIABLE):
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "scaffold"


def history_repo(bundle: Path | None = None) -> Path:
    """A bare git repository holding the bundle's history, unpacked once per bundle content.

    Keyed by the bundle's hash, so a changed bundle (a new scaffold, a lab's fork) gets a
    repository of its own, and an unchanged one is never unpacked twice. The unpacked
    repository appears in one rename, so concurrent runs never see half of one.
    """
    bundle = history_bundle(bundle)
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()[:20]
    repo = cache_dir() / "histories" / f"{digest}.git"
    if (repo / "HEAD").is_file():
        return repo
    repo.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".unpack-", dir=repo.parent) as tmp:
        staged = Path(tmp) / "history.git"
        try:
            git("clone", "--quiet", "--mirror", str(bundle.resolve()), str(staged))
        except ScaffoldError as error:
            raise ScaffoldError(
                f"The template history {bundle} is not a readable git bundle: {error}"
            ) from error
        try:
            staged.rename(repo)
        except OSError:  # another run unpacked the same bundle first: use theirs
            if not (repo / "HEAD").is_file():
                raise
    return repo


def show(version: str, path: str, bundle: Path | None = None) -> bytes:
    """The bytes of `path` in release `version`, read straight from the cached history."""
    result = subprocess.run(
        ["git", "show", f"v{version}:{path}"], cwd=history_repo(bundle), capture_output=True
    )
    if result.returncode != 0:
        raise ScaffoldError(f"Template v{version} has no {path}.")
    return result.stdout


def changelog_since(version: str, bundle: Path | None = None, until: str | None = None) -> str:
    """The CHANGELOG.md sections of the newest release that come after `version`, up to
    release `until` (default: the newest) included."""
    text = show(latest_version(bundle), "CHANGELOG.md", bundle).decode("utf-8")
    sections = text.split("\n## ")
    newer = [
        "## " + section
        for section in sections[1:]
        if is_newer(section.split()[0].lstrip("v"), version)
        and not (until and is_newer(section.split()[0].lstrip("v"), until))
    ]
    return "\n".join(newer).strip()


@contextmanager
def served_from(bundle: Path | None = None) -> Iterator[str]:
    """Make copier read `PUBLIC_URL` from the cached history while the block runs.

    Yields the URL to give copier. Git's URL rewrite is passed as GIT_CONFIG_COUNT/KEY/VALUE
    environment variables, so the user's own git configuration is untouched; copier starts
    git through plumbum, which keeps its own copy of the environment: that copy is the one
    to change. Copier's mirror cache (COPIER_CACHE_DIR, read by copier in this process) is
    pointed beside the history, and a lock keeps concurrent runs from refreshing it at once.
    """
    from plumbum import local

    repo = history_repo(bundle)
    index = int(local.env.get("GIT_CONFIG_COUNT", "0") or 0)
    settings = {
        f"GIT_CONFIG_KEY_{index}": f"url.{repo}.insteadOf",
        f"GIT_CONFIG_VALUE_{index}": PUBLIC_URL,
        "GIT_CONFIG_COUNT": str(index + 1),
    }
    previous = os.environ.get("COPIER_CACHE_DIR")
    with open(repo.with_suffix(".lock"), "w") as lock, local.env(**settings):
        fcntl.flock(lock, fcntl.LOCK_EX)
        os.environ["COPIER_CACHE_DIR"] = str(repo.with_suffix(".copier"))
        try:
            yield PUBLIC_URL
        finally:
            if previous is None:
                os.environ.pop("COPIER_CACHE_DIR", None)
            else:
                os.environ["COPIER_CACHE_DIR"] = previous


def changelog_version(source: Path) -> str:
    """The version of the newest section of `source`/CHANGELOG.md: the one to release."""
    changelog = source / "CHANGELOG.md"
    found = _CHANGELOG_HEADING.search(changelog.read_text(encoding="utf-8"))
    if not found:
        raise ScaffoldError(f"{changelog} has no '## vX.Y.Z' section to release.")
    return found.group(1)


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


def release_record(bundle: Path | None = None) -> Path:
    """The file that pins the tags of `bundle` to their trees (it lies beside the bundle)."""
    return history_bundle(bundle).with_name(RELEASES_NAME)


def read_release_record(bundle: Path | None = None) -> dict[str, str]:
    """The checked-in pins: version -> tree hash of its release commit."""
    record = release_record(bundle)
    if not record.is_file():
        return {}
    pins = {}
    for line in record.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            tag, tree = line.split()
            pins[tag.removeprefix("v")] = tree
    return pins


def release_trees(bundle: Path | None = None) -> dict[str, str]:
    """What the history holds now: version -> tree hash of its release commit."""
    repo = history_repo(bundle)
    return {
        version: git("rev-parse", f"v{version}^{{tree}}", cwd=repo)
        for version in released_versions(bundle)
    }


def verify_release_record(bundle: Path | None = None) -> list[str]:
    """Problems between the history and its pins: a changed, added or dropped release."""
    pinned, actual = read_release_record(bundle), release_trees(bundle)
    problems = [
        f"v{version}: released as tree {tree[:12]}, the history now holds "
        + (f"tree {actual[version][:12]}" if version in actual else "no such tag")
        for version, tree in pinned.items()
        if actual.get(version) != tree
    ]
    problems += [
        f"v{version}: in the history but not pinned" for version in actual.keys() - pinned.keys()
    ]
    return sorted(problems)


def record_release(source: Path, bundle: Path = BUNDLE) -> str | None:
    """Add the template in `source` (a scaffold checkout) to `bundle` as a new release.

    The version is the newest section of `source`/CHANGELOG.md. Returns it, or None when
    the template files equal the newest release (nothing to release). Refuses a version
    that is already released or older than the newest: repos generated from a released
    version need it exactly as it was, forever. Pins the new tag's tree beside the bundle.
    """
    version = changelog_version(source)
    with tempfile.TemporaryDirectory(prefix="scaffold-release-") as tmp:
        work = Path(tmp) / "history"
        released = released_versions(bundle) if bundle.is_file() else []
        if released:
            git("clone", "--quiet", "--branch", "main", str(bundle), str(work))
        else:
            git("init", "--quiet", "--initial-branch=main", str(work))
        copy_template_files(source, work)
        git("add", "--all", cwd=work)
        if released and not git("status", "--porcelain", cwd=work):
            return None
        if released and not is_newer(version, released[-1]):
            raise ScaffoldError(
                f"The template changed since v{released[-1]}, but CHANGELOG.md's newest "
                f"section is v{version}: add a section for the next version and describe "
                "the change there."
            )
        identity = [
            "-c",
            "user.name=scaffold release",
            "-c",
            "user.email=release@scaffold.invalid",
        ]
        git(*identity, "commit", "--quiet", "-m", f"release: v{version}", cwd=work)
        git(*identity, "tag", "--annotate", f"v{version}", "-m", f"v{version}", cwd=work)
        tree = git("rev-parse", "HEAD^{tree}", cwd=work)
        bundle.parent.mkdir(parents=True, exist_ok=True)
        staged = bundle.with_suffix(".tmp")
        git("bundle", "create", "--quiet", str(staged), "HEAD", "main", "--tags", cwd=work)
        staged.replace(bundle)
    with bundle.with_name(RELEASES_NAME).open("a", encoding="utf-8") as pins:
        pins.write(f"v{version} {tree}\n")
    return version
