"""SAGAN (Zhang, Goodfellow, Metaxas & Odena 2019, "Self-Attention Generative Adversarial Networks")."""

from __future__ import annotations

from typing import Optional

from lightning.pytorch.cli import OptimizerCallable

from lit_gans.families.base import adam
from lit_gans.families.cgan_pd import CGANPD, Attention


class SAGAN(CGANPD):
    """Zhang et al. (2019): the class-conditional residual networks of cGAN-PD (conditional batch norm in
    G, projection in D) with a self-attention block in both networks (its gain ``gamma`` starts at 0),
    spectral norm in the generator as well as the critic, the hinge loss, one critic step per generator
    step and two time-scale learning rates: Adam with lr 1e-4 for G and 4e-4 for D, betas (0, 0.999)
    (BigGAN-PyTorch's SAGAN launcher).

    Args:
        attention: the resolution (pixels) of the self-attention block; ``half`` takes half the image side
            (16 px on 32 px images; the paper puts it at 32 px of 128).
        kwargs: ``CGANPD``'s and the loop's other arguments.
    """

    def __init__(
        self,
        attention: Attention = "half",
        g_spectral_norm: bool = True,
        n_critic: int = 1,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        super().__init__(
            attention=attention,
            g_spectral_norm=g_spectral_norm,
            n_critic=n_critic,
            g_optimizer=g_optimizer or adam(1e-4, (0.0, 0.999)),
            d_optimizer=d_optimizer or adam(4e-4, (0.0, 0.999)),
            **kwargs,
        )
