"""Critics with a second output: a trunk shared by the adversarial head and an auxiliary network.

InfoGAN's Q network and AC-GAN's auxiliary classifier read the discriminator's last hidden features.
``SplitCritic`` takes an MLP or DCGAN discriminator apart into its trunk (every layer but the last) and
its head (the last layer, one logit), optionally with a fully connected layer shared by both heads on top
of the trunk (InfoGAN's reference: FC 1024), and returns ``(logits, features)``; the family's auxiliary network
(``AuxiliaryHead``) maps the features to its outputs. The loop (``AdversarialModule.judge``) applies the
network with the ``auxiliary`` role to the features.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.nets.dcgan import DCGANDiscriminator
from lit_gans.nets.mlp import MLPDiscriminator


class SplitCritic(nn.Module):
    """An MLP or DCGAN discriminator as trunk + head: ``forward(x, labels)`` returns the logits (N,) and the
    trunk's features flattened to (N, ``feature_dim``).

    Args:
        critic: a ``DCGANDiscriminator`` or ``MLPDiscriminator`` (unconditional).
        data_shape: shape of one sample, to measure the features.
        shared: units of a fully connected layer (linear, batch norm when ``batch_norm``, LeakyReLU(0.2))
            added to the trunk; the head is then a linear layer on it. 0 keeps the critic's own layers.
        batch_norm: batch norm in the shared layer.
    """

    def __init__(self, critic: nn.Module, data_shape: Sequence[int], shared: int = 0, batch_norm: bool = True):
        super().__init__()
        if not isinstance(critic, (DCGANDiscriminator, MLPDiscriminator)) or critic.num_classes:
            raise ConfigError(f"a critic with an auxiliary head needs an unconditional mlp or dcgan discriminator, "
                              f"got {type(critic).__name__}; set model.architecture to mlp or dcgan")
        self.flatten_input = isinstance(critic, MLPDiscriminator)
        self.trunk, self.head = critic.net[:-1], critic.net[-1]
        was_training = self.trunk.training
        with torch.no_grad():
            self.feature_dim = self.trunk.eval()(self._input(torch.zeros(2, *data_shape))).flatten(1).shape[1]
        self.trunk.train(was_training)
        if shared:
            norm = [nn.BatchNorm1d(shared)] if batch_norm else []
            self.trunk = nn.Sequential(*self.trunk, nn.Flatten(), nn.Linear(self.feature_dim, shared), *norm,
                                       nn.LeakyReLU(0.2, True))
            self.head, self.feature_dim = nn.Linear(shared, 1), shared

    def _input(self, x: Tensor) -> Tensor:
        return x.flatten(1) if self.flatten_input else x

    def forward(self, x: Tensor, labels: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        h = self.trunk(self._input(x))
        return self.head(h).flatten(), h.flatten(1)


class AuxiliaryHead(nn.Module):
    """Features -> ``outputs`` numbers: one linear layer (AC-GAN's classifier), or with ``hidden`` units a
    linear, batch-norm, LeakyReLU(0.2) layer first (InfoGAN's Q network: 128 units)."""

    def __init__(self, feature_dim: int, outputs: int, hidden: int = 0):
        super().__init__()
        layers: list[nn.Module] = []
        if hidden:
            layers += [nn.Linear(feature_dim, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2, True)]
            feature_dim = hidden
        self.net = nn.Sequential(*layers, nn.Linear(feature_dim, outputs))

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features)


__all__ = ["AuxiliaryHead", "SplitCritic"]
