"""Inference: class probabilities for an image file or every image in a folder.

Images are read with Pillow, converted to 28x28 grayscale and normalised exactly as the
training data was. Predictions go to CSV or JSON (chosen by the output file's suffix).
"""

import csv
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data import CLASSES
from .dataset import normalize

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def image_paths(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    paths = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {source}")
    return paths


def predict(model: torch.nn.Module, paths: list[Path], batch_size: int = 256) -> list[dict]:
    """One record per image: path, predicted class, and each class's probability."""
    records = []
    for start in range(0, len(paths), batch_size):
        batch = paths[start : start + batch_size]
        pixels = np.stack([_read(path) for path in batch])
        with torch.no_grad():
            probabilities = model(normalize(torch.from_numpy(pixels))).softmax(dim=1)
        for path, row in zip(batch, probabilities.tolist(), strict=True):
            best = max(range(len(row)), key=row.__getitem__)
            records.append(
                {
                    "path": str(path),
                    "prediction": CLASSES[best],
                    **{f"p_{name}": round(p, 6) for name, p in zip(CLASSES, row, strict=True)},
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


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L").resize((28, 28)), dtype=np.uint8)
