"""Push the template's release tags (vX.Y.Z) from the shipped history to a remote.

    python scripts/publish_template_tags.py [--dry-run] REMOTE

REMOTE is a git remote name of the current repository, a URL or a path. Plain
`copier update` on a generated repo reads the template's tags from the public repository
(template_history.PUBLIC_URL), while scaffold reads them from the bundle it ships; both
must therefore carry exactly the same tags, or the two would merge against different
templates. So this script:

- refuses unless the bundle agrees with its pins (template-releases.txt);
- pushes each tag REMOTE lacks, never with force, and skips each tag REMOTE already has
  at the same commit;
- refuses, pushing nothing, when REMOTE has a release tag at another commit: repos may
  have been generated from it, so a person has to decide what to do.

It reads the same bundle as scaffold ($SCAFFOLD_TEMPLATE_HISTORY, else the shipped one).
"""

import argparse
import sys
import tempfile
from pathlib import Path

# This checkout's scaffold, whichever one the environment installed: the bundle written
# or read is the one beside this script.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scaffold.errors import ScaffoldError
from scaffold.git import git
from scaffold.template_history import history_bundle, released_versions, verify_release_record


def push_url(remote: str) -> str:
    """Where `remote` pushes to: a remote name of the current repository, else a path or URL.

    The push runs in a temporary repository, where neither the caller's remote names nor
    paths relative to the caller's directory mean anything, so both are resolved here, in
    git's order: a configured remote name first.
    """
    if url := git("remote", "get-url", "--push", remote, check=False):
        return url
    return str(Path(remote).resolve()) if Path(remote).exists() else remote


def remote_tag_commits(url: str) -> dict[str, str]:
    """REMOTE's tags: name -> the commit each points at (annotated tags peeled)."""
    listing = git("ls-remote", "--tags", url)
    commits: dict[str, str] = {}
    for line in listing.splitlines():
        sha, ref = line.split("\t")
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            commits[name.removesuffix("^{}")] = sha  # the peeled commit wins over the tag object
        else:
            commits.setdefault(name, sha)
    return commits


def publish(remote: str, dry_run: bool = False) -> list[str]:
    """Push the history's release tags that `remote` lacks; return the tags pushed (or to push).

    Raises ScaffoldError, having pushed nothing, when the history disagrees with its pins
    or when `remote` has a release tag at a different commit.
    """
    bundle = history_bundle()
    problems = verify_release_record(bundle)
    if problems:
        raise ScaffoldError(
            f"The template history {bundle} disagrees with its pins, so nothing was pushed:\n"
            + "\n".join(f"  {problem}" for problem in problems)
            + "\nRestore the released history (the shipped one: git checkout scaffold/data)"
            " and try again."
        )
    url = push_url(remote)
    shown = remote if url == remote else f"{remote} ({url})"
    print(f"publishing the release tags of {bundle} to {shown}")
    tags = [f"v{version}" for version in released_versions(bundle)]
    with tempfile.TemporaryDirectory(prefix="scaffold-publish-") as tmp:
        repo = Path(tmp) / "history.git"
        git("init", "--quiet", "--bare", str(repo))
        git("fetch", "--quiet", "--no-tags", str(bundle.resolve()), *_refspecs(tags), cwd=repo)
        ours = {tag: git("rev-parse", f"refs/tags/{tag}^{{commit}}", cwd=repo) for tag in tags}
        try:
            theirs = remote_tag_commits(url)
        except ScaffoldError as error:
            raise ScaffoldError(
                f"Cannot read the tags of {remote}: give a remote name of the current"
                f" repository, or the URL or path of a repository you can push to.\n{error}"
            ) from error
        conflicts = [tag for tag in tags if tag in theirs and theirs[tag] != ours[tag]]
        if conflicts:
            raise ScaffoldError(
                f"{remote} already has "
                + ", ".join(
                    f"{tag} at commit {theirs[tag][:12]} (released: {ours[tag][:12]})"
                    for tag in conflicts
                )
                + ", so nothing was pushed. Repos may have been generated from those tags:"
                " find out where they came from. Only if no repo uses them, delete them on"
                f" {remote} (git push {remote} :refs/tags/TAG) and run this again."
            )
        missing = [tag for tag in tags if tag not in theirs]
        for tag in tags:
            if tag in theirs:
                print(f"{tag}: already on {remote} at {ours[tag][:12]}, skipped")
        if missing and not dry_run:
            git("push", "--quiet", url, *_refspecs(missing), cwd=repo)
    verb = "would push" if dry_run else "pushed"
    for tag in missing:
        print(f"{tag}: {verb} commit {ours[tag][:12]} to {remote}")
    if not missing:
        print(f"nothing to push: {remote} carries every released tag ({', '.join(tags)})")
    return missing


def _refspecs(tags: list[str]) -> list[str]:
    """Exact, non-forced refspecs (no leading '+'): git refuses to move an existing tag."""
    return [f"refs/tags/{tag}:refs/tags/{tag}" for tag in tags]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Push the template's release tags to REMOTE, never moving an existing one."
    )
    parser.add_argument("remote", metavar="REMOTE", help="a git remote name, URL or path")
    parser.add_argument(
        "--dry-run", action="store_true", help="check and print what would be pushed; push nothing"
    )
    args = parser.parse_args(argv)
    try:
        publish(args.remote, dry_run=args.dry_run)
    except ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
