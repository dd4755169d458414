"""The conda environment files and pyproject.toml declare the same dependencies.

Two lists of the same packages drift apart unless something fails when they do: a package
added to pyproject.toml alone is missing from the conda environment (and from the lock);
one added to environment.yml alone is missing for pip users.
"""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PYPI = {"pytorch": "torch", "matplotlib-base": "matplotlib"}
CONDA_ONLY = {"python", "pip", "cuda-version", "cuda-nvcc", "cuda-libraries-dev"}
CONDA_ONLY |= {"c-compiler", "cxx-compiler"}


def conda_requirements(name: str) -> dict[str, str]:
    """{pypi name: lower bound or ''} of an environment file's conda dependencies."""
    spec = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    found = {}
    for dependency in spec["dependencies"]:
        if isinstance(dependency, dict):  # a `pip:` sub-list: PyPI packages, named as on PyPI
            found |= pypi_requirements(dependency.get("pip") or [])
            continue
        package, _, version = dependency.partition(" ")
        if package not in CONDA_ONLY:
            bound = re.match(r">=\s*([\w.]+)", version.strip())
            found[CONDA_TO_PYPI.get(package, package)] = bound.group(1) if bound else ""
    return found


def pypi_requirements(requirements: list[str]) -> dict[str, str]:
    """{name: lower bound or ''} of PEP 508 requirements. pip's options (--extra-index-url,
    -e .) and bare URLs name no package: they are left out."""
    found = {}
    for requirement in requirements:
        if requirement.startswith("-") or re.match(r"[\w+.-]+://", requirement):
            continue
        match = re.match(r"([A-Za-z0-9_.-]+)\s*(>=\s*([\w.]+))?", requirement)
        assert match, requirement
        found[match.group(1).lower()] = match.group(3) or ""
    return found


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_runtime_dependencies_are_one_list() -> None:
    conda = conda_requirements("environment.yml")
    pypi = pypi_requirements(pyproject()["dependencies"])
    assert conda.keys() == pypi.keys(), "environment.yml and pyproject.toml list other packages"
    for name, bound in conda.items():
        if bound and pypi[name]:
            assert bound == pypi[name], f"{name}: >={bound} in environment.yml, >={pypi[name]}"


def test_dev_dependencies_are_one_list() -> None:
    conda = conda_requirements("environment-dev.yml")
    pypi = pypi_requirements(pyproject()["optional-dependencies"]["dev"])
    assert conda == pypi, "environment-dev.yml and pyproject.toml's [dev] extra differ"
