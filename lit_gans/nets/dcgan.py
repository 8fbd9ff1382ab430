"""DCGAN generator and discriminator (Radford et al. 2016), for square images of 8 to 128 px."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from lit_gans.nets.common import one_hot, power_of_two_size


class DCGANGenerator(nn.Module):
    """z -> 4x4 -> strided transposed convolutions with batch norm and ReLU, doubling to S x S -> tanh.

    Conditional (``num_classes > 0``): the one-hot label is concatenated to z.

    Args:
        latent_dim: size of z.
        data_shape: ``(channels, S, S)`` with S a power of two from 8 to 128.
        features: width of the last hidden layer; layers double towards the input.
        num_classes: >0 makes the generator conditional.
    """

    def __init__(self, latent_dim: int, data_shape: Sequence[int], features: int = 64, num_classes: int = 0):
        super().__init__()
        channels, _, log_size = power_of_two_size(data_shape, type(self).__name__, 8, 128)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        n_up = log_size - 2  # 4 px -> S px
        width = features * 2 ** (n_up - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + max(num_classes, 0), width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        y = one_hot(labels, self.num_classes, z.shape[0], z.device)
        h = z if y is None else torch.cat([z, y], dim=1)
        return self.net(h[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """S x S image -> strided convolutions with LeakyReLU (batch norm after the first) -> one logit, or a
    feature vector of ``outputs`` numbers (the critics of MMD GAN, Cramér GAN, McGAN, Fisher GAN).

    Conditional (``num_classes > 0``): the one-hot label is broadcast to extra input channels.

    Args:
        data_shape: ``(channels, S, S)`` with S a power of two from 8 to 128.
        features: width of the first layer; layers double towards the output.
        batch_norm: batch norm in the hidden layers (turn off for gradient penalties, as WGAN-GP does).
        num_classes: >0 makes the discriminator conditional.
        outputs: numbers per image: 1 gives logits shaped (N,); more gives features shaped (N, outputs).
    """

    def __init__(
        self, data_shape: Sequence[int], features: int = 64, batch_norm: bool = True, num_classes: int = 0,
        outputs: int = 1,
    ):
        super().__init__()
        channels, _, log_size = power_of_two_size(data_shape, type(self).__name__, 8, 128)
        self.num_classes, self.outputs = num_classes, outputs
        n_down = log_size - 2
        width = features
        layers: list[nn.Module] = [nn.Conv2d(channels + max(num_classes, 0), width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=not batch_norm)]
            layers += [nn.BatchNorm2d(width * 2)] if batch_norm else []
            layers += [nn.LeakyReLU(0.2, True)]
            width *= 2
        layers.append(nn.Conv2d(width, outputs, 4, 1, 0))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        y = one_hot(labels, self.num_classes, x.shape[0], x.device)
        if y is not None:
            x = torch.cat([x, y[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
        out = self.net(x).flatten(1)
        return out.squeeze(1) if self.outputs == 1 else out
