"""Each family learns: a short real run must move a domain number, not only run.

Digits: the Fréchet distance to the real digits in 8x8 pixel space (``digits_score``) must drop
well below its value at initialisation. 2-D ring: the generator must cover more of the 8 modes
(PacGAN's definition) than at initialisation.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch

from datamodules import DigitsDataModule, Toy2DDataModule
from lit_gans.families import FAMILIES
from lit_gans.families.base import adam, rmsprop
from lit_gans.metrics import digits_score, mode_coverage

from conftest import quiet_trainer

# small networks; generator iterations chosen so each run takes seconds on 2 CPU cores
DIGITS_RUNS = {
    "GAN": dict(g_width=128, d_width=128, max_g_steps=200),
    "DCGAN": dict(g_width=16, d_width=16, max_g_steps=200),
    "WGAN": dict(g_width=16, d_width=16, max_g_steps=150),
    "WGANGP": dict(g_width=16, d_width=16, max_g_steps=150),
    "LSGAN": dict(g_width=16, d_width=16, max_g_steps=200),
    "SNGAN": dict(g_width=16, d_width=16, max_g_steps=60),
    "CGAN": dict(g_width=128, d_width=128, max_g_steps=200),
    "DeLiGAN": dict(g_width=128, d_width=128, max_g_steps=200),
    "ACGAN": dict(g_width=16, d_width=16, max_g_steps=200),
    # Q on the convolutions (no shared 1,024-unit layer): with it, D wins the first few hundred steps
    # (digits Fréchet distance 11.5 -> 12.4 after 200 steps at width 32); the bench measures the default
    "InfoGAN": dict(g_width=16, d_width=16, max_g_steps=200, shared_units=0),
    "CGANPD": dict(g_width=16, d_width=16, max_g_steps=80),
    "SAGAN": dict(g_width=16, d_width=16, max_g_steps=110),
    # the CIFAR-10 launcher's G learning rate: at the paper's 5e-5 (for 2,048-image batches) 200 steps barely move
    "BigGAN": dict(g_width=16, d_width=16, shared_embedding=16, max_g_steps=200, ema_decay=None,
                   g_optimizer=adam(2e-4, (0.0, 0.999))),
    # grows 4 -> 8 -> 16 px within the first 78 of its 200 steps (fades of 1,000 images; the config: 32,000)
    "StyleGAN": dict(g_width=16, d_width=16, latent_dim=32, w_dim=32, mapping_layers=2, max_g_steps=200, ema_decay=None),
    "ProGAN": dict(g_width=16, d_width=16, latent_dim=64, max_g_steps=200, ema_decay=None, fade_images=1000,
                   stable_images=1000),
    # the objective flavours (issue 14); the critic families at lr 1e-3 (their papers: 5e-5 to 2e-4) to move in seconds
    "GMMN": dict(g_width=128, max_g_steps=200),
    "MMDGAN": dict(g_width=16, d_width=16, max_g_steps=30, g_optimizer=adam(1e-3, (0.5, 0.9)), d_optimizer=adam(1e-3, (0.5, 0.9))),
    "CramerGAN": dict(g_width=16, d_width=16, max_g_steps=30, g_optimizer=adam(1e-3, (0.5, 0.9)),
                      d_optimizer=adam(1e-3, (0.5, 0.9))),
    "McGAN": dict(g_width=16, d_width=16, max_g_steps=40, g_optimizer=rmsprop(1e-3), d_optimizer=rmsprop(1e-3)),
    "FisherGAN": dict(g_width=16, d_width=16, max_g_steps=80, g_optimizer=adam(1e-3), d_optimizer=adam(1e-3)),
    "RelaxedWGAN": dict(g_width=16, d_width=16, max_g_steps=40, g_optimizer=rmsprop(1e-3), d_optimizer=rmsprop(1e-3)),
    "EBGAN": dict(g_width=16, d_width=16, max_g_steps=100),
    "MAGAN": dict(g_width=16, d_width=16, max_g_steps=100),
    # gamma 0.7 (the paper's range is 0.3-0.7) and width 32: at width 16 and gamma 0.5 its digits barely move in 200 steps
    "BEGAN": dict(g_width=32, d_width=32, max_g_steps=200, gamma=0.7),
}
#: the share of its initial Fréchet distance a family must get below (0.6 unless listed). BEGAN learns slowest here:
#: its k_t stays 0 through the first hundreds of steps, so its critic is then a plain autoencoder of the data
#: (11.07 -> 6.84 in 200 steps); its convergence measure is tested in tests/test_flavours_energy.py
LEARNING_RATIO = {"BEGAN": 0.7}


def score(model) -> dict[str, float]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        return digits_score(model.sample(500))


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_learns_digits(family):
    assert set(DIGITS_RUNS) == set(FAMILIES), "every family needs a learning run"
    L.seed_everything(0)
    dm = DigitsDataModule(image_size=16, batch_size=64)
    model = FAMILIES[family](data_shape=dm.data_shape, num_classes=dm.num_classes, **DIGITS_RUNS[family])
    before = score(model)
    quiet_trainer().fit(model, dm)
    after = score(model)
    print(f"{family}: digits Fréchet distance {before['frechet_distance']:.2f} -> {after['frechet_distance']:.2f}")
    assert model.g_step == DIGITS_RUNS[family]["max_g_steps"]
    assert after["frechet_distance"] < LEARNING_RATIO.get(family, 0.6) * before["frechet_distance"]


@pytest.mark.slow
def test_conditional_gan_generates_the_class_it_is_asked_for():
    L.seed_everything(0)
    dm = DigitsDataModule(image_size=16, batch_size=64)
    model = FAMILIES["CGAN"](data_shape=dm.data_shape, num_classes=10, g_width=128, d_width=128, max_g_steps=1600)
    from lit_gans.metrics.digits import _reference

    classifier, _ = _reference()

    def accuracy() -> float:
        labels = torch.arange(500) % 10
        x = torch.nn.functional.adaptive_avg_pool2d((model.sample(500, labels=labels) + 1) / 2, 8).flatten(1)
        return float((classifier(x.double()).argmax(1) == labels).float().mean())

    before = accuracy()
    quiet_trainer().fit(model, dm)
    after = accuracy()
    print(f"CGAN: requested-class accuracy {before:.2f} -> {after:.2f}")
    assert after > max(0.5, before + 0.3)


@pytest.mark.slow
def test_gan_covers_more_ring_modes_than_at_initialisation():
    L.seed_everything(0)
    dm = Toy2DDataModule(name="ring", n_samples=20_000, batch_size=128)
    model = FAMILIES["GAN"](
        data_shape=dm.data_shape, architecture="mlp", g_width=128, d_width=128, latent_dim=16, max_g_steps=600,
        g_optimizer=lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.5, 0.999)),
        d_optimizer=lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.5, 0.999)),
    )
    with torch.random.fork_rng(devices=[]):  # measuring must not change the training's random stream
        before = mode_coverage(model.sample(2500), dm.modes, dm.std)
    quiet_trainer().fit(model, dm)
    after = mode_coverage(model.sample(2500), dm.modes, dm.std)
    print(f"GAN ring: modes {before['modes']} -> {after['modes']}, high quality {before['high_quality']:.3f} -> "
          f"{after['high_quality']:.3f}")
    assert after["modes"] > before["modes"]
    assert after["modes"] >= 4
