"""scikit-learn's bundled 8x8 handwritten digits: the embedded default dataset, no download."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from datamodules.base import ArrayDataset, ImageDataModule, check_val_fraction
from lit_gans.metrics.spec import DataEvaluation


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as uint8 images (N, 8, 8) in [0, 255], and their labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return images, bunch.target.astype(np.int64)


def split_digits(val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bundled digits, their labels, and the indices of the training and validation split."""
    images, labels = load_digit_images()
    order = np.random.default_rng(seed).permutation(len(images))
    n_val = int(round(val_fraction * len(images)))
    return images, labels, order[n_val:], order[:n_val]


class DigitsDataModule(ImageDataModule):
    """The UCI handwritten digits bundled with scikit-learn (1,797 images, 10 classes, 8x8 grey).

    Images are resized to ``image_size`` (16 by default; 8 keeps them native).

    Args:
        image_size: side of the square images the networks see.
        fit: ``"resize"`` or ``"pad"``.
        augmentations: albumentations transforms, as ``[{name: Affine, rotate: [-10, 10]}]``.
        val_fraction: share of the images held out for validation.
        seed: seed of the train/validation split.
        batch_size: samples per batch, per process.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory.
        train_fraction: share of the training set kept (e.g. 0.1: 10 % of each class; the same images
            in every run); validation keeps its whole split. 1 keeps all.
    """

    channels = 1
    num_classes = 10

    def __init__(
        self,
        image_size: int = 16,
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
        check_val_fraction(val_fraction)
        self.val_fraction, self.seed = val_fraction, seed

    @property
    def evaluation(self) -> DataEvaluation:
        """The image metrics in the shipped digits network's features (grey images), else Inception's."""
        return DataEvaluation.for_images("digits" if self.data_shape[0] == 1 else None)

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        images, labels, train, val = split_digits(self.val_fraction, self.seed)
        return (
            ArrayDataset(images[train], labels[train], self.transform),
            ArrayDataset(images[val], labels[val], self.transform),
        )
