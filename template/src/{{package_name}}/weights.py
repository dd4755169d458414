"""Pretrained weights are inputs like data: named in the config, fetched ahead, verified.

configs/base.yaml's `weights:` names external checkpoints by URL and sha256. `fetch-weights`
downloads them into `weights_dir` (resumable, verified; never at train time, so compute
nodes without internet can train) and records each in <weights_dir>/manifest.json. Where
a name is expected, a path to a .pt file works too. A weight file may be one of this
project's checkpoints, its model.pt, or any file holding a state dict.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config, ConfigError
from .download import digest_of, fetch_verified
from .errors import InvalidInputError, MissingInputError

if TYPE_CHECKING:  # torch is imported where it is used: fetch-weights does not need it
    import torch


def fetch(config: Config, names: list[str]) -> list[Path]:
    """Download the named weights (all configured ones when `names` is empty); record them."""
    unknown = sorted(set(names) - set(config.weights))
    if unknown:
        raise ConfigError(f"no weights named {', '.join(unknown)} in `weights`: {_known(config)}")
    paths = []
    for name in names or sorted(config.weights):
        source = config.weights[name]
        if not re.fullmatch(r"[0-9a-fA-F]{64}", source.sha256):
            raise ConfigError(
                f"weights.{name}.sha256 is {source.sha256!r}, not 64 hexadecimal digits "
                '(quote it in YAML: sha256: "0123...", or digits alone read as a number)'
            )
        path = fetch_verified(
            [source.url],
            local_path(config, name),
            source.sha256.lower(),
            algorithm="sha256",
            offline_hint=f"Copy the file to {local_path(config, name)} from a machine that can.",
        )
        _record(config, name, path)
        paths.append(path)
    return paths


def local_path(config: Config, name: str) -> Path:
    """Where `fetch` puts weights `name`: <weights_dir>/<name>/<the URL's file name>."""
    file_name = config.weights[name].url.rstrip("/").rsplit("/", 1)[-1] or "weights.pt"
    return Path(config.weights_dir) / name / file_name


def resolve(config: Config, reference: str) -> dict[str, Any]:
    """A name in `weights` (fetched) or a path: its path, source, sha256 and size.

    What run manifests record, so a result names the exact weights it started from.
    """
    if reference in config.weights:
        path = local_path(config, reference)
        if not path.is_file():
            raise MissingInputError(
                f"weights {reference!r} are not fetched yet: run `fetch-weights {reference}`"
            )
        source, expected = config.weights[reference].url, config.weights[reference].sha256
    elif Path(reference).is_file():
        path, source, expected = Path(reference), str(Path(reference).resolve()), None
    else:
        close = difflib.get_close_matches(reference, list(config.weights), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise MissingInputError(
            f"{reference!r} is neither a weight file nor a name in `weights`: {hint}"
            f"{_known(config)}; a run's own weights are used with `eval RUN` and `infer "
            "IMAGES --run RUN`"
        )
    stat = path.stat()
    sha256 = _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if expected and sha256 != expected.lower():
        raise InvalidInputError(
            f"{path} has sha256 {sha256}, not the configured {expected}: either the file "
            f"changed (delete it, then `fetch-weights {reference}`), or the configured sha256 "
            f"is wrong (check it in configs/base.yaml's weights.{reference})"
        )
    return {
        "name": reference,
        "path": str(path),
        "source": source,
        "sha256": sha256,
        "size": path.stat().st_size,
    }


@functools.cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """Hashed once per process while the file is unchanged: a run's manifest and its
    initialisation both resolve the weights, and large files take seconds to hash."""
    return digest_of(Path(path), "sha256")


def state_dict(path: Path, device: torch.device) -> dict[str, torch.Tensor]:
    """The model's tensors in a weight file: a checkpoint's `model`, or the file's dict."""
    import torch

    try:
        loaded = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # noqa: BLE001 (torch raises many types for a bad file)
        raise InvalidInputError(
            f"{path} is not a weight file that loads safely (torch.load with weights_only=True "
            f"failed: {type(error).__name__}): it should hold tensors, e.g. a state dict"
        ) from None
    for key in ("model", "state_dict"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            return loaded[key]
    if not isinstance(loaded, dict):
        raise InvalidInputError(f"{path} holds a {type(loaded).__name__}, not a state dict")
    return loaded


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """Copy every tensor whose name and shape match; report what matched and what did not."""
    own = model.state_dict()
    mismatched = [k for k in state if k in own and state[k].shape != own[k].shape]
    usable = {k: v for k, v in state.items() if k in own and k not in mismatched}
    model.load_state_dict(usable, strict=False)
    return {
        "matched": sorted(usable),
        "missing": sorted(set(own) - set(usable) - set(mismatched)),
        "unexpected": sorted(set(state) - set(own)),
        "mismatched": sorted(mismatched),
    }


def initialise(model: torch.nn.Module, config: Config, device: torch.device) -> dict[str, Any]:
    """Start `model` from `model.init_from`; return the weights' identity and the key report.

    Partial matches are allowed (fine-tuning a new head is the common case), and reported.
    """
    described = resolve(config, config.model.init_from)
    report = load_into(model, state_dict(Path(described["path"]), device))
    if not report["matched"]:
        raise InvalidInputError(
            f"model.init_from={config.model.init_from}: none of its tensors fit model "
            f"{config.model.name!r} (unexpected: {', '.join(report['unexpected'][:5])})"
        )
    return {**described, **report}


def summary(report: dict[str, Any]) -> str:
    """One paragraph: how many tensors matched, and the names of those that did not."""
    total = sum(len(report[kind]) for kind in ("matched", "missing", "mismatched"))
    lines = [
        f"init_from {report['name']} (sha256 {report['sha256'][:12]}): "
        f"{len(report['matched'])} of the model's {total} tensors loaded"
    ]
    for kind in ("missing", "unexpected", "mismatched"):
        if report[kind]:
            lines.append(f"  {kind} ({len(report[kind])}): {', '.join(report[kind])}")
    return "\n".join(lines)


def _record(config: Config, name: str, path: Path) -> None:
    manifest_file = Path(config.weights_dir) / "manifest.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    manifest[name] = {
        "source": config.weights[name].url,
        "sha256": config.weights[name].sha256.lower(),
        "size": path.stat().st_size,
        "path": path.relative_to(config.weights_dir).as_posix(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    temporary = manifest_file.with_suffix(f".{os.getpid()}.tmp")  # two fetches at once
    temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    temporary.replace(manifest_file)


def _known(config: Config) -> str:
    names = ", ".join(sorted(config.weights)) or "none configured"
    return f"known names: {names} (configs/base.yaml's `weights`)"
