"""DeLiGAN's mixture latent: uniform components, a deterministic map, gradients to the means and
scales, and a family that samples, checkpoints and trains like any other."""

from __future__ import annotations

import pytest
import torch

from conftest import quiet_trainer
from datamodules import Toy2DDataModule
from lit_gans.errors import ConfigError
from lit_gans.families import DeLiGAN
from lit_gans.nets.mixture import MixtureLatent


class Identity(torch.nn.Module):
    def forward(self, z, labels=None):
        return z


def test_components_are_picked_uniformly_and_samples_sit_in_them():
    torch.manual_seed(0)
    mixture = MixtureLatent(Identity(), latent_dim=3, components=10, sigma=0.01)
    z = torch.randn(20_000, 4)
    counts = torch.bincount(mixture.component(z), minlength=10).double()
    assert (counts / counts.mean() - 1).abs().max() < 0.1
    out = mixture(z)
    assert torch.equal(out, mixture(z))  # deterministic in its input
    nearest = torch.cdist(out, mixture.mu.detach()).argmin(1)
    assert torch.equal(nearest, mixture.component(z))


def test_means_and_scales_learn_through_the_generator():
    mixture = MixtureLatent(Identity(), latent_dim=2, components=4)
    mixture(torch.randn(64, 3)).pow(2).sum().backward()
    assert mixture.mu.grad.abs().sum() > 0 and mixture.log_sigma.grad.abs().sum() > 0


def test_deligan_samples_trains_and_checks_its_arguments(tmp_path):
    torch.manual_seed(0)
    dm = Toy2DDataModule(n_samples=512, batch_size=64)
    model = DeLiGAN(data_shape=dm.data_shape, latent_dim=4, components=8, g_width=16, d_width=16, max_g_steps=3, sigma_penalty=0.1)
    assert model.fixed_z.shape == (64, 5) and model.sample(7).shape == (7, 2)
    before = model.generator.mu.detach().clone()
    trainer = quiet_trainer()
    trainer.fit(model, dm)
    assert model.g_step == 3 and not torch.equal(before, model.generator.mu.detach())
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    from lit_gans.checkpoints import load_family

    again = load_family(tmp_path / "m.ckpt")
    assert isinstance(again, DeLiGAN) and torch.equal(again.fixed_samples(), model.fixed_samples())
    with pytest.raises(ConfigError, match="components=0"):
        DeLiGAN(data_shape=(2,), components=0)
