"""Training checkpoints: everything needed to continue a run exactly, written atomically.

A checkpoint holds G, D, both optimisers and schedulers, the step, the RNG states and the
resolved config. ``checkpoints/latest.pt`` is replaced at every save; ``best.pt`` when the
validation SAD improves.

Checkpoints are loaded with ``torch.load(weights_only=True)``: only tensors and plain
Python values (dicts, lists, tuples, numbers, strings) are unpickled, so a crafted file
cannot run code. Everything stored is of that kind: the NumPy RNG state is kept as a tensor
and plain numbers instead of NumPy objects. Checkpoints written before this format (which
held NumPy arrays) are refused with a message saying so.
"""

from __future__ import annotations

import pickle
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alphagan.atomic import atomic_path, remove_stale_temps
from alphagan.errors import InputError
from alphagan.files import MAX_MODEL_BYTES, open_regular

__all__ = [
    "rng_state",
    "restore_rng_state",
    "save_training_state",
    "load_training_state",
    "remove_stale_temps",
]


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch (and CUDA) RNG states as tensors and plain values only."""
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),  # (int, tuple of ints, float | None): plain values
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    random.setstate(_as_tuples(state["python"]))
    numpy_state = state["numpy"]
    np.random.set_state((
        numpy_state["kind"],
        numpy_state["keys"].cpu().numpy().astype(np.uint32),
        int(numpy_state["pos"]),
        int(numpy_state["has_gauss"]),
        float(numpy_state["cached_gaussian"]),
    ))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _as_tuples(value: Any) -> Any:
    """random.setstate needs tuples; a state that went through lists is turned back."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuples(v) for v in value)
    return value


def save_training_state(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file, then rename: a kill never leaves half a file."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_training_state(path: Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_training_state` (weights only, no code).

    Raises ``InputError`` naming the file when it is missing, not a regular file, not a
    checkpoint, or holds objects other than tensors and plain values (a crafted pickle, or a
    checkpoint from an alphagan older than this format).
    """
    path = Path(path)
    with open_regular(path, MAX_MODEL_BYTES, what="checkpoint") as (handle, _):
        try:
            state = torch.load(handle, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as exc:
            found = re.search(r"GLOBAL ([\w.]+)", str(exc))
            what = f" such as {found.group(1)}" if found else ""
            raise InputError(
                f"{path}: refused: the checkpoint holds objects{what} other than tensors and "
                f"plain values, and alphagan never unpickles those (a checkpoint from an older "
                f"alphagan, or not one of ours)"
            ) from None
        except Exception as exc:  # noqa: BLE001 - torch raises many types for a non-checkpoint
            text = " ".join(str(exc).split())[:200]
            raise InputError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {text})"
                             ) from None
    if not isinstance(state, dict):
        raise InputError(f"{path}: not an alphagan training checkpoint (a "
                         f"{type(state).__name__}, not a mapping)")
    return state
