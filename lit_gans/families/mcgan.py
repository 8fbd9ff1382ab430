"""McGAN (Mroueh, Sercu & Goel 2017, "McGan: Mean and Covariance Feature Matching GAN")."""

from __future__ import annotations

from functools import partial
from typing import Optional

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.families.base import AdversarialModule, rmsprop
from lit_gans.loop import Batch, Phase, StepOutput
from lit_gans.nets.factory import Architecture
from lit_gans.regularizers import clip_weights


def mean_matching_primal(real_features: Tensor, fake_features: Tensor, q: float = 2.0) -> Tensor:
    """IPM_mu,q in its primal form for a fixed Phi: ``||mu_P(Phi) - mu_Q(Phi)||_q`` (the paper's eq. 4)."""
    return torch.linalg.vector_norm(real_features.mean(0) - fake_features.mean(0), ord=q)


def mean_matching_dual(real_features: Tensor, fake_features: Tensor, v: Tensor) -> Tensor:
    """IPM_mu,q in its dual form: ``<v, mu_P(Phi) - mu_Q(Phi)>`` with ``||v||_p <= 1``, 1/p + 1/q = 1; its
    maximum over the ball is the primal norm."""
    return (real_features.mean(0) - fake_features.mean(0)) @ v


def covariance_critic(features: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """The covariance critic per sample, ``<U^T Phi(x), V^T Phi(x)>`` for U, V of shape (m, k)."""
    return ((features @ u) * (features @ v)).sum(1)


def covariance_matching_dual(real_features: Tensor, fake_features: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """IPM_Sigma in its dual form (the paper's eq. 7): ``E_P <U^T Phi, V^T Phi> - E_Q <U^T Phi, V^T Phi>``, i.e.
    ``trace(U^T (Sigma_P - Sigma_Q) V)`` with the uncentred covariances Sigma = E[Phi Phi^T]; over U, V with
    orthonormal columns its maximum is the sum of the k largest singular values of Sigma_P - Sigma_Q."""
    return covariance_critic(real_features, u, v).mean() - covariance_critic(fake_features, u, v).mean()


def project_to_dual_ball(v: Tensor, q: float) -> Tensor:
    """The projection of v onto the unit ball of the dual norm p of q: the l2 ball for q = 2, the box
    [-1, 1]^m (l-infinity ball) for q = 1."""
    if q == 2:
        return v / torch.linalg.vector_norm(v).clamp_min(1.0)
    return v.clamp(-1.0, 1.0)


def stiefel_retraction(a: Tensor) -> Tensor:
    """The paper's projection onto the Stiefel manifold: ``Q diag(sign(diag R))`` from ``A = QR`` (the sign
    makes the map continuous: A with orthonormal columns is left as it is)."""
    q, r = torch.linalg.qr(a)
    signs = torch.sign(torch.diagonal(r))
    return q * torch.where(signs == 0, torch.ones_like(signs), signs)


class FeatureProjections(nn.Module):
    """The directions that turn features Phi(x) into the critic's value: ``f(x) = <v, Phi(x)>`` (mean
    matching) plus ``<U^T Phi(x), V^T Phi(x)>`` (covariance matching, when ``components > 0``)."""

    def __init__(self, features: int, q: float = 2.0, components: int = 0):
        super().__init__()
        self.q = q
        self.v = nn.Parameter(project_to_dual_ball(torch.randn(features) / features**0.5, q))
        self.components = components
        if components:
            self.u = nn.Parameter(stiefel_retraction(torch.randn(features, components)))
            self.w = nn.Parameter(stiefel_retraction(torch.randn(features, components)))

    def forward(self, features: Tensor) -> Tensor:
        f = features @ self.v
        if self.components:
            f = f + covariance_critic(features, self.u, self.w)
        return f

    @torch.no_grad()
    def project(self) -> None:
        """Back onto the constraint sets after a step: v onto the dual unit ball, U and V onto the Stiefel manifold."""
        self.v.copy_(project_to_dual_ball(self.v, self.q))
        if self.components:
            self.u.copy_(stiefel_retraction(self.u))
            self.w.copy_(stiefel_retraction(self.w))

    def extra_repr(self) -> str:
        return f"features={self.v.numel()}, q={self.q:g}, components={self.components}"


class McGAN(AdversarialModule):
    """Mroueh, Sercu & Goel (2017): the critic embeds samples in m features, ``Phi_omega(x)`` (the
    discriminator network with ``features`` outputs), and measures the distance between real and generated
    data by their feature statistics.

    Mean matching, IPM_mu,q = max_omega ||mu_P(Phi) - mu_Q(Phi)||_q, is trained in its **dual** form (the
    paper's Algorithm 2): the critic is ``f(x) = <v, Phi(x)>`` with v on the unit ball of the dual norm p,
    and (omega, v) ascend ``<v, mu_P - mu_Q>``; after each critic step v is projected back onto the ball
    and Phi's weights are clipped to [-c, c] (Phi must stay in a bounded class). The generator descends
    ``-<v, mu_Q>``. The dual form was chosen over the primal (Algorithm 1, ascending ||mu_P - mu_Q||_q
    itself) because it makes the critic a scalar function of each sample, as in WGAN: the generator's
    minibatch loss is a mean over samples (the primal norm of minibatch means is biased and not
    differentiable where the means meet), the covariance critic adds to it, and every part of the loop
    that judges samples (validation, penalties) reads one number per sample. Both values are logged: the
    primal norm for the current Phi as ``mcgan/ipm_mean``.

    Covariance matching (``components: k > 0``), the paper's IPM_Sigma (Algorithm 3), adds
    ``<U^T Phi(x), V^T Phi(x)>`` to the critic with U, V in R^{m x k} kept on the Stiefel manifold by the
    paper's QR retraction after each step (orthonormal columns; the maximum over U, V is the sum of the k
    largest singular values of the difference of the uncentred feature covariances). With both, the
    critic is the paper's mean + covariance combination (its section 6).

    Defaults: q = 2, RMSProp with lr 5e-5 for both networks, ``n_critic = 5``, clipping c = 0.01, batch 64
    (as WGAN, whose setup the paper follows), m = 64 features, covariance off (k = 16 when on: the value
    from memory of the paper's experiments, not verified here).

    Args:
        features: m, the size of Phi(x).
        q: the norm of mean matching: 2 or 1 (its dual ball is then the box [-1, 1]^m).
        components: k, the covariance directions; 0 matches means only.
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    roles = {**AdversarialModule.roles, "projections": "projections"}

    def __init__(
        self,
        features: int = 64,
        q: float = 2.0,
        components: int = 0,
        n_critic: int = 5,
        clip_value: Optional[float] = 0.01,
        objective: str = "wasserstein",
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        if features < 1:
            raise ConfigError(f"model.features={features} must be at least 1 (the size of the critic's feature vector; e.g. 64)")
        if q not in (1, 2):
            raise ConfigError(f"model.q={q} is not supported; use 2 (the paper's l2 mean matching) or 1")
        if not 0 <= components <= features:
            raise ConfigError(f"model.components={components} must be in [0, features={features}] (0 matches means only; e.g. 16)")
        if objective != "wasserstein":
            raise ConfigError(f"model.objective={objective!r}: McGAN's critic is an IPM critic; use objective: wasserstein")
        if kwargs.get("pack", 1) > 1:
            raise ConfigError(f"model.pack={kwargs['pack']}: McGAN matches feature statistics per sample; use pack: 1")
        self.features, self.q, self.components = int(features), float(q), int(components)
        self.critic_outputs = self.features
        super().__init__(
            n_critic=n_critic, clip_value=clip_value, objective=objective,
            g_optimizer=g_optimizer or rmsprop(5e-5), d_optimizer=d_optimizer or rmsprop(5e-5), **kwargs,
        )

    def build_networks(self, architecture: Architecture, g_width: Optional[int], d_width: Optional[int],
                       d_batch_norm: bool, input_dim: Optional[int] = None,
                       critic_classes: Optional[int] = None) -> dict[str, nn.Module]:
        networks = super().build_networks(architecture, g_width, d_width, d_batch_norm, input_dim, critic_classes)
        networks[self.roles["projections"]] = FeatureProjections(self.features, self.q, self.components)
        return networks

    def optimizer_groups(self):
        groups = super().optimizer_groups()
        factory, names, scheduler = groups["discriminator"]
        groups["discriminator"] = (factory, (*names, self.roles["projections"]), scheduler)
        return groups

    def phases(self) -> list[Phase]:
        # clip Phi (only Phi: v, U, V have their own constraint sets), then project v, U and V
        constraints = (partial(clip_weights, self.network("critic"), self.clip_value),) if self.clip_value is not None else ()
        constraints += (self.network("projections").project,)
        return [Phase("discriminator", ("discriminator",), self.discriminator_loss, after_step=constraints),
                Phase("generator", ("generator",), self.generator_loss, every=self.n_critic, of="discriminator",
                      after_step=(self._after_generator_step,))]

    def judge(self, x: Tensor, labels: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        """The critic's value f(x) and the features Phi(x) it reads."""
        features, _ = super().judge(x, labels)
        return self.network("projections")(features), features

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        # the Wasserstein form E_Q f - E_P f of f = <v, Phi> (+ <U^T Phi, V^T Phi>) is minus the dual IPM
        out = super().discriminator_loss(batch)
        out.logs["mcgan/ipm_mean"] = mean_matching_primal(out.real_aux.detach(), out.fake_aux.detach(), self.q)
        return out
