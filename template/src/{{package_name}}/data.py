"""The data stages of any dataset, and what they share: arrays on disk and their lineage.

Stages, each recorded in <data.root>/manifest.json (data lineage), done by the configured
dataset's module (datasets/NAME.py):
  download    raw files from the configured source
  preprocess  raw files -> processed/{train,test}.npz (uint8 images, labels)
The Dataset reads the processed arrays; the last `val_size` training images are the
validation split.
"""

import gzip
import hashlib
import json
import os
import struct
import time
from pathlib import Path

import numpy as np

from . import datasets
from .config import DataConfig
from .errors import InvalidInputError, MissingInputError, UserError


def download(config: DataConfig, config_hash: str) -> list[Path]:
    """Fetch the configured dataset's raw files; its module records them in the manifest."""
    return datasets.get(config.name).download(config, config_hash)


def preprocess(config: DataConfig, config_hash: str) -> list[Path]:
    """Turn the raw files into processed/{train,test}.npz, recorded in the manifest."""
    return datasets.get(config.name).preprocess(config, config_hash)


def save_split(
    root: Path,
    split: str,
    images: np.ndarray,
    labels: np.ndarray,
    source: list[str],
    config_hash: str,
) -> Path:
    """Write processed/<split>.npz (uint8 images, integer labels) atomically and record it."""
    if len(images) != len(labels):
        raise InvalidInputError(f"{split}: {len(images)} images but {len(labels)} labels")
    (root / "processed").mkdir(parents=True, exist_ok=True)
    output = root / "processed" / f"{split}.npz"
    temporary = output.with_suffix(".tmp.npz")
    np.savez(temporary, images=images, labels=labels)
    temporary.replace(output)
    record(root, output, source=source, config_hash=config_hash)
    return output


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (the MNIST family's format): big-endian dims, then uint8 data."""
    with gzip.open(path, "rb") as stream:
        (magic,) = struct.unpack(">I", stream.read(4))
        if magic >> 8 != 0x08:
            raise InvalidInputError(f"{path}: not an idx file of unsigned bytes")
        dims = struct.unpack(f">{magic & 0xFF}I", stream.read(4 * (magic & 0xFF)))
        data = np.frombuffer(stream.read(), dtype=np.uint8)
    if data.size != int(np.prod(dims)):
        raise InvalidInputError(f"{path}: expected {int(np.prod(dims))} values, found {data.size}")
    return data.reshape(dims)


def load_split(config: DataConfig, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W[, C]) uint8 and labels (N,) of 'train', 'val' or 'test'."""
    source = "test" if split == "test" else "train"
    path = Path(config.root) / "processed" / f"{source}.npz"
    if not path.is_file():
        raise MissingInputError(f"{path} is missing: run `download` and `preprocess` first")
    with np.load(path) as arrays:
        images, labels = arrays["images"], arrays["labels"]
    if split == "train":
        return images[: -config.val_size], labels[: -config.val_size]
    if split == "val":
        return images[-config.val_size :], labels[-config.val_size :]
    return images, labels


def manifest_path(config: DataConfig) -> Path:
    return Path(config.root) / "manifest.json"


class DataChangedError(UserError, RuntimeError):
    """A data file differs from what the data manifest recorded for it."""


def verify(config: DataConfig) -> None:
    """Check the files the data manifest records against their size and sha256, cheaply.

    A file whose size and modification time are as recorded is taken as unchanged; any
    other is hashed. Runs record the manifest's hashes, so data edited behind its back would
    make them lie. Files deleted since (e.g. raw downloads, to save space) are not checked.
    """
    path = manifest_path(config)
    if not path.is_file():
        return
    root, changed = path.parent, []
    for name, entry in json.loads(path.read_text())["files"].items():
        file = root / name
        if not file.is_file():
            continue
        stat = file.stat()
        if stat.st_size == entry["size"] and stat.st_mtime_ns == entry.get("mtime_ns"):
            continue
        if stat.st_size != entry["size"] or sha256_of(file) != entry["sha256"]:
            changed.append(str(file))
    if changed:
        raise DataChangedError(
            f"{', '.join(changed)} changed since {path} recorded it: rerun `download` and "
            "`preprocess` (with the same options) to record the data you mean to use"
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def record(root: Path, path: Path, source: list[str], config_hash: str, md5: str = "") -> None:
    """Add or refresh `path`'s entry in the data manifest (written atomically)."""
    manifest_file = root / "manifest.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {"files": {}}
    entry = {
        "source": source,
        "sha256": sha256_of(path),
        "size": path.stat().st_size,
        "mtime_ns": path.stat().st_mtime_ns,  # lets `verify` skip hashing an unchanged file
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "code_commit": _commit(),
        "config_hash": config_hash,
    }
    if md5:
        entry["md5"] = md5
    manifest["files"][path.relative_to(root).as_posix()] = entry
    temporary = manifest_file.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    temporary.replace(manifest_file)


def _commit() -> str:
    from .manifest import commit  # in the Docker image: the commit it was built from

    return commit() or "unknown"
