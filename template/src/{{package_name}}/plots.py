"""Pictures of a run, written as PNG next to its metrics: look, don't guess.

matplotlib is imported inside the functions: commands that draw nothing stay fast.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def prediction_grid(images: np.ndarray, predicted: list[str], actual: list[str]) -> np.ndarray:
    """Up to 16 uint8 images (N, H, W[, 3]) in a 4x4 grid, each captioned 'predicted / actual'.

    Wrong predictions are captioned in red. Returns an RGB array (H, W, 3) for the tracker.
    """
    captions = [f"{p[:6]}/{a[:6]}" for p, a in zip(predicted, actual, strict=False)]
    return _grid(images, captions, [p != a for p, a in zip(predicted, actual, strict=False)])


def input_grid(images: np.ndarray, labels: list[str]) -> np.ndarray:
    """Up to 16 uint8 images (N, H, W[, 3]) in a 4x4 grid, each captioned with its label."""
    return _grid(images, [label[:13] for label in labels], [False] * len(labels))


def feature_maps(maps: np.ndarray) -> np.ndarray:
    """Up to 16 channels (C, H, W) of one activation, each scaled to its own range, in a grid."""
    low = maps.min(axis=(1, 2), keepdims=True)
    span = np.maximum(maps.max(axis=(1, 2), keepdims=True) - low, 1e-12)
    scaled = ((maps - low) / span * 255).astype(np.uint8)
    return _grid(scaled, [f"channel {index}" for index in range(len(scaled))], [False] * 16)


def _grid(images: np.ndarray, captions: list[str], highlight: list[bool]) -> np.ndarray:
    cell, caption, columns = 84, 14, 4
    count = min(len(images), 16)
    rows = (count + columns - 1) // columns
    canvas = Image.new("RGB", (columns * cell, rows * (cell + caption)), "white")
    draw = ImageDraw.Draw(canvas)
    for index in range(count):
        x, y = (index % columns) * cell, (index // columns) * (cell + caption)
        tile = _tile(Image.fromarray(images[index]), cell - 4).convert("RGB")
        margin = cell - 4 - tile.width, cell - 4 - tile.height  # centred in its cell
        canvas.paste(tile, (x + 2 + margin[0] // 2, y + 2 + margin[1] // 2))
        colour = "red" if highlight[index] else "black"
        draw.text((x + 2, y + cell), captions[index], fill=colour)
    return np.asarray(canvas)


def _tile(image: Image.Image, side: int) -> Image.Image:
    """A small image enlarged by a whole factor, each pixel an even square: what the model
    gets, not a blur of values it never sees. A larger one is shrunk smoothly to `side`."""
    if max(image.size) > side:
        return image.resize((side, side), Image.Resampling.BICUBIC)
    factor = side // max(image.size)
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


def subplots(*args, **kwargs):
    """matplotlib's `subplots`, drawing off screen (Agg): commands run on clusters and in CI,
    with no display. No layout engine, whatever the user's matplotlibrc: `save` lays out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, layout="none", **kwargs)


def save(figure, path: Path) -> None:
    """Lay the figure out so that no label is cut, write it as PNG and free it.

    The tight layout runs once, here: `figure.tight_layout()` would leave a placeholder
    layout engine behind, with which savefig lays out and draws the figure a second time
    (saving ~20% slower, for the same PNG).
    """
    import matplotlib.pyplot as plt
    from matplotlib.layout_engine import TightLayoutEngine

    TightLayoutEngine().execute(figure)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def confusion_matrix(matrix: np.ndarray, classes: tuple[str, ...], path: Path) -> None:
    """Rows are true classes, columns predictions; counts printed in each cell, but for the
    empty ones: the confusions stand out."""
    figure, axes = subplots(figsize=(8, 7))
    axes.imshow(matrix, cmap="Blues")
    axes.set(
        xticks=range(len(classes)),
        yticks=range(len(classes)),
        xlabel="predicted",
        ylabel="true",
        title="Confusion matrix",
    )
    axes.set_xticklabels(classes, rotation=45, ha="right")
    axes.set_yticklabels(classes)
    for (row, column), count in np.ndenumerate(matrix):
        if count == 0:
            continue
        axes.text(
            column,
            row,
            str(count),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if count > matrix.max() / 2 else "black",
        )
    save(figure, path)


def training_curves(records: list[dict], path: Path) -> None:
    """Training and validation loss, and validation accuracy, against the step."""
    figure, (loss_axes, accuracy_axes) = subplots(1, 2, figsize=(11, 4))
    for name, axes in (
        ("train/loss", loss_axes),
        ("val/loss", loss_axes),
        ("val/accuracy", accuracy_axes),
    ):
        points = [(r["step"], r[name]) for r in records if name in r]
        if points:
            axes.plot(*zip(*points, strict=True), label=name, marker="." if "val" in name else "")
    loss_axes.set(xlabel="step", ylabel="loss", title="Loss")
    accuracy_axes.set(xlabel="step", ylabel="accuracy", title="Validation accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.legend()
        axes.grid(alpha=0.3)
    save(figure, path)


def overlaid_curves(runs: dict[str, list[dict]], names: tuple[str, ...], path: Path) -> None:
    """One panel per metric name against the step, every run's curve in it: runs side by side."""
    figure, panels = subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for name, axes in zip(names, panels[0], strict=True):
        for run_id, records in runs.items():
            points = [(r["step"], r[name]) for r in records if name in r]
            if points:
                marker = "." if name.startswith("val") else ""
                axes.plot(*zip(*points, strict=True), label=run_id, marker=marker)
        axes.set(xlabel="step", ylabel=name, title=name)
        axes.grid(alpha=0.3)
    drawn = [axes for axes in panels[0] if axes.lines]
    if drawn:
        drawn[0].legend(title="run", fontsize=8)
    save(figure, path)
