"""One process or many under torchrun: rank, world size, device, and the collectives used.

Without torchrun everything here degrades to a single process: the same code path trains
on a laptop and on eight GPUs.
"""

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, evaluates, writes checkpoints and the manifest."""
        return self.rank == 0


def setup() -> Context:
    """Join the process group when started by torchrun; pick this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    elif torch.backends.mps.is_available() and world_size == 1:
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(rank, world_size, device)


def teardown() -> None:
    """Leave the process group, once nothing uses it.

    A finished run's DistributedDataParallel lives on in reference cycles until the garbage
    collector runs, and holds the group: destroyed then, in the middle of the interpreter's
    exit, a process could abort ("terminate called without an active exception"). So the
    cycles go first.
    """
    if dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def mean(value: torch.Tensor) -> torch.Tensor:
    """The average of `value` over all processes (itself when alone)."""
    if dist.is_initialized():
        value = value.detach().clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)  # gloo (CPU) has no AVG
        value /= dist.get_world_size()
    return value


def any_process(flag: bool, device: torch.device) -> bool:
    """True on every process when `flag` is true on at least one: a decision all agree on."""
    if not dist.is_initialized():
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def broadcast(value: object) -> object:
    """Rank 0's `value` on every process (e.g. the run id it chose)."""
    if not dist.is_initialized():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value: object) -> list | None:
    """Every process's `value`, in rank order, on rank 0; None on the others."""
    if not dist.is_initialized():
        return [value]
    values = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(value, values, dst=0)
    return values


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()
