"""`scaffold update`: edits kept, changes arrive, conflicts are loud, bad starts refused.

Each test generates a project at the shipped version N, commits user edits, and updates
to N+1: a release made in the test from the working tree's template with a change.
"""

import contextlib
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from releases import History, replace_in
from typer.testing import CliRunner

from scaffold import doctor, template_history
from scaffold.cli import app
from scaffold.errors import ConflictError, ScaffoldError
from scaffold.generation import new_project
from scaffold.git import dirty_paths, git
from scaffold.update import check, update_project

NEXT = "99.0.0"
PACKAGE = {"package_name": "proj"}
CURRENT = template_history.latest_version()
README_TEMPLATE = "template/README.md.jinja"


def commit(project: Path, message: str) -> None:
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", message, cwd=project)


def answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))


@pytest.fixture
def history(tmp_path: Path) -> History:
    """A history of our own, for a test that releases its own NEXT."""
    return History(tmp_path / "history")


@pytest.fixture(scope="session")
def next_history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """The shipped history plus the working tree's template as NEXT, built once."""
    history = History(tmp_path_factory.mktemp("next-history"))
    history.release(NEXT)
    return history


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return new_project(tmp_path / "proj", defaults=True, data={"package_name": "proj"}).path


def test_edits_are_kept_and_template_changes_arrive(history: History, project: Path) -> None:
    def change(source: Path) -> None:
        replace_in(source / README_TEMPLATE, "## Layout\n", "## Repository layout\n")
        (source / "template" / "CONTRIBUTING.md").write_text("Small, atomic commits.\n")

    history.release(NEXT, change)
    cli = project / "src" / "proj" / "cli.py"
    cli.write_text(cli.read_text() + "\n\n# my own addition\n")
    commit(project, "feat: my edit")

    result = update_project(project, bundle=history.bundle, defaults=True)

    assert (result.old_version, result.new_version) == (CURRENT, NEXT)
    assert "## Repository layout\n" in (project / "README.md").read_text()
    assert (project / "CONTRIBUTING.md").read_text() == "Small, atomic commits.\n"
    assert cli.read_text().endswith("# my own addition\n")
    assert answers(project)["_commit"] == f"v{NEXT}"
    assert answers(project)["_src_path"] == template_history.PUBLIC_URL
    assert set(result.changed) == {".copier-answers.yml", "README.md", "CONTRIBUTING.md"}


def conflicting(history: History, project: Path) -> None:
    history.release(
        NEXT,
        lambda source: replace_in(
            source / README_TEMPLATE, "## Layout\n", "## Repository layout\n"
        ),
    )
    replace_in(project / "README.md", "## Layout\n", "## Where things are\n")
    commit(project, "docs: my heading")


def test_conflicts_are_reported_with_markers(history: History, project: Path) -> None:
    conflicting(history, project)
    with pytest.raises(ConflictError) as raised:
        update_project(project, bundle=history.bundle, defaults=True)
    assert raised.value.files == ["README.md"]
    readme = (project / "README.md").read_text()
    assert "<<<<<<< " in readme and ">>>>>>> " in readme
    assert "## Where things are" in readme and "## Repository layout" in readme
    assert f"`git commit -m 'chore: update scaffold template to v{NEXT}'`" in str(raised.value)
    # git's unmerged entries stay: it refuses a commit until the conflict is settled
    assert "README.md" in git("diff", "--name-only", "--diff-filter=U", cwd=project)


def test_unresolved_conflicts_are_named_by_a_second_update_and_by_doctor(
    history: History, project: Path
) -> None:
    from scaffold.doctor import diagnose

    conflicting(history, project)
    with pytest.raises(ConflictError):
        update_project(project, bundle=history.bundle, defaults=True)
    with pytest.raises(ScaffoldError, match=r"unresolved conflicts(.|\n)*\n  README\.md$"):
        update_project(project, bundle=history.bundle, defaults=True)
    git_finding = diagnose(project)[0]
    assert not git_finding.ok, git_finding
    assert "1 file(s) with unresolved conflicts, from an update or a merge: README.md;" in (
        git_finding.message
    )
    git("add", "--all", cwd=project)  # added, markers and all: still named
    assert "unresolved conflicts" in diagnose(project)[0].message


def test_conflicts_as_rej_files(history: History, project: Path) -> None:
    conflicting(history, project)
    with pytest.raises(ConflictError) as raised:
        update_project(project, bundle=history.bundle, defaults=True, conflict="rej")
    assert raised.value.files == ["README.md.rej"]
    assert "## Repository layout\n" in (project / "README.md").read_text()
    assert "+## Where things are" in (project / "README.md.rej").read_text()


def test_cli_exits_non_zero_and_lists_conflicts(
    history: History, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conflicting(history, project)
    monkeypatch.setenv(template_history.HISTORY_VARIABLE, str(history.bundle))
    result = CliRunner().invoke(app, ["update", str(project), "--defaults"])
    assert result.exit_code == 2
    assert "conflict: README.md" in result.output


def test_changing_an_answer_regenerates_dependent_files(project: Path) -> None:
    assert "cuda-version" in (project / "environment.yml").read_text()
    result = update_project(
        project, data={"cuda_version": "none", "tracker": "mlflow"}, defaults=True
    )
    assert set(result.changed) == {
        ".copier-answers.yml",
        ".devcontainer/devcontainer.json",
        "Dockerfile",
        "README.md",
        "environment.yml",
        "pyproject.toml",
        "slurm/submit.sh",  # MLflow's database: the project's, not the job's snapshot's
        "src/proj/reproduce.py",
        "src/proj/tracking.py",
        "tests/conftest.py",
        "tests/test_reproduce.py",
        "tests/test_tracking.py",
        "virtual-packages.yml",
    }
    environment = yaml.safe_load((project / "environment.yml").read_text())
    assert not any("cuda" in pin for pin in environment["dependencies"])
    assert "mlflow >=2.16" in environment["dependencies"]
    assert "mlflow>=" in (project / "pyproject.toml").read_text()
    assert "import mlflow" in (project / "src" / "proj" / "tracking.py").read_text()
    assert "CPU-only PyTorch" in (project / "README.md").read_text()
    assert answers(project)["cuda_version"] == "none"


def test_renamed_file_keeps_the_users_edits(history: History, project: Path) -> None:
    def rename(source: Path) -> None:
        tests = source / "template" / "tests"
        (tests / "test_cli.py.jinja").rename(tests / "test_command_line.py.jinja")
        replace_in(tests / "test_command_line.py.jinja", '"""The command line', '"""The CLI')

    history.release(NEXT, rename)
    old = project / "tests" / "test_cli.py"
    old.write_text(old.read_text() + "\n\ndef test_mine() -> None:\n    assert True\n")
    commit(project, "test: mine")

    update_project(project, bundle=history.bundle, defaults=True)

    assert not old.exists()
    new = (project / "tests" / "test_command_line.py").read_text()
    assert new.startswith('"""The CLI')
    assert new.endswith("def test_mine() -> None:\n    assert True\n")


def test_a_new_package_name_moves_the_package_with_the_users_edits_and_files(
    project: Path, tmp_path: Path
) -> None:
    """`--data package_name=...` renames src/<package>/: copier wrote the template's files
    afresh at the new path and left the user's own behind, so edits vanished silently."""
    package = project / "src" / "proj"
    (package / "train.py").write_text((package / "train.py").read_text() + "# my note\n")
    (package / "extra").mkdir()
    (package / "extra" / "mine.py").write_text("from proj import train\n")
    (package / "sweep.py").unlink()  # a file of the template's that this repo does without
    (project / "run.sh").write_text("python -m proj train\n")
    (project / "tests" / "test_mine.py").write_text(
        'import sys\nCOMMAND = [sys.executable, "-m", "proj"]\nPATCHED = "proj.train.x"\n'
    )
    (project / "tests" / "test_other.py").write_text("import projects\nX = 'proj2.a'\n")
    commit(project, "feat: mine")
    (package / "local.cfg").write_text("mine, ignored\n")
    (project / ".git" / "info" / "exclude").write_text("local.cfg\n")
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"")

    result = CliRunner().invoke(
        app, ["update", str(project), "--defaults", "--data", "package_name=renamed"]
    )

    assert result.exit_code == 0, result.output
    renamed = project / "src" / "renamed"
    assert (renamed / "train.py").read_text().endswith("\n# my note\n")
    assert (renamed / "extra" / "mine.py").read_text() == "from proj import train\n"
    assert not (renamed / "sweep.py").exists()  # deleted, it stays deleted
    assert sorted(p.name for p in package.iterdir()) == ["local.cfg"]
    assert "  src/proj/train.py -> src/renamed/train.py\n" in result.output
    assert "  src/proj/extra/mine.py -> src/renamed/extra/mine.py\n" in result.output
    assert "(deleted" not in result.output
    assert (
        "src/proj/ is now src/renamed/: install the project again under its new name (`pip "
        "uninstall proj`, then as its README says, e.g. `pip install --editable .`). "
        "Environment variables named after the package change too: PROJ_* is now RENAMED_* "
        "(e.g. RENAMED_RUNS_DIR).\n"
        "Files git ignores stayed in the old folder: move them, or delete them: "
        "src/proj/local.cfg\n"
    ) in result.output
    assert (
        "These files still name the package by its old name, proj: change it in them before "
        "you commit:\n  run.sh\n  src/renamed/extra/mine.py\n  tests/test_mine.py\n"
    ) in result.output
    fresh = new_project(tmp_path / "fresh", defaults=True, data={"package_name": "renamed"})
    made = set(git("ls-files", cwd=fresh.path).splitlines())
    staged = set(git("ls-files", cwd=project).splitlines())
    mine = {"run.sh", "src/renamed/extra/mine.py", "tests/test_mine.py", "tests/test_other.py"}
    assert staged - made == mine and made - staged == {"src/renamed/sweep.py"}


def test_a_file_of_ones_own_whose_name_the_renamed_package_has_is_a_conflict(
    project: Path,
) -> None:
    """It stays at the old path, unmerged: git refuses the commit, and doctor names it, until
    the user keeps one of the two."""
    (project / "src" / "proj" / "mine.py").write_text("# mine\n")
    (project / "src" / "renamed").mkdir()
    (project / "src" / "renamed" / "mine.py").write_text("# another\n")
    commit(project, "feat: two of mine")
    with pytest.raises(ConflictError) as raised:
        update_project(project, data={"package_name": "renamed"}, defaults=True)
    assert raised.value.files == ["src/proj/mine.py"]
    assert "your file(s) in a renamed folder stay at the old path" in str(raised.value)
    assert "markers" not in str(raised.value)
    git_finding = doctor.diagnose(project)[0]
    assert not git_finding.ok and "src/proj/mine.py" in git_finding.message
    assert git("show", ":3:src/proj/mine.py", cwd=project) == "# another"  # the other side


def test_a_new_package_name_with_rej_conflicts_leaves_no_reject_of_edits_it_carried(
    project: Path,
) -> None:
    train = project / "src" / "proj" / "train.py"
    train.write_text('"""Mine."""\n' + train.read_text())
    commit(project, "docs: mine")
    update_project(project, data={"package_name": "renamed"}, defaults=True, conflict="rej")
    assert (project / "src" / "renamed" / "train.py").read_text().startswith('"""Mine."""\n')
    assert not (project / "src" / "proj").exists()


def test_a_file_moved_then_rewritten_over_releases_keeps_the_users_edits(
    history: History, project: Path
) -> None:
    def rename(source: Path) -> None:
        tests = source / "template" / "tests"
        (tests / "test_cli.py.jinja").rename(tests / "test_command_line.py.jinja")

    def rename_and_grow(source: Path) -> None:  # the next release triples the file
        rename(source)
        moved = source / "template" / "tests" / "test_command_line.py.jinja"
        moved.write_text("# a line the template added\n" * 400 + moved.read_text())

    history.release(NEXT, rename)
    history.release("99.1.0", rename_and_grow)
    old = project / "tests" / "test_cli.py"
    old.write_text(old.read_text() + "\n\ndef test_mine() -> None:\n    assert True\n")
    commit(project, "test: mine")

    update_project(project, bundle=history.bundle, defaults=True)  # to 99.1.0 at once

    new = (project / "tests" / "test_command_line.py").read_text()
    assert new.startswith("# a line the template added\n")
    assert new.endswith("def test_mine() -> None:\n    assert True\n")


def test_a_file_moved_and_rewritten_in_one_release_keeps_the_users_edits(tmp_path: Path) -> None:
    """v0.6.0 moved model.py to models/convnet.py and rewrote much of it (41% alike)."""
    project = new_project(
        tmp_path / "proj", defaults=True, data=PACKAGE, template_version="0.5.0", lock=False
    ).path
    model = project / "src" / "proj" / "model.py"
    replace_in(model, "nn.ReLU()", "nn.GELU()")
    commit(project, "feat: a smoother activation")
    try:
        update_project(project, to_version="0.6.0", defaults=True)
    except ConflictError as conflict:  # reported, not dropped, when the edits collide
        assert "src/proj/models/convnet.py" in conflict.files
    assert not model.exists()
    assert "nn.GELU()" in (project / "src" / "proj" / "models" / "convnet.py").read_text()


def test_template_changes_to_files_the_user_renamed_or_deleted_are_named(
    history: History, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def change(source: Path) -> None:
        tests = source / "template" / "tests"
        replace_in(
            tests / "test_cli.py.jinja", "runner = CliRunner()", "runner = CliRunner()  # new"
        )
        replace_in(source / README_TEMPLATE, "## Layout\n", "## Map\n")

    history.release(NEXT, change)
    tests = project / "tests"
    (tests / "test_cli.py").rename(tests / "test_command_line.py")
    (project / "LICENSE").unlink()  # deleted too, but the template left it alone
    commit(project, "test: my own name for it")
    monkeypatch.setenv(template_history.HISTORY_VARIABLE, str(history.bundle))
    result = CliRunner().invoke(app, ["update", str(project), "--defaults"])
    assert result.exit_code == 0, result.output
    assert "The template changed 1 file(s) this repo has deleted or renamed; those changes " in (
        result.output
    )
    assert "them): tests/test_cli.py\n" in result.output
    assert not (tests / "test_cli.py").exists() and "## Map" in (project / "README.md").read_text()


def killed_during_update(
    project: Path, history: History, signum: int
) -> subprocess.CompletedProcess:
    """`scaffold update` run in a process of its own, which gets `signum` once copier has
    merged: the tree then holds half an update. A signal it does not handle ends it."""
    code = (
        "import os, signal, sys, time\n"
        "from scaffold import update\n"
        "merge = update._run_copier_update\n"
        "def merge_then_killed(*args, **kwargs):\n"
        "    merge(*args, **kwargs)\n"
        f"    os.kill(os.getpid(), {int(signum)})\n"
        "    time.sleep(10)\n"
        "update._run_copier_update = merge_then_killed\n"
        "from scaffold.cli import main\n"
        "sys.argv = ['scaffold', 'update', sys.argv[1], '--defaults']\n"
        "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(project)],
        env={**os.environ, template_history.HISTORY_VARIABLE: str(history.bundle)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("signum", "exit_code"),
    [(signal.SIGTERM, 143), (signal.SIGHUP, 129)],  # `kill` or a CI job; a closed terminal
    ids=["SIGTERM", "SIGHUP"],
)
def test_a_stop_during_an_update_leaves_the_repo_as_it_was(
    history: History, project: Path, signum: int, exit_code: int
) -> None:
    history.release(
        NEXT, lambda source: replace_in(source / README_TEMPLATE, "## Layout\n", "## Map\n")
    )
    killed = killed_during_update(project, history, signum)
    assert killed.returncode == exit_code, killed.stderr  # 128 + the signal, as a shell says
    assert "interrupted: the update was undone; the repo is as its last commit" in killed.stderr
    assert "Traceback" not in killed.stderr
    assert dirty_paths(project) == []
    assert answers(project)["_commit"] == f"v{CURRENT}"


def test_an_update_killed_part_way_is_named_until_its_half_done_work_is_set_aside(
    history: History, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history.release(
        NEXT, lambda source: replace_in(source / README_TEMPLATE, "## Layout\n", "## Map\n")
    )
    replace_in(project / "README.md", "## Layout\n", "## Layout\n\nMy own words.\n")
    commit(project, "docs: my own words")
    killed = killed_during_update(project, history, signal.SIGKILL)  # no undo can run
    assert killed.returncode == -signal.SIGKILL and dirty_paths(project)

    monkeypatch.setenv(template_history.HISTORY_VARIABLE, str(history.bundle))
    refused = CliRunner().invoke(app, ["update", str(project), "--defaults"])
    assert refused.exit_code == 1
    said = " ".join(refused.output.split())
    assert (
        f"a `scaffold update` (v{CURRENT} to v{NEXT}) was killed part-way: the uncommitted "
        in (said)
    )
    assert "git stash --include-untracked" in said
    (finding,) = [f for f in doctor.diagnose(project) if f.check == "git"]
    assert not finding.ok and "was killed part-way" in finding.message

    git("stash", "--include-untracked", cwd=project)
    updated = CliRunner().invoke(app, ["update", str(project), "--defaults"])
    assert updated.exit_code == 0, updated.output
    assert "My own words." in (project / "README.md").read_text()


def test_commits_after_a_killed_update_are_questioned_once(
    history: History, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history.release(
        NEXT, lambda source: replace_in(source / README_TEMPLATE, "## Layout\n", "## Map\n")
    )
    killed_during_update(project, history, signal.SIGKILL)
    commit(project, "chore: whatever was there")  # as the generic advice would have it

    monkeypatch.setenv(template_history.HISTORY_VARIABLE, str(history.bundle))
    refused = CliRunner().invoke(app, ["update", str(project), "--defaults"])
    assert refused.exit_code == 1
    assert "was killed part-way at commit" in refused.output
    assert "git diff" in refused.output
    again = CliRunner().invoke(app, ["update", str(project), "--defaults"])
    assert again.exit_code == 0, again.output


def test_renamed_file_with_colliding_edits_is_a_conflict(history: History, project: Path) -> None:
    def rename(source: Path) -> None:
        tests = source / "template" / "tests"
        (tests / "test_cli.py.jinja").rename(tests / "test_command_line.py.jinja")
        replace_in(
            tests / "test_command_line.py.jinja",
            "runner = CliRunner()",
            "runner = CliRunner()  # shared",
        )

    history.release(NEXT, rename)
    replace_in(
        project / "tests" / "test_cli.py", "runner = CliRunner()", "runner = CliRunner()  # mine"
    )
    commit(project, "test: mine")

    with pytest.raises(ConflictError) as raised:
        update_project(project, bundle=history.bundle, defaults=True)
    assert raised.value.files == ["tests/test_command_line.py"]
    text = (project / "tests" / "test_command_line.py").read_text()
    assert "# shared" in text and "# mine" in text
    # Yours first, as in the files copier merges; and unmerged, so that git refuses a commit.
    assert "<<<<<<< before updating (your edits of tests/test_cli.py)\n" in text
    assert text.index("# mine") < text.index("# shared")
    unmerged = git("diff", "--name-only", "--diff-filter=U", cwd=project)
    assert "tests/test_command_line.py" in unmerged.splitlines()
    # git's three sides, as `git checkout --ours/--theirs` and mergetools read them
    ours = git("show", ":2:tests/test_command_line.py", cwd=project)
    theirs = git("show", ":3:tests/test_command_line.py", cwd=project)
    assert "# mine" in ours and "# shared" not in ours and "<<<<<<<" not in ours
    assert "# shared" in theirs and "# mine" not in theirs
    refused = subprocess.run(
        ["git", "commit", "--quiet", "--message", "chore: too early"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and "unmerged" in refused.stderr + refused.stdout


def test_migration_runs_under_scaffold_and_needs_trust_in_plain_copier(
    history: History, project: Path, tmp_path: Path
) -> None:
    migration = (
        "\n_migrations:\n"
        f"  - version: v{NEXT}\n"
        "    when: '{{ _stage == \"before\" }}'\n"
        "    command: test ! -d notes || (mkdir -p docs && git mv notes docs/notes)\n"
    )
    history.release(NEXT, lambda source: (source / "copier.yml").open("a").write(migration))
    (project / "notes").mkdir()
    (project / "notes" / "ideas.md").write_text("try a bigger batch\n")
    commit(project, "docs: ideas")
    plain = tmp_path / "plain"
    git("clone", "--quiet", str(project), str(plain))

    update_project(project, bundle=history.bundle, defaults=True)
    assert (project / "docs" / "notes" / "ideas.md").read_text() == "try a bigger batch\n"
    assert not (project / "notes").exists()

    untrusted = plain_copier_update(plain, history.bundle)
    assert untrusted.returncode != 0
    assert "--trust" in untrusted.stderr or "unsafe" in untrusted.stderr.lower()
    assert dirty_paths(plain) == []
    trusted = plain_copier_update(plain, history.bundle, "--trust")
    assert trusted.returncode == 0, trusted.stderr
    assert (plain / "docs" / "notes" / "ideas.md").is_file()


def plain_copier_update(project: Path, bundle: Path, *extra: str) -> subprocess.CompletedProcess:
    """`copier update` as a user without scaffold runs it, the public URL served locally."""
    env = {
        **os.environ,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{bundle}.insteadOf",
        "GIT_CONFIG_VALUE_0": template_history.PUBLIC_URL,
    }
    return subprocess.run(
        [sys.executable, "-m", "copier", "update", "--defaults", *extra],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )


def test_plain_copier_update_works(history: History, project: Path) -> None:
    history.release(
        NEXT,
        lambda source: replace_in(
            source / README_TEMPLATE, "## Layout\n", "## Repository layout\n"
        ),
    )
    result = plain_copier_update(project, history.bundle)
    assert result.returncode == 0, result.stderr
    assert "## Repository layout\n" in (project / "README.md").read_text()
    assert answers(project)["_commit"] == f"v{NEXT}"


def test_dirty_tree_is_refused(history: History, project: Path) -> None:
    (project / "scratch.txt").write_text("wip")
    with pytest.raises(ScaffoldError, match=r"uncommitted changes(.|\n)*  scratch\.txt") as raised:
        update_project(project, bundle=history.bundle)
    assert "git stash --include-untracked" in str(raised.value)
    for number in range(24):
        (project / f"notes-{number:02d}.txt").write_text("wip")
    with pytest.raises(ScaffoldError) as raised:
        update_project(project, bundle=history.bundle)
    assert str(raised.value).endswith("  notes-19.txt\n  ... and 5 more")


def test_files_an_answer_removes_are_named_with_the_way_back(project: Path) -> None:
    """`launchers=none` removes slurm/, edits in it too: the listing says where they are."""
    submit = project / "slurm" / "submit.sh"
    submit.write_text(submit.read_text() + "# my partition\n")
    commit(project, "feat: use my partition")
    result = CliRunner().invoke(
        app, ["update", str(project), "--defaults", "--data", "launchers=none"]
    )
    assert result.exit_code == 0, result.output
    assert "slurm/submit.sh   (deleted; `git show HEAD:slurm/submit.sh` shows it)" in (
        result.output
    )
    assert "  README.md\n" in result.output  # a changed file, not deleted


def test_an_answers_file_that_is_not_yaml_is_one_line_everywhere(project: Path) -> None:
    from scaffold.doctor import diagnose

    replace_in(project / ".copier-answers.yml", "tracker: tensorboard", "tracker: [tensorboard")
    commit(project, "chore: a slip of the hand")
    for attempt in (lambda: check(project), lambda: update_project(project, defaults=True)):
        with pytest.raises(ScaffoldError, match=r"is not valid YAML at line \d+ \(") as raised:
            attempt()
        assert "`git checkout COMMIT -- :/.copier-answers.yml`" in str(raised.value)
    findings = {finding.check: finding for finding in diagnose(project)}
    assert "is not valid YAML" in findings["template"].message  # and the other checks ran
    assert findings["git"].ok and len(findings) > 2


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("v0.0.1", "which is no release"),
        ("main", "which is no release"),
        (
            "v99.1.0",
            r"install a newer scaffold \(`pipx install --force git\+https://github.com/"
            r"scaffold-ml/scaffold.git`\), or, if .copier-answers.yml's _commit was edited by "
            r"hand, restore it from git \(`git log -p -- :/.copier-answers.yml`\)",
        ),
    ],
)
def test_an_answers_version_that_is_no_release_here_is_refused(
    project: Path, written: str, said: str
) -> None:
    replace_in(project / ".copier-answers.yml", f"_commit: v{CURRENT}", f"_commit: {written}")
    commit(project, "chore: edited by hand")
    for attempt in (lambda: check(project), lambda: update_project(project, defaults=True)):
        with pytest.raises(ScaffoldError, match=said):
            attempt()
    assert dirty_paths(project) == []


def test_repo_not_made_by_scaffold_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git("init", "--quiet", cwd=other)
    (other / "README.md").write_text("hi\n")
    commit(other, "docs: readme")
    with pytest.raises(ScaffoldError, match="not generated by scaffold or copier"):
        update_project(other)


def test_a_repo_of_another_copier_template_is_neither_checked_nor_updated(
    project: Path,
) -> None:
    answers_file = project / ".copier-answers.yml"
    answers_file.write_text(
        answers_file.read_text().replace(
            template_history.PUBLIC_URL, "gh:someone/data-science-template"
        )
    )
    commit(project, "chore: another template")
    for command in (check, update_project):
        with pytest.raises(ScaffoldError, match="not scaffold's template; update it with"):
            command(project)


def test_directory_without_git_is_refused(tmp_path: Path) -> None:
    project = new_project(tmp_path / "nogit", defaults=True, init_git=False).path
    with pytest.raises(ScaffoldError, match="has no git repository of its own"):
        update_project(project)


def test_downgrade_and_unknown_versions_are_refused(next_history: History, project: Path) -> None:
    update_project(project, bundle=next_history.bundle, defaults=True)
    commit(project, f"chore: update scaffold template to v{NEXT}")
    with pytest.raises(ScaffoldError, match="downgrades are not supported"):
        update_project(project, to_version=CURRENT, bundle=next_history.bundle)
    with pytest.raises(ScaffoldError, match=r"no template version 42\.0\.0"):
        update_project(project, to_version="42.0.0", bundle=next_history.bundle)


def test_failed_update_leaves_the_repo_as_it_was(history: History, project: Path) -> None:
    history.release(NEXT, lambda source: (source / "template" / "NEW.md").write_text("new\n"))
    head = git("rev-parse", "HEAD", cwd=project)
    with pytest.raises(ScaffoldError, match="standard library"):
        update_project(
            project, bundle=history.bundle, defaults=True, data={"package_name": "json"}
        )
    assert dirty_paths(project) == []
    assert git("rev-parse", "HEAD", cwd=project) == head


def test_up_to_date_repo_is_left_alone(project: Path) -> None:
    result = update_project(project, defaults=True)
    assert result.changed == []
    assert dirty_paths(project) == []


def test_check_reports_the_newer_version_and_its_changelog(
    next_history: History, project: Path
) -> None:
    assert not check(project).available
    status = check(project, bundle=next_history.bundle)
    assert status.available
    assert (status.current, status.target) == (CURRENT, NEXT)
    assert status.changelog.startswith(f"## v{NEXT}\n\n- Made by a test.")


def test_check_and_doctor_from_the_command_line(
    next_history: History, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    up_to_date = runner.invoke(app, ["update", str(project), "--check"])
    assert up_to_date.exit_code == 0 and "Up to date" in up_to_date.output
    assert "ok   template:" in runner.invoke(app, ["doctor", str(project)]).output

    monkeypatch.setenv(template_history.HISTORY_VARIABLE, str(next_history.bundle))
    checked = runner.invoke(app, ["update", str(project), "--check"])
    assert checked.exit_code == 1  # something to do, as `lock --check` says of a stale lock
    assert f"Template v{NEXT} is available" in checked.output
    assert "Made by a test." in checked.output
    doctor = runner.invoke(app, ["doctor", str(project)])
    assert doctor.exit_code == 1
    assert f"v{NEXT} is available" in doctor.output


def test_an_answer_to_a_question_not_asked_is_refused_and_the_repo_left_alone(
    project: Path,
) -> None:
    no_cuda = {"cuda_version": "none", "cuda_toolchain": "true"}  # the toolchain needs CUDA
    with pytest.raises(ScaffoldError, match="only when cuda_version != 'none', which these"):
        update_project(project, data=no_cuda, defaults=True)
    assert dirty_paths(project) == []


def test_new_questions_without_a_terminal_are_named(history: History, project: Path) -> None:
    def ask_more(source: Path) -> None:
        with (source / "copier.yml").open("a", encoding="utf-8") as stream:
            stream.write("\nfavourite_colour:\n  type: str\n  help: Yours\n  default: blue\n")

    history.release(NEXT, ask_more)
    with pytest.raises(ScaffoldError, match=r"asks new questions \(favourite_colour\) and"):
        update_project(project, bundle=history.bundle)
    assert dirty_paths(project) == []


def test_check_to_a_version_shows_the_changes_up_to_it(
    history: History, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def noted(source: Path) -> None:  # the newest release's changelog tells of both
        changelog = source / "CHANGELOG.md"
        head, _, rest = changelog.read_text(encoding="utf-8").partition("\n## ")
        changelog.write_text(f"{head}\n## v{NEXT}\n\n- The first of two.\n\n## {rest}")

    history.release(NEXT)
    history.release("99.1.0", noted)
    monkeypatch.setenv(template_history.HISTORY_VARIABLE, str(history.bundle))
    runner = CliRunner()
    to_next = runner.invoke(app, ["update", str(project), "--check", "--to", NEXT])
    assert to_next.exit_code == 1
    assert f"Template v{NEXT} is available (this repo: v{CURRENT})." in to_next.output
    assert "The first of two." in to_next.output and "Made by a test." not in to_next.output
    newest = runner.invoke(app, ["update", str(project), "--check"])
    assert "Template v99.1.0 is available" in newest.output
    assert "Made by a test." in newest.output and "The first of two." in newest.output
    here = runner.invoke(app, ["update", str(project), "--check", "--to", CURRENT])
    assert here.exit_code == 0 and f"this repo is at template v{CURRENT}." in here.output
    answers = runner.invoke(app, ["update", str(project), "--check", "--data", "tracker=mlflow"])
    assert answers.exit_code == 1
    assert "--check only reports, and changes no answer: drop --data." in answers.output


def test_a_changelog_longer_than_the_terminal_goes_through_the_pager(
    next_history: History, project: Path, tmp_path: Path
) -> None:
    """A repo many releases behind has hundreds of lines of changes to read: at a terminal
    they go to the pager, the lines around them stay on screen; in a pipe, all is printed."""
    paged = tmp_path / "paged"
    environment = {
        **os.environ,
        template_history.HISTORY_VARIABLE: str(next_history.bundle),
        "PAGER": f"cat > '{paged}'",
        "MANPAGER": "",
        "LINES": "3",  # the changelog (4 lines and blank lines) is longer
    }
    command = [sys.executable, "-m", "scaffold", "update", str(project), "--check"]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the command, in the terminal
        os.execve(sys.executable, command, environment)
    screen = b""
    with contextlib.suppress(OSError):  # EIO once the child has exited
        while chunk := os.read(terminal, 65536):
            screen += chunk
    os.close(terminal)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 1
    on_screen = screen.decode().replace("\r\n", "\n")
    assert f"Template v{NEXT} is available" in on_screen
    assert "Run `scaffold update` to merge it." in on_screen
    assert "Made by a test." not in on_screen
    assert "Made by a test." in paged.read_text()

    paged.unlink()
    piped = subprocess.run(command, env=environment, capture_output=True, text=True)
    assert "Made by a test." in piped.stdout and not paged.exists()


@pytest.mark.parametrize("version", template_history.released_versions())
def test_every_release_updates_to_the_working_tree_and_commits_whole(
    next_history: History,
    tmp_path: Path,
    template_dir: Path,
    version: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A default project from any shipped release reaches today's template cleanly, and
    the one commit that `scaffold update` prints records all of it."""
    project = new_project(
        tmp_path / "old" / "proj", defaults=True, template_version=version, data=PACKAGE
    ).path
    monkeypatch.setenv(template_history.HISTORY_VARIABLE, str(next_history.bundle))
    result = CliRunner().invoke(app, ["update", str(project), "--defaults"])
    assert result.exit_code == 0, result.output
    printed = next(
        line.strip() for line in result.output.splitlines() if line.strip().startswith("git ")
    )
    assert printed.startswith("git commit "), result.output
    subprocess.run(printed, shell=True, cwd=project, check=True, capture_output=True)
    assert dirty_paths(project) == []

    fresh = new_project(
        tmp_path / "fresh" / "proj", defaults=True, template=str(template_dir), data=PACKAGE
    ).path
    committed = set(git("ls-files", cwd=project).splitlines())
    assert committed == set(git("ls-files", cwd=fresh).splitlines())
    for name in committed - {".copier-answers.yml"}:
        assert (project / name).read_bytes() == (fresh / name).read_bytes(), name
    snapshot = tmp_path / "snapshot"
    git("clone", "--quiet", str(project), str(snapshot))
    site = tmp_path / "site"  # installed out of this environment, removed with tmp_path
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--target", str(site), str(snapshot)),
        ],
        check=True,
        capture_output=True,
    )
    every_module = (
        "import importlib, pkgutil, proj\n"
        "for module in pkgutil.walk_packages(proj.__path__, 'proj.'):\n"
        "    if module.name != 'proj.__main__':\n"
        "        importlib.import_module(module.name)\n"
    )
    imported = subprocess.run(
        [sys.executable, "-c", every_module],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr


def test_update_runs_from_a_subdirectory(next_history: History, project: Path) -> None:
    result = update_project(project / "src" / "proj", bundle=next_history.bundle, defaults=True)
    assert result.new_version == NEXT
    assert answers(project)["_commit"] == f"v{NEXT}"


def test_mistyped_update_answer_is_refused_before_anything_changes(project: Path) -> None:
    with pytest.raises(ScaffoldError, match="did you mean tracker"):
        update_project(project, data={"trackr": "mlflow"}, defaults=True)
    assert dirty_paths(project) == []


def test_doctor_fails_on_an_uncommitted_update_and_untracked_sources(
    next_history: History, project: Path
) -> None:
    from scaffold.doctor import diagnose

    (project / "src" / "proj" / "extra.py").write_text("VALUE = 1\n")
    git_finding = diagnose(project)[0]
    assert not git_finding.ok and "extra.py" in git_finding.message
    (project / "src" / "proj" / "extra.py").unlink()

    update_project(project, bundle=next_history.bundle, defaults=True)
    git_finding = diagnose(project)[0]
    assert not git_finding.ok and "update is not committed" in git_finding.message


def test_renamed_binary_file_is_compared_as_bytes(history: History, project: Path) -> None:
    """An unedited image the template renamed just moves; an edited one is kept and named."""
    images = Path("template") / "tests" / "fixtures" / "images"

    def rename(source: Path) -> None:
        (source / images / "class-3.png").rename(source / images / "three.png")
        (source / images / "class-7.png").rename(source / images / "seven.png")

    history.release(NEXT, rename)
    edited = project / "tests" / "fixtures" / "images" / "class-7.png"
    edited.write_bytes(edited.read_bytes() + b"\x00\xff edited")
    commit(project, "test: my own sample image")
    mine = edited.read_bytes()

    with pytest.raises(ConflictError) as raised:
        update_project(project, bundle=history.bundle, defaults=True)

    assert raised.value.files == ["tests/fixtures/images/class-7.png"]
    fixtures = project / "tests" / "fixtures" / "images"
    assert (fixtures / "three.png").is_file() and not (fixtures / "class-3.png").exists()
    assert edited.read_bytes() == mine
    assert (fixtures / "seven.png").is_file()
