"""Time `scaffold update` against plain `copier update` of the same change, in one run.

    .venv/bin/python benchmarks/bench_update.py [--runs 5]

A default project is generated at the shipped template version N and committed; N+1 is
the same template with a changed README heading, recorded in a private history bundle.
Each run resets the project to its commit and updates it, as a fresh process.
Goal: `scaffold update` at most 1.2x `copier update`.
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

from scaffold import template_history
from scaffold.generation import new_project
from scaffold.git import git

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NEXT = "99.0.0"


def make_history(directory: Path) -> Path:
    """The shipped history plus a release NEXT whose README heading changed."""
    bundle = directory / "history.bundle"
    shutil.copy2(template_history.BUNDLE, bundle)
    source = directory / "source"
    source.mkdir()
    template_history.copy_template_files(ROOT, source)
    readme = source / "template" / "README.md.jinja"
    readme.write_text(readme.read_text().replace("## Layout\n", "## Repository layout\n"))
    template_history.record_release(source, NEXT, bundle)
    return bundle


def timed(command: list[str], project: Path, env: dict[str, str], runs: int) -> float:
    samples = []
    for attempt in range(runs + 1):
        git("reset", "--quiet", "--hard", "HEAD", cwd=project)
        git("clean", "--quiet", "-d", "--force", cwd=project)
        start = time.perf_counter()
        subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
        if attempt:  # the first run warms caches
            samples.append(time.perf_counter() - start)
    assert "## Repository layout" in (project / "README.md").read_text()
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        bundle = make_history(Path(tmp))
        project = new_project(Path(tmp) / "proj", defaults=True).path
        env = {**os.environ, template_history.HISTORY_VARIABLE: str(bundle)}
        copier_env = {
            **os.environ,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.{bundle}.insteadOf",
            "GIT_CONFIG_VALUE_0": template_history.PUBLIC_URL,
        }
        copier = timed(
            [str(BIN / "copier"), "update", "--defaults", "--quiet"], project, copier_env, runs
        )
        scaffold = timed([str(BIN / "scaffold"), "update", "--defaults"], project, env, runs)

    ratio = scaffold / copier
    print(f"median of {runs} runs each, {os.cpu_count()} CPUs\n")
    print(f"{'command':32} {'median s':>9} {'ratio':>6}  {'goal':>8}  met")
    print(f"{'copier update (baseline)':32} {copier:9.3f} {'1.00':>6}  {'-':>8}")
    met = "yes" if ratio <= 1.2 else "NO"
    print(f"{'scaffold update':32} {scaffold:9.3f} {ratio:6.2f}  {'<= 1.20x':>8}  {met}")


if __name__ == "__main__":
    main()
