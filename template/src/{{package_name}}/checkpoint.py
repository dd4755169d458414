"""Checkpoints: atomic, complete enough to resume exactly, loadable with weights_only=True.

A step checkpoint holds the model, optimiser, LR schedule, gradient scaler, every process's
RNG state, step, best validation loss and the resolved config. Everything is tensors, numbers
and strings, so `torch.load(weights_only=True)` (the safe default since torch 2.6) reads it.
"""

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .errors import InvalidInputError

PATTERN = "step-*.pt"
# What torch.load raises on a truncated, emptied or overwritten file: whatever its
# unpickler trips on (RuntimeError, EOFError, UnpicklingError, BadZipFile, and on bytes
# that are no checkpoint at all IndexError, KeyError, ValueError...). The file is only read.
UNREADABLE = Exception


def save(state: dict[str, Any], path: Path) -> None:
    """Write `state` to `path` atomically: a crash mid-write never leaves a broken file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def load(path: Path, device: torch.device) -> dict[str, Any]:
    return torch.load(path, map_location=device, weights_only=True)


def load_named(path: Path, device: torch.device, way_on: Callable[[], str]) -> dict[str, Any]:
    """`load`, where a damaged file is an error naming it and the way on that `way_on()`
    says (asked only then: it may try other files), not a traceback."""
    try:
        return load(path, device)
    except UNREADABLE as error:
        raise InvalidInputError(
            f"{path} is unreadable ({_reason(error)}): it was cut short or damaged. Restore "
            f"it, or {way_on()}"
        ) from None


def loads(path: Path, device: torch.device) -> bool:
    """Whether `path` is a checkpoint that loads."""
    try:
        load(path, device)
    except UNREADABLE:
        return False
    return True


def _reason(error: BaseException) -> str:
    text = str(error)
    if text.startswith("Weights only load failed"):
        # torch's advice, to load with weights_only=False, is no advice for a damaged file:
        # that would run whatever the bytes say. Its reason is the unpickler's line.
        said = text.partition("WeightsUnpickler error:")[2].strip().splitlines()
        return f"not a checkpoint torch reads safely: {said[0]}" if said else "not a checkpoint"
    return text.splitlines()[0] if text else type(error).__name__


def load_newest_intact(
    directory: Path, device: torch.device
) -> tuple[dict[str, Any], Path] | None:
    """The newest step checkpoint that loads, and its path; None when none does.

    Saving is atomic, but a disk that filled up or a copy cut short can still leave a
    broken file: each one skipped is named on stderr, so a fallback is never silent.
    """
    for path in reversed(sorted(directory.glob(PATTERN))):
        try:
            return load(path, device), path
        except UNREADABLE as error:
            print(
                f"warning: {path} is unreadable ({_reason(error)}): trying an older one",
                file=sys.stderr,
            )
    return None


def step_path(directory: Path, step: int) -> Path:
    return directory / f"step-{step:08d}.pt"


def prune(directory: Path, keep_last: int) -> None:
    """Delete all but the newest `keep_last` step checkpoints (best.pt is kept apart)."""
    for old in sorted(directory.glob(PATTERN))[: -keep_last or None]:
        old.unlink()


def rng_state() -> dict[str, Any]:
    """This process's random state: torch's CPU generator's, and its GPU's."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()  # the current device: this rank's
    return state


def restore_rng(states: list[dict[str, Any]] | dict[str, Any], rank: int) -> int:
    """Restore process `rank`'s random state from a checkpoint's, one per process; return
    how many it holds. A rank it has no state for keeps its own."""
    if isinstance(states, dict):  # before template 0.12.18: rank 0's alone
        states = [_own_gpu(states)]
    if rank < len(states):
        torch.set_rng_state(states[rank]["torch"].cpu())
        if "cuda" in states[rank] and torch.cuda.is_available():
            torch.cuda.set_rng_state(states[rank]["cuda"].cpu())
    return len(states)


def _own_gpu(state: dict[str, Any]) -> dict[str, Any]:
    """An old state, which held every visible GPU's, with the current GPU's alone."""
    gpus = state.get("cuda", [])
    own = {"torch": state["torch"]}
    if torch.cuda.is_available() and torch.cuda.current_device() < len(gpus):
        own["cuda"] = gpus[torch.cuda.current_device()]
    return own
