"""ResNet generator and discriminator of SNGAN (Miyato et al. 2018, appendix B.4) for CIFAR-sized images."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.nets.common import one_hot, power_of_two_size


class _GBlock(nn.Module):
    """BN-ReLU-upsample-conv3-BN-ReLU-conv3 with a 1x1 upsampled shortcut."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(c_in), nn.BatchNorm2d(c_out)
        self.conv1, self.conv2 = nn.Conv2d(c_in, c_out, 3, 1, 1), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class _DBlock(nn.Module):
    """ReLU-conv3-ReLU-conv3(-avgpool) with a learnable shortcut; ``first`` skips the leading ReLU."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1, self.conv2 = nn.Conv2d(c_in, c_out, 3, 1, 1), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if (c_in != c_out or down) else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.first:
            s = self.shortcut(F.avg_pool2d(x, 2) if self.down else x)
        else:
            s = self.shortcut(x)
            s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


def projection_logits(features: Tensor, linear: nn.Linear, embed: nn.Embedding | None, labels: Tensor | None) -> Tensor:
    """Global sum pooling of ``features`` (N, C, H, W) to phi(x), then ``linear(phi(x))`` plus, with ``embed``,
    the projection <embed(y), phi(x)> (Miyato & Koyama 2018)."""
    h = features.sum(dim=(2, 3))
    out = linear(h).squeeze(1)
    if embed is not None:
        if labels is None:
            raise ValueError(f"this network is conditional on {embed.num_embeddings} classes: pass labels")
        out = out + (embed(labels.long()) * h).sum(1)
    return out


class ResNetGenerator(nn.Module):
    """z -> linear 4x4 -> up-sampling residual blocks to S x S -> BN-ReLU-conv3-tanh.

    Args:
        latent_dim: size of z (128 in the paper).
        data_shape: ``(channels, S, S)`` with S a power of two from 16 to 128 (32 for CIFAR-10).
        features: channels of every block (256 in the paper).
        num_classes: >0 concatenates a one-hot label to z.
    """

    def __init__(self, latent_dim: int, data_shape: Sequence[int], features: int = 256, num_classes: int = 0):
        super().__init__()
        channels, _, log_size = power_of_two_size(data_shape, type(self).__name__, 16, 128)
        self.latent_dim, self.num_classes, self.features = latent_dim, num_classes, features
        self.linear = nn.Linear(latent_dim + max(num_classes, 0), 4 * 4 * features)
        self.blocks = nn.Sequential(*[_GBlock(features, features) for _ in range(log_size - 2)])
        self.out = nn.Sequential(nn.BatchNorm2d(features), nn.ReLU(), nn.Conv2d(features, channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        y = one_hot(labels, self.num_classes, z.shape[0], z.device)
        h = z if y is None else torch.cat([z, y], dim=1)
        h = self.linear(h).view(z.shape[0], self.features, 4, 4)
        return self.out(self.blocks(h))


class ResNetDiscriminator(nn.Module):
    """Residual blocks down to 8x8, two more at 8x8, ReLU, global sum pooling, linear -> one logit.

    Conditional (``num_classes > 0``): a projection term <embed(y), phi(x)> (Miyato & Koyama 2018).

    Args:
        data_shape: ``(channels, S, S)`` with S a power of two from 16 to 128.
        features: channels of every block (128 in the paper).
        num_classes: >0 makes the discriminator conditional.
    """

    def __init__(self, data_shape: Sequence[int], features: int = 128, num_classes: int = 0):
        super().__init__()
        channels, _, log_size = power_of_two_size(data_shape, type(self).__name__, 16, 128)
        self.num_classes = num_classes
        blocks = [_DBlock(channels, features, down=True, first=True)]
        blocks += [_DBlock(features, features, down=True) for _ in range(log_size - 4)]
        blocks += [_DBlock(features, features, down=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features) if num_classes > 0 else None

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return projection_logits(F.relu(self.blocks(x)), self.linear, self.embed, labels)
