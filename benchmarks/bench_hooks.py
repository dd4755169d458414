"""Time each commit hook as its own process, and check-commits over 200 commits, in one run.

    .venv/bin/python benchmarks/bench_hooks.py [--runs 10]

A repo with a short history gets a typical commit staged (one file changed, one added,
~90 lines, and a Conventional Commit message with a body). Each hook runs as pre-commit
runs it, through scaffold/hooks/run, with this environment's bin folder first on PATH
(python3 is this venv's, as in an activated environment), as its own fresh process.
Baseline: a bare `python3 -c pass`. Beside them, the well-known message checkers on the
same message, when installed in this environment (conventional-pre-commit, gitlint,
commitizen's `cz check`); a checker that is not installed is listed as skipped.
Goal: each of our hooks under 0.1 s.

Second table: `scaffold check-commits` over a 200-commit range (each commit changing
three files) against `cz check --rev-range` and gitlint's `--commits` on the same range.
Goal: under 1 s.
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

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RUN = ROOT / "scaffold" / "hooks" / "run"
MESSAGE = "feat(model): add a ResNet-18 backbone\n\nThe baseline of the paper's table 2.\n"
HOOK_GOAL = 0.1
RANGE_GOAL = 1.0
COMMITS = 200


def git(repo: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run(["git", *args], cwd=repo, input=stdin, text=True, check=True)


def lines(count: int, prefix: str) -> str:
    return "".join(f"{prefix} = {number}  # a line of code\n" for number in range(count))


def typical_commit(repo: Path) -> list[str]:
    """A repo with history and a typical change staged; returns the staged paths."""
    git(repo, "init", "--quiet", "--initial-branch=main")
    for number in range(15):
        (repo / "src" / "demo").mkdir(parents=True, exist_ok=True)
        (repo / "src" / "demo" / f"module_{number}.py").write_text(lines(80, f"m{number}"))
    (repo / "environment.yml").write_text("name: demo\nplatforms:\n  - linux-64\n")
    (repo / "pyproject.toml").write_text('[project]\nname = "demo"\n\n[tool.scaffold.hooks]\n')
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "chore: start")
    (repo / "src" / "demo" / "module_3.py").write_text(lines(95, "m3"))
    (repo / "src" / "demo" / "resnet.py").write_text(lines(60, "resnet"))
    git(repo, "add", "--all")
    (repo / ".git" / "COMMIT_EDITMSG").write_text(MESSAGE)
    return ["src/demo/module_3.py", "src/demo/resnet.py"]


def long_history(repo: Path, count: int) -> None:
    """`count` ordinary commits on main, written by git fast-import."""
    git(repo, "init", "--quiet", "--initial-branch=main")
    stream = []
    for number in range(count + 1):
        stream.append(
            f"commit refs/heads/main\nmark :{number + 1}\n"
            f"committer Bench <bench@example.org> {1700000000 + number} +0000\n"
            f"data <<EOF\nfeat(model): add layer {number} to the backbone\n\n"
            "Why it helps: the paper's table 2 does it.\nEOF\n"
            + (f"from :{number}\n" if number else "")
        )
        for part in range(3):
            body = lines(10, f"c{number}")
            path = f"src/demo/part_{(number + part) % 17}.py"
            stream.append(f"M 100644 inline {path}\ndata {len(body)}\n{body}\n")
    git(repo, "fast-import", "--quiet", stdin="".join(stream))
    git(repo, "checkout", "--quiet", "main")


def timed(command: list[str], cwd: Path, env: dict[str, str], runs: int) -> tuple[float, int]:
    """Median wall time of `runs` fresh processes (after one warm-up), and the exit status."""
    samples = []
    status = 0
    for attempt in range(runs + 1):
        start = time.perf_counter()
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True)
        if attempt:
            samples.append(time.perf_counter() - start)
        status = result.returncode
    return statistics.median(samples), status


def row(
    label: str, seconds: float | None, baseline: float, goal: float | None, note: str = ""
) -> None:
    if seconds is None:
        print(f"{label:48} {'-':>9} {'-':>6}  {'-':>8}  {note}")
        return
    ratio = f"{seconds / baseline:6.2f}"
    target = f"< {goal:.1f} s" if goal else "-"
    met = ("yes" if seconds < goal else "NO") if goal else ""
    print(f"{label:48} {seconds:9.3f} {ratio}  {target:>8}  {met}{note}")


def tool(name: str) -> str | None:
    path = BIN / name
    return str(path) if path.exists() else shutil.which(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SCAFFOLD_HOOKS_PYTHON", None)
    scaffold_env = {**env, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "typical"
        repo.mkdir()
        staged = typical_commit(repo)
        message = str(repo / ".git" / "COMMIT_EDITMSG")
        hooks = [
            ("python3 -c pass (baseline)", ["python3", "-c", "pass"], None, ""),
            ("atomic-commit", [str(RUN), "atomic_commit"], HOOK_GOAL, ""),
            ("commit-msg", [str(RUN), "commit_msg", message], HOOK_GOAL, ""),
            ("lock-fresh", [str(RUN), "lock_fresh"], HOOK_GOAL, ""),
            ("no-artifacts", [str(RUN), "no_artifacts", *staged], HOOK_GOAL, ""),
            ("conventional-pre-commit", ["conventional-pre-commit", message], None, "pip"),
            (
                "gitlint --msg-filename",
                ["gitlint", "--msg-filename", message],
                None,
                "gitlint-core",
            ),
            (
                "cz check --commit-msg-file",
                ["cz", "check", "--commit-msg-file", message],
                None,
                "commitizen",
            ),
        ]
        results = []
        for label, command, goal, package in hooks:
            if package and tool(command[0]) is None:
                results.append((label, None, goal, f"skipped: pip install {package}"))
                continue
            seconds, status = timed(command, repo, env, runs)
            results.append((label, seconds, goal, "" if status == 0 else f" (exit {status})"))
        shim = shutil.which("python3", path=os.environ["PATH"])
        shim_seconds = None
        if shim and Path(shim).parent != BIN:
            shim_env = {**env, "SCAFFOLD_HOOKS_PYTHON": shim}
            shim_seconds, _ = timed([str(RUN), "atomic_commit"], repo, shim_env, runs)

        history = Path(tmp) / "history"
        history.mkdir()
        long_history(history, COMMITS)
        revisions = f"HEAD~{COMMITS}..HEAD"
        ranges = [
            ("git log --format=%B (baseline)", ["git", "log", "--format=%B", revisions], None, ""),
            (
                f"scaffold check-commits ({COMMITS} commits)",
                [sys.executable, "-m", "scaffold", "check-commits", revisions],
                RANGE_GOAL,
                "",
            ),
            (
                "cz check --rev-range",
                ["cz", "check", "--rev-range", revisions],
                None,
                "commitizen",
            ),
            ("gitlint --commits", ["gitlint", "--commits", revisions], None, "gitlint-core"),
        ]
        range_results = []
        for label, command, goal, package in ranges:
            if package and tool(command[0]) is None:
                range_results.append((label, None, goal, f"skipped: pip install {package}"))
                continue
            seconds, status = timed(command, history, scaffold_env, max(3, runs // 2))
            note = "" if status == 0 else f" (exit {status})"
            range_results.append((label, seconds, goal, note))

    print(f"median of {runs} runs each, {os.cpu_count()} CPUs, python3 = {BIN / 'python3'}\n")
    header = f"{'median s':>9} {'ratio':>6}  {'goal':>8}  met"
    print(f"{'one commit, each hook as its own process':48} {header}")
    baseline = results[0][1]
    for label, seconds, goal, note in results:
        row(label, seconds, baseline, goal, note)
    if shim_seconds is not None:
        row("atomic-commit, PATH's own python3", shim_seconds, baseline, None, f"  ({shim})")
    print()
    print(f"{'a range of commits':48} {header}")
    baseline = range_results[0][1]
    for label, seconds, goal, note in range_results:
        row(label, seconds, baseline, goal, note)


if __name__ == "__main__":
    main()
