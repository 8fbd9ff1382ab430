"""Stacked digits: three bundled digits as the R, G and B channels of one image, 1,000 modes.

The image-scale mode-collapse benchmark of Metz et al. (2017, Unrolled GAN), Srivastava et al.
(2017, VEEGAN) and Lin et al. (2018, PacGAN), built from scikit-learn's 8x8 digits instead of MNIST
so it runs offline; ``lit_gans.metrics.stacked.stacked_modes`` counts the modes a generator covers.
"""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from datamodules.base import ArrayDataset, ImageDataModule
from datamodules.digits import split_digits
from lit_gans.errors import ConfigError
from lit_gans.metrics.spec import IMAGE_METRICS, DataEvaluation


class StackedDigitsDataModule(ImageDataModule):
    """Each sample stacks three random digits as its R, G and B channels; label ``100 a + 10 b + c``.

    The digits are split as the DigitsDataModule splits them (``val_fraction``, ``seed``): training
    samples are stacked from the training digits, validation samples from the held-out digits.
    Both sets are fixed by ``seed``.

    Args:
        image_size: side of the square images the networks see (the digits are 8x8).
        n_samples: stacked images in the training set (Metz et al. and VEEGAN: 128,000 and
            60,000 stacked MNIST images).
        val_samples: stacked images in the validation set.
        fit: ``"resize"`` or ``"pad"``.
        augmentations: albumentations transforms, as ``[{name: Affine, rotate: [-10, 10]}]``.
        val_fraction: share of the digits held out for validation.
        seed: seed of the digit split and of the stacking.
        batch_size: samples per batch, per process.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory.
        train_fraction: share of the training set kept (e.g. 0.1: 10 % of each class; the same images
            in every run); validation keeps its whole split. 1 keeps all.
    """

    channels = 3
    num_classes = 1000
    #: the modes covered, counted by the digits network (``lit_gans.metrics.stacked``); the image
    #: metrics on request, in Inception's features
    evaluation = DataEvaluation(default=("stacked",), allowed=IMAGE_METRICS)

    def __init__(
        self,
        image_size: int = 16,
        n_samples: int = 50_000,
        val_samples: int = 5_000,
        fit: str = "resize",
        augmentations: list[dict] | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_fraction: float = 1.0,
    ):
        super().__init__(image_size, fit, augmentations, batch_size, num_workers, pin_memory, train_fraction)
        if n_samples < 1 or val_samples < 1:
            raise ConfigError(
                f"data.n_samples={n_samples} and data.val_samples={val_samples} must both be at least 1"
            )
        if not 0.0 < val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction={val_fraction} must be in (0, 1), e.g. 0.1")
        self.n_samples, self.val_samples = n_samples, val_samples
        self.val_fraction, self.seed = val_fraction, seed

    @staticmethod
    def stack(images: np.ndarray, labels: np.ndarray, n: int, rng: np.random.Generator) -> ArrayDataset:
        """``n`` images (n, 8, 8, 3) whose channels are digits drawn uniformly from ``images``."""
        picks = rng.integers(0, len(images), size=(n, 3))
        stacked = np.stack([images[picks[:, k]] for k in range(3)], axis=-1)
        return stacked, (labels[picks] * np.array([100, 10, 1])).sum(axis=1)

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        images, labels, train, val = split_digits(self.val_fraction, self.seed)  # the DigitsDataModule split
        rng = np.random.default_rng([self.seed, 1000])
        train_set = ArrayDataset(*self.stack(images[train], labels[train], self.n_samples, rng), self.transform)
        val_set = ArrayDataset(*self.stack(images[val], labels[val], self.val_samples, rng), self.transform)
        return train_set, val_set
