"""The hooks import only the standard library and scaffold's stdlib-only modules.

That is what lets pre-commit run them from its clone of this repository with whatever
python3 is on PATH, installing nothing: each hook runs here as pre-commit runs it, through
scaffold/hooks/run, with Python reporting every module it imports (-X importtime).
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gitrepo import HOOK_ENV, RUN, GitRepo

HOOKS = {
    "atomic_commit": [],
    "commit_msg": [".git/COMMIT_EDITMSG"],
    "lock_fresh": [],
    "no_artifacts": ["src/model.py", "environment.yml"],
}
SCAFFOLD_ALLOWED = {"scaffold", "scaffold.hooks", "scaffold.lockfile"}
HEAVY = {"copier", "yaml", "rattler", "typer", "click", "rich", "jinja2", "plumbum"}


def imported_modules(stderr: str) -> set[str]:
    """Module names from -X importtime's report ("import time: self | cumulative | name")."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and not line.endswith("imported package")
    }


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_a_hook_imports_nothing_heavy(tmp_path: Path, hook: str) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write(".copier-answers.yml", "# Written by copier\n_commit: v0.3.0\n")
    repo.commit("chore: adopt the template")
    # Not the first commit (which no rule reads): every file a hook may read is staged.
    repo.write(".copier-answers.yml", "# Written by copier\n_commit: v0.4.0\n")
    repo.write("environment.yml", "name: demo\n")
    repo.write("src/model.py", "x = 1\n")
    repo.write("pyproject.toml", "[tool.scaffold.hooks]\nmax-lines = 100\n")
    repo.write(".git/COMMIT_EDITMSG", "feat: add the model\n")
    repo.stage()
    result = subprocess.run(
        [str(RUN), hook, *HOOKS[hook]],
        cwd=repo.path,
        env={**os.environ, **HOOK_ENV, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    modules = imported_modules(result.stderr)
    assert "scaffold.hooks.report" in modules  # the report is real (-m runs HOOK as __main__)
    ours = {name for name in modules if name.split(".")[0] == "scaffold"}
    assert all(name in SCAFFOLD_ALLOWED or name.startswith("scaffold.hooks.") for name in ours)
    foreign = {name.split(".")[0] for name in modules} - set(sys.stdlib_module_names)
    # -X importtime also lists imports that failed, like `copy`'s try of Jython's `org`
    foreign = {name for name in foreign if importlib.util.find_spec(name) is not None}
    assert foreign == {"scaffold"}, foreign
    assert not HEAVY & {name.split(".")[0] for name in modules}


def test_the_runner_ignores_site_packages_and_the_current_folder(tmp_path: Path) -> None:
    """A project's own modules (say a tomllib.py at its top) must not shadow the stdlib."""
    repo = GitRepo(tmp_path / "repo")
    repo.write("tomllib.py", "raise SystemExit('the project shadowed the standard library')\n")
    repo.write("scaffold/__init__.py", "raise SystemExit('the project shadowed scaffold')\n")
    repo.write("pyproject.toml", "[tool.scaffold.hooks]\n")
    repo.stage("pyproject.toml")
    result = subprocess.run(
        [str(RUN), "atomic_commit"],
        cwd=repo.path,
        env={**os.environ, **HOOK_ENV},
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stderr) == (0, "")
