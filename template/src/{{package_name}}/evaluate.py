"""Evaluation on the test split: metrics.json, a confusion matrix and the training curves.

"First build the ruler": these numbers are what experiments are compared by, so they
are computed the same way for every run, on data the run never trained or selected on.
"""

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from . import checkpoint
from .config import from_yaml
from .data import CLASSES
from .dataset import make_dataset
from .model import ConvNet
from .plots import confusion_matrix, training_curves
from .tracking import read_metrics


def evaluate_run(run_dir: Path, split: str = "test", weights: str = "best") -> dict:
    """Score a run's `best` (lowest validation loss) or `last` weights; write metrics and plots."""
    config = from_yaml(run_dir / "config.yaml")
    model = load_model(run_dir, weights)
    dataset = make_dataset(config.data, split)

    matrix = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    total_loss = 0.0
    with torch.no_grad():
        for images, labels in DataLoader(dataset, batch_size=512):
            logits = model(images)
            total_loss += torch.nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            np.add.at(matrix, (labels.numpy(), logits.argmax(dim=1).numpy()), 1)

    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    metrics = {
        "split": split,
        "weights": weights,
        "examples": int(matrix.sum()),
        "loss": total_loss / len(dataset),
        "accuracy": float(matrix.diagonal().sum() / matrix.sum()),
        "per_class_accuracy": dict(zip(CLASSES, per_class.round(4).tolist(), strict=True)),
    }
    out = run_dir / "eval"
    out.mkdir(exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    confusion_matrix(matrix, CLASSES, out / "confusion_matrix.png")
    training_curves(read_metrics(run_dir), out / "training_curves.png")
    return metrics


def load_model(run_dir: Path, weights: str = "best") -> ConvNet:
    """The run's model in eval mode on the CPU: best.pt, else the final model.pt."""
    config = from_yaml(run_dir / "config.yaml")
    model = ConvNet(config.model, num_classes=len(CLASSES))
    best = run_dir / "checkpoints" / "best.pt"
    if weights == "best" and best.is_file():
        state = checkpoint.load(best, torch.device("cpu"))["model"]
    else:
        state = torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def compare(metrics: dict, baseline_dir: Path) -> dict:
    """This run's metrics against a baseline run's (evaluated on the same split)."""
    path = baseline_dir / "eval" / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: evaluate the baseline run first")
    baseline = json.loads(path.read_text())
    if baseline["split"] != metrics["split"]:
        raise ValueError(
            f"the baseline was evaluated on {baseline['split']}, not {metrics['split']}"
        )
    return {
        "baseline": baseline_dir.name,
        "delta": {key: metrics[key] - baseline[key] for key in ("accuracy", "loss")},
        "per_class_delta": {
            name: round(
                metrics["per_class_accuracy"][name] - baseline["per_class_accuracy"][name], 4
            )
            for name in CLASSES
        },
    }
