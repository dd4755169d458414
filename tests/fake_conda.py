"""A conda stand-in backed by py-rattler: enough of micromamba for conda-lock, offline.

conda-lock needs a conda, mamba or micromamba executable to solve, and none can be had here.
This script answers the calls that `conda-lock lock` and `conda-lock install` make:

    fake_conda.py --version
    fake_conda.py create --prefix P --dry-run --json --override-channels --channel C ... SPECS
    fake_conda.py create [--quiet] --file EXPLICIT --yes --prefix P
    fake_conda.py config --json list pkgs_dirs

A dry run solves SPECS for ``$CONDA_SUBDIR`` (and noarch) with the virtual packages that
``$CONDA_OVERRIDE_*`` name (``CONDA_OVERRIDE_CUDA=12.9`` is ``__cuda 12.9``; empty means
absent, as conda-lock sets them), and prints ``{"actions": {"FETCH": [...], "LINK": [...]}}``
with every repodata field conda-lock reads (name, version, url, md5, sha256, depends).
conda-lock also passes a channel of its own holding the virtual packages as records; such
records are left out of the answer, as conda leaves them out of a plan.

conda-lock picks its micromamba code paths by the executable's name, so run this through a
wrapper named ``micromamba`` (see :func:`write_wrapper`). The process ends with ``os._exit``:
py-rattler 0.28 may abort while the interpreter exits (FACTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

VERSION = "2.0.0"  # conda-lock wants micromamba >= 0.17; it only parses this number


def write_wrapper(directory: Path, python: str = sys.executable) -> Path:
    """Write ``directory/micromamba``, a shell script running this file with `python`."""
    wrapper = directory / "micromamba"
    wrapper.write_text(f'#!/bin/sh\nexec "{python}" "{Path(__file__).resolve()}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def virtual_packages(environ: dict[str, str]) -> list[Any]:
    """``CONDA_OVERRIDE_GLIBC=2.28`` -> ``__glibc 2.28``; archspec's value is a build string."""
    from rattler import BuildString, GenericVirtualPackage, PackageName, Version

    packages = []
    for variable, value in sorted(environ.items()):
        if not variable.startswith("CONDA_OVERRIDE_") or not value:
            continue
        name = "__" + variable.removeprefix("CONDA_OVERRIDE_").lower()
        version, build = ("1", value) if name == "__archspec" else (value, "0")
        packages.append(
            GenericVirtualPackage(PackageName(name), Version(version), BuildString(build))
        )
    return packages


def fetch_action(record: Any) -> dict[str, Any]:
    """A record as conda prints it in a dry run's FETCH list (repodata fields and url)."""
    url = str(record.url)
    return {
        "name": record.name.normalized,
        "version": str(record.version),
        "build": str(record.build),
        "build_number": record.build_number,
        "channel": url.rsplit("/", 2)[0],
        "subdir": record.subdir,
        "fn": record.file_name,
        "url": url,
        "md5": record.md5.hex() if record.md5 else "",
        "sha256": record.sha256.hex() if record.sha256 else None,
        "depends": list(record.depends),
        "constrains": list(record.constrains),
        "size": record.size,
        "timestamp": int(record.timestamp.timestamp() * 1000) if record.timestamp else 0,
    }


def link_action(fetch: dict[str, Any]) -> dict[str, Any]:
    dist_name = fetch["fn"].removesuffix(".tar.bz2").removesuffix(".conda")
    keys = ("name", "version", "build", "build_number", "channel", "subdir")
    return {
        **{key: fetch[key] for key in keys},
        "base_url": fetch["channel"],
        "dist_name": dist_name,
        "platform": fetch["subdir"],
    }


async def dry_run(channels: list[str], specs: list[str]) -> dict[str, Any]:
    import rattler

    subdir = os.environ.get("CONDA_SUBDIR") or str(rattler.Platform.current())
    records = await rattler.solve(
        sources=channels,
        specs=specs,
        platforms=[subdir, "noarch"],
        virtual_packages=virtual_packages(dict(os.environ)),
        timestamp_policy="allow-missing",
    )
    fetch = [fetch_action(r) for r in records if not r.name.normalized.startswith("__")]
    return {
        "success": True,
        "dry_run": True,
        "prefix": "",
        "actions": {"FETCH": fetch, "LINK": [link_action(f) for f in fetch]},
    }


async def install_explicit(explicit: Path, prefix: Path) -> None:
    """Install an explicit lock (``URL#md5`` lines): exactly those records, no solve."""
    import rattler

    urls = [
        line.split("#", 1)[0]
        for line in explicit.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith(("#", "@"))
    ]
    channels = sorted({url.rsplit("/", 2)[0] for url in urls})
    subdirs = sorted({url.rsplit("/", 2)[1] for url in urls} | {"noarch"})
    names = sorted({url.rsplit("/", 1)[1].rsplit("-", 2)[0] for url in urls})
    found = await rattler.Gateway().query(channels, subdirs, names, recursive=False)
    by_url = {str(record.url): record for group in found for record in group}
    missing = [url for url in urls if url not in by_url]
    if missing:
        raise LookupError(f"not in the channels: {', '.join(missing)}")
    await rattler.install([by_url[url] for url in urls], target_prefix=prefix, show_progress=False)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="micromamba")
    parser.add_argument("--version", action="store_true")
    parser.add_argument("command", nargs="?", choices=["create", "config"])
    parser.add_argument("specs", nargs="*")
    parser.add_argument("-p", "--prefix")
    parser.add_argument("-n", "--name")
    parser.add_argument("-c", "--channel", action="append", default=[])
    parser.add_argument("-f", "--file", type=Path)
    for flag in ("--dry-run", "--json", "--override-channels", "--yes", "-y", "--quiet", "-q"):
        parser.add_argument(flag, action="store_true")
    return parser.parse_intermixed_args(argv)


def run(argv: list[str]) -> int:
    args = parse(argv)
    if args.version:
        print(VERSION)
    elif args.command == "config":  # `config --json list pkgs_dirs`: a cache nobody fills
        print(json.dumps({"pkgs_dirs": [str(Path(tempfile.gettempdir()) / "fake-conda-pkgs")]}))
    elif args.command == "create" and args.dry_run:
        try:
            answer = asyncio.run(dry_run(args.channel, args.specs))
        except Exception as error:  # conda's way: a JSON message on stdout, exit status 1
            print(json.dumps({"success": False, "message": f"{type(error).__name__}: {error}"}))
            return 1
        print(json.dumps(answer))
    elif args.command == "create" and args.file and args.prefix:
        asyncio.run(install_explicit(args.file, Path(args.prefix)))
    else:
        print(f"fake_conda: unsupported call {argv}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        status = run(sys.argv[1:])
    except Exception as error:  # e.g. an install that fails: say why, and still _exit
        print(f"fake_conda: {type(error).__name__}: {error}", file=sys.stderr)
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
