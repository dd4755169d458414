"""The data stages of any dataset, and what they share: arrays on disk and their lineage.

Stages, each recorded in <data.root>/manifest.json (data lineage), done by the configured
dataset's module (datasets/NAME.py):
  download    raw files from the configured source
  preprocess  raw files -> processed/{train,test}.npz (uint8 images, labels), then the
              data-quality figures (quality.py): <data.root>/quality/report.md
The Dataset reads the processed arrays; the last `val_size` training images are the
validation split.
"""

import gzip
import hashlib
import json
import os
import struct
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from . import datasets, quality
from .config import DataConfig
from .datasets import DatasetInfo
from .errors import InvalidInputError, MissingInputError, UserError


def download(config: DataConfig, config_hash: str) -> list[Path]:
    """Fetch the configured dataset's raw files; its module records them in the manifest."""
    return datasets.get(config.name).download(config, config_hash)


def preprocess(config: DataConfig, config_hash: str) -> list[Path]:
    """Turn the raw files into processed/{train,test}.npz, recorded in the manifest, and
    check that the data can be trusted: see `check_quality`."""
    dataset = datasets.get(config.name)
    paths = dataset.preprocess(config, config_hash)
    record_entry(Path(config.root), "dataset", config.name)  # whose arrays processed/ holds
    return paths + check_quality(config, dataset.INFO, config_hash)


def check_quality(config: DataConfig, info: DatasetInfo, config_hash: str) -> list[Path]:
    """Keep corrupt items out of the processed splits, then count, find duplicates and judge.

    The figures go to the data manifest and <root>/quality/; past a threshold of
    data.quality this raises, and training refuses the data until a preprocess passes.
    """
    root = Path(config.root)
    corrupt = {file: drop_corrupt(root, file, info, config_hash) for file in ("train", "test")}
    splits = {split: load_split(config, split) for split in quality.SPLITS}
    figures = quality.measure(splits, corrupt, info)
    failures = quality.judge(figures, config.quality)
    paths = quality.write_report(root / "quality", config.name, figures, failures)
    record_entry(root, "quality", quality.summary(figures, failures, paths[0].relative_to(root)))
    if failures:
        raise quality.DataQualityError(quality.failure_message(failures, paths[0]))
    if note := quality.normalisation_note(figures, info, _shown(datasets.get(config.name))):
        print(note, file=sys.stderr)
    return paths


def _shown(module: ModuleType) -> str:
    """Where a module's file is, from here when it is below."""
    path = Path(module.__file__).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def save_split(
    root: Path,
    split: str,
    images: np.ndarray,
    labels: np.ndarray,
    source: list[str],
    config_hash: str,
    corrupt: list[str] | None = None,
) -> Path:
    """Write processed/<split>.npz (uint8 images, integer labels) atomically and record it.

    `corrupt` names the items a dataset's module kept out because it could not read them,
    each with why (e.g. "raw/cat/7.png: not an image"), for the data-quality report.
    """
    if len(images) != len(labels):
        raise InvalidInputError(f"{split}: {len(images)} images but {len(labels)} labels")
    (root / "processed").mkdir(parents=True, exist_ok=True)
    output = root / "processed" / f"{split}.npz"
    temporary = output.with_suffix(".tmp.npz")
    np.savez(temporary, images=images, labels=labels, corrupt=np.array(corrupt or [], dtype=str))
    temporary.replace(output)
    record(root, output, source=source, config_hash=config_hash)
    return output


def drop_corrupt(root: Path, split: str, info: DatasetInfo, config_hash: str) -> list[str]:
    """Rewrite processed/<split>.npz without the items whose label is not a class.

    Returns every item kept out of it, with why: these, and those the dataset's module could
    not read (save_split's `corrupt`). Images of another shape than `info`'s are a mismatch
    between the module and its INFO, not corrupt data: an error.
    """
    path = root / "processed" / f"{split}.npz"
    with np.load(path) as arrays:
        images, labels = arrays["images"], arrays["labels"]
        corrupt = [str(item) for item in arrays["corrupt"]] if "corrupt" in arrays else []
    shape = (info.size, info.size) + ((info.channels,) if info.channels > 1 else ())
    if images.shape[1:] != shape:
        raise InvalidInputError(
            f"{path}: images of shape {images.shape[1:]}, but the dataset's INFO says {shape}: "
            "make the dataset's preprocess and its INFO agree"
        )
    outside = (labels < 0) | (labels >= len(info.classes))
    if not outside.any():
        return corrupt
    last = len(info.classes) - 1
    corrupt += [
        f"{split} item {i}: label {labels[i]} is not a class (0-{last})"
        for i in np.flatnonzero(outside)
    ]
    recorded = json.loads((root / "manifest.json").read_text())["files"]
    source = recorded[path.relative_to(root).as_posix()]["source"]
    save_split(root, split, images[~outside], labels[~outside], source, config_hash, corrupt)
    return corrupt


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
    if split not in {"train", "val", "test"}:
        raise InvalidInputError(f"split {split!r}: use train, val or test")
    source = "test" if split == "test" else "train"
    path = Path(config.root) / "processed" / f"{source}.npz"
    if not path.is_file():
        raise MissingInputError(
            f"{path} is missing: run `{__package__} download`, then `{__package__} preprocess`"
        )
    check_dataset(config)
    with np.load(path) as arrays:
        images, labels = arrays["images"], arrays["labels"]
    if split == "train":
        return images[: -config.val_size], labels[: -config.val_size]
    if split == "val":
        return images[-config.val_size :], labels[-config.val_size :]
    return images, labels


def manifest_path(config: DataConfig) -> Path:
    return Path(config.root) / "manifest.json"


def check_dataset(config: DataConfig) -> None:
    """Refuse processed arrays that another dataset's `preprocess` wrote under data.root:
    with the same shapes they would train and score silently on the wrong images."""
    path = manifest_path(config)
    made_by = json.loads(path.read_text()).get("dataset") if path.is_file() else None
    if made_by not in (None, config.name):  # (None: data of v0.12.10 and before)
        raise InvalidInputError(
            f"{Path(config.root) / 'processed'} holds the {made_by} dataset, not {config.name}. "
            f"Give each dataset a data.root of its own (e.g. data.root=data/{config.name}), "
            f"and run `{__package__} download` and `{__package__} preprocess` for it there"
        )


class DataChangedError(UserError, RuntimeError):
    """A data file differs from what the data manifest recorded for it."""


def verify(config: DataConfig) -> None:
    """Check that the data is prepared, then the files the data manifest records against
    their size and sha256, cheaply, and refuse data that failed its quality checks.

    A file whose size and modification time are as recorded is taken as unchanged; any
    other is hashed. Runs record the manifest's hashes, so data edited behind its back would
    make them lie. Files deleted since (e.g. raw downloads, to save space) are not checked.
    """
    processed = Path(config.root) / "processed" / "train.npz"
    if not processed.is_file():
        raise MissingInputError(
            f"{processed} is missing: run `{__package__} download` and `{__package__} "
            "preprocess` first, with the same --experiment, --smoke and data.* overrides as here"
        )
    path = manifest_path(config)
    if not path.is_file():
        return
    check_dataset(config)
    manifest = json.loads(path.read_text())
    if not manifest.get("quality", {}).get("passed", True):
        raise quality.DataQualityError(
            f"{path}: the data failed its quality checks at `preprocess` (see "
            f"{path.parent / manifest['quality']['report']}): fix the data, or loosen "
            "data.quality, and run `preprocess` again"
        )
    root, changed = path.parent, []
    for name, entry in manifest["files"].items():
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
            "`preprocess` (with the same options, e.g. --smoke) to record the data you mean to use"
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
    _write_manifest(manifest_file, manifest)


def record_entry(root: Path, key: str, value: str | dict) -> None:
    """Set an entry of the data manifest beside "files": "dataset" (the dataset whose arrays
    processed/ holds) or "quality" (the figures of the last `preprocess`)."""
    manifest_file = root / "manifest.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {"files": {}}
    manifest[key] = value
    _write_manifest(manifest_file, manifest)


def _write_manifest(path: Path, manifest: dict) -> None:
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    temporary.replace(path)


def _commit() -> str:
    from .manifest import commit  # in the Docker image: the commit it was built from

    return commit() or "unknown"
