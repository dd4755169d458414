"""A real container engine for the image tests: podman's Docker-compatible API service and
a registry on the loopback interface, started for the test session and stopped after it.

`scripts/setup_engine.sh` installs Debian's podman, runc and docker-registry and makes the
base image (debootstrap, then `podman import`), since no image registry is reachable here.
Podman runs with runc and the limits of engine/containers.conf (crun fails on this kind of
machine's hybrid cgroups). The registry speaks plain HTTP, so registries.conf marks it
insecure for podman.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE_IMAGE = os.environ.get(
    "SCAFFOLD_TEST_BASE_IMAGE", "localhost/scaffold-test/bookworm-python:1"
)
SETUP = "bash scripts/setup_engine.sh (as root)"
PREFIX = "/opt/conda/envs/app"  # where the Dockerfile's env stage puts the environment


@dataclass(frozen=True)
class Engine:
    docker_host: str  # unix://... for the docker SDK
    registry: str  # 127.0.0.1:PORT
    env: dict[str, str]  # for podman commands: the same configuration as the service

    def podman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["podman", *args], capture_output=True, text=True, env=self.env, check=False
        )
        if check:
            assert result.returncode == 0, f"podman {' '.join(args)}:\n{result.stderr}"
        return result


def missing() -> str | None:
    """Why the engine cannot start here, precisely; None when it can."""
    if os.geteuid() != 0:
        return "podman's API service runs rootful here: run the tests as root"
    for tool in ("podman", "runc", "docker-registry"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            return f"{tool} is not installed: {SETUP}"
    if subprocess.run(["podman", "image", "exists", BASE_IMAGE]).returncode != 0:
        return f"the base image {BASE_IMAGE} is not built: {SETUP}"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(
    ready: Callable[[], bool], what: str, process: subprocess.Popen, seconds: float = 30
) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {seconds:.0f} s")
        time.sleep(0.1)


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def started() -> Iterator[Engine]:
    """Start the podman service and the registry; stop both (only these two) on exit."""
    with tempfile.TemporaryDirectory(prefix="scaffold-engine-") as scratch:
        root = Path(scratch)
        port = free_port()
        registries = root / "registries.conf"
        registries.write_text(
            f'[[registry]]\nlocation = "127.0.0.1:{port}"\ninsecure = true\n', encoding="utf-8"
        )
        env = {
            **os.environ,
            "CONTAINERS_CONF": str(HERE / "engine" / "containers.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(registries),
        }
        (root / "registry.yml").write_text(
            "version: 0.1\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root / 'registry'}\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
            "log:\n  level: warn\n",
            encoding="utf-8",
        )
        sock = root / "podman.sock"
        logs = (root / "podman.log").open("w"), (root / "registry.log").open("w")
        service = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{sock}"],
            env=env,
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        )
        registry = subprocess.Popen(
            ["docker-registry", "serve", str(root / "registry.yml")],
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(sock.exists, "podman system service", service)
            wait_for(lambda: port_open(port), "docker-registry", registry)
            yield Engine(f"unix://{sock}", f"127.0.0.1:{port}", env)
        finally:
            for process in (service, registry):
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for log in logs:
                log.close()


def closure(names: list[str]) -> list[metadata.Distribution]:
    """The installed distributions named, and everything they require (no extras)."""
    from packaging.requirements import Requirement

    found: dict[str, metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = normalise(pending.pop())
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # conda-only (python, cuda-version, ...): the base image has Python
        found[name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return sorted(found.values(), key=lambda dist: normalise(dist.metadata["Name"]))


def standin_image(engine: Engine, name: str, dists: list[metadata.Distribution]) -> str:
    """An image that holds `dists` as a Python environment at the env stage's prefix,
    built from this machine's installed files; cached under a tag of their versions."""
    listing = "\n".join(f"{dist.metadata['Name']}=={dist.version}" for dist in dists)
    tag = f"localhost/scaffold-test/{name}:{hashlib.sha256(listing.encode()).hexdigest()[:12]}"
    if engine.podman("image", "exists", tag, check=False).returncode == 0:
        return tag
    with tempfile.TemporaryDirectory(prefix="scaffold-standin-") as scratch:
        site = Path(scratch, "site-packages")
        for dist in dists:
            for file in dist.files or []:
                if file.parts[0] == ".." or "__pycache__" in file.parts:
                    continue  # scripts outside site-packages; bytecode is rebuilt
                target = site / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(dist.locate_file(file), target)
        Path(scratch, "Dockerfile").write_text(
            f"FROM {BASE_IMAGE}\n"
            f"RUN useradd --uid 57439 --user-group --create-home mambauser \\\n"
            f"    && python3 -m venv --without-pip {PREFIX} && chown -R 57439:57439 /opt/conda\n"
            f"COPY --chown=57439:57439 site-packages/ {PREFIX}/lib/python3.11/site-packages/\n"
            f"ENV MAMBA_USER=mambauser PATH={PREFIX}/bin:$PATH\n"
            "USER mambauser\n",
            encoding="utf-8",
        )
        engine.podman("build", "--quiet", "--tag", tag, scratch)
    return tag


def normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
