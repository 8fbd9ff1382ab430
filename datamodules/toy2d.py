"""2-D Gaussian mixtures with PacGAN's protocol (Lin et al. 2018, section 5.1)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch.utils.data import Dataset

from datamodules.base import GANDataModule, TensorBatches
from lit_gans.errors import ConfigError
from lit_gans.metrics.spec import DataEvaluation


def mixture_modes(name: str) -> tuple[torch.Tensor, float]:
    """Means and standard deviation of a named mixture: ``ring`` (8 modes on the unit circle,
    std 0.01) or ``grid`` (25 modes at {-4, -2, 0, 2, 4}^2, std 0.05)."""
    if name == "ring":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return torch.stack([angles.cos(), angles.sin()], dim=1).float(), 0.01
    if name == "grid":
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(axis, axis), 0.05
    raise ConfigError(f"data.name={name!r} is not a 2-D mixture; use 'ring' or 'grid'")


def sample_mixture(name: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points drawn uniformly over the modes, and the index of each point's mode."""
    modes, std = mixture_modes(name)
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(modes), (n,), generator=g)
    points = modes[labels] + std * torch.randn(n, 2, generator=g)
    return points, labels


class Toy2DDataModule(GANDataModule):
    """A ring or grid of Gaussians: fixed training samples, labelled by mode, and a fresh validation set.

    Args:
        name: ``ring`` (8 modes) or ``grid`` (25 modes).
        n_samples: training points, drawn once (100,000 as in PacGAN).
        n_val: validation points (2,500, the size PacGAN evaluates on).
        seed: seed of the training draw; validation uses ``seed + 1``.
        batch_size: points per batch, per process.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory.
        train_fraction: share of the training points kept (e.g. 0.1: 10 % of each mode's; the same
            points in every run); validation keeps all of its points. 1 keeps all.
    """

    #: PacGAN's mode coverage, against ``modes`` (the means) and ``std``
    evaluation = DataEvaluation(default=("modes",))

    def __init__(
        self,
        name: Literal["ring", "grid"] = "ring",
        n_samples: int = 100_000,
        n_val: int = 2_500,
        seed: int = 0,
        batch_size: int = 256,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_fraction: float = 1.0,
    ):
        super().__init__(batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory, train_fraction=train_fraction)
        self.name, self.n_samples, self.n_val, self.seed = name, n_samples, n_val, seed
        self.modes, self.std = mixture_modes(name)
        self.data_shape = (2,)
        self.num_classes = len(self.modes)

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        train = TensorBatches(*sample_mixture(self.name, self.n_samples, self.seed))
        val = TensorBatches(*sample_mixture(self.name, self.n_val, self.seed + 1))
        return train, val
