"""Any directory of images, with optional class subfolders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from datamodules.base import ImageDataModule
from lit_gans.errors import DatasetNotFoundError


class _FlatImages(Dataset):
    def __init__(self, files: list[Path], transform):
        from torchvision.datasets.folder import default_loader

        self.files, self.transform, self.loader = files, transform, default_loader

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        return self.transform(self.loader(str(self.files[i]))), torch.tensor(0)


def _image_files(folder: Path) -> list[Path]:
    from torchvision.datasets.folder import IMG_EXTENSIONS

    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)


class ImageFolderDataModule(ImageDataModule):
    """Images from ``path``: class subfolders (torchvision's ``ImageFolder`` layout) give labels,
    a flat folder gives unlabelled images.

    Args:
        path: the image directory.
        channels: 1 (grey) or 3 (RGB); images are converted.
        image_size: side of the square images the networks see.
        fit: ``"resize"`` or ``"pad"``.
        augmentations: albumentations transforms, as ``[{name: HorizontalFlip, p: 0.5}]``.
        val_fraction: share of the images held out for validation.
        seed: seed of the train/validation split.
        batch_size: samples per batch, per process.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory.
    """

    def __init__(
        self,
        path: str,
        channels: int = 3,
        image_size: int = 64,
        fit: str = "resize",
        augmentations: list[dict] | None = None,
        val_fraction: float = 0.05,
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
    ):
        self.channels = channels
        super().__init__(image_size, fit, augmentations, batch_size, num_workers, pin_memory)
        self.path, self.val_fraction, self.seed = Path(path).expanduser(), val_fraction, seed
        if not self.path.is_dir():
            raise DatasetNotFoundError(f"image folder {self.path} does not exist; set data.path to a directory of images")
        self.classes = sorted(d.name for d in self.path.iterdir() if d.is_dir() and _image_files(d))
        if not self.classes and not _image_files(self.path):
            raise DatasetNotFoundError(
                f"no images in {self.path} or its subfolders; put .png/.jpg files there or set data.path"
            )
        self.num_classes = len(self.classes)

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        if self.classes:
            from torchvision.datasets import ImageFolder

            full: Dataset = ImageFolder(str(self.path), transform=self.transform)
        else:
            full = _FlatImages(_image_files(self.path), self.transform)
        order = np.random.default_rng(self.seed).permutation(len(full)).tolist()
        n_val = int(round(self.val_fraction * len(full)))
        return Subset(full, order[n_val:]), Subset(full, order[:n_val] or order[:1])
