"""BEGAN (Berthelot, Schumm & Metz 2017, "BEGAN: Boundary Equilibrium Generative Adversarial Networks")."""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lit_gans.errors import ConfigError
from lit_gans.families.base import adam
from lit_gans.families.ebgan import AutoencoderCriticModule
from lit_gans.loop import Batch, Phase, StepOutput
from lit_gans.nets.autoencoder import Activation
from lit_gans.resume import RESUMABLE


def began_d_loss(real_loss: Tensor, fake_loss: Tensor, k: float | Tensor) -> Tensor:
    """Berthelot et al. (2017), eq. 4: L_D = L(x) - k_t L(G(z_D)), with L the per-sample autoencoder loss."""
    return real_loss.mean() - k * fake_loss.mean()


def update_k(k: Tensor, real_loss: Tensor, fake_loss: Tensor, gamma: float, lambda_k: float) -> Tensor:
    """Eq. 4: k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1), from batch means."""
    return (k + lambda_k * (gamma * real_loss.mean() - fake_loss.mean())).clamp(0.0, 1.0)


def m_global(real_loss: Tensor, fake_loss: Tensor, gamma: float) -> Tensor:
    """Section 3.4.1: the convergence measure M_global = L(x) + |gamma L(x) - L(G(z_G))|."""
    real = real_loss.mean()
    return real + (gamma * real - fake_loss.mean()).abs()


class BEGAN(AutoencoderCriticModule):
    """Berthelot et al. (2017): an autoencoder discriminator with the L1 loss L(v) = |v - D(v)| (eta = 1; here
    the per-sample mean over its entries); D minimises L(x) - k_t L(G(z_D)), G minimises L(G(z_G)), and the
    equilibrium term k_t (a buffer, saved and restored with checkpoints; k_0 = 0) follows
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1) once per generator iteration. The update reads
    L(x), the batch mean of the real losses from this iteration's discriminator step (measured before that
    step), and L(G(z_G)), the batch mean from the generator step (measured by the just-updated D, before G's
    step): the loop takes D's and G's steps one after the other on each batch where the paper takes them
    simultaneously. ``began/k`` and the convergence measure ``began/m_global`` = L(x) + |gamma L(x) - L(G(z_G))|
    are logged with the losses.

    Defaults (the paper): gamma 0.5, lambda_k 0.001, an embedding (code) of 64 numbers, ELU autoencoders
    without batch norm, Adam with lr 0.0001 and betas (0.5, 0.999) for both networks.
    Differences: the generator is lit-gans' DCGAN (or MLP) generator, not the paper's decoder-shaped one; the
    autoencoder is DCGAN-shaped (strided 4x4 convolutions) instead of the paper's pairs of 3x3 convolutions with
    subsampling; the paper's learning-rate halving when M_global stalls is left out.

    Args:
        gamma: the diversity ratio gamma = E[L(G(z))] / E[L(x)] the equilibrium aims at.
        lambda_k: the proportional gain of k's update.
        code: size of the autoencoder's embedding h.
        activation: the autoencoder's hidden activation.
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    energy_norm = "l1"
    objective_name = "began"
    resumable_args = RESUMABLE | {"gamma", "lambda_k"}

    def __init__(
        self,
        gamma: float = 0.5,
        lambda_k: float = 0.001,
        code: int = 64,
        activation: Activation = "elu",
        d_batch_norm: bool = False,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        if not 0 <= gamma <= 1:
            raise ConfigError(f"model.gamma={gamma} must be in [0, 1] (the paper uses 0.3 to 0.7, 0.5 by default)")
        if lambda_k < 0:
            raise ConfigError(f"model.lambda_k={lambda_k} must be >= 0 (the paper uses 0.001)")
        self.gamma, self.lambda_k = float(gamma), float(lambda_k)
        super().__init__(code=code, activation=activation, d_batch_norm=d_batch_norm,
                         g_optimizer=g_optimizer or adam(1e-4, (0.5, 0.999)),
                         d_optimizer=d_optimizer or adam(1e-4, (0.5, 0.999)), **kwargs)
        self.register_buffer("k", torch.zeros(()))
        self._real_loss: Optional[Tensor] = None  # L(x) of the latest discriminator step
        self._fake_loss: Optional[Tensor] = None  # L(G(z_G)) of the latest generator step

    def energy_d_loss(self, real_energy: Tensor, fake_energy: Tensor) -> Tensor:
        return began_d_loss(real_energy, fake_energy, self.k)

    def phases(self) -> list[Phase]:
        d, g = super().phases()
        return [d, replace(g, after_step=(self._update_k, *g.after_step))]

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        out = super().discriminator_loss(batch)
        self._real_loss = out.real_logits.detach().mean()
        return out

    def generator_loss(self, batch: Batch) -> StepOutput:
        out = super().generator_loss(batch)
        self._fake_loss = out.fake_logits.detach().mean()
        if self._real_loss is not None:
            out.logs["began/m_global"] = m_global(self._real_loss, self._fake_loss, self.gamma)
        return out

    @torch.no_grad()
    def _update_k(self) -> None:
        if self._real_loss is not None and self._fake_loss is not None:
            self.k.copy_(update_k(self.k, self._real_loss, self._fake_loss, self.gamma, self.lambda_k))
        self._logs["began/k"] = self.k.detach().clone()

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, lambda_k={self.lambda_k}, code={self.code}, latent_dim={self.latent_dim}"


__all__ = ["BEGAN", "began_d_loss", "m_global", "update_k"]
