"""Our hooks as users get them: published in .pre-commit-hooks.yaml, run by real pre-commit.

pre-commit clones hook repositories, and `repo:` may be a local path, so these tests work
offline: `hook_repo` is a git repository holding only what the hooks need from this
checkout (the manifest, scaffold/hooks/, scaffold/lockfile.py), tagged with the rev the
template pins. The public hook repositories of the generated config (ruff,
pre-commit-hooks, nbstripout) cannot be cloned offline, so these tests keep only ours.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from gitrepo import GitRepo, lines, write_lock
from releases import History

import scaffold
from scaffold import template_history
from scaffold.commits import check_range
from scaffold.doctor import check_hooks
from scaffold.generation import new_project
from scaffold.git import git

MANIFEST = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
HOOK_IDS = [hook["id"] for hook in MANIFEST]
COPIER = yaml.safe_load((REPO_ROOT / "copier.yml").read_text(encoding="utf-8"))
REV = COPIER["scaffold_hooks_rev"]["default"]
BIN = Path(sys.executable).parent
HOOK_FILES = [
    ".pre-commit-hooks.yaml",
    "scaffold/__init__.py",
    "scaffold/lockfile.py",
    *(
        path.relative_to(REPO_ROOT).as_posix()
        for path in sorted((REPO_ROOT / "scaffold" / "hooks").iterdir())
        if path.suffix == ".py" or path.name == "run"
    ),
]


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's hooks, alone in a git repository tagged REV, as pre-commit sees them."""
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in HOOK_FILES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, repo / name)  # keeps run's executable bit
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.org"]
    for command in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "--all"],
        [*identity, "commit", "--quiet", "-m", "feat: the hooks"],
        [*identity, "tag", REV],
    ):
        subprocess.run(["git", *command], cwd=repo, check=True, capture_output=True)
    return repo


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache for the session, so that the hook repo is cloned once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def with_pre_commit(monkeypatch: pytest.MonkeyPatch, pre_commit_home: Path) -> None:
    """pre-commit and python3 from this environment first on PATH, as in an activated venv."""
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(pre_commit_home))
    monkeypatch.delenv("SCAFFOLD_HOOKS_PYTHON", raising=False)


def our_hooks_only(project: Path, hook_repo: Path) -> dict:
    """Point the project's config at the local hook repo and drop the public repos."""
    config_path = project / ".pre-commit-config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    ours = [repo for repo in config["repos"] if repo["repo"] == template_history.PUBLIC_URL]
    config["repos"] = [{**ours[0], "repo": str(hook_repo)}]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    subprocess.run(["git", "add", config_path.name], cwd=project, check=True)  # as pre-commit asks
    return config


def pre_commit(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pre-commit"), *args], cwd=project, capture_output=True, text=True
    )


def test_the_manifest_is_valid_and_light() -> None:
    result = subprocess.run(
        [str(BIN / "pre-commit"), "validate-manifest", ".pre-commit-hooks.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for hook in MANIFEST:
        assert hook["language"] == "unsupported_script"  # installs nothing
        assert hook["minimum_pre_commit_version"] == "4.4.0"  # where that name appeared
        script, module = hook["entry"].split()
        assert script == "scaffold/hooks/run"
        assert (REPO_ROOT / "scaffold" / "hooks" / f"{module}.py").is_file()
        assert module.replace("_", "-") == hook["id"]
    assert os.access(REPO_ROOT / "scaffold" / "hooks" / "run", os.X_OK)


def test_every_hook_is_documented() -> None:
    docs = (REPO_ROOT / "docs" / "commit-hooks.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## `([\w-]+)`", docs, re.MULTILINE)
    assert set(HOOK_IDS) <= set(headings), set(HOOK_IDS) - set(headings)
    assert REV in docs or "scaffold_hooks_rev" in docs


def test_the_documented_config_installs_every_stage_its_hooks_run_at() -> None:
    """`pre-commit install` installs only the pre-commit stage unless the config says more:
    a snippet without commit-msg in its install types would never check a message."""
    docs = (REPO_ROOT / "docs" / "commit-hooks.md").read_text(encoding="utf-8")
    stages = {hook["id"]: set(hook["stages"]) for hook in MANIFEST}
    snippets = [
        yaml.safe_load(block)
        for block in re.findall(r"```yaml\n(.*?)```", docs, re.DOTALL)
        if "repos:" in block
    ]
    assert snippets
    for config in snippets:
        ids = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
        needed = set().union(*(stages[hook_id] for hook_id in ids))
        assert needed <= set(config.get("default_install_hook_types", ["pre-commit"]))


def test_the_rev_names_a_scaffold_release() -> None:
    assert re.fullmatch(r"scaffold-v\d+\.\d+\.\d+", REV)


def test_the_pinned_rev_holds_the_hooks_of_this_checkout() -> None:
    """Generated repos run the hooks as the commit that REV names holds them: one that
    changes after it reaches no repo, and the docs describe rules no one runs."""
    rev, commit = template_history.hooks_release(REPO_ROOT)
    assert rev == REV and scaffold.__version__ == REV.removeprefix("scaffold-v")
    assert commit, f"no commit of this history sets __version__ to {scaffold.__version__}"
    changed = git("diff", "--name-only", commit, "--", *HOOK_FILES, cwd=REPO_ROOT)
    assert not changed, (
        f"the hooks changed since {REV} ({commit[:12]}): {changed.split()}. Release them:"
        " bump __version__, move scaffold_hooks_rev to it, release the template"
        " (docs/commit-hooks.md, The pinned rev)."
    )


@pytest.fixture
def repo(tmp_path: Path, hook_repo: Path, with_pre_commit: None) -> GitRepo:
    """A repo whose pre-commit config holds our hooks, installed as `scaffold new` does."""
    repo = GitRepo(tmp_path / "repo")
    config = {
        "default_install_hook_types": ["pre-commit", "commit-msg"],
        "repos": [{"repo": str(hook_repo), "rev": REV, "hooks": [{"id": id} for id in HOOK_IDS]}],
    }
    repo.write(".pre-commit-config.yaml", yaml.safe_dump(config, sort_keys=False))
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.11.*\n")
    repo.write("src/demo/model.py", lines(20))
    repo.commit("chore: start")
    installed = pre_commit(repo.path, "install")
    assert installed.returncode == 0, installed.stderr
    return repo


def test_doctor_says_when_the_hook_repos_are_not_fetched_yet(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "empty-store"))
    before = check_hooks(repo.path)
    assert not before.ok and f"@{REV} yet" in before.message, before.message
    fetched = pre_commit(repo.path, "install-hooks")
    assert fetched.returncode == 0, fetched.stderr
    after = check_hooks(repo.path)
    assert after.ok, after.message


def commit(
    repo: GitRepo, message: str, *extra: str, env: dict | None = None, stage: bool = True
) -> subprocess.CompletedProcess[str]:
    """`git commit` through the installed hooks; git sends their output to stderr: merged."""
    if stage:
        repo.stage()
    return subprocess.run(
        ["git", "commit", "-m", message, *extra],
        cwd=repo.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_commits_are_judged_on_the_way_in(repo: GitRepo) -> None:
    repo.write("src/demo/model.py", lines(30))
    refused = commit(repo, "wip")
    assert refused.returncode == 1
    assert "'wip' is not a Conventional Commit subject" in refused.stdout
    assert commit(repo, "feat(model): add ten layers").returncode == 0

    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.12.*\n")
    repo.write("src/demo/model.py", lines(31))
    mixed = commit(repo, "build: move to python 3.12")
    assert mixed.returncode == 1 and "atomic commit" in mixed.stdout
    assert "git restore --staged -- src/demo/model.py" in mixed.stdout

    repo.git("restore", "--staged", "--", "src/demo/model.py")
    alone = commit(repo, "build: move to python 3.12", stage=False)
    assert alone.returncode == 0, alone.stdout


def test_large_commits_and_artifacts(repo: GitRepo) -> None:
    repo.write("vendor/library.py", lines(2000))
    large = commit(repo, "feat: vendor the metrics library")
    assert large.returncode == 1 and "SKIP=atomic-commit git commit" in large.stdout
    skipped = commit(repo, "feat: vendor the metrics library", env={"SKIP": "atomic-commit"})
    assert skipped.returncode == 0, skipped.stdout

    repo.write("best model.ckpt", b"\x80\x02weights")
    artifact = commit(repo, "feat: keep the best model")
    assert artifact.returncode == 1
    assert "best model.ckpt: a checkpoint or model weights" in artifact.stdout


def test_an_amend_through_pre_commit_sees_the_whole_commit(repo: GitRepo) -> None:
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.12.*\n")
    assert commit(repo, "build: move to python 3.12").returncode == 0
    repo.write("src/demo/model.py", lines(21))
    amended = commit(repo, "build: move to python 3.12", "--amend")
    assert amended.returncode == 1 and "are mixed with other changes" in amended.stdout


def test_a_template_update_passes_and_deleting_the_lock_is_refused(repo: GitRepo) -> None:
    """As pre-commit runs the hooks: with python3 -S (no PyYAML), and with the files a
    commit deletes passed to no hook."""
    environment = "name: demo\nplatforms:\n  - linux-64\ndependencies:\n  - python 3.11.*\n"
    repo.write("environment.yml", environment)
    write_lock(repo.path, ["linux-64"])
    repo.write(".copier-answers.yml", "# Written by copier\n_commit: v0.3.0\n")
    pinned = commit(repo, "build: pin the environment")
    assert pinned.returncode == 0, pinned.stdout

    repo.write(".copier-answers.yml", "# Written by copier\n_commit: v0.4.0\n")
    repo.write("src/demo/model.py", lines(900))
    update = commit(repo, "chore: update the template to v0.4.0")
    assert update.returncode == 0, update.stdout

    repo.git("rm", "--quiet", "conda-lock.yml")
    deleted = commit(repo, "build: drop the lock", stage=False)
    assert deleted.returncode == 1 and "conda-lock.yml: deleted" in deleted.stdout


@pytest.fixture(scope="session")
def working_tree_history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """The shipped history plus this checkout's template, released as 99.0.0."""
    history = History(tmp_path_factory.mktemp("hooks-history"))
    history.release("99.0.0")
    return history


def test_a_new_project_passes_every_hook_from_its_first_commit(
    tmp_path: Path,
    hook_repo: Path,
    with_pre_commit: None,
    working_tree_history: History,
    channel: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(template_history.HISTORY_VARIABLE, str(working_tree_history.bundle))
    made = new_project(tmp_path / "demo", defaults=True, channels=[channel])
    project = made.path
    assert made.hooks is not None and made.hooks.installed, made.hooks
    assert (project / "conda-lock.yml").is_file()  # so lock-fresh has a lock to judge
    for hook_type in ("pre-commit", "commit-msg"):
        shim = (project / ".git" / "hooks" / hook_type).read_text(encoding="utf-8")
        assert "File generated by pre-commit" in shim and str(tmp_path) not in shim

    # The first commit, by the rules of check-commits (which CI runs on pull requests).
    report = check_range(project, "HEAD")
    assert (report.commits, report.violations) == (1, [])

    # And by pre-commit itself, on every file, and on the first commit's message.
    our_hooks_only(project, hook_repo)
    result = pre_commit(project, "run", "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("Passed") == len(HOOK_IDS) - 1  # commit-msg: another stage
    message = project / ".git" / "FIRST_MSG"
    message.write_text(
        subprocess.check_output(["git", "log", "--format=%B"], cwd=project, text=True)
    )
    result = pre_commit(
        project, "run", "--hook-stage", "commit-msg", "--commit-msg-filename", str(message)
    )
    assert result.returncode == 0, result.stdout + result.stderr

    # A hook that names no stage of its own, as pre-commit-hooks' check-merge-conflict did,
    # checks files, not the message: a message may underline a heading with =======.
    config_path = project / ".pre-commit-config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    markers = {"id": "markers", "name": "markers", "language": "pygrep", "entry": "^=======$"}
    config["repos"].append({"repo": "local", "hooks": [markers]})
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    subprocess.run(["git", "add", config_path.name], cwd=project, check=True)
    message.write_text("docs: explain the results\n\nResults\n=======\n\nAccuracy rose.\n")
    result = pre_commit(
        project, "run", "--hook-stage", "commit-msg", "--commit-msg-filename", str(message)
    )
    assert result.returncode == 0, result.stdout + result.stderr
