"""The DataModule base shared by every dataset: loaders, splits and the shape the model is built for."""

from __future__ import annotations

import copy
import math
import os
from abc import ABC, abstractmethod
from typing import Any, Optional, Sequence

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from lit_gans.errors import ConfigError
from lit_gans.metrics.spec import DataEvaluation


#: the seed of the training subset that ``train_fraction`` keeps: fixed, not the run's, so that every
#: seed of an experiment trains on the same images
SUBSET_SEED = 0


def _run_seed() -> int:
    """The run's seed, as ``seed_everything`` recorded it (0 when unseeded)."""
    return int(os.environ.get("PL_GLOBAL_SEED", 0))


class ResumableSampler(DistributedSampler):
    """The training order: a permutation drawn from ``seed + epoch`` (its own generator, never the
    global one), this process's share of it under DDP, and the place in the epoch, which checkpoints
    record so that a run resumed mid-epoch sees the very batches an uninterrupted run would.

    It is a ``DistributedSampler`` so that Lightning keeps it under DDP rather than wrapping it; on one
    process it is a plain shuffle. ``seed`` defaults to the run's seed (``seed_everything``).
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: Optional[int] = None):
        distributed = dist.is_available() and dist.is_initialized()
        world, rank = (dist.get_world_size(), dist.get_rank()) if distributed else (1, 0)
        seed = _run_seed() if seed is None else seed
        super().__init__(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
        self.batch_size = batch_size
        self.batches_taken = 0  # batches of the current epoch that training has used
        self._skip = 0  # samples of this process to pass over once, on resume

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.batches_taken = 0
        super().set_epoch(epoch)

    def __iter__(self):
        order = list(super().__iter__())
        skip, self._skip = self._skip, 0
        return iter(order[skip:])

    def state_dict(self) -> dict[str, int]:
        epoch, taken = self.epoch, self.batches_taken
        if taken >= self.num_samples // self.batch_size:  # saved on the epoch's last batch: next epoch's start
            epoch, taken = epoch + 1, 0
        return {"seed": self.seed, "epoch": epoch, "batches": taken, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.seed, self.epoch, self.batches_taken = state["seed"], state["epoch"], state["batches"]
        self._skip = state["batches"] * state["batch_size"]


class ResumableLoader(DataLoader):
    """A ``DataLoader`` whose place in the epoch Lightning saves in checkpoints and restores on resume
    (Lightning resumes loaders that have ``state_dict``/``load_state_dict``); the place is its
    ``ResumableSampler``'s."""

    def state_dict(self) -> dict[str, int]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.load_state_dict(state)


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
        train_fraction: share of the training set kept, for limited-data experiments (e.g. 0.1 keeps
            10 % of each class); the same images in every run (a fixed seed, not the run's), chosen
            class by class when the data is labelled. Validation keeps its whole split. 1 keeps all.
    """

    data_shape: tuple[int, ...]
    num_classes: int = 0
    #: the names of the parts of each batch, in order; the loop reads them. Besides ``"image"`` (the
    #: samples) and ``"label"`` (integer classes, zeros when unlabelled), the loop will understand ``"condition"`` (a
    #: conditioning image) and ``"image_b"`` (an image of a second domain).
    batch_fields: tuple[str, ...] = ("image", "label")

    @property
    def evaluation(self) -> DataEvaluation:
        """How samples of this data are evaluated (``lit_gans.metrics.spec``). By default from
        ``data_shape``: FID/KID/IS/classifier in Inception's features for (C, H, W) images, nothing
        otherwise; subclasses declare their own."""
        return DataEvaluation.for_shape(self.data_shape)

    def __init__(self, batch_size: int = 64, num_workers: int = 0, pin_memory: bool = False, train_fraction: float = 1.0):
        super().__init__()
        # the whole chain of __init__ arguments: recorded in checkpoints (``lit-gans evaluate``
        # rebuilds the data from them) and in the key of cached real-data features
        self.save_hyperparameters()
        if train_fraction == 1.0:
            # the default is left out, so keys of real features cached before train_fraction existed still match
            self.hparams.pop("train_fraction", None)
        if batch_size < 1:
            raise ConfigError(f"data.batch_size={batch_size} must be at least 1")
        check_train_fraction(train_fraction)
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.train_fraction = float(train_fraction)
        #: size of the training split before ``train_fraction`` (set by ``setup``)
        self.full_train_size: int | None = None
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.sampler: ResumableSampler | None = None

    @abstractmethod
    def make_datasets(self) -> tuple[Dataset, Dataset]:
        """The training and validation datasets, each yielding ``(x, y)``."""

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            train_set, self.val_set = self.make_datasets()
            self.full_train_size = len(train_set)
            self.train_set = self.training_subset(train_set)
            n = self.full_train_size
            if len(self.train_set) < self.batch_size <= n:
                least = _round_up(self.batch_size / n)
                raise ConfigError(
                    f"data.train_fraction={self.train_fraction:g} keeps {len(self.train_set)} of the {n} training "
                    f"samples of {type(self).__name__}, fewer than data.batch_size={self.batch_size}; raise "
                    f"data.train_fraction to at least {least:g} or lower data.batch_size"
                )
            if len(self.train_set) < self.batch_size:
                held_out = getattr(self, "val_fraction", 0)
                raise ConfigError(
                    f"{type(self).__name__} has {len(self.train_set)} training samples, fewer than "
                    f"data.batch_size={self.batch_size}; lower the batch size"
                    + (f" or data.val_fraction={held_out}" if held_out else "")
                )

    def training_subset(self, dataset: Dataset) -> Dataset:
        """The part of the training split that ``train_fraction`` keeps (all of it at 1):
        ``round(train_fraction * len(dataset))`` samples, each class in proportion to its size
        (largest remainders) when the data is labelled, drawn from ``SUBSET_SEED``; in-memory datasets
        stay in memory (``TensorBatches.subset``)."""
        if self.train_fraction >= 1.0:
            return dataset
        labels = dataset_labels(dataset) if self.num_classes else None
        keep = stratified_subset(len(dataset), self.train_fraction, labels, SUBSET_SEED)
        if isinstance(dataset, TensorBatches):
            return dataset.subset(keep)
        return Subset(dataset, keep.tolist())

    def _loader(self, dataset: Dataset, train: bool) -> DataLoader:
        sampler = None
        if train:
            sampler = self.sampler = ResumableSampler(dataset, self.batch_size)
        stacked = isinstance(dataset, TensorBatches) and dataset.samples is not None
        return (ResumableLoader if train else DataLoader)(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            collate_fn=batch_as_is if stacked else None,
            drop_last=train,  # full batches keep batch norm and the critic's statistics stable
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            # loaders draw their workers' seeds from here, not from the global generator training draws from
            generator=torch.Generator().manual_seed(sampler.seed if sampler is not None else _run_seed()),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if self.sampler is not None and self.trainer is not None and self.trainer.training:
            self.sampler.batches_taken += 1  # counted as training takes a batch: the loop fetches one ahead
        return batch

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)


def check_train_fraction(train_fraction: float) -> None:
    """The share of the training set kept must be a share: in (0, 1]."""
    if isinstance(train_fraction, bool) or not isinstance(train_fraction, (int, float)) or not 0.0 < train_fraction <= 1.0:
        raise ConfigError(
            f"data.train_fraction={train_fraction} must be in (0, 1]: it is the share of the training set kept, "
            "e.g. 0.1 keeps 10 % of each class; 1 (the default) keeps all of it"
        )


def _round_up(x: float) -> float:
    """``x`` rounded up to two significant figures (a value to suggest in a message)."""
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return min(1.0, math.ceil(round(x / step, 9)) * step)


def dataset_labels(dataset: Dataset) -> torch.Tensor:
    """The integer label of every sample of ``dataset``: from its ``labels`` or ``targets`` (torchvision)
    where it has them, through ``Subset`` and wrappers that keep a ``dataset`` of the same length,
    else by reading every sample."""
    if isinstance(dataset, Subset):
        return dataset_labels(dataset.dataset)[torch.as_tensor(dataset.indices, dtype=torch.long)]
    for name in ("labels", "targets"):
        value = getattr(dataset, name, None)
        if value is not None and len(value) == len(dataset):
            return torch.as_tensor(np.asarray(value), dtype=torch.long).reshape(-1)
    inner = getattr(dataset, "dataset", None)
    if isinstance(inner, Dataset) and len(inner) == len(dataset):
        return dataset_labels(inner)
    return torch.tensor([int(dataset[i][1]) for i in range(len(dataset))], dtype=torch.long)


def stratified_subset(n: int, fraction: float, labels: torch.Tensor | None = None, seed: int = SUBSET_SEED) -> torch.Tensor:
    """Sorted indices of ``round(fraction * n)`` of ``n`` samples, drawn from ``seed``. With ``labels``
    each class keeps ``fraction`` of its samples, rounded so that the sizes add up (largest remainders,
    ties to the smaller label); the samples of a class are the first of it in one seeded order of all
    ``n``, so a larger fraction keeps a superset of a smaller one wherever the rounding allows."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    size = int(math.floor(fraction * n + 0.5))
    if labels is None:
        return order[:size].sort().values
    classes, counts = torch.unique(labels, return_counts=True)
    quota = counts.double() * fraction
    take = quota.floor().long()
    remainder = (quota - take).tolist()
    for i in sorted(range(len(classes)), key=lambda i: -remainder[i])[: max(0, size - int(take.sum()))]:
        take[i] += 1  # sorted() is stable: equal remainders go to the smaller label first
    ordered = labels[order]
    keep = [order[ordered == c][:k] for c, k in zip(classes.tolist(), take.tolist())]
    return torch.cat(keep).sort().values


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
        self.channels, self.image_size, self.fit = channels, image_size, fit
        self.random = bool(augmentations)  # without augmentations an image always maps to the same tensor
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

    def all_at_once(self, images: np.ndarray) -> torch.Tensor | None:
        """Every image of a uint8 array (N, H, W[, C]) transformed in one go, where that gives what
        ``__call__`` gives image by image (no augmentations, ``fit: pad``: padding, centre crop and
        scaling are whole-array operations); None where it does not (resizing is done image by image)."""
        if self.random or self.fit != "pad" or images.ndim not in (3, 4) or images.dtype != np.uint8:
            return None
        x = torch.from_numpy(np.ascontiguousarray(images))
        x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
        if x.shape[1] != self.channels:
            x = x.expand(-1, self.channels, -1, -1) if x.shape[1] == 1 else x[:, :1]
        size = self.image_size
        pad_h, pad_w = max(0, size - x.shape[2]), max(0, size - x.shape[3])
        x = torch.nn.functional.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))  # zeros, as PadIfNeeded
        top, left = (x.shape[2] - size) // 2, (x.shape[3] - size) // 2  # as CenterCrop
        x = x[:, :, top:top + size, left:left + size]
        return (x.float() - 127.5) * np.float32(1 / 127.5)  # albumentations' Normalize(0.5, 0.5), bit for bit


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
        train_fraction: share of the training set kept (e.g. 0.1: 10 % of each class; the same images
            in every run); validation keeps its whole split. 1 keeps all.
    """

    channels: int = 1
    #: side of the dataset's own images, where all share one (28 for MNIST); None where they vary
    native_size: int | None = None

    def __init__(
        self,
        image_size: int = 32,
        fit: str = "resize",
        augmentations: list[dict] | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_fraction: float = 1.0,
    ):
        super().__init__(batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory, train_fraction=train_fraction)
        if image_size < 1:
            raise ConfigError(f"data.image_size={image_size} must be a positive number of pixels")
        self.image_size, self.fit = image_size, fit
        self.transform = ImageTransform(self.channels, image_size, fit, augmentations)
        self.data_shape = (self.channels, image_size, image_size)

    @property
    def evaluation_border(self) -> int:
        """Pixels on each side that the evaluation's feature network does not read: with ``fit: pad`` the
        padding around the native-size picture (2 for 28 px Fashion-MNIST served at 32), so that a domain
        network trained on native images reads real and generated images as it read its test set, not
        shrunk with a border; 0 otherwise."""
        if self.fit != "pad" or self.native_size is None or self.image_size <= self.native_size:
            return 0
        return (self.image_size - self.native_size) // 2


class TensorBatches(Dataset):
    """Samples and labels held as tensors, handed out a whole batch at a time: the DataLoader passes a
    batch's indices to ``__getitems__``, which answers with one indexing operation per tensor instead
    of collating the samples one by one (``GANDataModule._loader`` turns collation off for it)."""

    def __init__(self, samples: torch.Tensor, labels: torch.Tensor):
        self.samples, self.labels = samples, labels.long()

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """As ``TensorDataset`` names them."""
        return self.samples, self.labels

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        return self.samples[i], self.labels[i]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices)
        return self.samples[index], self.labels[index]

    def subset(self, indices: torch.Tensor) -> "TensorBatches":
        """These samples at ``indices``, still held as tensors (and handed out a batch at a time)."""
        part = copy.copy(self)
        part.samples = None if self.samples is None else self.samples[indices]
        part.labels = self.labels[indices]
        return part


def batch_as_is(batch: Any) -> Any:
    """The collate function for ``TensorBatches``: its batches come stacked already."""
    return batch


#: the most memory that an image dataset is transformed into up front (see ``ArrayDataset``)
PRECOMPUTE_BYTES = 256 * 2**20


class ArrayDataset(TensorBatches):
    """uint8 images (N, H, W[, C]) and labels. Without random augmentations every image maps to one
    tensor, so all are transformed once, up front, and handed out by index (when they fit in
    ``PRECOMPUTE_BYTES``); otherwise each is transformed on access."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.transform = images, transform
        labels = torch.as_tensor(labels, dtype=torch.long)
        samples = None
        if len(images) and not getattr(transform, "random", True):
            first = transform(images[0])
            if first.numel() * first.element_size() * len(images) <= PRECOMPUTE_BYTES:
                whole = getattr(transform, "all_at_once", lambda _: None)(images)
                samples = whole if whole is not None else torch.stack([first] + [transform(image) for image in images[1:]])
        super().__init__(samples, labels)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        if self.samples is not None:
            return self.samples[i], self.labels[i]
        return self.transform(self.images[i]), self.labels[i]

    def __getitems__(self, indices: list[int]):
        if self.samples is not None:
            return super().__getitems__(indices)
        return [self[i] for i in indices]  # collated by the loader as usual

    def subset(self, indices: torch.Tensor) -> "ArrayDataset":
        part = super().subset(indices)
        part.images = self.images[indices.numpy()]
        return part
