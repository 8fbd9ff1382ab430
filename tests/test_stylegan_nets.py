"""StyleGAN / StyleGAN2 networks in ``lit_gans.nets.stylegan``: modulated convolution, mapping and
truncation, synthesis shapes and noise, style mixing, the residual discriminator. Small widths throughout."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lit_gans.errors import ConfigError
from lit_gans.nets.equalized import EqualizedConv2d, EqualizedLinear
from lit_gans.nets.stylegan import (
    MappingNetwork,
    StyleGANDiscriminator,
    StyleGANGenerator,
    SynthesisNetwork,
    modulated_conv2d,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LATENT, W_DIM, WIDTH = 8, 16, 16


def gen(seed: int = 0, size: int = 16, channels: int = 3, style: str = "modulated", **kwargs) -> StyleGANGenerator:
    torch.manual_seed(seed)
    return StyleGANGenerator(LATENT, (channels, size, size), width=WIDTH, w_dim=W_DIM, mapping_layers=2,
                             style=style, **kwargs)


def randn(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def set_noise_strength(module: torch.nn.Module, value: float) -> int:
    params = [p for name, p in module.named_parameters() if name.endswith("noise_strength")]
    with torch.no_grad():
        for p in params:
            p.fill_(value)
    return len(params)


# ------------------------------------------------------------ modulated convolution


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv2d_matches_per_sample_reference(demodulate):
    x, weight, styles = randn(3, 4, 6, 6, seed=1), randn(5, 4, 3, 3, seed=2), randn(3, 4, seed=3)
    out = modulated_conv2d(x, weight, styles, demodulate=demodulate)
    for n in range(3):
        w = weight * styles[n][None, :, None, None]
        if demodulate:
            w = w / torch.sqrt(w.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        expected = F.conv2d(x[n:n + 1], w, padding=1)
        torch.testing.assert_close(out[n:n + 1], expected, atol=1e-5, rtol=1e-5)
    assert out.shape == (3, 5, 6, 6)


def test_demodulation_gives_unit_variance_outputs():
    # unit-variance iid input, any styles: each demodulated output pixel has variance sum(w'^2) = 1
    x, weight = randn(8, 16, 34, 34, seed=4), randn(8, 16, 3, 3, seed=5)
    styles = torch.rand(8, 16, generator=torch.Generator().manual_seed(6)) * 3 + 0.1
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))  # away from the zero padding
    var = modulated_conv2d(x, weight, styles)[inner].var(dim=(0, 2, 3))
    assert torch.allclose(var, torch.ones(8), atol=0.1), var
    raw = modulated_conv2d(x, weight, styles, demodulate=False)[inner].var(dim=(0, 2, 3))
    assert (raw - 1).abs().min() > 10, raw  # about 16 * 9 * E[s^2] without demodulation


def test_modulated_conv2d_rejects_mismatched_styles():
    with pytest.raises(ValueError, match=r"styles must have shape \(2, 4\)"):
        modulated_conv2d(randn(2, 4, 5, 5), randn(3, 4, 3, 3), randn(2, 3))


def test_equalized_runtime_scale_is_he_constant():
    conv = EqualizedConv2d(8, 4, 3)  # gain sqrt(2), fan_in 8 * 3 * 3 = 72: sqrt(2 / 72) = 1 / 6
    weight, _ = conv.scaled()
    torch.testing.assert_close(weight, conv.weight / 6)
    linear = EqualizedLinear(25, 3, gain=1.0, lr_mul=0.01, bias_init=1.0)  # 1 / sqrt(25) * 0.01 = 0.002
    weight, bias = linear.scaled()
    torch.testing.assert_close(weight, linear.weight * 0.002)
    torch.testing.assert_close(bias, torch.ones(3))


# ------------------------------------------------------------ mapping network


def test_mapping_truncation():
    torch.manual_seed(0)
    mapping = MappingNetwork(LATENT, W_DIM, num_layers=2)
    with torch.no_grad():
        mapping.w_avg.normal_()
    z = randn(3, LATENT)
    ws = mapping(z, num_ws=5)
    assert ws.shape == (3, 5, W_DIM)
    assert torch.equal(ws[:, 0], ws[:, 4])  # one w repeated
    assert torch.equal(mapping(z, psi=1.0, cutoff=2, num_ws=5), ws)
    cut = mapping(z, psi=0.0, cutoff=2, num_ws=5)
    assert torch.equal(cut[:, :2], mapping.w_avg.expand(3, 2, W_DIM))
    assert torch.equal(cut[:, 2:], ws[:, 2:])
    half = mapping(z, psi=0.5, num_ws=5)  # cutoff None: every layer
    torch.testing.assert_close(half, (ws + mapping.w_avg) / 2)


def test_mapping_updates_w_avg_only_when_asked():
    torch.manual_seed(0)
    mapping = MappingNetwork(LATENT, W_DIM, num_layers=2, w_avg_beta=0.9)
    z = randn(4, LATENT)
    w = mapping(z)[:, 0]
    assert torch.equal(mapping.w_avg, torch.zeros(W_DIM))
    mapping(z, update_w_avg=True)
    torch.testing.assert_close(mapping.w_avg, 0.1 * w.mean(dim=0))  # 0.9 * 0 + 0.1 * mean
    mapping(z, update_w_avg=True)
    torch.testing.assert_close(mapping.w_avg, 0.9 * 0.1 * w.mean(dim=0) + 0.1 * w.mean(dim=0))
    assert not mapping.w_avg.requires_grad


# ------------------------------------------------------------ synthesis and generator


@pytest.mark.parametrize("style", ["modulated", "adain"])
@pytest.mark.parametrize("size", [8, 16, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_output_shape(style, size, channels):
    g = gen(size=size, channels=channels, style=style)
    assert g.num_ws == 2 * int(math.log2(size)) - 2
    out = g(randn(2, LATENT))
    assert out.shape == (2, channels, size, size) and torch.isfinite(out).all()
    assert out.abs().max() > 1e-3  # something reached the image


@pytest.mark.parametrize("style", ["modulated", "adain"])
def test_noise_modes(style):
    g = gen(style=style).eval()
    z = randn(2, LATENT)
    assert torch.equal(g(z, noise_mode="random"), g(z, noise_mode="none"))  # strengths start at 0
    assert set_noise_strength(g, 0.5) == g.num_ws - (style == "modulated")  # one per conv / AdaIN layer
    assert torch.equal(g(z, noise_mode="const"), g(z, noise_mode="const"))
    assert not torch.allclose(g(z, noise_mode="random"), g(z, noise_mode="random"))
    assert not torch.allclose(g(z, noise_mode="const"), g(z, noise_mode="none"))
    buffers = [name for name, _ in g.named_buffers() if name.endswith("noise_const")]
    assert len(buffers) == g.num_ws - (style == "modulated")


def test_synthesis_without_noise_has_no_noise_inputs():
    torch.manual_seed(0)
    net = SynthesisNetwork(W_DIM, (3, 8, 8), width=WIDTH, noise=False)
    assert set_noise_strength(net, 0.5) == 0
    ws = randn(2, net.num_ws, W_DIM)
    assert torch.equal(net(ws, noise_mode="random"), net(ws, noise_mode="none"))


def test_style_mixing_in_training_mode():
    g = gen(mixing_prob=1.0).train()
    set_noise_strength(g, 0.5)
    z = randn(2, LATENT)
    torch.manual_seed(7)
    mixed = g(z, noise_mode="const")
    g.mixing_prob = 0.0
    torch.manual_seed(7)
    plain = g(z, noise_mode="const")
    assert not torch.allclose(mixed, plain)
    # the documented draws: coin, crossover (global CPU generator), then the second z
    g.mixing_prob = 1.0
    torch.manual_seed(7)
    assert torch.rand(()) < 1.0
    crossover = int(torch.randint(1, g.num_ws, ()))
    z2 = torch.randn_like(z)
    ws = g.mapping(z, num_ws=g.num_ws)
    ws[:, crossover:] = g.mapping(z2, num_ws=g.num_ws)[:, crossover:]
    torch.testing.assert_close(mixed, g.synthesis(ws, noise_mode="const"))


def test_training_updates_w_avg_and_eval_does_not_mix():
    g = gen(mixing_prob=1.0)
    z = randn(2, LATENT)
    g.train()(z)
    w_avg = g.mapping.w_avg.clone()
    assert w_avg.abs().sum() > 0
    g.eval()
    set_noise_strength(g, 0.5)
    first, second = g(z, noise_mode="const"), g(z, noise_mode="const")
    assert torch.equal(first, second)
    assert torch.equal(first, g.synthesis(g.mapping(z, num_ws=g.num_ws), noise_mode="const"))
    assert torch.equal(g.mapping.w_avg, w_avg)
    assert not torch.allclose(g(z, psi=0.5, noise_mode="const"), first)  # truncation in eval mode


def test_styles_from_builds_a_mixing_grid():
    g = gen(size=16).eval()  # num_ws = 6
    za, zb, zc = randn(2, LATENT, seed=1), randn(2, LATENT, seed=2), randn(2, LATENT, seed=3)
    ws = g.styles_from([za, zb, zc], [2, 4])
    assert ws.shape == (2, 6, W_DIM)
    assert torch.equal(ws[:, :2], g.mapping(za, num_ws=6)[:, :2])
    assert torch.equal(ws[:, 2:4], g.mapping(zb, num_ws=6)[:, 2:4])
    assert torch.equal(ws[:, 4:], g.mapping(zc, num_ws=6)[:, 4:])
    assert g.synthesis(ws, noise_mode="const").shape == (2, 3, 16, 16)
    for bad in ([4, 2], [0, 3], [2, 6], [3]):
        with pytest.raises(ConfigError, match=r"crossover_layers=.* in \[1, 5\]"):
            g.styles_from([za, zb, zc], bad)


def test_generator_config_errors():
    with pytest.raises(ConfigError, match="unconditional: num_classes=10 .* set num_classes: 0"):
        gen(num_classes=10)
    with pytest.raises(ConfigError, match=r"shape \(3, 12, 12\).*data.image_size: 16"):
        gen(size=12)
    with pytest.raises(ConfigError, match="style='v3' is unknown; use 'modulated' .* or 'adain'"):
        gen(style="v3")
    with pytest.raises(ConfigError, match="noise_mode='fixed' is unknown; use one of \\['random', 'const', 'none'\\]"):
        gen()(randn(2, LATENT), noise_mode="fixed")
    with pytest.raises(ConfigError, match="mixing_prob=1.5"):
        gen(mixing_prob=1.5)
    with pytest.raises(ConfigError, match="width=1 leaves no channels at 64 px; use width >= 2"):
        StyleGANGenerator(LATENT, (3, 64, 64), width=1)


# ------------------------------------------------------------ discriminator


def test_discriminator_logits_and_gradients():
    torch.manual_seed(0)
    d = StyleGANDiscriminator((3, 16, 16), width=WIDTH)
    x = randn(6, 3, 16, 16).requires_grad_()  # 6 samples, group 4: MinibatchStdDev falls back to 3
    logits = d(x)
    assert logits.shape == (6,) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in d.parameters())


@pytest.mark.parametrize("size,channels", [(8, 1), (32, 3)])
def test_discriminator_sizes(size, channels):
    torch.manual_seed(0)
    d = StyleGANDiscriminator((channels, size, size), width=WIDTH, mbstd_group=2)
    assert d(randn(4, channels, size, size)).shape == (4,)
    assert len(d.blocks) == int(math.log2(size)) - 2


def test_discriminator_config_errors():
    with pytest.raises(ConfigError, match="StyleGANDiscriminator is unconditional: num_classes=3"):
        StyleGANDiscriminator((3, 16, 16), num_classes=3, width=WIDTH)
    with pytest.raises(ConfigError, match=r"StyleGANDiscriminator cannot make images of shape \(3, 12, 12\)"):
        StyleGANDiscriminator((3, 12, 12), width=WIDTH)
