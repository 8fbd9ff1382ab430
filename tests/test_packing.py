"""Packing (PacGAN): the discriminator's input shape, which samples share a pack, errors, one training step."""

from __future__ import annotations

import pytest
import torch

from datamodules import Toy2DDataModule
from lit_gans.errors import ConfigError
from lit_gans.families import CGAN, GAN, WGANGP
from lit_gans.nets import MLPDiscriminator
from lit_gans.nets.dcgan import DCGANDiscriminator
from lit_gans.nets.packing import Packed, packed_shape

from conftest import quiet_trainer


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_packed_shape_concatenates_along_the_first_axis():
    assert packed_shape((2,), 4) == (8,)
    assert packed_shape((3, 32, 32), 2) == (6, 32, 32)
    assert packed_shape((2,), 1) == (2,)


def test_a_pack_is_consecutive_samples_concatenated():
    torch.manual_seed(0)
    inner = MLPDiscriminator((6,), hidden=(16,))
    packed = Packed(inner, pack=3)
    x = torch.randn(12, 2)
    logits = packed(x)
    assert logits.shape == (4,)
    by_hand = inner(torch.cat([x[0:3].flatten(), x[3:6].flatten(), x[6:9].flatten(), x[9:12].flatten()]).view(4, 6))
    torch.testing.assert_close(logits, by_hand)
    # a pack's logit depends on its own samples only
    y = x.clone()
    y[4] += 1.0
    changed = packed(y) != logits
    assert changed.tolist() == [False, True, False, False]


def test_packed_images_stack_channels():
    inner = DCGANDiscriminator((6, 16, 16), features=8)
    assert Packed(inner, pack=2)(torch.randn(4, 3, 16, 16)).shape == (2,)


def test_family_builds_a_packed_discriminator():
    model = GAN(data_shape=(2,), architecture="mlp", g_width=16, d_width=16, pack=4)
    assert isinstance(model.discriminator, Packed) and model.discriminator.pack == 4
    assert model.discriminator.discriminator.net[0].in_features == 8
    assert model.discriminator(torch.randn(8, 2)).shape == (2,)
    assert not isinstance(GAN(data_shape=(2,), architecture="mlp", g_width=16, d_width=16).discriminator, Packed)


def test_bad_packing_is_a_config_error():
    with pytest.raises(ConfigError, match="model.pack=0"):
        GAN(data_shape=(2,), architecture="mlp", pack=0)
    with pytest.raises(ConfigError, match="unconditional"):
        CGAN(data_shape=(2,), num_classes=8, architecture="mlp", pack=2)
    packed = Packed(MLPDiscriminator((8,), hidden=(4,)), pack=4)
    with pytest.raises(ConfigError, match="batch of 10 samples cannot be split into packs of 4"):
        packed(torch.randn(10, 2))


@pytest.mark.parametrize("family", [GAN, WGANGP])
def test_packed_gan_trains(family):
    torch.manual_seed(0)
    dm = Toy2DDataModule(name="ring", n_samples=512, batch_size=32)
    model = family(data_shape=dm.data_shape, architecture="mlp", g_width=16, d_width=16, latent_dim=2, pack=4,
                   max_g_steps=1)
    # weight matrices: a Wasserstein critic's last bias gets no gradient (it cancels between real and fake)
    d_before = [p.detach().clone() for p in model.discriminator.parameters() if p.dim() > 1]
    g_before = [p.detach().clone() for p in model.generator.parameters()]
    quiet_trainer().fit(model, dm)
    assert model.g_step == 1
    assert all(not torch.equal(a, b) for a, b in zip(d_before, [p for p in model.discriminator.parameters() if p.dim() > 1]))
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))
    assert model.sample(5).shape == (5, 2)  # sampling does not pack


def test_batch_not_a_multiple_of_pack_fails_with_the_fix():
    dm = Toy2DDataModule(name="ring", n_samples=512, batch_size=30)
    model = GAN(data_shape=dm.data_shape, architecture="mlp", g_width=8, d_width=8, pack=4, max_g_steps=1)
    with pytest.raises(ConfigError, match="data.batch_size a multiple of model.pack=4"):
        quiet_trainer().fit(model, dm)


def test_packed_validation_skips_the_incomplete_last_pack():
    import lightning as L

    from conftest import quiet_trainer
    from datamodules import Toy2DDataModule
    from lit_gans.families import GAN

    dm = Toy2DDataModule(n_samples=256, n_val=103, batch_size=64)  # validation batches of 64 and 39
    model = GAN(data_shape=dm.data_shape, architecture="mlp", g_width=8, d_width=8, pack=4, max_g_steps=2)
    trainer = quiet_trainer(limit_val_batches=None)
    trainer.validate(model, dm)
    assert "val/d_loss" in trainer.callback_metrics
