"""Any directory of images, with optional class subfolders.

Files that cannot be decoded (corrupt, truncated, not images) are skipped with one warning naming
them: each file's header (and, for PNG, its checksums) is checked once at setup, and a file that
still fails to decode when loaded is skipped then, with a warning, in favour of the next image.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from datamodules.base import ImageDataModule, check_val_fraction
from lit_gans.errors import ConfigError, DatasetNotFoundError


class _UnreadableImage(Exception):
    """An image file that PIL cannot decode."""


def _decodes(path: str | Path) -> bool:
    """Whether PIL can read ``path``; cheaper than decoding it: ``verify`` reads the header and, for
    PNG, checks every chunk's checksum."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.verify()
    except Exception:  # PIL raises many types (UnidentifiedImageError, SyntaxError, OSError, ...)
        return False
    return True


def _load_image(path: str):
    from torchvision.datasets.folder import default_loader

    try:
        return default_loader(path)
    except Exception as err:
        raise _UnreadableImage(path) from err


def _skipped_warning(files: list[str], where: Path) -> str:
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return (f"ImageFolderDataModule: skipped {len(files)} image file(s) in {where} that cannot be decoded "
            f"(corrupt, truncated or not images): {shown}; delete or replace them")


class _FlatImages(Dataset):
    def __init__(self, files: list[Path], transform, loader: Callable = _load_image):
        self.files, self.transform, self.loader = files, transform, loader

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        return self.transform(self.loader(str(self.files[i]))), torch.tensor(0)


class _SkipUnreadable(Dataset):
    """``dataset`` whose files that fail to decode when loaded are skipped (with a warning naming
    each once) in favour of the next file."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        for k in range(len(self.dataset)):
            try:
                return self.dataset[(i + k) % len(self.dataset)]
            except _UnreadableImage as err:
                if str(err) not in self._warned:
                    self._warned.add(str(err))
                    cause = err.__cause__
                    warnings.warn(f"ImageFolderDataModule: skipped {err}, which cannot be decoded "
                                  f"({type(cause).__name__}: {cause}); delete or replace it", stacklevel=2)
        raise DatasetNotFoundError("no image of the folder can be decoded; set data.path to a folder of readable images")


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
        train_fraction: share of the training set kept (e.g. 0.1: 10 % of each class; the same images
            in every run); validation keeps its whole split. 1 keeps all.
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
        train_fraction: float = 1.0,
    ):
        if channels not in (1, 3):
            raise ConfigError(f"data.channels={channels} is not supported: use 1 (grey) or 3 (RGB); images are converted")
        check_val_fraction(val_fraction)
        self.channels = channels
        super().__init__(image_size, fit, augmentations, batch_size, num_workers, pin_memory, train_fraction)
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
        skipped: list[str] = []

        def decodable(path: str) -> bool:
            if _decodes(path):
                return True
            skipped.append(path)
            return False

        if self.classes:
            from torchvision.datasets import ImageFolder
            from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

            try:
                full: Dataset = ImageFolder(
                    str(self.path), transform=self.transform, loader=_load_image,
                    is_valid_file=lambda p: has_file_allowed_extension(p, IMG_EXTENSIONS) and decodable(p),
                )
            except FileNotFoundError as err:  # a class folder whose every image is unreadable
                found = str(err).split(". Supported")[0]
                raise DatasetNotFoundError(f"{found} in {self.path}: their images cannot be decoded; delete or replace them") from None
        else:
            full = _FlatImages([f for f in _image_files(self.path) if decodable(str(f))], self.transform)
        if skipped:
            warnings.warn(_skipped_warning(skipped, self.path), stacklevel=2)
        if len(full) == 0:
            raise DatasetNotFoundError(f"no image in {self.path} can be decoded; set data.path to a folder of readable images")
        full = _SkipUnreadable(full)
        order = np.random.default_rng(self.seed).permutation(len(full)).tolist()
        n_val = int(round(self.val_fraction * len(full)))
        return Subset(full, order[n_val:]), Subset(full, order[:n_val] or order[:1])
