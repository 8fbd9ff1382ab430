"""Unpaired image-to-image data (CycleGAN): two domains, A and B, with no pairs between them.

Batches are ``(image, image_b)``: images of domain A and, beside each, an independently chosen image of
domain B (``batch_fields``). Two DataModules:

* ``UnpairedFolderDataModule``: two folders of images (CycleGAN's ``trainA`` and ``trainB``);
* ``ClassPairDataModule``: the offline demo, two classes of Fashion-MNIST (sneaker <-> ankle boot) or of
  scikit-learn's bundled digits.

Which B image goes with which A image
-------------------------------------
An epoch is one pass over domain A's training images, in the shuffled order of the training sampler. The
B partner of A image ``i`` in epoch ``e`` is ``partner_indices(n_a, n_b, seed, e)[i]``: the indices of B
in seeded random orders, one order after the other, cut to ``n_a`` entries. So within an epoch each B image
is used ``floor(n_a / n_b)`` or ``ceil(n_a / n_b)`` times when B is the smaller domain, and ``n_a``
different B images are used when it is the larger; the partners change from epoch to epoch, so over
epochs every B image is seen. The training sampler (``PairingSampler``, the run's ``ResumableSampler``)
yields ``(i, partner)`` and draws the partners from the run's seed and the epoch alone, never from a
global generator: a run is reproducible, resumes mid-epoch onto the very pairs an uninterrupted run
would see, and every DDP process agrees on them. Indexing a dataset with a plain ``i`` (validation, or
by hand) uses one fixed pairing, that of epoch 0 under the DataModule's ``seed``.

Limits: the pairing within an epoch is random, not balanced over A's classes or styles; an epoch never
shows more than ``n_a`` B images, so with a B domain much larger than A, B is covered only over several
epochs (name the larger domain A to see all of B every epoch).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
import warnings
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from datamodules.base import (
    SUBSET_SEED,
    GANDataModule,
    ImageTransform,
    ResumableSampler,
    TensorBatches,
    check_val_fraction,
    stratified_subset,
)
from datamodules.image_folder import _decodes, _load_image, _UnreadableImage
from datamodules.paired import DEMO_CLASSES, DemoImages, _folder_images, _shown, _split, check_channels, check_image_size, grey_codes
from lit_gans.errors import ConfigError, DatasetNotFoundError
from lit_gans.metrics.spec import DataEvaluation

#: the entropy that sets the B partners apart from every other seeded draw
PAIRING_STREAM = 0xB

#: an index of an unpaired dataset: ``i`` (the fixed partner of A image ``i``) or ``(i, j)`` (A image ``i``
#: with B image ``j``, as ``PairingSampler`` yields them)
PairIndex = Union[int, tuple[int, int]]


def partner_indices(n_a: int, n_b: int, seed: int, epoch: int = 0) -> np.ndarray:
    """The B partner of each of ``n_a`` A images in ``epoch``: seeded random orders of B's ``n_b``
    indices, one after the other, cut to ``n_a`` entries (int64 (n_a,)). A function of its arguments alone."""
    if n_a == 0 or n_b == 0:
        return np.zeros(0 if n_a == 0 else n_a, dtype=np.int64)
    rng = np.random.default_rng([int(seed) % 2**64, int(epoch), PAIRING_STREAM])
    orders = [rng.permutation(n_b) for _ in range(-(-n_a // n_b))]
    return np.concatenate(orders)[:n_a].astype(np.int64)


class UnpairedDataset(Dataset, ABC):
    """Two domains, ``n_a`` and ``n_b`` samples, indexed by A: ``dataset[i]`` is A sample ``i`` with its
    fixed partner (``partner_indices`` of epoch 0 under ``seed``), ``dataset[(i, j)]`` is A sample ``i``
    with B sample ``j``."""

    n_a: int
    n_b: int
    seed: int = 0

    def __len__(self) -> int:
        return self.n_a

    def partners(self, seed: Optional[int] = None, epoch: int = 0) -> np.ndarray:
        """The B partner of each A sample: in ``epoch`` under ``seed`` (default: the dataset's)."""
        return partner_indices(self.n_a, self.n_b, self.seed if seed is None else seed, epoch)

    def _fixed(self) -> np.ndarray:
        if getattr(self, "_fixed_partners", None) is None:
            self._fixed_partners = self.partners()
        return self._fixed_partners

    def pair(self, index: PairIndex) -> tuple[int, int]:
        """``(i, j)``: the A and B sample of ``index``."""
        if isinstance(index, (tuple, list)):
            return int(index[0]), int(index[1])
        i = int(index)
        return i, int(self._fixed()[i])

    @abstractmethod
    def domains(self, keep_a: torch.Tensor, keep_b: torch.Tensor) -> "UnpairedDataset":
        """These A samples and these B samples (sorted indices of each), paired afresh."""


class PairingSampler(ResumableSampler):
    """The training order of an ``UnpairedDataset``: ``ResumableSampler``'s shuffle of A's samples (and its
    place in the epoch, on resume), each with its B partner of this epoch: yields ``(i, j)``. The partners
    come from the sampler's seed (the run's) and the epoch alone, so a resumed run and every DDP process
    draw the same ones."""

    def __iter__(self):
        partners = self.dataset.partners(self.seed, self.epoch)
        return ((i, int(partners[i])) for i in super().__iter__())


class UnpairedDataModule(GANDataModule):
    """What both unpaired DataModules share: batches ``(image, image_b)``, the ``PairingSampler`` for
    training, and ``train_fraction`` applied to each domain."""

    batch_fields = ("image", "image_b")
    num_classes = 0
    data_shape_b: tuple[int, ...]

    @property
    def evaluation(self) -> DataEvaluation:
        """None of the unconditional image metrics: the image-to-image families compute their own."""
        return DataEvaluation()

    def _loader(self, dataset: Dataset, train: bool) -> DataLoader:
        loader = super()._loader(dataset, train)
        if not train or not isinstance(dataset, UnpairedDataset):
            return loader
        # the same loader, with the sampler that adds B partners (a DataLoader's sampler is fixed once made)
        self.sampler = PairingSampler(dataset, self.batch_size, seed=loader.sampler.seed)
        return type(loader)(
            dataset,
            batch_size=loader.batch_size,
            sampler=self.sampler,
            collate_fn=loader.collate_fn,
            drop_last=loader.drop_last,
            num_workers=loader.num_workers,
            pin_memory=loader.pin_memory,
            persistent_workers=loader.persistent_workers,
            generator=loader.generator,
            worker_init_fn=loader.worker_init_fn,
            timeout=loader.timeout,
            prefetch_factor=loader.prefetch_factor,
            multiprocessing_context=loader.multiprocessing_context,
        )

    def training_subset(self, dataset: Dataset) -> Dataset:
        """``train_fraction`` of each domain (the same samples in every run), paired afresh."""
        if self.train_fraction >= 1.0:
            return dataset
        keep_a = stratified_subset(dataset.n_a, self.train_fraction, None, SUBSET_SEED)
        keep_b = stratified_subset(dataset.n_b, self.train_fraction, None, SUBSET_SEED)
        return dataset.domains(keep_a, keep_b)


# ---------------------------------------------------------------------------------------------- two folders
class UnpairedImages(UnpairedDataset):
    """Two lists of image files, each domain with its own transform (its own random augmentations) ->
    ``(image, image_b)``. A file that cannot be decoded when loaded is skipped, with a warning naming it
    once, in favour of the next file of its domain."""

    def __init__(self, files_a: list[Path], files_b: list[Path], transform_a: ImageTransform, transform_b: ImageTransform,
                 seed: int = 0):
        self.files = (list(files_a), list(files_b))
        self.transforms = (transform_a, transform_b)
        self.n_a, self.n_b, self.seed = len(files_a), len(files_b), seed
        self._warned: set[str] = set()

    def load(self, domain: int, i: int) -> torch.Tensor:
        files = self.files[domain]
        for k in range(len(files)):
            try:
                return self.transforms[domain](_load_image(str(files[(i + k) % len(files)])))
            except _UnreadableImage as err:
                if str(err) not in self._warned:
                    self._warned.add(str(err))
                    cause = err.__cause__
                    warnings.warn(f"UnpairedFolderDataModule: skipped {err}, which cannot be decoded "
                                  f"({type(cause).__name__}: {cause}); delete or replace it", stacklevel=2)
        raise DatasetNotFoundError(f"no image of domain {'AB'[domain]} can be decoded; set data.path_{'ab'[domain]} to a "
                                   "folder of readable images")

    def __getitem__(self, index: PairIndex) -> tuple[torch.Tensor, torch.Tensor]:
        i, j = self.pair(index)
        return self.load(0, i), self.load(1, j)

    def domains(self, keep_a: torch.Tensor, keep_b: torch.Tensor) -> "UnpairedImages":
        files_a, files_b = self.files
        kept_a, kept_b = [files_a[i] for i in keep_a.tolist()], [files_b[j] for j in keep_b.tolist()]
        return UnpairedImages(kept_a, kept_b, *self.transforms, seed=self.seed)


class UnpairedFolderDataModule(UnpairedDataModule):
    """Two folders of images for CycleGAN (Zhu et al. 2017), e.g. its ``horse2zebra/trainA`` and
    ``trainB``: batches ``(image, image_b)``, an A image and an independently chosen B image (see the
    module's docstring for the choice).

    Each domain is augmented on its own (its own random crop and flip), then resized to ``image_size``.
    CycleGAN's jitter is ``[{name: Resize, height: 286, width: 286}, {name: RandomCrop, height: 256,
    width: 256}, {name: HorizontalFlip, p: 0.5}]``. Files that cannot be decoded are skipped with a warning,
    as ``ImageFolderDataModule`` skips them. Each folder is flat: its images, not class subfolders.

    Args:
        path_a: the folder of domain A's images (an epoch is a pass over A's training images).
        path_b: the folder of domain B's images.
        channels: channels of the A images: 1 (grey) or 3 (RGB); images are converted.
        channels_b: channels of the B images; null: as ``channels``.
        image_size: side of the square images the networks see.
        augmentations: albumentations transforms, applied to each image on its own, as
            ``[{name: HorizontalFlip, p: 0.5}]``.
        val_fraction: share of each domain held out for validation (0: one training image of each validates).
        seed: seed of the train/validation splits and of the fixed pairing of validation.
        batch_size: A images (and as many B images) per batch, per process (CycleGAN: 1).
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory.
        train_fraction: share of each domain's training images kept (the same images in every run);
            validation keeps its whole split. 1 keeps all.

    Attributes:
        data_shape: domain A's shape (C, S, S).
        data_shape_b: domain B's shape (C_b, S, S).
    """

    def __init__(
        self,
        path_a: str,
        path_b: str,
        channels: int = 3,
        channels_b: Optional[int] = None,
        image_size: int = 256,
        augmentations: list[dict] | None = None,
        val_fraction: float = 0.05,
        seed: int = 0,
        batch_size: int = 1,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_fraction: float = 1.0,
    ):
        super().__init__(batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory, train_fraction=train_fraction)
        check_channels("channels", channels)
        check_channels("channels_b", channels_b, optional=True)
        check_image_size(image_size)
        check_val_fraction(val_fraction)
        self.channels, self.channels_b = channels, channels if channels_b is None else channels_b
        self.image_size, self.val_fraction, self.seed = image_size, val_fraction, seed
        self.transform = ImageTransform(self.channels, image_size, "resize", augmentations)
        self.transform_b = ImageTransform(self.channels_b, image_size, "resize", augmentations)
        self.data_shape = (self.channels, image_size, image_size)
        self.data_shape_b = (self.channels_b, image_size, image_size)
        self.path_a, self.path_b = Path(path_a).expanduser(), Path(path_b).expanduser()
        self.files_a, self.files_b = _folder_images(self.path_a, "path_a"), _folder_images(self.path_b, "path_b")

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        splits = []
        for domain, (files, path) in enumerate(((self.files_a, self.path_a), (self.files_b, self.path_b))):
            readable = [f for f in files if _decodes(f)]
            skipped = [str(f) for f in files if f not in set(readable)]
            if skipped:
                warnings.warn(
                    f"UnpairedFolderDataModule: skipped {len(skipped)} image file(s) in {path} that cannot be decoded "
                    f"(corrupt, truncated or not images): {_shown(skipped)}; delete or replace them", stacklevel=2
                )
            if not readable:
                raise DatasetNotFoundError(f"no image in {path} can be decoded; set data.path_{'ab'[domain]} to a folder "
                                           "of readable images")
            train, val = _split(len(readable), self.val_fraction, [self.seed, domain])
            splits.append(([readable[i] for i in train], [readable[i] for i in val]))
        (train_a, val_a), (train_b, val_b) = splits
        return (
            UnpairedImages(train_a, train_b, self.transform, self.transform_b, seed=self.seed),
            UnpairedImages(val_a, val_b, self.transform, self.transform_b, seed=self.seed),
        )


# ---------------------------------------------------------------------------------------------- two classes
class UnpairedTensors(UnpairedDataset, TensorBatches):
    """Two in-memory domains of grey images (uint8 codes into ``levels``, served as floats in [-1, 1]),
    handed out a whole batch at a time. ``labels`` and ``labels_b`` keep each sample's class (not served)."""

    def __init__(self, samples: torch.Tensor, labels: torch.Tensor, samples_b: torch.Tensor, labels_b: torch.Tensor,
                 levels: torch.Tensor, seed: int = 0):
        TensorBatches.__init__(self, samples, torch.as_tensor(labels))
        self.samples_b, self.labels_b = samples_b, torch.as_tensor(labels_b).long()
        self.levels, self.seed = levels, seed
        self.n_a, self.n_b = len(samples), len(samples_b)

    def __len__(self) -> int:
        return self.n_a

    def images(self, index, domain: int = 0) -> torch.Tensor:
        """The images of a domain (0: A, 1: B) at ``index``, as floats."""
        return self.levels[(self.samples if domain == 0 else self.samples_b)[index].long()]

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images of A and all of B, as floats (of different lengths where the domains differ)."""
        return self.images(slice(None), 0), self.images(slice(None), 1)

    def __getitem__(self, index: PairIndex) -> tuple[torch.Tensor, torch.Tensor]:
        i, j = self.pair(index)
        return self.images(i, 0), self.images(j, 1)

    def __getitems__(self, indices: list[PairIndex]) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = [self.pair(index) for index in indices]
        a = torch.as_tensor([i for i, _ in pairs], dtype=torch.long)
        b = torch.as_tensor([j for _, j in pairs], dtype=torch.long)
        return self.images(a, 0), self.images(b, 1)

    def domains(self, keep_a: torch.Tensor, keep_b: torch.Tensor) -> "UnpairedTensors":
        part = copy.copy(self)
        part.samples, part.labels = self.samples[keep_a], self.labels[keep_a]
        part.samples_b, part.labels_b = self.samples_b[keep_b], self.labels_b[keep_b]
        part.n_a, part.n_b, part._fixed_partners = len(keep_a), len(keep_b), None
        return part

    def subset(self, indices: torch.Tensor) -> "UnpairedTensors":
        """These A samples, with all of B."""
        return self.domains(indices, torch.arange(self.n_b))


class ClassPairDataModule(UnpairedDataModule):
    """The offline CycleGAN demo: two classes of one dataset as two domains, e.g. Fashion-MNIST's sneakers
    (7) <-> ankle boots (9), the default, or the digits 1 <-> 7 of scikit-learn's bundled digits. Batches
    ``(image, image_b)``: a grey image of ``class_a`` and an independently chosen one of ``class_b`` (see the
    module's docstring for the choice); a domain classifier later tells whether translated images crossed
    over, hence ``class_a`` and ``class_b``, and the labels kept in ``train_set.labels``/``labels_b``.

    Fashion-MNIST (found where Debian's ``dataset-fashion-mnist`` installs it) trains on its training split
    (6,000 images of each class) and validates on its test split (1,000 each); the digits (about 180 of each
    class) are split as ``DigitsDataModule`` splits them. Images are sized once, at setup, and held in memory.

    Args:
        dataset: ``"fashion_mnist"`` or ``"digits"``.
        class_a: the class of domain A (0-9; Fashion-MNIST: 0 T-shirt, 1 trouser, 2 pullover, 3 dress,
            4 coat, 5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 ankle boot).
        class_b: the class of domain B (0-9, not ``class_a``).
        data_dir: where Fashion-MNIST is looked for (``data_dir/FashionMNIST/raw``).
        image_size: side of the square images the networks see.
        fit: ``"pad"`` or ``"resize"``; null: pad Fashion-MNIST's 28 px, resize the 8 px digits.
        val_fraction: share of the digits held out for validation (Fashion-MNIST validates on its test split).
        seed: seed of the digits' train/validation split and of the fixed pairing of validation.
        batch_size: A images (and as many B images) per batch, per process.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory.
        train_fraction: share of each domain's training images kept (the same images in every run);
            validation keeps its whole split. 1 keeps all.
        download: let torchvision download Fashion-MNIST into ``data_dir`` (needs internet).

    Attributes:
        data_shape, data_shape_b: ``(1, image_size, image_size)``.
        class_a, class_b: the classes of the two domains.
    """

    def __init__(
        self,
        dataset: str = "fashion_mnist",
        class_a: int = 7,
        class_b: int = 9,
        data_dir: str = "data",
        image_size: int = 32,
        fit: Optional[str] = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_fraction: float = 1.0,
        download: bool = False,
    ):
        super().__init__(batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory, train_fraction=train_fraction)
        self.source = DemoImages(dataset, data_dir, image_size, fit, val_fraction, seed, download)
        for name, value in (("class_a", class_a), ("class_b", class_b)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < DEMO_CLASSES:
                raise ConfigError(f"data.{name}={value} is not a class of {dataset}: use 0 to {DEMO_CLASSES - 1}")
        if class_a == class_b:
            raise ConfigError(f"data.class_a and data.class_b are both {class_a}: the two domains must be different classes")
        self.dataset, self.class_a, self.class_b = dataset, int(class_a), int(class_b)
        self.image_size, self.val_fraction, self.seed = image_size, val_fraction, seed
        self.data_shape = self.data_shape_b = (1, image_size, image_size)

    def prepare_data(self) -> None:
        self.source.prepare_data()

    def split_classes(self, images: np.ndarray, labels: np.ndarray) -> UnpairedTensors:
        """The images of ``class_a`` and of ``class_b`` among grey uint8 images (N, H, W)."""
        in_a, in_b = labels == self.class_a, labels == self.class_b
        codes, levels = grey_codes(self.source.transform, images[in_a | in_b])
        which = torch.from_numpy(in_a[in_a | in_b])
        return UnpairedTensors(codes[which], labels[in_a], codes[~which], labels[in_b], levels, seed=self.seed)

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        train, val = self.source.splits()
        train_set, val_set = self.split_classes(*train), self.split_classes(*val)
        for name, part in (("training", train_set), ("validation", val_set)):
            if part.n_a == 0 or part.n_b == 0:
                missing = self.class_a if part.n_a == 0 else self.class_b
                raise DatasetNotFoundError(f"the {name} split of {self.dataset} holds no image of class {missing}; "
                                           "choose another data.class_a/class_b")
        return train_set, val_set


__all__ = [
    "ClassPairDataModule",
    "PairingSampler",
    "UnpairedDataModule",
    "UnpairedDataset",
    "UnpairedFolderDataModule",
    "UnpairedImages",
    "UnpairedTensors",
    "partner_indices",
]
