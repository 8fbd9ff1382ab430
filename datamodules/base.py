"""The DataModule base shared by every dataset: loaders, splits and the shape the model is built for."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import lightning as L
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from lit_gans.errors import ConfigError


class GANDataModule(L.LightningDataModule, ABC):
    """Base for every lit-gans DataModule.

    Subclasses set ``data_shape`` (one sample's shape, e.g. ``(1, 16, 16)`` or ``(2,)``) and
    ``num_classes`` (0 when unlabelled) in ``__init__``, so LightningCLI can link them to the model
    before any data is read, and implement ``make_datasets`` returning ``(train, val)``. Every batch is
    ``(x, y)``: samples and integer labels (zeros when unlabelled).

    Args:
        batch_size: samples per batch, per process.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory (helps when training on GPU).
    """

    data_shape: tuple[int, ...]
    num_classes: int = 0

    def __init__(self, batch_size: int = 64, num_workers: int = 0, pin_memory: bool = False):
        super().__init__()
        # the whole chain of __init__ arguments: recorded in checkpoints (``lit-gans evaluate``
        # rebuilds the data from them) and in the key of cached real-data features
        self.save_hyperparameters()
        if batch_size < 1:
            raise ConfigError(f"data.batch_size={batch_size} must be at least 1")
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

    @abstractmethod
    def make_datasets(self) -> tuple[Dataset, Dataset]:
        """The training and validation datasets, each yielding ``(x, y)``."""

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            self.train_set, self.val_set = self.make_datasets()
            if len(self.train_set) < self.batch_size:
                held_out = getattr(self, "val_fraction", 0)
                raise ConfigError(
                    f"{type(self).__name__} has {len(self.train_set)} training samples, fewer than "
                    f"data.batch_size={self.batch_size}; lower the batch size"
                    + (f" or data.val_fraction={held_out}" if held_out else "")
                )

    def _loader(self, dataset: Dataset, train: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=train,
            drop_last=train,  # full batches keep batch norm and the critic's statistics stable
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)


def check_val_fraction(val_fraction: float) -> None:
    """A share held out for validation must leave images to train on."""
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(
            f"data.val_fraction={val_fraction} must be in [0, 1): it is the share of the images held out for "
            "validation, and the rest trains; use e.g. 0.1"
        )


def build_augmentations(specs: Sequence[dict[str, Any]] | None):
    """Turn YAML like ``[{name: HorizontalFlip, p: 0.5}]`` into albumentations transforms."""
    import albumentations as A

    transforms = []
    for spec in specs or []:
        spec = dict(spec)
        name = spec.pop("name", None)
        cls = getattr(A, str(name), None) if name else None
        if not isinstance(cls, type):
            raise ConfigError(
                f"augmentation {name!r} is not an albumentations transform; write entries like "
                "{name: HorizontalFlip, p: 0.5}"
            )
        try:
            transforms.append(cls(**spec))
        except Exception as err:  # albumentations validates its arguments with pydantic
            raise ConfigError(f"augmentation {name} rejected its arguments {spec}: {err}".splitlines()[0]) from err
    return transforms


class ImageTransform:
    """PIL or numpy image -> float tensor (C, S, S) in [-1, 1], through an albumentations pipeline.

    The user's augmentations run first, then the image is resized (or padded / centre-cropped) to
    ``image_size`` and scaled to [-1, 1].
    """

    def __init__(self, channels: int, image_size: int, fit: str = "resize", augmentations: Sequence[dict] | None = None):
        import albumentations as A
        from albumentations.pytorch import ToTensorV2

        if fit not in ("resize", "pad"):
            raise ConfigError(f"data.fit={fit!r} is unknown; use 'resize' or 'pad'")
        self.channels = channels
        if fit == "resize":
            sizing = [A.Resize(image_size, image_size)]
        else:
            sizing = [
                A.PadIfNeeded(image_size, image_size, border_mode=0, fill=0),
                A.CenterCrop(image_size, image_size),
            ]
        self.pipeline = A.Compose(
            build_augmentations(augmentations)
            + sizing
            + [A.Normalize(mean=(0.5,) * channels, std=(0.5,) * channels, max_pixel_value=255.0), ToTensorV2()]
        )

    def __call__(self, image: Image.Image | np.ndarray) -> torch.Tensor:
        if isinstance(image, Image.Image):
            image = np.asarray(image.convert("L" if self.channels == 1 else "RGB"))
        if image.ndim == 2:
            image = image[:, :, None]
        if image.shape[2] != self.channels:
            image = np.repeat(image, self.channels, axis=2) if image.shape[2] == 1 else image[:, :, :1]
        out = self.pipeline(image=image)["image"]
        return out if out.dim() == 3 else out.unsqueeze(0)


class ImageDataModule(GANDataModule):
    """Base for image DataModules: channels, target size and the albumentations pipeline.

    Args:
        image_size: side of the square images the networks see.
        fit: ``"resize"`` scales images to ``image_size``; ``"pad"`` pads (or centre-crops) them.
        augmentations: albumentations transforms applied before sizing, as
            ``[{name: HorizontalFlip, p: 0.5}, ...]``.
        batch_size: samples per batch, per process.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory.
    """

    channels: int = 1

    def __init__(
        self,
        image_size: int = 32,
        fit: str = "resize",
        augmentations: list[dict] | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
    ):
        super().__init__(batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory)
        if image_size < 1:
            raise ConfigError(f"data.image_size={image_size} must be a positive number of pixels")
        self.image_size = image_size
        self.transform = ImageTransform(self.channels, image_size, fit, augmentations)
        self.data_shape = (self.channels, image_size, image_size)


class ArrayDataset(Dataset):
    """uint8 images (N, H, W[, C]) and labels, transformed on access."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, torch.as_tensor(labels, dtype=torch.long), transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]
