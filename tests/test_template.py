"""Every value of every choice question renders a project whose files all parse and lint.

In the style of cookiecutter-data-science's own tests: the option space is covered
pairwise (every pair of values of any two questions appears in some rendered project),
each project is parsed with the real parsers, and ruff checks all of them at once.
"""

import itertools
import keyword
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from checks import BINARY_SUFFIXES, parse_all, render
from conftest import REPO_ROOT

QUESTIONS = yaml.safe_load((REPO_ROOT / "copier.yml").read_text(encoding="utf-8"))


def choice_values(name: str) -> list[Any]:
    if QUESTIONS[name].get("type") == "bool":
        return [False, True]
    choices = QUESTIONS[name]["choices"]
    values = list(choices.values()) if isinstance(choices, dict) else list(choices)
    if QUESTIONS[name].get("multiselect"):
        return [[value] for value in values] + [values]
    return values


CHOICE_QUESTIONS = {
    name: choice_values(name)
    for name, spec in QUESTIONS.items()
    if isinstance(spec, dict) and ("choices" in spec or spec.get("type") == "bool")
}


def pairwise(options: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """A small set of combinations holding every pair of values of every two questions.

    Greedy: repeatedly take the full combination that covers the most uncovered pairs.
    Deterministic, so failures reproduce.
    """
    names = list(options)
    index = {name: range(len(values)) for name, values in options.items()}
    uncovered = {
        (a, i, b, j)
        for a, b in itertools.combinations(names, 2)
        for i in index[a]
        for j in index[b]
    }
    rows = []
    while uncovered:
        best = max(
            itertools.product(*index.values()),
            key=lambda row: sum(
                (a, row[names.index(a)], b, row[names.index(b)]) in uncovered
                for a, b in itertools.combinations(names, 2)
            ),
        )
        for a, b in itertools.combinations(names, 2):
            uncovered.discard((a, best[names.index(a)], b, best[names.index(b)]))
        rows.append({name: options[name][best[k]] for k, name in enumerate(names)})
    return rows


COMBINATIONS = pairwise(CHOICE_QUESTIONS)


def test_pairwise_covers_every_value() -> None:
    for name, values in CHOICE_QUESTIONS.items():
        for value in values:
            assert any(row[name] == value for row in COMBINATIONS), (name, value)
    assert len(COMBINATIONS) < 40


@pytest.fixture(scope="module")
def rendered(
    template_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[dict, Path]]:
    root = tmp_path_factory.mktemp("matrix")
    projects = []
    for number, combination in enumerate(COMBINATIONS):
        data = {**combination, "project_name": f"Matrix {number}"}
        projects.append((combination, render(template_dir, root / f"p{number}", data)))
    # The longest and shortest package names, with each tracker (whose code names the
    # package) and every launcher: generated lines must fit ruff's limits, and its format.
    for package in ("p" * 50, "pk"):
        for tracker in CHOICE_QUESTIONS["tracker"]:
            combination = {**COMBINATIONS[0], "tracker": tracker, "ci": "github"}
            combination["launchers"] = CHOICE_QUESTIONS["launchers"][-1]  # all of them
            data = {**combination, "project_name": package, "package_name": package}
            path = render(template_dir, root / f"{package}-{tracker}", data)
            projects.append((combination, path))
    return projects


def test_every_file_parses(rendered: list[tuple[dict, Path]]) -> None:
    for combination, project in rendered:
        parsed = parse_all(project)
        pyproject = parsed["pyproject.toml"]
        assert pyproject["project"]["requires-python"] == f">={combination['python_version']}"
        environment = parsed["environment.yml"]
        assert environment["platforms"] == combination["platforms"]
        assert f"python {combination['python_version']}.*" in environment["dependencies"]


def test_no_file_keeps_a_placeholder_for_the_package(rendered: list[tuple[dict, Path]]) -> None:
    """Comments and docstrings name the project's own package, as its user types it."""
    placeholder = re.compile(r'(?<!")<(package|pkg)>(?!")', re.IGNORECASE)  # (a test may quote it)
    for _, project in rendered:
        for path in project.rglob("*"):
            if path.is_file() and path.suffix not in BINARY_SUFFIXES and ".git" not in path.parts:
                text = path.read_text(encoding="utf-8", errors="replace")
                assert not placeholder.search(text), path


def test_answers_drive_dependent_files(rendered: list[tuple[dict, Path]]) -> None:
    for combination, project in rendered:
        environment = yaml.safe_load((project / "environment.yml").read_text(encoding="utf-8"))
        pins = " ".join(environment["dependencies"])
        cuda = combination["cuda_version"]
        virtual = (project / "virtual-packages.yml").read_text(encoding="utf-8")
        dev = " ".join(
            yaml.safe_load((project / "environment-dev.yml").read_text())["dependencies"]
        )
        if cuda == "none":
            assert "cuda" not in pins and "__cuda" not in virtual and "cuda" not in dev
        else:
            assert f"cuda-version {cuda}.*" in pins
            assert yaml.safe_load(virtual)["subdirs"].keys() == set(combination["platforms"])
            for platform, spec in yaml.safe_load(virtual)["subdirs"].items():
                has_cuda = spec["packages"].get("__cuda") == cuda
                assert has_cuda == platform.startswith("linux"), (platform, spec)
            toolchain = f"cuda-nvcc {cuda}.*" in dev
            assert toolchain == combination["cuda_toolchain"]
        readme = (project / "README.md").read_text(encoding="utf-8")
        assert "--file conda-lock.yml" in readme
        assert (f"CUDA {cuda}" in readme) == (cuda != "none")
        dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"][
            "dependencies"
        ]
        assert any(dep.startswith(combination["tracker"]) for dep in dependencies)
        workflow = project / ".github" / "workflows" / "ci.yml"
        assert workflow.exists() == (combination["ci"] == "github")
        assert not (project / ".github").exists() or combination["ci"] == "github"
        for launcher, files in {
            "slurm": {"common.sh", "smoke.sbatch", "submit.sh", "sweep.sbatch", "train.sbatch"},
            "kubernetes": {"submit.sh", "train.yaml"},
        }.items():
            chosen = launcher in combination["launchers"]
            folder = project / launcher
            assert {path.name for path in folder.glob("*")} == (files if chosen else set())
            assert (f"### {launcher.capitalize()}" in readme) == chosen
            assert (f"| `{launcher}/` |" in readme) == chosen
        gitignore = (project / ".gitignore").read_text(encoding="utf-8")
        assert ("/.snapshots/" in gitignore) == ("slurm" in combination["launchers"])
        licence = (project / "LICENSE").read_text(encoding="utf-8")
        expected = {
            "MIT": "MIT License",
            "Apache-2.0": "Apache License",
            "BSD-3-Clause": "BSD 3-Clause",
            "Proprietary": "All rights reserved",
        }[combination["license"]]
        assert expected in licence


def test_launchers_give_torchrun_time_to_checkpoint_after_sigterm(
    rendered: list[tuple[dict, Path]],
) -> None:
    """torchrun kills its processes some seconds after SIGTERM (30 by default): they must be
    fewer than the scheduler gives the job before it kills it, or a large checkpoint is
    lost mid-write; and more than torchrun's default."""
    for combination, project in rendered:
        if "slurm" in combination["launchers"]:
            common = (project / "slurm" / "common.sh").read_text(encoding="utf-8")
            wait = int(re.search(r"TORCH_ELASTIC_SHUTDOWN_TIMEOUT:-(\d+)", common).group(1))
            for script in ("train.sbatch", "sweep.sbatch"):
                text = (project / "slurm" / script).read_text(encoding="utf-8")
                lead = int(re.search(r"--signal=B:TERM@(\d+)", text).group(1))
                assert 30 < wait < lead, (script, wait, lead)
        if "kubernetes" in combination["launchers"]:
            listing = yaml.safe_load((project / "kubernetes" / "train.yaml").read_text())
            (job,) = [item for item in listing["items"] if item["kind"] == "Job"]
            pod = job["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            env = {item["name"]: item.get("value") for item in container["env"]}
            wait = int(env["TORCH_ELASTIC_SHUTDOWN_TIMEOUT"])
            assert 30 < wait < pod["terminationGracePeriodSeconds"]


def test_ruff_passes_on_every_project(rendered: list[tuple[dict, Path]]) -> None:
    root = rendered[0][1].parent
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "."], cwd=root, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_reserved_names_cover_the_standard_library_and_keywords() -> None:
    reserved = set(QUESTIONS["reserved_package_names"]["default"].split())
    stdlib = {name.lower() for name in sys.stdlib_module_names if not name.startswith("_")}
    assert stdlib <= reserved, sorted(stdlib - reserved)
    assert {word for word in keyword.kwlist if word.islower()} <= reserved


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"package_name": "os"}, "standard library"),
        ({"package_name": "torch"}, "dependencies"),
        ({"package_name": "class"}, "keyword"),
        ({"package_name": "My-Project"}, "lowercase"),
        ({"package_name": "1abc"}, "start with a lowercase letter"),
        ({"project_name": "  "}, "must not be empty"),
        ({"description": "two\nlines"}, "single line"),
        ({"author_name": "bad byte \udcff"}, "printable text"),
        ({"author_email": "not-an-address"}, "not an e-mail address"),
        ({"platforms": []}, "at least one platform"),
        ({"python_version": "2.7"}, "2.7"),
    ],
)
def test_bad_answers_are_refused(
    template_dir: Path, tmp_path: Path, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        render(template_dir, tmp_path / "bad", {"project_name": "ok", **data})


@pytest.mark.parametrize(
    ("project_name", "package_name"),
    [
        ("My Project", "my_project"),
        ("Deep-Learning: v2!", "deep_learning_v2"),
        ("3D Vision", "d_vision"),
        ("Test", "test_project"),
        ("Ünïcode 🚀", "unicode"),
        ("Çà Prøject Łódź Straße", "ca_project_lodz_strasse"),
        ("Модель", "project"),
        ("🚀", "project"),
    ],
)
def test_package_name_is_derived_valid(
    template_dir: Path, tmp_path: Path, project_name: str, package_name: str
) -> None:
    project = render(template_dir, tmp_path / "p", {"project_name": project_name})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["package_name"] == package_name
    assert (project / "src" / package_name / "cli.py").is_file()


def test_ci_workflow_is_valid_and_checks_every_commit(rendered: list[tuple[dict, Path]]) -> None:
    """The generated CI validates against GitHub's published workflow schema (vendored by
    check-jsonschema, offline), runs pre-commit on all files, and check-commits over the
    pull request's range with the history fetched."""
    workflows = {
        project / ".github" / "workflows" / "ci.yml": combination
        for combination, project in rendered
        if combination["ci"] == "github"
    }
    schema = ["--builtin-schema", "vendor.github-workflows"]
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *schema, *map(str, workflows)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for workflow, combination in workflows.items():
        jobs = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"]
        runs = {
            name: "\n".join(step.get("run", "") for step in job["steps"])
            for name, job in jobs.items()
        }
        # The image is built on the runner's platform, linux-64: without it the lock has no
        # packages for the image, and the job could only fail.
        image = "linux-64" in combination["platforms"]
        assert set(jobs) == {"test", "pre-commit", "commits"} | ({"image"} if image else set())
        if image:
            assert "docker build" in runs["image"] and "smoke" in runs["image"]
            assert "TEMPLATE_VERSION=" in runs["image"]  # as `scaffold image build` labels it
        assert "pre-commit run --all-files" in runs["pre-commit"]
        commits = jobs["commits"]
        assert commits["if"] == "github.event_name == 'pull_request'"
        checkout = commits["steps"][0]
        assert checkout["uses"].startswith("actions/checkout@")
        assert checkout["with"]["fetch-depth"] == 0
        assert 'scaffold check-commits "$base..$head"' in runs["commits"]
        assert ".pull_request.base.sha" in runs["commits"]
        config = yaml.safe_load((workflow.parents[2] / ".pre-commit-config.yaml").read_text())
        rev = next(repo["rev"] for repo in config["repos"] if "scaffold-ml" in repo["repo"])
        assert f"scaffold.git@{rev}'" in runs["commits"]  # the same rules as the hooks
        assert f"scaffold.git@{rev}'" in runs["test"] and "lock --check" in runs["test"]


def test_pre_commit_config_wires_our_hooks_and_the_basics(
    rendered: list[tuple[dict, Path]],
) -> None:
    manifest = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    configs = [project / ".pre-commit-config.yaml" for _, project in rendered]
    assert len({path.read_text(encoding="utf-8") for path in configs}) == 1  # no answer in it
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", str(configs[0])],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(configs[0].read_text(encoding="utf-8"))
    assert config["default_install_hook_types"] == ["pre-commit", "commit-msg"]
    assert config["default_stages"] == ["pre-commit"]  # file checks skip the message
    repos = {repo["repo"]: repo for repo in config["repos"]}
    ours = repos["https://github.com/scaffold-ml/scaffold.git"]
    assert ours["rev"] == QUESTIONS["scaffold_hooks_rev"]["default"]
    assert [hook["id"] for hook in ours["hooks"]] == [hook["id"] for hook in manifest]
    basics = {hook["id"]: hook for hook in repos[PRE_COMMIT_HOOKS]["hooks"]}
    assert {"check-yaml", "end-of-file-fixer", "trailing-whitespace"} <= set(basics)
    # no-artifacts names large files and conflict markers (which update leaves without a
    # MERGE_HEAD), once
    assert not {"check-added-large-files", "check-merge-conflict"} & set(basics)
    assert {"https://github.com/astral-sh/ruff-pre-commit", NBSTRIPOUT} <= set(repos)


PRE_COMMIT_HOOKS = "https://github.com/pre-commit/pre-commit-hooks"
NBSTRIPOUT = "https://github.com/kynan/nbstripout"


def test_generated_files_pass_the_basic_public_hooks(
    rendered: list[tuple[dict, Path]], tmp_path: Path
) -> None:
    """pre-commit-hooks' checks, run from its PyPI package (its repo cannot be cloned
    offline), on copies of the projects: a first commit must pass them as generated."""
    files = []
    for number, (_, project) in enumerate(rendered):
        copy = tmp_path / str(number)
        shutil.copytree(project, copy)
        subprocess.run(["git", "init", "--quiet"], cwd=copy, check=True)
        subprocess.run(["git", "add", "--all"], cwd=copy, check=True)  # what the commit holds
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=copy, capture_output=True, text=True, check=True
        )
        files += [f"{number}/{name}" for name in listed.stdout.split("\0") if name]
    text = [name for name in files if Path(name).suffix not in BINARY_SUFFIXES]
    for hook, args, targets in (
        ("end_of_file_fixer", [], text),
        ("trailing_whitespace_fixer", [], text),
        ("check_yaml", [], [name for name in text if name.endswith((".yml", ".yaml"))]),
    ):
        result = subprocess.run(
            [sys.executable, "-m", f"pre_commit_hooks.{hook}", *args, *targets],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{hook}: {result.stdout}"


def test_the_generated_dependency_check_sees_the_pip_section(
    rendered: list[tuple[dict, Path]], tmp_path: Path
) -> None:
    """A PyPI-only package added to environment.yml's `pip:` alone fails the generated
    project's own test, as one added to its conda list alone does."""
    project = tmp_path / "project"
    shutil.copytree(rendered[0][1], project)

    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    # --noconftest: the conftest imports the package, which is not installed here
    command += ["--noconftest", "tests/test_environment.py", "-k", "runtime"]

    def dependency_test() -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=project, capture_output=True, text=True)

    environment = project / "environment.yml"
    with environment.open("a", encoding="utf-8") as stream:  # pip's options name no package
        stream.write("  - pip:\n      - --extra-index-url https://download.pytorch.org/whl/cpu\n")
    assert dependency_test().returncode == 0, dependency_test().stdout
    with environment.open("a", encoding="utf-8") as stream:
        stream.write("      - einops>=0.8\n")
    failed = dependency_test()
    assert failed.returncode == 1 and "list other packages" in failed.stdout, failed.stdout
