"""Layers of the progressive and style-based generators (Karras et al. 2018, section 4): the equalised
learning rate, pixel normalisation and the minibatch standard deviation.

Equalised learning rate: a layer keeps its weights drawn from N(0, 1) and multiplies them at run time by
He's constant ``gain / sqrt(fan_in)``, so that Adam, whose steps do not depend on a parameter's scale,
changes every layer at the same relative speed. ``lr_mul`` scales the learning rate of one layer on top
(StyleGAN's mapping network uses 0.01): weights start at N(0, 1 / lr_mul^2) and are multiplied by lr_mul.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class _Equalized(nn.Module):
    def _init_equalized(self, shape: tuple[int, ...], fan_in: int, bias: bool, gain: float, lr_mul: float,
                        bias_init: float) -> None:
        if fan_in < 1 or lr_mul <= 0:
            raise ValueError(f"{type(self).__name__}: fan_in={fan_in} and lr_mul={lr_mul} must be positive")
        self.weight = nn.Parameter(torch.randn(shape) / lr_mul)
        self.bias = nn.Parameter(torch.full((shape[0],), float(bias_init) / lr_mul)) if bias else None
        self.weight_scale = gain / math.sqrt(fan_in) * lr_mul  # He's constant, applied at run time
        self.lr_mul = lr_mul

    def scaled(self) -> tuple[Tensor, Tensor | None]:
        """The weight and bias the layer computes with."""
        bias = None if self.bias is None else self.bias * self.lr_mul
        return self.weight * self.weight_scale, bias


class EqualizedLinear(_Equalized):
    """A fully connected layer with the equalised learning rate (module docstring)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, gain: float = math.sqrt(2),
                 lr_mul: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self._init_equalized((out_features, in_features), in_features, bias, gain, lr_mul, bias_init)

    def forward(self, x: Tensor) -> Tensor:
        weight, bias = self.scaled()
        return F.linear(x, weight, bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, lr_mul={self.lr_mul}"


class EqualizedConv2d(_Equalized):
    """A convolution (stride 1, 'same' padding) with the equalised learning rate (module docstring)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 gain: float = math.sqrt(2), lr_mul: float = 1.0):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self._init_equalized(shape, in_channels * kernel_size**2, bias, gain, lr_mul, 0.0)

    def forward(self, x: Tensor) -> Tensor:
        weight, bias = self.scaled()
        return F.conv2d(x, weight, bias, padding=self.kernel_size // 2)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"


class PixelNorm(nn.Module):
    """Each pixel's feature vector scaled to unit mean square (ProGAN, eq. in section 4.2)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MinibatchStdDev(nn.Module):
    """ProGAN's minibatch standard deviation (section 3): within groups of ``group_size`` samples, the
    standard deviation of every feature at every pixel, averaged into one number per group and appended
    to every sample of the group as one more constant channel. A batch that ``group_size`` does not divide
    uses the largest group size below it that does."""

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        if group_size < 1:
            raise ValueError(f"MinibatchStdDev group_size={group_size} must be at least 1")
        self.group_size, self.eps = group_size, eps

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        while n % g:
            g -= 1
        y = x.float().reshape(g, n // g, c, h, w)  # sample i belongs to group i % (n // g), as the reference groups
        std = (y.var(dim=0, unbiased=False) + self.eps).sqrt()  # [n // g, c, h, w]
        std = std.mean(dim=(1, 2, 3))  # one number per group
        extra = std.repeat(g).to(x.dtype)[:, None, None, None].expand(n, 1, h, w)
        return torch.cat([x, extra], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


__all__ = ["EqualizedConv2d", "EqualizedLinear", "MinibatchStdDev", "PixelNorm"]
