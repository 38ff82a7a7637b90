"""DDP: 2 processes with batch 1 each give the same first-step gradients as 1 with batch 2."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from alphagan.losses import GANLoss
from alphagan.training.step import gan_step
from tests.training.test_step import grads, models, random_batch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        g, d = models()
        g, d = DistributedDataParallel(g), DistributedDataParallel(d)
        full = random_batch(n=2, seed=5)
        mine = {k: v[rank : rank + 1] for k, v in full.items()}
        gan_step(g, d, torch.optim.SGD(g.parameters(), 0.0), torch.optim.SGD(d.parameters(), 0.0),
                 mine, gan_loss=GANLoss(), step_optimizers=False)
        if rank == 0:
            torch.save({"g": grads(g.module), "d": grads(d.module)}, Path(out_dir) / "ddp.pt")
        dist.barrier()  # gloo aborts a rank whose peer tears down the group first
    finally:
        dist.destroy_process_group()


def test_two_processes_match_one_process_batch(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ddp = torch.load(tmp_path / "ddp.pt")

    g, d = models()
    gan_step(g, d, torch.optim.SGD(g.parameters(), 0.0), torch.optim.SGD(d.parameters(), 0.0),
             random_batch(n=2, seed=5), gan_loss=GANLoss(), step_optimizers=False)
    single_g, single_d = grads(g), grads(d)
    assert single_g.abs().sum() > 0 and single_d.abs().sum() > 0
    torch.testing.assert_close(ddp["g"], single_g, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(ddp["d"], single_d, rtol=1e-4, atol=1e-6)
