"""Inference: class probabilities for an image file or every image in a folder.

Images are read with Pillow, turned upright as their camera recorded it, converted to the
training data's size and channels and normalised exactly as it was (the dataset's
DatasetInfo says how); a dataset of image files reads them with `read_image` too, so that
training and inference see an image alike. In a folder, files that are no image are
skipped and named. Predictions go to CSV or JSON (chosen by the output file's suffix).
"""

import csv
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .dataset import normalize
from .datasets import DatasetInfo
from .errors import InvalidInputError, MissingInputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
SKIPPED_FOLDER = "__MACOSX"  # the resource forks of archives made on a Mac, not images


class UnreadableImageError(InvalidInputError):
    """A file that is not an image Pillow can read (or a truncated one)."""


def check_output(path: Path, shown: str) -> None:
    """Refuse an output that `write` cannot write (`shown`: as the user typed it), before
    any work is done."""
    if path.is_dir():
        raise InvalidInputError(f"--output {shown} is a folder: name a .csv or .json file")
    if path.suffix.lower() not in {".csv", ".json"}:
        raise InvalidInputError(f"--output {shown}: predictions are written to a .csv or .json")


def image_paths(source: Path) -> list[Path]:
    """The image files of a folder (hidden files and __MACOSX/ left out), or the one file."""
    if source.is_file():
        return [source]
    if not source.exists():
        raise MissingInputError(f"{source}: no such image or folder")
    paths = sorted(
        path
        for path in source.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES
        and not path.name.startswith(".")
        and SKIPPED_FOLDER not in path.relative_to(source).parts
    )
    if not paths:
        raise MissingInputError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {source}")
    return paths


def predict(
    model: torch.nn.Module, info: DatasetInfo, paths: list[Path], batch_size: int = 256
) -> tuple[list[dict], list[tuple[Path, str]]]:
    """One record per image (path, predicted class, each class's probability), and the
    files that could not be read, each with why. None readable is an error."""
    records, classes, unreadable = [], info.classes, []
    for start in range(0, len(paths), batch_size):
        batch, images = [], []
        for path in paths[start : start + batch_size]:
            try:
                images.append(read_image(path, info))
            except UnreadableImageError as error:
                unreadable.append((path, str(error)))
                continue
            batch.append(path)
        if not batch:
            continue
        pixels = np.stack(images)
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
    if not records:
        lines = [f"{path}: {why}" for path, why in unreadable]
        raise UnreadableImageError("\n  ".join(["no image could be read:", *lines]))
    return records, unreadable


def write(records: list[dict], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".json":
        output.write_text(json.dumps(records, indent=2) + "\n")
        return
    with output.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def read_image(path: Path, info: DatasetInfo) -> np.ndarray:
    """An image file as the model sees it: uint8 pixels, upright (as its EXIF orientation
    says: photos are often stored on their side), of the dataset's size and channels."""
    try:
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image).convert("L" if info.channels == 1 else "RGB")
            return np.asarray(upright.resize((info.size,) * 2), dtype=np.uint8)
    except UnidentifiedImageError:
        raise UnreadableImageError("not an image that can be read") from None
    except (OSError, Image.DecompressionBombError) as error:  # truncated, or too large
        raise UnreadableImageError(f"not an image that can be read ({error})") from None
