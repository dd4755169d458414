"""Solve with a conda, mamba or micromamba executable instead of py-rattler (`--conda EXE`).

Some labs must solve with the tool their cluster provides (a patched conda, a proxy-aware
micromamba). This asks it the way conda-lock does: a dry-run `create` for each platform,
with `CONDA_SUBDIR` naming the platform and `CONDA_OVERRIDE_*` standing for the virtual
packages, and reads the packages it would fetch from its JSON answer. The records come
back in the shape conda_solve.py gives, so the lock is written the same way.
"""

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from scaffold.errors import ScaffoldError

# An empty CONDA_OVERRIDE_CUDA tells conda that the machine has no GPU.
ABSENT_UNLESS_GIVEN = ("__cuda",)


def solve(executable: str, request: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Solve every job of `request` (see conda_solve.py) with `executable`."""
    channels = [option for url in request["channels"] for option in ("--channel", url)]
    solutions = {}
    for job in request["jobs"]:
        platform = job["platform"]
        environ = {**os.environ, "CONDA_SUBDIR": platform}
        virtual = {name: "" for name in ABSENT_UNLESS_GIVEN} | job["virtual_packages"]
        for name, version in virtual.items():
            environ[f"CONDA_OVERRIDE_{name.removeprefix('__').upper()}"] = version
        with tempfile.TemporaryDirectory(prefix="scaffold-conda-") as prefix:
            command = [
                *(executable, "create", "--prefix", str(Path(prefix) / "env")),
                *("--dry-run", "--json", "--override-channels", *channels, *job["specs"]),
            ]
            try:
                result = subprocess.run(command, env=environ, capture_output=True, text=True)
            except FileNotFoundError as error:
                raise ScaffoldError(
                    f"--conda {executable}: no such executable; give the path of conda, mamba "
                    "or micromamba, or leave --conda out to solve with py-rattler."
                ) from error
        answer = _json(result.stdout)
        actions = answer.get("actions") or {}
        if result.returncode != 0 or "FETCH" not in actions:
            reason = answer.get("error") or answer.get("message") or result.stderr.strip()
            raise ScaffoldError(
                f"{executable} could not solve the environment for {platform} "
                f"(specs: {', '.join(job['specs'])}): {' '.join(str(reason).split())}"
            )
        solutions[platform] = [_record(entry, platform) for entry in actions["FETCH"]]
        fetched = {entry["name"] for entry in actions["FETCH"]}
        cached = [
            entry["name"] for entry in actions.get("LINK", []) if entry["name"] not in fetched
        ]
        if cached:
            raise ScaffoldError(
                f"{executable} would link {', '.join(cached)} from its package cache without "
                "saying where they came from: run it with an empty cache "
                "(CONDA_PKGS_DIRS=$(mktemp -d)), or leave --conda out."
            )
    return solutions


def _json(text: str) -> dict[str, Any]:
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _record(entry: dict[str, Any], platform: str) -> dict[str, Any]:
    """A FETCH entry in conda_solve.py's record shape."""
    return {
        "name": entry["name"],
        "version": str(entry["version"]),
        "build": entry.get("build") or entry.get("build_string", ""),
        "build_number": entry.get("build_number", 0),
        "subdir": entry.get("subdir", platform),
        "depends": list(entry.get("depends") or []),
        "url": entry["url"],
        "md5": entry.get("md5"),
        "sha256": entry.get("sha256"),
        "size": entry.get("size"),
    }
