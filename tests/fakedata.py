"""Tiny fake MNIST, Fashion-MNIST and CIFAR-10 in torchvision's on-disk layouts, for offline tests.

    root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte           (idx, big-endian)
    root/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
    root/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}    (pickled dicts)

``torchvision.datasets.MNIST(root)`` and ``FashionMNIST(root)`` read the fake files as they are (they
only check that the raw files exist). ``CIFAR10(root)`` checks md5 sums of the real archive, so wrap
it in ``accept_fake_cifar()`` (or use the ``fake_cifar_integrity`` fixture), which accepts any file
that exists.

The CIFAR batches are pickled with str keys (``"data"``, ``"labels"``): the real batches were
pickled by Python 2, whose str keys torchvision's ``pickle.load(..., encoding="latin1")`` reads back
as str (``b"data"`` in the CIFAR docs is what ``encoding="bytes"`` gives). A Python 3 pickle with
bytes keys would stay bytes, and torchvision's ``entry["data"]`` would fail.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_idx_images(path: Path, images: np.ndarray) -> None:
    """uint8 images (N, H, W) as an idx3-ubyte file: magic 2051, N, H, W (big-endian int32), pixels."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    n, h, w = images.shape
    path.write_bytes(struct.pack(">IIII", IDX_IMAGES_MAGIC, n, h, w) + images.tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    """uint8 labels (N,) as an idx1-ubyte file: magic 2049, N (big-endian int32), labels."""
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    path.write_bytes(struct.pack(">II", IDX_LABELS_MAGIC, len(labels)) + labels.tobytes())


def _fake_images(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images with a bright class-dependent square, and labels cycling through 0..9."""
    labels = np.arange(n) % 10
    images = rng.integers(0, 64, size=(n, *shape), dtype=np.uint8)
    for i, y in enumerate(labels):
        r = 2 + 2 * int(y)
        images[i, ..., r : r + 6, 4:12] = 255  # (H, W) or (C, H, W)
    return images, labels


def write_fake_mnist(root: str | os.PathLike, folder: str = "MNIST", n_train: int = 128, n_test: int = 64, seed: int = 0) -> Path:
    """Fake 28x28 MNIST-format data in ``root/<folder>/raw``; returns that raw folder.

    ``folder="FashionMNIST"`` gives the Fashion-MNIST layout (same files and format).
    """
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("t10k", n_test)):
        images, labels = _fake_images(rng, n, (28, 28))
        write_idx_images(raw / f"{split}-images-idx3-ubyte", images)
        write_idx_labels(raw / f"{split}-labels-idx1-ubyte", labels)
    return raw


def write_fake_fashion_mnist(root: str | os.PathLike, n_train: int = 128, n_test: int = 64, seed: int = 1) -> Path:
    """Fake Fashion-MNIST in ``root/FashionMNIST/raw``; returns that raw folder."""
    return write_fake_mnist(root, "FashionMNIST", n_train, n_test, seed)


def _write_cifar_batch(path: Path, images: np.ndarray, labels: np.ndarray, name: str) -> None:
    batch = {
        "batch_label": name,
        "data": images.reshape(len(images), 3 * 32 * 32),  # rows: 1024 red, 1024 green, 1024 blue
        "labels": [int(y) for y in labels],
        "filenames": [f"fake_{name.replace(' ', '_')}_{i}.png" for i in range(len(images))],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def write_fake_cifar10(root: str | os.PathLike, n_train: int = 130, n_test: int = 64, seed: int = 2) -> Path:
    """Fake CIFAR-10 python batches in ``root/cifar-10-batches-py``; returns that folder.

    The ``n_train`` images are split over ``data_batch_1`` .. ``data_batch_5``; each batch is a
    pickled dict whose ``"data"`` is a (N, 3072) uint8 array and ``"labels"`` a list of ints.
    """
    folder = Path(root) / CIFAR_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, labels = _fake_images(rng, n_train, (3, 32, 32))
    for i, part in enumerate(np.array_split(np.arange(n_train), 5), start=1):
        _write_cifar_batch(folder / f"data_batch_{i}", images[part], labels[part], f"training batch {i} of 5")
    test_images, test_labels = _fake_images(rng, n_test, (3, 32, 32))
    _write_cifar_batch(folder / "test_batch", test_images, test_labels, "testing batch 1 of 1")
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR_LABEL_NAMES, "num_cases_per_batch": n_test, "num_vis": 3072}, f, protocol=2)
    return folder


def write_fake_image_folder(folder: str | os.PathLike, n: int = 24, size: tuple[int, int] = (220, 200)) -> Path:
    """``n`` random RGB PNGs of ``size`` (height, width) in a flat folder, for ``ImageFolderDataModule`` configs
    (large enough for CelebA's 178 px centre crop)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def write_all(root: str | os.PathLike) -> Path:
    """Fake MNIST, Fashion-MNIST and CIFAR-10 under ``root``, and a folder of images in ``root/images``;
    returns ``root`` (a ``data_dir``)."""
    write_fake_mnist(root)
    write_fake_fashion_mnist(root)
    write_fake_cifar10(root)
    write_fake_image_folder(Path(root) / "images")
    return Path(root)


def _file_exists(fpath: str | os.PathLike, md5: str | None = None) -> bool:
    return os.path.isfile(fpath)


def _cifar_files_exist(self) -> bool:
    return all(os.path.isfile(os.path.join(self.root, self.base_folder, name)) for name, _ in self.train_list + self.test_list)


@contextlib.contextmanager
def accept_fake_cifar() -> Iterator[None]:
    """Make torchvision's CIFAR-10 (and CIFAR-100) accept files without checking md5 sums.

    Patches ``torchvision.datasets.cifar.check_integrity`` (used for ``batches.meta``) and
    ``CIFAR10._check_integrity`` (the data batches) to only check that the files exist.
    """
    from unittest import mock

    import torchvision.datasets.cifar as cifar

    with mock.patch.object(cifar, "check_integrity", _file_exists), mock.patch.object(
        cifar.CIFAR10, "_check_integrity", _cifar_files_exist
    ):
        yield


@pytest.fixture
def fake_cifar_integrity(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest fixture form of ``accept_fake_cifar``, undone after the test."""
    import torchvision.datasets.cifar as cifar

    monkeypatch.setattr(cifar, "check_integrity", _file_exists)
    monkeypatch.setattr(cifar.CIFAR10, "_check_integrity", _cifar_files_exist)


__all__ = [
    "accept_fake_cifar",
    "fake_cifar_integrity",
    "write_all",
    "write_fake_cifar10",
    "write_fake_fashion_mnist",
    "write_fake_mnist",
    "write_idx_images",
    "write_idx_labels",
]
