"""Fashion-MNIST: download, preprocess, and the Dataset the training loop reads.

Stages, each recorded in <data.root>/manifest.json (data lineage):
  download    raw/*.gz from the configured mirrors, md5-verified
  preprocess  raw idx files -> processed/{train,test}.npz (uint8 images, labels)
The Dataset reads the processed arrays; the last `val_size` training images are the
validation split.
"""

import gzip
import hashlib
import json
import os
import struct
import subprocess
import time
from pathlib import Path

import numpy as np

from .config import DataConfig
from .download import fetch

CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
MEAN, STD = 0.2860, 0.3530  # of the Fashion-MNIST training images, for normalisation
SPLITS = {"train": "train", "test": "t10k"}


def download(config: DataConfig, config_hash: str) -> list[Path]:
    """Fetch every raw file and record it in the data manifest."""
    root = Path(config.root)
    paths = []
    for name, md5 in config.files.items():
        path = fetch(name, config.mirrors, md5, root / "raw")
        _record(root, path, source=config.mirrors, config_hash=config_hash, md5=md5)
        paths.append(path)
    return paths


def preprocess(config: DataConfig, config_hash: str) -> list[Path]:
    """Decode the raw idx files into compact arrays and record them in the manifest."""
    root = Path(config.root)
    missing = [name for name in config.files if not (root / "raw" / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{root / 'raw'} lacks {', '.join(missing)}: run `{__package__} download` first, "
            "with the same options (e.g. --smoke)"
        )
    (root / "processed").mkdir(parents=True, exist_ok=True)
    outputs = []
    for split, prefix in SPLITS.items():
        images = read_idx(root / "raw" / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(root / "raw" / f"{prefix}-labels-idx1-ubyte.gz")
        if len(images) != len(labels):
            raise ValueError(f"{split}: {len(images)} images but {len(labels)} labels")
        output = root / "processed" / f"{split}.npz"
        temporary = output.with_suffix(".tmp.npz")
        np.savez(temporary, images=images, labels=labels)
        temporary.replace(output)
        _record(root, output, source=[f"raw/{prefix}-*-idx?-ubyte.gz"], config_hash=config_hash)
        outputs.append(output)
    return outputs


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (the MNIST family's format): big-endian dims, then uint8 data."""
    with gzip.open(path, "rb") as stream:
        (magic,) = struct.unpack(">I", stream.read(4))
        if magic >> 8 != 0x08:
            raise ValueError(f"{path}: not an idx file of unsigned bytes")
        dims = struct.unpack(f">{magic & 0xFF}I", stream.read(4 * (magic & 0xFF)))
        data = np.frombuffer(stream.read(), dtype=np.uint8)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {int(np.prod(dims))} values, found {data.size}")
    return data.reshape(dims)


def load_split(config: DataConfig, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) of 'train', 'val' or 'test'."""
    source = "test" if split == "test" else "train"
    path = Path(config.root) / "processed" / f"{source}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `download` and `preprocess` first")
    with np.load(path) as arrays:
        images, labels = arrays["images"], arrays["labels"]
    if split == "train":
        return images[: -config.val_size], labels[: -config.val_size]
    if split == "val":
        return images[-config.val_size :], labels[-config.val_size :]
    return images, labels


def manifest_path(config: DataConfig) -> Path:
    return Path(config.root) / "manifest.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _record(root: Path, path: Path, source: list[str], config_hash: str, md5: str = "") -> None:
    """Add or refresh `path`'s entry in the data manifest (written atomically)."""
    manifest_file = root / "manifest.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {"files": {}}
    entry = {
        "source": source,
        "sha256": sha256_of(path),
        "size": path.stat().st_size,
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
    result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown"
