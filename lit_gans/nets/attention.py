"""Self-attention for convolutional feature maps (SAGAN, Zhang et al. 2019, section 4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SelfAttention(nn.Module):
    """``x + gamma * o(g(x) softmax(theta(x)^T phi(x)))``: every position attends to every other.

    Query and key (``theta``, ``phi``) have C/8 channels, the value (``g``) C/2; keys and values are
    max-pooled 2x2 to cut the cost by four, as BigGAN-PyTorch does. ``gamma`` is learnt and starts at 0,
    so a fresh block passes its input through unchanged and the network learns local structure first.
    All projections are 1x1 convolutions without bias; spectral norm, when the network uses it, is
    applied to them by the network.

    Args:
        channels: channels of the feature map (at least 8).
    """

    def __init__(self, channels: int):
        super().__init__()
        if channels < 8:
            raise ValueError(f"SelfAttention needs at least 8 channels, got {channels}")
        self.theta = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.phi = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.g = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.o = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        pool = 2 if h % 2 == 0 and w % 2 == 0 and h * w >= 4 else 1
        query = self.theta(x).flatten(2)  # (n, c/8, hw)
        key = F.max_pool2d(self.phi(x), pool).flatten(2)  # (n, c/8, hw/4)
        value = F.max_pool2d(self.g(x), pool).flatten(2)  # (n, c/2, hw/4)
        attention = torch.softmax(query.transpose(1, 2) @ key, dim=-1)  # (n, hw, hw/4)
        out = (value @ attention.transpose(1, 2)).view(n, c // 2, h, w)
        return x + self.gamma * self.o(out)


__all__ = ["SelfAttention"]
