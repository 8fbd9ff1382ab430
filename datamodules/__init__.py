"""Reusable LightningDataModules for lit-gans; every batch is ``(x, y)``.

Each DataModule reports ``data_shape`` and ``num_classes``, which the CLI links to the model.
"""

from datamodules.base import GANDataModule, ImageDataModule
from datamodules.digits import DigitsDataModule
from datamodules.image_folder import ImageFolderDataModule
from datamodules.lfw import LFWFacesDataModule
from datamodules.stacked_digits import StackedDigitsDataModule
from datamodules.toy2d import Toy2DDataModule
from datamodules.torchvision_sets import CIFAR10DataModule, FashionMNISTDataModule, MNISTDataModule

__all__ = [
    "CIFAR10DataModule",
    "DigitsDataModule",
    "FashionMNISTDataModule",
    "GANDataModule",
    "ImageDataModule",
    "ImageFolderDataModule",
    "LFWFacesDataModule",
    "MNISTDataModule",
    "StackedDigitsDataModule",
    "Toy2DDataModule",
]
