"""Training checkpoints: everything needed to continue a run exactly, written atomically.

A checkpoint holds G, D, both optimisers and schedulers, the step, the RNG states and the
resolved config. ``checkpoints/latest.pt`` is replaced at every save; ``best.pt`` when the
validation SAD improves.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alphagan.atomic import atomic_path
from alphagan.errors import InputError

__all__ = ["rng_state", "restore_rng_state", "save_training_state", "load_training_state"]


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_training_state(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file, then rename: a kill never leaves half a file."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_training_state(path: Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_training_state`."""
    if not path.is_file():
        raise InputError(f"{path}: no checkpoint to resume from")
    try:
        # RNG states hold numpy arrays and tuples, so this is not a weights-only load; only
        # load checkpoints you wrote yourself.
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise InputError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
