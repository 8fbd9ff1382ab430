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
#: the Bregman functions phi: ``kl`` is phi(u) = sum u log u (positive vectors), ``squared_euclidean`` phi(u) = |u|^2 / 2
BREGMAN_FUNCTIONS = ("kl", "squared_euclidean")
#: how the critic is kept in the dual's class: the exact c-transform over the batch, or clipping its weights
DUALS = ("c_transform", "clip")


def kl_bregman_cost(x: Tensor, y: Tensor) -> Tensor:
    """The Bregman divergence of the strictly convex ``phi(u) = sum_i u_i log u_i`` on positive vectors,
    ``D_phi(x, y) = phi(x) - phi(y) - <grad phi(y), x - y> = sum_i x_i log(x_i / y_i) - x_i + y_i`` (the
    generalised KL divergence), per row of x and y flattened."""
    x, y = x.flatten(1), y.flatten(1)
    return (x * (x.log() - y.log()) - x + y).sum(1)


def bregman_cost_matrix(x: Tensor, y: Tensor, phi: str = "kl") -> Tensor:
    """``C[i, j] = D_phi(x_i, y_j)`` for every pair of rows (samples flattened), in float32: for ``kl``,
    ``sum x_i log x_i - x_i`` minus ``<x_i, log y_j>`` plus ``sum y_j`` (one matrix product); for
    ``squared_euclidean``, ``|x_i - y_j|^2 / 2``."""
    with torch.autocast(x.device.type, enabled=False):
        x, y = x.flatten(1).float(), y.flatten(1).float()
        if phi == "kl":
            return (x * x.log() - x).sum(1)[:, None] - x @ y.log().T + y.sum(1)[None, :]
        return ((x * x).sum(1)[:, None] - 2 * x @ y.T + (y * y).sum(1)[None, :]).clamp_min(0) / 2


def c_transform(potential: Tensor, cost: Tensor) -> Tensor:
    """The c-transform of a potential f on the rows of ``cost`` at its columns: ``f^c(y_j) = min_i C[i, j] -
    f(x_i)``, the largest g with f(x) + g(y) <= C(x, y) on the batch."""
    return (cost - potential.reshape(-1, 1)).min(0).values


def relaxed_wasserstein_dual(potential: Tensor, cost: Tensor) -> Tensor:
    """Kantorovich's dual of the relaxed Wasserstein distance between the empirical measures of a batch,
    ``mean_i f(x_i) + mean_j f^c(y_j)``: at most the optimal transport cost ``RW_phi = min over couplings
    of sum pi_ij C[i, j]``, and equal to it at the best potential."""
    return potential.mean() + c_transform(potential, cost).mean()


def bregman_violation(real_values: Tensor, fake_values: Tensor, cost: Tensor) -> Tensor:
    """How far a single critic f (``dual: clip``) leaves the Bregman-Lipschitz class on paired samples: the
    mean of ``max(0, f(x_i) - f(y_i) - D_phi(x_i, y_i))``."""
    return (real_values - fake_values - cost).clamp_min(0).mean()


class RelaxedWGAN(AdversarialModule):
    """Guo et al. (2017): the relaxed Wasserstein distance replaces WGAN's transport cost ||x - y|| by a
    Bregman divergence, ``RW_phi(P, Q) = inf_pi E_pi[D_phi(X, Y)]`` (X real, Y generated) with
    ``D_phi(x, y) = phi(x) - phi(y) - <grad phi(y), x - y>`` for a strictly convex phi; the paper's
    experiments favour the KL cost, phi(u) = sum u log u (``bregman: kl``).

    ``dual: c_transform`` (the default) trains on the distance as defined, through Kantorovich's duality
    for a general cost: ``RW_phi = sup_f E_P f(X) + E_Q f^c(Y)`` with ``f^c(y) = inf_x D_phi(x, y) - f(x)``.
    The critic network is the potential f, evaluated on the real batch only; f^c is computed exactly over
    the real batch (the c-transform of Mallasto et al. 2019, "(q,p)-Wasserstein GANs"), so no Lipschitz
    heuristic is needed and the critic's objective is the batch distance's dual. The critic ascends
    ``mean f(x_i) + mean_j min_i [D(x_i, y_j) - f(x_i)]``; the generator descends ``mean_j f^c(G(z_j))``,
    whose gradient is that of the cost to the real sample each fake is transported to — the paper's
    gradient formula for RW, ``E_pi*[grad_y D_phi(X, G(Z))]``. ``rwgan/distance`` logs the batch estimate.
    On images the KL cost acts on intensities mapped from [-1, 1] to (0, 1] by (x + 1) / 2 + 1e-3 (it needs
    positive vectors); 2-D toy points are unbounded, so their configs use ``squared_euclidean`` (D = |x - y|^2 / 2).

    ``dual: clip`` is WGAN's Algorithm 1 with a single critic f for both sides (critic loss ``E_Q f - E_P
    f``, generator loss ``-E_Q f``) kept near the class f(x) - f(y) <= D_phi(x, y) only by clipping its
    weights to the box ``clip_range`` [low, high] (which may be asymmetric) after each step — the heuristic
    reading of the paper's practical algorithm. Its text could not be read here, so that variant's bounds
    and learning rates are WGAN's, unverified; on images it logs ``rwgan/kl_cost`` (the paired batch's
    mean cost) and ``rwgan/bregman_violation`` (how far f leaves the class on those pairs).

    Defaults: n_critic 5 and RMSProp with lr 5e-5 for both networks (WGAN's, which the paper builds on).

    Args:
        dual: ``c_transform`` or ``clip``.
        bregman: the Bregman function phi, ``kl`` or ``squared_euclidean``.
        clip_range: the box [low, high] of ``dual: clip`` (e.g. [-0.01, 0.01]); null for ``c_transform``.
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    def __init__(
        self,
        dual: str = "c_transform",
        bregman: str = "kl",
        clip_range: Optional[Sequence[float]] = None,
        n_critic: int = 5,
        objective: str = "wasserstein",
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        if dual not in DUALS:
            raise ConfigError(f"model.dual={dual!r} is not one of {list(DUALS)}")
        if bregman not in BREGMAN_FUNCTIONS:
            raise ConfigError(f"model.bregman={bregman!r} is not one of {list(BREGMAN_FUNCTIONS)}")
        if dual == "clip" and clip_range is None:
            raise ConfigError("model.dual=clip needs model.clip_range, a box [low, high] such as [-0.01, 0.01]")
        if dual == "c_transform" and clip_range is not None:
            raise ConfigError(f"model.clip_range={list(clip_range)} is for model.dual=clip; the c-transform needs "
                              "no clipping: remove clip_range")
        if clip_range is not None and (len(clip_range) != 2 or not clip_range[0] < 0 < clip_range[1]):
            raise ConfigError(f"model.clip_range={list(clip_range)} must be [low, high] with low < 0 < high "
                              "(e.g. [-0.01, 0.01])")
        if objective != "wasserstein":
            raise ConfigError(f"model.objective={objective!r}: the relaxed Wasserstein critic ascends a transport "
                              "dual; use objective: wasserstein")
        if kwargs.get("clip_value") is not None:
            raise ConfigError("model.clip_value: Relaxed WGAN clips to model.clip_range ([low, high]) with "
                              "dual: clip; remove clip_value")
        if dual == "c_transform" and kwargs.get("conditional"):
            raise ConfigError("model.conditional: the c-transform transports between whole batches, across classes; "
                              "use dual: clip for a conditional Relaxed WGAN, or remove conditional")
        if dual == "c_transform" and kwargs.get("pack", 1) != 1:
            raise ConfigError(f"model.pack={kwargs['pack']}: the c-transform's potential reads one real sample "
                              "at a time; use pack: 1")
        self.dual, self.bregman = dual, bregman
        self.clip_range = None if clip_range is None else (float(clip_range[0]), float(clip_range[1]))
        super().__init__(n_critic=n_critic, objective=objective, g_optimizer=g_optimizer or rmsprop(5e-5),
                         d_optimizer=d_optimizer or rmsprop(5e-5), **kwargs)
        if bregman == "kl" and len(self.data_shape) != 3:
            raise ConfigError(f"model.bregman=kl needs images (positive intensities); data of shape "
                              f"{tuple(self.data_shape)} can be negative: use bregman: squared_euclidean")

    def phases(self) -> list[Phase]:
        critic, generator = super().phases()
        if self.clip_range is not None:
            low, high = self.clip_range
            critic.after_step = (*critic.after_step, partial(clip_weights, self.network("critic"), low, high))
        return [critic, generator]

    def cost(self, real: Tensor, fake: Tensor) -> Tensor:
        """The Bregman cost matrix between a real and a generated batch (``bregman_cost_matrix``)."""
        if self.bregman == "kl":  # intensities in [-1, 1] to (0, 1]
            real, fake = ((x.float().clamp(-1, 1) + 1) / 2 + POSITIVE_OFFSET for x in (real, fake))
        return bregman_cost_matrix(real, fake, self.bregman)

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        if self.dual == "c_transform":
            latent = self.latent_spec.draw(len(batch), self.device)
            with torch.no_grad():
                fake = self.generate(latent)
                cost = self.cost(batch.image, fake)
            potential = self.judge(batch.image, None)[0].float().reshape(-1)
            distance = relaxed_wasserstein_dual(potential, cost)
            logs = {"loss/d": -distance.detach(), "rwgan/distance": distance.detach(), "d/real": potential.mean().detach()}
            return StepOutput(-distance, logs, latent, fake, real=batch.image, real_logits=potential)
        out = super().discriminator_loss(batch)  # E_Q f - E_P f: minus the dual objective of a single critic
        if len(self.data_shape) == 3 and self.pack == 1:
            with torch.no_grad():
                cost = self.cost(out.real, out.fake).diagonal()  # the (real i, fake i) pairs
                out.logs["rwgan/kl_cost" if self.bregman == "kl" else "rwgan/cost"] = cost.mean()
                out.logs["rwgan/bregman_violation"] = bregman_violation(
                    out.real_logits.float().reshape(-1), out.fake_logits.float().reshape(-1), cost)
        return out

    def generator_loss(self, batch: Batch) -> StepOutput:
        if self.dual == "clip":
            return super().generator_loss(batch)
        latent = self.latent_spec.draw(len(batch), self.device)
        fake = self.generate(latent)
        with torch.no_grad():
            potential = self.judge(batch.image, None)[0].float().reshape(-1)
        loss = c_transform(potential, self.cost(batch.image, fake)).mean()
        return StepOutput(loss, {"loss/g": loss.detach()}, latent, fake, real=batch.image, real_logits=potential)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dual={self.dual!r}, bregman={self.bregman!r}, clip_range={self.clip_range}"
