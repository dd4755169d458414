"""`scaffold image build | run | push`: a generated repo's Dockerfile, through the docker SDK.

The image of a commit is tagged `<package>:<first 12 hex digits of the commit>`, so that
the tag alone says which code it holds; a dirty tree is refused, as training refuses it,
unless `allow_dirty` (then the tag ends in `-dirty` and the image records no commit). The
engine is whatever the docker SDK finds: `DOCKER_HOST`, else the local Docker socket;
podman's API service works the same (`podman system service`).

`run` mounts the repo's `data/` and `runs/`, so that results land on this machine, passes
the GPUs when `nvidia-smi` finds some, and tells the container its image's tag and digest
(`<PACKAGE>_IMAGE`, `<PACKAGE>_IMAGE_DIGEST`), which the run manifest records.
"""

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold import answers as answers_module
from scaffold import environments, git, lockfile
from scaffold.errors import EngineError, ImageError
from scaffold.interrupts import termination_as_interrupt
from scaffold.template_history import ANSWERS_FILE

Echo = Callable[[str], None]
TARGET = "runtime"  # the Dockerfile's final stage; `dev` is the dev container's
CONTAINER_ROOT = "/app"  # the Dockerfile's WORKDIR, where data/ and runs/ are mounted
MOUNTED = ("data", "runs")
# The conda platform of the images an engine builds, by the machine it reports.
ENGINE_PLATFORMS = {
    "amd64": "linux-64",
    "x86_64": "linux-64",
    "arm64": "linux-aarch64",
    "aarch64": "linux-aarch64",
}


@dataclass(frozen=True)
class Source:
    """What an image is built from: the repo, its package name, the commit and the tag."""

    project: Path
    package: str
    commit: str
    dirty: bool

    @property
    def tag(self) -> str:
        return f"{self.package}:{self.commit[:12]}{'-dirty' if self.dirty else ''}"


def source(path: Path, allow_dirty: bool = False) -> Source:
    """The repo holding `path` at HEAD; refuses uncommitted changes unless `allow_dirty`."""
    project = git.repo_root(path)
    if project is None:
        raise ImageError(f"{path} is not inside a git repository: images are tagged by commit.")
    if not (project / "Dockerfile").is_file():
        raise ImageError(
            f"{project} has no Dockerfile: `scaffold update` brings it (template v0.8.0 on)."
        )
    commit = git.git("rev-parse", "--verify", "--quiet", "HEAD", cwd=project, check=False)
    if not commit:
        raise ImageError(f"{project} has no commit yet: commit first, images are tagged by it.")
    dirty = git.dirty_paths(project)
    if dirty and not allow_dirty:
        listing = ", ".join(dirty[:5]) + (", ..." if len(dirty) > 5 else "")
        raise ImageError(
            f"uncommitted changes ({listing}): commit them so the image's tag names its code, "
            "or pass --allow-dirty."
        )
    package = answers(project).get("package_name")
    if not package:
        raise ImageError(
            f"{project / ANSWERS_FILE} names no package_name: is this a generated repo?"
        )
    return Source(project, str(package), commit, bool(dirty))


def answers(project: Path) -> dict[str, Any]:
    """The repo's copier answers ({} without the file): the package, the template version."""
    path = project / ANSWERS_FILE
    return answers_module.load(path) if path.is_file() else {}


def client(timeout: int = 600) -> Any:
    """A docker SDK client for the engine of `DOCKER_HOST` (or the default socket)."""
    import docker

    try:
        engine = docker.from_env(timeout=timeout)
        engine.ping()
    except docker.errors.DockerException as error:
        where = os.environ.get("DOCKER_HOST") or "the default Docker socket"
        raise EngineError(
            f"no container engine answers at {where} ({error}): start Docker, or run "
            "`podman system service --time=0 unix:///tmp/podman.sock` and set "
            "DOCKER_HOST=unix:///tmp/podman.sock."
        ) from error
    return engine


def build_args(origin: Source) -> dict[str, str]:
    """The Dockerfile's ARGs: the commit (none for a dirty tree), the lock's and template's."""
    lock = origin.project / "conda-lock.yml"
    return {
        "SOURCE_COMMIT": "" if origin.dirty else origin.commit,
        "LOCK_SHA256": hashlib.sha256(lock.read_bytes()).hexdigest(),
        "TEMPLATE_VERSION": str(answers(origin.project).get("_commit", "")).removeprefix("v"),
    }


def build(path: Path, *, allow_dirty: bool = False, echo: Echo = print) -> tuple[str, str]:
    """Build the repo's image at HEAD, streaming the engine's output; (tag, image id)."""
    origin = source(path, allow_dirty)
    engine = client()  # before the lock: locking takes minutes, and is no use without one
    if not (origin.project / "conda-lock.yml").is_file():
        raise ImageError("there is no conda-lock.yml to install: run `scaffold lock` first.")
    require_locked_for(str(engine.version().get("Arch", "")), origin.project)
    stream = engine.api.build(
        path=str(origin.project),
        tag=origin.tag,
        target=TARGET,
        buildargs=build_args(origin),
        rm=True,
        decode=True,
    )
    for chunk in stream:
        if "error" in chunk:
            raise ImageError(f"the build of {origin.tag} failed: {chunk['error'].strip()}")
        if text := chunk.get("stream", "").rstrip("\n"):
            echo(text)
    return origin.tag, engine.images.get(origin.tag).id


def require_locked_for(arch: str, project: Path) -> None:
    """Refuse, before the build, a lock with no packages for the image's platform: the
    Dockerfile's micromamba would fail minutes in, on a message that hides the cause (the
    project's platforms, e.g. osx-arm64 alone, left out the Linux of the image)."""
    platform = ENGINE_PLATFORMS.get(arch)
    locked = list(lockfile.recorded_fingerprints(project / lockfile.LOCK_FILE))
    if platform is None or not locked or platform in locked:
        return
    platforms = ",".join([*locked, platform])
    raise ImageError(
        f"conda-lock.yml pins no {platform} packages (only {', '.join(locked)}), and the "
        f"image is {platform}, as this engine builds: add the platform, then lock: "
        f"`scaffold update --data platforms={platforms}` and `scaffold lock`."
    )


def digest(image: Any) -> str:
    """The registry digest of a pushed or pulled image, else its local id (both sha256)."""
    repo_digests = image.attrs.get("RepoDigests") or []
    return repo_digests[0].split("@", 1)[1] if repo_digests else image.id


def local_image(engine: Any, origin: Source) -> Any:
    import docker

    try:
        return engine.images.get(origin.tag)
    except docker.errors.ImageNotFound as error:
        raise ImageError(
            f"no image {origin.tag} for this commit: run `scaffold image build` first."
        ) from error


def gpu_requests() -> list[Any]:
    """Every GPU, when this machine has an NVIDIA driver; none otherwise."""
    import docker

    found = environments.driver_cuda()
    if found is None or found.startswith("error:"):
        return []
    return [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]


def run(path: Path, args: list[str], *, allow_dirty: bool = False, echo: Echo = print) -> int:
    """Run the image of HEAD with `args`, streaming its output; the container's exit status.

    SIGTERM and SIGHUP (`kill`, a cancelled CI job) stop it as Ctrl-C does: the container
    is removed, not left running.
    """
    with termination_as_interrupt():
        return _run(path, args, allow_dirty, echo)


def _run(path: Path, args: list[str], allow_dirty: bool, echo: Echo) -> int:
    origin = source(path, allow_dirty)
    engine = client()
    image = local_image(engine, origin)
    volumes = {}
    for name in MOUNTED:
        (origin.project / name).mkdir(exist_ok=True)
        volumes[str(origin.project / name)] = {"bind": f"{CONTAINER_ROOT}/{name}", "mode": "rw"}
    prefix = origin.package.upper()
    container = engine.containers.run(
        image.id,
        args,
        detach=True,
        init=True,
        volumes=volumes,
        environment={f"{prefix}_IMAGE": origin.tag, f"{prefix}_IMAGE_DIGEST": digest(image)},
        # Files written to the mounts belong to you, and you can write there: the image's
        # user (1000) cannot write the folders of root or of another uid.
        user=f"{os.getuid()}:{os.getgid()}",
        device_requests=gpu_requests(),
    )
    try:
        for line in container.logs(stream=True, follow=True):
            echo(line.decode(errors="replace").rstrip("\n"))
        return int(container.wait()["StatusCode"])
    finally:
        container.remove(force=True)


def push(path: Path, registry: str, *, allow_dirty: bool = False, echo: Echo = print) -> str:
    """Push the image of HEAD to `registry` (host[:port][/namespace]); its reference@digest."""
    origin = source(path, allow_dirty)
    engine = client()
    image = local_image(engine, origin)
    name, tag = origin.tag.split(":")
    repository = f"{registry.rstrip('/')}/{name}"
    tagged_before = f"{repository}:{tag}" in image.tags
    image.tag(repository, tag)
    try:
        return _push(engine, image, repository, tag, echo)
    except BaseException:  # a stray REGISTRY/name:tag would claim a push that did not happen
        if not tagged_before:
            engine.images.remove(f"{repository}:{tag}")
        raise


def _push(engine: Any, image: Any, repository: str, tag: str, echo: Echo) -> str:
    pushed = ""
    for chunk in engine.api.push(repository, tag, stream=True, decode=True):
        if "error" in chunk:
            raise ImageError(
                f"pushing {repository}:{tag} failed: {chunk['error'].strip()} (is the "
                "registry reachable, and are you logged in: `docker login REGISTRY`?)"
            )
        pushed = (chunk.get("aux") or {}).get("Digest", pushed)
        if status := chunk.get("status"):
            echo(f"{chunk.get('id', '')} {status}".strip())
            pushed = pushed or next(iter(re.findall(r"digest: (sha256:\w+)", status)), "")
    if not pushed:  # podman reports it only in the image's RepoDigests
        image.reload()
        listed = [d for d in image.attrs.get("RepoDigests") or [] if d.startswith(repository)]
        pushed = listed[0].split("@", 1)[1] if listed else ""
    if not pushed:
        raise ImageError(f"pushing {repository}:{tag} reported no digest: push it again.")
    return f"{repository}:{tag}@{pushed}"


CUDA_LINES = re.compile(r"CONDA_OVERRIDE_CUDA=([\d.]+)|NVIDIA_REQUIRE_CUDA=\"?cuda>=([\d.]+)")


def dockerfile_cuda(project: Path) -> set[str]:
    """The CUDA versions a Dockerfile names (CONDA_OVERRIDE_CUDA, NVIDIA_REQUIRE_CUDA)."""
    text = (project / "Dockerfile").read_text(encoding="utf-8")
    return {a or b for a, b in CUDA_LINES.findall(text)}


def built_commits(package: str) -> dict[str, str]:
    """{tag: commit} of this repo's images on the engine (the label the build sets)."""
    engine = client(timeout=10)
    found = {}
    for image in engine.images.list(name=package):
        commit = (image.labels or {}).get("org.opencontainers.image.revision", "")
        for tag in image.tags:
            found[tag] = commit
    return found
