"""Autoencoder discriminators (EBGAN, BEGAN, MAGAN): a sample is encoded to a small code and decoded back,
and the critic's energy is the per-sample reconstruction error (``reconstruction_energy``).

Both networks map ``(x, labels=None)`` to a reconstruction of ``x``'s shape; ``encode`` and ``decode`` give
the two halves (EBGAN's pulling-away term reads the code).
"""

from __future__ import annotations

import math
from typing import Literal, Optional, Sequence

from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.nets.common import power_of_two_size

Activation = Literal["relu", "leaky_relu", "elu"]
EnergyNorm = Literal["l2_norm", "l2", "l1"]


def activation_layer(name: str) -> nn.Module:
    """ReLU, LeakyReLU(0.2) (DCGAN's) or ELU (BEGAN's) by name."""
    layers = {"relu": lambda: nn.ReLU(True), "leaky_relu": lambda: nn.LeakyReLU(0.2, True), "elu": lambda: nn.ELU(inplace=True)}
    if name not in layers:
        raise ConfigError(f"activation={name!r} is unknown; choose one of {sorted(layers)}")
    return layers[name]()


def _check_sizes(net: str, width: int, code: int) -> None:
    if width < 1 or code < 1:
        raise ConfigError(f"{net} needs width >= 1 and code >= 1 (got width={width}, code={code}); "
                          "set model.d_width and model.code to positive sizes")


class MLPAutoencoder(nn.Module):
    """x -> ``width`` units -> a code of ``code`` numbers -> ``width`` units -> x, for 2-D toys and flat data.

    Args:
        data_shape: shape of one sample (any; it is flattened).
        width: units of the hidden layers.
        code: size of the code (a bottleneck: for 2-D points it must be smaller than 2 to stop the identity map).
        activation: ``relu``, ``leaky_relu`` or ``elu`` after each hidden layer (the code is linear).
    """

    def __init__(self, data_shape: Sequence[int], width: int = 200, code: int = 1, activation: Activation = "leaky_relu"):
        super().__init__()
        _check_sizes(type(self).__name__, width, code)
        self.data_shape = tuple(int(d) for d in data_shape)
        dim = math.prod(self.data_shape)
        self.encoder = nn.Sequential(nn.Linear(dim, width), activation_layer(activation), nn.Linear(width, code))
        self.decoder = nn.Sequential(nn.Linear(code, width), activation_layer(activation), nn.Linear(width, dim))

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x.flatten(1))

    def decode(self, h: Tensor) -> Tensor:
        return self.decoder(h).view(h.shape[0], *self.data_shape)

    def forward(self, x: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        return self.decode(self.encode(x))


class ConvAutoencoder(nn.Module):
    """S x S image -> strided 4x4 convolutions (DCGAN's encoder, width doubling) down to 4 x 4 -> a linear code of
    ``code`` numbers -> a linear layer back to 4 x 4 -> transposed convolutions (width halving) -> S x S image.
    The output is linear (energies compare it to images in [-1, 1]).

    Args:
        data_shape: ``(channels, S, S)`` with S a power of two from 8 to 128.
        width: features of the first (and last) convolution.
        code: size of the code (BEGAN's embedding h: 64).
        activation: ``elu`` (BEGAN), ``leaky_relu`` (EBGAN, MAGAN) or ``relu``.
        batch_norm: batch norm after the hidden convolutions (EBGAN's networks have it; BEGAN's do not).
    """

    def __init__(self, data_shape: Sequence[int], width: int = 64, code: int = 64, activation: Activation = "elu",
                 batch_norm: bool = False):
        super().__init__()
        _check_sizes(type(self).__name__, width, code)
        channels, _, log_size = power_of_two_size(data_shape, type(self).__name__, 8, 128)
        self.data_shape = tuple(int(d) for d in data_shape)
        n = log_size - 2  # S px -> 4 px in n halvings
        down: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), activation_layer(activation)]
        w = width
        for _ in range(n - 1):
            down += [nn.Conv2d(w, w * 2, 4, 2, 1, bias=not batch_norm)]
            down += [nn.BatchNorm2d(w * 2)] if batch_norm else []
            down += [activation_layer(activation)]
            w *= 2
        self.inner = (w, 4, 4)
        self.encoder = nn.Sequential(*down, nn.Flatten(), nn.Linear(w * 16, code))
        self.project = nn.Sequential(nn.Linear(code, w * 16), activation_layer(activation))
        up: list[nn.Module] = []
        for _ in range(n - 1):
            up += [nn.ConvTranspose2d(w, w // 2, 4, 2, 1, bias=not batch_norm)]
            up += [nn.BatchNorm2d(w // 2)] if batch_norm else []
            up += [activation_layer(activation)]
            w //= 2
        self.decoder = nn.Sequential(*up, nn.ConvTranspose2d(w, channels, 4, 2, 1))

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, h: Tensor) -> Tensor:
        return self.decoder(self.project(h).view(h.shape[0], *self.inner))

    def forward(self, x: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        return self.decode(self.encode(x))


def build_autoencoder(architecture: str, data_shape: Sequence[int], width: int, code: int, activation: Activation,
                      batch_norm: bool) -> nn.Module:
    """The autoencoder critic for ``architecture`` (``mlp`` or ``dcgan``)."""
    if architecture == "mlp":
        return MLPAutoencoder(data_shape, width, code, activation)
    if architecture == "dcgan":
        return ConvAutoencoder(data_shape, width, code, activation, batch_norm)
    raise ConfigError(f"model.architecture={architecture!r}: the autoencoder critics come as 'mlp' (toys, flat data) "
                      "or 'dcgan' (square images); set one of them")


def reconstruction_energy(x: Tensor, reconstruction: Tensor, norm: EnergyNorm = "l2") -> Tensor:
    """Per-sample energy, shape (N,): the Euclidean norm of the reconstruction error (``l2_norm``: EBGAN's
    ``||Dec(Enc(x)) - x||``), or the mean over a sample's entries of its square (``l2``: MAGAN) or its absolute
    value (``l1``: BEGAN's eta = 1)."""
    diff = (reconstruction - x).flatten(1).float()
    if norm == "l2_norm":
        return (diff.pow(2).sum(1) + 1e-12).sqrt()  # the small floor keeps the gradient finite at a perfect reconstruction
    return diff.pow(2).mean(1) if norm == "l2" else diff.abs().mean(1)


__all__ = ["ConvAutoencoder", "MLPAutoencoder", "activation_layer", "build_autoencoder", "reconstruction_energy"]
