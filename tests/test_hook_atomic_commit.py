"""atomic-commit: reviewable commits, environment changes apart, in real git repositories."""

import time
from pathlib import Path

import pytest
from gitrepo import GitRepo, lines

from scaffold.hooks import atomic_commit, changes
from scaffold.hooks.report import Problem
from scaffold.hooks.settings import Settings

PYPROJECT = """\
[project]
name = "demo"
dependencies = [
    "torch>=2.6",
]

[tool.ruff]
line-length = 99
"""
LOCK = "version: 1\nmetadata:\n  content_hash: {}\npackage: []\n"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """A repo with one ordinary commit: code, an environment, a pyproject.toml."""
    repo = GitRepo(tmp_path / "repo")
    repo.write("src/demo/model.py", lines(50))
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.11.*\n")
    repo.write("conda-lock.yml", LOCK)
    repo.write("pyproject.toml", PYPROJECT)
    repo.commit("chore: start")
    return repo


def problems(repo: GitRepo, settings: Settings | None = None) -> list[Problem]:
    """What the hook finds in the staged change, through its pure functions."""
    staged = changes.staged_changes(repo.path)
    contents = changes.read_objects(repo.path, atomic_commit.contents_needed(staged))
    if atomic_commit.exemption(staged, contents):
        return []
    return atomic_commit.check(staged, contents, settings or Settings())


def run_hook(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[int, str]:
    """The hook's main() as pre-commit calls it: in the repo, no arguments."""
    monkeypatch.chdir(repo.path)
    status = atomic_commit.main([])
    return status, capsys.readouterr().err


def test_an_ordinary_change_passes(repo: GitRepo) -> None:
    repo.write("src/demo/model.py", lines(50) + lines(120, "new"))
    repo.write("configs/experiment/resnet.yaml", lines(30))
    repo.write("tests/test_model.py", lines(80))
    repo.stage()
    assert problems(repo) == []


def test_environment_and_code_together_are_refused(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.12.*\n")
    repo.write("src/demo/new model.py", "x = 1\n")
    repo.stage()
    status, output = run_hook(repo, monkeypatch, capsys)
    assert status == 1
    assert "environment changes (environment.yml) are mixed with other changes" in output
    assert "git restore --staged -- 'src/demo/new model.py'" in output
    assert "SKIP=" not in output  # mixing is never waved through


def test_environment_files_together_pass(repo: GitRepo) -> None:
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.12.*\n")
    repo.write("conda-lock.yml", LOCK + lines(5000, "# pin"))  # generated: not counted
    repo.write("virtual-packages.yml", "subdirs: {}\n")
    repo.stage()
    assert problems(repo) == []


def test_dependency_edits_in_pyproject_are_environment_changes(repo: GitRepo) -> None:
    repo.write("pyproject.toml", PYPROJECT.replace('"torch>=2.6",', '"torch>=2.6",\n    "timm",'))
    repo.stage()
    assert problems(repo) == []  # alone: fine
    repo.write("src/demo/backbone.py", "import timm\n")
    repo.stage()
    (mixed,) = problems(repo)
    assert "pyproject.toml's dependencies" in mixed.message
    assert "src/demo/backbone.py" in mixed.message


def test_other_pyproject_edits_are_not(repo: GitRepo) -> None:
    repo.write("pyproject.toml", PYPROJECT.replace("99", "120") + "# a comment\n")
    repo.write("src/demo/model.py", lines(60))
    repo.stage()
    assert problems(repo) == []


def test_a_pyproject_with_both_is_split_with_add_p(repo: GitRepo) -> None:
    text = PYPROJECT.replace("99", "120").replace('"torch>=2.6",', '"torch>=2.7",')
    repo.write("pyproject.toml", text)
    repo.stage()
    (mixed,) = problems(repo)
    fix = "\n".join(mixed.fix)
    assert "git add -p -- pyproject.toml" in fix
    assert "git restore --staged -- pyproject.toml" in fix
    assert "conda-lock.yml" not in fix  # a pyproject.toml has no conda lock to re-pin


def test_the_fix_names_the_lock_where_the_conda_environment_changed(repo: GitRepo) -> None:
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.12.*\n")
    repo.write("src/demo/model.py", lines(21))
    repo.stage()
    (mixed,) = problems(repo)
    assert "# the environment change, with its conda-lock.yml" in "\n".join(mixed.fix)


def test_too_many_lines_are_refused_with_the_way_out(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    repo.write("src/demo/big.py", lines(401))
    repo.stage()
    status, output = run_hook(repo, monkeypatch, capsys)
    assert status == 1
    assert "401 changed lines in 1 file, over the limit of 400 lines: split it" in output
    assert "(or, if it is deliberate, say why in a `Large-commit: WHY` trailer)" in output
    assert "src/demo/big.py (+401 -0)" in output
    assert "git add -p" in output
    # The trailer marks it deliberate for check-commits in CI too.
    assert "SKIP=atomic-commit git commit --trailer 'Large-commit: WHY'" in output


def test_the_limits_themselves_pass(repo: GitRepo) -> None:
    for number in range(20):
        repo.write(f"src/demo/part_{number}.py", lines(20))
    repo.stage()
    assert problems(repo) == []  # exactly 400 lines in 20 files
    repo.write("src/demo/part_20.py", "x\n")
    repo.stage()
    (too_many,) = problems(repo)
    assert "401 changed lines in 21 files" in too_many.message


def test_what_is_not_read_line_by_line_is_not_counted(repo: GitRepo) -> None:
    repo.write("src/demo/old_pipeline.py", lines(3000))
    for number in range(30):
        repo.write(f"src/demo/module_{number}.py", lines(10, f"m{number}"))
    repo.commit()
    repo.git("rm", "--quiet", "src/demo/old_pipeline.py")  # a whole-file deletion
    repo.git("mv", "src/demo", "src/renamed")  # 31 pure renames
    repo.write("assets/logo.png", bytes(range(256)) * 100)  # binary
    repo.write(".copier-answers.yml", "# Written by copier\n_commit: v0.3.0\n")
    repo.stage()
    assert problems(repo) == []


def test_settings_change_the_limits(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("src/demo/model.py", lines(50) + lines(11, "new"))
    repo.stage()
    assert problems(repo, Settings(max_lines=20)) == []
    (too_large,) = problems(repo, Settings(max_lines=10))
    assert "over the limit of 10 lines:" in too_large.message


def test_template_updates_are_exempt(repo: GitRepo) -> None:
    repo.write(".copier-answers.yml", "# Written by copier\n_commit: v0.3.0\n")
    repo.commit("chore: adopt the template")
    repo.write(".copier-answers.yml", "# Written by copier\n_commit: v0.4.0\n")
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.12.*\n")
    repo.write("src/demo/model.py", lines(900))
    repo.stage()
    staged = changes.staged_changes(repo.path)
    contents = changes.read_objects(repo.path, atomic_commit.contents_needed(staged))
    assert atomic_commit.exemption(staged, contents) == (
        "a template update (.copier-answers.yml changed)"
    )


def test_an_edited_answers_comment_is_no_template_update(repo: GitRepo) -> None:
    repo.write(".copier-answers.yml", "# Written by copier\n_commit: v0.3.0\n")
    repo.commit("chore: adopt the template")
    repo.write(".copier-answers.yml", "# Written by hand\n_commit: v0.3.0\n")
    repo.write("src/demo/model.py", lines(900))
    repo.stage()
    assert len(problems(repo)) == 1
    repo.write(".copier-answers.yml", "# Written by copier\n\n_commit:   v0.3.0\n")  # no answer
    repo.stage()
    assert len(problems(repo)) == 1


ANSWERS = "_commit: v0.3.0\ncuda_version: '12.9'\nlaunchers:\n    - slurm\n    - kubernetes\n"


@pytest.mark.parametrize(
    "rewritten",
    [
        ANSWERS.replace("'12.9'", '"12.9"'),  # another quote, as a formatter writes it
        ANSWERS.replace("\n    - slurm\n    - kubernetes", " [slurm, kubernetes]"),
        "launchers:\n- slurm\n- kubernetes\n_commit: v0.3.0  # ours\ncuda_version: '12.9'\n",
    ],
    ids=["quotes", "flow-list", "order-and-comment"],
)
def test_a_reformatted_answers_file_is_no_template_update(repo: GitRepo, rewritten: str) -> None:
    """Or any commit could pass the rules by reformatting the answers file."""
    repo.write(".copier-answers.yml", ANSWERS)
    repo.commit("chore: adopt the template")
    repo.write(".copier-answers.yml", rewritten)
    repo.write("src/demo/model.py", lines(900))
    repo.stage()
    assert len(problems(repo)) == 1


def test_a_changed_line_of_a_wrapped_answer_is_a_template_update(repo: GitRepo) -> None:
    """copier wraps a long value; a line of it may begin with #, which is no comment."""
    wrapped = (
        '_commit: v0.3.0\ndescription: "Sorts the clothes of a catalogue, and of\n  #1 first"\n'
    )
    repo.write(".copier-answers.yml", wrapped)
    repo.commit("chore: adopt the template")
    repo.write(".copier-answers.yml", wrapped.replace("#1 first", "#2 second"))
    repo.write("src/demo/model.py", lines(900))
    repo.stage()
    assert problems(repo) == []


def test_the_first_commit_is_exempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    repo = GitRepo(tmp_path / "new")
    repo.write("environment.yml", "name: demo\n")
    repo.write("src/demo/model.py", lines(5000))
    repo.stage()
    assert run_hook(repo, monkeypatch, capsys) == (0, "")


def test_a_merge_is_exempt(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.write("src/demo/feature.py", lines(300))
    repo.commit()
    repo.write("src/demo/more.py", lines(300))
    repo.commit()
    repo.git("checkout", "--quiet", "main")
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.12.*\n")
    repo.commit("build: move to python 3.12")
    repo.git("merge", "--quiet", "--no-commit", "--no-ff", "feature")
    assert run_hook(repo, monkeypatch, capsys) == (0, "")


def test_git_commit_all_is_judged_on_what_it_commits(repo: GitRepo) -> None:
    """`git commit -a` stages into a temporary index (GIT_INDEX_FILE) just for the hook."""
    repo.install_hook("pre-commit", "atomic_commit")
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.12.*\n")
    repo.write("src/demo/model.py", lines(51))
    result = repo.git("commit", "-a", "-m", "build: python 3.12", check=False)
    assert result.returncode == 1, result.stderr
    assert "environment changes (environment.yml) are mixed" in result.stderr
    repo.git("commit", "-m", "build: python 3.12", "--", "environment.yml")  # the env alone


def test_amend_judges_the_whole_amended_commit(repo: GitRepo) -> None:
    """An amend replaces HEAD: what it adds to HEAD is not what it will commit."""
    repo.install_hook("pre-commit", "atomic_commit")
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.12.*\n")
    repo.stage()
    repo.git("commit", "--quiet", "-m", "build: python 3.12")
    repo.write("src/demo/model.py", lines(51))
    result = repo.git("commit", "--amend", "-a", "--no-edit", check=False)
    assert result.returncode == 1
    assert "environment changes (environment.yml) are mixed" in result.stderr
    repo.write("src/demo/model.py", lines(50))
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.13.*\n")
    repo.git("commit", "--quiet", "--amend", "-a", "-m", "build: python 3.13")


def test_submodules_count_as_one_other_change(repo: GitRepo, tmp_path: Path) -> None:
    inner = GitRepo(tmp_path / "inner")
    inner.commit("feat: start")
    repo.git(
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "--quiet",
        "add",
        str(inner.path),
        "vendor/inner",
    )
    assert problems(repo) == []
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.12.*\n")
    repo.stage()
    (mixed,) = problems(repo)
    assert "vendor/inner" in mixed.message


def test_non_utf8_content_and_names_are_counted(repo: GitRepo) -> None:
    repo.write("notes/caf\udce9.txt", "é".encode("latin-1") * 10 + b"\n" + b"x\n" * 500)
    repo.stage()
    (too_large,) = problems(repo)
    assert "501 changed lines" in too_large.message


def test_a_huge_diff_is_answered_quickly(repo: GitRepo) -> None:
    repo.write("src/demo/generated_table.py", lines(200_000))
    repo.stage()
    start = time.perf_counter()
    (too_large,) = problems(repo)
    assert time.perf_counter() - start < 2
    assert "200000 changed lines" in too_large.message
