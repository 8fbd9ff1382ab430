"""Fully connected generator and discriminator (Goodfellow et al. 2014; PacGAN's 2-D networks)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from lit_gans.nets.common import one_hot


class MLPGenerator(nn.Module):
    """z (and optionally a one-hot label, Mirza & Osindero 2014) -> hidden ReLU layers -> a sample of ``data_shape``.

    Args:
        latent_dim: size of the noise vector z.
        data_shape: shape of one sample, e.g. ``(2,)`` for 2-D toys or ``(1, 16, 16)`` for images.
        hidden: widths of the hidden layers.
        batch_norm: batch normalisation after each hidden linear layer.
        output: ``"tanh"`` for images in [-1, 1], ``"linear"`` for unbounded points.
        num_classes: >0 makes the generator conditional on class labels.
    """

    def __init__(
        self,
        latent_dim: int,
        data_shape: Sequence[int],
        hidden: Sequence[int] = (256, 256),
        batch_norm: bool = True,
        output: str = "tanh",
        num_classes: int = 0,
    ):
        super().__init__()
        if output not in ("tanh", "linear"):
            raise ValueError(f"output={output!r} is unknown; use 'tanh' for images or 'linear' for points")
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.data_shape = tuple(int(d) for d in data_shape)
        layers: list[nn.Module] = []
        width = latent_dim + max(num_classes, 0)
        for h in hidden:
            layers += [nn.Linear(width, h)]
            layers += [nn.BatchNorm1d(h)] if batch_norm else []
            layers += [nn.ReLU(inplace=True)]
            width = h
        layers.append(nn.Linear(width, math.prod(self.data_shape)))
        if output == "tanh":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        y = one_hot(labels, self.num_classes, z.shape[0], z.device)
        h = z if y is None else torch.cat([z, y], dim=1)
        return self.net(h).view(z.shape[0], *self.data_shape)


class MLPDiscriminator(nn.Module):
    """A sample (and optionally a one-hot label) -> hidden LeakyReLU layers -> one logit per sample, or a
    feature vector of ``outputs`` numbers (the critics of MMD GAN, Cramér GAN, McGAN, Fisher GAN).

    Args:
        data_shape: shape of one sample.
        hidden: widths of the hidden layers.
        dropout: dropout after each hidden layer (the original GAN used it).
        num_classes: >0 makes the discriminator conditional on class labels.
        outputs: numbers per sample: 1 gives logits shaped (N,); more gives features shaped (N, outputs).
    """

    def __init__(
        self,
        data_shape: Sequence[int],
        hidden: Sequence[int] = (256, 256),
        dropout: float = 0.0,
        num_classes: int = 0,
        outputs: int = 1,
    ):
        super().__init__()
        self.num_classes, self.outputs = num_classes, outputs
        layers: list[nn.Module] = []
        width = math.prod(int(d) for d in data_shape) + max(num_classes, 0)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2, inplace=True)]
            layers += [nn.Dropout(dropout)] if dropout > 0 else []
            width = h
        layers.append(nn.Linear(width, outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        h = x.flatten(1)
        y = one_hot(labels, self.num_classes, x.shape[0], x.device)
        if y is not None:
            h = torch.cat([h, y], dim=1)
        out = self.net(h)
        return out.squeeze(1) if self.outputs == 1 else out
