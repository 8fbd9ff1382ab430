"""Relaxed WGAN (Guo, Hong, Lin & Yang 2017, "Relaxed Wasserstein with Applications to GANs")."""

from __future__ import annotations

from functools import partial
from typing import Optional, Sequence

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lit_gans.errors import ConfigError
from lit_gans.families.base import AdversarialModule, rmsprop
from lit_gans.loop import Batch, Phase, StepOutput
from lit_gans.regularizers import clip_weights

#: added to image intensities mapped to [0, 1] before the KL cost (which needs positive vectors)
POSITIVE_OFFSET = 1e-3


def kl_bregman_cost(x: Tensor, y: Tensor) -> Tensor:
    """The Bregman divergence of the strictly convex ``phi(u) = sum_i u_i log u_i`` on positive vectors,
    ``D_phi(x, y) = phi(x) - phi(y) - <grad phi(y), x - y> = sum_i x_i log(x_i / y_i) - x_i + y_i`` (the
    generalised KL divergence), per row of x and y flattened."""
    x, y = x.flatten(1), y.flatten(1)
    return (x * (x.log() - y.log()) - x + y).sum(1)


def relaxed_wasserstein_dual(real: Tensor, fake: Tensor) -> Tensor:
    """The critic's objective ``E_P f - E_Q f``: for f in the Bregman-Lipschitz class, f(x) - f(y) <= D_phi(x, y),
    a lower bound of the relaxed Wasserstein distance RW_phi(P, Q) = inf over couplings of E D_phi(X, Y)."""
    return real.mean() - fake.mean()


def bregman_violation(real_values: Tensor, fake_values: Tensor, cost: Tensor) -> Tensor:
    """How far the critic leaves the Bregman-Lipschitz class on paired samples: the mean of
    ``max(0, f(x_i) - f(y_i) - D_phi(x_i, y_i))``."""
    return (real_values - fake_values - cost).clamp_min(0).mean()


class RelaxedWGAN(AdversarialModule):
    """Guo et al. (2017): the relaxed Wasserstein distance replaces WGAN's transport cost ||x - y|| by a
    Bregman divergence, ``RW_phi(P, Q) = inf_pi E_pi[D_phi(X, Y)]`` with ``D_phi(x, y) = phi(x) - phi(y) -
    <grad phi(y), x - y>`` for a strictly convex phi; the paper's experiments use the KL cost, phi(u) =
    sum u log u (``kl_bregman_cost``).

    What the paper's practical algorithm (RWGAN) does, as far as it could be checked here: it keeps
    WGAN's Algorithm 1 — a critic trained ``n_critic`` times per generator step to ascend the dual
    objective ``E_P f - E_Q f``, the generator descending ``-E_Q f``, RMSProp — and replaces the exact
    constraint on the critic (for the Bregman cost: f(x) - f(y) <= D_phi(x, y)) by a heuristic weight
    clipping after every critic step, which the paper allows to be asymmetric, [low, high]. The paper's
    text was not available to this implementation, so its exact clipping bounds and learning rate are
    not verified: the defaults are WGAN's (RMSProp lr 5e-5 for both networks, n_critic 5, clipping to
    [-0.01, 0.01]); ``clip_range`` sets an asymmetric box.

    What is implemented: exactly that loop (critic loss ``E_Q f - E_P f``, generator loss ``-E_Q f``, the
    clip after each critic step). The Bregman cost enters as a measurement: on image data (intensities in
    [-1, 1] mapped to (0, 1] by (x + 1) / 2 + 1e-3, positive as the KL cost needs) every critic step logs
    ``rwgan/bregman_violation``, how far the critic leaves the Bregman-Lipschitz class on the (real i,
    fake i) pairs of its batch, and ``rwgan/kl_cost``, their mean KL cost (an upper bound of RW_KL between
    the two batches: the pairing is one coupling). On 2-D points (unbounded) these are not logged.

    Args:
        clip_range: the box [low, high] the critic's weights are clamped to after each step; null disables.
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    def __init__(
        self,
        clip_range: Optional[Sequence[float]] = (-0.01, 0.01),
        n_critic: int = 5,
        objective: str = "wasserstein",
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        if clip_range is not None and (len(clip_range) != 2 or not clip_range[0] < 0 < clip_range[1]):
            raise ConfigError(f"model.clip_range={list(clip_range)} must be [low, high] with low < 0 < high "
                              "(e.g. [-0.01, 0.01]), or null to disable clipping")
        if objective != "wasserstein":
            raise ConfigError(f"model.objective={objective!r}: the relaxed Wasserstein critic ascends E_P f - E_Q f; "
                              "use objective: wasserstein")
        if kwargs.get("clip_value") is not None:
            raise ConfigError("model.clip_value: Relaxed WGAN clips to model.clip_range ([low, high]); remove clip_value")
        self.clip_range = None if clip_range is None else (float(clip_range[0]), float(clip_range[1]))
        super().__init__(n_critic=n_critic, objective=objective, g_optimizer=g_optimizer or rmsprop(5e-5),
                         d_optimizer=d_optimizer or rmsprop(5e-5), **kwargs)

    def phases(self) -> list[Phase]:
        critic, generator = super().phases()
        if self.clip_range is not None:
            low, high = self.clip_range
            critic.after_step = (*critic.after_step, partial(clip_weights, self.network("critic"), low, high))
        return [critic, generator]

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        out = super().discriminator_loss(batch)  # E_Q f - E_P f: minus the dual objective
        if len(self.data_shape) == 3 and self.pack == 1:  # images in [-1, 1]: the KL cost on their intensities
            with torch.no_grad():
                positive = lambda x: (x.float().clamp(-1, 1) + 1) / 2 + POSITIVE_OFFSET  # noqa: E731
                cost = kl_bregman_cost(positive(out.real), positive(out.fake))
                out.logs["rwgan/kl_cost"] = cost.mean()
                out.logs["rwgan/bregman_violation"] = bregman_violation(
                    out.real_logits.float(), out.fake_logits.float(), cost)
        return out

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, clip_range={self.clip_range}"
