"""scripts/demo.sh never deletes what it did not make, and reuses the demo it did make.

The script checks its argument before any set-up, so the refusals run the real script in
well under a second and leave .venv alone. The slow test runs the whole demo twice (set-up
included: it creates or refreshes this checkout's .venv and installs the demo project into
it, as the demo does for a user).
"""

import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "demo.sh"
SETUP_HEADING = "==> [1/3] Set-up"


def demo(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run the real script from `cwd`, as a user would."""
    return subprocess.run(
        ["bash", str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def assert_refused_before_set_up(result: subprocess.CompletedProcess[str], names: Path) -> None:
    assert result.returncode != 0, result.stdout + result.stderr
    assert str(names) in result.stderr
    assert "Nothing was changed" in result.stderr
    assert SETUP_HEADING not in result.stdout


def test_refuses_a_non_empty_folder_it_did_not_make(tmp_path: Path) -> None:
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "notes.txt").write_text("a week of work\n")
    (folder / ".git").mkdir()  # even a git repository, as long as it lacks the demo's marker
    before = contents(folder)

    result = demo(str(folder), cwd=tmp_path)

    assert_refused_before_set_up(result, folder)
    assert "not empty" in result.stderr
    assert contents(folder) == before
    assert sorted(p.name for p in folder.iterdir()) == [".git", "notes.txt"]


def test_reads_a_relative_path_against_the_callers_directory(tmp_path: Path) -> None:
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "notes.txt").write_text("a week of work\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = demo("../thesis", cwd=elsewhere)

    assert_refused_before_set_up(result, folder)
    assert (folder / "notes.txt").read_text() == "a week of work\n"


@pytest.mark.parametrize("options", [[], ["--no-setup"]])
def test_refuses_a_file(tmp_path: Path, options: list[str]) -> None:
    target = tmp_path / "results.csv"
    target.write_text("accuracy\n0.91\n")

    result = demo(str(target), *options, cwd=tmp_path)  # --no-setup may follow DIR too

    assert_refused_before_set_up(result, target)
    assert "is a file" in result.stderr
    assert target.read_text() == "accuracy\n0.91\n"


def test_refuses_two_folders_and_makes_neither(tmp_path: Path) -> None:
    result = demo("one", "two", cwd=tmp_path)

    assert result.returncode != 0
    assert "usage:" in result.stderr and SETUP_HEADING not in result.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_second_run_reuses_the_demo_and_keeps_the_first_run(tmp_path: Path) -> None:
    project = tmp_path / "out" / "my-demo"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    # --no-setup: the suite's own environment is ready, and must not be reinstalled under
    # tests that run beside this one.
    before = installed_distributions()
    first = demo("--no-setup", str(project), cwd=elsewhere, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    first_run = project / "runs" / (project / "runs" / "LATEST").read_text().strip()
    assert "Smoke results" in first.stdout and "accuracy" in first.stdout
    assert f"cd {project} && . .venv/bin/activate" in first.stdout  # make needs its python
    assert "installed already: no pip step" in first.stdout  # not the README's set-up again
    assert first.stdout.rstrip().endswith("how good the model can get."), "not ending on results"
    bin_dir = project / ".venv" / "bin"  # what an activated demo finds first on its PATH
    for tool in ("scaffold", "pre-commit", "tensorboard", "ruff"):  # named by docs and summary
        assert os.access(bin_dir / tool, os.X_OK), f"{tool} is not in the demo's environment"
    shown = subprocess.run([bin_dir / "pip", "show", "demo"], capture_output=True, text=True)
    assert shown.returncode == 0, "the demo's pip is another environment's: " + shown.stderr

    # As a demo made by another checkout, since moved or deleted, would find it.
    (pth,) = (project / ".venv").glob("lib/python*/site-packages/scaffold-venv.pth")
    pth.write_text(str(tmp_path / "a-checkout-gone" / ".venv" / "site-packages") + "\n")
    second = demo("--no-setup", str(project), cwd=elsewhere, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Reusing the existing demo" in second.stdout and "delete that folder" in second.stdout
    second_run = project / "runs" / (project / "runs" / "LATEST").read_text().strip()
    assert second_run != first_run
    assert (first_run / "eval" / "metrics.json").is_file(), "the first run was not kept"
    assert "2 run(s)" in second.stdout
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True
    )
    assert status.stdout == "", "the demo's marker or runs dirtied the generated tree"
    assert installed_distributions() == before, "the demo installed into scaffold's .venv"


def installed_distributions() -> set[str]:
    from importlib.metadata import distributions

    return {dist.metadata["Name"] for dist in distributions()}
