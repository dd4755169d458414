"""Time a generated project's `runs` table over 1,000 runs, as fresh processes.

    .venv/bin/python benchmarks/bench_runs.py [--runs 5] [--count 1000]

Generates a default project from the working tree's template, installs it into a
throwaway environment that uses this one's packages, and fills its runs/ with synthetic
run directories shaped like real ones: a manifest.json with two attempts (each with the
resolved config and ~300 installed packages, as training records them), a config.yaml, a
metrics.jsonl of 1,000 records and, for half the runs, eval/metrics.json. Timed: `runs`,
`runs --sort val_accuracy --reverse`, `runs --where train.lr=0.001` (reads every
config.yaml) and `runs --json`. Baselines, measured in the same run: a bare `python -c pass`
and `python -c "import bench.cli"` (the floor of every command of the project).
Goal: `runs` under 1 s for 1,000 runs.
"""

import argparse
import json
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_smoke import PYTHON, throwaway_environment
from copier import run_copy

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "bench"
GOAL = 1.0


def synthetic_runs(project: Path, count: int) -> None:
    """`count` run directories in the project's runs/, with the files, and sizes, that
    training and eval write."""
    runs_dir = project / "runs"
    generator = random.Random(0)
    packages = [f"package-{number}=={number % 7}.{number % 13}.0" for number in range(300)]
    config = (project / "configs" / "smoke.yaml").read_text()
    for number in range(count):
        lr = generator.choice([0.001, 0.003, 0.01])
        run_id = f"20261127-{number:06d}-base-lr={lr}-{number:04x}"
        run_dir = runs_dir / run_id
        (run_dir / "eval").mkdir(parents=True)
        attempt = {
            "started_at": "2026-11-27T10:00:00+0000",
            "ended_at": "2026-11-27T11:02:05+0000",
            "status": generator.choice(["completed", "completed", "failed", "interrupted"]),
            "argv": ["bench", "train", f"train.lr={lr}"],
            "command": ["train", f"train.lr={lr}", "--note", f"hypothesis {number}"],
            "note": f"hypothesis {number}",
            "git": {"commit": f"{number:040x}", "modified": [], "untracked": []},
            "seed": 0,
            "config": config,
            "environment": {"python": "3.12.0", "packages": packages, "lock": None},
            "data": {"manifest": "data/manifest.json", "files": {"train.npz": "0" * 64}},
        }
        manifest = {"run_id": run_id, "attempts": [attempt, attempt]}
        (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
        (run_dir / "config.yaml").write_text(f"seed: 0\ntrain:\n  lr: {lr}\n" + config)
        with (run_dir / "metrics.jsonl").open("w") as stream:
            for step in range(1, 1001):
                record = {"step": step, "train/loss": 1 / step, "train/lr": lr}
                if step % 100 == 0:
                    record.update({"val/loss": 1 / step, "val/accuracy": generator.random()})
                stream.write(json.dumps(record) + "\n")
        if number % 2:
            metrics = {"split": "test", "loss": 0.3, "accuracy": generator.random()}
            (run_dir / "eval" / "metrics.json").write_text(json.dumps(metrics))


def median_wall(command: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=1000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / PACKAGE
        run_copy(str(ROOT), project, data={"project_name": "Bench"}, defaults=True, quiet=True)
        python = throwaway_environment(Path(tmp) / "env")
        subprocess.run(
            [
                *(PYTHON, "-m", "pip", "--python", str(python), "install", "--quiet"),
                *("--no-deps", "--no-build-isolation", "--editable", "."),
            ],
            cwd=project,
            check=True,
        )
        synthetic_runs(project, arguments.count)
        cli = [str(python), "-m", PACKAGE, "runs"]
        rows = [
            ("python -c pass (baseline)", [str(python), "-c", "pass"], None),
            (
                f"import {PACKAGE}.cli (baseline)",
                [str(python), "-c", f"import {PACKAGE}.cli"],
                None,
            ),
            (f"runs ({arguments.count} runs)", cli, GOAL),
            (
                "runs --sort val_accuracy --reverse",
                [*cli, "--sort", "val_accuracy", "--reverse"],
                GOAL,
            ),
            ("runs --where train.lr=0.001", [*cli, "--where", "train.lr=0.001"], None),
            ("runs --json", [*cli, "--json"], None),
        ]
        floor = None
        print(f"{'command':42} {'median s':>9} {'vs import':>10} {'goal':>6}  met")
        for name, command, goal in rows:
            seconds = median_wall(command, project, arguments.runs)
            if "import" in name:
                floor = seconds
            ratio = f"{seconds / floor:.1f}x" if floor and "import" not in name else ""
            goal_text = f"{goal:.1f}" if goal else ""
            met = ("yes" if seconds < goal else "NO") if goal else ""
            print(f"{name:42} {seconds:9.3f} {ratio:>10} {goal_text:>6}  {met}")


if __name__ == "__main__":
    main()
