"""The project's command line; `--help` on it, or on any command, explains the options.

The loop of a research project, one command per stage:
  download -> preprocess -> train -> eval -> infer        (and rerun, to repeat a run)
with the ruler first: fetch-weights, inspect-data, and eval/infer --checkpoint score and
look at pretrained weights before any training; then the results: runs (the table),
compare (what differs between runs, and what it did), reproduce (a run, from its record)
and demo (a run's model on a web page).
Each command parses its options and calls one function. Heavy imports (torch) happen
inside the commands, so that `--help` and shell completion stay fast.
"""

import atexit
import contextlib
import errno
import functools
import gc
import os
import platform
import re
import shutil
import sys
from collections.abc import Iterator
from importlib.metadata import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from . import __version__, gc_pace

if TYPE_CHECKING:
    from .sweep import TrialRun

app = typer.Typer(
    # The description is the user's own text: brackets in it are not rich markup.
    help=metadata(__package__.replace("_", "-"))["Summary"].replace("[", "\\["),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

PREDICTIONS_SHOWN = 10  # infer prints the first predictions; its file holds every one
RERUN_NOTE = re.compile(r"^(reruns \S+(: |$))+")  # what `rerun` puts before a run's note
Overrides = Annotated[
    list[str] | None,
    typer.Argument(help="Config overrides as key=value, e.g. train.lr=3e-4 model.width=64."),
]
Experiment = Annotated[
    str | None,
    typer.Option(
        "--experiment", "-e", help="configs/experiment/NAME.yaml (or a path) over base.yaml."
    ),
]
Smoke = Annotated[
    bool, typer.Option("--smoke", help="Layer configs/smoke.yaml on top: tiny data, model, steps.")
]
INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT: a Ctrl-C that left no checkpoint behind
MAX_PATHS_LISTED = 20  # paths a data stage prints; more are counted (one file per image)
# A full disk (or quota), a read-only or another user's folder, a file where a folder should
# be: the machine's problems, which a traceback adds nothing to.
MACHINE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.ENOTDIR)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


# At exit the interpreter would walk every object torch and its compiler made, a second or
# more, to collect garbage that vanishes with the process anyway; freezing them skips it.
atexit.register(gc.freeze)

CALLER_DIR = Path.cwd()  # where the command was typed: paths on the command line are read here


def project_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` holding configs/base.yaml, as git finds .git."""
    for directory in (start, *start.parents):
        if (directory / "configs" / "base.yaml").is_file():
            return directory
    return None


def from_caller(path: Path) -> Path:
    """A path typed on the command line, read against the directory it was typed in."""
    return path if path.is_absolute() else CALLER_DIR / path


def as_typed(path: Path) -> str:
    """A path as the user can type it back: relative to the directory they typed in when
    it lies in the project, absolute when not (runs on scratch space, or seen from the
    worktree that `reproduce` reruns in)."""
    resolved, root = path.resolve(), (project_root(CALLER_DIR) or CALLER_DIR).resolve()
    if not resolved.is_relative_to(root):
        return str(resolved)
    return os.path.relpath(resolved, CALLER_DIR)


@app.callback()
def main(
    context: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Set options shared by every command.

    Every command works from any folder of the project: it runs from the project's root,
    where configs/, data/ and runs/ live, and reads paths typed on the command line
    against the folder they were typed in.
    """
    global CALLER_DIR
    gc_pace.defer()  # while the command imports torch: see gc_pace.py
    # On closing, both go back to what they were: a command run inside another (rerun's)
    # gives the outer one its folders back.
    context.call_on_close(functools.partial(_return_to, Path.cwd(), CALLER_DIR))
    CALLER_DIR = Path.cwd()
    root = project_root(CALLER_DIR)
    if root is not None and root != CALLER_DIR:
        os.chdir(root)


def _return_to(folder: Path, caller_dir: Path) -> None:
    global CALLER_DIR
    os.chdir(folder)
    CALLER_DIR = caller_dir


def find_run(reference: str) -> Path:
    """A run directory from 'latest', a run id (in the runs directory) or a path."""
    from . import runs

    typed = from_caller(Path(reference))
    if reference != "latest" and typed.is_dir():
        reference = str(typed)
    return runs.resolve(runs.runs_dir(), reference)


def experiment_path(experiment: str | None) -> str | None:
    """An experiment name stays a name; a path to a YAML file is read from the caller's folder."""
    if experiment and Path(experiment).suffix in {".yaml", ".yml"}:
        return str(from_caller(Path(experiment)))
    return experiment


def experiment_as_recorded(experiment: str | None) -> str | None:
    """The experiment as a manifest records it: a file inside the project by its path from
    the root, where `rerun` and `reproduce` run the command again; a name as it is."""
    resolved = experiment_path(experiment)
    if resolved and Path(resolved).is_absolute():
        path, root = Path(resolved).resolve(), Path.cwd().resolve()
        return str(path.relative_to(root)) if path.is_relative_to(root) else resolved
    return resolved


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show problems the user can fix as one line, not a traceback."""
    from .errors import UserError

    try:
        yield
    except UserError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from None
    except OSError as error:
        if error.errno not in MACHINE_ERRORS:
            raise
        where = f": {error.filename}" if error.filename else ""
        typer.echo(f"error: {error.strerror}{where}", err=True)
        raise typer.Exit(1) from None


@app.command()
def download(
    overrides: Overrides = None, experiment: Experiment = None, smoke: Smoke = False
) -> None:
    """Fetch the raw data (md5-verified, resumable); record it in the data root's manifest.json."""
    from .data import download as stage

    _data_stage(stage, overrides, experiment, smoke)


@app.command()
def preprocess(
    overrides: Overrides = None, experiment: Experiment = None, smoke: Smoke = False
) -> None:
    """Turn the raw files into training arrays; record them in the data root's manifest.json."""
    from .data import preprocess as stage

    _data_stage(stage, overrides, experiment, smoke)


def _data_stage(stage, overrides: list[str] | None, experiment: str | None, smoke: bool) -> None:
    """Run a data stage on the configured data; it records its outputs in the data manifest."""
    from .config import load_config, to_yaml
    from .manifest import config_hash, keep_out_of_git

    with user_errors():
        config = load_config(experiment_path(experiment), smoke, overrides, check_model=False)
        keep_out_of_git(Path(config.data.root))
        paths = list(stage(config.data, config_hash(to_yaml(config))))
    if len(paths) > MAX_PATHS_LISTED:
        typer.echo(f"ok {len(paths)} files in {os.path.commonpath(paths)}")
        return
    for path in paths:
        typer.echo(f"ok {path}")


@app.command(
    epilog=(
        "Under torchrun every process runs this command and rank 0 alone writes, e.g. "
        f"torchrun --nproc-per-node 4 -m {__package__} train --experiment wide"
    )
)
def train(
    overrides: Overrides = None,
    experiment: Experiment = None,
    smoke: Smoke = False,
    resume: Annotated[
        str | None,
        typer.Option(help="Continue this run (id, path or 'latest') from its last checkpoint."),
    ] = None,
    allow_dirty: Annotated[
        bool,
        typer.Option(help="Train on uncommitted code; the diff is saved in the run directory."),
    ] = False,
    note: Annotated[
        str | None,
        typer.Option(help="Why this run exists (the hypothesis); shown by `runs` and `compare`."),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            help="Name the run (default: the time, experiment and overrides); a cluster job "
            "names its run after itself, so that the job, requeued, can --resume it."
        ),
    ] = None,
) -> None:
    """Train a model; everything the run writes goes to runs/<run-id>/.

    SIGTERM, SIGHUP (exit code 75) or Ctrl-C (130) stops it with a checkpoint;
    --resume continues it.
    """
    train_run(overrides, experiment, smoke, resume, allow_dirty, run_id=run_id, note=note)


def train_run(
    overrides: list[str] | None,
    experiment: str | None,
    smoke: bool,
    resume: str | None = None,
    allow_dirty: bool = False,
    trial: "TrialRun | None" = None,
    run_id: str | None = None,
    note: str | None = None,
) -> tuple[Path, dict[str, float]]:
    """One training run, recorded in its manifest: the `train` command, and a sweep's trial.

    A trial's run id and manifest name its study and trial number, and its validations
    go to the sweep's pruner; a pruned trial's run is recorded as pruned, not failed.
    Returns the run directory and the final metrics.
    """
    from . import distributed, losses, manifest, runs, weights
    from .config import from_yaml, load_config, to_yaml
    from .data import manifest_path, verify
    from .datasets import info
    from .errors import InvalidInputError
    from .train import Preempted, Pruned
    from .train import train as run_training

    context = distributed.setup()
    try:
        with user_errors():
            if resume:
                if overrides or experiment or smoke:
                    raise InvalidInputError(
                        "a resumed run keeps its config: drop the overrides and flags"
                    )
                run_dir = find_run(resume)
                if context.is_main:  # (the others may see its own new attempt running)
                    runs.refuse_while_training(run_dir, "resume it")
                if runs.finished(run_dir):
                    typer.echo(
                        f"{run_dir.name} has finished: nothing to resume (eval it instead; to "
                        "train on from its weights, start a new run with "
                        f"model.init_from={as_typed(run_dir / 'model.pt')})"
                    )
                    return run_dir, {}
                config = from_yaml(run_dir / "config.yaml")
            else:
                config = load_config(experiment_path(experiment), smoke, overrides)
                if run_id:  # every process knows it; the first checks that it is new
                    run_dir = runs.named_run(Path(config.runs_dir), run_id, context.is_main)
                else:
                    label, shown = (
                        (f"{trial.study}-t{trial.number}", trial.values)
                        if trial
                        else ("", overrides)
                    )
                    new_id = runs.new_run_id(experiment, config.smoke, shown, label=label)
                    run_dir = Path(config.runs_dir) / str(distributed.broadcast(new_id))
            verify(config.data)  # the data is what data/manifest.json says it is
            losses.check(config.train.loss_weights)  # a typo stops it before the run exists
            init_from = config.model.init_from  # missing weights stop it before the run exists
            pretrained = weights.resolve(config, init_from) if init_from else None
            state = manifest.git_state()
            record = manifest.Manifest(run_dir)
            moved = manifest.code_moved(record.attempts, state) if resume else None
            if moved and context.is_main:
                typer.echo(moved, err=True)
            # A resumed attempt's changes go beside the first attempt's, which reproduce uses.
            attempt = len(record.attempts) + 1
            saved_into = run_dir / f"attempt-{attempt}" if attempt > 1 else run_dir
            saved = manifest.require_clean_tree(state, allow_dirty or config.smoke, saved_into)
            unpushed = (
                None if config.smoke else manifest.require_pushed(state, config.require_pushed)
            )
            if context.is_main:  # the last check: a runs folder that cannot be written
                manifest.keep_out_of_git(Path(config.runs_dir))
                run_dir.mkdir(parents=True, exist_ok=True)
        if context.is_main:
            resolved = to_yaml(config)
            (run_dir / "config.yaml").write_text(resolved)
            if trial:
                trial.started(run_dir)
            record.start(
                command=[
                    "train",
                    *(overrides or []),
                    *(["--experiment", experiment_as_recorded(experiment)] if experiment else []),
                    *(["--smoke"] if smoke else []),
                    *(["--resume", resume] if resume else []),
                    *(["--allow-dirty"] if allow_dirty else []),
                    *(["--note", note] if note else []),
                    *(["--run-id", run_id] if run_id else []),
                ],
                note=note,
                git=state,
                seed=config.seed,
                config=resolved,
                world_size=context.world_size,
                cluster=manifest.cluster(),
                sweep={"study": trial.study, "trial": trial.number} if trial else None,
                environment=manifest.environment(),
                data=manifest.data_hashes(manifest_path(config.data)),
                weights=pretrained,
            )
            typer.echo(f"run {as_typed(run_dir)}")
            if config.smoke:
                classes = len(info(config.data).classes)
                typer.echo(
                    f"smoke run: the small {config.data.name} dataset ({classes} classes) and "
                    "a few steps; it tests the code, not the method"
                )
            if saved:
                saved_in = as_typed(saved_into)
                typer.echo(f"uncommitted changes: saved in {saved_in} ({', '.join(saved)})")
            if unpushed:
                typer.echo(unpushed, err=True)
            # Last before training: a run that failed to start never becomes `latest`.
            previous_latest = runs.mark_latest(run_dir)
        # How to go on after a stop: a run allowed a dirty tree is resumed from one too.
        dirty_allowed = saved and not config.smoke  # (smoke runs allow a dirty tree anyway)
        resuming = f"--resume {run_dir.name}" + (" --allow-dirty" if dirty_allowed else "")
        with user_errors():  # a NaN loss is reported like any other user-fixable problem
            try:
                result = run_training(
                    config, run_dir, resume=bool(resume), on_validation=trial and trial.report
                )
            except Pruned as pruned:
                if context.is_main:
                    record.finish("pruned", message=str(pruned))
                    runs.unmark_latest(run_dir, previous_latest)
                raise
            except Preempted as stop:
                if context.is_main:
                    record.finish("interrupted", message=str(stop))
                    # A sweep's trial is not resumed alone: the sweep queues it again.
                    go_on = "run the sweep again to go on" if trial else f"resume with {resuming}"
                    said = f"{stop}; {go_on}"
                    typer.echo(said, err=True)
                    if trial is None:  # a sweep tells once, at its end
                        tell("run", run_dir.name, "stopped", said)
                raise typer.Exit(stop.exit_code) from None
            except KeyboardInterrupt:  # a second Ctrl-C, or one before training began
                if context.is_main:
                    record.finish("interrupted", message="Ctrl-C, before a checkpoint")
                    said = f"interrupted; resume with {resuming}"
                    if not runs.resumable(run_dir):
                        runs.unmark_latest(run_dir, previous_latest)
                        said = (
                            f"interrupted before its first checkpoint: {resuming} starts it "
                            "again from step 0"
                        )
                    typer.echo(said, err=True)
                raise typer.Exit(INTERRUPTED_EXIT_CODE) from None
            except BaseException as error:
                if context.is_main:
                    record.finish("failed", error=error)
                    runs.unmark_latest(run_dir, previous_latest)  # `latest` means usable
                    if trial is None:
                        tell("run", run_dir.name, "failed", f"{type(error).__name__}: {error}")
                raise
        if context.is_main:
            record.finish("completed", result=result)
            summary = f"step {result['step']}, best val loss {result['best_val_loss']:.4f}"
            if "val_accuracy" in result:
                summary += f", final val accuracy {result['val_accuracy']:.4f}"
            typer.echo(f"done: {summary}")
            if trial is None:
                tell("run", run_dir.name, "completed", summary)
        return run_dir, result
    finally:
        distributed.teardown()


def tell(what: str, name: str, outcome: str, detail: str) -> None:
    """Notify the user that a run or a sweep ended, when they asked to be (notify.py)."""
    from .notify import notify

    notify(
        f"{__package__}: {what} {outcome}",
        f"{name} {outcome} on {platform.node()}: {detail}",
        level={"completed": "success", "stopped": "warning"}.get(outcome, "failure"),
    )


@app.command(
    epilog=(
        "Workers sharing a study (e.g. the tasks of a Slurm array job) pass the same --study "
        "and --storage, a journal file on a shared filesystem or a database URL."
    )
)
def sweep(
    name: Annotated[str, typer.Argument(help="configs/sweep/NAME.yaml, or a path to one.")],
    overrides: Overrides = None,
    smoke: Smoke = False,
    study: Annotated[
        str | None, typer.Option(help="The study's name; default: NAME (NAME-smoke with --smoke).")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            envvar=f"{__package__.upper()}_SWEEP_STORAGE",
            help="Where the study lives; default: SQLite in runs/sweeps/STUDY/. A path: a "
            "journal file (on a shared filesystem, for many nodes); or a database URL.",
        ),
    ] = None,
    allow_dirty: Annotated[
        bool,
        typer.Option(help="Train on uncommitted code; the diff is saved in each trial's run."),
    ] = False,
    trials: Annotated[
        int | None,
        typer.Option(help="How many trials the study holds in all; default: the file's.", min=1),
    ] = None,
) -> None:
    """Search hyperparameters with Optuna: each trial is a training run (runs/<run-id>/).

    The study's table (results.csv, results.md) and plots (history.png,
    importances.png) go to runs/sweeps/STUDY/. Needs Optuna, the optional
    `sweep` extra (the command says how to install it).
    """
    from . import sweep as sweeps
    from .config import load_config
    from .data import verify
    from .errors import MissingInputError
    from .manifest import keep_out_of_git

    with user_errors():
        sweep_file = sweeps.sweep_path(experiment_path(name) or name)
        settings = sweeps.load_sweep(str(sweep_file))
        if trials:
            settings.trials = trials
        # The smoke checks test the code; a sweep tries bad values on purpose.
        fixed = ["smoke_checks.enabled=false", *settings.overrides, *(overrides or [])]
        experiment = settings.experiment
        if experiment and Path(experiment).suffix in {".yaml", ".yml"}:
            experiment = str(Path(experiment).resolve())  # written for the root, as configs/
        if storage and "://" not in storage:
            storage = str(from_caller(Path(storage)))  # a journal file, where it was typed
        load_config(experiment, smoke, overrides)  # a typo fails now, not in trial 0
        for key, parameter in settings.params.items():
            for value in sweeps.values_to_check(parameter):
                config = load_config(
                    experiment, smoke, [*fixed, f"{key}={value}"], overrides_from=str(sweep_file)
                )
        try:
            verify(config.data)  # missing data would fail every trial the same way
        except MissingInputError:
            flags = [f"--experiment {settings.experiment}"] * bool(settings.experiment)
            flags += ["--smoke"] * smoke
            download, preprocess = (
                " ".join([stage, *flags]) for stage in ("download", "preprocess")
            )
            raise MissingInputError(
                f"the sweep's data is not prepared in {config.data.root}: "
                f"run `{download}` and `{preprocess}` first"
            ) from None
        study_name = study or Path(name).stem + ("-smoke" if smoke else "")
        folder = Path(config.runs_dir) / "sweeps" / study_name
        keep_out_of_git(Path(config.runs_dir))
        finished = sweeps.run_sweep(
            settings,
            study_name,
            storage,
            folder,
            train=lambda values, trial: train_run(
                [*fixed, *values], experiment, smoke, allow_dirty=allow_dirty, trial=trial
            )[1],
            echo=typer.echo,
        )
    typer.echo(f"study {study_name}: {len(finished.trials)} trials; results in {folder}")
    if not sweeps.finished_trials(finished):
        typer.echo("error: every trial failed: their runs' manifest.json say why", err=True)
        tell("sweep", f"study {study_name}", "failed", "every trial failed")
        raise typer.Exit(1)
    best = finished.best_trial
    values = " ".join(
        f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in best.params.items()
    )
    said = (
        f"best: trial {best.number}, val {settings.metric} {best.value:.4g}, "
        f"run {best.user_attrs.get('run', '?')}: {values}"
    )
    typer.echo(said)
    tell("sweep", f"study {study_name}", "completed", f"{len(finished.trials)} trials; {said}")


Weights = Annotated[str, typer.Option(help="best (lowest val loss) or last.")]
Checkpoint = Annotated[
    str | None,
    typer.Option(
        help="Weights no run of this repo trained: a name in the config's `weights` (fetched "
        "with fetch-weights) or a .pt path. They get a run of their own; --experiment and "
        "--smoke pick the model and data they are scored with."
    ),
]


@app.command("eval")
def evaluate(
    run: Annotated[
        str | None, typer.Argument(help="Run id, path, or 'latest' (the default).")
    ] = None,
    split: Annotated[str, typer.Option(help="test, val or train.")] = "test",
    weights: Weights = "best",
    baseline: Annotated[str | None, typer.Option(help="Compare with this evaluated run.")] = None,
    checkpoint: Checkpoint = None,
    experiment: Experiment = None,
    smoke: Smoke = False,
) -> None:
    """Score a run: metrics, confusion matrix and training curves, in the run's eval/.

    eval/metrics.json and the PNGs are for the test split and the best weights;
    another split or weights write to eval/SPLIT-WEIGHTS/ instead.
    """
    import json

    from . import runs
    from .errors import MissingInputError
    from .evaluate import compare, eval_dir, evaluate_run

    with user_errors():
        baseline_dir = find_run(baseline) if baseline else None
        if baseline_dir and not (eval_dir(baseline_dir, split, weights) / "metrics.json").exists():
            again = [
                *("eval", baseline),
                *(["--split", split] if split != "test" else []),
                *(["--weights", weights] if weights != "best" else []),
            ]
            raise MissingInputError(
                f"{baseline} has no such evaluation: evaluate it first (`{' '.join(again)}`)"
            )
        run_dir = scored_run(run, checkpoint, experiment, smoke, ["eval", "--split", split])
        runs.refuse_while_training(run_dir, "evaluate it")
        metrics = evaluate_run(run_dir, split, weights)
        accuracy, loss = metrics["accuracy"], metrics["loss"]
        typer.echo(f"{run_dir.name}: {split} accuracy {accuracy:.4f}, loss {loss:.4f}")
        typer.echo(f"metrics and figures in {as_typed(eval_dir(run_dir, split, weights))}")
        if baseline_dir:
            comparison = compare(metrics, baseline_dir)
            (eval_dir(run_dir, split, weights) / "comparison.json").write_text(
                json.dumps(comparison, indent=2) + "\n"
            )
            delta = comparison["delta"]
            accuracy, loss = delta["accuracy"], delta["loss"]
            typer.echo(f"vs {comparison['baseline']}: accuracy {accuracy:+.4f}, loss {loss:+.4f}")


@app.command()
def infer(
    source: Annotated[Path, typer.Argument(help="An image, or a folder of images.")],
    run: Annotated[
        str | None, typer.Option(help="Run id, path, or 'latest' (the default).")
    ] = None,
    output: Annotated[Path, typer.Option(help="A .csv or .json file.")] = Path("predictions.csv"),
    weights: Weights = "best",
    checkpoint: Checkpoint = None,
    experiment: Experiment = None,
    smoke: Smoke = False,
) -> None:
    """Predict the class of each image, with every class's probability."""
    from .config import from_yaml
    from .datasets import info
    from .evaluate import load_model
    from .infer import check_output, image_paths, predict, write

    with user_errors():
        check_output(from_caller(output), shown=str(output))
        paths = image_paths(from_caller(source))
        run_dir = scored_run(run, checkpoint, experiment, smoke, ["infer", str(source)])
        config = from_yaml(run_dir / "config.yaml")
        model = load_model(run_dir, weights, config=config)
        records, unreadable = predict(model, info(config.data), paths)
        write(records, from_caller(output))
    for path, why in unreadable:
        typer.echo(f"skipped {as_typed(path)}: {why}", err=True)
    for record in records[:PREDICTIONS_SHOWN]:
        shown = as_typed(Path(record["path"]))
        typer.echo(f"{shown}: {record['prediction']} ({record['p_' + record['prediction']]:.2f})")
    if len(records) > PREDICTIONS_SHOWN:
        typer.echo(f"... and {len(records) - PREDICTIONS_SHOWN} more")
    typer.echo(f"{len(records)} prediction(s) written to {as_typed(from_caller(output))}")


def scored_run(
    run: str | None,
    checkpoint: str | None,
    experiment: str | None,
    smoke: bool,
    command: list[str],
) -> Path:
    """The run whose weights eval or infer uses: a run of this repo (default: latest), or
    --checkpoint's weights in a run of their own. A mix of the two is refused: one half of
    it would be ignored."""
    from .errors import InvalidInputError

    if checkpoint and run is not None:
        raise InvalidInputError(f"give a run or --checkpoint, not both: {run} has weights")
    if checkpoint:
        return checkpoint_run(checkpoint, experiment, smoke, command)
    if experiment or smoke:
        raise InvalidInputError(
            "--experiment and --smoke choose the model and data for --checkpoint's weights; "
            "a run is scored with its own config: drop them"
        )
    return find_run(run or "latest")


def checkpoint_run(
    reference: str, experiment: str | None, smoke: bool, command: list[str]
) -> Path:
    """A run for weights no run of this repo trained, recorded like any run: the ruler first.

    The run holds the config they are used with, the weights as model.pt, and a manifest
    naming their source and sha256; it becomes 'latest', so eval and infer can follow.
    """
    from . import manifest, runs
    from . import weights as pretrained
    from .config import load_config, to_yaml
    from .evaluate import adopt_weights

    config = load_config(experiment_path(experiment), smoke)
    typed = from_caller(Path(reference))  # a path is read where it was typed
    if reference not in config.weights and typed.is_file():
        described, label = pretrained.resolve(config, str(typed)), f"weights-{typed.stem}"
    else:
        described, label = pretrained.resolve(config, reference), f"weights-{reference}"
    run_dir = Path(config.runs_dir) / runs.new_run_id(experiment, config.smoke, label=label)
    manifest.keep_out_of_git(Path(config.runs_dir))
    adopt_weights(config, Path(described["path"]), run_dir)
    record = manifest.Manifest(run_dir)
    record.start(
        command=[
            *command,
            "--checkpoint",
            reference,
            *(["--experiment", experiment_as_recorded(experiment)] if experiment else []),
            *(["--smoke"] if smoke else []),
        ],
        git=manifest.git_state(),
        seed=config.seed,
        config=to_yaml(config),
        world_size=1,
        environment=manifest.environment(),
        weights=described,
    )
    record.finish("completed")
    runs.mark_latest(run_dir)
    sha256 = described["sha256"][:12]
    typer.echo(f"run {as_typed(run_dir)} (weights {described['source']}, sha256 {sha256})")
    return run_dir


@app.command("fetch-weights")
def fetch_weights(
    names: Annotated[
        list[str] | None, typer.Argument(help="Names in the config's `weights`; default: all.")
    ] = None,
    experiment: Experiment = None,
) -> None:
    """Download pretrained weights ahead of training (sha256-verified, resumable)."""
    from . import weights
    from .config import load_config
    from .manifest import keep_out_of_git

    with user_errors():
        config = load_config(experiment_path(experiment), check_model=False)
        keep_out_of_git(Path(config.weights_dir))
        fetched = weights.fetch(config, names or [])
    for path in fetched:
        typer.echo(f"ok {path}")
    if not fetched:
        typer.echo(
            "nothing to fetch: the config names no weights (`weights:` in configs/base.yaml or "
            "an experiment file, NAME: {url: ..., sha256: ...})"
        )


@app.command("inspect-data")
def inspect_data(
    overrides: Overrides = None,
    experiment: Experiment = None,
    smoke: Smoke = False,
    output: Annotated[
        Path | None,
        typer.Option(help="Where to write the grid (PNG); default: inputs.png in the runs dir."),
    ] = None,
) -> None:
    """Save the first training batch as the model sees it: a labelled grid and statistics."""
    from .config import load_config
    from .train import inspect_inputs, load_data

    with user_errors():
        config = load_config(experiment_path(experiment), smoke, overrides)
        path = from_caller(output) if output else Path(config.runs_dir) / "inputs.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        report = inspect_inputs(load_data(config, world_size=1, rank=0), path)
        typer.echo(f"first batch: {as_typed(path)}: {report['summary']}")


@app.command()
def rerun(run: Annotated[str, typer.Argument(help="Run id, path, or 'latest'.")]) -> None:
    """Run a recorded run's command again, as a new run, on the code as it is now.

    It warns when that code differs from the run's; `reproduce` rebuilds the
    run's own code instead.
    """
    import shlex

    from . import manifest

    with user_errors():
        run_dir = find_run(run)
        attempts = manifest.Manifest(run_dir).attempts
        first = attempts[0] if attempts else {"command": []}
        why = RERUN_NOTE.sub("", first.get("note") or "")  # a rerun of a rerun: its own why
        note = f"reruns {run_dir.name}" + (f": {why}" if why else "")
        command = manifest.command_for_new_run(run_dir, first["command"], note)
    recorded, current = first["git"]["commit"], manifest.git_state()["commit"]
    if recorded != current:
        typer.echo(
            f"warning: the run used commit {recorded}, the code is now at {current}", err=True
        )
    if first["git"]["modified"] or first["git"]["untracked"]:
        typer.echo(
            "warning: the run had uncommitted changes, saved in its folder; this rerun uses "
            f"the code as it is now (`reproduce {run_dir.name}` rebuilds the run's own)",
            err=True,
        )
    typer.echo("rerunning: " + shlex.join(command))
    # Parsed as if typed, in this process, from the project's root (the manifest's paths
    # are relative to it); the exit status is the command's.
    raise typer.Exit(app(command, prog_name=__package__, standalone_mode=False) or 0)


@app.command("runs")
def list_runs(
    sort: Annotated[
        str, typer.Option(help="Column to order by, e.g. val_accuracy, duration, id.")
    ] = "start",
    reverse: Annotated[bool, typer.Option(help="Largest first.")] = False,
    status: Annotated[
        str | None, typer.Option(help="Only runs that ended so: completed, failed, ...")
    ] = None,
    experiment: Annotated[str | None, typer.Option(help="Only runs of this experiment.")] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(help="Only runs whose resolved config has key=value, e.g. train.lr=3e-4."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list, for scripts.")] = False,
) -> None:
    """A table of the runs: when, which code, what changed, how it ended, its key metrics."""
    import json

    from . import history, runs

    with user_errors():
        runs_dir = runs.runs_dir()
        rows = history.select(history.summaries(runs_dir), runs_dir, status, experiment, where)
        rows = history.sort(rows, sort, reverse)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif rows:
        # A terminal gets a table that fits it; a pipe or a file, whole lines (`runs | grep`).
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        typer.echo(history.format_table(rows, width))
    else:
        typer.echo("no run matches" if status or experiment or where else f"no runs in {runs_dir}")


@app.command("compare")
def compare_runs(
    runs: Annotated[
        list[str],
        typer.Argument(
            help="Two or more runs (id, path or 'latest'); the first is the reference."
        ),
    ],
    diff: Annotated[
        bool, typer.Option("--diff", help="Show the full code diff and each run's dirty.patch.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(help="Folder for report.md and curves.png; default: runs/compare-<ids>/."),
    ] = None,
) -> None:
    """What differs between runs: code, config, data, environment, metrics, curves."""
    from . import runs as run_dirs
    from .compare import compare, label
    from .errors import InvalidInputError

    with user_errors():
        if len(runs) < 2:
            raise InvalidInputError("compare needs two runs or more, e.g. compare RUN_A latest")
        found = [find_run(reference) for reference in runs]
        where = [run.resolve() for run in found]  # the same run, by id or by path
        twice = next((found[i] for i, path in enumerate(where) if where.count(path) > 1), None)
        if twice:
            raise InvalidInputError(f"compare needs different runs; given twice: {twice.name}")
        suffixes = "-".join(label(run_dir) for run_dir in found)
        folder = from_caller(output) if output else run_dirs.runs_dir() / f"compare-{suffixes}"
        if folder.exists() and not folder.is_dir():
            raise InvalidInputError(f"--output {folder} is a file: name a folder for the report")
        typer.echo(compare(found, folder, diff))
    typer.echo(f"report: {as_typed(folder / 'report.md')}")


@app.command("reproduce")
def reproduce_run(
    run: Annotated[str, typer.Argument(help="Run id, path, or 'latest'.")],
) -> None:
    """Rerun a run from its record, in a separate worktree, and compare its figures.

    The worktree holds the run's commit, its dirty.patch and untracked files;
    the new run's validation figures must be identical for a CPU run with
    deterministic=true, within 0.01 otherwise. Drift in the environment and the
    data since the run is reported first.
    """
    from . import runs
    from .reproduce import drift, reproduce, training_command, verdict

    with user_errors():
        run_dir = find_run(run)
        training_command(run_dir)  # before anything slow: is there a command to rerun?
        for line in drift(run_dir):
            typer.echo(f"drift: {line}", err=True)
        typer.echo(f"reproducing {run_dir.name} in a separate worktree")
        new, rows, tolerance = reproduce(run_dir, runs.runs_dir())
    lines, reproduced = verdict(rows, tolerance, new)
    for line in lines:
        typer.echo(line)
    if not reproduced:
        raise typer.Exit(1)


@app.command()
def demo(
    run: Annotated[str, typer.Argument(help="Run id, path, or 'latest'.")] = "latest",
    host: Annotated[
        str, typer.Option(help="Address to serve on; 0.0.0.0 opens the page to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.", min=1, max=65535)] = 7860,
) -> None:
    """Try a run's model in the browser: upload or pick an image, see each class's probability.

    The page runs `infer`'s code and names the run and its commit; Ctrl-C stops
    it. Needs Gradio, the project's optional `demo` extra (the command says how
    to install it).
    """
    from .demo import build, check_address, import_gradio, start, url

    with user_errors():
        check_address(host, port)  # the quick checks first: Gradio takes seconds to import
        run_dir = find_run(run)
        import_gradio()  # before loading the model
        page = build(run_dir)
        start(page, host, port)
    typer.echo(f"serving {run_dir.name} on {url(host, port)} (Ctrl-C stops it)")
    page.block_thread()


@app.command()
def smoke(overrides: Overrides = None) -> None:
    """The whole loop on configs/smoke.yaml in one process, in seconds (`make smoke`).

    download, preprocess, train, eval and infer, each stage reading what the one
    before wrote, exactly as the separate commands do. Overrides apply to every
    stage, e.g. `smoke model.name=mlp`.
    """
    from . import runs
    from .config import load_config

    with user_errors():
        load_config(smoke=True, overrides=overrides)  # a mistyped key stops it before download
    root = Path.cwd()  # the project's root (main() moved here), wherever smoke was typed
    download(overrides, smoke=True)
    preprocess(overrides, smoke=True)
    train(overrides, smoke=True)
    evaluate("latest")
    predictions = root / runs.runs_dir() / "smoke-predictions.csv"  # (runs_dir may be absolute)
    infer(root / "tests/fixtures/images", output=predictions)


@app.command()
def info() -> None:
    """Print the versions this project runs with: Python, PyTorch, CUDA and the GPUs seen."""
    import torch

    typer.echo(f"{__package__} {__version__}")
    typer.echo(f"python {platform.python_version()} ({platform.platform()})")
    typer.echo(f"torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'}")
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            typer.echo(f"gpu {index}: {torch.cuda.get_device_name(index)}")
    else:
        typer.echo("gpu: none visible (running on CPU)")
