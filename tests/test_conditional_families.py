"""cGAN-PD, SAGAN and BigGAN: their papers' recipes, their networks' parts, and that they learn."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lit_gans.ema import update_ema
from lit_gans.errors import ConfigError
from lit_gans.families import CGANPD, SAGAN, BigGAN
from lit_gans.nets.attention import SelfAttention
from lit_gans.nets.biggan import BigGANGenerator
from lit_gans.penalties import Orthogonal

SHAPE = (1, 16, 16)


def build(cls, **kwargs):
    return cls(data_shape=SHAPE, num_classes=10, **{"g_width": 8, "d_width": 8, **kwargs})


def adam_settings(model):
    optimizers = [group for factory, _, _ in model.optimizer_groups().values()
                  for group in factory([nn.Parameter(torch.zeros(1))]).param_groups]
    return [(g["lr"], tuple(g["betas"])) for g in optimizers]


def is_spectral(module: nn.Module) -> bool:
    return any(hasattr(m, "parametrizations") for m in module.modules())


def test_recipes_are_the_papers():
    pd, sagan, big = build(CGANPD), build(SAGAN), build(BigGAN)
    # cGAN-PD: SNGAN's optimiser and 5 critic steps, spectral norm in the critic only, no attention
    assert adam_settings(pd) == [(2e-4, (0.0, 0.9)), (2e-4, (0.0, 0.9))] and pd.n_critic == 5
    assert is_spectral(pd.discriminator) and not is_spectral(pd.generator)
    assert pd.generator.attention is None and pd.discriminator.embed is not None
    # SAGAN: two time-scale learning rates, one critic step, spectral norm in both, attention in both
    assert adam_settings(sagan) == [(1e-4, (0.0, 0.999)), (4e-4, (0.0, 0.999))] and sagan.n_critic == 1
    assert is_spectral(sagan.generator) and is_spectral(sagan.discriminator)
    assert sagan.generator.attention is not None and sagan.discriminator.attention is not None
    # BigGAN: G 5e-5, D 2e-4, 2 critic steps, EMA, shared embedding, hierarchical z
    assert adam_settings(big) == [(5e-5, (0.0, 0.999)), (2e-4, (0.0, 0.999))] and big.n_critic == 2
    assert big.ema_generator is not None and big.generator.shared is not None
    assert big.generator.chunks == [40, 40, 40]  # z of 120 over the input layer and two blocks at 16 px
    for model in (pd, sagan, big):
        assert model.objective.name == "hinge" and model.latent_spec.num_classes == 10


def test_biggan_samples_through_an_average_with_its_own_spectral_norms():
    """BigGAN's EMA generator is spectrally normalised like G. Its orthogonally initialised layers have equal
    singular values, so G's power-iteration vectors wander as G trains; the average must estimate its spectral
    norms from its own weights (without that its layers here reached 1.58 and its samples read far worse than G's)."""
    torch.manual_seed(0)
    big = build(BigGAN, ema_decay=0.9)
    generator, average = big.generator, big.ema_generator
    normalised = [m for m in generator.modules() if "weight" in getattr(m, "parametrizations", {})]
    assert len(average.lit_gans_spectral) == len(normalised) == 20  # the average tracks every one
    for step in range(30):  # training's drift, then a train-mode forward that moves G's vectors, then the average
        with torch.no_grad():
            for p in generator.parameters():
                p.add_(0.02 * torch.randn_like(p))
            big.generate(big.latent_spec.draw(8, big.device), generator.train())
        update_ema(average, generator, copy=step == 0)
    norms = [float(torch.linalg.matrix_norm(layer.weight.flatten(1), 2)) for layer in average.module.eval().modules()
             if hasattr(layer, "parametrizations")]
    assert len(norms) == 20 and 0.99 < min(norms) and max(norms) < 1.1


def test_self_attention_starts_as_the_identity_and_then_mixes_positions():
    torch.manual_seed(0)
    block = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(block(x), x)  # gamma = 0
    with torch.no_grad():
        block.gamma.fill_(1.0)
    y = block(x)
    x2 = x.clone()
    x2[:, :, 0, 0] += 1.0  # one position changes: with attention, others change too
    assert not torch.allclose(block(x2)[:, :, 7, 7], y[:, :, 7, 7])


def test_hierarchical_latent_feeds_each_block_its_own_chunk():
    torch.manual_seed(0)
    g = BigGANGenerator(12, (1, 16, 16), features=8, num_classes=3, shared_embedding=4, hierarchical=True).eval()
    assert g.chunks == [4, 4, 4] and g.linear.in_features == 4
    assert [b.bn1.gamma.in_features for b in g.blocks] == [8, 8]  # shared embedding + chunk
    z, labels = torch.randn(2, 12), torch.tensor([0, 1])
    with torch.no_grad():
        base = g(z, labels)
        for chunk in range(3):  # every chunk moves the image
            moved = z.clone()
            moved[:, 4 * chunk : 4 * chunk + 4] += 1.0
            assert not torch.allclose(g(moved, labels), base)


def test_orthogonal_initialisation_and_penalty_skip_embeddings():
    model = build(BigGAN)
    conv = model.discriminator.blocks[1].conv1.parametrizations.weight.original.flatten(1)  # (out, in*9), out <= in*9
    assert torch.allclose(conv @ conv.t(), torch.eye(conv.shape[0]), atol=1e-4)
    penalty = Orthogonal(1e-4)
    value = penalty(model, None, None)
    with torch.no_grad():
        model.generator.shared.weight.mul_(100.0)  # the shared embedding is not regularised
    assert torch.equal(penalty(model, None, None), value)


@pytest.mark.parametrize("kwargs, message", [
    (dict(attention=32), "attention=32 is not a resolution"),
    (dict(architecture="resnet", attention=8), "need the networks of architecture 'biggan'"),
    (dict(hierarchical=True, latent_dim=2), "latent_dim=2 must be at least 3"),
    (dict(init="xavier"), "init='xavier' is unknown"),
])
def test_bad_switches_name_the_fix(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        build(CGANPD, **kwargs)
