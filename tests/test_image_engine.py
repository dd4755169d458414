"""The generated Dockerfile, built, run and pushed by `scaffold image` on a real engine.

podman's Docker-compatible API service and a loopback registry (tests/engine.py) stand in
for Docker and a remote registry. Two stand-ins, and only these, because nothing here can
reach an image registry or conda-forge:

- the micromamba stages (`env`, `dev`) are replaced, in a commit of the generated repo, by
  images holding the same packages (the lock's main category, by their PyPI names, plus
  what they require; `dev` adds pytest and ruff) copied from this machine's environment,
  on Debian's python3 instead of conda-forge's;
- the runtime stage's pinned Debian base is a local debootstrap of the same release, with
  python3 in it because the stand-in environment's interpreter is Debian's.

Everything else is the generated Dockerfile as it is: the build stage's package install,
the runtime stage, .dockerignore, labels, user, entrypoint; and scaffold's own code: tag
from the commit, build args, mounts, the image's tag and digest in the run manifest, push.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT
from engine import BASE_IMAGE, Engine, closure, free_port, missing, standin_image, started
from gitrepo import GitRepo

from scaffold import images
from scaffold.doctor import check_image
from scaffold.errors import ImageError
from scaffold.generation import new_project
from scaffold.lockfile import read_lock
from scaffold.pip_solve import CONDA_TO_PYPI

pytestmark = [pytest.mark.engine, pytest.mark.skipif(bool(missing()), reason=missing() or "")]
PACKAGE = "imaged"


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with started() as running:
        previous = os.environ.get("DOCKER_HOST")
        os.environ["DOCKER_HOST"] = running.docker_host
        try:
            yield running
        finally:
            if previous is None:
                del os.environ["DOCKER_HOST"]
            else:
                os.environ["DOCKER_HOST"] = previous


def stand_in(engine: Engine, project: Path) -> None:
    """Replace the micromamba stages and the Debian base as the module docstring says."""
    lock = read_lock(project / "conda-lock.yml")
    main = [
        CONDA_TO_PYPI.get(p["name"], p["name"])
        for p in lock["package"]
        if p["platform"] == "linux-64" and p["category"] == "main"
    ]
    env = standin_image(engine, "env", closure(main))
    dev = standin_image(engine, "dev", closure([*main, "pytest", "ruff"]))
    dockerfile = project / "Dockerfile"
    text = dockerfile.read_text(encoding="utf-8")
    micromamba = re.search(r"^FROM \S+ AS env$.*?(?=^FROM env AS build$)", text, re.M | re.S)
    assert micromamba, "the Dockerfile's env and dev stages moved"
    replacement = (
        "# Test stand-in for the micromamba stages (tests/test_image_engine.py).\n"
        f"FROM {env} AS env\n\nFROM {dev} AS dev\n\n"
    )
    dockerfile.write_text(text.replace(micromamba.group(0), replacement), encoding="utf-8")
    runtime_base = re.search(r"^FROM (\S+) AS runtime$", text, re.M).group(1)
    engine.podman("tag", BASE_IMAGE, runtime_base)


@pytest.fixture(scope="module")
def project(
    engine: Engine, channel: str, template_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("imaged")
    data = {"project_name": "Imaged", "package_name": PACKAGE, "cuda_version": "none"}
    path = new_project(
        root / PACKAGE, data=data, defaults=True, template=str(template_dir), channels=[channel]
    ).path
    assert (path / "conda-lock.yml").is_file()
    repo = GitRepo(path)  # git init again is harmless; it gives the test's helpers
    stand_in(engine, path)
    repo.commit("test: stand in for the micromamba stages")
    # Ignored by git, so the tree stays clean; .dockerignore must keep them out of the image.
    for name in ("data/raw/big.bin", "runs/old/model.pt", ".venv/bin/python"):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(b"x" * 1000)
    yield path
    # This project's images alone (tagged with its commits): podman's store is the machine's,
    # and another test process may be testing images of its own project of the same name.
    commits = {commit[:12] for commit in repo.git("rev-list", "--all").stdout.split()}
    names = engine.podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    ours = [
        name
        for name in names
        if name.split(":")[-2].endswith(f"/{PACKAGE}") and name.rsplit(":", 1)[1][:12] in commits
    ]
    engine.podman("rmi", "--force", *ours, check=False)


@pytest.fixture(scope="module")
def built(project: Path) -> dict[str, Any]:
    lines: list[str] = []
    start = time.monotonic()
    tag, image_id = images.build(project, echo=lines.append)
    return {"tag": tag, "id": image_id, "seconds": time.monotonic() - start, "output": lines}


def inspect(image: str) -> dict[str, Any]:
    return images.client().images.get(image).attrs


def test_build_tags_the_commit_and_labels_the_sources(project: Path, built: dict) -> None:
    commit = _repo(project).git("rev-parse", "HEAD").stdout.strip()
    assert built["tag"] == f"{PACKAGE}:{commit[:12]}"
    assert any("COPY" in line or "STEP" in line for line in built["output"]), "no build output"
    config = inspect(built["tag"])["Config"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.revision"] == commit
    lock = hashlib.sha256((project / "conda-lock.yml").read_bytes()).hexdigest()
    assert labels["org.scaffold-ml.lock-sha256"] == lock
    version = images.answers(project).get("_commit", "")  # none from a working-tree template
    assert labels["org.scaffold-ml.template-version"] == version.removeprefix("v")
    assert config["User"] == "1000:1000"
    assert config["Entrypoint"] == [PACKAGE]
    print(f"\nbuild: {built['seconds']:.1f} s, size {inspect(built['tag'])['Size'] / 1e6:.0f} MB")


def test_context_leaves_out_data_runs_venvs_and_git(built: dict) -> None:
    listing = _run_shell(built["tag"], "ls -A /app /app/data /app/runs")
    assert "configs" in listing and "src" in listing
    for absent in (".git", ".venv", "big.bin", "old", "raw"):
        assert absent not in listing.split(), listing


def test_runtime_stage_has_no_compilers_or_micromamba(built: dict) -> None:
    found = _run_shell(
        built["tag"], "for t in gcc cc g++ nvcc micromamba apt-get; do command -v $t; done; :"
    )
    assert found.split() == ["/usr/bin/apt-get"], found


def test_smoke_loop_runs_in_the_container_with_results_on_the_host(
    project: Path, built: dict
) -> None:
    lines: list[str] = []
    start = time.monotonic()
    status = images.run(project, ["smoke"], echo=lines.append)
    output = "\n".join(lines)
    assert status == 0, output
    manifests = [p for p in (project / "runs").glob("*/manifest.json") if "smoke" in p.parent.name]
    assert len(manifests) == 1, output
    attempt = json.loads(manifests[0].read_text())["attempts"][-1]
    assert attempt["status"] == "completed"
    image = attempt["environment"]["image"]
    assert image["tag"] == built["tag"]
    assert image["digest"] == images.digest(images.client().images.get(built["tag"]))
    assert image["digest"].startswith("sha256:")
    assert (
        attempt["git"]["commit"]
        == inspect(built["tag"])["Config"]["Labels"]["org.opencontainers.image.revision"]
    )
    assert (project / "runs" / "smoke-predictions.csv").is_file()
    assert (project / "data" / "smoke").is_dir()
    print(f"\nsmoke in the container: {time.monotonic() - start:.1f} s")


def test_a_code_change_rebuilds_only_the_last_layers(project: Path, built: dict) -> None:
    repo = _repo(project)
    cli = project / "src" / PACKAGE / "cli.py"
    cli.write_text(cli.read_text() + "\n# a change\n")
    repo.commit("fix: change the code")
    behind = check_image(project)
    assert not behind.ok and "behind HEAD" in behind.message
    start = time.monotonic()
    tag, _ = images.build(project, echo=lambda line: None)
    seconds = time.monotonic() - start
    before, after = (inspect(t)["RootFS"]["Layers"] for t in (built["tag"], tag))
    shared = next(i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b)
    env_layer = len(before) - 3  # the environment: below the package, code and label layers
    assert shared >= env_layer, (shared, len(before))  # the cache kept the environment
    assert check_image(project).ok
    print(f"\nrebuild after a code change: {seconds:.1f} s, {len(after) - shared} new layers")


def test_the_doctor_judges_a_repo_by_its_own_images(built: dict, tmp_path: Path) -> None:
    """Another repo whose package has the same name has no image yet, whatever this has."""
    other = GitRepo(tmp_path / "other")
    other.write("Dockerfile", "FROM scratch\n")
    other.write(".copier-answers.yml", f"package_name: {PACKAGE}\n")
    other.commit("feat: start")
    finding = check_image(other.path)
    assert finding.ok and "no image of this repo built yet" in finding.message, finding.message


def test_push_to_a_registry_and_pull_it_back(engine: Engine, project: Path, built: dict) -> None:
    reference = images.push(project, engine.registry, echo=lambda line: None)
    named, _, digest = reference.partition("@")
    repository, _, tag = named.rpartition(":")
    assert repository == f"{engine.registry}/{PACKAGE}"
    client = images.client()
    client.images.remove(f"{repository}:{tag}")
    pulled = client.images.pull(repository, tag=tag)
    assert digest.startswith("sha256:")
    assert pulled.id == images.client().images.get(f"{PACKAGE}:{tag}").id


def test_a_failed_push_leaves_no_tag_of_that_registry(project: Path, built: dict) -> None:
    """A `REGISTRY/name:tag` left behind would claim a push that did not happen."""
    nowhere = f"127.0.0.1:{free_port()}"  # no registry listens there
    with pytest.raises(ImageError, match="failed"):
        images.push(project, nowhere, echo=lambda line: None)
    tag = images.source(project).tag
    assert not [t for t in images.client().images.get(tag).tags if t.startswith(nowhere)]


def test_sigterm_during_run_removes_the_container(
    engine: Engine, project: Path, built: dict
) -> None:
    """`kill` (or a cancelled CI job) stops `image run` as Ctrl-C does: exit 143, and the
    container is removed, not left running."""
    image = images.client().images.get(images.source(project).tag).id
    run = [sys.executable, "-m", "scaffold", "image", "run", "--repo", str(project), "--", "smoke"]
    process = subprocess.Popen(
        run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT
    )

    def containers() -> list[str]:
        listed = images.client().containers.list(all=True)
        return [container.id for container in listed if container.image.id == image]

    deadline = time.monotonic() + 120
    while not containers() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert containers(), process.communicate()[0] if process.poll() is not None else "none"
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 143 and "interrupted." in output, output
    assert containers() == []


def _repo(path: Path) -> GitRepo:
    return GitRepo(path)


def _run_shell(image: str, script: str) -> str:
    output = images.client().containers.run(
        image, ["-c", script], entrypoint=["/bin/sh"], remove=True
    )
    return output.decode()


def test_a_lock_without_the_images_platform_is_refused_before_the_build(
    engine: Engine, channel: str, template_dir: Path, tmp_path: Path
) -> None:
    """A project for Apple silicon alone: micromamba would fail minutes into the build."""
    data = {"project_name": "Mac only", "package_name": "maconly", "platforms": "osx-arm64"}
    path = new_project(
        tmp_path / "maconly",
        data=data,
        defaults=True,
        template=str(template_dir),
        channels=[channel],
    ).path
    platform = images.ENGINE_PLATFORMS[images.client().version()["Arch"]]
    with pytest.raises(images.ImageError) as refused:
        images.build(path, echo=lambda line: None)
    assert str(refused.value) == (
        f"conda-lock.yml pins no {platform} packages (only osx-arm64), and the image is "
        f"{platform}, as this engine builds: add the platform, then lock: "
        f"`scaffold update --data platforms=osx-arm64,{platform}` and `scaffold lock`."
    )
    listed = engine.podman("images", "--format", "{{.Repository}}").stdout.split()
    assert not any(name.endswith("/maconly") for name in listed)
