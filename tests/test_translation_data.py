"""Image-to-image data: paired (pix2pix) and unpaired (CycleGAN) DataModules, from folders and offline demos."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image
from skimage.feature import canny

from conftest import quiet_trainer
from datamodules import (
    ClassPairDataModule,
    EdgesDataModule,
    FashionMNISTDataModule,
    PairedFolderDataModule,
    UnpairedFolderDataModule,
)
from datamodules.base import ImageTransform
from datamodules.paired import canny_edges, grey_codes
from datamodules.unpaired import PairingSampler, partner_indices
from fakedata import write_fake_fashion_mnist
from lit_gans.errors import ConfigError, DatasetNotFoundError
from lit_gans.loop import Batch
from lit_gans.metrics.spec import DataEvaluation


@pytest.fixture
def fashion_dir(tmp_path):
    """Fake Fashion-MNIST: 128 training and 64 test images, labels 0..9 in turn."""
    write_fake_fashion_mnist(tmp_path)
    return tmp_path


def unit(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W[, C]) -> float (C, H, W) in [-1, 1], as the transforms scale without resizing."""
    image = image[:, :, None] if image.ndim == 2 else image
    return torch.from_numpy(image.transpose(2, 0, 1).copy()).float() / 127.5 - 1


def assert_canny_of_targets(conditions: torch.Tensor, images: torch.Tensor, sigma: float = 1.0) -> None:
    for condition, image in zip(conditions, images):
        expected = canny(((image[0].double() + 1) / 2).numpy(), sigma=sigma)
        assert np.array_equal(condition[0].numpy() > 0, expected)


# ---------------------------------------------------------------------------------------------- edges demo
def test_edges_demo_serves_canny_edges_of_fashion_items(fashion_dir):
    dm = EdgesDataModule(data_dir=str(fashion_dir), batch_size=8)
    assert dm.batch_fields == ("condition", "image") and dm.num_classes == 0
    assert dm.data_shape == dm.condition_shape == (1, 32, 32)
    assert dm.evaluation == DataEvaluation()
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set)) == (128, 64)  # Fashion-MNIST's own train and test splits
    data = next(iter(dm.train_dataloader()))
    assert isinstance(data, tuple) and len(data) == 2
    batch = Batch.of(data, dm.batch_fields)
    edges, images = batch.condition, batch.image
    assert batch.label is None and batch.image_b is None
    assert edges.shape == images.shape == (8, 1, 32, 32) and edges.dtype == images.dtype == torch.float32
    assert set(edges.unique().tolist()) == {-1.0, 1.0} and images.min() >= -1 and images.max() <= 1
    assert_canny_of_targets(edges, images)
    # the targets are FashionMNISTDataModule's images (its reader, its padding to 32 px), with their classes kept
    fashion = FashionMNISTDataModule(data_dir=str(fashion_dir), batch_size=8)
    fashion.setup("fit")
    for i in (0, 5, 127):
        image, label = fashion.train_set[i]
        assert torch.equal(dm.train_set[i][1], image) and dm.train_set.labels[i] == label
    assert torch.equal(dm.train_set.labels, torch.arange(128) % 10)
    conditions, targets = next(iter(dm.val_dataloader()))
    assert conditions.shape == targets.shape == (8, 1, 32, 32)
    assert_canny_of_targets(conditions, targets)


def test_edges_demo_on_the_bundled_digits():
    dm = EdgesDataModule(dataset="digits", image_size=24, sigma=2.0, batch_size=16)
    assert dm.source.fit == "resize" and dm.hparams["dataset"] == "digits"
    dm.setup("fit")
    assert len(dm.train_set) + len(dm.val_set) == 1797 and len(dm.val_set) == 180
    edges, images = next(iter(dm.train_dataloader()))
    assert edges.shape == images.shape == (16, 1, 24, 24)
    assert images.min() < -0.9 and images.max() > 0.9  # resized, not padded into a corner
    assert_canny_of_targets(edges, images, sigma=2.0)
    sharper = EdgesDataModule(dataset="digits", image_size=24, sigma=0.5, batch_size=16)
    sharper.setup("fit")
    assert sharper.train_set.conditions.float().mean() > dm.train_set.conditions.float().mean()
    # train_fraction keeps a share of each class though batches carry no labels
    part = EdgesDataModule(dataset="digits", batch_size=16, train_fraction=0.1)
    part.setup("fit")
    assert len(part.train_set) == 162 and len(part.train_set.conditions) == 162
    counts, full = torch.bincount(part.train_set.labels, minlength=10), torch.bincount(dm.train_set.labels, minlength=10)
    assert ((counts - 0.1 * full).abs() < 1).all()
    c, x = next(iter(part.train_dataloader()))
    assert_canny_of_targets(c, x)


def test_batched_canny_and_codes_equal_the_one_image_versions():
    rng = np.random.default_rng(0)
    images = rng.random((40, 11, 17))
    images[:, 3:8, 4:12] += 1.5  # a block: strong edges besides the noise
    images /= images.max()
    for sigma in (0.0, 1.0, 2.5):
        assert np.array_equal(canny_edges(images, sigma), np.stack([canny(image, sigma) for image in images]))
    grey = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    for fit, size in (("pad", 32), ("resize", 20), ("pad", 24)):
        transform = ImageTransform(1, size, fit)
        codes, levels = grey_codes(transform, grey)
        assert codes.dtype == torch.uint8 and codes.shape == (30, 1, size, size)
        assert torch.equal(levels[codes.long()], torch.stack([transform(image) for image in grey]))


def test_missing_fashion_mnist_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr("datamodules.torchvision_sets.DEBIAN_FASHION_MNIST", tmp_path / "no-debian-copy")
    for dm in (EdgesDataModule(data_dir=str(tmp_path)), ClassPairDataModule(data_dir=str(tmp_path))):
        with pytest.raises(DatasetNotFoundError, match="FashionMNIST not found: looked in"):
            dm.setup("fit")


# ---------------------------------------------------------------------------------------------- paired folders
def write_side_by_side(folder, n=4, height=8, width=16, seed=0) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for i in range(n):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(image).save(folder / f"{i}.png")
        written[f"{i}.png"] = image
    return written


def served(dm, i=0):
    """Item ``i`` of the training split and the file it came from."""
    return dm.train_set[i], dm.train_set.pairs[i]


def test_side_by_side_halves_go_to_a_and_b_and_direction_swaps_them(tmp_path):
    written = write_side_by_side(tmp_path / "ab")
    dm = PairedFolderDataModule(str(tmp_path / "ab"), image_size=8, val_fraction=0.0, batch_size=2)
    assert dm.batch_fields == ("condition", "image") and dm.num_classes == 0 and dm.evaluation == DataEvaluation()
    assert dm.data_shape == dm.condition_shape == (3, 8, 8)
    dm.setup("fit")
    for i in range(len(dm.train_set)):
        (condition, image), (path, _) = served(dm, i)
        both = written[path.name]
        assert torch.equal(condition, unit(both[:, :8])) and torch.equal(image, unit(both[:, 8:]))
    condition, image = next(iter(dm.train_dataloader()))
    assert condition.shape == image.shape == (2, 3, 8, 8)

    swapped = PairedFolderDataModule(str(tmp_path / "ab"), direction="BtoA", image_size=8, val_fraction=0.0)
    swapped.setup("fit")
    (condition, image), (path, _) = served(swapped)
    assert torch.equal(condition, unit(written[path.name][:, 8:])) and torch.equal(image, unit(written[path.name][:, :8]))

    grey_input = PairedFolderDataModule(str(tmp_path / "ab"), channels=1, channels_b=3, direction="BtoA", image_size=4)
    assert grey_input.condition_shape == (3, 4, 4) and grey_input.data_shape == (1, 4, 4)
    grey_input.setup("fit")
    condition, image = next(iter(grey_input.train_dataloader()))
    assert condition.shape == (1, 3, 4, 4) and image.shape == (1, 1, 4, 4)


def test_augmentations_apply_alike_to_both_images(tmp_path):
    written = write_side_by_side(tmp_path / "ab", height=10, width=20)
    flipped = PairedFolderDataModule(str(tmp_path / "ab"), image_size=10, val_fraction=0.0,
                                     augmentations=[{"name": "HorizontalFlip", "p": 1.0}])
    flipped.setup("fit")
    (condition, image), (path, _) = served(flipped)
    both = written[path.name]
    # each half flipped in place (A stays the input), not the pair flipped as one image
    assert torch.equal(condition, unit(both[:, :10]).flip(-1)) and torch.equal(image, unit(both[:, 10:]).flip(-1))

    cropped = PairedFolderDataModule(str(tmp_path / "ab"), image_size=4, val_fraction=0.0,
                                     augmentations=[{"name": "RandomCrop", "height": 4, "width": 4}])
    cropped.setup("fit")
    windows = set()
    for _ in range(12):
        (condition, image), (path, _) = served(cropped)
        a, b = unit(written[path.name][:, :10]), unit(written[path.name][:, 10:])
        found = [(y, x) for y in range(7) for x in range(7) if torch.equal(condition, a[:, y : y + 4, x : x + 4])]
        assert len(found) == 1
        y, x = found[0]
        assert torch.equal(image, b[:, y : y + 4, x : x + 4])  # the same window of B
        windows.add(found[0])
    assert len(windows) > 1  # the crops are random


def test_folders_pair_by_name_and_report_names_without_a_partner(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "A").mkdir(), (tmp_path / "B").mkdir()
    images = {}
    for name in ("x", "y", "z"):
        a = rng.integers(0, 256, (6, 6), dtype=np.uint8)
        b = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(a).save(tmp_path / "A" / f"{name}.png")
        Image.fromarray(b).save(tmp_path / "B" / f"{name}.{'bmp' if name == 'z' else 'png'}")  # paired by name, not extension
        images[name] = (a, b)
    dm = PairedFolderDataModule(str(tmp_path / "A"), layout="folders", path_b=str(tmp_path / "B"), channels=1, channels_b=3,
                                image_size=6, val_fraction=0.0, batch_size=3)
    assert dm.condition_shape == (1, 6, 6) and dm.data_shape == (3, 6, 6)
    assert [(a.name, b.name) for a, b in dm.pairs] == [("x.png", "x.png"), ("y.png", "y.png"), ("z.png", "z.bmp")]
    dm.setup("fit")
    for i in range(3):
        (condition, image), (path, _) = served(dm, i)
        a, b = images[path.stem]
        assert torch.equal(condition, unit(a)) and torch.equal(image, unit(b))
    condition, image = next(iter(dm.train_dataloader()))
    assert condition.shape == (3, 1, 6, 6) and image.shape == (3, 3, 6, 6)

    Image.fromarray(images["x"][1]).save(tmp_path / "B" / "w.png")
    (tmp_path / "A" / "z.png").unlink()
    with pytest.raises(DatasetNotFoundError) as err:
        PairedFolderDataModule(str(tmp_path / "A"), layout="folders", path_b=str(tmp_path / "B"))
    message = str(err.value)
    assert "paired by file name" in message and "2 names have no partner" in message
    assert f"2 in {tmp_path / 'B'} only (w, z)" in message and "\n" not in message


def test_unreadable_files_are_skipped_with_a_warning(tmp_path):
    write_side_by_side(tmp_path / "ab", n=3)
    (tmp_path / "ab" / "broken.png").write_bytes(b"not a png")
    dm = PairedFolderDataModule(str(tmp_path / "ab"), image_size=8, val_fraction=0.0)
    assert len(dm.pairs) == 4
    with pytest.warns(UserWarning, match=r"skipped 1 image file.*broken\.png"):
        dm.setup("fit")
    assert len(dm.train_set) == 3 and all(path.name != "broken.png" for path, _ in dm.train_set.pairs)


def test_missing_or_empty_folders_name_the_path_and_the_fix(tmp_path):
    (tmp_path / "empty").mkdir()
    write_side_by_side(tmp_path / "ab", n=2)
    cases = [
        (lambda: PairedFolderDataModule(str(tmp_path / "nope")), "nope does not exist; set data.path"),
        (lambda: PairedFolderDataModule(str(tmp_path / "empty")), "no images in .*empty; put .png/.jpg files there"),
        (lambda: PairedFolderDataModule(str(tmp_path / "ab"), layout="folders", path_b=str(tmp_path / "nope")), "set data.path_b"),
        (lambda: UnpairedFolderDataModule(str(tmp_path / "nope"), str(tmp_path / "ab")), "nope does not exist; set data.path_a"),
        (lambda: UnpairedFolderDataModule(str(tmp_path / "ab"), str(tmp_path / "empty")), "no images in .*empty.* set data.path_b"),
    ]
    for make, message in cases:
        with pytest.raises(DatasetNotFoundError, match=message):
            make()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: PairedFolderDataModule(p, layout="stacked"), "data.layout='stacked' is unknown"),
        (lambda p: PairedFolderDataModule(p, direction="AtoC"), "data.direction='AtoC' is unknown"),
        (lambda p: PairedFolderDataModule(p, layout="folders"), "needs data.path_b"),
        (lambda p: PairedFolderDataModule(p, path_b=p), "data.path_b is for data.layout='folders'"),
        (lambda p: PairedFolderDataModule(p, channels=2), "data.channels=2 is not supported"),
        (lambda p: PairedFolderDataModule(p, channels_b=4), "data.channels_b=4 is not supported"),
        (lambda p: PairedFolderDataModule(p, image_size=0), "data.image_size=0 must be a positive"),
        (lambda p: PairedFolderDataModule(p, val_fraction=1.0), "data.val_fraction=1.0 must be in"),
        (lambda p: PairedFolderDataModule(p, batch_size=0), "data.batch_size=0 must be at least 1"),
        (lambda p: PairedFolderDataModule(p, augmentations=[{"name": "NoSuchFlip"}]), "not an albumentations transform"),
        (lambda p: EdgesDataModule(dataset="mnist"), "data.dataset='mnist' is unknown"),
        (lambda p: EdgesDataModule(image_size=0), "data.image_size=0"),
        (lambda p: EdgesDataModule(sigma=-1), "data.sigma=-1 must be >= 0"),
        (lambda p: EdgesDataModule(fit="stretch"), "data.fit='stretch' is unknown"),
        (lambda p: EdgesDataModule(train_fraction=0), "data.train_fraction=0"),
        (lambda p: UnpairedFolderDataModule(p, p, channels=2), "data.channels=2"),
        (lambda p: UnpairedFolderDataModule(p, p, channels_b=0), "data.channels_b=0"),
        (lambda p: UnpairedFolderDataModule(p, p, image_size=-4), "data.image_size=-4"),
        (lambda p: ClassPairDataModule(dataset="cifar10"), "data.dataset='cifar10' is unknown"),
        (lambda p: ClassPairDataModule(class_a=10), "data.class_a=10 is not a class of fashion_mnist: use 0 to 9"),
        (lambda p: ClassPairDataModule(dataset="digits", class_b=-1), "data.class_b=-1 is not a class of digits"),
        (lambda p: ClassPairDataModule(class_a=3, class_b=3), "both 3: the two domains must be different classes"),
        (lambda p: ClassPairDataModule(image_size=0), "data.image_size=0"),
    ],
)
def test_bad_arguments_are_config_errors(tmp_path, make, message):
    write_side_by_side(tmp_path / "ab", n=2)
    with pytest.raises(ConfigError, match=message):
        make(str(tmp_path / "ab"))


# ---------------------------------------------------------------------------------------------- unpaired data
def test_partners_cover_b_evenly_and_change_with_the_epoch():
    more_a = partner_indices(10, 3, seed=0)
    assert sorted(np.bincount(more_a, minlength=3).tolist()) == [3, 3, 4]
    more_b = partner_indices(4, 10, seed=0)
    assert len(set(more_b.tolist())) == 4
    assert np.array_equal(partner_indices(100, 30, 5, 2), partner_indices(100, 30, 5, 2))
    seen = set(np.concatenate([partner_indices(4, 10, seed=0, epoch=e) for e in range(20)]).tolist())
    assert seen == set(range(10)) and not np.array_equal(partner_indices(100, 30, 5, 0), partner_indices(100, 30, 5, 1))


def write_domain(folder, values, mode="L", size=(9, 7)):
    folder.mkdir(parents=True)
    for i, value in enumerate(values):
        Image.new(mode, size, value).save(folder / f"{i}.png")


def test_unpaired_folders_serve_an_a_image_and_a_b_image(tmp_path):
    write_domain(tmp_path / "A", [10 * i for i in range(1, 8)])
    write_domain(tmp_path / "B", [(200, 30 + 10 * i, 0) for i in range(3)], mode="RGB")
    dm = UnpairedFolderDataModule(str(tmp_path / "A"), str(tmp_path / "B"), channels=1, channels_b=3, image_size=6,
                                  val_fraction=0.0, batch_size=4, augmentations=[{"name": "HorizontalFlip", "p": 0.5}])
    assert dm.batch_fields == ("image", "image_b") and dm.num_classes == 0 and dm.evaluation == DataEvaluation()
    assert dm.data_shape == (1, 6, 6) and dm.data_shape_b == (3, 6, 6)
    assert dm.transform is not dm.transform_b  # each domain draws its own augmentations
    dm.setup("fit")
    assert (dm.train_set.n_a, dm.train_set.n_b) == (7, 3)
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, PairingSampler) and dm.sampler is loader.sampler
    data = next(iter(loader))
    batch = Batch.of(data, dm.batch_fields)
    assert batch.image.shape == (4, 1, 6, 6) and batch.image_b.shape == (4, 3, 6, 6) and batch.label is None
    a_values = {round(float(v) * 127.5 + 127.5) for v in batch.image.flatten(1).mean(1)}
    assert a_values <= {10 * i for i in range(1, 8)} and len(a_values) == 4
    assert {round(float(v) * 127.5 + 127.5) for v in batch.image_b[:, 0].flatten(1).mean(1)} == {200}
    assert {round(float(v) * 127.5 + 127.5) for v in batch.image_b[:, 1].flatten(1).mean(1)} <= {30, 40, 50}
    # validation pairs are fixed: item i is A image i with its fixed partner
    (tmp_path / "A" / "5.png").write_bytes(b"broken")
    held = UnpairedFolderDataModule(str(tmp_path / "A"), str(tmp_path / "B"), channels=1, image_size=6, val_fraction=0.3)
    with pytest.warns(UserWarning, match=r"skipped 1 image file.*5\.png"):
        held.setup("fit")
    assert (held.train_set.n_a + held.val_set.n_a, held.train_set.n_b + held.val_set.n_b) == (6, 3)
    i, j = 0, int(held.val_set.partners()[0])
    assert all(torch.equal(x, y) for x, y in zip(held.val_set[0], held.val_set[(i, j)]))


def test_class_pair_domains_hold_only_their_classes(fashion_dir):
    dm = ClassPairDataModule(data_dir=str(fashion_dir), batch_size=4)
    assert (dm.class_a, dm.class_b) == (7, 9) and dm.batch_fields == ("image", "image_b")
    assert dm.data_shape == dm.data_shape_b == (1, 32, 32) and dm.num_classes == 0 and dm.evaluation == DataEvaluation()
    dm.setup("fit")
    train, val = dm.train_set, dm.val_set
    assert train.labels.unique().tolist() == [7] and train.labels_b.unique().tolist() == [9]
    assert val.labels.unique().tolist() == [7] and val.labels_b.unique().tolist() == [9]
    assert (train.n_a, train.n_b, val.n_a, val.n_b) == (13, 12, 6, 6)  # 128 and 64 fake images, labels 0..9 in turn
    # the served images are the Fashion-MNIST items of those classes, as FashionMNISTDataModule sizes them
    fashion = FashionMNISTDataModule(data_dir=str(fashion_dir))
    fashion.setup("fit")
    items = {c: torch.stack([fashion.train_set[i][0] for i in range(128) if i % 10 == c]) for c in (7, 9)}
    a, b = next(iter(dm.train_dataloader()))
    assert a.shape == b.shape == (4, 1, 32, 32) and a.dtype == torch.float32
    for images, c in ((a, 7), (b, 9)):
        assert all(any(torch.equal(x, item) for item in items[c]) for x in images)
    assert torch.equal(train.tensors[0], items[7]) and torch.equal(train.tensors[1], items[9])


def test_class_pair_on_the_digits_and_train_fraction_per_domain():
    dm = ClassPairDataModule(dataset="digits", class_a=1, class_b=7, image_size=16, batch_size=8)
    dm.setup("fit")
    assert dm.train_set.labels.unique().tolist() == [1] and dm.train_set.labels_b.unique().tolist() == [7]
    n_a, n_b = dm.train_set.n_a, dm.train_set.n_b
    assert 150 < n_a < 190 and 150 < n_b < 190 and dm.val_set.n_a + dm.val_set.n_b > 20
    a, b = next(iter(dm.val_dataloader()))
    assert a.shape == b.shape == (8, 1, 16, 16) and a.min() < -0.9 and a.max() > 0.9
    part = ClassPairDataModule(dataset="digits", class_a=1, class_b=7, image_size=16, batch_size=8, train_fraction=0.5)
    part.setup("fit")
    assert (part.train_set.n_a, part.train_set.n_b) == (int(n_a / 2 + 0.5), int(n_b / 2 + 0.5))  # halves rounded up
    a, b = next(iter(part.train_dataloader()))
    assert a.shape == b.shape == (8, 1, 16, 16)


def batches(dm, n):
    loader = dm.train_dataloader()
    iterator = iter(loader)
    return [next(iterator) for _ in range(n)]


def test_pairing_is_reproducible_resumable_and_changes_with_the_epoch(monkeypatch):
    monkeypatch.setenv("PL_GLOBAL_SEED", "3")

    def make():
        dm = ClassPairDataModule(dataset="digits", class_a=1, class_b=7, image_size=8, batch_size=16)
        dm.setup("fit")
        return dm

    one, two = make(), make()
    first, again = batches(one, 5), batches(two, 5)
    assert all(torch.equal(x, y) for p, q in zip(first, again) for x, y in zip(p, q))
    # the B images of a batch are the partners of its A images, from the sampler's seed and epoch alone
    loader = one.train_dataloader()
    order = list(iter(loader.sampler))
    assert all(isinstance(index, tuple) for index in order) and len(order) == one.train_set.n_a
    assert order[:16] == [(i, int(one.train_set.partners(3, 0)[i])) for i, _ in order[:16]]
    # resumed after two batches: the very batches an uninterrupted run takes next
    resumed = make()
    loader = resumed.train_dataloader()
    loader.load_state_dict({"seed": 3, "epoch": 0, "batches": 2, "batch_size": 16})
    continued = [next(iter(loader))]
    assert all(torch.equal(x, y) for x, y in zip(continued[0], first[2]))
    # another epoch pairs A with other B images
    later = make()
    loader = later.train_dataloader()
    loader.sampler.set_epoch(1)
    assert dict(iter(loader.sampler)) != dict(order)


class Consumer(L.LightningModule):
    """Reads the batches as the loop does: by ``batch_fields``."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen = []

    def setup(self, stage):
        self.fields = self.trainer.datamodule.batch_fields

    def training_step(self, data, index):
        batch = Batch.of(data, self.fields)
        self.seen.append(batch)
        return (self.weight * batch.image.mean()).sum() ** 2

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.parametrize("unpaired", [False, True], ids=["paired", "unpaired"])
def test_lightning_trains_on_the_translation_batches(unpaired):
    dm = (ClassPairDataModule(dataset="digits", class_a=1, class_b=7, image_size=8, batch_size=16) if unpaired
          else EdgesDataModule(dataset="digits", image_size=8, batch_size=16))
    model = Consumer()
    quiet_trainer(max_steps=3).fit(model, dm)
    assert len(model.seen) == 3 and dm.sampler.batches_taken == 3
    for batch in model.seen:
        other = batch.image_b if unpaired else batch.condition
        assert batch.image.shape == other.shape == (16, 1, 8, 8) and batch.label is None
