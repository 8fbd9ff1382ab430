"""Stacked digits: the DataModule's shapes and labels, and the 1,000-mode count on real and collapsed sets."""

from __future__ import annotations

import math

import pytest
import torch

from datamodules import StackedDigitsDataModule
from lit_gans.errors import ConfigError
from lit_gans.metrics.domain import load_domain_network
from lit_gans.metrics.stacked import stacked_classes, stacked_modes


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits_net():
    return load_domain_network("digits")


@pytest.fixture(scope="module")
def stacked():
    dm = StackedDigitsDataModule(n_samples=3000, val_samples=500, batch_size=32)
    dm.setup("fit")
    return dm


def test_shapes_ranges_and_labels(stacked):
    dm = stacked
    assert dm.data_shape == (3, 16, 16) and dm.num_classes == 1000
    assert len(dm.train_set) == 3000 and len(dm.val_set) == 500
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (32, 3, 16, 16) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.9 and x.max() > 0.9
    assert y.dtype == torch.long and 0 <= y.min() and y.max() <= 999
    # every channel is one bundled digit: the label's digits are the channels' classes
    from datamodules.digits import load_digit_images

    images, labels = load_digit_images()
    raw, label = dm.train_set.images[7], int(dm.train_set.labels[7])
    for k, digit in enumerate((label // 100, label // 10 % 10, label % 10)):
        matches = [i for i in range(len(images)) if (images[i] == raw[:, :, k]).all()]
        assert matches and labels[matches[0]] == digit


def test_fixed_by_seed_and_resizable():
    a, b = StackedDigitsDataModule(n_samples=200, val_samples=50), StackedDigitsDataModule(n_samples=200, val_samples=50)
    c = StackedDigitsDataModule(n_samples=200, val_samples=50, seed=1, image_size=32)
    for dm in (a, b, c):
        dm.setup()
    assert torch.equal(a.train_set.labels, b.train_set.labels)
    assert not torch.equal(a.train_set.labels, c.train_set.labels)
    assert c.train_set[0][0].shape == (3, 32, 32)
    with pytest.raises(ConfigError, match="n_samples"):
        StackedDigitsDataModule(n_samples=0)


def test_real_stacked_digits_cover_many_modes(stacked, digits_net):
    x = torch.stack([stacked.train_set[i][0] for i in range(2600)])
    y = stacked.train_set.labels[:2600]
    predicted = stacked_classes(x, digits_net)
    assert (predicted == y).float().mean() > 0.9  # three digits right at ~99 % each
    stats = stacked_modes(x, digits_net)
    # 2,600 draws from 1,000 equally likely modes cover 1000 (1 - e^-2.6) ~ 926 of them
    assert stats["modes"] > 880 and stats["reverse_kl"] < 0.5


def test_collapsed_set_is_one_mode(stacked, digits_net):
    x = stacked.train_set[0][0].expand(2600, -1, -1, -1)
    stats = stacked_modes(x, digits_net)
    assert stats["modes"] == 1
    assert stats["reverse_kl"] == pytest.approx(math.log(1000), abs=1e-6)


def test_needs_three_channels(digits_net):
    with pytest.raises(ConfigError, match=r"\(N, 3, S, S\)"):
        stacked_modes(torch.zeros(4, 1, 16, 16), digits_net)
