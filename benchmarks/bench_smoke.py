"""Time a generated project's smoke loop and test suite; measure the training process's memory.

    .venv/bin/python benchmarks/bench_smoke.py [--runs 3] [--no-tests] [--tracker mlflow]

Generates a default project from the working tree's template, installs it into a
throwaway environment that uses this one's packages (this environment is left as it was),
and measures, as fresh processes: `make smoke` (download -> preprocess -> train -> eval ->
infer in one process), the same five stages as five processes, the generated test suite
(`make test`) and its fast subset (`make test-fast`, `-m "not slow"`), both with one test
process per core (pytest-xdist), and the peak RSS of the whole smoke loop; each with the
project's bytecode already written, as a user's second run finds it. The baseline,
measured in the same run, is `python -c "import torch"`: the floor every torch-using
process pays on this machine. Goals, as ratios to that baseline: smoke
loop <= 3x (moonshot 2x), test suite <= 20x, fast subset <= 5x; smoke peak RSS <= 512 MiB.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from copier import run_copy

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "bench"
ANSWERS = {"project_name": "Bench", "package_name": PACKAGE}
# Python as a user runs it: bytecode written once, then reused. Some machines and
# containers turn that off (PYTHONDONTWRITEBYTECODE=1), and then every run compiles the
# project again and pytest rewrites every test module's asserts again: ~1 s more per test
# process, which the baseline, whose torch was compiled at its install, never pays.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
# This environment holds scaffold's own test tools too: hypothesis's pytest plugin, which a
# generated project does not install, would add ~1.5 s to each test process's start.
TEST_ENV = {**ENV, "PYTEST_ADDOPTS": "-p no:hypothesispytest"}


def wall(command: list[str], cwd: Path, before=None, env=ENV) -> float:
    if before:
        before()
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def peak_rss_mib(command: list[str], cwd: Path) -> float:
    """Peak resident memory of `command`, measured by a fresh parent process."""
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    output = subprocess.run(
        [PYTHON, "-c", probe, *command],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env=ENV,
    ).stdout
    return int(output.split()[-1]) / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-tests", action="store_true", help="skip the test suites")
    parser.add_argument(
        "--tracker", default="tensorboard", choices=["tensorboard", "mlflow", "wandb"]
    )
    arguments = parser.parse_args()
    runs = arguments.runs
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "bench"
        answers = {**ANSWERS, "tracker": arguments.tracker}
        run_copy(str(ROOT), project, data=answers, defaults=True, quiet=True)
        env_python = throwaway_environment(Path(tmp) / "env")
        subprocess.run(
            [
                *(PYTHON, "-m", "pip", "--python", str(env_python), "install", "--quiet"),
                *("--no-deps", "--no-build-isolation", "--editable", "."),
            ],
            cwd=project,
            check=True,
        )
        git = ["git", "-c", "user.name=b", "-c", "user.email=b@example.org"]
        git += ["-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]  # user's config
        for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "b"]):
            subprocess.run([*git, *command], cwd=project, check=True)
        make = ["make", f"PYTHON={env_python}"]
        cli = [str(env_python), "-m", PACKAGE]
        stages = [
            [*cli, "download", "--smoke"],
            [*cli, "preprocess", "--smoke"],
            [*cli, "train", "--smoke"],
            [*cli, "eval", "latest"],
            [*cli, "infer", "tests/fixtures/images", "--output", "runs/p.csv"],
        ]

        def clean() -> None:
            shutil.rmtree(project / "data" / "smoke", ignore_errors=True)
            shutil.rmtree(project / "runs", ignore_errors=True)

        def five_processes() -> float:
            clean()
            return sum(wall(stage, project) for stage in stages)

        wall([*make, "smoke"], project, clean)  # bytecode written: every run below reuses it
        # The baseline alternates with the smoke loop and the fast tests, so that all see the
        # same machine: a bare `import torch` drifts by 10% or more between minutes.
        imports, smokes = [], []

        def baseline() -> None:
            imports.append(wall([str(env_python), "-c", "import torch"], project))

        for _ in range(runs):
            baseline()
            smokes.append(wall([*make, "smoke"], project, clean))
        smoke = statistics.median(smokes)
        separate = statistics.median(five_processes() for _ in range(runs))
        clean()
        rss = peak_rss_mib([*cli, "smoke"], project)
        suites = []  # (name, seconds, goal as a ratio to the baseline)
        if not arguments.no_tests:
            wall([*make, "test-fast"], project, env=TEST_ENV)  # the test modules' bytecode
            suite = wall([*make, "test"], project, env=TEST_ENV)  # once: it takes a while
            fast = statistics.median(
                wall([*make, "test-fast"], project, baseline, TEST_ENV) for _ in range(runs)
            )
            suites = [
                ("make test (generated suite, one run)", suite, 20),
                ("make test-fast (fast subset)", fast, 5),
            ]

    torch_import = statistics.median(imports)
    rows = [
        ("python -c 'import torch' (baseline)", torch_import, "s", None),
        ("make smoke (one process)", smoke, "s", 3.0),
        ("the 5 stages as 5 processes", separate, "s", None),
        *((name, seconds, "s", goal) for name, seconds, goal in suites),
        ("make smoke peak RSS", rss, "MiB", None),
    ]
    print(f"medians over {runs} runs, {os.cpu_count()} CPUs, tracker {arguments.tracker}\n")
    print(f"{'measure':40} {'value':>9}  {'x baseline':>10}  {'goal':>10}  met")
    for name, value, unit, goal in rows:
        ratio = value / torch_import if unit == "s" else None
        if unit == "MiB":
            goal_text, met = "<= 512 MiB", "yes" if value <= 512 else "NO"
        elif goal is None:
            goal_text, met = "-", ""
        else:
            goal_text, met = f"<= {goal:g}x", "yes" if ratio <= goal else "NO"
        ratio_text = f"{ratio:.1f}" if ratio is not None else "-"
        print(f"{name:40} {value:7.2f} {unit:<3} {ratio_text:>10}  {goal_text:>10}  {met}")


def throwaway_environment(directory: Path) -> Path:
    """A venv without pip that imports this environment's packages; returns its python."""
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(directory)], check=True)
    python = directory / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "bench-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


if __name__ == "__main__":
    main()
