"""Representative generated projects install, lint, pass their own tests and run `make smoke`.

These are slow (each runs a project's full suite, DDP and preemption tests included, and
its smoke loop), so they are marked `slow`; CI runs them. Only Python 3.11 has a torch
wheel on the CI machine, so other Python answers are rendered and checked in
test_template.py instead.

Each project is installed (editable, without dependencies) into a throwaway environment of
its own that sees this environment's packages through a `.pth` file: the shared test
environment never holds a generated project, and `pip check` stays clean.
"""

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from scaffold.generation import new_project

REPRESENTATIVE = {
    "default": {},
    "cpu-mlflow-apache": {
        "description": 'Sorts [clothes] & "shoes": ünïcode, 100% {tested}',
        "cuda_version": "none",
        "tracker": "mlflow",
        "license": "Apache-2.0",
        "ci": "none",
    },
    "wandb-bsd-all-platforms": {
        "tracker": "wandb",
        "license": "BSD-3-Clause",
        "platforms": "linux-64,linux-aarch64,osx-arm64,win-64",
    },
}
SHARED_SITE_PACKAGES = sysconfig.get_paths()["purelib"]
# Files the generated suites write for people to look at (the demo's browser screenshot),
# one folder per project; git ignores it.
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def run(*command: str, cwd: Path, env_bin: Path, extra_env: dict[str, str] | None = None) -> str:
    """Run `command` as a user of the generated project would, with its environment first."""
    home = cwd.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{env_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        **(extra_env or {}),
    }
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def isolated_environment(directory: Path) -> Path:
    """A venv without pip that imports this environment's packages; returns its bin/."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True)
    purelib = subprocess.run(
        [
            str(directory / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "shared-test-environment.pth").write_text(SHARED_SITE_PACKAGES + "\n")
    return directory / "bin"


def generate_and_install(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """Generate project `name` and install it into its own environment; (project, bin/)."""
    package = package_of(name)
    data = {"project_name": f"Generated {name}", "package_name": package, **REPRESENTATIVE[name]}
    project = new_project(tmp_path / name, data=data, defaults=True).path
    env_bin = isolated_environment(tmp_path / "env")
    install = ["install", "--quiet", "--no-deps", "--no-build-isolation", "--editable", "."]
    pip = [sys.executable, "-m", "pip", "--python", str(env_bin / "python")]
    run(*pip, *install, cwd=project, env_bin=env_bin)
    return project, env_bin


def package_of(name: str) -> str:
    return f"gen_{name.replace('-', '_')}"


def summary_counts(output: str) -> dict[str, int]:
    """The counts of pytest's closing line, '== 136 passed, 6 warnings in 427.60s ==', and of
    nothing before it: a warning's test name (`test_a_bad_url_is_skipped`) is no skip."""
    closing = output.strip().splitlines()[-1]
    return {word: int(number) for number, word in re.findall(r"(\d+) (\w+)", closing)}


def test_summary_counts_read_only_the_closing_line() -> None:
    output = (
        "tests/test_notify.py::test_a_bad_url_is_skipped_unshown\n"
        "  DeprecationWarning: 'imghdr' is deprecated\n"
        "== 136 passed, 6 warnings in 427.60s (0:07:07) ==\n"
    )
    assert summary_counts(output) == {"passed": 136, "warnings": 6}
    assert summary_counts("== 2 passed, 1 skipped in 3.10s ==") == {"passed": 2, "skipped": 1}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REPRESENTATIVE))
def test_generated_project_passes_lint_tests_and_smoke(tmp_path: Path, name: str) -> None:
    project, env_bin = generate_and_install(tmp_path, name)
    python = f"PYTHON={env_bin / 'python'}"
    run("make", "lint", python, cwd=project, env_bin=env_bin)
    shutil.rmtree(ARTIFACTS / name, ignore_errors=True)
    artifacts = {f"{package_of(name).upper()}_TEST_ARTIFACTS": str(ARTIFACTS / name)}
    shell = researchers_shell(tmp_path, project)
    output = run(
        "make", "test", python, cwd=project, env_bin=env_bin, extra_env={**artifacts, **shell}
    )
    counts = summary_counts(output)
    assert counts.get("passed") and "skipped" not in counts, output  # skipped is not tested
    assert untouched(tmp_path), "the tests wrote to the researcher's folders or git repo"
    screenshot = ARTIFACTS / name / "demo.png"  # the browser test ran, in Chromium
    assert screenshot.read_bytes().startswith(b"\x89PNG"), screenshot
    run("make", "smoke", python, cwd=project, env_bin=env_bin)
    assert run("git", "status", "--porcelain", cwd=project, env_bin=env_bin) == "", (
        "running it dirtied the tree"
    )
    if name == "default":
        check_tensorboard_tags(project)


def researchers_shell(tmp_path: Path, project: Path) -> dict[str, str]:
    """The environment of a researcher who keeps runs, data and weights on scratch (every
    variable the project's configs read points there), logs to a tracking server, is told
    when runs end, signs every commit, has git hooks of their own, writes papers with LaTeX
    in matplotlib (not installed here), sits behind a proxy, and runs `make test` from a
    git hook of another repo (git then sets GIT_DIR and GIT_INDEX_FILE), in colour, in a
    narrow terminal or on GitHub's runners. The generated tests must touch none of it
    (`untouched` says whether they did not), and pass all the same."""
    (tmp_path / "scratch").mkdir()
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "pre-commit").write_text("#!/bin/sh\necho refused by the user's hook\nexit 1\n")
    (hooks / "pre-commit").chmod(0o755)
    home = tmp_path / "researcher"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = R\n\temail = r@example.org\n\tsigningkey = nosuchkey\n"
        f"[commit]\n\tgpgsign = true\n[core]\n\thooksPath = {hooks}\n"
    )
    (home / ".config" / "matplotlib").mkdir(parents=True)
    (home / ".config" / "matplotlib" / "matplotlibrc").write_text("text.usetex: True\n")
    subprocess.run(["git", "init", "--bare", "--quiet", str(tmp_path / "outer.git")], check=True)
    configs = "".join(path.read_text() for path in (project / "configs").rglob("*.yaml"))
    folders = set(re.findall(r"\$\{oc\.env:(\w+)", configs))
    assert len(folders) >= 3, configs  # runs, data and weights at least
    unreachable = "http://127.0.0.1:9"  # the discard port: nothing listens
    return {
        "HOME": str(home),
        **{name: str(tmp_path / "scratch" / name) for name in folders},
        "GIT_DIR": str(tmp_path / "outer.git"),
        "GIT_INDEX_FILE": str(tmp_path / "outer-index"),
        "MLFLOW_TRACKING_URI": unreachable,
        "WANDB_MODE": "online",
        "http_proxy": unreachable,
        "https_proxy": unreachable,
        "no_proxy": "localhost",  # a common value, without 127.0.0.1
        "GITHUB_ACTIONS": "true",  # as on the generated CI, where typer colours its output
        "FORCE_COLOR": "1",
        "PY_COLORS": "0",  # for typer, any value forces colour
        "COLUMNS": "60",
        "TERMINAL_WIDTH": "50",
        f"{package_of(project.name).upper()}_NOTIFY": unreachable.replace("http", "json"),
    }


def untouched(tmp_path: Path) -> bool:
    """Whether the scratch folders, the outer repo and its index are as `researchers_shell`
    left them: empty, without a commit, absent."""
    outer = subprocess.run(
        ["git", "--git-dir", str(tmp_path / "outer.git"), "rev-parse", "--verify", "-q", "HEAD"],
        capture_output=True,
    )
    return (
        not any((tmp_path / "scratch").iterdir())
        and outer.returncode != 0
        and not (tmp_path / "outer-index").exists()
    )


def check_tensorboard_tags(project: Path) -> None:
    """Read the smoke run's event files back with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = next(p for p in (project / "runs").iterdir() if p.is_dir())
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"histograms": 0})
    events.Reload()
    tags = events.Tags()
    assert {
        "train/loss",
        "train/lr",
        "train/samples_per_second",
        "train/data_wait_fraction",
        "grad_norm/blocks",
        "grad_norm/head",
        "val/loss",
        "val/accuracy",
    } <= set(tags["scalars"])
    assert {"weights/head.weight", "gradients/head.weight"} <= set(tags["histograms"])
    assert "val/predictions" in tags["images"]
    losses = [event.value for event in events.Scalars("train/loss")]
    assert losses[-1] < losses[0], "the smoke run did not learn"


@pytest.mark.slow
def test_the_shared_environment_holds_no_generated_project(tmp_path: Path) -> None:
    """Installing a generated project for the tests leaves this environment as it was."""
    before = installed_distributions()
    generate_and_install(tmp_path, "default")
    assert installed_distributions() == before
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert "gen-" not in check.stdout + check.stderr


def installed_distributions() -> set[str]:
    from importlib.metadata import distributions

    return {dist.metadata["Name"] for dist in distributions()}
