"""DataModules: shapes, value ranges, labels, splits, augmentations and clear errors for missing data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules import (
    CIFAR10DataModule,
    DigitsDataModule,
    FashionMNISTDataModule,
    GANDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
    StackedDigitsDataModule,
    Toy2DDataModule,
)
from datamodules.torchvision_sets import DEBIAN_FASHION_MNIST
from lit_gans.errors import ConfigError, DatasetNotFoundError
from lit_gans.metrics import DataEvaluation, mode_coverage
from lit_gans.metrics.spec import IMAGE_METRICS


def first_batch(dm):
    dm.setup("fit")
    return next(iter(dm.train_dataloader()))


@pytest.mark.parametrize("name, n_modes, std", [("ring", 8, 0.01), ("grid", 25, 0.05)])
def test_toy_mixtures_follow_pacgan(name, n_modes, std):
    dm = Toy2DDataModule(name=name, n_samples=5000, batch_size=100)
    assert dm.data_shape == (2,) and dm.num_classes == n_modes and dm.std == std
    dm.setup("fit")
    points, labels = dm.train_set.tensors
    # each point sits near the mode it is labelled with, at the stated spread
    offsets = points - dm.modes[labels]
    assert abs(float(offsets.std()) - std) < 0.1 * std
    assert torch.bincount(labels, minlength=n_modes).min() > 0.5 * 5000 / n_modes
    # real samples are the metric's ceiling: all modes, ~99 % high quality, spread ~0.97 std
    stats = mode_coverage(points[:2500], dm.modes, dm.std)
    assert stats["modes"] == n_modes and stats["high_quality"] > 0.98 and stats["reverse_kl"] < 0.05
    assert 0.92 < stats["spread"] < 1.02
    if name == "ring":
        assert torch.allclose(dm.modes.norm(dim=1), torch.ones(8))
    else:
        assert sorted(set(dm.modes[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_toy_training_set_is_fixed_and_validation_differs():
    a, b = Toy2DDataModule(n_samples=100, batch_size=10), Toy2DDataModule(n_samples=100, batch_size=10)
    a.setup(), b.setup()
    assert torch.equal(a.train_set.tensors[0], b.train_set.tensors[0])
    assert not torch.equal(a.train_set.tensors[0][:50], a.val_set.tensors[0][:50])


def test_digits_are_embedded_scaled_and_labelled():
    dm = DigitsDataModule(image_size=16, batch_size=32)
    x, y = first_batch(dm)
    assert dm.data_shape == (1, 16, 16) and dm.num_classes == 10
    assert x.shape == (32, 1, 16, 16) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.9 and x.max() > 0.9
    assert y.dtype == torch.long and 0 <= y.min() and y.max() <= 9
    assert len(dm.train_set) + len(dm.val_set) == 1797


def test_augmentations_come_from_yaml_names():
    dm = DigitsDataModule(image_size=8, augmentations=[{"name": "HorizontalFlip", "p": 1.0}], batch_size=4)
    plain = DigitsDataModule(image_size=8, batch_size=4)
    dm.setup(), plain.setup()
    assert torch.equal(dm.train_set[0][0], plain.train_set[0][0].flip(-1))
    with pytest.raises(ConfigError, match="not an albumentations transform"):
        DigitsDataModule(augmentations=[{"name": "NoSuchFlip"}])


def test_pad_keeps_pixels_and_centres_them():
    dm = DigitsDataModule(image_size=12, fit="pad", batch_size=4)
    dm.setup()
    x = dm.train_set[0][0]
    assert x.shape == (1, 12, 12)
    assert torch.all(x[:, :2, :] == -1) and torch.all(x[:, -2:, :] == -1)  # 2 px black border


def test_batch_larger_than_the_dataset_is_a_clear_error():
    dm = Toy2DDataModule(n_samples=10, batch_size=64)
    with pytest.raises(ConfigError, match="fewer than data.batch_size=64"):
        dm.setup("fit")


def test_image_folder_with_and_without_classes(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / "labelled" / cls).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(tmp_path / "labelled" / cls / f"{i}.png")
    (tmp_path / "flat").mkdir()
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (20, 20), dtype=np.uint8)).save(tmp_path / "flat" / f"{i}.jpg")

    labelled = ImageFolderDataModule(str(tmp_path / "labelled"), image_size=16, batch_size=4, val_fraction=0.2)
    x, y = first_batch(labelled)
    assert labelled.num_classes == 2 and labelled.classes == ["cats", "dogs"]
    assert x.shape == (4, 3, 16, 16) and set(y.tolist()) <= {0, 1}

    flat = ImageFolderDataModule(str(tmp_path / "flat"), channels=1, image_size=8, batch_size=2)
    x, y = first_batch(flat)
    assert flat.num_classes == 0 and x.shape == (2, 1, 8, 8) and y.tolist() == [0, 0]


def test_missing_image_folder_names_the_path(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist; set data.path"):
        ImageFolderDataModule(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no images in"):
        ImageFolderDataModule(str(tmp_path / "empty"))


def test_missing_mnist_names_where_it_looked_and_how_to_get_it(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message and "download: true" in message
    assert "\n" not in message


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_is_found_where_debian_installs_it(tmp_path):
    dm = FashionMNISTDataModule(data_dir=str(tmp_path), image_size=32, batch_size=16)
    x, y = first_batch(dm)
    assert dm.data_shape == (1, 32, 32)
    assert x.shape == (16, 1, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert len(dm.train_set) == 60_000 and len(dm.val_set) == 10_000
    assert (tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()


def test_in_memory_data_is_handed_out_a_batch_at_a_time():
    """The 2-D toys and digits without augmentations come as stacked tensors, indexed once per batch
    (no per-sample collation); the batches equal what per-sample indexing gives. Random
    augmentations keep the per-sample path."""
    from datamodules import DigitsDataModule
    from datamodules.base import TensorBatches, batch_as_is

    for dm in (Toy2DDataModule(n_samples=1000, batch_size=64), DigitsDataModule(batch_size=64)):
        dm.setup("fit")
        assert isinstance(dm.train_set, TensorBatches) and dm.train_set.samples is not None
        loader = dm.train_dataloader()
        assert loader.collate_fn is batch_as_is
        x, y = next(iter(loader))
        order = list(iter(dm.sampler))[:64]
        assert torch.equal(x, torch.stack([dm.train_set[i][0] for i in order]))
        assert torch.equal(y, torch.stack([dm.train_set[i][1] for i in order]))
        assert x.shape == (64, *dm.data_shape) and next(iter(dm.val_dataloader()))[0].shape[1:] == dm.data_shape
    augmented = DigitsDataModule(batch_size=64, augmentations=[{"name": "HorizontalFlip", "p": 0.5}])
    augmented.setup("fit")
    assert augmented.train_set.samples is None and augmented.train_dataloader().collate_fn is not batch_as_is
    assert next(iter(augmented.train_dataloader()))[0].shape == (64, 1, 16, 16)


@pytest.mark.parametrize(
    "make, default, allowed, feature",
    [
        (lambda tmp: Toy2DDataModule(), ("modes",), ("modes",), None),
        (lambda tmp: DigitsDataModule(), IMAGE_METRICS, IMAGE_METRICS, "digits"),
        (lambda tmp: StackedDigitsDataModule(), ("stacked",), ("stacked", *IMAGE_METRICS), None),
        (lambda tmp: MNISTDataModule(), IMAGE_METRICS, IMAGE_METRICS, "mnist"),
        (lambda tmp: FashionMNISTDataModule(), IMAGE_METRICS, IMAGE_METRICS, "fashion_mnist"),
        (lambda tmp: CIFAR10DataModule(), IMAGE_METRICS, IMAGE_METRICS, None),
        (lambda tmp: ImageFolderDataModule(str(tmp)), IMAGE_METRICS, IMAGE_METRICS, None),
    ],
    ids=["toy", "digits", "stacked", "mnist", "fashion_mnist", "cifar10", "image_folder"],
)
def test_each_datamodule_declares_its_batches_and_evaluation(tmp_path, make, default, allowed, feature):
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "0.png")
    dm = make(tmp_path)
    assert dm.batch_fields == ("image", "label")
    assert dm.evaluation == DataEvaluation(default=default, allowed=allowed, feature=feature)


def test_the_default_declaration_follows_the_sample_shape():
    class Points(GANDataModule):
        def __init__(self, shape):
            super().__init__()
            self.data_shape = shape

        def make_datasets(self):
            raise NotImplementedError

    assert Points((3, 8, 8)).evaluation == DataEvaluation.for_images() == DataEvaluation(default=IMAGE_METRICS)
    assert Points((3,)).evaluation == DataEvaluation()
    assert Points((3,)).evaluation.choose(None, "Points") == []
    with pytest.raises(ConfigError, match=r"unknown metrics \['psnr'\]"):
        DataEvaluation(default=("psnr",))
