"""Solve conda environments with py-rattler, in a process of its own.

`python -m scaffold.conda_solve` reads one JSON request on stdin and writes one JSON answer
on stdout. It runs apart from scaffold because py-rattler 0.28 sometimes aborts while the
interpreter exits after it has worked; here the process ends with `os._exit` once the
answer is flushed, and an abort could not take scaffold down with it anyway.

Request: {"channels": [name or URL, ...],
          "jobs": [{"platform": "linux-64", "specs": ["python 3.11.*", ...],
                    "virtual_packages": {"__cuda": "12.9", ...}}, ...]}
Answer:  {"solutions": [{"platform": ..., "records": [{"name", "version", "build",
          "build_number", "subdir", "depends", "url", "md5", "sha256", "size"}, ...]}, ...]}
     or  {"error": {"platform": ..., "kind": "unsolvable" | "invalid" | "unreachable",
                    "message": ...}}
"""

import asyncio
import json
import os
import sys
from typing import Any


def _virtual_packages(versions: dict[str, str]) -> list[Any]:
    from rattler import BuildString, GenericVirtualPackage, PackageName, Version

    return [
        GenericVirtualPackage(PackageName(name), Version(str(version)), BuildString("0"))
        for name, version in versions.items()
    ]


def _record(record: Any) -> dict[str, Any]:
    return {
        "name": record.name.normalized,
        "version": str(record.version),
        "build": str(record.build),
        "build_number": record.build_number,
        "subdir": record.subdir,
        "depends": list(record.depends),
        "url": record.url,
        "md5": record.md5.hex() if isinstance(record.md5, bytes) else record.md5,
        "sha256": record.sha256.hex() if isinstance(record.sha256, bytes) else record.sha256,
        "size": record.size,
    }


async def _solve(request: dict[str, Any]) -> dict[str, Any]:
    """Every platform at once, sharing one gateway: repodata (noarch) is read once, and the
    solves use both cores."""
    import rattler

    gateway = rattler.Gateway()
    answers = await asyncio.gather(
        *(_solve_job(gateway, request["channels"], job) for job in request["jobs"])
    )
    errors = [answer for answer in answers if "error" in answer]
    return errors[0] if errors else {"solutions": answers}


async def _solve_job(gateway: Any, channels: list[str], job: dict[str, Any]) -> dict[str, Any]:
    import rattler
    from rattler.exceptions import (
        FetchRepoDataError,
        GatewayError,
        InvalidChannelError,
        InvalidMatchSpecError,
        InvalidPackageNameError,
        InvalidVersionSpecError,
        IoError,
        SolverError,
    )

    invalid = (InvalidMatchSpecError, InvalidPackageNameError, InvalidVersionSpecError)
    unreachable = (FetchRepoDataError, GatewayError, InvalidChannelError, IoError)
    platform = job["platform"]
    try:
        records = await rattler.solve(
            sources=channels,
            specs=job["specs"],
            gateway=gateway,
            platforms=[platform, "noarch"],
            virtual_packages=_virtual_packages(job["virtual_packages"]),
            timestamp_policy="allow-missing",
        )
    except SolverError as error:
        return {"error": {"platform": platform, "kind": "unsolvable", "message": str(error)}}
    except invalid as error:
        return {"error": {"platform": platform, "kind": "invalid", "message": str(error)}}
    except unreachable as error:  # fetching repodata: network, missing channel, ...
        message = f"{type(error).__name__}: {error}"
        return {"error": {"platform": platform, "kind": "unreachable", "message": message}}
    return {"platform": platform, "records": [_record(record) for record in records]}


def main() -> None:
    answer = asyncio.run(_solve(json.load(sys.stdin)))
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
