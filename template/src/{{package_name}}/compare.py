"""What differs between runs, and what it did: code, config, data, environment, metrics.

The first run is the reference; every other run is compared with it. Everything comes
from what the runs recorded (manifest.json, config.yaml, metrics.jsonl, eval/metrics.json,
dirty.patch) and from git for the code between their commits. The comparison is written
as Markdown, printed and saved as a self-contained report.md with the overlaid training
curves (curves.png) beside it: a file to attach to a paper draft or a pull request.
"""

import json
import subprocess
from pathlib import Path
from typing import Any

from .history import flat_config, last_validation, short_commit, summary
from .manifest import read_record
from .plots import overlaid_curves
from .runs import read_metrics

CURVES = ("train/loss", "val/loss", "val/accuracy")


def compare(run_dirs: list[Path], output: Path, full_diff: bool = False) -> str:
    """Write output/report.md and output/curves.png for `run_dirs`; return the report."""
    manifests = [_first_attempt(run_dir) for run_dir in run_dirs]  # first: one may be damaged
    output.mkdir(parents=True, exist_ok=True)
    records = {label(run_dir): read_metrics(run_dir) for run_dir in run_dirs}
    overlaid_curves(records, CURVES, output / "curves.png")
    sections = [
        runs_section(run_dirs),
        code_section(run_dirs, manifests, full_diff),
        config_section(run_dirs),
        data_section(run_dirs, manifests),
        environment_section(run_dirs, manifests),
        metrics_section(run_dirs),
        "## Training curves\n\n![training curves of every run](curves.png)\n",
    ]
    report = "\n".join(sections)
    (output / "report.md").write_text(report)
    return report


def runs_section(run_dirs: list[Path]) -> str:
    rows = [summary(run_dir) for run_dir in run_dirs]
    table = _table(
        ["", "run", "commit", "experiment", "status", "note"],
        [
            [label(d), r["id"], short_commit(r), r["experiment"], r["status"], r["note"]]
            for d, r in zip(run_dirs, rows, strict=True)
        ],
    )
    reference = label(run_dirs[0])
    return (
        f"# Comparison of {len(rows)} runs\n\nThe first run, {reference}, is the reference.\n\n"
        + table
    )


def code_section(run_dirs: list[Path], manifests: list[dict], full_diff: bool) -> str:
    """`git diff --stat` from the reference's commit to each other's; the diffs on request."""
    lines = ["## Code\n"]
    reference = manifests[0].get("git", {}).get("commit")
    for run_dir, attempt in zip(run_dirs[1:], manifests[1:], strict=True):
        commit = attempt.get("git", {}).get("commit")
        if commit == reference:
            lines.append(f"{run_dir.name}: the same commit ({_short(commit)}).\n")
            continue
        missing = [c for c in (reference, commit) if not c or not _known_commit(c)]
        if missing:
            names = ", ".join(_short(c) or "none recorded" for c in missing)
            lines.append(f"{run_dir.name}: commit {names} is not in this repository.\n")
            continue
        stat = _git("diff", "--stat", reference, commit)
        lines.append(f"{_short(reference)}..{_short(commit)} ({run_dir.name}):\n")
        lines.append(f"```\n{stat or 'no changes'}\n```\n")
        if full_diff:
            lines.append(f"```diff\n{_git('diff', reference, commit)}\n```\n")
    for run_dir in run_dirs:
        patch, untracked = run_dir / "dirty.patch", run_dir / "untracked.txt"
        changed = patch.read_text().count("\n+++ ") if patch.is_file() else 0
        added = len(untracked.read_text().splitlines()) if untracked.is_file() else 0
        parts = [f"{changed} modified file(s) (dirty.patch)"] * bool(changed)
        parts += [f"{added} untracked (untracked.txt, copies in untracked/)"] * bool(added)
        if parts:
            lines.append(f"{run_dir.name} ran on uncommitted changes: {', '.join(parts)}.\n")
        if full_diff and changed:
            lines.append(f"```diff\n{patch.read_text().rstrip()}\n```\n")
    if len(lines) == 1:
        lines.append("No differences.\n")
    return "\n".join(lines)


def config_section(run_dirs: list[Path]) -> str:
    """The resolved config keys whose values differ between the runs."""
    configs = [flat_config(run_dir / "config.yaml") for run_dir in run_dirs]
    keys = sorted(set().union(*configs))
    differing = [key for key in keys if len({json.dumps(c.get(key)) for c in configs}) > 1]
    if not differing:
        return "## Config\n\nThe resolved configs are identical.\n"
    rows = [[key, *(str(c.get(key, "(absent)")) for c in configs)] for key in differing]
    return "## Config\n\n" + _table(["key", *_names(run_dirs)], rows)


def data_section(run_dirs: list[Path], manifests: list[dict]) -> str:
    """The data files whose sha256 differs, as the runs' manifests recorded them."""
    files = [attempt.get("data", {}).get("files") or {} for attempt in manifests]
    names = sorted(set().union(*files))
    differing = [name for name in names if len({f.get(name) for f in files}) > 1]
    if not differing:
        same = "the same data files" if names else "no data manifest"
        return f"## Data\n\nAll runs recorded {same}.\n"
    rows = [[name, *(_short(f.get(name), 12) or "(absent)" for f in files)] for name in differing]
    return "## Data\n\nFiles whose sha256 differs:\n\n" + _table(["file", *_names(run_dirs)], rows)


def environment_section(run_dirs: list[Path], manifests: list[dict]) -> str:
    """The lock hashes, the interpreter and CUDA stack, and the packages whose versions differ."""
    environments = [attempt.get("environment") or {} for attempt in manifests]
    facts = {
        "lock hash": [_short((e.get("lock") or {}).get("content_hash"), 12) for e in environments],
        "matches lock": [(e.get("lock") or {}).get("matches") for e in environments],
        "python": [e.get("python") for e in environments],
        "torch": [e.get("torch") for e in environments],
        "cuda": [e.get("cuda") for e in environments],
        "gpus": [", ".join(e.get("gpus") or []) or None for e in environments],
    }
    packages = [dict(p.split("==", 1) for p in e.get("packages") or []) for e in environments]
    for name in sorted(set().union(*packages), key=str.lower):
        facts[name] = [p.get(name) for p in packages]
    rows = [[name, *map(_value, values)] for name, values in facts.items() if len(set(values)) > 1]
    if not rows:
        locked = any(facts["lock hash"])
        same = "lock, Python, CUDA" if locked else "Python, CUDA"
        unlocked = "" if locked else " (no conda lock was recorded: conda-lock.yml is missing)"
        return f"## Environment\n\nThe same environment: {same} and every package{unlocked}.\n"
    return "## Environment\n\n" + _table(["", *_names(run_dirs)], rows)


def metrics_section(run_dirs: list[Path]) -> str:
    """Final validation and test figures, each run's delta from the reference, per class too."""
    figures = []
    for run_dir in run_dirs:
        val = last_validation(run_dir / "metrics.jsonl")
        test = _read_json(run_dir / "eval" / "metrics.json")
        split = test.get("split", "test")
        figures.append(
            {
                "val loss": val.get("val/loss"),
                "val accuracy": val.get("val/accuracy"),
                f"{split} loss": test.get("loss"),
                f"{split} accuracy": test.get("accuracy"),
                **{
                    f"{split} accuracy: {name}": value
                    for name, value in (test.get("per_class_accuracy") or {}).items()
                },
            }
        )
    names = list(dict.fromkeys(name for f in figures for name in f))
    rows = []
    for name in names:
        values = [f.get(name) for f in figures]
        if all(value is None for value in values):
            continue
        reference = values[0]
        cells = [_value(reference)] + [
            _value(value)
            + (f" ({value - reference:+.4f})" if None not in (value, reference) else "")
            for value in values[1:]
        ]
        rows.append([name, *cells])
    if not rows:
        return "## Metrics\n\nNo run has metrics yet.\n"
    return "## Metrics\n\nDeltas are from the reference, the first run.\n\n" + _table(
        ["metric", *_names(run_dirs)], rows
    )


def _first_attempt(run_dir: Path) -> dict[str, Any]:
    """The first attempt: the code, data and environment the run started with."""
    attempts = (read_record(run_dir) or {}).get("attempts") or [{}]
    return attempts[0]


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True)
    return result.stdout.rstrip() if result.returncode == 0 else ""


def _known_commit(commit: str) -> bool:
    found = subprocess.run(["git", "cat-file", "-e", commit + "^{commit}"], capture_output=True)
    return found.returncode == 0


def _names(run_dirs: list[Path]) -> list[str]:
    """Column headers: the random end of each run id (the runs table gives the whole ids)."""
    return [label(run_dir) for run_dir in run_dirs]


def label(run_dir: Path) -> str:
    return run_dir.name.rsplit("-", 1)[-1]


def _short(text: str | None, length: int = 8) -> str | None:
    return text[:length] if text else None


def _value(value: Any) -> str:
    """A table cell: on one line, its | escaped, so that user text (notes) keeps the table."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return " ".join(str(value).split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table: readable as text on a terminal, rendered where Markdown is."""
    lines = [header, ["---"] * len(header), *([_value(cell) for cell in row] for row in rows)]
    return "".join("| " + " | ".join(str(cell) for cell in line) + " |\n" for line in lines)
