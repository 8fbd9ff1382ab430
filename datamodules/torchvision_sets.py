"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision's readers, from a local ``data_dir``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from datamodules.base import ArrayDataset, ImageDataModule
from lit_gans.errors import DatasetNotFoundError
from lit_gans.metrics.spec import DataEvaluation

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


class TorchvisionDataModule(ImageDataModule):
    """A torchvision dataset read from ``data_dir`` (``download: true`` fetches it when online).

    Args:
        data_dir: folder holding the dataset in torchvision's layout (e.g. ``data/MNIST/raw``).
        download: let torchvision download the dataset into ``data_dir`` (needs internet).
        image_size: side of the square images the networks see.
        fit: ``"resize"`` or ``"pad"`` (28 px digits padded to 32 px is the usual choice).
        augmentations: albumentations transforms, as ``[{name: HorizontalFlip, p: 0.5}]``.
        batch_size: samples per batch, per process.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory.
        train_fraction: share of the training set kept (e.g. 0.1: 10 % of each class; the same images
            in every run); validation keeps its whole split. 1 keeps all.
    """

    num_classes = 10
    torchvision_class: str = ""  # the reader in torchvision.datasets
    dataset_name: str = ""  # its folder under data_dir
    how_to_get: str = ""

    def __init__(
        self,
        data_dir: str = "data",
        download: bool = False,
        image_size: int = 32,
        fit: str = "pad",
        augmentations: list[dict] | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_fraction: float = 1.0,
    ):
        super().__init__(image_size, fit, augmentations, batch_size, num_workers, pin_memory, train_fraction)
        self.data_dir, self.download = Path(data_dir), download

    def dataset(self, train: bool, download: bool = False) -> Dataset:
        import torchvision.datasets

        reader = getattr(torchvision.datasets, self.torchvision_class)
        return reader(str(self.data_dir), train=train, download=download, transform=self.transform)

    def raw_folder(self) -> Path:
        return self.data_dir / self.dataset_name / "raw"

    def prepare_data(self) -> None:
        try:
            self.dataset(train=True, download=self.download)
            self.dataset(train=False, download=self.download)
        except RuntimeError as err:
            raise DatasetNotFoundError(
                f"{self.dataset_name} not found: looked in {self.raw_folder()} ({err}); "
                f"{self.how_to_get} or set data.download: true to fetch it (needs internet)"
            ) from None

    def make_datasets(self) -> tuple[Dataset, Dataset]:
        """Both splits held in memory as arrays (torchvision's readers load them whole anyway): without
        random augmentations every image is resized or padded and normalised once, here, instead of
        once per epoch (``ArrayDataset``)."""
        self.prepare_data()
        return self.in_memory(self.dataset(train=True)), self.in_memory(self.dataset(train=False))

    def in_memory(self, dataset: Dataset) -> ArrayDataset:
        data = getattr(dataset, "data")
        images = data.numpy() if hasattr(data, "numpy") else np.asarray(data)
        return ArrayDataset(images, np.asarray(dataset.targets), self.transform)


class MNISTDataModule(TorchvisionDataModule):
    __doc__ = "MNIST (LeCun et al. 1998): 28 px grey digits, 60,000 train / 10,000 test.\n" + (
        TorchvisionDataModule.__doc__.split("\n", 1)[1]
    )

    channels, native_size = 1, 28
    torchvision_class = dataset_name = "MNIST"
    how_to_get = "put train-images-idx3-ubyte etc. in data_dir/MNIST/raw"
    #: no MNIST network ships, so ``feature: auto`` falls back to Inception
    evaluation = DataEvaluation.for_images("mnist")


class FashionMNISTDataModule(TorchvisionDataModule):
    __doc__ = (
        "Fashion-MNIST (Xiao et al. 2017): 28 px grey clothes, 10 classes. Also found where Debian's\n"
        "    ``dataset-fashion-mnist`` package installs it (/usr/share/datasets/fashion-mnist).\n"
        + TorchvisionDataModule.__doc__.split("\n", 1)[1]
    )

    channels, native_size = 1, 28
    torchvision_class = dataset_name = "FashionMNIST"
    how_to_get = "on Debian/Ubuntu run `apt-get install dataset-fashion-mnist`, or put the idx files in data_dir/FashionMNIST/raw,"
    evaluation = DataEvaluation.for_images("fashion_mnist")

    def prepare_data(self) -> None:
        from torchvision.datasets.utils import extract_archive

        raw = self.raw_folder()
        if not (raw / "train-images-idx3-ubyte").exists() and DEBIAN_FASHION_MNIST.is_dir():
            raw.mkdir(parents=True, exist_ok=True)
            for archive in sorted(DEBIAN_FASHION_MNIST.glob("*-ubyte.gz")):
                extract_archive(str(archive), str(raw))
        super().prepare_data()


class CIFAR10DataModule(TorchvisionDataModule):
    __doc__ = "CIFAR-10 (Krizhevsky 2009): 32 px colour images, 10 classes.\n" + (
        TorchvisionDataModule.__doc__.split("\n", 1)[1]
    )

    channels, native_size = 3, 32
    torchvision_class = "CIFAR10"
    dataset_name = "cifar-10-batches-py"
    how_to_get = "unpack cifar-10-python.tar.gz into data_dir"

    def __init__(self, *args, fit: str = "resize", **kwargs):
        super().__init__(*args, fit=fit, **kwargs)

    def raw_folder(self) -> Path:
        return self.data_dir / self.dataset_name

