"""Adversarial objectives: critic logits in, scalar loss out.

Every objective is a pair of pure functions, ``d_loss(real_logits, fake_logits)`` for the
discriminator (critic) and ``g_loss(fake_logits)`` for the generator, both to be minimised, and
``g_terms(fake_logits)``: the generator's loss of each sample, whose mean is ``g_loss`` (for tools that
optimise many samples at once, such as inpainting by latent optimisation).
Logits are raw critic outputs (no sigmoid), shaped ``(N,)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch.nn.functional as F
from torch import Tensor

ObjectiveName = Literal["minimax", "non_saturating", "wasserstein", "least_squares", "hinge"]


def bce_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    # -log D(x) - log(1 - D(G(z))) with D = sigmoid(logit)
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_g_loss(fake: Tensor) -> Tensor:
    """Goodfellow et al. (2014), eq. 1: G minimises log(1 - D(G(z))) (saturates early)."""
    return -F.softplus(fake).mean()


def non_saturating_g_loss(fake: Tensor) -> Tensor:
    """Goodfellow et al. (2014), section 3: G maximises log D(G(z)) instead."""
    return F.softplus(-fake).mean()


def wasserstein_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Arjovsky et al. (2017): the critic maximises E[f(x)] - E[f(G(z))]."""
    return fake.mean() - real.mean()


def wasserstein_g_loss(fake: Tensor) -> Tensor:
    return -fake.mean()


def least_squares_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Mao et al. (2017), eq. 2 with a=0, b=1."""
    return 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()


def least_squares_g_loss(fake: Tensor) -> Tensor:
    """Mao et al. (2017), eq. 2 with c=1."""
    return 0.5 * (fake - 1).pow(2).mean()


def hinge_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Lim & Ye (2017); Miyato et al. (2018): E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


@dataclass(frozen=True)
class Objective:
    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    #: the generator's loss per sample (N,), whose mean is ``g_loss``
    g_terms: Callable[[Tensor], Tensor]


#: per-sample generator losses, in the order of OBJECTIVES
_G_TERMS = {
    "minimax": lambda fake: -F.softplus(fake),
    "non_saturating": lambda fake: F.softplus(-fake),
    "wasserstein": lambda fake: -fake,
    "least_squares": lambda fake: 0.5 * (fake - 1).pow(2),
}
OBJECTIVES: dict[str, Objective] = {
    "minimax": Objective("minimax", bce_d_loss, minimax_g_loss, _G_TERMS["minimax"]),
    "non_saturating": Objective("non_saturating", bce_d_loss, non_saturating_g_loss, _G_TERMS["non_saturating"]),
    "wasserstein": Objective("wasserstein", wasserstein_d_loss, wasserstein_g_loss, _G_TERMS["wasserstein"]),
    "least_squares": Objective("least_squares", least_squares_d_loss, least_squares_g_loss, _G_TERMS["least_squares"]),
    "hinge": Objective("hinge", hinge_d_loss, wasserstein_g_loss, _G_TERMS["wasserstein"]),
}


def get_objective(name: str) -> Objective:
    """Look an objective up by its YAML name."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ValueError(
            f"objective={name!r} is unknown; choose one of {sorted(OBJECTIVES)}"
        ) from None


__all__ = [
    "OBJECTIVES",
    "Objective",
    "ObjectiveName",
    "get_objective",
    "hinge_d_loss",
    "least_squares_d_loss",
    "least_squares_g_loss",
    "minimax_g_loss",
    "non_saturating_g_loss",
    "wasserstein_d_loss",
    "wasserstein_g_loss",
    "bce_d_loss",
]
