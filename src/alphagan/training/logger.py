"""Run logging on rank 0: ``metrics.jsonl`` (one JSON object per row) and TensorBoard."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

__all__ = ["RunLogger"]


class RunLogger:
    """Appends rows to ``run_dir/metrics.jsonl`` and mirrors scalars/images to TensorBoard.

    TensorBoard is optional (``pip install alphagan[train]``); without it only the JSON log
    is written, with a one-time notice.
    """

    def __init__(self, run_dir: Path, *, enabled: bool = True,
                 purge_step: int | None = None) -> None:
        self.enabled = enabled
        self.path = run_dir / "metrics.jsonl"
        self.tb = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            print("alphagan: tensorboard is not installed; logging to metrics.jsonl only "
                  "(pip install 'alphagan[train]')", file=sys.stderr)
        else:
            # purge_step drops events a killed run logged after its last checkpoint
            self.tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=purge_step)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)

    def log(self, row: dict[str, Any], *, prefix: str = "train") -> None:
        if not self.enabled:
            return
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        if self.tb is not None:
            step = int(row["step"])
            for key, value in row.items():
                if key not in ("step", "world_size", "split") and isinstance(value, (int, float)):
                    self.tb.add_scalar(f"{prefix}/{key}", value, step)

    def images(self, step: int, images: dict[str, torch.Tensor]) -> None:
        """(B,C,H,W) tensors in [0,1], one grid row each."""
        if self.tb is None:
            return
        for name, batch in images.items():
            self.tb.add_images(f"samples/{name}", batch.detach().float().clamp(0, 1).cpu(), step)

    def close(self) -> None:
        if not self.enabled:
            return
        self._file.close()
        if self.tb is not None:
            self.tb.close()
