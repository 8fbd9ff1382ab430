"""One training image, for SinGAN (Shaham, Dekel & Michaeli 2019): every batch is the same whole image.

The image is one of scikit-image's bundled colour photos (offline, as ``datamodules.superres`` loads them)
or an image file of yours, shrunk (antialiased bicubic, aspect kept) so that its longer side is at most
``max_size``, RGB in [-1, 1]. ``sizes`` is its SinGAN pyramid (``lit_gans.nets.singan.scale_sizes``),
coarsest first; the family resizes the image to each scale itself (``image_pyramid``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from datamodules.base import GANDataModule, TensorBatches
from datamodules.image_folder import _load_image, _UnreadableImage
from datamodules.superres import PHOTOS, load_photo, photo_tensor, to_unit
from lit_gans.errors import ConfigError, DatasetNotFoundError
from lit_gans.metrics.spec import DataEvaluation
from lit_gans.nets.singan import fit_size, scale_sizes


class RepeatedImage(TensorBatches):
    """``length`` copies of one image (1, C, H, W), served as 1-tuples ``(image,)`` (a view: no copies are
    stored), a whole batch at a time."""

    def __init__(self, image: torch.Tensor, length: int):
        super().__init__(image.expand(length, *image.shape[1:]), torch.zeros(length, dtype=torch.long))

    def __getitem__(self, i: int):
        return (self.samples[i],)

    def __getitems__(self, indices: list[int]):
        return (self.samples[torch.as_tensor(indices)].contiguous(),)


def _positive_int(name: str, value, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"data.{name}={value!r} must be a positive integer; use {hint}")


class SingleImageDataModule(GANDataModule):
    """SinGAN's data: one image, every batch the whole of it, batch size 1 (the paper).

    Batches are ``(image,)`` (``batch_fields``): the image (1, 3, H, W) in [-1, 1]. An epoch is
    ``steps_per_epoch`` batches, all the same image; validation is one batch of it. ``data_shape`` is
    ``(3, H, W)``, not necessarily square. No unconditional image metric applies (``evaluation``).

    Args:
        photo: a scikit-image bundled colour photo (``datamodules.superres.PHOTOS``); None: ``chelsea`` unless
            ``path`` is given.
        path: an image file of yours (.png, .jpg...; converted to RGB).
        max_size: the longest side trained on; larger images are shrunk to it (250 in the paper's code).
        min_size: the coarsest scale's shorter side (25 in the paper's code).
        factor: the largest ratio between consecutive scales, in (0, 1) (0.75 in the paper's code).
        steps_per_epoch: batches per training epoch.
        seed: recorded with the data; nothing here is random (every batch is the same image).

    Attributes:
        image: the training image, float (1, 3, H, W) in [-1, 1].
        sizes: ``scale_sizes(H, W, min_size, max_size, factor)``, coarsest first; the last is ``(H, W)``.
        data_shape: ``(3, H, W)``.
    """

    batch_fields = ("image",)
    num_classes = 0

    def __init__(
        self,
        photo: Optional[str] = None,
        path: Optional[str] = None,
        max_size: int = 64,
        min_size: int = 25,
        factor: float = 0.75,
        steps_per_epoch: int = 100,
        seed: int = 0,
    ):
        super().__init__(batch_size=1)
        for fixed in ("batch_size", "num_workers", "pin_memory"):
            # not arguments of this class: left out, so that a checkpoint's record of them rebuilds it
            self.hparams.pop(fixed, None)
        if photo is not None and path is not None:
            raise ConfigError(
                f"data.photo={photo!r} and data.path={path!r} are both set; leave data.photo unset to train on "
                "your file, or data.path unset to train on the photo"
            )
        if photo is None and path is None:
            photo = "chelsea"
        if photo is not None and photo not in PHOTOS:
            raise ConfigError(f"data.photo={photo!r} is not one of scikit-image's bundled colour photos; use one of {list(PHOTOS)}")
        _positive_int("max_size", max_size, "e.g. 64 or 250 (the paper)")
        _positive_int("min_size", min_size, "e.g. 25 (the paper)")
        _positive_int("steps_per_epoch", steps_per_epoch, "e.g. 100")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0.0 < factor < 1.0:
            raise ConfigError(f"data.factor={factor!r} must be in (0, 1): it is the ratio between scales; use e.g. 0.75")
        self.photo, self.path = photo, None if path is None else Path(path).expanduser()
        self.max_size, self.min_size, self.factor = max_size, min_size, float(factor)
        self.steps_per_epoch, self.seed = steps_per_epoch, seed
        self.image = self.load()
        h, w = self.image.shape[-2:]
        if min(h, w) < min_size:
            raise ConfigError(
                f"data.min_size={min_size} is larger than the shorter side of the {h}x{w} training image "
                f"(data.max_size={max_size}); use data.min_size {min(h, w)} or less, or raise data.max_size"
            )
        self.sizes = scale_sizes(h, w, min_size=min_size, max_size=max_size, factor=factor)
        self.data_shape = (3, h, w)

    @property
    def evaluation(self) -> DataEvaluation:
        """None of the unconditional image metrics: one image has no distribution to compare samples with."""
        return DataEvaluation()

    def read(self) -> np.ndarray:
        """The image as uint8 RGB (H, W, 3), before shrinking."""
        if self.path is None:
            return load_photo(self.photo)
        if not self.path.is_file():
            raise DatasetNotFoundError(f"image file {self.path} does not exist; set data.path to an image file (.png, .jpg...)")
        try:
            return np.asarray(_load_image(str(self.path)).convert("RGB"))
        except _UnreadableImage:
            raise DatasetNotFoundError(f"image file {self.path} cannot be decoded; set data.path to a readable image") from None

    def load(self) -> torch.Tensor:
        """The training image: ``read``, shrunk to ``fit_size(H, W, max_size)`` with antialiased bicubic
        interpolation, float (1, 3, H, W) in [-1, 1]."""
        image = to_unit(photo_tensor(self.read())).unsqueeze(0)
        size = fit_size(image.shape[-2], image.shape[-1], self.max_size)
        if size != tuple(image.shape[-2:]):
            image = F.interpolate(image, size=size, mode="bicubic", align_corners=False, antialias=True).clamp_(-1.0, 1.0)
        return image.contiguous()

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        return RepeatedImage(self.image, self.steps_per_epoch), RepeatedImage(self.image, 1)


__all__ = ["RepeatedImage", "SingleImageDataModule"]
