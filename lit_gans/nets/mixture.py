"""A learnable mixture-of-Gaussians latent in front of a generator (DeLiGAN, Gurumurthy et al. 2017)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class MixtureLatent(nn.Module):
    """DeLiGAN's reparameterised latent: ``z = mu_k + sigma_k * eps`` with ``k`` uniform over
    ``components``, the means ``mu_k`` and scales ``sigma_k`` learnt with the generator.

    The input is a standard normal vector of ``latent_dim + 1`` numbers: the first picks the component
    (through the normal CDF, so that ``k`` is uniform), the rest is ``eps``. A sample is a deterministic
    function of its input, so fixed latent batches, EMA copies and interpolation work as for any
    generator. With components far apart relative to their scales, the latent has almost no mass
    between them, and the generator need not stretch one connected Gaussian across disconnected
    modes, which is what leaves samples between modes.

    Args:
        generator: the generator network, taking ``latent_dim`` inputs.
        latent_dim: size of ``eps`` and of the generator's input.
        components: mixture components (DeLiGAN uses 50).
        sigma: initial scale of every component (DeLiGAN: 0.2); the means start standard normal.
    """

    def __init__(self, generator: nn.Module, latent_dim: int, components: int, sigma: float = 0.2):
        super().__init__()
        self.generator, self.components = generator, components
        self.mu = nn.Parameter(torch.randn(components, latent_dim))
        self.log_sigma = nn.Parameter(torch.full((components, latent_dim), math.log(sigma)))

    def component(self, z: Tensor) -> Tensor:
        """The mixture component each input selects."""
        return (torch.special.ndtr(z[:, 0]) * self.components).long().clamp_(0, self.components - 1)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        k = self.component(z)
        return self.generator(self.mu[k] + self.log_sigma[k].exp() * z[:, 1:], labels)

    def extra_repr(self) -> str:
        return f"components={self.components}"


__all__ = ["MixtureLatent"]
