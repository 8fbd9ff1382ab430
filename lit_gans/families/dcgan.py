"""DCGAN (Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks")."""

from __future__ import annotations

from lit_gans.families.base import AdversarialModule
from lit_gans.nets.factory import Architecture


class DCGAN(AdversarialModule):
    """Radford et al. (2016): all-convolutional G and D with batch norm, ReLU in G and LeakyReLU(0.2)
    in D, a tanh output, z of size 100, the non-saturating loss, and Adam with lr 2e-4 and beta1 0.5
    for both networks (the base's defaults)."""

    def __init__(self, architecture: Architecture = "dcgan", latent_dim: int = 100, **kwargs):
        super().__init__(architecture=architecture, latent_dim=latent_dim, **kwargs)
