"""Training, top to bottom: setup, data, model, optimiser, resume, loop, final save.

The same function runs as one process or as each process of a torchrun job (DDP). One
DistributedSampler orders the data, so a global batch holds the same examples whatever
the number of processes. Rank 0 alone logs, evaluates and writes checkpoints. SIGTERM
(a cluster preempting the job) is honoured at the next step, on every rank together.
"""

import contextlib
import math
import signal
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset, TensorDataset
from tqdm import tqdm

from . import checkpoint, distributed, models
from .config import Config, SmokeChecks, to_yaml
from .dataset import make_dataset
from .datasets import DatasetInfo
from .datasets import info as dataset_info
from .errors import UserError
from .evaluate import autocast_type, evaluate, predictions_grid
from .tracking import Tracker

OVERFIT_STEPS = 50  # for the one-batch sanity check; the smoke models fit it in about 20


class NonFiniteError(UserError, RuntimeError):
    """The loss or a gradient became NaN or infinite: continuing would waste the run."""


class SmokeCheckError(UserError, ValueError):
    """A smoke run did not show the learning signal that configs/smoke.yaml asks for."""


class Preempted(Exception):
    """SIGTERM arrived; a checkpoint was written and the run can be resumed."""


def train(config: Config, run_dir: Path, resume: bool) -> dict[str, float]:
    """Train per `config`, writing checkpoints and logs to `run_dir`; return final metrics."""
    context = distributed.setup()
    device, settings = context.device, config.train
    seed_everything(config.seed, config.deterministic)
    autocast_dtype = autocast_type(settings.precision, device)

    # Data. Every process draws its share of each global batch from one shared ordering.
    info = dataset_info(config.data)  # classes, image shape, normalisation
    train_set = make_dataset(config.data, "train")
    val_set = make_dataset(config.data, "val")
    micro_batch = settings.batch_size // (context.world_size * settings.grad_accum_steps)
    sampler = DistributedSampler(
        train_set, context.world_size, context.rank, shuffle=True, seed=config.seed, drop_last=True
    )
    steps_per_epoch = len(sampler) // (micro_batch * settings.grad_accum_steps)
    if steps_per_epoch == 0:
        raise ValueError(
            f"train.batch_size {settings.batch_size} exceeds the {len(train_set)} training images"
        )

    # Model, optimiser, learning-rate schedule (linear warm-up, cosine decay).
    model = models.build(config.model, info).to(device)
    parallel = DistributedDataParallel(model) if context.world_size > 1 else model
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, settings.warmup_steps, settings.max_steps)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)

    # Resume: every piece of state that the next step depends on.
    step, best_val_loss, first_val_loss = 0, math.inf, math.nan
    checkpoints = run_dir / "checkpoints"
    if resume:
        state = checkpoint.load(checkpoint.latest(checkpoints), device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        scaler.load_state_dict(state["scaler"])
        checkpoint.restore_rng(state["rng"])
        step, best_val_loss = state["step"], state["best_val_loss"]
        first_val_loss = state.get("first_val_loss", math.nan)

    # Smoke checks (smoke.yaml): a fresh model can overfit one batch; where the loss starts.
    checks = config.smoke_checks
    if checks.enabled and not resume:
        overfit_one_batch(config, info, train_set, device, checks.overfit_loss)
        before = evaluate(model, val_set, len(info.classes), device, autocast_dtype)
        first_val_loss = before["loss"]

    tracker = (
        Tracker(run_dir, _plain(config), step if resume else None) if context.is_main else None
    )
    stop = StopFlag()
    progress = tqdm(
        total=settings.max_steps,
        initial=step,
        desc="train",
        leave=False,
        disable=not context.is_main or None,  # rank 0 only; None: only on a terminal
    )
    window = {"start": time.perf_counter(), "data_wait": 0.0, "steps": 0}
    batches, loss, val = None, torch.zeros((), device=device), None

    def save(path: Path) -> None:
        checkpoint.save(
            {
                "step": step,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "scaler": scaler.state_dict(),
                "rng": checkpoint.rng_state(),
                "best_val_loss": best_val_loss,
                "first_val_loss": first_val_loss,
                "config": to_yaml(config),
            },
            path,
        )

    try:
        while step < settings.max_steps:
            # A new epoch, or the middle of one after resuming: continue its exact order.
            epoch, done = divmod(step, steps_per_epoch)
            if batches is None or done == 0:
                batches = epoch_batches(
                    train_set,
                    sampler,
                    epoch,
                    done,
                    micro_batch,
                    settings.grad_accum_steps,
                    config.data.num_workers,
                    device,
                )

            # One optimiser step over grad_accum_steps micro-batches.
            optimizer.zero_grad(set_to_none=True)  # (gradients stay inspectable after the step)
            wait_start = time.perf_counter()
            group = next(batches)
            window["data_wait"] += time.perf_counter() - wait_start
            loss = torch.zeros((), device=device)
            for index, (images, labels) in enumerate(group):
                images, labels = (
                    images.to(device, non_blocking=True),
                    labels.to(device, non_blocking=True),
                )
                last = index == len(group) - 1
                with (
                    maybe_no_sync(parallel, not last),
                    torch.autocast(
                        device.type,
                        dtype=autocast_dtype or torch.float32,
                        enabled=autocast_dtype is not None,
                    ),
                ):
                    micro_loss = loss_of(parallel, images, labels) / len(group)
                scaler.scale(micro_loss).backward()
                loss += micro_loss.detach()
            scaler.unscale_(optimizer)
            norms = gradient_norms(model)
            check_finite(loss, norms, step + 1, scaler.is_enabled())
            if settings.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            step += 1
            window["steps"] += 1
            progress.update()

            # Logging, evaluation and checkpoints; collectives first, on every rank.
            loss = distributed.mean(loss)
            if tracker is not None and step % settings.log_every == 0:
                elapsed = time.perf_counter() - window["start"]
                throughput = window["steps"] * settings.batch_size / elapsed
                tracker.scalars(
                    {
                        "train/loss": loss.item(),
                        "train/lr": schedule.get_last_lr()[0],
                        "train/samples_per_second": throughput,
                        "train/data_wait_fraction": window["data_wait"] / elapsed,
                        **{f"grad_norm/{name}": value for name, value in norms.items()},
                    },
                    step,
                )
                window.update(start=time.perf_counter(), data_wait=0.0, steps=0)
            if tracker is not None and step % settings.histogram_every == 0:
                for name, parameter in model.named_parameters():
                    tracker.histogram(f"weights/{name}", parameter, step)
                    if parameter.grad is not None:
                        tracker.histogram(f"gradients/{name}", parameter.grad, step)
            if tracker is not None and (
                step % settings.eval_every == 0 or step == settings.max_steps
            ):
                val = evaluate(model, val_set, len(info.classes), device, autocast_dtype)
                tracker.scalars({"val/loss": val["loss"], "val/accuracy": val["accuracy"]}, step)
                tracker.image(
                    "val/predictions", predictions_grid(val_set, val["predicted"], info), step
                )
                if val["loss"] < best_val_loss:
                    best_val_loss = val["loss"]
                    save(checkpoints / "best.pt")
            if context.is_main and (
                step % settings.checkpoint_every == 0 or step == settings.max_steps
            ):
                save(checkpoint.step_path(checkpoints, step))
                checkpoint.prune(checkpoints, settings.keep_last)
            if distributed.any_process(stop.requested, device):
                if context.is_main:
                    save(checkpoint.step_path(checkpoints, step))
                distributed.barrier()
                raise Preempted(f"stopped by SIGTERM at step {step}; checkpoint saved")

        if context.is_main:
            torch.save(model.state_dict(), run_dir / "model.pt")  # weights only, for inference
            if checks.enabled and val is not None:
                check_learning(checks, first_val_loss, val["loss"], val["accuracy"])
        return {"step": step, "train_loss": loss.item(), "best_val_loss": best_val_loss}
    finally:
        progress.close()
        stop.restore()
        if tracker is not None:
            tracker.close()


def loss_of(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The training objective: mean cross-entropy of the model's logits."""
    return F.cross_entropy(model(images), labels)


def overfit_one_batch(
    config: Config, info: DatasetInfo, dataset: TensorDataset, device: torch.device, target: float
) -> None:
    """A fresh model must fit 16 examples almost perfectly in OVERFIT_STEPS steps at train.lr.

    The classic sanity check, for any model: it fails on a loss that does not depend on
    the weights, a graph detached from them, or a model that cannot tell examples apart.
    It uses its own random state, so the run itself is unchanged.
    """
    images, labels = (tensor[:16].to(device) for tensor in dataset.tensors)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = models.build(config.model, info).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.lr, weight_decay=0)
        for _ in range(OVERFIT_STEPS):
            optimizer.zero_grad(set_to_none=True)
            loss_of(model, images, labels).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            loss = loss_of(model, images, labels).item()
    if not loss < target:
        raise SmokeCheckError(
            f"smoke check failed: a fresh model could not overfit one batch of 16 examples "
            f"(loss {loss:.4f} after {OVERFIT_STEPS} steps, smoke_checks.overfit_loss {target}): "
            "the loss, the graph from the weights to it, or train.lr is broken"
        )


def check_learning(checks: SmokeChecks, first: float, last: float, accuracy: float) -> None:
    """The run must have learned: validation loss down by a margin, accuracy above a bar."""
    drop = 1 - last / first if math.isfinite(first) and first > 0 else math.nan
    problems = []
    if not drop >= checks.min_loss_drop:
        problems.append(
            f"validation loss fell by {drop:.0%} ({first:.4f} -> {last:.4f}), "
            f"less than smoke_checks.min_loss_drop {checks.min_loss_drop:.0%}"
        )
    if not accuracy >= checks.min_accuracy:
        problems.append(
            f"validation accuracy {accuracy:.4f} is below smoke_checks.min_accuracy "
            f"{checks.min_accuracy}"
        )
    if problems:
        raise SmokeCheckError(
            "smoke check failed, the run did not learn: "
            + "; ".join(problems)
            + " (a broken loss, labels, optimiser or learning rate?)"
        )


def epoch_batches(
    dataset: TensorDataset,
    sampler: DistributedSampler,
    epoch: int,
    skip: int,
    micro_batch: int,
    accumulation: int,
    workers: int,
    device: torch.device,
):
    """This process's micro-batches of `epoch`, grouped per optimiser step, from step `skip`."""
    sampler.set_epoch(epoch)
    order = list(sampler)[skip * micro_batch * accumulation :]
    loader = DataLoader(
        Subset(dataset, order),
        batch_size=micro_batch,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
    )
    group = []
    for batch in loader:
        group.append(batch)
        if len(group) == accumulation:
            yield group
            group = []


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor: linear warm-up to 1, then cosine decay to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def seed_everything(seed: int, deterministic: bool) -> None:
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


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


class StopFlag:
    """Set by SIGTERM; the loop checks it (on all ranks at once) after each step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True

    def restore(self) -> None:
        signal.signal(signal.SIGTERM, self._previous)


def _plain(config: Config) -> dict:
    import yaml

    return yaml.safe_load(to_yaml(config))
