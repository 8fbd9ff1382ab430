"""Style-based generators and StyleGAN2's residual discriminator: StyleGAN (Karras et al. 2019, "A
Style-Based Generator Architecture for Generative Adversarial Networks") and StyleGAN2 (Karras et al.
2020, "Analyzing and Improving the Image Quality of StyleGAN"), for square images of 8 to 1024 px.

Generator: z -> ``MappingNetwork`` (8 equalised linear layers, learning rate x0.01) -> w, repeated into
one w per layer (``num_ws`` of them) -> ``SynthesisNetwork``: a learnt 4x4 constant, then per resolution
an up-sampling 3x3 conv and a 3x3 conv, each followed by a noise input, a bias and a leaky ReLU, and
styled by its own w:

- ``style="modulated"`` (StyleGAN2): the convs are modulated and demodulated by an affine map of w
  (``modulated_conv2d``), and every resolution adds its toRGB (a modulated 1x1 conv, not demodulated)
  to the up-sampled image so far (the "skip" generator).
- ``style="adain"`` (StyleGAN): plain equalised convs, then instance norm and AdaIN (a per-channel
  scale and bias from affine maps of w); the constant has its own noise and AdaIN before the first conv;
  one toRGB at the last resolution.

``num_ws`` is ``2 * log2(S) - 2`` for both styles (18 at 1024 px, 4 at 8 px). Modulated: one w per conv
(one conv at 4x4, two at each higher resolution) plus one for the last toRGB; the toRGB of a resolution
reads the w of the next resolution's first conv, as the reference does. AdaIN: one w per AdaIN (two per
resolution, the 4x4 constant's included); its toRGB reads none.

Conventions, the same in every network here: every equalised layer has gain 1 and every leaky ReLU
(slope 0.2) is multiplied by sqrt(2), as the StyleGAN2 reference applies its activation gain (so biases
are not scaled by the gain); linear layers (affines, toRGB, skips, the logit) are not. Up-sampling is
bilinear (``F.interpolate``, align_corners=False): the reference's [1, 3, 3, 1] FIR filter with edges
replicated instead of zero-padded. Down-sampling in the discriminator is 2x2 average pooling, in place
of the reference's FIR filter.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.nets.common import power_of_two_size
from lit_gans.nets.equalized import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from lit_gans.nets.progan import channels_at as _channels  # StyleGAN2's config F keeps 512 channels up to 128 px

STYLES = ("modulated", "adain")
NOISE_MODES = ("random", "const", "none")
_SQRT2 = math.sqrt(2)


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2) * _SQRT2  # keeps the second moment of He-initialised layers


def _up(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def _check_width(net: str, width: int, size: int) -> None:
    if _channels(width, size) < 1:
        raise ConfigError(f"{net}: width={width} leaves no channels at {size} px; use width >= {max(size // 32, 1)}")


def _check_unconditional(net: str, num_classes: int) -> None:
    if num_classes > 0:
        raise ConfigError(f"{net} is unconditional: num_classes={num_classes} is not supported; set num_classes: 0")


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True, eps: float = 1e-8) -> Tensor:
    """StyleGAN2's modulated convolution (section 2.2), stride 1 and 'same' padding.

    Each sample's weights are ``weight[o, i] * styles[n, i]``; demodulation divides each output channel's
    weights by ``sqrt(sum of their squares + eps)``, so unit-variance iid inputs give unit-variance outputs.
    All samples run as one grouped convolution.

    Args:
        x: ``[N, I, H, W]``.
        weight: ``[O, I, k, k]``, already scaled (``EqualizedConv2d.scaled()``).
        styles: ``[N, I]``.
    """
    n, i, h, w = x.shape
    o, _, kh, kw = weight.shape
    if styles.shape != (n, i):
        raise ValueError(f"styles must have shape ({n}, {i}) for input {tuple(x.shape)}, got {tuple(styles.shape)}")
    wt = weight[None] * styles[:, None, :, None, None]  # [N, O, I, k, k]
    if demodulate:
        wt = wt * torch.rsqrt(wt.square().sum(dim=(2, 3, 4), keepdim=True) + eps)
    out = F.conv2d(x.reshape(1, n * i, h, w), wt.reshape(n * o, i, kh, kw), padding=kh // 2, groups=n)
    return out.reshape(n, o, *out.shape[2:])


class MappingNetwork(nn.Module):
    """z -> pixel norm -> ``num_layers`` x (equalised linear, leaky ReLU) -> w (StyleGAN, section 2).

    ``w_avg`` (a buffer, zeros at the start) tracks the mean w for the truncation trick.

    Args:
        z_dim: size of z.
        w_dim: size of w (and of every hidden layer).
        num_layers: linear layers.
        lr_mul: learning-rate multiplier of the layers (0.01 in both papers).
        w_avg_beta: ``w_avg`` moves ``1 - w_avg_beta`` of the way to each batch's mean w.
    """

    w_avg: Tensor

    def __init__(self, z_dim: int, w_dim: int, num_layers: int = 8, lr_mul: float = 0.01, w_avg_beta: float = 0.995):
        super().__init__()
        if num_layers < 1 or not 0 <= w_avg_beta <= 1:
            raise ConfigError(f"MappingNetwork: num_layers={num_layers} must be >= 1 and w_avg_beta={w_avg_beta} "
                              "in [0, 1], e.g. 8 and 0.995")
        self.z_dim, self.w_dim, self.w_avg_beta = z_dim, w_dim, w_avg_beta
        self.norm = PixelNorm()
        dims = [z_dim] + [w_dim] * num_layers
        self.layers = nn.ModuleList(EqualizedLinear(a, b, gain=1.0, lr_mul=lr_mul) for a, b in zip(dims, dims[1:]))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor, psi: float = 1.0, cutoff: Optional[int] = None, num_ws: int = 1,
                update_w_avg: bool = False) -> Tensor:
        """``[N, num_ws, w_dim]``: w repeated, the first ``cutoff`` (None: all) truncated towards
        ``w_avg`` by ``psi`` (1: none). ``update_w_avg`` first moves ``w_avg`` towards this batch's mean w."""
        w = self.norm(z)
        for layer in self.layers:
            w = _lrelu(layer(w))
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = w[:, None].repeat(1, num_ws, 1)
        if psi != 1:
            ws[:, :cutoff] = self.w_avg + psi * (ws[:, :cutoff] - self.w_avg)
        return ws


class _NoiseBiasAct(nn.Module):
    """Per-layer noise (one N(0, 1) image per sample times a learnt strength, 0 at the start), bias, leaky ReLU.

    ``noise_const`` ([r, r], a buffer drawn at construction) is the noise of ``noise_mode="const"``.
    """

    noise_const: Tensor

    def __init__(self, channels: int, resolution: int, noise: bool):
        super().__init__()
        self.noise = noise
        if noise:
            self.noise_strength = nn.Parameter(torch.zeros([]))
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, noise_mode: str) -> Tensor:
        if self.noise and noise_mode == "random":
            n, _, h, w = x.shape
            x = x + torch.randn(n, 1, h, w, device=x.device, dtype=x.dtype) * self.noise_strength
        elif self.noise and noise_mode == "const":
            x = x + self.noise_const.to(x.dtype) * self.noise_strength
        return _lrelu(x + self.bias[:, None, None])


class _ModulatedLayer(nn.Module):
    """(2x up-sampling,) modulated 3x3 conv, noise, bias, leaky ReLU (StyleGAN2)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool, noise: bool):
        super().__init__()
        self.up = up
        self.affine = EqualizedLinear(w_dim, in_channels, gain=1.0, bias_init=1.0)
        self.conv = EqualizedConv2d(in_channels, out_channels, 3, bias=False, gain=1.0)
        self.act = _NoiseBiasAct(out_channels, resolution, noise)

    def forward(self, x: Tensor, w: Tensor, noise_mode: str) -> Tensor:
        if self.up:
            x = _up(x)
        weight, _ = self.conv.scaled()
        return self.act(modulated_conv2d(x, weight, self.affine(w)), noise_mode)


class _ModulatedToRGB(nn.Module):
    """Modulated 1x1 conv to image channels, not demodulated, linear (StyleGAN2)."""

    def __init__(self, in_channels: int, channels: int, w_dim: int):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, gain=1.0, bias_init=1.0)
        self.conv = EqualizedConv2d(in_channels, channels, 1, gain=1.0)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        weight, bias = self.conv.scaled()
        return modulated_conv2d(x, weight, self.affine(w), demodulate=False) + bias[:, None, None]


class _AdaINLayer(nn.Module):
    """(2x up-sampling, equalised 3x3 conv,) noise, bias, leaky ReLU, instance norm, AdaIN (StyleGAN);
    ``in_channels=0``: no conv (the 4x4 constant's layer)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool, noise: bool,
                 eps: float = 1e-8):
        super().__init__()
        self.up, self.eps = up, eps
        self.conv = EqualizedConv2d(in_channels, out_channels, 3, bias=False, gain=1.0) if in_channels else None
        self.act = _NoiseBiasAct(out_channels, resolution, noise)
        self.style_scale = EqualizedLinear(w_dim, out_channels, gain=1.0, bias_init=1.0)
        self.style_bias = EqualizedLinear(w_dim, out_channels, gain=1.0, bias_init=0.0)

    def forward(self, x: Tensor, w: Tensor, noise_mode: str) -> Tensor:
        if self.up:
            x = _up(x)
        if self.conv is not None:
            x = self.conv(x)
        x = self.act(x, noise_mode)
        x = x - x.mean(dim=(2, 3), keepdim=True)
        x = x * torch.rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + self.eps)
        return x * self.style_scale(w)[:, :, None, None] + self.style_bias(w)[:, :, None, None]


class SynthesisNetwork(nn.Module):
    """ws ``[N, num_ws, w_dim]`` -> linear images ``[N, C, S, S]`` (module docstring).

    Args:
        w_dim: size of w.
        data_shape: ``(channels, S, S)`` with S a power of two from 8 to 1024.
        width: channels up to 32 px, halving at each resolution above.
        style: ``"modulated"`` (StyleGAN2) or ``"adain"`` (StyleGAN).
        noise: per-layer noise inputs (False: none, and ``noise_mode`` changes nothing).
    """

    def __init__(self, w_dim: int, data_shape: Sequence[int], width: int = 512, style: str = "modulated",
                 noise: bool = True):
        super().__init__()
        name = type(self).__name__
        channels, size, log_size = power_of_two_size(data_shape, name, 8, 1024)
        if style not in STYLES:
            raise ConfigError(f"{name}: style={style!r} is unknown; use 'modulated' (StyleGAN2) or 'adain' (StyleGAN)")
        _check_width(name, width, size)
        self.w_dim, self.style = w_dim, style
        resolutions = [2**k for k in range(2, log_size + 1)]
        self.const = nn.Parameter(torch.randn(_channels(width, 4), 4, 4))
        self.layers = nn.ModuleList()
        layer = _ModulatedLayer if style == "modulated" else _AdaINLayer
        for r in resolutions:
            c_in, c_out = _channels(width, max(r // 2, 4)), _channels(width, r)
            if r == 4 and style == "modulated":
                self.layers.append(layer(c_in, c_out, w_dim, r, up=False, noise=noise))
            elif r == 4:
                self.layers.append(layer(0, c_out, w_dim, r, up=False, noise=noise))
                self.layers.append(layer(c_out, c_out, w_dim, r, up=False, noise=noise))
            else:
                self.layers.append(layer(c_in, c_out, w_dim, r, up=True, noise=noise))
                self.layers.append(layer(c_out, c_out, w_dim, r, up=False, noise=noise))
        self.torgbs = nn.ModuleList()
        if style == "modulated":
            self.torgbs.extend(_ModulatedToRGB(_channels(width, r), channels, w_dim) for r in resolutions)
            self.num_ws = len(self.layers) + 1
        else:
            self.torgbs.append(EqualizedConv2d(_channels(width, size), channels, 1, gain=1.0))
            self.num_ws = len(self.layers)

    def forward(self, ws: Tensor, noise_mode: str = "random") -> Tensor:
        if noise_mode not in NOISE_MODES:
            raise ConfigError(f"noise_mode={noise_mode!r} is unknown; use one of {list(NOISE_MODES)}")
        if ws.dim() != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape (N, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        x = self.const[None].expand(ws.shape[0], -1, -1, -1)
        if self.style == "adain":
            for i, layer in enumerate(self.layers):
                x = layer(x, ws[:, i], noise_mode)
            return self.torgbs[0](x)
        img: Optional[Tensor] = None
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], noise_mode)
            if i % 2 == 0:  # the last conv of a resolution: layer 0 at 4x4, then layers 2, 4, ...
                rgb = self.torgbs[i // 2](x, ws[:, i + 1])
                img = rgb if img is None else _up(img) + rgb
        assert img is not None
        return img


class StyleGANGenerator(nn.Module):
    """z -> ``mapping`` -> ws -> ``synthesis`` -> linear (no tanh) images; unconditional (module docstring).

    Training mode (``self.training``): every call moves ``mapping.w_avg`` towards the batch's mean w and,
    with probability ``mixing_prob``, mixes styles (StyleGAN, section 3.1): the layers from a crossover on
    read the w of a second z. Random numbers, in this order: ``torch.rand(())`` for the coin and
    ``torch.randint(1, num_ws, ())`` for the crossover (one per batch) from the global CPU generator, then
    ``torch.randn_like(z)`` for the second z from z's device's generator; ``torch.manual_seed`` makes a
    batch reproducible. No draws when ``mixing_prob == 0``; only the coin when it comes up "no mixing".
    Eval mode: no mixing, ``w_avg`` untouched.

    Args:
        latent_dim: size of z.
        data_shape: ``(channels, S, S)`` with S a power of two from 8 to 1024.
        num_classes: must be 0.
        width: synthesis channels up to 32 px (``SynthesisNetwork``).
        w_dim: size of w.
        mapping_layers: linear layers of the mapping network.
        mapping_lr_mul: their learning-rate multiplier.
        style: ``"modulated"`` (StyleGAN2) or ``"adain"`` (StyleGAN).
        w_avg_beta: decay of ``mapping.w_avg``.
        mixing_prob: probability that a training batch mixes styles (0.9 in both papers).
    """

    def __init__(self, latent_dim: int, data_shape: Sequence[int], num_classes: int = 0, width: int = 512,
                 w_dim: int = 512, mapping_layers: int = 8, mapping_lr_mul: float = 0.01, style: str = "modulated",
                 w_avg_beta: float = 0.995, mixing_prob: float = 0.9):
        super().__init__()
        _check_unconditional(type(self).__name__, num_classes)
        if not 0 <= mixing_prob <= 1:
            raise ConfigError(f"mixing_prob={mixing_prob} must be a probability in [0, 1], e.g. 0.9 (0: no mixing)")
        self.latent_dim, self.num_classes, self.mixing_prob = latent_dim, num_classes, mixing_prob
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers, mapping_lr_mul, w_avg_beta)
        self.synthesis = SynthesisNetwork(w_dim, data_shape, width, style)
        self.num_ws = self.synthesis.num_ws
        self.truncation_psi: float = 1.0
        self.truncation_cutoff: Optional[int] = None

    def forward(self, z: Tensor, labels: Optional[Tensor] = None, *, psi: Optional[float] = None,
                cutoff: Optional[int] = None, noise_mode: str = "random") -> Tensor:
        """Images for ``z``; ``psi``/``cutoff`` default to the attributes ``truncation_psi`` (1: none) and
        ``truncation_cutoff`` (None: every layer), which sampling code sets for the callers that pass only z."""
        if psi is None:
            psi, cutoff = self.truncation_psi, self.truncation_cutoff if cutoff is None else cutoff
        ws = self.mapping(z, psi, cutoff, self.num_ws, update_w_avg=self.training)
        if self.training and self.mixing_prob > 0 and torch.rand(()).item() < self.mixing_prob:
            crossover = int(torch.randint(1, self.num_ws, ()).item())
            ws2 = self.mapping(torch.randn_like(z), psi, cutoff, self.num_ws)
            ws = torch.cat([ws[:, :crossover], ws2[:, crossover:]], dim=1)
        return self.synthesis(ws, noise_mode)

    def styles_from(self, z_list: Sequence[Tensor], crossover_layers: Sequence[int], psi: float = 1.0,
                    cutoff: Optional[int] = None) -> Tensor:
        """ws for a style-mixing grid: layers ``[0, c1)`` from ``z_list[0]``, ``[c1, c2)`` from ``z_list[1]``, ...
        with ``crossover_layers = [c1, c2, ...]``. E.g. ``styles_from([z_a, z_b], [4])``: coarse styles of a,
        the rest of b. Feed the result to ``synthesis``; ``w_avg`` is not updated."""
        cuts = [int(c) for c in crossover_layers]
        bounds = [0, *cuts, self.num_ws]
        if len(cuts) != len(z_list) - 1 or any(a >= b for a, b in zip(bounds, bounds[1:])):
            raise ConfigError(f"crossover_layers={cuts} must be {len(z_list) - 1} increasing layer indices in "
                              f"[1, {self.num_ws - 1}] for {len(z_list)} latents, e.g. [{self.num_ws // 2}] for two")
        parts = [self.mapping(z, psi, cutoff, self.num_ws)[:, a:b] for z, a, b in zip(z_list, bounds, bounds[1:])]
        return torch.cat(parts, dim=1)


def is_style_based(generator: nn.Module) -> bool:
    """Whether a generator maps z to w and synthesises from w (``mapping`` and ``synthesis``), as StyleGAN's
    does: path length, PPL in W and truncation in W (psi) need one."""
    return hasattr(generator, "mapping") and hasattr(generator, "synthesis")


class _ResidualDBlock(nn.Module):
    """conv 3x3, conv 3x3 + 2x average pooling, plus a 1x1 skip of the pooled input, summed / sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3, gain=1.0)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, gain=1.0)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, gain=1.0)

    def forward(self, x: Tensor) -> Tensor:
        skip = self.skip(F.avg_pool2d(x, 2))
        x = F.avg_pool2d(_lrelu(self.conv1(_lrelu(self.conv0(x)))), 2)
        return (x + skip) / _SQRT2  # keeps the variance of the sum of two unit-variance paths


class StyleGANDiscriminator(nn.Module):
    """StyleGAN2's residual discriminator (section 4.1, figure 7c): fromRGB 1x1, residual blocks halving
    to 4x4, minibatch standard deviation, conv 3x3, linear, linear -> logits ``[N]``.

    Args:
        data_shape: ``(channels, S, S)`` with S a power of two from 8 to 1024.
        num_classes: must be 0.
        width: channels up to 32 px, halving at each resolution above.
        mbstd_group: group size of the minibatch standard deviation (a batch it does not divide uses a
            smaller divisor).
    """

    def __init__(self, data_shape: Sequence[int], num_classes: int = 0, width: int = 512, mbstd_group: int = 4):
        super().__init__()
        name = type(self).__name__
        _check_unconditional(name, num_classes)
        channels, size, log_size = power_of_two_size(data_shape, name, 8, 1024)
        _check_width(name, width, size)
        self.num_classes = num_classes
        self.from_rgb = EqualizedConv2d(channels, _channels(width, size), 1, gain=1.0)
        self.blocks = nn.ModuleList(
            _ResidualDBlock(_channels(width, 2**k), _channels(width, 2 ** (k - 1))) for k in range(log_size, 2, -1)
        )
        c4 = _channels(width, 4)
        self.mbstd = MinibatchStdDev(mbstd_group)
        self.conv = EqualizedConv2d(c4 + 1, c4, 3, gain=1.0)
        self.fc = EqualizedLinear(c4 * 16, c4, gain=1.0)
        self.out = EqualizedLinear(c4, 1, gain=1.0)

    def forward(self, x: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        x = _lrelu(self.from_rgb(x))
        for block in self.blocks:
            x = block(x)
        x = _lrelu(self.conv(self.mbstd(x)))
        return self.out(_lrelu(self.fc(x.flatten(1)))).flatten()


__all__ = [
    "MappingNetwork",
    "is_style_based",
    "StyleGANDiscriminator",
    "StyleGANGenerator",
    "SynthesisNetwork",
    "modulated_conv2d",
]
