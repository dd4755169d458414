"""`scaffold image` and the doctor's image checks without an engine: tags, refusals, build
arguments and error messages. tests/test_image_engine.py runs them against podman."""

import hashlib
from pathlib import Path

import pytest
from checks import render
from gitrepo import GitRepo
from typer.testing import CliRunner

from scaffold import images
from scaffold.cli import app
from scaffold.doctor import check_dockerfile_cuda, check_image, check_image_platform
from scaffold.errors import EngineError, ImageError


@pytest.fixture
def repo(template_dir: Path, tmp_path: Path) -> GitRepo:
    project = render(template_dir, tmp_path / "boxed", {"project_name": "Boxed"})
    repo = GitRepo(project)
    repo.write("conda-lock.yml", "version: 1\n")
    repo.write(
        ".copier-answers.yml",
        repo.path.joinpath(".copier-answers.yml").read_text() + "_commit: v0.8.0\n",
    )
    repo.commit("feat: generate")
    return repo


def test_the_tag_is_the_commit_and_a_dirty_tree_is_refused(repo: GitRepo) -> None:
    commit = repo.git("rev-parse", "HEAD").stdout.strip()
    assert images.source(repo.path / "src").tag == f"boxed:{commit[:12]}"
    repo.write("src/boxed/new.py", "")
    with pytest.raises(
        ImageError, match=r"uncommitted changes \(src/boxed/new.py\).*--allow-dirty"
    ):
        images.source(repo.path)
    dirty = images.source(repo.path, allow_dirty=True)
    assert dirty.tag == f"boxed:{commit[:12]}-dirty"
    assert images.build_args(dirty)["SOURCE_COMMIT"] == ""  # the image claims no commit


def test_build_args_name_the_commit_the_lock_and_the_template(repo: GitRepo) -> None:
    origin = images.source(repo.path)
    assert images.build_args(origin) == {
        "SOURCE_COMMIT": origin.commit,
        "LOCK_SHA256": hashlib.sha256(b"version: 1\n").hexdigest(),
        "TEMPLATE_VERSION": "0.8.0",
    }


def test_no_engine_is_an_error_naming_docker_host_and_the_fix(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    with pytest.raises(EngineError, match=r"none.sock.*podman system service"):
        images.client()
    result = CliRunner().invoke(app, ["image", "build", "--repo", str(repo.path)])
    assert result.exit_code == 1 and "DOCKER_HOST=" in result.output
    assert check_image(repo.path).ok  # the doctor says it could not look, and goes on
    (repo.path / "conda-lock.yml").unlink()  # the missing engine is named first, not the lock
    build = ["image", "build", "--allow-dirty", "--repo", str(repo.path)]
    result = CliRunner().invoke(app, build)
    assert result.exit_code == 1 and "DOCKER_HOST=" in result.output


def test_a_repo_without_a_dockerfile_or_commit_is_refused(tmp_path: Path) -> None:
    bare = GitRepo(tmp_path / "bare")
    with pytest.raises(ImageError, match="no Dockerfile: `scaffold update` brings it"):
        images.source(bare.path)
    bare.write("Dockerfile", "FROM scratch\n")
    with pytest.raises(ImageError, match="no commit yet"):
        images.source(bare.path)


def test_doctor_fails_a_lock_that_pins_no_linux_for_the_image(repo: GitRepo) -> None:
    def locked(*platforms: str) -> None:
        hashes = "".join(f"    {platform}: {'0' * 64}\n" for platform in platforms)
        repo.write(
            "conda-lock.yml", f"version: 1\nmetadata:\n  content_hash:\n{hashes}package: []\n"
        )

    assert check_image_platform(repo.path).ok  # no platform locked yet: the lock check's job
    locked("osx-arm64", "win-64")
    finding = check_image_platform(repo.path)
    assert not finding.ok
    assert "no Linux platform (only osx-arm64, win-64)" in finding.message
    assert "`scaffold update --data platforms=osx-arm64,win-64,linux-64`" in finding.message
    locked("osx-arm64", "linux-aarch64")  # an arm64 engine builds it
    assert check_image_platform(repo.path).ok
    (repo.path / "Dockerfile").unlink()  # the user's answer: this project has no image
    locked("osx-arm64")
    assert check_image_platform(repo.path).ok


def test_doctor_finds_a_dockerfile_cuda_that_disagrees_with_the_answers(repo: GitRepo) -> None:
    assert check_dockerfile_cuda(repo.path).ok
    dockerfile = repo.path / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("CUDA=12.9", "CUDA=12.6"))
    finding = check_dockerfile_cuda(repo.path)
    assert not finding.ok
    assert "CUDA 12.6, 12.9" in finding.message and "cuda_version 12.9" in finding.message


class FakeContainer:
    """A container that prints one line and ends."""

    def logs(self, stream: bool, follow: bool):
        yield b"done\n"

    def wait(self) -> dict:
        return {"StatusCode": 0}

    def remove(self, force: bool) -> None:
        pass


class FakeEngine:
    """What `images.run` asks of an engine, to see the user it asks for: the uid of a
    non-root user cannot be had for real here, where the tests run as root (the engine
    tests run the container as root for real)."""

    def __init__(self) -> None:
        self.container = FakeContainer()
        self.run_options: dict = {}
        self.images = self
        self.containers = self

    def get(self, tag: str):
        return type("Image", (), {"id": "sha256:1", "attrs": {}})()

    def run(self, image: str, args: list[str], **options):
        self.run_options = options
        return self.container


@pytest.mark.parametrize(("uid", "gid"), [(0, 0), (1234, 1001)])
def test_run_runs_as_the_caller_root_included(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, uid: int, gid: int
) -> None:
    """So that the container can write the mounted data/ and runs/, and its files are yours."""
    engine = FakeEngine()
    monkeypatch.setattr(images, "client", lambda: engine)
    monkeypatch.setattr(images, "gpu_requests", lambda: [])
    monkeypatch.setattr(images.os, "getuid", lambda: uid)
    monkeypatch.setattr(images.os, "getgid", lambda: gid)
    assert images.run(repo.path, ["smoke"], echo=lambda line: None) == 0
    assert engine.run_options["user"] == f"{uid}:{gid}"
