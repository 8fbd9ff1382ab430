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
    LFWFacesDataModule,
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


def test_lfw_faces_are_the_bundled_faces_split_and_unlabelled():
    from skimage.data import lfw_subset

    dm = LFWFacesDataModule(image_size=32, batch_size=16)
    x, y = first_batch(dm)
    assert dm.data_shape == (1, 32, 32) and dm.num_classes == 0
    assert x.shape == (16, 1, 32, 32) and x.min() >= -1 and x.max() <= 1 and x.std() > 0.2
    assert (y == 0).all()
    assert (len(dm.train_set), len(dm.val_set)) == (90, 10)
    # the faces are the first 100 of the 200 bundled crops, not the 100 non-face patches after them
    faces = torch.as_tensor(lfw_subset()[:100], dtype=torch.float32)
    native = LFWFacesDataModule(image_size=25, val_fraction=0.0, batch_size=8)
    native.setup("fit")
    served = (native.train_set.samples[:, 0] + 1) / 2
    assert len(served) == 100
    nearest = torch.cdist(served.flatten(1), faces.flatten(1)).min(dim=1).values
    assert nearest.max() < 0.05  # each served image is one of the faces, up to uint8 rounding
    flipped = LFWFacesDataModule(augmentations=[{"name": "HorizontalFlip", "p": 1.0}], batch_size=4)
    flipped.setup("fit")
    assert torch.equal(flipped.train_set[0][0], dm.train_set[0][0].flip(-1))


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
        (lambda tmp: LFWFacesDataModule(), IMAGE_METRICS, IMAGE_METRICS, None),
    ],
    ids=["toy", "digits", "stacked", "mnist", "fashion_mnist", "cifar10", "image_folder", "lfw"],
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


# ---------------------------------------------------------------------------------------------- train_fraction
def _labels(dm) -> torch.Tensor:
    from datamodules.base import dataset_labels

    return dataset_labels(dm.train_set)


def test_train_fraction_keeps_a_stratified_subset_the_same_in_every_run(monkeypatch):
    full = DigitsDataModule(batch_size=16)
    full.setup("fit")
    subsets = []
    for run_seed in ("0", "7"):  # what seed_everything records: the subset must not follow it
        monkeypatch.setenv("PL_GLOBAL_SEED", run_seed)
        torch.manual_seed(int(run_seed))
        dm = DigitsDataModule(batch_size=16, train_fraction=0.1)
        dm.setup("fit")
        subsets.append(dm)
    a, b = subsets
    assert len(a.train_set) == round(0.1 * len(full.train_set)) == 162 and a.full_train_size == len(full.train_set)
    assert torch.equal(a.train_set.samples, b.train_set.samples) and torch.equal(a.train_set.labels, b.train_set.labels)
    # 10 % of each class (rounded so that the sizes add up), not 10 % of the whole at random
    per_class, kept = torch.bincount(full.train_set.labels), torch.bincount(a.train_set.labels, minlength=10)
    assert ((kept - 0.1 * per_class).abs() < 1).all()
    # the kept images are images of the training split, with their own labels
    index = {bytes(x.numpy()): int(y) for x, y in zip(full.train_set.samples, full.train_set.labels)}
    assert all(index[bytes(x.numpy())] == int(y) for x, y in zip(a.train_set.samples, a.train_set.labels))
    # validation keeps its whole split; batches still come a whole batch at a time, from the subset
    assert torch.equal(a.val_set.samples, full.val_set.samples)
    x, y = next(iter(a.train_dataloader()))
    assert x.shape == (16, 1, 16, 16) and a.train_dataloader().sampler.num_samples == 162


def test_train_fraction_is_recorded_so_the_subset_gets_its_own_metrics_cache(tmp_path):
    from lit_gans.metrics import ModelEvaluation

    assert "train_fraction" not in DigitsDataModule().hparams  # the default leaves earlier cache keys as they were
    assert DigitsDataModule(train_fraction=0.25).hparams["train_fraction"] == 0.25
    for fraction in (1.0, 0.5):
        evaluation = ModelEvaluation(DigitsDataModule(train_fraction=fraction), metrics=["fid"], n_real=2000, cache_dir=str(tmp_path))
        evaluation.prepare(torch.device("cpu"))
    cached = sorted(tmp_path.glob("*.pt"))
    assert len(cached) == 2
    sizes = sorted(len(torch.load(path, weights_only=True)["features"]) for path in cached)
    assert sizes == [809, 1617]  # real statistics of the images each run trains on


def test_train_fraction_applies_to_every_datamodule(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from fakedata import write_fake_fashion_mnist

    write_fake_fashion_mnist(tmp_path)  # 128 training images, labels 0..9 in turn
    fashion = FashionMNISTDataModule(data_dir=str(tmp_path), batch_size=8, train_fraction=0.5)
    fashion.setup("fit")
    assert len(fashion.train_set) == 64 and len(fashion.val_set) == 64
    counts = torch.bincount(_labels(fashion), minlength=10)
    assert counts.sum() == 64 and counts.max() - counts.min() <= 1  # 12 or 13 of each class, halved
    x, y = first_batch(fashion)
    assert x.shape == (8, 1, 32, 32)

    toy = Toy2DDataModule(n_samples=1000, batch_size=10, train_fraction=0.2)
    toy.setup("fit")
    assert len(toy.train_set) == 200 and len(toy.val_set) == 2500
    stacked = StackedDigitsDataModule(n_samples=500, val_samples=50, batch_size=10, train_fraction=0.1)
    stacked.setup("fit")
    assert len(stacked.train_set) == 50

    for cls in ("cats", "dogs"):
        (tmp_path / "folder" / cls).mkdir(parents=True)
        for i in range(10):
            Image.fromarray(np.full((8, 8, 3), 25 * i, dtype=np.uint8)).save(tmp_path / "folder" / cls / f"{i}.png")
    folder = ImageFolderDataModule(str(tmp_path / "folder"), image_size=8, batch_size=2, val_fraction=0.0, train_fraction=0.5)
    folder.setup("fit")
    assert len(folder.train_set) == 10 and torch.bincount(_labels(folder)).tolist() == [5, 5]
    assert CIFAR10DataModule(train_fraction=0.3).train_fraction == 0.3


def test_train_fraction_is_settable_from_yaml(tmp_path, monkeypatch):
    from lit_gans.cli import LitGansCLI

    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(
        "model:\n  class_path: lit_gans.families.DCGAN\n  init_args: {g_width: 8, d_width: 8}\n"
        "data:\n  class_path: datamodules.DigitsDataModule\n  init_args: {batch_size: 16, train_fraction: 0.1}\n"
    )
    cli = LitGansCLI(args=["--config", str(config), "--trainer.logger", "false"], run=False)
    assert cli.datamodule.train_fraction == 0.1 and cli.datamodule.hparams["train_fraction"] == 0.1


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, float("nan")])
def test_a_train_fraction_outside_0_1_is_one_clear_error(bad):
    with pytest.raises(ConfigError, match=r"data.train_fraction=.* must be in \(0, 1\]: it is the share of the training set kept"):
        DigitsDataModule(train_fraction=bad)


def test_a_subset_smaller_than_a_batch_names_the_fraction_that_fits():
    dm = DigitsDataModule(batch_size=64, train_fraction=0.02)
    with pytest.raises(ConfigError) as err:
        dm.setup("fit")
    assert str(err.value) == (
        "data.train_fraction=0.02 keeps 32 of the 1617 training samples of DigitsDataModule, fewer than "
        "data.batch_size=64; raise data.train_fraction to at least 0.04 or lower data.batch_size"
    )
    DigitsDataModule(batch_size=64, train_fraction=0.04).setup("fit")  # the fraction suggested fits


def test_stratified_subsets_add_up_and_grow_with_the_fraction():
    from datamodules.base import stratified_subset

    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    small, large = stratified_subset(100, 0.1, labels), stratified_subset(100, 0.3, labels)
    assert torch.bincount(labels[small]).tolist() == [5, 3, 2] and torch.bincount(labels[large]).tolist() == [15, 9, 6]
    assert set(small.tolist()) <= set(large.tolist())
    assert torch.equal(stratified_subset(100, 0.1, labels), small)
    odd = stratified_subset(7, 0.5, torch.tensor([0, 0, 0, 1, 1, 1, 2]))  # 3.5 kept: 4, by largest remainder
    assert len(odd) == 4 and len(stratified_subset(10, 0.35)) == 4  # unlabelled: round(3.5)


def test_albumentations_does_not_ask_pypi_for_updates():
    """Importing the DataModules and building an albumentations pipeline opens no URL (albumentations' update check,
    which costs up to 2 s and a warning in every process on a machine without internet, is switched off)."""
    import os
    import subprocess
    import sys

    code = (
        "import urllib.request\n"
        "opened = []\n"
        "urllib.request.OpenerDirector.open = lambda self, url, *a, **k: opened.append(url)\n"
        "from datamodules import DigitsDataModule\n"
        "dm = DigitsDataModule(augmentations=[{'name': 'HorizontalFlip', 'p': 0.5}])\n"
        "dm.setup('fit'); dm.train_set[0]\n"
        "import albumentations\n"
        "print('opened', opened)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NO_ALBUMENTATIONS_UPDATE"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "opened []" in done.stdout
