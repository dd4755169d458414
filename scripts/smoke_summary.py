"""Print where a generated project's smoke runs are and what the newest one scored.

scripts/demo.sh ends with this so that the demo finishes on its results, not on a scroll
of training logs: the run that `make smoke` just trained (runs/LATEST), its test metrics
(eval/metrics.json, written by `eval latest`) and its predictions
(runs/smoke-predictions.csv, written by `infer`). Standard library only.

    python scripts/smoke_summary.py PROJECT
"""

import csv
import json
import sys
from pathlib import Path

SHOWN_PREDICTIONS = 5  # enough to see that inference works, few enough to read


def summary(project: Path) -> list[str]:
    """The lines to print for `project`, a generated project after `make smoke`."""
    runs = project / "runs"
    latest = runs / (runs / "LATEST").read_text(encoding="utf-8").strip()
    run_count = sum(1 for path in runs.iterdir() if (path / "config.yaml").is_file())
    metrics_file = latest / "eval" / "metrics.json"
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    predictions_file = runs / "smoke-predictions.csv"
    with predictions_file.open(newline="", encoding="utf-8") as stream:
        predictions = list(csv.DictReader(stream))

    lines = [
        f"Smoke results of {project}",
        f"  runs:        {runs} ({run_count} run(s); this one: {latest.name})",
        f"  test split:  accuracy {metrics['accuracy']:.1%} on {metrics['examples']} images,"
        f" loss {metrics['loss']:.3f} ({metrics['weights']} weights; {metrics_file})",
        f"  predictions: {len(predictions)} image(s) in {predictions_file}",
    ]
    for row in predictions[:SHOWN_PREDICTIONS]:
        confidence = max(float(value) for key, value in row.items() if key.startswith("p_"))
        lines.append(f"    {Path(row['path']).name} -> {row['prediction']} ({confidence:.0%})")
    lines.append(
        f"  go on:       cd {project} && . .venv/bin/activate  (installed already: no pip"
        " step of the 'Next:' above or of its README is needed; then make test, ...)"
    )
    if (latest / "tensorboard").is_dir():
        lines.append(f"  curves:      tensorboard --logdir {runs}")
    lines.append(
        "A smoke run trains a tiny model for a few steps on tiny data: it shows that the"
        " whole loop works, not how good the model can get."
    )
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/smoke_summary.py PROJECT", file=sys.stderr)
        return 2
    try:
        print("\n".join(summary(Path(argv[0]))))
    except (OSError, KeyError, ValueError) as error:
        print(
            f"smoke summary: cannot read the smoke results in {argv[0]} ({error}):"
            " run `make smoke` there first.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
