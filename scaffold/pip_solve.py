"""Resolve an environment file's `pip:` section into locked, hashed PyPI packages.

Research code often needs a package that exists only on PyPI. conda-lock's format locks
such packages as `manager: pip` entries (an URL and its sha256), which `conda-lock install`
and micromamba install with pip after the conda packages. scaffold resolves them with pip's
own resolver (`pip install --dry-run --report`), once per platform, for that platform's
wheel tags and the Python version the conda solve chose. pip reads its usual configuration
(PIP_INDEX_URL, pip.conf), so a lab's mirror or a local index works as it does for pip.

Dependencies that the conda solution already provides (numpy, torch, ...) stay conda's:
the pip entries hold only what conda does not, and pip resolves under constraints that pin
conda's versions, so a pip package that needs another numpy is an error, not a lock whose
packages do not fit together.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from scaffold.errors import ScaffoldError

# conda-forge names whose PyPI distribution is called otherwise.
CONDA_TO_PYPI = {"pytorch": "torch", "matplotlib-base": "matplotlib"}

# Wheel platform tags each conda platform accepts (newest manylinux first), and pure wheels.
WHEEL_PLATFORMS = {
    "linux-64": ["manylinux_2_28_x86_64", "manylinux2014_x86_64", "linux_x86_64"],
    "linux-aarch64": ["manylinux_2_28_aarch64", "manylinux2014_aarch64", "linux_aarch64"],
    "osx-arm64": ["macosx_11_0_arm64", "macosx_12_0_arm64", "macosx_14_0_arm64"],
    "osx-64": ["macosx_10_13_x86_64", "macosx_11_0_x86_64"],
    "win-64": ["win_amd64"],
}


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pypi_name(conda_name: str) -> str:
    """The PyPI distribution of a conda package (pytorch: torch), normalised."""
    return normalise(CONDA_TO_PYPI.get(conda_name, conda_name))


# A version pip can pin (PEP 440's public versions); conda's others (`2025b`) are no
# Python package's.
_PEP440 = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")


def resolve(
    requirements: list[str],
    platform: str,
    conda_records: list[dict[str, Any]],
    pins: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Lock `requirements` for `platform`: conda-lock v1 `manager: pip` entries.

    `conda_records` is that platform's conda solution: its Python version decides which
    wheels fit, its Python packages' versions bind pip, and its packages are left out of
    the pip entries. `pins` ({name: version}) keeps pip packages where an earlier lock had
    them (`scaffold lock --update` of another package).
    """
    python = next((r for r in conda_records if r["name"] == "python"), None)
    if python is None:
        raise ScaffoldError(
            f"The environment's pip: section needs python in the conda dependencies ({platform})."
        )
    python_version = ".".join(python["version"].split(".")[:2])
    provided = {pypi_name(record["name"]) for record in conda_records}
    constraints = {**_conda_versions(conda_records), **(pins or {})}
    report = _pip_report(requirements, platform, python_version, constraints)
    entries = []
    for item in report.get("install", []):
        name = item["metadata"]["name"]
        if normalise(name) in provided:
            continue
        download = item["download_info"]
        sha256 = (download.get("archive_info") or {}).get("hashes", {}).get("sha256")
        if not sha256:
            raise ScaffoldError(
                f"pip: {name} has no sha256 from the package index ({download['url']}): a "
                "lock needs one per file; use an index that serves hashes."
            )
        entries.append(
            {
                "name": normalise(name),
                "version": item["metadata"]["version"],
                "manager": "pip",
                "platform": platform,
                "dependencies": _requirements(item["metadata"].get("requires_dist") or []),
                "url": download["url"],
                "hash": {"sha256": sha256},
                "category": "main",
                "optional": False,
            }
        )
    return entries


def _conda_versions(conda_records: list[dict[str, Any]]) -> dict[str, str]:
    """{PyPI name: version} of the conda solution's Python packages (those needing python)."""
    return {
        pypi_name(record["name"]): record["version"]
        for record in conda_records
        if any(depend.split()[0] == "python" for depend in record.get("depends", []))
        and _PEP440.match(record["version"])
    }


def _pip_report(
    requirements: list[str], platform: str, python_version: str, constraints: dict[str, str]
) -> dict[str, Any]:
    tags = [option for tag in WHEEL_PLATFORMS.get(platform, []) for option in ("--platform", tag)]
    if not tags:
        raise ScaffoldError(f"pip: section: no wheel platform is known for {platform}.")
    with tempfile.TemporaryDirectory(prefix="scaffold-pip-") as tmp:
        report = Path(tmp) / "report.json"
        pinned = Path(tmp) / "constraints.txt"
        pinned.write_text("".join(f"{n}=={v}\n" for n, v in sorted(constraints.items())))
        command = [
            *(sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"),
            *("--quiet", "--disable-pip-version-check", "--only-binary=:all:"),
            *("--python-version", python_version, "--implementation", "cp", *tags),
            *("--target", str(Path(tmp) / "target"), "--report", str(report)),
            *("--constraint", str(pinned)),
            *requirements,
        ]
        # pip's own temporary folders go in ours, removed with it also when pip is killed.
        environment = {**os.environ, "TMPDIR": tmp}
        result = subprocess.run(command, capture_output=True, text=True, env=environment)
        if result.returncode != 0:
            reason = " ".join(result.stderr.split())[-1500:]
            raise ScaffoldError(
                f"pip could not resolve the pip: section for {platform} (Python "
                f"{python_version}): {reason} Check the names and versions, and that the "
                "package index (PIP_INDEX_URL) has wheels for this platform. A constraint "
                "(`name==version`) is the version the conda packages or the lock pin: a pip "
                "package must accept it, or move it in environment.yml."
            )
        return json.loads(report.read_text(encoding="utf-8"))


def _requirements(requires_dist: list[str]) -> dict[str, str]:
    """`Requires-Dist` lines without extras-only ones, as {name: specifier or '*'}."""
    found = {}
    for line in requires_dist:
        requirement, _, marker = line.partition(";")
        if "extra ==" in marker or "extra==" in marker:
            continue
        match = re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)", requirement)
        if match:
            specifier = match.group(3).strip().strip("()")
            found[normalise(match.group(1))] = specifier or "*"
    return found
