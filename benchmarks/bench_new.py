"""Time `scaffold --help` and `scaffold new` against the plain copier CLI, in one run.

    .venv/bin/python benchmarks/bench_new.py [--runs 7]

All three commands run as fresh processes from this environment's bin directory.
`copier copy` renders the very same template source as `scaffold new`: the bundled
history, reached through the same public URL that git rewrites to the bundle.
Goals: `scaffold --help` under 0.3 s; `scaffold new` at most 0.8x `copier copy`.
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

BIN = Path(sys.executable).parent


def timed(command: list[str], env: dict[str, str], runs: int, cleanup: Path | None) -> float:
    """Median wall time of `command` over `runs` runs (after one warm-up run)."""
    samples = []
    for attempt in range(runs + 1):
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run(
            command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if attempt:
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs

    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "project"
        env = {**os.environ, "GIT_CONFIG_COUNT": "0"}
        copier_env = {
            **env,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.{template_history.BUNDLE}.insteadOf",
            "GIT_CONFIG_VALUE_0": template_history.PUBLIC_URL,
        }
        help_time = timed([str(BIN / "scaffold"), "--help"], env, runs, None)
        new_time = timed(
            [str(BIN / "scaffold"), "new", str(dest), "--defaults", "--no-git"], env, runs, dest
        )
        copier_time = timed(
            [
                str(BIN / "copier"),
                "copy",
                "--defaults",
                "--quiet",
                "--data",
                "project_name=project",
                template_history.PUBLIC_URL,
                str(dest),
            ],
            copier_env,
            runs,
            dest,
        )

    rows = [
        ("scaffold --help", help_time, "-", "< 0.300 s", help_time < 0.3),
        ("copier copy --defaults (baseline)", copier_time, "1.00", "-", None),
        (
            "scaffold new --defaults --no-git",
            new_time,
            f"{new_time / copier_time:.2f}",
            "<= 0.80x",
            new_time / copier_time <= 0.8,
        ),
    ]
    print(f"median of {runs} runs each, {os.cpu_count()} CPUs\n")
    print(f"{'command':38} {'median s':>9} {'ratio':>6}  {'goal':>10}  met")
    for name, seconds, ratio, goal, met in rows:
        mark = "" if met is None else ("yes" if met else "NO")
        print(f"{name:38} {seconds:9.3f} {ratio:>6}  {goal:>10}  {mark}")


if __name__ == "__main__":
    main()
