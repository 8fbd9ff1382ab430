"""SinGAN's networks in ``lit_gans.nets.singan`` (pyramid sizes, pyramid, generator, critic, warm start) and
its one-image data, ``datamodules.single_image.SingleImageDataModule``, all at tiny sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules.single_image import SingleImageDataModule
from lit_gans.errors import ConfigError, DatasetNotFoundError
from lit_gans.nets.singan import (
    SinGANCritic,
    SinGANGenerator,
    copy_weights,
    fit_size,
    image_pyramid,
    scale_sizes,
)


def images(n: int, c: int, h: int, w: int | None = None, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w or h, generator=g) * 2 - 1


# ---------------------------------------------------------------------------------------------- pyramid


def test_scale_sizes_of_a_64x96_image():
    sizes = scale_sizes(64, 96)
    # N = ceil(log(25/64) / log(0.75)) + 1 = ceil(3.27) + 1 = 5
    assert len(sizes) == 5
    assert sizes[-1] == (64, 96)
    assert min(sizes[0]) == 25
    for (h0, w0), (h1, w1) in zip(sizes, sizes[1:]):
        assert h0 < h1 and w0 < w1
    # the ratio by hand: r = (25/64) ** (1/4), every ratio between consecutive scales close to it, >= 0.75
    r = (25 / 64) ** 0.25
    assert r >= 0.75
    for k, (h, w) in enumerate(sizes):
        assert h == math.floor(64 * r ** (4 - k) + 0.5) and w == math.floor(96 * r ** (4 - k) + 0.5)
    assert sizes == [(25, 38), (32, 47), (40, 60), (51, 76), (64, 96)]


def test_scale_sizes_shrinks_to_max_size_and_checks_arguments():
    assert fit_size(300, 451, 64) == (43, 64) and fit_size(40, 50, 64) == (40, 50)
    sizes = scale_sizes(500, 1000, max_size=250)  # shrunk to 125x250 first
    assert sizes[-1] == (125, 250) and min(sizes[0]) == 25
    assert len(sizes) == math.ceil(math.log(25 / 125) / math.log(0.75)) + 1
    assert scale_sizes(25, 40) == [(25, 40)]  # already at min_size: one scale
    assert len(scale_sizes(64, 64, factor=0.5)) == 3  # ceil(log2(64/25)) + 1 = 3
    with pytest.raises(ConfigError, match="min_size"):
        scale_sizes(20, 40)
    with pytest.raises(ConfigError, match="min_size"):
        scale_sizes(100, 1000, max_size=200)  # shrunk to 20x200
    for factor in (0, 1, 1.5, -0.5):
        with pytest.raises(ConfigError, match="factor"):
            scale_sizes(64, 96, factor=factor)


def test_image_pyramid_shapes_range_and_finest_is_the_image():
    image = images(1, 3, 64, 96)
    sizes = scale_sizes(64, 96)
    pyramid = image_pyramid(image, sizes)
    assert [tuple(p.shape) for p in pyramid] == [(1, 3, h, w) for h, w in sizes]
    assert pyramid[-1] is image
    assert all(p.abs().max() <= 1 for p in pyramid)
    # a smooth image stays close to itself when shrunk: a gradient's mean is kept
    ramp = torch.linspace(-1, 1, 96).expand(1, 3, 64, 96).contiguous()
    coarse = image_pyramid(ramp, [(25, 38)])[0]
    assert abs(coarse.mean().item()) < 0.02 and coarse[..., 0].mean() < -0.9 and coarse[..., -1].mean() > 0.9


# ---------------------------------------------------------------------------------------------- networks


def test_generator_keeps_the_size_and_is_residual():
    torch.manual_seed(0)
    net = SinGANGenerator(width=8)
    assert net.receptive_field == 11
    noise, previous = images(2, 3, 25, 38, seed=1), images(2, 3, 25, 38, seed=2)
    out = net(noise, previous)
    assert out.shape == previous.shape
    assert not torch.allclose(out, previous)
    last = net.body[-2]
    assert isinstance(last, torch.nn.Conv2d) and last.out_channels == 3
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    assert torch.equal(net(noise, previous), previous)  # tanh(0) = 0: previous + 0
    with pytest.raises(ConfigError, match="differ"):
        net(noise, previous[..., :30])


def test_critic_map_shape_and_receptive_field_by_gradient():
    torch.manual_seed(0)
    critic = SinGANCritic(width=8).eval()
    assert critic.receptive_field == 11
    x = images(2, 3, 25, 38)
    assert critic(x).shape == (2, 1, 25, 38)
    x = images(1, 3, 31).requires_grad_(True)
    critic(x)[0, 0, 15, 15].backward()
    seen = (x.grad.abs().sum(1)[0] > 0).nonzero()
    rows, cols = seen[:, 0], seen[:, 1]
    assert (rows.min().item(), rows.max().item(), cols.min().item(), cols.max().item()) == (10, 20, 10, 20)
    assert len(seen) == 11 * 11
    assert SinGANCritic(layers=3, kernel=5).receptive_field == 13


def test_networks_reject_bad_settings():
    with pytest.raises(ConfigError, match="kernel"):
        SinGANGenerator(kernel=4)
    with pytest.raises(ConfigError, match="layers"):
        SinGANCritic(layers=1)
    with pytest.raises(ConfigError, match="width"):
        SinGANGenerator(width=0)


def test_copy_weights_warm_start_and_mismatch():
    torch.manual_seed(0)
    source, target = SinGANGenerator(width=8), SinGANGenerator(width=8)
    source.body[2].running_mean.fill_(0.5)
    assert not torch.equal(source.body[1].weight, target.body[1].weight)
    assert copy_weights(source, target) is target
    for (k, a), (_, b) in zip(source.state_dict().items(), target.state_dict().items()):
        assert torch.equal(a, b), k
    assert target.body[1].weight.data_ptr() != source.body[1].weight.data_ptr()  # a copy, not shared
    x = images(1, 3, 25)
    assert torch.equal(source.eval()(x, x), target.eval()(x, x))
    with pytest.raises(ConfigError, match="same width"):
        copy_weights(SinGANGenerator(width=8), SinGANGenerator(width=16))
    with pytest.raises(ConfigError, match="critic"):
        copy_weights(SinGANGenerator(width=8), SinGANCritic(width=8))


# ---------------------------------------------------------------------------------------------- data


def test_datamodule_photo_batches_are_the_whole_image():
    dm = SingleImageDataModule(photo="chelsea", max_size=64, steps_per_epoch=5)
    assert dm.data_shape == (3, 43, 64) and dm.image.shape == (1, 3, 43, 64)  # chelsea is 300x451
    assert dm.batch_size == 1 and dm.batch_fields == ("image",) and dm.num_classes == 0
    assert dm.sizes == scale_sizes(43, 64) and dm.sizes[-1] == (43, 64)
    assert dm.evaluation.default == ()
    assert torch.equal(SingleImageDataModule(**dict(dm.hparams)).image, dm.image)  # as `lit-gans evaluate` rebuilds it
    assert dm.image.min() >= -1 and dm.image.max() <= 1 and dm.image.std() > 0.1
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert len(batches) == 5
    for batch in batches:
        assert isinstance(batch, tuple) and len(batch) == 1
        assert batch[0].shape == (1, 3, 43, 64) and torch.equal(batch[0], dm.image)
    val = list(dm.val_dataloader())
    assert len(val) == 1 and torch.equal(val[0][0], dm.image)


def test_datamodule_reads_a_file(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "pic.png")
    dm = SingleImageDataModule(photo=None, path=str(tmp_path / "pic.png"), max_size=64)
    assert dm.data_shape == (3, 30, 40)  # smaller than max_size: kept as it is
    assert torch.allclose(dm.image[0], torch.from_numpy(rgb).permute(2, 0, 1).float() / 127.5 - 1)
    assert dm.sizes[-1] == (30, 40) and min(dm.sizes[0]) == 25
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "grey.png")  # grey: converted to RGB
    assert SingleImageDataModule(photo=None, path=str(tmp_path / "grey.png"), max_size=32, min_size=20).data_shape == (3, 24, 32)


def test_datamodule_rejects_bad_settings(tmp_path):
    with pytest.raises(ConfigError, match="both set"):
        SingleImageDataModule(photo="chelsea", path=str(tmp_path / "x.png"))
    assert SingleImageDataModule(photo=None, path=None).photo == "chelsea"  # the default photo
    with pytest.raises(DatasetNotFoundError, match="data.path"):
        SingleImageDataModule(photo=None, path=str(tmp_path / "missing.png"))
    with pytest.raises(ConfigError, match="data.photo"):
        SingleImageDataModule(photo="lena")
    with pytest.raises(ConfigError, match="data.min_size"):
        SingleImageDataModule(max_size=30)  # chelsea shrunk to 20x30
    with pytest.raises(ConfigError, match="data.factor"):
        SingleImageDataModule(factor=1.0)
    with pytest.raises(ConfigError, match="data.steps_per_epoch"):
        SingleImageDataModule(steps_per_epoch=0)
