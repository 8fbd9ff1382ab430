"""Run by tests/test_metrics.py: the evaluator in 2 gloo processes (or 1), each rank holding its
contiguous share of the same real features and generated images; rank 0 writes the values."""

from __future__ import annotations

import json
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from gloo_procs import leave


def data() -> tuple[torch.Tensor, torch.Tensor]:
    from datamodules.digits import load_digit_images

    images, _ = load_digit_images()
    x = torch.from_numpy(images).float()[:, None] / 127.5 - 1
    g = torch.Generator().manual_seed(0)
    fake = (x[:600] + 0.4 * torch.randn(600, 1, 8, 8, generator=g)).clamp(-1, 1)
    return x[600:1400], fake


def evaluate(rank: int, world: int, out: str) -> None:
    torch.set_num_threads(1)
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ["TEST_PORT"])
        dist.init_process_group("gloo", rank=rank, world_size=world)
    from lit_gans.metrics.evaluator import Evaluator, rank_share
    from lit_gans.metrics.features import feature_network

    real, fake = data()
    evaluator = Evaluator(feature_network("digits"), kid_subsets=20, kid_subset_size=300)
    evaluator.add_real_features(rank_share(evaluator.features(real)[0]))
    for batch in rank_share(fake).split(128):  # each rank its share, in batches
        evaluator.update_fake(batch)
    values = evaluator.compute(seed=3)  # every rank computes (states are synced inside)
    if rank == 0:
        with open(out, "w") as f:
            json.dump(values, f)
    leave(world)


if __name__ == "__main__":
    world, out = int(sys.argv[1]), sys.argv[2]
    if world == 1:
        evaluate(0, 1, out)
    else:
        mp.spawn(evaluate, args=(world, out), nprocs=world)
