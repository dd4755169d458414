"""The runs table: one row per run, to see at a glance what was tried and what it gave.

Each row is read from the few files that say it: manifest.json (the attempts: command,
commit, times, status, note), the last lines of metrics.jsonl (the final validation
figures) and eval/metrics.json (the test accuracy, once evaluated). Nothing is loaded
that the row does not show, so a thousand runs list in well under a second; the resolved
config.yaml is read only to filter on a config key (`--where`).
"""

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import InvalidInputError, did_you_mean
from .manifest import read_record
from .runs import process_alive

COLUMNS = (
    "id",
    "start",
    "commit",
    "experiment",
    "status",
    "duration",
    "val_loss",
    "val_accuracy",
    "test_accuracy",
    "note",
)
# How a run's last attempt ended, as its manifest says; "died" and "unreadable" are the
# table's own words for a run still marked running whose process is gone, and for a run
# whose manifest.json is damaged.
STATUSES = ("running", "completed", "failed", "interrupted", "pruned", "died", "unreadable")
TAIL_BYTES = 8192  # the end of metrics.jsonl: its last validation record is in there
WIDEST_CELL = 48  # characters of an experiment or a note the table shows; --json has all
NARROWEST_CELL = 12  # what an experiment or a note keeps when the table narrows to a terminal
# What a terminal too narrow for the whole table hides first: most run ids hold the start
# time, the experiment and the overrides too, and `--json` and `compare` show every field.
HIDDEN_FIRST = ("start", "commit", "duration", "val_loss", "experiment")
SHRINKING = ("note", "experiment")  # the free text, which narrows first (the note most)


def summaries(runs_dir: Path) -> list[dict[str, Any]]:
    """A row for every run directory (one with a manifest.json), oldest first. By start
    time, not by id: most ids begin with their start, but a cluster job's is job-<id>."""
    if not runs_dir.is_dir():
        return []
    return _in_start_order([summary(path.parent) for path in runs_dir.glob("*/manifest.json")])


def _in_start_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: (_timestamp(row["start"]), row["id"]))


def _timestamp(started_at: str | None) -> float:
    """Seconds since the epoch of a manifest's time, which names its UTC offset: runs
    started on machines in other time zones sort as they happened. Unknown: first."""
    if not started_at:
        return -math.inf
    return datetime.strptime(started_at, "%Y-%m-%dT%H:%M:%S%z").timestamp()


def summary(run_dir: Path) -> dict[str, Any]:
    """What the table shows of one run; None where the run has no such figure yet."""
    try:
        attempts = (read_record(run_dir) or {}).get("attempts") or [{}]
    except InvalidInputError:  # cut short or edited: the run shows, and the others too
        attempts = [{"status": "unreadable"}]
    first, last = attempts[0], attempts[-1]
    git = first.get("git") or {}
    dirty = any(
        a.get("git", {}).get("modified") or a.get("git", {}).get("untracked") for a in attempts
    )
    val = last_validation(run_dir / "metrics.jsonl")
    test = _read_json(run_dir / "eval" / "metrics.json")
    notes = [a["note"] for a in attempts if a.get("note")]
    return {
        "id": run_dir.name,
        "start": first.get("started_at"),
        "commit": git.get("commit"),
        "dirty": dirty,  # uncommitted changes in any attempt
        "experiment": describe_command(first.get("command") or []),
        "status": "died" if process_alive(last) is False else last.get("status"),
        "duration": sum(_seconds(a) for a in attempts) if "ended_at" in last else None,
        "val_loss": val.get("val/loss"),
        "val_accuracy": val.get("val/accuracy"),
        "test_accuracy": test.get("accuracy") if test.get("split") == "test" else None,
        "note": notes[-1] if notes else None,
    }


def describe_command(command: list[str]) -> str:
    """The experiment and what the command line changed: 'wide --smoke train.lr=1e-3', and
    for weights no run trained (eval/infer --checkpoint), which: 'base checkpoint=my.pt'."""
    experiment, smoke, overrides = "base", [], []
    arguments = iter(command[1:])
    for argument in arguments:
        if argument in {"--experiment", "-e"}:
            experiment = Path(next(arguments, "base")).stem
        elif argument == "--checkpoint":
            overrides.append(f"checkpoint={Path(next(arguments, '')).name}")
        elif argument in {"--note", "--resume", "--split", "--run-id"}:
            next(arguments, None)
        elif argument == "--smoke":
            smoke = [argument]
        elif "=" in argument and not argument.startswith("-"):
            overrides.append(argument)
    return " ".join([experiment, *smoke, *overrides])


def last_validation(metrics: Path) -> dict[str, float]:
    """The last record of metrics.jsonl that holds the validation loss, from the file's end."""
    if not metrics.is_file():
        return {}
    with metrics.open("rb") as stream:
        size = stream.seek(0, 2)
        stream.seek(max(0, size - TAIL_BYTES))
        lines = stream.read().splitlines()
    for line in reversed(lines):
        if b'"val/loss"' in line:
            try:
                return json.loads(line)
            except json.JSONDecodeError:  # the tail's partial first line, or a cut last one
                continue
    return {}


def select(
    rows: list[dict[str, Any]],
    runs_dir: Path,
    status: str | None = None,
    experiment: str | None = None,
    where: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The rows whose status, experiment name and resolved config match every filter given.

    A --where key that none of the runs' configs has is a mistake, not an empty answer.
    """
    if status and status not in STATUSES:
        raise InvalidInputError(
            f"--status {status}: no such status{did_you_mean(status, STATUSES)} "
            f"(statuses: {', '.join(STATUSES)})"
        )
    conditions = [_condition(item) for item in where or []]
    kept, keys_seen, configs_read = [], set(), 0
    for row in rows:
        if status and row["status"] != status:
            continue
        if experiment and row["experiment"].split()[0] != experiment:
            continue
        if conditions:
            config = flat_config(runs_dir / row["id"] / "config.yaml")
            keys_seen.update(config)
            configs_read += bool(config)
            if not all(key in config and _same(config[key], want) for key, want in conditions):
                continue
        kept.append(row)
    unknown = [key for key, _ in conditions if key not in keys_seen]
    if configs_read and unknown:
        key = unknown[0]
        if any(seen.startswith(f"{key}.") for seen in keys_seen):
            raise InvalidInputError(f"--where {key}: a section, not a key (e.g. {key}.NAME=...)")
        hint = did_you_mean(key, keys_seen)
        raise InvalidInputError(f"--where {key}: no run's config has this key{hint}")
    if experiment and rows and not kept:
        known = {row["experiment"].split()[0] for row in rows}
        if experiment not in known:
            raise InvalidInputError(
                f"--experiment {experiment}: no run has it{did_you_mean(experiment, known)} "
                f"(experiments run: {', '.join(sorted(known))})"
            )
    return kept


def sort(rows: list[dict[str, Any]], key: str, reverse: bool = False) -> list[dict[str, Any]]:
    """Rows ordered by a column; rows without a value come last either way."""
    if key not in COLUMNS:
        raise InvalidInputError(f"cannot sort by {key!r}: choose one of {', '.join(COLUMNS)}")
    present = [row for row in rows if row[key] is not None]
    missing = [row for row in rows if row[key] is None]
    if key == "start":  # as the runs happened: each time names its zone
        order = _in_start_order(present)
        return (order[::-1] if reverse else order) + missing
    return sorted(present, key=lambda row: row[key], reverse=reverse) + missing


def flat_config(path: Path) -> dict[str, Any]:
    """A resolved config.yaml as dotted keys: {'train.lr': 0.003, ...}."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return flatten(yaml.load(path.read_text(), Loader=loader) or {}) if path.is_file() else {}


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def short_commit(row: dict[str, Any]) -> str | None:
    """A row's commit as people read it: 8 characters, and * when the tree was dirty."""
    return f"{row['commit'][:8]}{'*' if row['dirty'] else ''}" if row["commit"] else None


def format_table(rows: list[dict[str, Any]], width: int | None = None) -> str:
    """The rows as aligned text columns, one line per run.

    Given a terminal's `width`, the table fits it rather than wrap every row: the note
    and the experiment take the room there is, whole where it suffices, else narrowed (to
    NARROWEST_CELL characters at the least); where that is not enough, the columns of
    HIDDEN_FIRST hide, one by one, and the table says which. Ids and figures are never
    cut, so a table of long ids may stay wider than the terminal; it says so. Without a
    width, notes and experiments are cut at WIDEST_CELL characters.
    """
    shown = [{**row, "commit": short_commit(row)} for row in rows]
    widest = None if width else WIDEST_CELL
    table = {
        column: [column, *(_cell(column, row[column], widest) for row in shown)]
        for column in COLUMNS
    }
    hidden = []
    if width:
        for column in HIDDEN_FIRST:
            narrowest = {name: _narrowed(table[name], 0) for name in SHRINKING if name in table}
            if _width({**table, **narrowest}) <= width:
                break
            del table[column]
            hidden.append(column)
        for column in SHRINKING:
            if column in table:
                wide = max(map(len, table[column]))
                table[column] = _narrowed(table[column], wide - (_width(table) - width))
    widths = [max(map(len, cells)) for cells in table.values()]
    lines = [
        "  ".join(cell.ljust(wide) for cell, wide in zip(line, widths, strict=True)).rstrip()
        for line in zip(*table.values(), strict=True)
    ]
    if hidden:
        fits = " to fit" if _width(table) <= width else ", still wider than"
        lines.append(f"({', '.join(hidden)} hidden{fits} {width} columns: --json shows all)")
    return "\n".join(lines)


def _width(table: dict[str, list[str]]) -> int:
    """The width of the table's lines: its columns, two spaces apart."""
    return sum(max(map(len, cells)) for cells in table.values()) + 2 * (len(table) - 1)


def _narrowed(cells: list[str], width: int) -> list[str]:
    """A column, its header first, cut to `width` characters: never below NARROWEST_CELL,
    nor below its header."""
    keep = max(width, NARROWEST_CELL, len(cells[0]))
    return [_shortened(cell, keep) for cell in cells]


def _shortened(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _cell(column: str, value: Any, widest: int | None = WIDEST_CELL) -> str:
    if value is None:
        return "-"
    if column == "start":
        return value[:16].replace("T", " ")
    if column == "duration":
        minutes, seconds = divmod(round(value), 60)
        return (
            f"{minutes // 60}h{minutes % 60:02d}m"
            if minutes >= 60
            else f"{minutes}m{seconds:02d}s"
        )
    if isinstance(value, float):
        return f"{value:.4f}"
    text = " ".join(str(value).split())  # a note's line breaks and tabs would break the row
    if column in {"experiment", "note"} and widest:
        return _shortened(text, widest)  # one run of many overrides widened every row
    return text


def _condition(item: str) -> tuple[str, str]:
    key, equals, value = item.partition("=")
    if not equals or not key:
        raise InvalidInputError(f"--where takes key=value (e.g. train.lr=3e-4), not {item!r}")
    return key, value


def _same(actual: Any, wanted: str) -> bool:
    """Whether a config value is the one typed: 3e-3 matches 0.003, 'true' matches True,
    'null' (as YAML and overrides write it) matches None."""
    if actual is None:
        return wanted.lower() in {"null", "none", "~"}
    if str(actual).lower() == wanted.lower():
        return True
    try:
        return math.isclose(float(actual), float(wanted))
    except (TypeError, ValueError):
        return False


def _seconds(attempt: dict[str, Any]) -> float:
    if "started_at" not in attempt or "ended_at" not in attempt:
        return 0.0
    # The manifest's "%Y-%m-%dT%H:%M:%S%z": fromisoformat reads it ~80x faster than strptime.
    started = datetime.fromisoformat(attempt["started_at"])
    ended = datetime.fromisoformat(attempt["ended_at"])
    return (ended - started).total_seconds()


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}
