"""Time `scaffold lock` against `conda-lock lock` of the same project, in one run.

    .venv/bin/python benchmarks/bench_lock.py [--runs 5] [--scale 2]

A default project is generated (not locked) and its environment files are pointed at a
local channel: `synthetic_channel_packages(scale)` from tests/conda_channel.py (thousands
of records: many versions of python, numpy and pytorch with cuda*/cpu* builds, CUDA
components pinned to cuda-version, __glibc requirements that make the solver backtrack),
plus the rest of `realistic_packages()` for the packages that the synthetic channel lacks
(typer, aiohttp, ...), so that the project's environment files solve unchanged.

Both commands lock environment.yml + environment-dev.yml for linux-64 and osx-arm64 with
virtual-packages.yml, each run as a fresh process after deleting the previous lock:
conda-lock (the baseline) through tests/fake_conda.py, a py-rattler-backed micromamba
stand-in, and `scaffold lock --channel URL`. Both must lock the same packages.
Goal: `scaffold lock` at least 3x faster than conda-lock.

Then where scaffold's time goes, timed inside runs: process start (interpreter and exit),
`import scaffold.cli`, the solver subprocess (`python -m scaffold.conda_solve`), writing
conda-lock.yml, and the rest; and, as separate fresh processes, the same solver request
alone, and `import rattler` alone.

Second table: the offline freshness check `scaffold.lockfile.check_freshness` on a lock of
600 packages (300 per platform, written by scaffold.locking's writer) against a full
`yaml.safe_load` of the same lock (the baseline). Goal: under 0.1 s.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

# This checkout's scaffold (not whichever one the venv installed) and the tests' helpers.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from conda_channel import (  # noqa: E402
    realistic_packages,
    synthetic_channel_packages,
    write_channel,
)
from fake_conda import write_wrapper  # noqa: E402

from scaffold import lockfile, locking  # noqa: E402
from scaffold.generation import new_project  # noqa: E402

BIN = Path(sys.executable).parent
PLATFORMS = ("linux-64", "osx-arm64")
TOOLS = ("conda-lock", "py-rattler", "typer", "pyyaml")
# Names whose many versions make the synthetic channel hard: the realistic ones are left out.
SYNTHETIC_ONLY = {"python", "python_abi", "numpy", "pytorch", "cuda-version", "cuda-cudart"}
SYNTHETIC_ONLY |= {"cuda-cudart-dev", "cuda-nvcc", "cuda-libraries-dev"}

# Runs `scaffold lock` in-process with timers around its phases; prints them as JSON.
PROFILE = """
import json, sys, time
start = time.perf_counter()
import scaffold.cli
from scaffold import git, locking
spent = {"import": time.perf_counter() - start}
def timed(module, name):
    function = getattr(module, name)
    def wrapper(*args, **kwargs):
        spent.setdefault(name + "_start", time.perf_counter())
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - began
    setattr(module, name, wrapper)
for module, name in [(git, "repo_root"), (locking, "lock"), (locking, "read_spec"),
                     (locking, "_solve"), (locking, "_write_lock")]:
    timed(module, name)
sys.argv = ["scaffold", "lock", *sys.argv[1:]]
main = time.perf_counter()
try:
    scaffold.cli.main()
except SystemExit as exit:
    assert not exit.code, exit.code
spent["inside"] = time.perf_counter() - start
spent["before_lock"] = spent["lock_start"] - main
print(json.dumps(spent))
"""


def channel_packages(scale: int) -> list[Any]:
    synthetic = synthetic_channel_packages(scale)
    taken = {(p.subdir, p.filename) for p in synthetic}
    rest = [
        p
        for p in realistic_packages(PLATFORMS)
        if p.name not in SYNTHETIC_ONLY and (p.subdir, p.filename) not in taken
    ]
    return list(dict.fromkeys(synthetic + rest))


def make_project(directory: Path, channel: str) -> Path:
    project = new_project(
        directory / "proj", defaults=True, data={"package_name": "proj"}, lock=False
    ).path
    for name in (lockfile.ENVIRONMENT_FILE, lockfile.DEV_ENVIRONMENT_FILE):
        path = project / name
        path.write_text(path.read_text().replace("  - conda-forge\n", f"  - {channel}\n"))
    return project


def locked(project: Path) -> set[tuple[str, str, str, str]]:
    lock = yaml.load((project / lockfile.LOCK_FILE).read_text(), Loader=yaml.CSafeLoader)
    return {(p["platform"], p["name"], p["url"], p["category"]) for p in lock["package"]}


def timed_runs(command: list[str], project: Path, env: dict[str, str], runs: int) -> float:
    """Median wall time of `command` as a fresh process; the first run warms caches."""
    samples = []
    for attempt in range(runs + 1):
        (project / lockfile.LOCK_FILE).unlink(missing_ok=True)
        start = time.perf_counter()
        result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode:
            sys.exit(f"{command[0]} failed:\n{result.stderr[-3000:]}")
        if attempt:
            samples.append(elapsed)
    return statistics.median(samples)


def profile_scaffold(project: Path, channel: str, env: dict[str, str], runs: int) -> dict:
    """Medians of scaffold's phases, timed inside `runs` fresh `scaffold lock` processes."""
    phases: dict[str, list[float]] = {}
    for _ in range(runs):
        (project / lockfile.LOCK_FILE).unlink()
        command = [sys.executable, "-c", PROFILE, "--channel", channel, str(project)]
        start = time.perf_counter()
        result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        assert result.returncode == 0, result.stderr
        inside = json.loads(result.stdout.strip().splitlines()[-1])
        sample = {
            "start": wall - inside["inside"],
            "import": inside["import"],
            "parse": inside["before_lock"] - inside["repo_root"],
            "git": inside["repo_root"],
            "read": inside["read_spec"],
            "solve": inside["_solve"],
            "write": inside["_write_lock"],
        }
        sample["rest"] = inside["inside"] - sum(sample.values()) + sample["start"]
        sample["total"] = wall
        for phase, seconds in sample.items():
            phases.setdefault(phase, []).append(seconds)
    return {phase: statistics.median(samples) for phase, samples in phases.items()}


def solver_request(project: Path, channel: str) -> str:
    spec = locking.read_spec(project)
    jobs = [
        {
            "platform": p,
            "specs": spec.main[p] + spec.dev[p],
            "virtual_packages": spec.virtual_packages[p],
        }
        for p in spec.platforms
    ]
    return json.dumps({"channels": [channel], "jobs": jobs})


def fresh_process(command: list[str], env: dict[str, str], runs: int, stdin: str = "") -> float:
    samples = []
    for attempt in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(command, input=stdin, env=env, capture_output=True, text=True, check=True)
        if attempt:
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def write_big_lock(project: Path, per_platform: int = 300) -> None:
    """A fresh conda-lock v1 lock of `per_platform` packages per platform, by scaffold's writer."""
    packages = []
    for subdir in PLATFORMS:
        for index in range(per_platform):
            name = f"package-{index:03d}"
            filename = f"{name}-1.{index}.0-h{index:07x}_0.conda"
            packages.append(
                {
                    "name": name,
                    "version": f"1.{index}.0",
                    "manager": "conda",
                    "platform": subdir,
                    "dependencies": {
                        f"package-{(index + k) % per_platform:03d}": ">=1.0" for k in (1, 2, 3)
                    },
                    "url": f"https://conda.anaconda.org/conda-forge/{subdir}/{filename}",
                    "hash": {"md5": f"{index:032x}", "sha256": f"{index:064x}"},
                    "category": "main" if index % 4 else "dev",
                    "optional": not index % 4,
                    "build": f"h{index:07x}_0",
                }
            )
    metadata = {
        "content_hash": {p: lockfile.fingerprint(project, p) for p in PLATFORMS},
        "channels": [{"url": "conda-forge", "used_env_vars": []}],
        "platforms": list(PLATFORMS),
        "sources": [lockfile.ENVIRONMENT_FILE, lockfile.DEV_ENVIRONMENT_FILE],
    }
    locking._write_lock(project / lockfile.LOCK_FILE, metadata, packages)


def in_process(function: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def row(label: str, seconds: float, ratio: str = "", goal: str = "", met: str = "") -> None:
    print(f"{label:52} {seconds:9.3f} {ratio:>7}  {goal:>9}  {met}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scale", type=int, default=2)
    options = parser.parse_args()
    runs = options.runs
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        packages = channel_packages(options.scale)
        channel = write_channel(Path(tmp) / "channel", packages)
        project = make_project(Path(tmp), channel)
        wrapper = write_wrapper(Path(tmp))
        (Path(tmp) / "mapping.json").write_text("{}")
        conda_lock = [str(BIN / "conda-lock"), "lock", "--conda", str(wrapper)]
        conda_lock += ["-f", lockfile.ENVIRONMENT_FILE, "-f", lockfile.DEV_ENVIRONMENT_FILE]
        conda_lock += ["--virtual-package-spec", lockfile.VIRTUAL_PACKAGES_FILE]
        conda_lock += ["--pypi_to_conda_lookup_file", str(Path(tmp) / "mapping.json")]
        for subdir in PLATFORMS:
            conda_lock += ["-p", subdir]
        baseline = timed_runs(conda_lock, project, env, runs)
        by_conda_lock = locked(project)
        scaffold = timed_runs(
            [str(BIN / "scaffold"), "lock", "--channel", channel], project, env, runs
        )
        same = locked(project) == by_conda_lock
        counts = {p: sum(1 for pkg in by_conda_lock if pkg[0] == p) for p in PLATFORMS}

        phases = profile_scaffold(project, channel, env, runs)
        solver_alone = fresh_process(
            [sys.executable, "-m", "scaffold.conda_solve"],
            env,
            runs,
            stdin=solver_request(project, channel),
        )
        rattler_alone = fresh_process([sys.executable, "-c", "import rattler"], env, runs)
        bare = fresh_process([sys.executable, "-c", "pass"], env, runs)

        fresh_project = Path(tmp) / "fresh"
        shutil.copytree(project, fresh_project)
        write_big_lock(fresh_project)
        big_lock = fresh_project / lockfile.LOCK_FILE
        assert lockfile.check_freshness(fresh_project).fresh
        many = max(runs, 20)
        full_parse = in_process(lambda: yaml.safe_load(big_lock.read_text()), runs)
        c_parse = in_process(
            lambda: yaml.load(big_lock.read_text(), Loader=yaml.CSafeLoader), runs
        )
        check = in_process(lambda: lockfile.check_freshness(fresh_project), many)
        entries = len(yaml.load(big_lock.read_text(), Loader=yaml.CSafeLoader)["package"])
        size_kib = big_lock.stat().st_size / 1024

    print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}; Python {platform.python_version()}")
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in TOOLS)
    print(f"tools: {versions}; scaffold from {Path(locking.__file__).parent.parent}")
    print(
        f"channel: {len(packages)} records (synthetic scale {options.scale} + realistic rest); "
        f"lock: {', '.join(f'{p} {n}' for p, n in counts.items())} packages; "
        f"same packages from both: {'yes' if same else 'NO'}"
    )
    print(f"median of {runs} runs each, each a fresh process\n")
    print(
        f"{'command (linux-64 + osx-arm64)':52} {'median s':>9} {'speedup':>7}  {'goal':>9}  met"
    )
    row("conda-lock lock --conda fake micromamba (baseline)", baseline, "1.00x", "-")
    speedup = baseline / scaffold
    met = "yes" if speedup >= 3 and same else "NO"
    row("scaffold lock --channel URL", scaffold, f"{speedup:.2f}x", ">= 3.00x", met)
    print(f"\nwhere `scaffold lock` goes (median of {runs} profiled runs, s)")
    row("  process start and exit (outside the profiled code)", phases["start"])
    row("  import scaffold.cli and scaffold.locking", phases["import"])
    row("  CLI parsing (typer; its coercion imports pydantic)", phases["parse"])
    row("  finding the repo root (a git subprocess)", phases["git"])
    row("  reading the environment files (read_spec)", phases["read"])
    row("  solver subprocess (python -m scaffold.conda_solve)", phases["solve"])
    row("  writing conda-lock.yml", phases["write"])
    row("  the rest (fingerprints, categories, output)", phases["rest"])
    row("  total, profiled runs", phases["total"])
    row("  alone: the same solver request, fresh process", solver_alone)
    row("  alone: python -c 'import rattler'", rattler_alone)
    row("  alone: python -c pass", bare)
    print(
        f"\nfreshness of a {entries}-package, 2-platform lock ({size_kib:.0f} KiB), "
        f"in-process, median of {runs} parses and {many} checks"
    )
    print(f"{'check':52} {'median s':>9} {'speedup':>7}  {'goal':>9}  met")
    row("yaml.safe_load of the whole lock (baseline)", full_parse, "1.00x", "-")
    row("yaml.load, CSafeLoader (for reference)", c_parse, f"{full_parse / c_parse:.2f}x", "-")
    met = "yes" if check < 0.1 else "NO"
    row("scaffold.lockfile.check_freshness", check, f"{full_parse / check:.0f}x", "< 0.100 s", met)


if __name__ == "__main__":
    main()
