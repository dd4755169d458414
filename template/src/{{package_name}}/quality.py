"""Data you can trust: what is in each split, what was kept out, and what is there twice.

A broken dataset still trains, just worse, and a test image that is also a training image
flatters every result. So `preprocess` measures the splits the model will see:
  counts      examples per split (train, val, test) and class, also as a bar plot
  corrupt     items kept out of the arrays: those the dataset's module could not read and
              those whose label is not one of the dataset's classes
  duplicates  identical images (the sha256 of their pixels) within a split, and val or test
              images that are also in an earlier split, where they leak the evaluation
  pixels      the training images' mean and std per channel, which the dataset's INFO
              should normalise with (a wrong one trains, just worse: it says so)
and stops when a figure crosses a threshold of `data.quality`. The figures go to the data
manifest ("quality"); the report that lists every item is <data.root>/quality/report.md.
"""

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from . import plots
from .config import DataQuality
from .datasets import DatasetInfo
from .errors import UserError

SPLITS = ("train", "val", "test")  # in order: a later split must not repeat an earlier one
# How far INFO's normalisation may be from the training images' before preprocess says so:
# the mean on pixels scaled to [0, 1], the std as a ratio.
MEAN_TOLERANCE, STD_RATIO_TOLERANCE = 0.05, 0.2


class DataQualityError(UserError, ValueError):
    """The data crosses a threshold of data.quality; the message says which and where to look."""


def image_hashes(images: np.ndarray) -> list[str]:
    """The sha256 of each image's bytes: equal images, equal hashes (70,000 in ~0.2 s)."""
    rows = np.ascontiguousarray(images).reshape(len(images), -1)
    return [hashlib.sha256(row).hexdigest() for row in rows]


def measure(
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    corrupt: dict[str, list[str]],
    info: DatasetInfo,
) -> dict[str, Any]:
    """The figures of the train, val and test `splits` (images, labels) and what was kept out.

    `corrupt` names, per processed file (train, test), the items kept out of it.
    Duplicates are listed as index pairs: (copy, first) within a split, and
    (index, earlier split, index there) across splits.
    """
    within, across, seen = {}, {}, {}  # seen: hash -> (split, index) of its first image
    for split in SPLITS:
        first_here: dict[str, int] = {}
        within[split], across[split] = [], []
        for index, digest in enumerate(image_hashes(splits[split][0])):
            if digest in first_here:
                within[split].append((index, first_here[digest]))
                continue
            first_here[digest] = index
            if digest in seen:
                across[split].append((index, *seen[digest]))
        for digest, index in first_here.items():
            seen.setdefault(digest, (split, index))
    return {
        "classes": list(info.classes),
        "counts": {
            split: np.bincount(labels, minlength=len(info.classes)).tolist()
            for split, (_, labels) in splits.items()
        },
        "corrupt": corrupt,
        "within_split_duplicates": within,
        "cross_split_duplicates": {split: across[split] for split in SPLITS[1:]},
        "pixels": pixel_statistics(splits["train"][0]),
    }


def pixel_statistics(images: np.ndarray, chunk: int = 1024) -> dict[str, list[float]]:
    """Mean and std per channel of uint8 images (N, H, W) or (N, H, W, C), scaled to [0, 1];
    empty lists for no images. Summed `chunk` images at a time: a float copy of a large
    dataset's pixels would not fit in memory."""
    channels = 1 if images.ndim == 3 else images.shape[-1]
    count, total, squares = 0, np.zeros(channels), np.zeros(channels)
    for start in range(0, len(images), chunk):
        pixels = images[start : start + chunk].reshape(-1, channels).astype(np.float64) / 255
        count += len(pixels)
        total += pixels.sum(axis=0)
        squares += np.square(pixels).sum(axis=0)
    if not count:
        return {"mean": [], "std": []}
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0))
    return {"mean": [round(float(v), 4) for v in mean], "std": [round(float(v), 4) for v in std]}


def normalisation_note(figures: dict[str, Any], info: DatasetInfo, module: str) -> str:
    """A note when INFO normalises with figures far from the training images' own; "" else."""
    measured = figures["pixels"]
    if not measured["mean"]:  # no training image: the counts' threshold says so
        return ""
    channels = zip(measured["mean"], measured["std"], info.mean, info.std, strict=True)
    off = any(
        abs(mean - info_mean) > MEAN_TOLERANCE or abs(std / info_std - 1) > STD_RATIO_TOLERANCE
        for mean, std, info_mean, info_std in channels
    )
    if not off:
        return ""
    return (
        f"note: INFO in {module} normalises with mean {tuple(info.mean)}, std {tuple(info.std)}; "
        f"the training images have mean {tuple(measured['mean'])}, std {tuple(measured['std'])}. "
        "Copy these into INFO, unless its figures are a pretrained model's."
    )


def judge(figures: dict[str, Any], thresholds: DataQuality) -> list[str]:
    """One line per threshold the figures cross, naming the number and the config key."""
    counts = {split: sum(per_class) for split, per_class in figures["counts"].items()}
    fractions = []  # (how many, of how many, what they are, the key of their threshold)
    for file, items in figures["corrupt"].items():
        total = len(items) + counts[file] + (counts["val"] if file == "train" else 0)
        what = f"{file} items are corrupt or unreadable"
        fractions.append((len(items), total, what, "max_corrupt_fraction"))
    for split, copies in figures["within_split_duplicates"].items():
        what = f"{split} images are copies of another {split} image"
        fractions.append((len(copies), counts[split], what, "max_within_split_fraction"))
    for split, leaks in figures["cross_split_duplicates"].items():
        what = f"{split} images are also in {' or '.join(SPLITS[: SPLITS.index(split)])}"
        fractions.append((len(leaks), counts[split], what, "max_cross_split_fraction"))
    failures = []
    for count, total, what, key in fractions:
        limit, fraction = getattr(thresholds, key), count / total if total else 0.0
        if fraction > limit:
            failures.append(
                f"{count} of {total} {what} ({fraction:.2%}), over data.quality.{key} = {limit}"
            )
    for split, per_class in figures["counts"].items():
        for name, count in zip(figures["classes"], per_class, strict=True):
            if count < thresholds.min_per_class:
                # val is the end of train.npz: a dataset written sorted by class leaves
                # the first classes out of it, which no threshold should accept.
                sorted_hint = (
                    " (val is the last data.val_size images of train.npz: write them shuffled)"
                    if split == "val" and count == 0
                    else ""
                )
                failures.append(
                    f"class {name!r} has {count} {split} examples, under "
                    f"data.quality.min_per_class = {thresholds.min_per_class}{sorted_hint}"
                )
    return failures


def summary(figures: dict[str, Any], failures: list[str], report: Path) -> dict[str, Any]:
    """The figures as the data manifest records them: counts, with the lists left to the report."""
    return {
        "passed": not failures,
        "failures": failures,
        "report": report.as_posix(),
        "classes": figures["classes"],
        "counts": figures["counts"],
        **{
            key: {split: len(items) for split, items in figures[key].items()}
            for key in ("corrupt", "within_split_duplicates", "cross_split_duplicates")
        },
        "pixels": figures["pixels"],
    }


def failure_message(failures: list[str], report: Path) -> str:
    key, limit = re.search(r"(data\.quality\.\w+) = (\S+)", failures[0]).groups()
    return (
        f"the data crosses {len(failures)} data-quality threshold(s):\n  "
        + "\n  ".join(failures)
        + f"\nEvery item is listed in {report}. Fix the data, or accept it with a looser "
        "threshold in configs/base.yaml (data.quality), or on the command line: add "
        f"`{key}=VALUE` to the same preprocess command (now {limit})."
    )


def write_report(
    directory: Path, dataset: str, figures: dict[str, Any], failures: list[str]
) -> list[Path]:
    """report.md, every figure and item in words, and class_counts.png; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    plot_class_counts(figures["classes"], figures["counts"], directory / "class_counts.png")
    counts = figures["counts"]
    lines = [
        f"# Data quality: {dataset}",
        "",
        f"Written by `{__package__} preprocess`; the data manifest holds the same figures.",
        "",
        "**Result**: "
        + ("passed" if not failures else "FAILED\n\n" + "\n".join(f"- {f}" for f in failures)),
        "",
        "## Examples per class",
        "",
        "![examples per class and split](class_counts.png)",
        "",
        "| class | " + " | ".join(SPLITS) + " |",
        "| --- |" + " ---: |" * len(SPLITS),
    ]
    for index, name in enumerate(figures["classes"]):
        lines.append(f"| {name} | " + " | ".join(str(counts[s][index]) for s in SPLITS) + " |")
    lines.append("| **total** | " + " | ".join(str(sum(counts[s])) for s in SPLITS) + " |")
    lines += ["", "## Corrupt or unreadable items, kept out of the arrays", ""]
    for file, items in figures["corrupt"].items():
        lines += [f"- {file}: {len(items)}", *(f"  - {item}" for item in items)]
    lines += ["", "## Duplicate images (same sha256 of the pixels)", ""]
    lines += ["Within a split, as (index of the copy, index of the first):", ""]
    for split, copies in figures["within_split_duplicates"].items():
        lines += [f"- {split}: {len(copies)}", *(f"  - {a}, {b}" for a, b in copies)]
    lines += [
        "",
        "Across splits, which leaks the evaluation, as (index, earlier split, index):",
        "",
    ]
    for split, leaks in figures["cross_split_duplicates"].items():
        lines += [f"- {split}: {len(leaks)}", *(f"  - {a}, {s}, {b}" for a, s, b in leaks)]
    pixels = figures["pixels"]
    lines += [
        "",
        "## Pixels of the training images, scaled to [0, 1]",
        "",
        f"Mean {pixels['mean']}, std {pixels['std']} per channel: the dataset's INFO",
        "should normalise with these (or with a pretrained model's own).",
    ]
    lines += [
        "",
        "Indices count from 0 in the splits the model sees: train and val are processed/train.npz",
        "before and from its last `data.val_size` images, test is processed/test.npz.",
    ]
    report = directory / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return [report, directory / "class_counts.png"]


def plot_class_counts(classes: list[str], counts: dict[str, list[int]], path: Path) -> None:
    """Grouped bars: one group per class, one bar per split; a starved class stands out."""
    figure, axes = plots.subplots(figsize=(max(6, 0.8 * len(classes)), 4))
    width = 0.8 / len(counts)
    for offset, (split, per_class) in enumerate(counts.items()):
        positions = np.arange(len(classes)) + (offset - (len(counts) - 1) / 2) * width
        axes.bar(positions, per_class, width, label=split)
    axes.set_xticks(range(len(classes)))
    axes.set_xticklabels(classes, rotation=45, ha="right")
    axes.set(ylabel="examples", title="Examples per class and split")
    axes.legend(loc="upper left", bbox_to_anchor=(1, 1))
    axes.grid(axis="y", alpha=0.3)
    plots.save(figure, path)
