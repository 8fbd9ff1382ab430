"""BigGAN (Brock, Donahue & Simonyan 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis")."""

from __future__ import annotations

from typing import Optional

from lightning.pytorch.cli import OptimizerCallable

from lit_gans.families.base import adam
from lit_gans.families.cgan_pd import CGANPD, Attention
from lit_gans.nets.biggan import Init


class BigGAN(CGANPD):
    """Brock et al. (2019), the 128 px ImageNet recipe scaled to small images: residual up/down blocks; a
    shared class embedding (128) and a hierarchical latent (z of 120 split into one chunk for the input
    layer and one per block) feeding the generator's conditional batch norms; self-attention; spectral
    norm in G and D; orthogonal initialisation; the projection discriminator; the hinge loss; Adam with
    lr 5e-5 for G and 2e-4 for D, betas (0, 0.999), 2 critic steps per generator step; an EMA of the
    generator (decay 0.9999) used for sampling, starting at ``ema_start``.

    The CIFAR-10 launcher of BigGAN-PyTorch instead uses lr 2e-4 for both networks and 4 critic steps
    (``configs/biggan/cifar10.yaml``). Orthogonal regularisation (the paper's beta 1e-4; the public
    models were trained without it) is a penalty to list: ``penalties: [{class_path:
    lit_gans.penalties.Orthogonal, init_args: {weight: 1.0e-4}}]``; it skips 1-D parameters and the
    shared embedding. Truncation: ``sample(n, truncation=0.5)`` or ``lit-gans sample --truncation 0.5``.

    Args:
        kwargs: ``CGANPD``'s and the loop's other arguments.
    """

    def __init__(
        self,
        latent_dim: int = 120,
        shared_embedding: int = 128,
        hierarchical: bool = True,
        attention: Attention = "half",
        g_spectral_norm: bool = True,
        init: Init = "orthogonal",
        n_critic: int = 2,
        ema_decay: Optional[float] = 0.9999,
        ema_start: int = 20_000,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        super().__init__(
            latent_dim=latent_dim,
            shared_embedding=shared_embedding,
            hierarchical=hierarchical,
            attention=attention,
            g_spectral_norm=g_spectral_norm,
            init=init,
            n_critic=n_critic,
            ema_decay=ema_decay,
            ema_start=ema_start,
            g_optimizer=g_optimizer or adam(5e-5, (0.0, 0.999)),
            d_optimizer=d_optimizer or adam(2e-4, (0.0, 0.999)),
            **kwargs,
        )
