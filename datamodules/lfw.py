"""Tiny faces: the 100 face crops of scikit-image's bundled ``lfw_subset`` (no download)."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from datamodules.base import ArrayDataset, ImageDataModule, check_val_fraction
from lit_gans.errors import DatasetNotFoundError

#: the first 100 of ``skimage.data.lfw_subset()``'s 200 images are faces, the other 100 are not
LFW_FACES = 100


def load_lfw_faces() -> np.ndarray:
    """The 100 face crops as uint8 images (100, 25, 25) in [0, 255]."""
    try:
        from skimage.data import lfw_subset
    except ImportError as err:  # a dependency of lit-gans; only a broken environment lacks it
        raise DatasetNotFoundError("LFWFacesDataModule reads scikit-image's bundled faces; run `pip install scikit-image`") from err
    images = lfw_subset()[:LFW_FACES]  # float in [0, 1]
    return np.round(images * 255.0).astype(np.uint8)


class LFWFacesDataModule(ImageDataModule):
    """A tiny faces set: the 100 grey 25x25 face crops from Labeled Faces in the Wild (Huang et al. 2007)
    that scikit-image ships as ``skimage.data.lfw_subset`` (its other 100 images, which are not faces,
    are left out). Unlabelled; for trying face models (ProGAN, StyleGAN) in CPU minutes before a folder
    of CelebA or FFHQ images (``ImageFolderDataModule``).

    Images are resized to ``image_size`` (32 by default). With 90 training images, a horizontal flip
    (``augmentations: [{name: HorizontalFlip, p: 0.5}]``, StyleGAN's x-flips) doubles what the critic sees.
    Their metrics use Inception's features (no shipped network knows faces): slow on a CPU.

    Args:
        image_size: side of the square images the networks see.
        fit: ``"resize"`` or ``"pad"``.
        augmentations: albumentations transforms, as ``[{name: HorizontalFlip, p: 0.5}]``.
        val_fraction: share of the faces held out for validation.
        seed: seed of the train/validation split.
        batch_size: samples per batch, per process.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory.
        train_fraction: share of the training set kept; validation keeps its whole split. 1 keeps all.
    """

    channels = 1
    num_classes = 0

    def __init__(
        self,
        image_size: int = 32,
        fit: str = "resize",
        augmentations: list[dict] | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        batch_size: int = 16,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_fraction: float = 1.0,
    ):
        super().__init__(image_size, fit, augmentations, batch_size, num_workers, pin_memory, train_fraction)
        check_val_fraction(val_fraction)
        self.val_fraction, self.seed = val_fraction, seed

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        images = load_lfw_faces()
        order = np.random.default_rng(self.seed).permutation(len(images))
        n_val = int(round(self.val_fraction * len(images)))
        labels = np.zeros(len(images), dtype=np.int64)
        train, val = order[n_val:], order[:n_val] if n_val else order[:1]  # val_fraction 0: one training face validates
        return ArrayDataset(images[train], labels[train], self.transform), ArrayDataset(images[val], labels[val], self.transform)
