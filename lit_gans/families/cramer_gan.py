"""Cramér GAN (Bellemare et al. 2017, "The Cramér Distance as a Solution to Biased Wasserstein Gradients")."""

from __future__ import annotations

from typing import Optional

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lit_gans.families._kernels import energy_distance, safe_sqrt
from lit_gans.families.base import adam
from lit_gans.families.mmd_gan import FeatureCriticModule
from lit_gans.latent import Latent
from lit_gans.loop import Batch, StepOutput


def row_norm(v: Tensor) -> Tensor:
    """``||v_i||_2`` per row, with a zero (not NaN) gradient at the origin."""
    return safe_sqrt(v.pow(2).sum(1))


def cramer_critic(h: Tensor, h_reference: Tensor) -> Tensor:
    """The critic of Algorithm 1, per sample: ``f(x) = ||h(x) - h(x'_g)||_2 - ||h(x)||_2``, where
    ``h_reference`` holds the features of the independent second generated batch, x'_g."""
    return row_norm(h - h_reference) - row_norm(h)


def cramer_critic_loss(h_real: Tensor, h_fake: Tensor, h_fake2: Tensor) -> Tensor:
    """The critic maximises the surrogate ``L_surr = mean f(x_r) - mean f(x_g)``: it minimises ``-L_surr``."""
    return cramer_critic(h_fake, h_fake2).mean() - cramer_critic(h_real, h_fake2).mean()


def cramer_generator_loss(h_real: Tensor, h_fake: Tensor, h_fake2: Tensor) -> Tensor:
    """The generator's loss of Algorithm 1, a sample estimate of the energy distance between the real and
    generated feature distributions: ``||h(x_r) - h(x_g)|| + ||h(x_r) - h(x'_g)|| - ||h(x_g) - h(x'_g)||``,
    averaged over the batch."""
    return (row_norm(h_real - h_fake) + row_norm(h_real - h_fake2) - row_norm(h_fake - h_fake2)).mean()


class CramerGAN(FeatureCriticModule):
    """Bellemare et al. (2017), section 5 and Algorithm 1: the energy distance (their multivariate Cramér
    distance) between real and generated samples in the space of a learnt transformation h, the critic's
    ``features`` (256) outputs. Each step draws two independent generated batches x_g and x'_g; the
    critic is ``f(x) = ||h(x) - h(x'_g)|| - ||h(x)||`` and maximises ``f(x_r) - f(x_g)`` with a gradient
    penalty of weight 10 on f at random interpolates of x_r and x_g, ``(||grad f(x_hat)|| - 1)^2``
    (lit_gans.penalties.GradientPenalty on ``critic_fn``, which here is f); the generator minimises
    ``||h(x_r) - h(x_g)|| + ||h(x_r) - h(x'_g)|| - ||h(x_g) - h(x'_g)||``. ``n_critic = 5``, Adam with
    lr 1e-4 and betas (0.5, 0.9) for both networks (WGAN-GP's settings, on which the paper builds), no
    batch norm in the critic.

    Args:
        features: the size of h's output (256 in the paper).
        gradient_penalty: lambda of the penalty on f.
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    def __init__(
        self,
        features: int = 256,
        gradient_penalty: float = 10.0,
        n_critic: int = 5,
        d_batch_norm: bool = False,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        super().__init__(
            features=features, gradient_penalty=gradient_penalty, n_critic=n_critic, d_batch_norm=d_batch_norm,
            g_optimizer=g_optimizer or adam(1e-4, (0.5, 0.9)), d_optimizer=d_optimizer or adam(1e-4, (0.5, 0.9)),
            **kwargs,
        )

    def critic_fn(self, labels: Optional[Tensor]):
        """The critic f of the current critic step (the reference batch x'_g fixed), for the penalties."""
        (h_fake2,) = self._reference
        return lambda x: cramer_critic(self.features_of(x), h_fake2)

    def _two_fakes(self, n: int, grad: bool) -> tuple[Latent, Tensor, Tensor]:
        latent = self.latent_spec.draw(2 * n, self.device)
        with torch.set_grad_enabled(grad):
            both = self.generate(latent)
        return latent[:n], both[:n], both[n:]

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        latent, fake, fake2 = self._two_fakes(len(batch), grad=False)
        h_real, h_fake, h_fake2 = self.features_of(batch.image), self.features_of(fake), self.features_of(fake2)
        self._reference = (h_fake2,)
        loss = cramer_critic_loss(h_real, h_fake, h_fake2)
        logs = {"loss/d": loss.detach(), "d/real": cramer_critic(h_real, h_fake2).mean().detach(),
                "d/fake": cramer_critic(h_fake, h_fake2).mean().detach()}
        return StepOutput(loss, logs, latent, fake, h_fake, None, batch.image, None, h_real)

    def generator_loss(self, batch: Batch) -> StepOutput:
        latent, fake, fake2 = self._two_fakes(len(batch), grad=True)
        with torch.no_grad():
            h_real = self.features_of(batch.image)
        h_fake, h_fake2 = self.features_of(fake), self.features_of(fake2)
        loss = cramer_generator_loss(h_real, h_fake, h_fake2)
        return StepOutput(loss, {"loss/g": loss.detach()}, latent, fake, h_fake, None, batch.image, None, h_real)

    @torch.no_grad()
    def _validate(self, batch: Batch) -> None:
        n = len(batch) - len(batch) % self.pack
        if n // self.pack < 2:
            return
        h_real = self.features_of(batch.image[:n])
        h_fake = self.features_of(self.sample(n))
        self.log("val/energy_distance", energy_distance(h_real, h_fake), batch_size=n, sync_dist=True)


__all__ = ["CramerGAN", "cramer_critic", "cramer_critic_loss", "cramer_generator_loss", "row_norm"]
