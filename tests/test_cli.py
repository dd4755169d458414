"""The command line: help, completion, fast start, and user errors as clean messages."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from scaffold import __version__, template_history
from scaffold.cli import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    listed = {line.strip(" │").split(" ")[0] for line in result.output.splitlines()}
    assert {"new", "update", "doctor"} <= listed, result.output


def _command_paths(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's words on the command line, subcommands (`image push`) included."""
    paths = []
    for name, command in group.commands.items():
        paths.append((*path, name))
        if hasattr(command, "commands"):  # a group: `scaffold image`
            paths += _command_paths(command, (*path, name))
    return paths


def test_every_command_and_subcommand_has_help_that_shows_all_its_text() -> None:
    root = typer.main.get_command(app)
    paths = _command_paths(root)
    assert ("image", "push") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, f"{' '.join(path)} --help:\n{result.output}"
        assert "Usage" in result.output
        command = root
        for name in path:
            command = command.commands[name]
        # Rich markup takes [words] for styles: it drops them, or fails on [/words].
        texts = [
            command.help or "",
            *(getattr(param, "help", "") or "" for param in command.params),
        ]
        assert not any("[" in text for text in texts), f"{' '.join(path)}: a [ in its help"


def test_version_shows_the_package_and_the_template_versions() -> None:
    result = runner.invoke(app, ["--version"])
    template = template_history.latest_version()
    assert result.output.strip() == f"scaffold {__version__} (template v{template})"


def test_help_does_not_import_the_heavy_libraries() -> None:
    """`scaffold --help` must stay fast: copier, jinja and yaml load only when used."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from scaffold.cli import app\n"
        "CliRunner().invoke(app, ['--help'])\n"
        "print(sorted(m for m in ('copier', 'jinja2', 'yaml', 'plumbum') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_shell_completion_completes_commands() -> None:
    env = {
        **os.environ,
        "_SCAFFOLD_COMPLETE": "complete_bash",
        "COMP_WORDS": "scaffold n",
        "COMP_CWORD": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "scaffold"], env=env, capture_output=True, text=True
    )
    assert "new" in result.stdout.split()


def test_malformed_data_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", str(tmp_path / "p"), "--defaults", "--data", "tracker"])
    assert result.exit_code == 1
    assert "is not KEY=VALUE" in result.output
    assert not (tmp_path / "p").exists()


def test_a_question_answered_twice_is_refused(tmp_path: Path) -> None:
    twice = ["--data", "tracker=mlflow", "--data", "tracker=wandb"]
    result = runner.invoke(app, ["new", str(tmp_path / "p"), "--defaults", *twice])
    assert result.exit_code == 1
    assert "--data answers tracker twice ('mlflow', then 'wandb')" in result.output
    assert not (tmp_path / "p").exists()


def test_no_terminal_and_no_defaults_says_what_to_do(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", str(tmp_path / "p")])
    assert result.exit_code == 1
    assert "pass --defaults" in result.output
    assert list(tmp_path.iterdir()) == []


def test_new_prints_the_next_steps(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", str(tmp_path / "demo"), "--defaults"])
    assert result.exit_code == 0, result.output
    assert "First commit" in result.output
    assert "demo --help" in result.output
    assert "pip install --editable '.[dev,sweep]'" in result.output


def test_the_next_steps_name_only_extras_the_chosen_version_has(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["new", str(tmp_path / "old"), "--defaults", "--template-version", "0.2.0"]
    )
    assert result.exit_code == 0, result.output
    assert "pip install --editable '.[dev]'" in result.output  # v0.2.0 had no sweep extra


def test_a_template_of_ones_own_without_a_pyproject_gets_a_plain_install(tmp_path: Path) -> None:
    source = tmp_path / "own"
    source.mkdir()
    (source / "copier.yml").write_text("package_name:\n  type: str\n  default: own\n")
    (source / "README.md").write_text("mine\n")
    answers = "{{ _copier_answers | to_nice_yaml }}"
    (source / "{{ _copier_conf.answers_file }}.jinja").write_text(answers)
    result = runner.invoke(
        app, ["new", str(tmp_path / "p"), "--defaults", "--template", str(source), "--no-git"]
    )
    assert result.exit_code == 0, result.output
    assert "pip install --editable .\n" in result.output


def test_mistyped_data_key_is_refused_with_the_closest_question(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["new", str(tmp_path / "p"), "--defaults", "--data", "trackr=mlflow"]
    )
    assert result.exit_code == 1
    assert "did you mean tracker?" in result.output
    assert "cuda_version" in result.output  # the questions are listed
    assert list(tmp_path.iterdir()) == []


def test_every_common_way_of_typing_a_list_is_accepted(tmp_path: Path) -> None:
    import yaml

    for index, typed in enumerate(["linux-64", "linux-64,osx-arm64", "[linux-64, win-64]"]):
        dest = tmp_path / f"p{index}"
        result = runner.invoke(
            app, ["new", str(dest), "--defaults", "--no-git", "--data", f"platforms={typed}"]
        )
        assert result.exit_code == 0, result.output
        answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
        expected = [item.strip() for item in typed.strip("[]").split(",")]
        assert answers["platforms"] == expected


def test_a_missing_template_history_is_one_line_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "p"
    assert runner.invoke(app, ["new", str(project), "--defaults"]).exit_code == 0
    monkeypatch.setenv(template_history.HISTORY_VARIABLE, str(tmp_path / "missing.bundle"))
    for command in (["update", str(project), "--check"], ["update", str(project)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert f"{tmp_path / 'missing.bundle'} is missing" in result.output
    doctor = runner.invoke(app, ["doctor", str(project)])
    assert doctor.exit_code == 1
    assert "FAIL template: The template history" in doctor.output


def test_doctor_without_git_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bin_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "scaffold", "doctor", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout.strip() == "FAIL git: git is not installed: install it and try again."


def test_doctor_outside_any_project_says_where_to_run_it(tmp_path: Path) -> None:
    result = runner.invoke(app, ["doctor", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"FAIL project: {tmp_path.resolve()} is not a generated repo")
    assert "cd into one" in result.output and len(result.output.splitlines()) == 1

    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)  # a repo of its own
    result = runner.invoke(app, ["doctor", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        f"FAIL project: {tmp_path.resolve()} is not a generated repo (no .copier-answers.yml "
        "at its root): cd into one, or make one with `scaffold new`.\n"
    )


def test_doctor_finds_the_repo_from_a_subdirectory(tmp_path: Path) -> None:
    project = tmp_path / "p"
    assert runner.invoke(app, ["new", str(project), "--defaults"]).exit_code == 0
    result = runner.invoke(app, ["doctor", str(project / "src")])
    assert "ok   git: clean work tree." in result.output
    assert "ok   template:" in result.output


def test_new_inside_another_repository_says_it_nests_one(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    assert runner.invoke(app, ["new", str(outer), "--defaults", "--no-lock"]).exit_code == 0
    result = runner.invoke(app, ["new", str(outer / "inner"), "--defaults", "--no-lock"])
    assert result.exit_code == 0, result.output
    assert f"is inside the git repository {outer}" in result.output


def test_doctor_judges_a_project_made_without_git_inside_another_repository(
    tmp_path: Path,
) -> None:
    outer = tmp_path / "outer"
    subprocess.run(["git", "init", "--quiet", str(outer)], check=True)
    inner = outer / "inner"
    made = runner.invoke(app, ["new", str(inner), "--defaults", "--no-lock", "--no-git"])
    assert made.exit_code == 0, made.output
    result = runner.invoke(app, ["doctor", str(inner / "src")])
    assert "ok   template:" in result.output, result.output  # inner's, not outer's
    assert f"FAIL git: {inner} has no git repository of its own: run `git init` there." in (
        result.output
    )
    # not the outer repository's hooks, which `pre-commit install` here would have set
    assert "FAIL hooks: no git repository of its own to install them in: `git init` first." in (
        result.output
    )


def test_ctrl_c_where_nothing_was_left_to_undo_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scaffold import update

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(update, "check", interrupted)
    result = runner.invoke(app, ["update", str(tmp_path), "--check"])
    assert result.exit_code == 130, result.output  # as a shell reports Ctrl-C
    assert result.output == "interrupted.\n"
