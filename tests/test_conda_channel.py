"""The hand-written conda channel works with py-rattler: it solves, installs and scales.

py-rattler may abort at interpreter exit after an install, so every rattler call runs in a
fresh interpreter that ends with ``os._exit``; pytest only reads the JSON it prints.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conda_channel import (
    BASE_TIMESTAMP_MS,
    Package,
    realistic_packages,
    synthetic_channel_packages,
    write_channel,
)

pytest.importorskip("rattler")

LINUX_CUDA = ["__cuda=12.9=0", "__glibc=2.28=0", "__unix=0=0", "__linux=6.8=0"]
OSX = ["__osx=14.5=0", "__unix=0=0"]
ML_SPECS = ["python 3.11.*", "numpy", "typer", "omegaconf", "fsspec", "aiohttp", "tqdm"]
ML_SPECS += ["pillow", "matplotlib-base", "tensorboard", "mlflow", "wandb", "pytest", "ruff"]
ML_SPECS += ["pip", "compilers", "pytorch 2.*"]

# Runs in the child: ``main(args)`` is defined by each test's snippet.
_PRELUDE = """
import asyncio, datetime, json, os, sys
import rattler

def virtual(spec):
    name, version, build = spec.split("=")
    return rattler.GenericVirtualPackage(
        rattler.PackageName(name), rattler.Version(version), rattler.BuildString(build)
    )

async def solve(args, **options):
    return await rattler.solve(
        sources=[args["url"]],
        specs=args["specs"],
        platforms=[args["platform"], "noarch"],
        virtual_packages=[virtual(spec) for spec in args["virtual"]],
        **options,
    )

def summary(records):
    return [
        {"name": r.name.normalized, "version": str(r.version), "build": str(r.build),
         "subdir": r.subdir}
        for r in records
    ]
"""
_EPILOGUE = """
try:
    result = {"ok": asyncio.run(main(json.loads(sys.argv[1])))}
except Exception as error:
    result = {"error": f"{type(error).__name__}: {error}"}
sys.stdout.write(json.dumps(result))
sys.stdout.flush()
os._exit(0)
"""


def in_rattler(code: str, **args: Any) -> dict[str, Any]:
    """Run ``code`` (which defines ``async def main(args)``) in a child interpreter."""
    child = subprocess.run(
        [sys.executable, "-c", _PRELUDE + code + _EPILOGUE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout)


SOLVE = """
async def main(args):
    return summary(await solve(args))
"""


def solved(result: dict[str, Any]) -> dict[str, dict[str, str]]:
    assert "ok" in result, result
    return {record["name"]: record for record in result["ok"]}


def test_linux_with_cuda_gets_a_cuda_build(channel: str) -> None:
    specs = ["python 3.11.*", "pytorch 2.* cuda*", "cuda-version 12.9.*"]
    records = solved(
        in_rattler(SOLVE, url=channel, specs=specs, platform="linux-64", virtual=LINUX_CUDA)
    )
    assert records["pytorch"]["build"].startswith("cuda129_generic_py311_")
    assert records["pytorch"]["version"] == "2.9.1"
    assert records["cuda-version"]["version"] == "12.9"
    assert records["cuda-cudart"]["version"] == "12.9.79"
    assert records["python"]["version"] == "3.11.13"
    assert records["cuda-version"]["subdir"] == "noarch"
    assert not any(name.startswith("__") for name in records)


def test_osx_arm64_gets_a_cpu_build(channel: str) -> None:
    specs = ["python 3.11.*", "pytorch 2.*"]
    records = solved(
        in_rattler(SOLVE, url=channel, specs=specs, platform="osx-arm64", virtual=OSX)
    )
    assert records["pytorch"]["build"].startswith("cpu_generic_py311_")
    assert records["pytorch"]["subdir"] == "osx-arm64"
    assert "libcxx" in records
    assert not any(name.startswith("cuda") for name in records)


def test_an_old_driver_cannot_have_cuda_12_9(channel: str) -> None:
    specs = ["python 3.11.*", "pytorch 2.* cuda*", "cuda-version 12.9.*"]
    old_driver = ["__cuda=11.8=0", *LINUX_CUDA[1:]]
    result = in_rattler(SOLVE, url=channel, specs=specs, platform="linux-64", virtual=old_driver)
    assert "__cuda" in result.get("error", ""), result


def test_without_cuda_plain_pytorch_is_the_cpu_build(channel: str) -> None:
    records = solved(
        in_rattler(
            SOLVE, url=channel, specs=["pytorch"], platform="linux-64", virtual=LINUX_CUDA[1:]
        )
    )
    assert records["pytorch"]["build"].startswith("cpu_generic_")


@pytest.mark.parametrize(
    ("platform", "virtual"),
    [
        ("linux-aarch64", LINUX_CUDA[1:]),
        ("osx-arm64", OSX),
        ("win-64", ["__win=0=0"]),
    ],
)
def test_the_ml_stack_solves_on_every_platform(
    tmp_path_factory: pytest.TempPathFactory, platform: str, virtual: list[str]
) -> None:
    subdirs = ("linux-64", "linux-aarch64", "osx-arm64", "win-64")
    url = write_channel(tmp_path_factory.mktemp("channel"), realistic_packages(subdirs))
    result = in_rattler(SOLVE, url=url, specs=ML_SPECS, platform=platform, virtual=virtual)
    records = solved(result)
    assert records["pytorch"]["build"].startswith("cpu_generic_py311_")
    assert {record["subdir"] for record in records.values()} == {platform, "noarch"}


def test_a_whole_ml_environment_installs(channel: str, tmp_path: Path) -> None:
    install = """
async def main(args):
    records = await solve(args)
    await rattler.install(
        records, target_prefix=args["prefix"], cache_dir=args["cache"], show_progress=False
    )
    return summary(records)
"""
    prefix = tmp_path / "env"
    specs = [
        *ML_SPECS,
        "pytorch 2.8.* cuda*",
        "cuda-version 12.6.*",
        "cuda-nvcc",
        "cuda-libraries-dev",
    ]
    started = time.perf_counter()
    result = in_rattler(
        install,
        url=channel,
        specs=specs,
        platform="linux-64",
        virtual=LINUX_CUDA,
        prefix=str(prefix),
        cache=str(tmp_path / "pkgs"),
    )
    print(
        f"solve + install of {len(result.get('ok', []))} packages: "
        f"{time.perf_counter() - started:.2f} s"
    )
    records = solved(result)
    assert records["pytorch"]["build"].startswith("cuda126_generic_py311_")
    assert {"gcc", "gxx", "cuda-cudart-dev", "python_abi", "libgcc"} <= records.keys()
    for record in records.values():
        name, version, build = record["name"], record["version"], record["build"]
        assert (prefix / "conda-meta" / f"{name}-{version}-{build}.json").is_file()
    assert (prefix / "lib" / "numpy-marker.txt").read_text().startswith("numpy 2.3.2 py311")
    site_packages = prefix / "lib" / "python3.11" / "site-packages"
    assert (site_packages / "typer-marker.txt").is_file()


def test_exclude_newer_reads_the_millisecond_timestamps(tmp_path: Path) -> None:
    day = 24 * 3600 * 1000
    url = write_channel(
        tmp_path,
        [Package("tool", "1.0"), Package("tool", "2.0", timestamp=BASE_TIMESTAMP_MS + day)],
    )
    code = """
async def main(args):
    cutoff = datetime.datetime.fromtimestamp(args["cutoff"] / 1000, datetime.timezone.utc)
    return summary(await solve(args, exclude_newer=cutoff))
"""
    for cutoff, expected in [
        (BASE_TIMESTAMP_MS + day // 2, "1.0"),
        (BASE_TIMESTAMP_MS + day, "2.0"),
    ]:
        result = in_rattler(
            code, url=url, specs=["tool"], platform="linux-64", virtual=[], cutoff=cutoff
        )
        assert solved(result)["tool"]["version"] == expected


def test_a_synthetic_channel_of_thousands_solves_for_two_platforms(tmp_path: Path) -> None:
    packages = synthetic_channel_packages(1)
    assert len(packages) >= 2000
    started = time.perf_counter()
    url = write_channel(tmp_path, packages)
    written = time.perf_counter() - started
    repodata = [json.loads(path.read_text()) for path in tmp_path.glob("*/repodata.json")]
    assert sum(len(document["packages"]) for document in repodata) == len(packages)
    code = """
async def main(args):
    import time
    started = time.perf_counter()
    linux = await solve(args)
    osx = await solve({**args, "platform": "osx-arm64", "virtual": args["osx"],
                       "specs": ["python 3.12.*", "pytorch", "numpy"]})
    return {"linux": summary(linux), "osx": summary(osx), "seconds": time.perf_counter() - started}
"""
    specs = ["python 3.12.*", "pytorch * cuda*", "cuda-version 12.*", "numpy", "libcublas"]
    result = in_rattler(
        code, url=url, specs=specs, platform="linux-64", virtual=LINUX_CUDA, osx=OSX
    )
    assert "ok" in result, result
    print(
        f"{len(packages)} records: written in {written:.2f} s, "
        f"two platforms solved in {result['ok']['seconds']:.3f} s"
    )
    linux = {record["name"]: record for record in result["ok"]["linux"]}
    osx = {record["name"]: record for record in result["ok"]["osx"]}
    # The newest pytorch builds need glibc 2.34; with 2.28 the solver must pass them over.
    assert linux["pytorch"]["version"] == "2.4.4"
    assert linux["pytorch"]["build"].startswith("cuda12")
    assert linux["cuda-version"]["version"].startswith("12.")
    assert osx["pytorch"]["version"] == "2.5.4"
    assert osx["pytorch"]["build"].startswith("cpu_")
