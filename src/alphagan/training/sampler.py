"""Step-indexed sampling: the sample ids of step ``s`` depend only on (seed, s), not history.

That makes ``--resume`` exact: a run restarted at step ``s`` draws the very batches an
uninterrupted run would have drawn, with no step lost or repeated.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

__all__ = ["StepSampler", "sample_source"]


def sample_source(virtual_id: int, num_items: int, seed: int) -> int:
    """Map a global sample id to a dataset index: a fresh permutation every epoch."""
    epoch, pos = divmod(virtual_id, num_items)
    perm = np.random.default_rng([seed, epoch]).permutation(num_items)
    return int(perm[pos])


class StepSampler(Sampler[int]):
    """Yields global sample ids ``step * B * W + rank * B + j`` for steps from ``start_step``.

    Each process (rank) takes its own slice of every global batch; the dataset turns an id
    into a source item (:func:`sample_source`) and seeds its augmentation with the id, so
    every sample of the whole run is distinct and reproducible.
    """

    def __init__(self, *, batch_size: int, world_size: int = 1, rank: int = 0,
                 start_step: int = 0, total_steps: int) -> None:
        self.batch_size, self.world_size, self.rank = batch_size, world_size, rank
        self.start_step, self.total_steps = start_step, total_steps

    def __iter__(self) -> Iterator[int]:
        global_batch = self.batch_size * self.world_size
        for step in range(self.start_step, self.total_steps):
            first = step * global_batch + self.rank * self.batch_size
            yield from range(first, first + self.batch_size)

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step) * self.batch_size
