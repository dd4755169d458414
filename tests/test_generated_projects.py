"""Representative generated projects install, lint, pass their own tests and run `make smoke`.

These are slow (each installs a project into this environment and runs its full suite,
DDP and preemption tests included), so they are marked `slow`; CI runs them. Only Python
3.11 has a torch wheel on the CI machine, so other Python answers are rendered and checked
in test_template.py instead.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from scaffold.generation import new_project

REPRESENTATIVE = {
    "default": {},
    "cpu-mlflow-apache": {
        "cuda_version": "none",
        "tracker": "mlflow",
        "license": "Apache-2.0",
        "ci": "none",
    },
    "wandb-bsd-all-platforms": {
        "tracker": "wandb",
        "license": "BSD-3-Clause",
        "platforms": "[linux-64, linux-aarch64, osx-arm64, win-64]",
    },
}
ENV_BIN = Path(sys.executable).parent


def run(*command: str, cwd: Path) -> str:
    """Run `command` as a user of the generated project would, with this environment's tools."""
    home = cwd.parent / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": f"{ENV_BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home)}
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def generate(tmp_path: Path, name: str) -> Path:
    package = f"gen_{name.replace('-', '_')}"
    data = {"project_name": f"Generated {name}", "package_name": package, **REPRESENTATIVE[name]}
    project = new_project(tmp_path / name, data=data, defaults=True).path
    run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--editable",
        ".",
        cwd=project,
    )
    return project


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REPRESENTATIVE))
def test_generated_project_passes_lint_tests_and_smoke(tmp_path: Path, name: str) -> None:
    project = generate(tmp_path, name)
    python = f"PYTHON={sys.executable}"
    run("make", "lint", python, cwd=project)
    output = run("make", "test", python, cwd=project)
    assert " passed" in output and "skipped" not in output, output
    run("make", "smoke", python, cwd=project)
    assert run("git", "status", "--porcelain", cwd=project) == "", "running it dirtied the tree"


@pytest.mark.slow
def test_smoke_run_logs_the_promised_tensorboard_tags(tmp_path: Path) -> None:
    """Read the event files back with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    project = generate(tmp_path, "default")
    run("make", "smoke", f"PYTHON={sys.executable}", cwd=project)
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
