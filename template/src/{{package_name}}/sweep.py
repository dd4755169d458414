"""Hyperparameter sweeps with Optuna: every trial is an ordinary training run.

configs/sweep/NAME.yaml names the config keys to search (each with a distribution), the
validation metric to optimise and its direction, and the number of trials. Each trial
trains through the same code as `train`: its own run directory and manifest, which name
the study and the trial number. At each validation the trial reports its metric, and the
pruner stops trials that trail the others (their runs are recorded as pruned).

The study lives in a storage. By default SQLite in the study's folder, for one machine;
for many nodes (a Slurm array job) a journal file on a shared filesystem, or a database
URL. The study's folder (runs/sweeps/STUDY/) also gets results.csv, results.md and the
plots history.png and importances.png, rewritten after every trial.

No trial is silently lost: one that crashes is marked FAIL and the sweep goes on; one that
is preempted (SIGTERM) is marked FAIL and queued again with the same parameters; one whose
process was killed outright stays RUNNING until a worker on its machine starts (a requeued
Slurm array task, or the sweep run again), which marks it FAIL and queues it again. Optuna
is an optional dependency: `pip install --editable '.[sweep]'`.
"""

import csv
import io
import os
import platform
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import MissingExtraError, MissingInputError, UserError
from .runs import alive_here, process_started

SWEEP_DIR = Path("configs/sweep")
PREEMPTED_EXIT_CODES = {75, 130}  # train's exits after SIGTERM and Ctrl-C: stop the worker too


class SweepConfigError(UserError, ValueError):
    """A sweep file that does not fit the schema below; the message says where."""


@dataclass
class Parameter:
    """One config key's search range: float or int between low and high, or a categorical."""

    type: str = MISSING  # float | int | categorical
    low: float | None = None
    high: float | None = None
    log: bool = False  # sample on a log scale, e.g. for learning rates
    choices: list[Any] | None = None  # for categorical


@dataclass
class SweepConfig:
    metric: str = MISSING  # a validation metric: loss or accuracy (at the last validation)
    direction: str = MISSING  # minimize or maximize
    trials: int = MISSING  # in total, over every worker that shares the study
    params: dict[str, Parameter] = MISSING  # config key -> its search range
    experiment: str | None = None  # configs/experiment/NAME.yaml the trials start from
    overrides: list[str] = field(default_factory=list)  # fixed for every trial
    prune_after_trials: int = 5  # trials that finish before the pruner may stop one
    prune_after_steps: int = 0  # steps a trial trains before the pruner may stop it
    max_retries: int = 2  # times a preempted or killed trial is queued again


@dataclass
class TrialRun:
    """A training run's link to its trial: the names it records, and where it reports."""

    trial: Any  # optuna.Trial
    metric: str  # what `report` passes on to the pruner
    values: list[str]  # the trial's own overrides (key=value): the run id shows them

    @property
    def study(self) -> str:
        return self.trial.study.study_name

    @property
    def number(self) -> int:
        return self.trial.number

    def started(self, run_dir: Path) -> None:
        """Record the run in the study, so that the results table links each trial to it."""
        self.trial.set_user_attr("run", run_dir.name)

    def report(self, step: int, metrics: dict[str, float]) -> None:
        """After each validation: the metric goes to the pruner, which may stop the trial."""
        from .train import Pruned

        value = metrics[self.metric]
        self.trial.report(value, step)
        if self.trial.should_prune():
            raise Pruned(f"pruned at step {step}: val {self.metric} {value:.4f} trails")


def sweep_path(name: str) -> Path:
    """configs/sweep/NAME.yaml, or `name` itself when it is a path to a YAML file."""
    return Path(name) if Path(name).suffix in {".yaml", ".yml"} else SWEEP_DIR / f"{name}.yaml"


def load_sweep(name: str) -> SweepConfig:
    """configs/sweep/NAME.yaml (or a path to a YAML file), validated."""
    path = sweep_path(name)
    if not path.is_file():
        known = sorted(p.stem for p in SWEEP_DIR.glob("*.yaml"))
        raise MissingInputError(f"{path}: no such sweep file (known: {', '.join(known)})")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(SweepConfig), OmegaConf.load(path))
        sweep = OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", "") or "?"
        raise SweepConfigError(f"{path}: key '{key}': {str(error).splitlines()[0]}") from None
    assert isinstance(sweep, SweepConfig)
    problems = []
    if sweep.metric not in {"loss", "accuracy"}:
        problems.append(f"metric must be loss or accuracy, not {sweep.metric!r}")
    if sweep.direction not in {"minimize", "maximize"}:
        problems.append(f"direction must be minimize or maximize, not {sweep.direction!r}")
    if sweep.trials < 1:
        problems.append("trials must be at least 1")
    if not sweep.params:
        problems.append("params is empty: name at least one config key to search")
    for key, parameter in sweep.params.items():
        if parameter.type == "categorical":
            if not parameter.choices:
                problems.append(f"params.{key}: a categorical needs a list of choices")
        elif parameter.type in {"float", "int"}:
            if parameter.low is None or parameter.high is None or parameter.low >= parameter.high:
                problems.append(f"params.{key}: needs low < high")
            elif parameter.log and parameter.low <= 0:
                problems.append(f"params.{key}: a log scale needs low > 0")
        else:
            problems.append(f"params.{key}: type must be float, int or categorical")
    if problems:
        raise SweepConfigError(f"{path}: " + "; ".join(problems))
    return sweep


def values_to_check(parameter: Parameter) -> list[Any]:
    """The values to check the config with before any trial runs: every choice (a typo in
    one would fail each trial that drew it), or the low end (an int for an int parameter)."""
    if parameter.choices:
        return list(parameter.choices)
    return [int(parameter.low) if parameter.type == "int" else parameter.low]


def suggest(trial, params: dict[str, Parameter]) -> list[str]:
    """The trial's values as config overrides (key=value), drawn from each parameter's range."""
    overrides = []
    for key, parameter in params.items():
        if parameter.type == "float":
            value = trial.suggest_float(key, parameter.low, parameter.high, log=parameter.log)
        elif parameter.type == "int":
            low, high = int(parameter.low), int(parameter.high)
            value = trial.suggest_int(key, low, high, log=parameter.log)
        else:
            value = trial.suggest_categorical(key, parameter.choices)
        overrides.append(f"{key}={value}")
    return overrides


def import_optuna():
    """Optuna, or an error that says how to install it."""
    try:
        import optuna
    except ImportError:
        raise MissingExtraError("sweeps need Optuna: pip install --editable '.[sweep]'") from None
    return optuna


def open_storage(storage: str | None, folder: Path):
    """SQLite in the study's folder by default; a database URL; or a journal file (a path).

    SQLite suits one machine. Many nodes share a study through a journal file on a shared
    filesystem (Optuna's JournalFileBackend locks it safely over NFS) or a database server.
    """
    optuna = import_optuna()
    if storage is None:
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(folder / 'study.db').resolve()}"
    if "://" in storage:
        return storage
    from optuna.storages.journal import JournalFileBackend

    Path(storage).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(storage))


def worker_id() -> str:
    """Who runs the trials: the Slurm array task (the same after a requeue), or host and pid."""
    if "SLURM_ARRAY_TASK_ID" in os.environ:
        return f"slurm-{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    if "SLURM_JOB_ID" in os.environ:
        return f"slurm-{os.environ['SLURM_JOB_ID']}"
    return f"{platform.node()}-{os.getpid()}"


def run_sweep(
    sweep: SweepConfig,
    study_name: str,
    storage: str | None,
    folder: Path,
    train: Callable[[list[str], "TrialRun"], dict[str, float]],
    echo: Callable[[str], None] = print,
) -> Any:
    """Run trials until the study holds `sweep.trials` of them; return the study.

    `train(overrides, trial)` trains one run. Several workers (processes, nodes, array tasks)
    may run this on the same study at once; each takes the next trial, queued retries first.
    Workers that start their last trials at the same moment may run one or two more than
    `sweep.trials`: the count is read, then the trial asked for, without a lock.
    """
    optuna = import_optuna()
    study = optuna.create_study(
        study_name=study_name,
        storage=open_storage(storage, folder),
        direction=sweep.direction,
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=sweep.prune_after_trials, n_warmup_steps=sweep.prune_after_steps
        ),
        load_if_exists=True,
    )
    worker = worker_id()
    for stale in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        attributes = stale.user_attrs
        if attributes.get("worker") == worker or (  # this worker's, or a gone process's
            alive_here(attributes.get("host"), attributes.get("pid"), attributes.get("started"))
            is False
        ):
            study.tell(stale.number, state=optuna.trial.TrialState.FAIL)
            echo(f"trial {stale.number} was cut off (its process was killed): marked FAIL")
            retry(study, stale, sweep.max_retries, echo)
    if study.trials:  # a requeued worker's, or the user's second sweep of the same name
        retries, new = trials_to_run(study, sweep.trials)
        plan = f"{retries} queued retr{'y' if retries == 1 else 'ies'} and " if retries else ""
        echo(
            f"study {study_name} holds {len(study.trials)} trial(s) already: it runs {plan}"
            f"{new} new trial(s), for {sweep.trials} in all (`sweep --study NAME` starts "
            "another)"
        )
    try:
        while any(trials_to_run(study, sweep.trials)):
            run_trial(study, sweep, worker, train, echo)
            if any(trials_to_run(study, sweep.trials)):  # read as the sweep goes
                write_report(study, folder, echo)
    except BaseException:  # stopped: the report shows the stopped trial and its retry
        try:
            write_report(study, folder, echo)
        except Exception as error:  # the stop's exit status (75: requeue me) matters more
            echo(f"the sweep's report could not be written: {error}")
        raise
    write_report(study, folder, echo)  # last, with what every worker has told the study
    return study


def trials_to_run(study, total: int) -> tuple[int, int]:
    """The retries queued, and the new trials still to ask for to reach `total`.

    A failed trial that was queued again does not count: its retry stands in for it.
    """
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retries = sum(trial.state == TrialState.WAITING for trial in trials)
    retried = {trial.user_attrs["retry_of"] for trial in trials if "retry_of" in trial.user_attrs}
    counted = sum(trial.number not in retried for trial in trials)
    return retries, max(total - counted, 0)


def finished_trials(study) -> int:
    """Trials that ran to the end or were pruned: the ones that tell the study something."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def run_trial(
    study,
    sweep: SweepConfig,
    worker: str,
    train: Callable[[list[str], TrialRun], dict[str, float]],
    echo: Callable[[str], None],
) -> None:
    """Ask for a trial, train it, and tell the study how it ended: never left RUNNING."""
    import typer
    from optuna.trial import TrialState

    from .train import Pruned

    trial = study.ask()
    trial.set_user_attr("worker", worker)
    trial.set_user_attr("host", platform.node())  # to tell, later, if its process is gone
    trial.set_user_attr("pid", os.getpid())
    trial.set_user_attr("started", process_started(os.getpid()))
    overrides = suggest(trial, sweep.params)
    echo(f"trial {trial.number}: {' '.join(overrides)}")
    run = TrialRun(trial, sweep.metric, overrides)
    try:
        result = train(overrides, run)
    except Pruned as pruned:
        study.tell(trial, state=TrialState.PRUNED)
        echo(f"trial {trial.number}: {pruned}")
        return
    except typer.Exit as stop:
        if stop.exit_code not in PREEMPTED_EXIT_CODES:  # a user error, e.g. a NaN loss
            study.tell(trial, state=TrialState.FAIL)
            echo(f"trial {trial.number} failed (exit code {stop.exit_code}): marked FAIL")
            return
        study.tell(trial, state=TrialState.FAIL)
        retry(study, study.trials[trial.number], sweep.max_retries, echo)
        raise  # the worker stops too; a requeued Slurm task runs the retry
    except Exception as error:  # a crash: recorded in the run's manifest; the sweep goes on
        study.tell(trial, state=TrialState.FAIL)
        echo(f"trial {trial.number} crashed ({type(error).__name__}: {error}): marked FAIL")
        return
    study.tell(trial, result[f"val_{sweep.metric}"])


def retry(study, failed, max_retries: int, echo: Callable[[str], None]) -> None:
    """Queue a failed trial's parameters again, up to `max_retries` times in a row."""
    retries = failed.user_attrs.get("retries", 0)
    if retries >= max_retries:
        echo(f"trial {failed.number} failed {retries + 1} times: not retried again")
        return
    study.enqueue_trial(
        failed.params, user_attrs={"retry_of": failed.number, "retries": retries + 1}
    )
    echo(f"trial {failed.number} queued again (retry {retries + 1} of {max_retries})")


COLUMNS = ["trial", "state", "value", "run", "worker", "retry_of", "seconds"]


def results(study) -> tuple[list[str], list[list[Any]]]:
    """The study as a table: one row per trial, its state, value, run and parameters."""
    names = sorted({name for trial in study.trials for name in trial.params})
    rows = []
    for trial in study.trials:
        seconds = trial.duration.total_seconds() if trial.duration else None
        rows.append(
            [
                trial.number,
                trial.state.name,
                trial.value,
                trial.user_attrs.get("run", ""),
                trial.user_attrs.get("worker", ""),
                trial.user_attrs.get("retry_of", ""),
                None if seconds is None else round(seconds, 1),
                *(trial.params.get(name, "") for name in names),
            ]
        )
    return COLUMNS + names, rows


def write_report(study, folder: Path, echo: Callable[[str], None] = print) -> list[Path]:
    """results.csv, results.md, history.png and importances.png in the study's folder."""
    folder.mkdir(parents=True, exist_ok=True)
    header, rows = results(study)
    table = io.StringIO()
    csv.writer(table).writerows([header, *rows])
    _write(folder / "results.csv", table.getvalue())
    lines = [f"# Study {study.study_name}", ""]
    try:
        best = study.best_trial
        lines += [f"Best: trial {best.number}, value {best.value:.4g}, {best.params}", ""]
    except ValueError:  # no trial has completed yet
        lines += ["No trial has completed yet.", ""]
    lines += ["Best first; results.csv has every figure whole.", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    sign = -1 if study.direction.name == "MAXIMIZE" else 1
    ranked = sorted(rows, key=lambda row: (row[1] != "COMPLETE", sign * (row[2] or 0), row[0]))
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in ranked]
    _write(folder / "results.md", "\n".join(lines) + "\n")
    return [folder / "results.csv", folder / "results.md", *plot(study, folder, echo)]


def _cell(value: Any) -> str:
    """A table cell: floats to 4 significant digits (a learning rate of 0.000123...)."""
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def plot(study, folder: Path, echo: Callable[[str], None]) -> list[Path]:
    """The optimisation history, and parameter importances once two trials have completed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as optuna_plots

    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's matplotlib plots are marked experimental
        drawings = [("history.png", optuna_plots.plot_optimization_history)]
        if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) >= 2:
            drawings.append(("importances.png", optuna_plots.plot_param_importances))
        for name, draw in drawings:
            try:
                axes = draw(study)
            except (RuntimeError, ValueError) as error:  # e.g. every trial had the same values
                echo(f"{name} not drawn: {error}")
                continue
            axes.figure.savefig(folder / name, dpi=100, bbox_inches="tight")
            plt.close(axes.figure)
            written.append(folder / name)
    return written


def _write(path: Path, text: str) -> None:
    """Written whole, then renamed: workers sharing the study rewrite these files."""
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(text)
    temporary.replace(path)
