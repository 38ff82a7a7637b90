"""Folder runs split across processes started by ``torchrun`` (one per GPU or node).

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; rank r takes jobs r, r + N,
r + 2N, ... of the sorted job list (disjoint shares whose union is what one process would
do), puts its model on ``cuda:LOCAL_RANK``, and the ranks' reports are gathered so that rank
0 prints one summary and lists every failure. Without torchrun (no ``WORLD_SIZE``, or 1)
everything here is a no-op and torch is not imported.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["rank_share", "rank_device", "gather_lines", "finish"]


def _world() -> tuple[int, int]:
    try:
        return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 0, 1


def rank_share() -> tuple[int, int]:
    """(rank, world size); joins a gloo process group (CPU, for gathering reports) when the
    world has more than one process."""
    rank, world = _world()
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo")
    return rank, world


def rank_device(device: torch.device) -> torch.device:
    """A bare ``cuda`` becomes ``cuda:LOCAL_RANK`` (modulo the GPUs there) under torchrun."""
    _, world = _world()
    if world > 1 and device.type == "cuda" and device.index is None:
        import torch

        local = int(os.environ.get("LOCAL_RANK", "0"))
        return torch.device("cuda", local % max(1, torch.cuda.device_count()))
    return device


def gather_lines(lines: list[str]) -> list[str]:
    """Every rank's ``lines``, in rank order (only this rank's without torchrun)."""
    _, world = _world()
    if world <= 1:
        return list(lines)
    import torch.distributed as dist

    gathered: list[list[str] | None] = [None] * world
    dist.all_gather_object(gathered, list(lines))
    return [line for part in gathered for line in (part or [])]


def finish() -> None:
    """Leave the process group, if one was joined."""
    if _world()[1] > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
