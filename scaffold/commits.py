"""`scaffold check-commits`: the commit hooks' rules on every commit of a range.

Hooks run on the machine of whoever commits, and can be skipped; CI runs this over a pull
request's commits so that the rules hold for what is merged. Each commit is judged alone,
as the hooks judged it when it was made: its message (commit-msg, with fixups refused:
they must be squashed before merging), its change (atomic-commit, with the same
exemptions), its new files (no-artifacts), and, when it touches the environment files,
its lock against its own tree (lock-fresh).

It must stay fast on long ranges, so git is asked three or four times in all, never per
commit: one `git log` gives every commit's message, parents and changed files; one
`git cat-file --batch-check` the sizes of the new blobs; one `git cat-file --batch`
the contents that rules read.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from scaffold import git, lockfile
from scaffold.errors import ScaffoldError
from scaffold.hooks import atomic_commit, commit_msg, lock_fresh, no_artifacts
from scaffold.hooks import changes as git_changes
from scaffold.hooks import settings as settings_module
from scaffold.hooks.changes import Change
from scaffold.hooks.report import HookError, Problem
from scaffold.hooks.settings import Settings

COMMIT_MARK = "\x00\x01scaffold-commit\x01"  # NUL never occurs in git's messages or paths
SYMLINK_MODE = "120000"
SHORT = 12


@dataclass(frozen=True)
class Violation:
    """One broken rule in one commit."""

    commit: str
    rule: str  # the hook id: atomic-commit, commit-msg, lock-fresh, no-artifacts
    message: str

    def __str__(self) -> str:
        return f"{self.commit[:SHORT]} {self.rule}: {self.message}"


@dataclass(frozen=True)
class Commit:
    """What `git log` says of one commit."""

    sha: str
    parents: tuple[str, ...]
    message: str
    changes: list[Change]  # for a merge, what it adds beyond its parents (merge_changes)


@dataclass(frozen=True)
class Report:
    """The outcome of checking a range, for the CLI to print."""

    revisions: str
    commits: int
    violations: list[Violation]
    merges: int = 0

    @property
    def commits_at_fault(self) -> int:
        return len({violation.commit for violation in self.violations})

    @property
    def rewrite(self) -> str:
        """The rebase that rewrites the range's commits; it keeps its merges, which a plain
        `git rebase -i` would flatten away."""
        keep = " --rebase-merges" if self.merges else ""
        return f"git rebase -i{keep} {rebase_base(self.revisions)}"


def check_range(path: Path, revisions: str | None = None) -> Report:
    """Check every commit of `revisions` (`BASE..HEAD`; default: HEAD against main).

    Raises ScaffoldError when the range cannot be read or the settings are wrong.
    """
    root = git.repo_root(path)
    if root is None:
        raise ScaffoldError(f"{path} is not inside a git repository: run it in one.")
    revisions = revisions or default_range(root)
    if revisions.startswith("-"):
        raise ScaffoldError(f"{revisions!r} is not a range of commits: write BASE..HEAD.")
    try:
        settings = rules_for(root, revisions)
    except HookError as error:
        raise ScaffoldError(str(error)) from error
    try:
        commits = read_commits(root, revisions)
    except HookError as error:
        raise ScaffoldError(
            f"Cannot read the commits {revisions} in {root} "
            f"({str(error).split(' failed: ', 1)[-1].strip()}): name two commits of this "
            "repository, BASE..HEAD (in CI, check out the whole history: fetch-depth: 0)."
        ) from error
    if cut_off := _shallow_boundary(root, commits):
        raise ScaffoldError(
            f"The commit {cut_off[:SHORT]} of {revisions} is where this shallow clone's "
            "history stops: git shows it without its parents, so it cannot be judged (it "
            "is not the first commit). Fetch the whole history: `git fetch --unshallow` "
            "(in CI, check out with fetch-depth: 0)."
        )
    try:
        violations = check_commits(root, commits, settings, rebase_base(revisions))
    except HookError as error:
        raise ScaffoldError(str(error)) from error
    merges = sum(len(commit.parents) > 1 for commit in commits)
    return Report(revisions, len(commits), violations, merges)


def rules_for(root: Path, revisions: str) -> settings_module.Settings:
    """The settings a range is judged by: those of its base (BASE..HEAD), so that a pull
    request cannot loosen the rules that judge it; the working tree's without a base."""
    base = revisions.split("..", 1)[0] if ".." in revisions else ""
    if not base:
        return settings_module.load(root)
    # A base without the file (or no such base, which reading the range then reports): ""
    text = git.git("show", f"{base}:{settings_module.PYPROJECT}", cwd=root, check=False)
    try:
        return settings_module.parse(text)
    except HookError as error:
        raise HookError(
            f"{error} (The settings were read at {base}, the base of the range, so that a "
            "branch cannot loosen the rules that judge it: a branch that fixes them is "
            f"judged by them too. Fix it on {base} itself, in a commit of its own, then run "
            "this again.)"
        ) from error


def default_range(root: Path) -> str:
    """What a pull request to main would hold: HEAD's commits not on origin/main (or main).

    On main itself with no origin/main (a repo never pushed), that would be nothing, so
    every commit of HEAD is checked instead.
    """
    head = git.git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=root, check=False)
    for base in ("origin/main", "main"):
        commit = git.git(
            "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", cwd=root, check=False
        )
        if commit and base == "main" and commit == head:
            return "HEAD"
        if commit:
            return f"{base}..HEAD"
    raise ScaffoldError(
        "There is no main branch to compare HEAD with: name the commits, e.g. "
        "`scaffold check-commits origin/develop..HEAD`."
    )


def read_commits(root: Path, revisions: str) -> list[Commit]:
    """Every commit of the range, oldest first, from one `git log`.

    git prints a merge once per parent it differs from, each time with the diff against
    that parent; those are folded into one Commit holding what the merge itself adds.
    """
    output = git_changes.git(
        "log",
        "--reverse",
        "--root",
        "--no-show-signature",
        "--no-textconv",
        "--ignore-submodules=none",
        "--diff-merges=separate",  # a merge's diff against each parent, each after its header
        f"--format={COMMIT_MARK.replace(chr(0), '%x00')}%H %P%x00%B",
        *git_changes.DIFF_OPTIONS,
        revisions,
        "--",
        cwd=root,
    )
    diffs: dict[str, list[list[Change]]] = {}
    commits = []
    for chunk in ("\0" + git_changes.decode(output)).split(COMMIT_MARK)[1:]:
        ids, message, diff = [*chunk.split("\0", 2), "", ""][:3]
        sha, *parents = ids.split()
        if sha not in diffs:
            diffs[sha] = []
            commits.append(Commit(sha, tuple(parents), message, []))
        diffs[sha].append(git_changes.parse_diff(diff.lstrip("\n").split("\0")))
    return [
        replace(commit, changes=merge_changes(diffs[commit.sha], len(commit.parents)))
        for commit in commits
    ]


def merge_changes(diffs: list[list[Change]], parents: int) -> list[Change]:
    """What a commit adds beyond its parents, from its diffs against each of them.

    For an ordinary commit, its one diff. For a merge, git's combined diff: the files that
    differ from every parent (a conflict resolved, or a file the merge added itself), each
    as the change from the parent it is closest to; a clean merge adds nothing, as each
    side's commits are judged themselves. git prints no diff against a parent the merge
    equals, so fewer diffs than parents means a clean merge.
    """
    if len(diffs) < parents:
        return []
    closest = {change.path: change for change in diffs[0]}
    for diff in diffs[1:]:
        theirs = {change.path: change for change in diff}
        closest = {
            path: min(change, theirs[path], key=lambda change: change.lines)
            for path, change in closest.items()
            if path in theirs
        }
    return [closest[change.path] for change in diffs[0] if change.path in closest]


def _shallow_boundary(root: Path, commits: list[Commit]) -> str | None:
    """A commit of the range whose parents a shallow clone did not fetch, or None.

    git shows such a commit without parents, as it shows a repository's first commit, which
    the rules exempt: judged as one, it would pass unchecked.
    """
    parentless = [commit.sha for commit in commits if not commit.parents]
    if not parentless:
        return None
    shallow = root / git.git("rev-parse", "--git-path", "shallow", cwd=root)
    try:
        cut = set(shallow.read_text(encoding="ascii").split())
    except FileNotFoundError:  # not a shallow clone
        return None
    return next((sha for sha in parentless if sha in cut), None)


def rebase_base(revisions: str) -> str:
    """What `git rebase -i` takes to rewrite the commits of `revisions`: its base, or
    `--root` for a range without one (`HEAD`: every commit)."""
    return revisions.split("..", 1)[0] if ".." in revisions else "--root"


def check_commits(
    root: Path, commits: list[Commit], settings: Settings, base: str
) -> list[Violation]:
    """Apply every rule to every commit; the blobs they read come from two git calls.

    `base` is where the commits are rebased to fix them (`rebase_base`)."""
    limit = settings.max_file_size_kb * 1024
    files = [change for commit in commits for change in _new_files(commit)]
    sizes = git_changes.object_sizes(root, (change.new_blob for change in files))
    wanted = [
        change.new_blob for change in files if sizes.get(change.new_blob, limit + 1) <= limit
    ]
    for commit in commits:
        wanted += atomic_commit.contents_needed(commit.changes)
        if _touches_environment(commit):
            wanted += [f"{commit.sha}:{name}" for name in lock_fresh.FILES]
    contents = git_changes.read_objects(root, wanted)

    violations = []
    for commit in commits:
        for rule, problems in _problems(commit, contents, sizes, settings, base):
            violations += [Violation(commit.sha, rule, problem.message) for problem in problems]
    return violations


def _problems(
    commit: Commit,
    contents: dict[str, bytes | None],
    sizes: dict[str, int],
    settings: Settings,
    base: str,
) -> Iterable[tuple[str, list[Problem]]]:
    merge = len(commit.parents) > 1
    if not merge:  # a merge's message is git's
        yield commit_msg.HOOK, commit_msg.check(commit.message, settings, rebase_base=base)
    exempt = atomic_commit.exemption(
        commit.changes, contents, first=not commit.parents, merge=merge
    )
    if not exempt:
        large_allowed = atomic_commit.large_reason(commit.message) is not None
        yield (
            atomic_commit.HOOK,
            atomic_commit.check(commit.changes, contents, settings, large_allowed=large_allowed),
        )
    for change in _new_files(commit):
        size = sizes.get(change.new_blob, 0)
        content = contents.get(change.new_blob)
        added = change.status in "AC"
        yield (
            no_artifacts.HOOK,
            no_artifacts.check(change.path, size, content, settings, added=added),
        )
    if _touches_environment(commit):
        yield lock_fresh.HOOK, _lock_problems(commit, contents)


def _new_files(commit: Commit) -> list[Change]:
    """The files a commit adds or changes (not deletions, submodules or symbolic links)."""
    return [
        change
        for change in commit.changes
        if change.exists_after and not change.submodule and change.new_mode != SYMLINK_MODE
    ]


def _touches_environment(commit: Commit) -> bool:
    return any(
        change.path in lock_fresh.FILES or change.old_path in lock_fresh.FILES
        for change in commit.changes
    )


def _lock_problems(commit: Commit, contents: dict[str, bytes | None]) -> list[Problem]:
    """lock-fresh on the commit's own environment files, written out to a temporary folder."""
    deleted = any(  # deleted, or moved away (as the hook sees a rename: a deletion)
        (change.status == "D" and change.path == lockfile.LOCK_FILE)
        or (change.status == "R" and change.old_path == lockfile.LOCK_FILE)
        for change in commit.changes
    )
    files = {name: contents.get(f"{commit.sha}:{name}") for name in lock_fresh.FILES}
    return lock_fresh.check_files(files, lock_deleted=deleted)
