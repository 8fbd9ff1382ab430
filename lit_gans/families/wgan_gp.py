"""WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs")."""

from __future__ import annotations

from typing import Optional

from lightning.pytorch.cli import OptimizerCallable

from lit_gans.families.base import AdversarialModule, adam
from lit_gans.losses import ObjectiveName


class WGANGP(AdversarialModule):
    """Gulrajani et al. (2017), Algorithm 1: the Wasserstein objective with a gradient penalty
    (lambda 10) on random interpolates instead of clipping, ``n_critic = 5``, Adam with lr 1e-4 and
    betas (0, 0.9), and no batch norm in the critic (the penalty is per sample)."""

    def __init__(
        self,
        objective: ObjectiveName = "wasserstein",
        n_critic: int = 5,
        gradient_penalty: float = 10.0,
        d_batch_norm: bool = False,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        super().__init__(
            objective=objective,
            n_critic=n_critic,
            gradient_penalty=gradient_penalty,
            d_batch_norm=d_batch_norm,
            g_optimizer=g_optimizer or adam(1e-4, (0.0, 0.9)),
            d_optimizer=d_optimizer or adam(1e-4, (0.0, 0.9)),
            **kwargs,
        )
