"""The command line: help, completion, fast start, and user errors as clean messages."""

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from scaffold import __version__
from scaffold.cli import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert "new" in result.output


def test_every_command_has_help() -> None:
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.output.strip() == f"scaffold {__version__}"


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
