"""Size and cost of a generator: parameters, file size, FLOPs at 800x600 (counted).

    python -m benchmarks.model_stats [--checkpoint CKPT | --paper]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from alphagan.checkpoint import default_checkpoint, load_model
from alphagan.models import AlphaGANGenerator


def count_flops(model: torch.nn.Module, height: int = 600, width: int = 800) -> int:
    """FLOPs (2 per multiply-add) of one forward pass, counted by torch's FlopCounterMode."""
    image, trimap = torch.rand(1, 3, height, width), torch.full((1, 1, height, width), 0.5)
    channels = getattr(model, "prior_channels", 0)  # the network's own FLOPs, not the solvers'
    prior = torch.full((1, channels, height, width), 0.5) if channels else None
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model.eval()(image, trimap, *([prior] if channels else []))
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--paper", action="store_true", help="the paper's ResNet-50 model")
    args = parser.parse_args()
    if args.paper:
        model, size = AlphaGANGenerator(), None
    else:
        path = args.checkpoint or default_checkpoint()
        model, size = load_model(path), path.stat().st_size
    params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {params / 1e6:.2f} M")
    if size is not None:
        print(f"file size: {size / 1e6:.1f} MB")
    print(f"FLOPs at 800x600: {count_flops(model) / 1e9:.1f} GFLOP")


if __name__ == "__main__":
    main()
