"""Evaluation on the test split: metrics.json, a confusion matrix and the training curves.

"First build the ruler": these numbers are what experiments are compared by, so they
are computed the same way for every run, on data the run never trained or selected on.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from . import checkpoint, models
from .config import Config, from_yaml, to_yaml
from .dataset import make_dataset, unnormalize
from .datasets import DatasetInfo, info
from .errors import InvalidInputError, MissingInputError
from .plots import confusion_matrix, prediction_grid, training_curves
from .runs import last_attempt, read_metrics


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    dataset: TensorDataset,
    num_classes: int,
    device: torch.device,
    autocast_dtype: torch.dtype | None,
    batch_size: int = 512,
) -> dict:
    """Loss, accuracy, confusion matrix and predictions of `model` on `dataset`.

    The one routine behind validation during training and `eval`: the same device,
    precision and arithmetic, so their numbers agree.
    """
    training = model.training
    model.eval()
    total_loss, matrix, predictions = 0.0, np.zeros((num_classes, num_classes), np.int64), []
    # A generator of its own: one drawn from the global generator would make how often a run
    # validates change its dropout masks, and so what it learns.
    for images, labels in DataLoader(dataset, batch_size=batch_size, generator=torch.Generator()):
        images, labels = images.to(device), labels.to(device)
        with torch.autocast(
            device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None
        ):
            logits = model(images)
        total_loss += F.cross_entropy(logits.float(), labels, reduction="sum").item()
        predicted = logits.argmax(dim=1).cpu()
        np.add.at(matrix, (labels.cpu().numpy(), predicted.numpy()), 1)
        predictions.append(predicted)
    model.train(training)
    return {
        "loss": total_loss / len(dataset),
        "accuracy": float(matrix.diagonal().sum() / max(matrix.sum(), 1)),
        "matrix": matrix,
        "predicted": torch.cat(predictions),
    }


def predictions_grid(dataset: TensorDataset, predicted: torch.Tensor, info: DatasetInfo):
    """The first 16 images of `dataset`, captioned 'predicted / actual', as an RGB array."""
    images, labels = dataset.tensors
    return prediction_grid(
        unnormalize(images[:16], info).numpy(),
        [info.classes[i] for i in predicted[:16].tolist()],
        [info.classes[i] for i in labels[:16].tolist()],
    )


def autocast_type(precision: str, device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype for this device, or None for plain fp32.

    'auto' picks bf16 on CUDA GPUs that support it (no loss scaling needed), fp32 elsewhere.
    """
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if precision == "bf16" else torch.float16


def evaluate_run(run_dir: Path, split: str = "test", weights: str = "best") -> dict:
    """Score a run's `best` (lowest validation loss) or `last` weights; write metrics and plots.

    Scored as validation was during training: on the GPU when there is one, at the run's
    precision (train.precision).
    """
    config = from_yaml(run_dir / "config.yaml")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    state, source, step = read_weights(run_dir, weights, device)
    model = with_weights(run_dir, config, state, device)
    classes = info(config.data).classes
    result = evaluate(
        model,
        make_dataset(config.data, split),
        len(classes),
        device,
        autocast_type(config.train.precision, device),
    )
    matrix = result["matrix"]
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    metrics = {
        "split": split,
        "weights": weights,
        "weights_file": source.relative_to(run_dir).as_posix(),  # what was scored, exactly
        "step": step,
        "examples": int(matrix.sum()),
        "loss": result["loss"],
        "accuracy": result["accuracy"],
        "per_class_accuracy": dict(zip(classes, per_class.round(4).tolist(), strict=True)),
    }
    out = eval_dir(run_dir, split, weights)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    confusion_matrix(matrix, classes, out / "confusion_matrix.png")
    if records := read_metrics(run_dir):  # (weights from elsewhere have no training here)
        training_curves(records, out / "training_curves.png")
    return metrics


def eval_dir(run_dir: Path, split: str, weights: str) -> Path:
    """Where an evaluation's figures go: eval/ for the headline one (the test split, best
    weights), which `runs` and `compare` read; eval/SPLIT-WEIGHTS/ for any other, so that
    scoring the validation split or the last weights never overwrites it."""
    headline = split == "test" and weights == "best"
    return run_dir / "eval" if headline else run_dir / "eval" / f"{split}-{weights}"


def load_model(
    run_dir: Path,
    weights: str = "best",
    device: torch.device | None = None,
    config: Config | None = None,
) -> torch.nn.Module:
    """The run's model in eval mode (on the CPU by default), with its `best` or `last`
    weights (`read_weights`). `config` is the run's, when the caller has read it already."""
    device = device or torch.device("cpu")
    config = config or from_yaml(run_dir / "config.yaml")
    state, _, _ = read_weights(run_dir, weights, device)
    return with_weights(run_dir, config, state, device)


def read_weights(
    run_dir: Path, weights: str, device: torch.device
) -> tuple[dict[str, torch.Tensor], Path, int | None]:
    """The state dict of the run's `best` or `last` weights, the file it came from, and the
    step it was saved at (None for weights this repo did not train).

    `best` is the checkpoint of lowest validation loss, `last` the final weights. A run
    stopped early (preempted, Ctrl-C) has no final weights yet: `last` is then its newest
    intact checkpoint, and so is `best` before its first validation.
    """
    if weights not in {"best", "last"}:
        raise InvalidInputError(f"--weights must be best or last, not {weights!r}")
    best, final = run_dir / "checkpoints" / "best.pt", run_dir / "model.pt"

    def instead(other: Path, option: str) -> str:
        """The way on from damaged weights: the other weights, where they load."""
        if other.is_file() and checkpoint.loads(other, device):
            which = "final" if option == "last" else "best"
            return f"use the {which} weights (--weights {option})"
        return f"train it again (`rerun {run_dir.name}`)"

    if weights == "best" and best.is_file():
        saved = checkpoint.load_named(best, device, lambda: instead(final, "last"))
        return saved["model"], best, saved["step"]
    if final.is_file():  # saved after the last step
        records = read_metrics(run_dir)  # (none for weights from elsewhere)
        step = records[-1]["step"] if records else None
        return checkpoint.load_named(final, device, lambda: instead(best, "best")), final, step
    if found := checkpoint.load_newest_intact(run_dir / "checkpoints", device):
        saved, path = found
        print(f"note: {run_dir.name} did not finish: using {path.name}", file=sys.stderr)
        return saved["model"], path, saved["step"]
    attempt = last_attempt(run_dir) or {}
    if attempt.get("status") == "failed" and attempt.get("error"):
        cause = attempt["error"].strip().splitlines()[-1]
        why = (
            f"it failed before its first checkpoint ({cause}): train again once that is "
            f"fixed (`rerun {run_dir.name}` repeats its config)"
        )
    else:
        why = (
            "it stopped before its first checkpoint, or has just begun: train it again "
            f"(`rerun {run_dir.name}`)"
        )
    raise MissingInputError(
        f"{run_dir.name} has no weights (no model.pt, no checkpoint): {why}, or pick "
        "another run (`runs` lists them)"
    )


def with_weights(
    run_dir: Path, config: Config, state: dict[str, torch.Tensor], device: torch.device
) -> torch.nn.Module:
    """The model the run's config describes, holding `state`, in eval mode on `device`."""
    model = models.build(config.model, info(config.data))
    try:
        model.load_state_dict(state)
    except RuntimeError as error:  # today's code builds another model than the run trained
        commit = ((last_attempt(run_dir) or {}).get("git") or {}).get("commit") or "COMMIT"
        detail = " ".join(str(error).split("\n", 1)[-1].split())
        raise InvalidInputError(
            f"{run_dir.name}'s weights do not fit the model as the code builds it now "
            f"({detail[:200]}{'...' if len(detail) > 200 else ''}): the code changed since "
            f"the run. Use the code the run used: `reproduce {run_dir.name}` rebuilds and "
            f"retrains it, or `git worktree add ../old {commit[:12]}` and eval there."
        ) from None
    return model.to(device).eval()


def adopt_weights(config: Config, weight_file: Path, run_dir: Path) -> None:
    """Make `run_dir` a run of external weights: its config.yaml and model.pt, checked to fit.

    Every tensor of the configured model must be in the file with its shape, or the scores
    would be of a partly random model: the error lists what did not fit.
    """
    from . import weights

    model = models.build(config.model, info(config.data))
    report = weights.load_into(model, weights.state_dict(weight_file, torch.device("cpu")))
    if report["missing"] or report["mismatched"]:
        raise InvalidInputError(
            f"{weight_file} does not fit model {config.model.name!r} as configured: "
            f"missing {', '.join(report['missing']) or 'nothing'}; shapes differ for "
            f"{', '.join(report['mismatched']) or 'nothing'} (pick the model and data they were "
            "trained with: --experiment, --smoke; or fine-tune from them: model.init_from)"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(to_yaml(config))
    torch.save(model.state_dict(), run_dir / "model.pt")


def compare(metrics: dict, baseline_dir: Path) -> dict:
    """This run's metrics against a baseline run's (evaluated on the same split and weights)."""
    path = eval_dir(baseline_dir, metrics["split"], metrics["weights"]) / "metrics.json"
    if not path.is_file():
        raise MissingInputError(f"{path} is missing: evaluate the baseline run first")
    baseline = json.loads(path.read_text())
    if baseline["split"] != metrics["split"]:  # (eval/ of releases before v0.12.7)
        raise InvalidInputError(
            f"the baseline was evaluated on {baseline['split']}, not {metrics['split']}"
        )
    if set(baseline["per_class_accuracy"]) != set(metrics["per_class_accuracy"]):
        raise InvalidInputError(
            f"{baseline_dir.name} was scored on other classes: compare runs of one dataset"
        )
    return {
        "baseline": baseline_dir.name,
        "delta": {key: metrics[key] - baseline[key] for key in ("accuracy", "loss")},
        "per_class_delta": {
            name: round(
                metrics["per_class_accuracy"][name] - baseline["per_class_accuracy"][name], 4
            )
            for name in metrics["per_class_accuracy"]
        },
    }
