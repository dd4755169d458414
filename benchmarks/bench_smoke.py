"""Time a generated project's smoke loop and test suite; measure the training process's memory.

    .venv/bin/python benchmarks/bench_smoke.py [--runs 3]

Generates a default project, installs it into this environment, and measures, as fresh
processes: `make smoke` (download -> preprocess -> train -> eval -> infer), `make test`,
and the peak RSS of `<package> train --smoke`. The baseline, measured in the same run, is
`python -c "import torch"`: the floor every torch-using process pays on this machine.
Goals (2-core CPU): make smoke < 20 s, make test < 60 s, smoke training < 512 MiB.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scaffold.generation import new_project

PYTHON = sys.executable
PACKAGE = "bench"


def wall(command: list[str], cwd: Path, before=None) -> float:
    if before:
        before()
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def peak_rss_mib(command: list[str], cwd: Path) -> float:
    """Peak resident memory of `command`, measured by a fresh parent process."""
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    output = subprocess.run(
        [PYTHON, "-c", probe, *command], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout
    return int(output.split()[-1]) / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        project = new_project(
            Path(tmp) / "bench", defaults=True, data={"package_name": PACKAGE}
        ).path
        subprocess.run(
            [
                PYTHON,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--editable",
                ".",
            ],
            cwd=project,
            check=True,
        )
        make = ["make", f"PYTHON={PYTHON}"]

        def clean() -> None:
            shutil.rmtree(project / "data" / "smoke", ignore_errors=True)
            shutil.rmtree(project / "runs", ignore_errors=True)

        torch_import = statistics.median(
            wall([PYTHON, "-c", "import torch"], project) for _ in range(runs)
        )
        smoke = statistics.median(wall([*make, "smoke"], project, clean) for _ in range(runs))
        subprocess.run([*make, "smoke"], cwd=project, check=True, capture_output=True)
        rss = peak_rss_mib([PYTHON, "-m", PACKAGE, "train", "--smoke"], project)
        tests = statistics.median(wall([*make, "test"], project) for _ in range(max(1, runs - 1)))

    rows = [
        ("python -c 'import torch' (baseline)", torch_import, "s", None, None),
        ("make smoke (5 stages, 5 processes)", smoke, "s", 20.0, smoke < 20),
        ("make test (generated suite)", tests, "s", 60.0, tests < 60),
        ("train --smoke peak RSS", rss, "MiB", 512.0, rss < 512),
    ]
    print(f"medians over {runs} runs, {os.cpu_count()} CPUs\n")
    print(f"{'measure':40} {'value':>9}  {'goal':>10}  {'x baseline':>10}  met")
    for name, value, unit, goal, met in rows:
        goal_text = f"< {goal:g} {unit}" if goal else "-"
        ratio = f"{value / torch_import:.1f}" if unit == "s" else "-"
        print(
            f"{name:40} {value:7.2f} {unit:<3} {goal_text:>10}  {ratio:>10}  "
            f"{'' if met is None else 'yes' if met else 'NO'}"
        )


if __name__ == "__main__":
    main()
