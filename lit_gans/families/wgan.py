"""WGAN (Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN")."""

from __future__ import annotations

from typing import Optional

from lightning.pytorch.cli import OptimizerCallable

from lit_gans.families.base import AdversarialModule, rmsprop
from lit_gans.losses import ObjectiveName


class WGAN(AdversarialModule):
    """Arjovsky et al. (2017), Algorithm 1: a critic trained ``n_critic = 5`` times per generator
    step on the Wasserstein objective, its weights clipped to [-0.01, 0.01], RMSProp with lr 5e-5
    for both networks, on DCGAN networks."""

    def __init__(
        self,
        objective: ObjectiveName = "wasserstein",
        n_critic: int = 5,
        clip_value: Optional[float] = 0.01,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        super().__init__(
            objective=objective,
            n_critic=n_critic,
            clip_value=clip_value,
            g_optimizer=g_optimizer or rmsprop(5e-5),
            d_optimizer=d_optimizer or rmsprop(5e-5),
            **kwargs,
        )
