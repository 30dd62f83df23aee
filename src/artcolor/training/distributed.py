"""DistributedDataParallel under torchrun: gloo on CPU, NCCL on GPU; a no-op for one process."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def setup(cls, device: str = "auto") -> "Dist":
        world = int(os.environ.get("WORLD_SIZE", 1))
        if world == 1:
            return cls()
        use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
        dist.init_process_group("nccl" if use_cuda else "gloo")
        local = int(os.environ.get("LOCAL_RANK", 0))
        if use_cuda:
            torch.cuda.set_device(local)
        return cls(dist.get_rank(), world, torch.device(f"cuda:{local}" if use_cuda else "cpu"))

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world == 1:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def no_sync(self, model, last: bool):
        """Skip the gradient all-reduce on all but the last accumulated micro-batch."""
        if self.world == 1 or last:
            return contextlib.nullcontext()
        return model.no_sync()

    def gather_checksums(self, model: torch.nn.Module) -> list[float]:
        """Each rank's sum of |parameters| (float64), to check that the replicas agree."""
        total = torch.stack([p.detach().double().abs().sum() for p in model.parameters()]).sum().reshape(1)
        if self.world == 1:
            return [float(total)]
        parts = [torch.zeros_like(total) for _ in range(self.world)]
        dist.all_gather(parts, total.to(self.device))
        return [float(p) for p in parts]

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world > 1:
            dist.destroy_process_group()
