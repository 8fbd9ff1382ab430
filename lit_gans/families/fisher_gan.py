"""Fisher GAN (Mroueh & Sercu 2017, "Fisher GAN")."""

from __future__ import annotations

import math
from typing import Optional

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lit_gans.errors import ConfigError
from lit_gans.families.base import AdversarialModule, adam
from lit_gans.loop import Batch, Phase, StepOutput


def fisher_ipm_estimate(real: Tensor, fake: Tensor) -> Tensor:
    """The IPM estimate ``E_hat = E_P f - E_Q f`` from the critic's values on real and fake samples."""
    return real.mean() - fake.mean()


def fisher_constraint(real: Tensor, fake: Tensor) -> Tensor:
    """The second-moment constraint term ``Omega_hat = 0.5 (E_P f^2 + E_Q f^2)``; Fisher IPM asks Omega = 1."""
    return 0.5 * (real.pow(2).mean() + fake.pow(2).mean())


def fisher_lagrangian(real: Tensor, fake: Tensor, multiplier: Tensor | float, rho: float) -> tuple[Tensor, Tensor]:
    """The augmented Lagrangian the critic maximises (the paper's eq. 9),
    ``L = E_hat + lambda (1 - Omega_hat) - rho / 2 (1 - Omega_hat)^2``, and the constraint ``1 - Omega_hat``,
    which is dL/dlambda."""
    constraint = 1 - fisher_constraint(real, fake)
    return fisher_ipm_estimate(real, fake) + multiplier * constraint - rho / 2 * constraint.pow(2), constraint


def multiplier_step(multiplier: Tensor, constraint: Tensor, rho: float) -> Tensor:
    """Algorithm 1's update of the multiplier, a gradient step of size rho down dL/dlambda = 1 - Omega_hat:
    ``lambda <- lambda - rho (1 - Omega_hat)`` (in place)."""
    return multiplier.sub_(rho * constraint.to(multiplier.dtype))


class FisherGAN(AdversarialModule):
    """Mroueh & Sercu (2017): the critic ``f(x) = <v, Phi_omega(x)>`` (the discriminator network, whose last
    linear layer is v) maximises the IPM estimate ``E_P f - E_Q f`` under a data-dependent constraint on its
    second moments, ``Omega = 0.5 (E_P f^2 + E_Q f^2) = 1`` (no weight clipping, no gradient penalty). At the
    optimum the ratio of the two is the Fisher IPM, which with an unconstrained critic equals the
    Chi-squared distance between P and Q.

    Algorithm 1 (augmented Lagrangian): each critic step ascends
    ``L = E_hat + lambda (1 - Omega_hat) - rho / 2 (1 - Omega_hat)^2`` in omega (Adam), then takes a plain
    gradient step of size rho on the multiplier, ``lambda <- lambda - rho (1 - Omega_hat)``; lambda starts at 0.
    The generator descends ``-E_Q f``. lambda is a buffer (``multiplier``): saved in checkpoints, restored on
    resume, logged as ``fisher/lambda``, with ``fisher/omega`` and ``fisher/ipm`` (the estimate's ratio
    ``E_hat / sqrt(Omega_hat)``).

    Defaults, from the paper's image experiments: rho = 1e-6 (also the reference code's default,
    github.com/tomsercu/FisherGAN ``--rho``), Adam with lr 2e-4 and beta1 0.5 for both networks,
    ``n_critic = 2``. The reference code's own defaults differ (RMSProp with lr 5e-5 unless ``--adam``,
    5 critic steps); the toy configs use a larger rho (see them). Not reproduced from the reference code: its
    weight decay (1e-6 on Phi, 1e-3 on v; add ``weight_decay`` to ``d_optimizer`` for the first) and its v
    without a bias (here v is the network's last layer, bias included).

    Args:
        rho: the penalty weight and the multiplier's step size.
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    def __init__(
        self,
        rho: float = 1e-6,
        n_critic: int = 2,
        objective: str = "wasserstein",
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        if not (rho > 0 and math.isfinite(rho)):
            raise ConfigError(f"model.rho={rho} must be a finite number > 0 (the penalty weight and the multiplier's "
                              "step; the paper uses 1e-6)")
        if objective != "wasserstein":
            raise ConfigError(f"model.objective={objective!r}: Fisher GAN's critic maximises E_P f - E_Q f under its "
                              "constraint; use objective: wasserstein")
        if kwargs.get("clip_value") is not None:
            raise ConfigError("model.clip_value: Fisher GAN constrains its critic by the second-moment term, not by "
                              "weight clipping; remove clip_value")
        self.rho = float(rho)
        super().__init__(n_critic=n_critic, objective=objective, g_optimizer=g_optimizer or adam(2e-4),
                         d_optimizer=d_optimizer or adam(2e-4), **kwargs)
        self.register_buffer("multiplier", torch.zeros(()))
        self._constraint: Optional[Tensor] = None

    def phases(self) -> list[Phase]:
        critic, generator = super().phases()
        critic.after_step = (*critic.after_step, self._update_multiplier)
        return [critic, generator]

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        out = super().discriminator_loss(batch)  # its loss is E_Q f - E_P f
        real, fake = out.real_logits.float(), out.fake_logits.float()
        lagrangian, constraint = fisher_lagrangian(real, fake, self.multiplier, self.rho)
        out.loss = -lagrangian
        self._constraint = constraint.detach()
        omega = (1 - constraint).detach()
        out.logs.update({"loss/d": out.loss.detach(), "fisher/omega": omega, "fisher/lambda": self.multiplier.clone(),
                         "fisher/ipm": (real.mean() - fake.mean()).detach() / omega.clamp_min(1e-12).sqrt()})
        return out

    def _update_multiplier(self) -> None:
        if self._constraint is not None:
            multiplier_step(self.multiplier, self._constraint, self.rho)
            self._constraint = None

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rho={self.rho:g}"
