"""SNGAN (Miyato et al. 2018, "Spectral Normalization for Generative Adversarial Networks")."""

from __future__ import annotations

from typing import Optional

from lightning.pytorch.cli import OptimizerCallable

from lit_gans.families.base import AdversarialModule, adam
from lit_gans.losses import ObjectiveName
from lit_gans.nets.factory import Architecture


class SNGAN(AdversarialModule):
    """Miyato et al. (2018), CIFAR-10 ResNet setting: spectral normalisation on every critic layer,
    the hinge loss, ``n_critic = 5``, z of size 128, Adam with lr 2e-4 and betas (0, 0.9)."""

    def __init__(
        self,
        architecture: Architecture = "resnet",
        latent_dim: int = 128,
        objective: ObjectiveName = "hinge",
        spectral_norm: bool = True,
        n_critic: int = 5,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        super().__init__(
            architecture=architecture,
            latent_dim=latent_dim,
            objective=objective,
            spectral_norm=spectral_norm,
            n_critic=n_critic,
            g_optimizer=g_optimizer or adam(2e-4, (0.0, 0.9)),
            d_optimizer=d_optimizer or adam(2e-4, (0.0, 0.9)),
            **kwargs,
        )
