"""Time `scaffold update` against plain `copier update` of the same change, in one run.

    .venv/bin/python benchmarks/bench_update.py [--runs 5]

A default project is generated at the shipped template version N and committed; N+1 is
the same template with a changed README heading, recorded in a private history bundle.
Each run resets the project to its commit and updates it, as a fresh process.
Goal: `scaffold update` at most 1.2x `copier update`.

Second table: the same update (N -> N+1) in a history of 2 releases and in one of 20
(18 synthetic releases in between that change only the changelog). Goal: the long history
costs at most 1.2x the short one: a history must not get slower to use as it grows.
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


def add_changelog_section(source: Path, version: str) -> None:
    changelog = source / "CHANGELOG.md"
    head, _, rest = changelog.read_text().partition("\n## ")
    changelog.write_text(f"{head}\n## v{version}\n\n- A benchmark release.\n\n## {rest}")


def make_history(directory: Path, padding: int = 0) -> tuple[Path, str]:
    """The shipped history, `padding` changelog-only releases, then a release NEXT whose
    README heading changed. Returns the bundle and the version just before NEXT."""
    directory.mkdir(parents=True)
    bundle = directory / "history.bundle"
    shutil.copy2(template_history.BUNDLE, bundle)
    source = directory / "source"
    source.mkdir()
    template_history.copy_template_files(ROOT, source)
    before = template_history.latest_version(bundle)
    for index in range(padding):
        before = f"50.{index}.0"
        add_changelog_section(source, before)
        template_history.record_release(source, bundle)
    readme = source / "template" / "README.md.jinja"
    readme.write_text(readme.read_text().replace("## Layout\n", "## Repository layout\n"))
    add_changelog_section(source, NEXT)
    template_history.record_release(source, bundle)
    return bundle, before


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
        os.environ[template_history.CACHE_VARIABLE] = str(Path(tmp) / "cache")
        bundle, _ = make_history(Path(tmp) / "short")
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

        long_bundle, before = make_history(Path(tmp) / "long", padding=18)
        long_env = {**os.environ, template_history.HISTORY_VARIABLE: str(long_bundle)}
        os.environ[template_history.HISTORY_VARIABLE] = str(long_bundle)
        long_project = new_project(
            Path(tmp) / "long-proj", defaults=True, template_version=before
        ).path
        del os.environ[template_history.HISTORY_VARIABLE]
        releases = len(template_history.released_versions(long_bundle))
        long = timed([str(BIN / "scaffold"), "update", "--defaults"], long_project, long_env, runs)

    print(f"median of {runs} runs each, {os.cpu_count()} CPUs\n")
    print(f"{'command':40} {'median s':>9} {'ratio':>6}  {'goal':>8}  met")
    print(f"{'copier update (baseline)':40} {copier:9.3f} {'1.00':>6}  {'-':>8}")
    ratio = scaffold / copier
    met = "yes" if ratio <= 1.2 else "NO"
    print(f"{'scaffold update':40} {scaffold:9.3f} {ratio:6.2f}  {'<= 1.20x':>8}  {met}")
    print()
    print(f"{'scaffold update, 2 releases (baseline)':40} {scaffold:9.3f} {'1.00':>6}  {'-':>8}")
    ratio = long / scaffold
    met = "yes" if ratio <= 1.2 else "NO"
    label = f"scaffold update, {releases} releases"
    print(f"{label:40} {long:9.3f} {ratio:6.2f}  {'<= 1.20x':>8}  {met}")


if __name__ == "__main__":
    main()
