"""Training, top to bottom: data, model and optimiser, resume, the loop, the final save.

`train()` reads as the list of its steps; each step is a short function below it, in the
order it runs. The same code runs as one process or as each process of a torchrun job
(DDP): one DistributedSampler orders the data, so a global batch holds the same examples
whatever the number of processes, and rank 0 alone logs, evaluates and writes checkpoints.
SIGTERM (a cluster preempting the job) or Ctrl-C stops the run at the next step, on every
rank together, with a checkpoint to resume from.
"""

import contextlib
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset, TensorDataset
from tqdm import tqdm

from . import checkpoint, distributed, gc_pace, losses, models, weights
from .config import Config, ConfigError, SmokeChecks, TrainConfig, to_yaml
from .dataset import make_dataset, unnormalize
from .datasets import DatasetInfo
from .datasets import info as dataset_info
from .errors import STOP_SIGNALS, UserError
from .evaluate import autocast_type, evaluate, predictions_grid
from .plots import feature_maps, input_grid
from .tracking import Tracker

OVERFIT_STEPS = 30  # for the one-batch sanity check; the smoke models fit it in about 15


class NonFiniteError(UserError, RuntimeError):
    """The loss or a gradient became NaN or infinite: continuing would waste the run."""


class SmokeCheckError(UserError, ValueError):
    """A smoke run did not show the learning signal that configs/smoke.yaml asks for."""


class Pruned(Exception):
    """A sweep's pruner stopped this trial: its validation metric trails the other trials'."""


class Preempted(Exception):
    """SIGTERM or Ctrl-C arrived; a checkpoint was written and the run can be resumed."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# How a run that raised these ended, in the words of its manifest (any other: "failed").
ENDINGS = {Preempted: "interrupted", KeyboardInterrupt: "interrupted", Pruned: "pruned"}


def train(
    config: Config,
    run_dir: Path,
    resume: bool,
    on_validation: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, float]:
    """Train per `config`, writing checkpoints and logs to `run_dir`; return final metrics.

    `on_validation(step, metrics)` is called after each validation (a sweep reports to its
    pruner there, and raises Pruned to stop a trial that trails the others).
    """
    context = distributed.setup()
    device, settings, checks = context.device, config.train, config.smoke_checks
    seed_everything(config.seed, config.deterministic)
    data = load_data(config, context.world_size, context.rank)
    state = build_state(config, data.info, device, context.world_size)
    seed_this_rank(config.seed, context.rank)
    check_module_names(state.model, settings.log_activations)
    if context.is_main and (note := schedule_note(settings)):
        print(note, file=sys.stderr)
    autocast_dtype = autocast_type(settings.precision, device)
    checkpoints = run_dir / "checkpoints"

    resumed_from = restore(state, checkpoints, device, context) if resume else None
    if context.is_main and resume:
        print(
            f"resuming from {resumed_from.name} (step {state.step})"
            if resumed_from
            else "no checkpoint to resume from: starting from step 0",
            file=sys.stderr,
        )
    if config.model.init_from and resumed_from is None:
        report = weights.initialise(state.model, config, device)
        if context.is_main:
            (run_dir / "init_from.json").write_text(json.dumps(report, indent=2) + "\n")
            print(weights.summary(report), file=sys.stderr)
    if checks.enabled and resumed_from is None:
        overfit_one_batch(config, data.info, data.train, device, checks.overfit_loss)
        state.first_val_loss = validate(state, data, device, autocast_dtype)["loss"]

    probe_images = data.val.tensors[0][:16].to(device)  # the same images every time: comparable
    batches = step_batches(data, state.step, config.data.num_workers, device)
    throughput, loss, val = Throughput(), None, None  # (a run resumed at its end steps none)
    progress = tqdm(
        total=settings.max_steps,
        initial=state.step,
        desc="train",
        leave=False,
        disable=not context.is_main or None,  # rank 0 only; None: only on a terminal
    )
    gc_pace.resume()  # before the first step: see gc_pace.py
    plain_config = yaml.safe_load(state.config_yaml)  # what the trackers record, once
    tracker = (
        Tracker(run_dir, plain_config, state.step if resume else None)  # 0: nothing restored
        if context.is_main
        else None
    )
    # Closed when training ends, however it ends: the loader's worker processes end with it.
    with contextlib.closing(progress), contextlib.closing(batches), StopSignals() as stop:
        try:
            if tracker and settings.inspect_inputs and resumed_from is None:
                inputs = inspect_inputs(data, run_dir / "inputs.png")
                tracker.image("inputs/train", inputs["grid"], 0)
                print(f"first batch: inputs.png in the run: {inputs['summary']}", file=sys.stderr)
            while state.step < settings.max_steps:
                group = throughput.time_data(batches)
                lr = state.optimizer.param_groups[0]["lr"]  # this step's: the schedule moves on
                loss, raw, norms = optimisation_step(state, group, settings, autocast_dtype)
                loss = distributed.mean(loss)  # a collective: on every rank, every step
                progress.update()
                throughput.count(settings.batch_size)

                step = state.step
                if step % settings.log_every == 0:
                    raw = dict(
                        zip(raw, distributed.mean(torch.stack(list(raw.values()))), strict=True)
                    )
                    if tracker:
                        log_training(
                            tracker, state, loss, raw, settings.loss_weights, norms, lr, throughput
                        )
                if tracker and step % settings.histogram_every == 0:
                    log_histograms(tracker, state.model, step)
                    log_activations(
                        tracker, state.model, probe_images, settings.log_activations, step
                    )
                if context.is_main and (
                    step % settings.eval_every == 0 or step == settings.max_steps
                ):
                    val = validate(state, data, device, autocast_dtype)
                    log_validation(tracker, val, data, step)
                    progress.write(  # on the terminal, and in a job's log where no bar shows
                        f"step {step}/{settings.max_steps}: train loss {loss.item():.4f}, "
                        f"val loss {val['loss']:.4f}, val accuracy {val['accuracy']:.4f}",
                        file=sys.stderr,
                    )
                    if on_validation:
                        on_validation(step, {"loss": val["loss"], "accuracy": val["accuracy"]})
                    if val["loss"] < state.best_val_loss:
                        state.best_val_loss = val["loss"]
                        state.save(checkpoints / "best.pt", rngs=[])  # for eval, not resume
                if step % settings.checkpoint_every == 0 or step == settings.max_steps:
                    save_checkpoint(state, checkpoints, settings.keep_last)
                # A stop during the last step lets the run finish: its work is done.
                stopping = step < settings.max_steps and stop.received is not None
                if distributed.any_process(stopping, device):
                    save_checkpoint(state, checkpoints, settings.keep_last)
                    distributed.barrier()
                    raise Preempted(f"stopped by {stop.name} at step {step}", stop.exit_code)
            if val is None and context.is_main:  # resumed at its last step: judge it anew
                val = validate(state, data, device, autocast_dtype)
            if tracker:
                tracker.summary(plain_config, final_metrics(state, loss, val))
            if context.is_main:
                torch.save(state.model.state_dict(), run_dir / "model.pt")  # weights, to infer
                if checks.enabled:
                    pretrained = bool(config.model.init_from)
                    check_learning(checks, state.first_val_loss, val, pretrained, state.step)
        except BaseException as error:  # the tracker records how the run ended; it goes on up
            if tracker:
                tracker.close(ENDINGS.get(type(error), "failed"))
            raise
        finally:
            # The DDP wrapper holds the process group, and an exception going up holds this
            # frame: let go of it here, so that teardown can free it before leaving the group.
            state.parallel = state.model
    if tracker:
        tracker.close("completed")
    return {
        "step": state.step,
        **({"train_loss": loss.item()} if loss is not None else {}),
        "best_val_loss": state.best_val_loss,
        **({f"val_{name}": val[name] for name in ("loss", "accuracy")} if val else {}),
    }


@dataclass
class Data:
    """The splits a run trains and validates on, and how one process walks the training set."""

    info: DatasetInfo  # classes, image shape, normalisation
    train: TensorDataset
    val: TensorDataset
    sampler: DistributedSampler  # one shuffled order for all processes, a share each
    micro_batch: int  # examples per process per forward pass
    accumulation: int  # micro-batches per optimiser step
    steps_per_epoch: int


def load_data(config: Config, world_size: int, rank: int) -> Data:
    """The configured dataset's train and val splits, and this process's share of each batch."""
    settings = config.train
    train_set = make_dataset(config.data, "train")
    shares = world_size * settings.grad_accum_steps  # micro-batches per optimiser step, in all
    if settings.batch_size % shares:  # else the global batch would silently shrink
        raise ConfigError(
            f"train.batch_size {settings.batch_size} does not split evenly into {world_size} "
            f"process(es) x {settings.grad_accum_steps} accumulation step(s): make it a "
            f"multiple of {shares}"
        )
    micro_batch = settings.batch_size // shares
    sampler = DistributedSampler(
        train_set, world_size, rank, shuffle=True, seed=config.seed, drop_last=True
    )
    steps_per_epoch = len(sampler) // (micro_batch * settings.grad_accum_steps)
    if steps_per_epoch == 0:
        raise ConfigError(
            f"train.batch_size {settings.batch_size} exceeds the {len(train_set)} training images "
            f"(those data.val_size = {config.data.val_size} leaves for training): lower one"
        )
    return Data(
        info=dataset_info(config.data),
        train=train_set,
        val=make_dataset(config.data, "val"),
        sampler=sampler,
        micro_batch=micro_batch,
        accumulation=settings.grad_accum_steps,
        steps_per_epoch=steps_per_epoch,
    )


@dataclass
class State:
    """Everything the next step depends on: what a checkpoint holds, besides the RNGs."""

    model: torch.nn.Module
    parallel: torch.nn.Module  # the model wrapped in DDP under torchrun, else the model
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    step: int = 0
    best_val_loss: float = math.inf
    first_val_loss: float = math.nan  # before any training: smoke checks measure from it
    config_yaml: str = ""  # the run's resolved config, saved in every checkpoint

    def save(self, path: Path, rngs: list[dict]) -> None:
        """Write a checkpoint, with `rngs`: the random states of the processes, by rank."""
        checkpoint.save(
            {
                "step": self.step,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(),
                "scaler": self.scaler.state_dict(),
                "rng": rngs,
                "best_val_loss": self.best_val_loss,
                "first_val_loss": self.first_val_loss,
                "config": self.config_yaml,
            },
            path,
        )


def build_state(config: Config, info: DatasetInfo, device: torch.device, world_size: int) -> State:
    """The model, AdamW, the learning-rate schedule (linear warm-up, cosine decay), the scaler."""
    settings = config.train
    model = models.build(config.model, info).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    return State(
        model=model,
        parallel=DistributedDataParallel(model) if world_size > 1 else model,
        optimizer=optimizer,
        schedule=torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, settings.warmup_steps, settings.max_steps)
        ),
        scaler=torch.amp.GradScaler(
            device.type,
            enabled=autocast_type(settings.precision, device) == torch.float16,
        ),
        config_yaml=to_yaml(config),
    )


def restore(
    state: State, checkpoints: Path, device: torch.device, context: distributed.Context
) -> Path | None:
    """Load the newest intact checkpoint into `state`, and this rank's random state; return
    its path (None: there is none). Resuming with another number of processes than it has
    random states for works, but is not exact: each process's data and random numbers differ."""
    found = checkpoint.load_newest_intact(checkpoints, device)
    if found is None:
        return None
    saved, path = found
    state.model.load_state_dict(saved["model"])
    state.optimizer.load_state_dict(saved["optimizer"])
    state.schedule.load_state_dict(saved["schedule"])
    state.scaler.load_state_dict(saved["scaler"])
    saved_states = checkpoint.restore_rng(saved["rng"], context.rank)
    if saved_states != context.world_size and context.is_main:
        print(
            f"warning: {path.name} holds the random state of {saved_states} process(es), and "
            f"{context.world_size} resume it: the run goes on, but not as it would have "
            "uninterrupted",
            file=sys.stderr,
        )
    state.step, state.best_val_loss = saved["step"], saved["best_val_loss"]
    state.first_val_loss = saved.get("first_val_loss", math.nan)
    return path


def step_batches(
    data: Data, start_step: int, workers: int, device: torch.device
) -> Iterator[list[tuple[torch.Tensor, torch.Tensor]]]:
    """This process's micro-batches for every step from `start_step` on, one list per step.

    Epoch after epoch, each in the sampler's order for that epoch: a resumed run continues
    mid-epoch with exactly the examples it would have seen.
    """
    step = start_step
    while True:
        epoch, done = divmod(step, data.steps_per_epoch)
        data.sampler.set_epoch(epoch)
        order = list(data.sampler)[done * data.micro_batch * data.accumulation :]
        # Its own generator, for its workers' seeds: a loader without one draws them from the
        # global generator, and a resumed run, which starts a loader mid-epoch, drew once more
        # than the run it continues: every dropout mask after that differed.
        seed = derived_seed(data.sampler.seed, LOADER, epoch, data.sampler.rank)
        loader = DataLoader(
            Subset(data.train, order),
            batch_size=data.micro_batch,
            num_workers=workers,
            pin_memory=device.type == "cuda",
            drop_last=True,
            generator=torch.Generator().manual_seed(seed),
            worker_init_fn=ignore_ctrl_c,
        )
        group = []
        for batch in loader:
            group.append(batch)
            if len(group) == data.accumulation:
                yield group
                group, step = [], step + 1


def ignore_ctrl_c(worker_id: int) -> None:
    """In a data-loading worker. Ctrl-C at a terminal reaches every process, and the workers,
    forked while training's Ctrl-C handler is in place, would run it: on a second Ctrl-C a
    worker starting or ending printed a traceback. The main process stops them itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def optimisation_step(
    state: State,
    group: list[tuple[torch.Tensor, torch.Tensor]],
    settings: TrainConfig,
    autocast_dtype: torch.dtype | None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, float]]:
    """One optimiser step over a group of micro-batches: the loss, its raw terms, grad norms."""
    device = next(state.model.parameters()).device
    state.optimizer.zero_grad(set_to_none=True)  # (gradients stay inspectable after the step)
    loss = torch.zeros((), device=device)
    raw = {name: torch.zeros((), device=device) for name in settings.loss_weights}
    for index, (images, labels) in enumerate(group):
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        last = index == len(group) - 1
        with (
            maybe_no_sync(state.parallel, not last),
            torch.autocast(
                device.type,
                dtype=autocast_dtype or torch.float32,
                enabled=autocast_dtype is not None,
            ),
        ):
            micro_loss, micro_raw = loss_of(state.parallel, images, labels, settings.loss_weights)
        state.scaler.scale(micro_loss / len(group)).backward()
        loss += micro_loss.detach() / len(group)
        for name, value in micro_raw.items():
            raw[name] += value.detach().float() / len(group)
    state.scaler.unscale_(state.optimizer)
    norms = gradient_norms(state.model)
    check_finite(loss, norms, state.step + 1, state.scaler.is_enabled())
    if settings.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(state.model.parameters(), settings.grad_clip)
    state.scaler.step(state.optimizer)
    state.scaler.update()
    state.schedule.step()
    state.step += 1
    return loss, raw, norms


def loss_of(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    loss_weights: dict[str, float],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The training objective, the weighted sum of the loss terms (losses.py), and each term."""
    raw = losses.terms(model(images), labels, loss_weights)
    return losses.weighted_sum(raw, loss_weights), raw


def validate(
    state: State, data: Data, device: torch.device, autocast_dtype: torch.dtype | None
) -> dict:
    """The model on the validation split, as `eval` scores it (one routine for both)."""
    return evaluate(state.model, data.val, len(data.info.classes), device, autocast_dtype)


def save_checkpoint(state: State, checkpoints: Path, keep_last: int) -> None:
    """A step checkpoint to resume from, with every rank's random state (so every process
    calls this); rank 0 writes it and deletes those older than train.keep_last."""
    rngs = distributed.gather(checkpoint.rng_state())
    if rngs is not None:
        state.save(checkpoint.step_path(checkpoints, state.step), rngs)
        checkpoint.prune(checkpoints, keep_last)


class Throughput:
    """Examples per second, and the share of the time spent waiting for data, since a reset."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.start, self.data_wait, self.examples = time.perf_counter(), 0.0, 0

    def time_data(self, batches: Iterator):
        """The next item of `batches`, counting the wait as data time."""
        started = time.perf_counter()
        item = next(batches)
        self.data_wait += time.perf_counter() - started
        return item

    def count(self, examples: int) -> None:
        self.examples += examples

    def rates(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self.start
        return {
            "train/samples_per_second": self.examples / elapsed,
            "train/data_wait_fraction": self.data_wait / elapsed,
        }


def log_training(
    tracker: Tracker,
    state: State,
    loss: torch.Tensor,
    raw: dict[str, torch.Tensor],
    loss_weights: dict[str, float],
    norms: dict[str, float],
    lr: float,
    throughput: Throughput,
) -> None:
    tracker.scalars(
        {
            "train/loss": loss.item(),
            **{f"loss/{name}": value.item() for name, value in raw.items()},
            **{f"loss/{name}_weighted": loss_weights[name] * v.item() for name, v in raw.items()},
            "train/lr": lr,
            **throughput.rates(),
            **{f"grad_norm/{name}": value for name, value in norms.items()},
        },
        state.step,
    )
    throughput.reset()


def log_histograms(tracker: Tracker, model: torch.nn.Module, step: int) -> None:
    for name, parameter in model.named_parameters():
        tracker.histogram(f"weights/{name}", parameter, step)
        if parameter.grad is not None:
            tracker.histogram(f"gradients/{name}", parameter.grad, step)


def check_module_names(model: torch.nn.Module, names: list[str]) -> None:
    known = dict(model.named_modules())
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(
            f"train.log_activations: the model has no module {', '.join(unknown)}; "
            f"it has {', '.join(name for name in known if name)}"
        )


@torch.no_grad()
def log_activations(
    tracker: Tracker, model: torch.nn.Module, images: torch.Tensor, names: list[str], step: int
) -> None:
    """The outputs of the named modules on fixed images: a histogram each, and feature maps.

    Forward hooks catch the outputs during one extra forward pass in eval mode, and are
    removed after it: nothing stays attached to the model between logging steps.
    """
    if not names:
        return
    outputs: dict[str, torch.Tensor] = {}
    modules = dict(model.named_modules())
    hooks = [
        modules[name].register_forward_hook(
            lambda module, inputs, output, name=name: outputs.__setitem__(name, output)
        )
        for name in names
    ]
    training = model.training
    try:
        model.eval()
        model(images)
    finally:
        model.train(training)
        for hook in hooks:
            hook.remove()
    for name, output in outputs.items():
        tracker.histogram(f"activations/{name}", output, step)
        if output.ndim == 4:  # (N, C, H, W): the first image's channels, side by side
            tracker.image(
                f"activations/{name}", feature_maps(output[0].float().cpu().numpy()), step
            )


def inspect_inputs(data: Data, path: Path) -> dict:
    """The first training batch exactly as the model receives it: a grid and statistics.

    The batch comes from the training loader itself (after any augmentation and the
    normalisation), and only the display undoes the normalisation: wrong labels, a wrong
    mean or a blank image show here in the first second instead of as a poor result later.
    """
    images, labels = next(step_batches(data, 0, 0, torch.device("cpu")))[0]
    grid = input_grid(
        unnormalize(images, data.info).numpy(), [data.info.classes[i] for i in labels]
    )
    Image.fromarray(grid).save(path)
    flat = images.transpose(0, 1).reshape(images.shape[1], -1).double()
    stats = {
        "shape": list(images.shape),
        "mean": flat.mean(1).tolist(),
        "std": flat.std(1).tolist(),
        "min": flat.min(1).values.tolist(),
        "max": flat.max(1).values.tolist(),
    }
    path.with_suffix(".json").write_text(json.dumps(stats, indent=2) + "\n")
    channels = ", ".join(
        f"mean {m:+.2f} std {s:.2f} range [{lo:.2f}, {hi:.2f}]"
        for m, s, lo, hi in zip(
            stats["mean"], stats["std"], stats["min"], stats["max"], strict=True
        )
    )
    shown = min(len(images), 16)
    summary = (
        f"{shown} of a batch of {len(images)}, each {tuple(images.shape[1:])}; "
        f"per channel {channels}"
    )
    if not torch.isfinite(images).all() or min(stats["std"]) < 1e-6:
        summary += "\nwarning: the inputs hold NaN/inf or a constant channel: check the data"
    return {"grid": grid, "stats": stats, "summary": summary}


def log_validation(tracker: Tracker | None, val: dict, data: Data, step: int) -> None:
    if tracker:
        tracker.scalars({"val/loss": val["loss"], "val/accuracy": val["accuracy"]}, step)
        tracker.image(
            "val/predictions", predictions_grid(data.val, val["predicted"], data.info), step
        )


def final_metrics(state: State, loss: torch.Tensor | None, val: dict | None) -> dict[str, float]:
    """What a run ended with, for the trackers' comparison of runs (their HParams views)."""
    metrics = {"final/best_val_loss": state.best_val_loss}
    if loss is not None:
        metrics["final/train_loss"] = loss.item()
    if val is not None:
        metrics.update({"final/val_loss": val["loss"], "final/val_accuracy": val["accuracy"]})
    return metrics


def overfit_one_batch(
    config: Config, info: DatasetInfo, dataset: TensorDataset, device: torch.device, target: float
) -> None:
    """A fresh model must fit 16 examples almost perfectly in OVERFIT_STEPS steps at train.lr.

    The classic sanity check, for any model: it fails on a loss that does not depend on
    the weights, a graph detached from them, or a model that cannot tell examples apart.
    It uses its own random state, so the run itself is unchanged: the CPU's and, as seeding
    seeds every device too, the device's.
    """
    images, labels = (tensor[:16].to(device) for tensor in dataset.tensors)
    devices = [] if device.type == "cpu" else [device]
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.manual_seed(config.seed)
        model = models.build(config.model, info).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.lr, weight_decay=0)
        for _ in range(OVERFIT_STEPS):
            optimizer.zero_grad(set_to_none=True)
            loss_of(model, images, labels, config.train.loss_weights)[0].backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            loss = loss_of(model, images, labels, config.train.loss_weights)[0].item()
    if not loss < target:
        raise SmokeCheckError(
            f"smoke check failed: a fresh model could not overfit one batch of 16 examples "
            f"(loss {loss:.4f} after {OVERFIT_STEPS} steps, smoke_checks.overfit_loss {target}): "
            "the loss or the graph from the weights to it is broken, or train.lr "
            f"({config.train.lr:g}) is too low or too high to fit 16 examples in "
            f"{OVERFIT_STEPS} steps, or the model too small. A train.lr that suits a long run "
            "may fail this check: try it with smoke_checks.enabled=false, or raise "
            "smoke_checks.overfit_loss in configs/smoke.yaml"
        )


def check_learning(
    checks: SmokeChecks, first: float, val: dict[str, float], pretrained: bool, steps: int
) -> None:
    """The run must have learned in its `steps`: validation loss down by a margin, accuracy
    above a bar.

    Weights that start trained (`pretrained`) may have little left to learn on the smoke
    data: the message says so, rather than suspect the loss or the labels. It names the
    steps too: the thresholds hold for smoke.yaml's schedule, not a shortened one.
    """
    last, accuracy = val["loss"], val["accuracy"]
    drop = 1 - last / first if math.isfinite(first) and first > 0 else math.nan
    problems = []
    if not drop >= checks.min_loss_drop:
        moved = f"rose by {-drop:.0%}" if drop < 0 else f"fell by {drop:.0%}"
        problems.append(
            f"validation loss {moved} ({first:.4f} -> {last:.4f}), "
            f"less of a fall than smoke_checks.min_loss_drop {checks.min_loss_drop:.0%}"
        )
    if not accuracy >= checks.min_accuracy:
        problems.append(
            f"validation accuracy {accuracy:.4f} is below smoke_checks.min_accuracy "
            f"{checks.min_accuracy}"
        )
    if problems:
        cause = (
            "weights that start trained (model.init_from) may have little left to learn: "
            "try it with smoke_checks.enabled=false"
            if pretrained
            else "a broken loss, labels, optimiser or learning rate? The thresholds are set "
            f"for configs/smoke.yaml's schedule; this run took {steps} steps"
        )
        raise SmokeCheckError(
            "smoke check failed, the run did not learn: " + "; ".join(problems) + f" ({cause})"
        )


def schedule_note(settings: TrainConfig) -> str:
    """A note for a warm-up as long as the run ("" otherwise), as when a quick try shortens
    max_steps alone: the whole run then climbs towards train.lr, and never decays."""
    if settings.warmup_steps < settings.max_steps:
        return ""
    return (
        f"note: train.warmup_steps ({settings.warmup_steps}) is not under train.max_steps "
        f"({settings.max_steps}): the whole run is warm-up, its learning rate climbing towards "
        f"train.lr ({settings.lr:g}); shorten the warm-up too, e.g. train.warmup_steps="
        + str(settings.max_steps // 10)
    )


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor: linear warm-up to 1, then cosine decay to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed torch; with `deterministic`, make every kernel reproducible (at some speed cost).

    cuBLAS needs CUBLAS_WORKSPACE_CONFIG for deterministic matrix products; it reads it when
    it makes its handle, at the first matrix product on the GPU, so setting it here suffices.
    Switched off too, not only on: a sweep's trials and the tests share one process.
    """
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False


def seed_this_rank(seed: int, rank: int) -> None:
    """Give each process of a multi-process run random numbers of its own (dropout masks).
    Rank 0, like a lone process, goes on from `seed`; the others start from seeds derived
    from it and their rank. (The model is built first, from `seed` on every rank.)"""
    if rank > 0:
        torch.manual_seed(derived_seed(seed, RANK, rank))


# What a derived seed is for: it comes last, and is not 0, since a SeedSequence ignores
# trailing zeros ([seed, 1, 0] would give the seed of [seed, 1]).
LOADER, RANK = 1, 2


def derived_seed(seed: int, purpose: int, *keys: int) -> int:
    """A seed for one use of the run's `seed` (a rank's random numbers, an epoch's loader),
    unlike any other use's. (% 2**64: a SeedSequence takes no negative seed.)"""
    return int(np.random.SeedSequence([seed % 2**64, *keys, purpose]).generate_state(1)[0])


def maybe_no_sync(model: torch.nn.Module, skip_sync: bool):
    """Under DDP, skip the gradient all-reduce on all but the last micro-batch."""
    if skip_sync and isinstance(model, DistributedDataParallel):
        return model.no_sync()
    return contextlib.nullcontext()


def gradient_norms(model: torch.nn.Module) -> dict[str, float]:
    """The L2 norm of the gradients of each top-level module."""
    norms = {}
    for name, module in model.named_children():
        grads = [p.grad.detach().float().norm() for p in module.parameters() if p.grad is not None]
        if grads:
            norms[name] = torch.stack(grads).norm().item()
    return norms


def check_finite(loss: torch.Tensor, norms: dict[str, float], step: int, scaled: bool) -> None:
    """Stop at the first NaN/inf, naming the step and the modules whose gradients broke.

    With fp16 loss scaling, infinite gradients are expected now and then (the scaler skips
    that step), so only the loss is checked.
    """
    if not torch.isfinite(loss):
        raise NonFiniteError(
            f"step {step}: the loss is {loss.item()}; lower train.lr or check the data"
        )
    broken = [name for name, value in norms.items() if not math.isfinite(value)]
    if broken and not scaled:
        raise NonFiniteError(f"step {step}: non-finite gradients in module(s) {', '.join(broken)}")


class StopSignals:
    """SIGTERM (a scheduler preempting the job), SIGHUP (the terminal closed, an SSH session
    dropped) or a first Ctrl-C asks the loop to stop.

    The loop checks after each step, on all ranks at once, and stops with a checkpoint. A
    second Ctrl-C stops at once, without one. Once stopping, the process ignores Ctrl-C: what
    is left is to write the run's record and exit, which another Ctrl-C would only cut short.
    """

    EXIT_CODES = {**dict.fromkeys(STOP_SIGNALS, 75), signal.SIGINT: 130}  # EX_TEMPFAIL

    def __init__(self) -> None:
        self.received: int | None = None

    def __enter__(self) -> "StopSignals":
        self._previous = {sig: signal.signal(sig, self._handle) for sig in self.EXIT_CODES}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        if self.received is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    def _handle(self, signum: int, frame: object) -> None:
        if signum == signal.SIGINT and self.received == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum

    @property
    def name(self) -> str:
        if self.received == signal.SIGINT:
            return "Ctrl-C"
        # Another rank's signal stops this one too: that is preemption, SIGTERM.
        return signal.Signals(self.received or signal.SIGTERM).name

    @property
    def exit_code(self) -> int:
        return self.EXIT_CODES.get(self.received, 75)
