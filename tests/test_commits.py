"""`scaffold check-commits`: the hooks' rules on every commit of a range, fast."""

import subprocess
import time
from pathlib import Path

import pytest
from gitrepo import GitRepo, lines, write_lock
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.commits import check_range
from scaffold.errors import ScaffoldError

ENVIRONMENT = "name: demo\nplatforms:\n  - linux-64\ndependencies:\n  - python 3.11.*\n"
ANSWERS = "# Written by copier\n_commit: v{}\n_src_path: https://example.org/t.git\n"


@pytest.fixture
def history(tmp_path: Path) -> tuple[GitRepo, dict[str, str]]:
    """A repo whose commits each break (or rightly escape) one rule; name -> sha."""
    repo = GitRepo(tmp_path / "repo")
    shas = {}
    repo.write("environment.yml", ENVIRONMENT)
    write_lock(repo.path, ["linux-64"])
    repo.write(".copier-answers.yml", ANSWERS.format("0.3.0"))
    repo.write("src/demo/model.py", lines(3000))
    shas["root"] = repo.commit("chore: generate project from scaffold template v0.3.0")
    repo.write("src/demo/train.py", lines(40))
    shas["good"] = repo.commit("feat(train): add a cosine schedule")
    repo.write("src/demo/train.py", lines(41))
    shas["wip"] = repo.commit("wip")
    repo.write("environment.yml", ENVIRONMENT + "  - numpy\n")
    write_lock(repo.path, ["linux-64"])
    repo.write("src/demo/data.py", "import numpy\n")
    shas["mixed"] = repo.commit("feat(data): load arrays with numpy")
    repo.write("src/demo/big.py", lines(450))
    shas["large"] = repo.commit("feat: add the evaluation suite")
    repo.write("model.pt", b"\x80\x02")
    repo.write("src/demo/eval.py", "<<<<<<< HEAD\nx\n=======\ny\n>>>>>>> theirs\n")
    shas["artifacts"] = repo.commit("feat(eval): report per-class accuracy")
    repo.write("environment.yml", ENVIRONMENT + "  - numpy\n  - scipy\n")
    shas["stale"] = repo.commit("build: add scipy")
    write_lock(repo.path, ["linux-64"])
    shas["relock"] = repo.commit("build: re-pin the environment")
    repo.write("src/demo/train.py", lines(42))
    shas["fixup"] = repo.commit("fixup! feat(train): add a cosine schedule")
    repo.write(".copier-answers.yml", ANSWERS.format("0.4.0"))
    repo.write("src/demo/model.py", lines(2000, "new"))
    repo.write("environment.yml", ENVIRONMENT + "  - numpy\n  - scipy\n  - pandas\n")
    write_lock(repo.path, ["linux-64"])
    shas["template"] = repo.commit("chore: update scaffold template to v0.4.0")
    repo.git("checkout", "--quiet", "-b", "side")
    repo.write("src/demo/side.py", lines(10))
    shas["side"] = repo.commit("feat: add a side module")
    repo.git("checkout", "--quiet", "main")
    repo.git("merge", "--quiet", "--no-ff", "--no-verify", "-m", "whatever we merged", "side")
    shas["merge"] = repo.git("rev-parse", "HEAD").stdout.strip()
    return repo, shas


def test_every_commit_is_judged_alone(history: tuple[GitRepo, dict[str, str]]) -> None:
    repo, shas = history
    report = check_range(repo.path, "HEAD")
    assert report.commits == len(shas)
    rules: dict[str, set[str]] = {name: set() for name in shas}
    names = {sha: name for name, sha in shas.items()}
    for violation in report.violations:
        rules[names[violation.commit]].add(violation.rule)
    assert rules == {
        "root": set(),  # the first commit is exempt from size and mixing
        "good": set(),
        "wip": {"commit-msg"},
        "mixed": {"atomic-commit"},
        "large": {"atomic-commit"},
        "artifacts": {"no-artifacts"},
        "stale": {"lock-fresh"},  # judged against its own tree, not the fixed one after it
        "relock": set(),
        "fixup": {"commit-msg"},  # fine locally, refused where it would be merged
        "template": set(),
        "side": set(),
        "merge": set(),
    }
    assert report.commits_at_fault == 6


@pytest.mark.parametrize("how", [["rm"], ["mv", "conda-lock.yml", "old-lock.yml"]])
def test_a_lock_deleted_or_moved_away_is_refused_as_the_hook_refuses_it(
    tmp_path: Path, how: list[str]
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("environment.yml", ENVIRONMENT)
    write_lock(repo.path, ["linux-64"])
    repo.commit("build: pin the environment")
    repo.git(*how, *(["--quiet", "conda-lock.yml"] if how == ["rm"] else []))
    sha = repo.commit("build: put the lock away")
    report = check_range(repo.path, f"{sha}~1..{sha}")
    assert [(v.rule, "deleted" in v.message) for v in report.violations] == [("lock-fresh", True)]


def test_the_cli_prints_one_line_per_violation(history: tuple[GitRepo, dict[str, str]]) -> None:
    repo, shas = history
    result = CliRunner().invoke(
        app, ["check-commits", f"{shas['good']}..{shas['artifacts']}", "--repo", str(repo.path)]
    )
    assert result.exit_code == 1
    printed = result.stdout.splitlines()
    assert printed[0].startswith(f"{shas['wip'][:12]} commit-msg: 'wip' is not a Conventional")
    assert f"{shas['artifacts'][:12]} no-artifacts: model.pt: a checkpoint" in result.stdout
    assert f"{shas['artifacts'][:12]} no-artifacts: src/demo/eval.py:1: an unresolved" in (
        result.stdout
    )
    assert "problem(s) in 4 of 4 commit(s)" in result.stderr
    assert f"`git rebase -i {shas['good']}`" in result.stderr
    # A range with a merge: a plain `rebase -i` would flatten it away.
    with_merge = ["check-commits", f"{shas['good']}..HEAD", "--repo", str(repo.path)]
    result = CliRunner().invoke(app, with_merge)
    assert f"`git rebase -i --rebase-merges {shas['good']}`" in result.stderr
    # The rules' page, where a generated repo (which has no docs/commit-hooks.md) reads it.
    assert "https://github.com/scaffold-ml/scaffold/blob/main/docs/commit-hooks.md" in (
        result.stderr
    )


def test_without_a_range_the_branch_is_checked_against_main(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("chore: start")
    repo.commit("misc")  # on main: not part of the branch's range
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.write("a.py", "x = 1\n")
    repo.commit("feat: add the alpha module")
    result = CliRunner().invoke(app, ["check-commits", "--repo", str(repo.path)])
    assert result.exit_code == 0, result.output
    assert "1 commit(s) of main..HEAD: no problems." in result.stdout


def test_a_branch_is_judged_by_its_base_s_rules_not_its_own(tmp_path: Path) -> None:
    """A pull request that loosens the rules in its last commit must not pass by it."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("chore: start")
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.write("ck/m.pt", b"weights")
    repo.commit("feat: keep the best weights")
    repo.write("pyproject.toml", "[tool.scaffold.hooks]\nartifacts = []\n")
    repo.commit("build: allow every file")
    report = check_range(repo.path, "main..HEAD")
    assert [violation.rule for violation in report.violations] == ["no-artifacts"]
    assert check_range(repo.path, "HEAD~1..HEAD").violations == []  # its base allows them


def test_on_an_unpushed_main_every_commit_is_checked(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("chore: start")
    repo.write("a.py", "x = 1\n")
    repo.commit("wip")
    result = CliRunner().invoke(app, ["check-commits", "--repo", str(repo.path)])
    assert result.exit_code == 1, result.output
    assert "commit-msg: 'wip'" in result.stdout
    assert "git rebase -i --root" in result.stderr  # `rebase -i HEAD` would do nothing


def test_a_wrong_range_is_one_line(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("chore: start")
    with pytest.raises(ScaffoldError, match=r"Cannot read the commits nope\.\.HEAD .*fetch-depth"):
        check_range(repo.path, "nope..HEAD")
    with pytest.raises(ScaffoldError, match="not a range of commits"):
        check_range(repo.path, "--all")


def fast_history(repo: GitRepo, count: int) -> None:
    """`count` ordinary commits (a few files, ~30 changed lines each) via git fast-import."""
    stream = []
    for number in range(count):
        stream.append(
            f"commit refs/heads/main\nmark :{number + 1}\n"
            f"committer Test <t@example.org> {1700000000 + number} +0000\n"
            f"data <<EOF\nfeat(model): add layer {number} to the backbone\n\nWhy.\nEOF\n"
        )
        if number:
            stream.append(f"from :{number}\n")
        for part in range(3):
            body = lines(10, f"c{number}")
            stream.append(
                f"M 100644 inline src/demo/part_{(number + part) % 17}.py\n"
                f"data {len(body.encode())}\n{body}\n"
            )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=repo.path,
        input="".join(stream).encode(),
        check=True,
    )


def test_two_hundred_commits_take_well_under_a_second(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    fast_history(repo, 201)
    start = time.perf_counter()
    report = check_range(repo.path, "HEAD~200..HEAD")
    elapsed = time.perf_counter() - start
    assert report.commits == 200 and report.violations == []
    assert elapsed < 1.0, f"{elapsed:.2f} s"


def test_a_merge_is_judged_on_what_it_adds_beyond_its_parents(tmp_path: Path) -> None:
    """An evil merge (one that adds files while merging) is judged; a clean one has nothing."""
    repo = GitRepo(tmp_path / "repo")
    repo.write("environment.yml", ENVIRONMENT)
    write_lock(repo.path, ["linux-64"])
    repo.commit("chore: start")
    repo.git("checkout", "--quiet", "-b", "side")
    repo.write("src/side.py", lines(300))
    repo.commit("feat: add a side module")
    repo.git("checkout", "--quiet", "main")
    repo.write("src/main.py", lines(300))
    repo.commit("feat: add a main module")
    repo.git("merge", "--quiet", "--no-ff", "--no-verify", "-m", "merge the side", "side")
    clean = repo.git("rev-parse", "HEAD").stdout.strip()
    repo.git("checkout", "--quiet", "-b", "evil", "HEAD~1")
    repo.git("merge", "--quiet", "--no-ff", "--no-commit", "side")
    repo.write("model.pt", b"\x80\x02")
    repo.write("notes.bin", b"\0" * 700 * 1024)
    repo.write("src/big.py", lines(600))
    repo.write("environment.yml", ENVIRONMENT + "  - numpy\n")
    repo.commit("merge the side")
    evil = repo.git("rev-parse", "HEAD").stdout.strip()

    assert check_range(repo.path, f"{clean}~1..{clean}").violations == []
    report = check_range(repo.path, f"{evil}~1..{evil}")
    found = {(v.commit, v.rule, v.message.split(":")[0]) for v in report.violations}
    assert {(evil, "no-artifacts", "model.pt"), (evil, "no-artifacts", "notes.bin")} <= found
    assert {rule for _, rule, _ in found} == {"no-artifacts", "lock-fresh"}  # not split
    assert not any("side.py" in v.message or "main.py" in v.message for v in report.violations)


def test_a_shallow_clone_s_oldest_commit_is_not_taken_for_the_root(tmp_path: Path) -> None:
    """Its parents were not fetched: judging it as a first commit would skip rules silently."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("chore: start")
    repo.write("src/big.py", lines(600))
    repo.commit("feat: add the evaluation suite")
    repo.commit("feat: add nothing at all")
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", "--depth", "2", f"file://{repo.path}", str(clone)],
        check=True,
    )
    assert check_range(clone, "HEAD~1..HEAD").violations == []  # its parent is there
    with pytest.raises(ScaffoldError, match=r"shallow.*git fetch --unshallow.*fetch-depth: 0"):
        check_range(clone, "HEAD")


def test_only_added_files_are_held_to_the_size_limit(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("chore: start")
    repo.write("corpus.txt", "x" * 600 * 1024)
    added = repo.commit("docs: add the corpus")
    repo.write("corpus.txt", "x" * 600 * 1024 + "more\n")
    repo.commit("docs: edit the corpus")
    repo.git("mv", "corpus.txt", "texts.txt")
    repo.commit("docs: rename the corpus")
    report = check_range(repo.path, "HEAD~3..HEAD")
    assert [(v.commit, v.rule) for v in report.violations] == [(added, "no-artifacts")]


def test_a_wrong_setting_at_the_base_says_where_it_was_read_and_how_out(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("pyproject.toml", "[tool.scaffold.hooks]\nmax_lines = 500\n")
    repo.commit("chore: start")
    repo.git("checkout", "--quiet", "-b", "fix-settings")
    repo.write("pyproject.toml", "[tool.scaffold.hooks]\nmax-lines = 500\n")
    repo.commit("fix: spell max-lines as the hooks read it")
    with pytest.raises(ScaffoldError, match=r"max_lines.*read at main.*Fix it on main itself"):
        check_range(repo.path, "main..HEAD")


def test_a_large_commit_marked_deliberate_passes_but_mixing_never_does(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("environment.yml", ENVIRONMENT)
    write_lock(repo.path, ["linux-64"])
    repo.commit("chore: start")
    repo.write("src/vendored.py", lines(600))
    marked = "feat: vendor the tokenizer\n\nLarge-commit: vendored code, read upstream"
    repo.commit(marked)
    repo.write("src/other.py", lines(600))
    repo.commit("feat: add another module\n\nLarge-commit:")  # no reason: not marked
    repo.write("src/third.py", lines(600))
    repo.commit("feat: add a third module\n\nlarge-commit: vendored")  # `git log --grep` misses it
    repo.write("environment.yml", ENVIRONMENT + "  - numpy\n")
    write_lock(repo.path, ["linux-64"])
    repo.write("src/more.py", lines(600))
    repo.commit("feat: vendor numpy helpers\n\nLarge-commit: vendored code")
    report = check_range(repo.path, "HEAD~4..HEAD")
    messages = [(v.rule, v.message.split(" ")[1]) for v in report.violations]
    assert messages == [("atomic-commit", "changed")] * 2 + [("atomic-commit", "changes")]
    marked_ones = repo.git("log", "--format=%s", "--grep=^Large-commit:", "HEAD~4..HEAD").stdout
    assert "feat: vendor the tokenizer" in marked_ones  # what passes, `git log --grep` finds
    assert "feat: add a third module" not in marked_ones


@pytest.mark.parametrize("revisions", ["{good}..HEAD", "HEAD"])
def test_the_fixup_refusal_names_the_base_to_rebase_onto(
    history: tuple[GitRepo, dict[str, str]], revisions: str
) -> None:
    repo, shas = history
    revisions = revisions.format(good=shas["good"])
    report = check_range(repo.path, revisions)
    (fixup,) = [v for v in report.violations if v.commit == shas["fixup"]]
    base = shas["good"] if ".." in revisions else "--root"
    assert fixup.message.endswith(f"(`git rebase -i --autosquash {base}`)")
