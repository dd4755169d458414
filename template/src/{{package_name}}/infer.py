"""Inference: class probabilities for an image file or every image in a folder.

Images are read with Pillow, converted to the training data's size and channels and
normalised exactly as it was (the dataset's DatasetInfo says how). Predictions go to CSV
or JSON (chosen by the output file's suffix).
"""

import csv
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .dataset import normalize
from .datasets import DatasetInfo
from .errors import InvalidInputError, MissingInputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def image_paths(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    paths = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise MissingInputError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {source}")
    return paths


def predict(
    model: torch.nn.Module, info: DatasetInfo, paths: list[Path], batch_size: int = 256
) -> list[dict]:
    """One record per image: path, predicted class, and each class's probability."""
    records, classes = [], info.classes
    for start in range(0, len(paths), batch_size):
        batch = paths[start : start + batch_size]
        pixels = np.stack([_read(path, info) for path in batch])
        with torch.no_grad():
            probabilities = model(normalize(torch.from_numpy(pixels), info)).softmax(dim=1)
        for path, row in zip(batch, probabilities.tolist(), strict=True):
            best = max(range(len(row)), key=row.__getitem__)
            records.append(
                {
                    "path": str(path),
                    "prediction": classes[best],
                    **{f"p_{name}": round(p, 6) for name, p in zip(classes, row, strict=True)},
                }
            )
    return records


def write(records: list[dict], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".json":
        output.write_text(json.dumps(records, indent=2) + "\n")
        return
    with output.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def _read(path: Path, info: DatasetInfo) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image = image.convert("L" if info.channels == 1 else "RGB").resize((info.size,) * 2)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as error:  # not an image, or a truncated one
        raise InvalidInputError(f"{path}: not an image that can be read ({error})") from None
