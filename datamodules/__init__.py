"""Reusable LightningDataModules for lit-gans; a batch is ``(x, y)`` unless the DataModule's
``batch_fields`` name other parts (the image-to-image data: ``(condition, image)``, ``(image, image_b)``).

Each DataModule reports ``data_shape`` and ``num_classes``, which the CLI links to the model.
"""

from datamodules.base import GANDataModule, ImageDataModule
from datamodules.digits import DigitsDataModule
from datamodules.image_folder import ImageFolderDataModule
from datamodules.lfw import LFWFacesDataModule
from datamodules.paired import EdgesDataModule, PairedFolderDataModule
from datamodules.single_image import SingleImageDataModule
from datamodules.stacked_digits import StackedDigitsDataModule
from datamodules.superres import SuperResolutionDataModule, SuperResolutionFolderDataModule
from datamodules.toy2d import Toy2DDataModule
from datamodules.torchvision_sets import CIFAR10DataModule, FashionMNISTDataModule, MNISTDataModule
from datamodules.unpaired import ClassPairDataModule, UnpairedFolderDataModule

__all__ = [
    "CIFAR10DataModule",
    "ClassPairDataModule",
    "DigitsDataModule",
    "EdgesDataModule",
    "FashionMNISTDataModule",
    "GANDataModule",
    "ImageDataModule",
    "ImageFolderDataModule",
    "LFWFacesDataModule",
    "MNISTDataModule",
    "PairedFolderDataModule",
    "SingleImageDataModule",
    "StackedDigitsDataModule",
    "SuperResolutionDataModule",
    "SuperResolutionFolderDataModule",
    "Toy2DDataModule",
    "UnpairedFolderDataModule",
]
