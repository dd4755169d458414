"""The machine's side of a lock: the active environment's packages and the NVIDIA driver.

`scaffold doctor` asks two questions a lock alone cannot answer: is the environment the
user is working in the one the lock pins (however it was made: conda, micromamba or pip),
and can this machine's driver run the CUDA version the lock was solved for? Neither needs
conda: a conda environment lists its packages in `conda-meta/*.json`; a virtualenv's
Python lists its distributions; `nvidia-smi` prints the driver's highest CUDA version.
"""

import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scaffold import lockfile
from scaffold.pip_solve import normalise, pypi_name


@dataclass(frozen=True)
class ActiveEnvironment:
    """An environment to compare with the lock: a conda prefix, or a virtualenv."""

    kind: str  # "conda" or "pip"
    prefix: Path

    def describe(self) -> str:
        what = "conda environment" if self.kind == "conda" else "virtualenv"
        return f"the active {what} {self.prefix}"


def active() -> ActiveEnvironment | None:
    """The environment the user has activated: $VIRTUAL_ENV or $CONDA_PREFIX. With both (a
    virtualenv activated over conda's auto-activated base), the one whose programs come
    first on PATH: the one whose `python` runs."""
    found = []
    if prefix := os.environ.get("VIRTUAL_ENV"):
        found.append(ActiveEnvironment("pip", Path(prefix)))
    if (prefix := os.environ.get("CONDA_PREFIX")) and (Path(prefix) / "conda-meta").is_dir():
        found.append(ActiveEnvironment("conda", Path(prefix)))
    return min(found, key=_place_on_path, default=None)


def _place_on_path(environment: ActiveEnvironment) -> int:
    """Where the environment's python's folder is on PATH (past the end: not there). Not
    any folder in the prefix: conda puts its `condabin` first, whichever env is active."""
    prefix = environment.prefix
    programs = {prefix / "bin", prefix / "Scripts", prefix}  # Unix; Windows venv; conda
    entries = [Path(entry) for entry in os.environ.get("PATH", "").split(os.pathsep) if entry]
    return next((place for place, entry in enumerate(entries) if entry in programs), len(entries))


def conda_platform() -> str:
    """This machine as a conda platform name (linux-64, osx-arm64, win-64, ...)."""
    system = {"linux": "linux", "darwin": "osx", "win32": "win"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    arch = {"x86_64": "64", "amd64": "64", "aarch64": "aarch64", "arm64": "arm64"}
    return f"{system}-{arch.get(machine, machine)}"


def locked_packages(lock: Path, platform_name: str) -> dict[str, dict]:
    """The lock's conda packages for one platform, by name (a full parse: doctor only)."""
    return {
        entry["name"]: entry
        for entry in _entries(lock, platform_name)
        if entry.get("manager") == "conda"
    }


def _entries(lock: Path, platform_name: str) -> list[dict]:
    data = lockfile.read_lock(lock)
    return [entry for entry in data.get("package", []) if entry.get("platform") == platform_name]


def differences(environment: ActiveEnvironment, lock: Path) -> list[str]:
    """'name: locked X, installed Y' for each package where the environment and lock differ.

    What the README's set-up installs must be there: the lock's `main` packages (`micromamba
    create --file conda-lock.yml` installs no others); its `dev` ones are compared where
    installed. A conda environment is compared build for build, and its pip packages by
    version; a virtualenv holds Python packages only: those of the lock (the conda ones
    that need python, and the pip ones), by version.
    """
    here = conda_platform()
    entries = _entries(lock, here)
    if not entries:
        return [f"the lock has no packages for {here}: add it to environment.yml's platforms"]
    python_packages = environment.kind == "pip" or any(e.get("manager") == "pip" for e in entries)
    installed = _pip_versions(environment.prefix) if python_packages else {}
    if environment.kind == "conda":  # its conda packages by name (a pip one has no record)
        for record in (environment.prefix / "conda-meta").glob("*.json"):
            entry = json.loads(record.read_text(encoding="utf-8"))
            installed[entry["name"]] = f"{entry['version']} {entry['build']}"
    wanted: dict[str, tuple[str, bool]] = {}  # name -> (locked version, required)
    for entry in entries:
        required = entry.get("category", "main") == "main"
        if entry.get("manager") == "pip":
            wanted[normalise(entry["name"])] = (entry["version"], required)
        elif environment.kind == "conda":
            build = f"{entry['version']} {entry.get('build', '')}".strip()
            wanted[entry["name"]] = (build, required)
        elif "python" in (entry.get("dependencies") or {}):  # a Python package
            wanted[pypi_name(entry["name"])] = (entry["version"], required)
    return [
        f"{name}: locked {version}, installed {installed.get(name) or 'nothing'}"
        for name, (version, required) in sorted(wanted.items())
        if installed.get(name) != version and (required or installed.get(name))
    ]


def _pip_versions(prefix: Path) -> dict[str, str]:
    """{normalised name: version without its local part} of a virtualenv's distributions."""
    python = prefix / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    listing = (
        "import json, importlib.metadata as m\n"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    try:
        result = subprocess.run([str(python), "-c", listing], capture_output=True, text=True)
    except OSError:  # no python in it (yet)
        return {}
    if result.returncode != 0:
        return {}
    return {
        normalise(name): version.split("+")[0]
        for name, version in json.loads(result.stdout).items()
    }


def locked_cuda(project: Path) -> str | None:
    """The CUDA version the lock needs on this kind of machine: its cuda-version package,
    else `__cuda` of virtual-packages.yml; None for a CPU-only environment."""
    lock = project / lockfile.LOCK_FILE
    if lock.is_file():
        cuda = locked_packages(lock, conda_platform()).get("cuda-version")
        if cuda is not None:
            return ".".join(str(cuda["version"]).split(".")[:2])
    virtual = project / lockfile.VIRTUAL_PACKAGES_FILE
    if virtual.is_file():
        found = re.search(r"__cuda:\s*\"?([\d.]+)", virtual.read_text(encoding="utf-8"))
        return found.group(1) if found else None
    return None


def driver_cuda() -> str | None:
    """The highest CUDA version this machine's NVIDIA driver supports, from `nvidia-smi`.

    None when there is no nvidia-smi (no NVIDIA GPU); 'error: ...' when it cannot talk to
    the driver.
    """
    try:
        result = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return None
    except subprocess.TimeoutExpired:
        return "error: nvidia-smi did not answer within 30 s"
    found = re.search(r"CUDA Version:\s*([\d.]+)", result.stdout)
    if result.returncode != 0 or not found:
        output = (result.stderr or result.stdout).strip().splitlines()
        return f"error: {output[0] if output else f'exit status {result.returncode}'}"
    return found.group(1)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))
