"""Train a domain network (``lit_gans.metrics.domain``): the command that made the shipped weights.

    python -m lit_gans.metrics.train_classifier --dataset digits --out lit_gans/metrics/weights/digits.pt
    python -m lit_gans.metrics.train_classifier --dataset fashion_mnist --root data --out lit_gans/metrics/weights/fashion_mnist.pt
    python -m lit_gans.metrics.train_classifier --dataset mnist --root data --download --out mnist.pt

``digits`` trains on the DigitsDataModule's training split (the same seed-0, 10 % held-out split
the GAN recipes use, so its test digits are unseen by both) at 16 px; ``fashion_mnist`` and
``mnist`` train on their train split at 28 px and are tested on the test split. Light
augmentation (shifts of up to 2 px; for digits also +-10 degree rotations and 0.9-1.1 scaling, for
clothes horizontal flips) makes the networks robust to slightly misplaced generated strokes. Seeded and deterministic on one thread: the same
command gives the same file.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from lit_gans.errors import LitGansError
from lit_gans.metrics.domain import NATIVE_SIZE, DomainNetwork

DEFAULT_EPOCHS = {"digits": 60, "fashion_mnist": 6, "mnist": 4}
# strokes tolerate small rotations and scalings; clothes are upright and centred but left/right free
AUGMENT = {
    "digits": dict(max_shift=2.0, rotate=10.0, scale=0.1, flip=False),
    "mnist": dict(max_shift=2.0, rotate=10.0, scale=0.1, flip=False),
    "fashion_mnist": dict(max_shift=2.0, rotate=0.0, scale=0.0, flip=True),
}


def load_split(dataset: str, root: str, download: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(x_train, y_train, x_test, y_test), images float32 (N, 1, S, S) in [-1, 1] at the native size."""
    if dataset == "digits":
        from datamodules import DigitsDataModule

        dm = DigitsDataModule(image_size=NATIVE_SIZE["digits"])
        dm.setup()

        def stack(ds) -> tuple[Tensor, Tensor]:
            xs, ys = zip(*(ds[i] for i in range(len(ds))))
            return torch.stack(xs).float(), torch.stack(ys).long()

        return (*stack(dm.train_set), *stack(dm.val_set))
    from datamodules import FashionMNISTDataModule, MNISTDataModule

    dm = (FashionMNISTDataModule if dataset == "fashion_mnist" else MNISTDataModule)(data_dir=root, download=download)
    dm.prepare_data()
    out = []
    for train in (True, False):
        ds = dm.dataset(train=train)  # torchvision's reader: uint8 .data (N, 28, 28), .targets
        out += [ds.data[:, None].float() / 127.5 - 1.0, torch.as_tensor(ds.targets).long()]
    return tuple(out)


def augment(
    x: Tensor, generator: torch.Generator, max_shift: float = 2.0, rotate: float = 10.0, scale: float = 0.1, flip: bool = False
) -> Tensor:
    """Random shifts (up to ``max_shift`` px), rotations (+-``rotate`` degrees), scalings (1 +- ``scale``)
    and, with ``flip``, horizontal flips of half the images."""
    n, size = x.shape[0], x.shape[-1]
    u = torch.rand(n, 4, generator=generator) * 2 - 1
    angle, zoom = u[:, 0] * math.radians(rotate), 1 + scale * u[:, 1]
    shift = u[:, 2:] * (2 * max_shift / size)  # grid units: the image spans [-1, 1]
    mirror = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if flip else torch.ones(n)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos * mirror, -sin, shift[:, 0]], 1), torch.stack([sin * mirror, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1  # background -1


@torch.no_grad()
def accuracy(network: DomainNetwork, x: Tensor, y: Tensor, batch: int = 1000) -> float:
    network.eval()
    correct = sum(int((network(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(x), batch))
    return correct / len(x)


def train(
    dataset: str,
    root: str = "data",
    epochs: Optional[int] = None,
    seed: int = 0,
    batch_size: int = 128,
    lr: float = 2e-3,
    download: bool = False,
    log=print,
) -> tuple[DomainNetwork, dict]:
    """Train a domain network; returns it (eval mode) and its metadata."""
    epochs = DEFAULT_EPOCHS[dataset] if epochs is None else epochs
    x_train, y_train, x_test, y_test = load_split(dataset, root, download)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    network = DomainNetwork(dataset, NATIVE_SIZE[dataset])
    steps_per_epoch = len(x_train) // batch_size
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(epochs * steps_per_epoch, 1))
    log(f"{dataset}: {len(x_train)} train / {len(x_test)} test images at {network.native_size} px, {epochs} epochs")
    for epoch in range(epochs):
        network.train()
        start, total = time.perf_counter(), 0.0
        order = torch.randperm(len(x_train), generator=generator)
        for step in range(steps_per_epoch):
            idx = order[step * batch_size : (step + 1) * batch_size]
            loss = F.cross_entropy(network(augment(x_train[idx], generator, **AUGMENT[dataset])), y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        log(f"epoch {epoch + 1}/{epochs}: loss {total / max(steps_per_epoch, 1):.4f} ({time.perf_counter() - start:.1f} s)")
    train_acc, test_acc = accuracy(network, x_train, y_train), accuracy(network, x_test, y_test)
    log(f"train accuracy {train_acc:.4f}, test accuracy {test_acc:.4f}")
    meta = {
        **network.config(),
        "dataset": dataset,
        "train_accuracy": round(train_acc, 6),
        "test_accuracy": round(test_acc, 6),
        "n_train": len(x_train),
        "n_test": len(x_test),
        "epochs": epochs,
        "augmentation": dict(AUGMENT[dataset]),
        "seed": seed,
        "torch_version": str(torch.__version__),
    }
    return network.eval().requires_grad_(False), meta


def save(network: DomainNetwork, meta: dict, out: Path) -> None:
    """Write ``{"state_dict", "meta"}`` as float32 tensors, loadable with ``weights_only=True``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in network.state_dict().items()}
    torch.save({"state_dict": state, "meta": meta}, out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lit-gans train-classifier", description="Train a domain network for FID/KID and classifier scores."
    )
    parser.add_argument("--dataset", choices=sorted(NATIVE_SIZE), required=True, help="the domain to train on")
    parser.add_argument("--root", default="data", help="data_dir holding (fashion-)MNIST (unused for digits)")
    parser.add_argument("--download", action="store_true", help="let torchvision download (fashion-)MNIST into --root")
    parser.add_argument("--out", default=None, help="weights file to write (default: <dataset>.pt)")
    parser.add_argument("--epochs", type=int, default=None, help=f"passes over the training set (default {DEFAULT_EPOCHS})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 keeps the file reproducible)")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs={args.epochs} must be at least 1")
    out = Path(args.out or f"{args.dataset}.pt")
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    try:
        network, meta = train(args.dataset, args.root, args.epochs, args.seed, download=args.download)
    except LitGansError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:  # leave the caller's process as it was (the CLI and tests call main in-process)
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    meta["command"] = shlex.join(["lit-gans", "train-classifier", *(sys.argv[1:] if argv is None else argv)])
    save(network, meta, out)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
