"""EBGAN, BEGAN and MAGAN: their objectives and state updates against hand computations, the autoencoder
critics' shapes and errors, BEGAN's convergence measure falling, and their state buffers through a checkpoint
(the digits learning runs are in tests/test_learning.py)."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from datamodules import DigitsDataModule, Toy2DDataModule
from lit_gans.checkpoints import load_family
from lit_gans.errors import ConfigError
from lit_gans.families.began import BEGAN, began_d_loss, m_global, update_k
from lit_gans.families.ebgan import EBGAN, ebgan_d_loss, ebgan_g_loss, pulling_away_term
from lit_gans.families.magan import MAGAN, adapt_margin
from lit_gans.nets.autoencoder import ConvAutoencoder, MLPAutoencoder, reconstruction_energy

from conftest import quiet_trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")
t = torch.tensor


# ------------------------------------------------------------------ objectives by hand
def test_reconstruction_energy_by_hand():
    x, r = t([[0.0, 0.0], [1.0, 1.0]]), t([[1.0, 0.0], [1.0, 3.0]])
    assert torch.allclose(reconstruction_energy(x, r, "l2"), t([0.5, 2.0]))  # (1 + 0) / 2, (0 + 4) / 2
    assert torch.allclose(reconstruction_energy(x, r, "l1"), t([0.5, 1.0]))
    assert torch.allclose(reconstruction_energy(x, r, "l2_norm"), t([1.0, 2.0]))  # EBGAN's ||Dec(Enc(x)) - x||
    assert EBGAN(data_shape=(2,), architecture="mlp").energy_norm == "l2_norm"


def test_ebgan_losses_by_hand():
    real, fake = t([0.1, 0.3]), t([0.2, 1.5])
    # mean(real) = 0.2; hinge: max(0, 1 - 0.2) = 0.8, max(0, 1 - 1.5) = 0 -> mean 0.4
    assert ebgan_d_loss(real, fake, 1.0).item() == pytest.approx(0.6)
    assert ebgan_d_loss(real, fake, t(2.0)).item() == pytest.approx(0.2 + (1.8 + 0.5) / 2)
    assert ebgan_g_loss(fake).item() == pytest.approx(0.85)


def test_pulling_away_term_by_hand():
    codes = t([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # squared cosines: (1, 2) 0, (1, 3) 1/2, (2, 3) 1/2; each pair twice over N (N - 1) = 6
    assert pulling_away_term(codes).item() == pytest.approx(2 * (0 + 0.5 + 0.5) / 6)
    assert pulling_away_term(t([[2.0, 0.0], [3.0, 0.0]])).item() == pytest.approx(1.0)  # parallel codes
    assert pulling_away_term(codes[:1]).item() == 0.0


def test_began_k_update_clip_and_m_global_by_hand():
    real, fake = t([0.2, 0.4]), t([0.05, 0.15])  # L(x) = 0.3, L(G(z)) = 0.1
    assert update_k(t(0.5), real, fake, gamma=0.5, lambda_k=0.1).item() == pytest.approx(0.5 + 0.1 * (0.15 - 0.1))
    assert update_k(t(0.999), real, t([0.0]), gamma=1.0, lambda_k=1.0).item() == 1.0  # 1.299 clipped
    assert update_k(t(0.001), real, t([1.0]), gamma=0.5, lambda_k=1.0).item() == 0.0  # -0.849 clipped
    assert m_global(real, fake, gamma=0.5).item() == pytest.approx(0.3 + abs(0.15 - 0.1))
    assert m_global(real, t([0.3]), gamma=0.5).item() == pytest.approx(0.3 + 0.15)
    assert began_d_loss(real, fake, t(0.5)).item() == pytest.approx(0.3 - 0.5 * 0.1)


def test_began_updates_k_once_per_generator_iteration_from_the_phases_losses():
    L.seed_everything(0)
    dm = Toy2DDataModule(name="ring", n_samples=512, batch_size=64)
    model = BEGAN(data_shape=dm.data_shape, architecture="mlp", latent_dim=2, g_width=16, d_width=16, code=1,
                  gamma=1.0, lambda_k=0.5, max_g_steps=3)
    seen = []
    update = model._update_k

    def spy():
        before = model.k.clone()
        update()
        seen.append((before, model._real_loss.clone(), model._fake_loss.clone(), model.k.clone()))

    model._update_k = spy
    quiet_trainer().fit(model, dm)
    assert len(seen) == 3
    for before, real, fake, after in seen:
        assert after.item() == pytest.approx(min(max(before.item() + 0.5 * (real.item() - fake.item()), 0.0), 1.0))
    assert model._logs["began/k"].item() == seen[-1][3].item()
    assert model._logs["began/m_global"].item() == pytest.approx(seen[-1][1].item() + abs(seen[-1][1].item() - seen[-1][2].item()))


def test_magan_margin_rule_both_branches():
    m, prev = t(1.0), t(0.7)
    assert adapt_margin(m, t(0.5), t(0.8), prev).item() == 0.5  # all three hold: the margin becomes E[real]
    assert adapt_margin(m, t(1.2), t(1.5), prev).item() == 1.0  # real energy not below the margin
    assert adapt_margin(m, t(0.5), t(0.4), t(0.1)).item() == 1.0  # fake energy not above the real one
    assert adapt_margin(m, t(0.5), t(0.6), prev).item() == 1.0  # fake energy fell since the previous epoch
    assert adapt_margin(m, t(0.5), t(0.8), t(math.inf)).item() == 1.0  # first epoch: no previous one


def test_magan_epoch_end_reads_the_epoch_means_and_starts_new_sums():
    model = MAGAN(data_shape=(2,), architecture="mlp", latent_dim=2, g_width=8, d_width=8, code=1, pretrain_steps=1)
    model.steps["pretrain"] = 1
    model.margin.fill_(1.0)
    model.previous_fake_energy.fill_(0.5)
    model.real_energy_sum.fill_(1.2), model.real_batches.fill_(3)  # mean 0.4
    model.fake_energy_sum.fill_(1.8), model.fake_batches.fill_(3)  # mean 0.6
    model.adapt()
    assert model.margin.item() == pytest.approx(0.4)
    assert model.previous_fake_energy.item() == pytest.approx(0.6)
    assert model.real_batches.item() == model.fake_batches.item() == 0 and model.real_energy_sum.item() == 0
    model.real_energy_sum.fill_(0.9), model.real_batches.fill_(3)  # 0.3 < 0.4, but fake 0.5 < previous 0.6
    model.fake_energy_sum.fill_(1.5), model.fake_batches.fill_(3)
    model.adapt()
    assert model.margin.item() == pytest.approx(0.4) and model.previous_fake_energy.item() == pytest.approx(0.5)


def test_magan_pretraining_sets_the_margin_to_the_mean_real_energy_of_its_second_half():
    L.seed_everything(0)
    dm = Toy2DDataModule(name="ring", n_samples=512, batch_size=64)
    model = MAGAN(data_shape=dm.data_shape, architecture="mlp", latent_dim=2, g_width=8, d_width=8, code=1,
                  pretrain_steps=4, max_g_steps=1)
    losses = []
    pretrain = model.pretrain_loss
    model.pretrain_loss = lambda batch: (out := pretrain(batch), losses.append(out.loss.item()))[0]
    margins = []
    d_loss = model.discriminator_loss
    model.discriminator_loss = lambda batch: (margins.append(model.margin.item()), d_loss(batch))[1]
    quiet_trainer().fit(model, dm)
    assert len(losses) == 4 and model.steps["pretrain"] == 4 and model.g_step == 1
    assert margins[0] == pytest.approx(sum(losses[2:]) / 2, rel=1e-5)


# ------------------------------------------------------------------ networks
@pytest.mark.parametrize("shape", [(2,), (1, 16, 16), (3, 8, 8)])
def test_mlp_autoencoder_keeps_the_shape(shape):
    net = MLPAutoencoder(shape, width=16, code=3)
    x = torch.randn(5, *shape)
    assert net(x).shape == x.shape and net.encode(x).shape == (5, 3)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 16, 16), (3, 32, 32), (3, 128, 128)])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_conv_autoencoder_keeps_the_shape(shape, batch_norm):
    net = ConvAutoencoder(shape, width=4, code=5, batch_norm=batch_norm)
    x = torch.randn(2, *shape)
    assert net(x).shape == x.shape and net.encode(x).shape == (2, 5)


@pytest.mark.parametrize("shape, words", [((1, 12, 12), "image_size: 16"), ((1, 16, 8), "(channels, S, S)"),
                                          ((1, 256, 256), "S in"), ((2,), "(channels, S, S)")])
def test_conv_autoencoder_refuses_impossible_sizes(shape, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        ConvAutoencoder(shape)


def test_autoencoders_and_families_refuse_bad_sizes_and_values():
    with pytest.raises(ConfigError, match="code"):
        MLPAutoencoder((2,), width=8, code=0)
    with pytest.raises(ConfigError, match="code"):
        ConvAutoencoder((1, 16, 16), width=0)
    with pytest.raises(ConfigError, match="model.gamma=1.5"):
        BEGAN(data_shape=(1, 16, 16), gamma=1.5)
    with pytest.raises(ConfigError, match="model.margin=-1"):
        EBGAN(data_shape=(1, 16, 16), margin=-1)
    with pytest.raises(ConfigError, match="model.pretrain_steps=0"):
        MAGAN(data_shape=(1, 16, 16), pretrain_steps=0)
    with pytest.raises(ConfigError, match="model.objective='hinge'"):
        EBGAN(data_shape=(1, 16, 16), objective="hinge")
    with pytest.raises(ConfigError, match="architecture='resnet'"):
        EBGAN(data_shape=(3, 32, 32), architecture="resnet")
    with pytest.raises(ConfigError, match="unconditional"):
        BEGAN(data_shape=(1, 16, 16), num_classes=10, conditional=True)


# ------------------------------------------------------------------ learning
def test_began_convergence_measure_falls_on_digits():
    """BEGAN's own learning signal: M_global falls (on digits its Fréchet distance moves only after hundreds of
    iterations: 11.05 -> 9.39 after 200 at width 16)."""
    L.seed_everything(0)
    dm = DigitsDataModule(image_size=16, batch_size=64)
    model = BEGAN(data_shape=dm.data_shape, latent_dim=32, g_width=16, d_width=16, code=16, max_g_steps=60)
    measures = []
    g_loss = model.generator_loss
    model.generator_loss = lambda batch: (out := g_loss(batch), measures.append(out.logs.get("began/m_global")))[0]
    quiet_trainer().fit(model, dm)
    first, last = measures[0].item(), sum(m.item() for m in measures[-10:]) / 10
    print(f"BEGAN: M_global {first:.3f} -> {last:.3f}")
    assert last < 0.85 * first


# ------------------------------------------------------------------ state through a checkpoint
def test_k_and_margin_are_saved_and_restored(tmp_path):
    dm = DigitsDataModule(image_size=16, batch_size=16)
    for family, state in ((BEGAN, {"k": 0.37}),
                          (MAGAN, {"margin": 0.21, "previous_fake_energy": 0.5, "real_energy_sum": 1.5,
                                   "fake_energy_sum": 2.5, "real_batches": 3, "fake_batches": 4})):
        model = family(data_shape=dm.data_shape, g_width=8, d_width=8, code=4, max_g_steps=1, ema_decay=0.9,
                       **({"pretrain_steps": 1} if family is MAGAN else {}))
        trainer = quiet_trainer(limit_train_batches=3)
        trainer.fit(model, dm)
        for name, value in state.items():
            getattr(model, name).fill_(value)
        ckpt = tmp_path / f"{family.__name__}.ckpt"
        trainer.save_checkpoint(ckpt)
        loaded = load_family(ckpt)
        assert type(loaded) is family and loaded.g_step == 1
        for name, value in state.items():
            assert getattr(loaded, name).item() == pytest.approx(value), name
