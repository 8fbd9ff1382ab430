"""Penalties as objects: each has its weight, the phase whose loss it joins, and how often it applies.

A family or a YAML config lists them::

    penalties:
      - {class_path: lit_gans.penalties.R1, init_args: {gamma: 10.0, every: 16}}

The loop adds ``weight * every * value`` to the phase's loss on every ``every``-th step of that phase
(lazy regularisation, Karras et al. 2020, section 4: a penalty applied every k steps is scaled by k
so its average strength stays the same), and logs the unweighted value as ``penalty/<name>``.
Adding a penalty adds no branch to the loop. The math lives in ``lit_gans.regularizers``.

A penalty's ``__call__(module, out, batch)`` sees the module (networks by role, ``critic_fn``,
``generate``), the phase's ``StepOutput`` (real and fake samples, logits, the latent) and the batch.
Penalties are ``nn.Module``s so that one with running state (path length's mean) saves it in
checkpoints.
"""

from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod
from typing import Any, Optional

import torch
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.nets.stylegan import is_style_based
from lit_gans.regularizers import gradient_penalty, orthogonal_penalty, r1_penalty, r2_penalty
from lit_gans.specs import Recorded


class Penalty(Recorded, nn.Module, metaclass=ABCMeta):
    """Base of every penalty.

    Args:
        weight: its weight in the phase's loss.
        every: apply it on every ``every``-th step of its phase, scaled by ``every`` (1: every step).
        phase: the phase whose loss it joins (default: the class's, ``discriminator`` or ``generator``).
    """

    name = "penalty"
    default_phase = "discriminator"

    def __init__(self, weight: float = 1.0, every: int = 1, phase: Optional[str] = None):
        super().__init__()
        if weight < 0 or not math.isfinite(weight):
            raise ConfigError(f"{type(self).__name__} weight={weight} must be a finite number >= 0")
        if every < 1:
            raise ConfigError(f"{type(self).__name__} every={every} must be at least 1 (1 applies it every step)")
        self.weight, self.every, self.phase = float(weight), int(every), phase or self.default_phase

    def due(self, phase_step: int) -> bool:
        return self.weight > 0 and phase_step % self.every == 0

    @abstractmethod
    def forward(self, module: Any, out: Any, batch: Any) -> Tensor:
        """The unweighted penalty, from the module, the phase's ``StepOutput`` and the batch."""

    def extra_repr(self) -> str:
        return f"weight={self.weight:g}, every={self.every}, phase={self.phase}"


class GradientPenalty(Penalty):
    """WGAN-GP (Gulrajani et al. 2017): ``weight * E[(||grad D(x_hat)||_2 - 1)^2]`` on random interpolates
    of real and fake samples (the real batch's labels: interpolates mix the two); the paper's lambda is 10."""

    name = "gp"

    def forward(self, module: Any, out: Any, batch: Any) -> Tensor:
        return gradient_penalty(module.critic_fn(out.real_labels), out.real, out.fake)


class R1(Penalty):
    """R1 (Mescheder et al. 2018): ``gamma / 2 * E[||grad D(x)||^2]`` on real data. StyleGAN2 applies it
    lazily, ``every: 16``."""

    name = "r1"

    def __init__(self, gamma: float = 10.0, every: int = 1, phase: Optional[str] = None):
        super().__init__(0.5 * gamma, every, phase)
        self.gamma = gamma

    def forward(self, module: Any, out: Any, batch: Any) -> Tensor:
        return r1_penalty(module.critic_fn(out.real_labels), out.real)


class R2(R1):
    """R2 (Mescheder et al. 2018): ``gamma / 2 * E[||grad D(G(z))||^2]`` on generated data."""

    name = "r2"

    def forward(self, module: Any, out: Any, batch: Any) -> Tensor:
        return r2_penalty(module.critic_fn(out.latent.labels), out.fake)


class Drift(Penalty):
    """ProGAN's drift term (Karras et al. 2018, appendix A.1): ``epsilon * E[D(x)^2]`` on real logits keeps
    the critic's output near zero; the paper's epsilon is 0.001."""

    name = "drift"

    def __init__(self, weight: float = 0.001, every: int = 1, phase: Optional[str] = None):
        super().__init__(weight, every, phase)

    def forward(self, module: Any, out: Any, batch: Any) -> Tensor:
        return out.real_logits.float().pow(2).mean()


class Orthogonal(Penalty):
    """BigGAN's orthogonal regularisation (Brock et al. 2019, eq. 3): ``beta * sum ||W^T W * (1 - I)||_F^2``
    over the weights of the network with ``role``, skipping 1-D parameters and embeddings (the paper's
    beta is 1e-4)."""

    name = "orthogonal"
    default_phase = "generator"

    def __init__(self, weight: float = 1e-4, role: str = "generator", every: int = 1, phase: Optional[str] = None):
        super().__init__(weight, every, phase)
        self.role = role

    def forward(self, module: Any, out: Any, batch: Any) -> Tensor:
        return orthogonal_penalty(module.network(self.role))


class PathLength(Penalty):
    """StyleGAN2's path-length regulariser (Karras et al. 2020, eq. 4): ``weight * E[(||J^T y||_2 - a)^2]``
    where J is the Jacobian of the generator at its input vector, y random image noise scaled by
    1/sqrt(pixels) and ``a`` a running mean of the lengths (decay 0.01). Applied lazily (``every: 4``)
    with the paper's weight 2. In W for a generator with ``mapping`` and ``synthesis`` (StyleGAN: one w per
    layer, the squared lengths averaged over layers); for others the input vector plays w's role.
    The batch is shrunk by ``batch_shrink`` as StyleGAN2 does (2)."""

    name = "path_length"
    default_phase = "generator"

    def __init__(self, weight: float = 2.0, every: int = 4, decay: float = 0.01, batch_shrink: int = 2,
                 phase: Optional[str] = None):
        super().__init__(weight, every, phase)
        if not 0 < decay <= 1 or batch_shrink < 1:
            raise ConfigError(f"PathLength decay={decay} must be in (0, 1] and batch_shrink={batch_shrink} >= 1")
        self.decay, self.batch_shrink = decay, batch_shrink
        self.register_buffer("mean", torch.zeros(()))

    def forward(self, module: Any, out: Any, batch: Any) -> Tensor:
        latent = out.latent[: max(1, len(out.latent) // self.batch_shrink)]
        generator = module.network("generator")
        z = module.latent_spec.assemble(latent)
        if is_style_based(generator):  # in W
            w = generator.mapping(z, num_ws=generator.num_ws)  # [N, layers, w_dim]; the mapping learns from it too
            w = w if w.requires_grad else w.detach().requires_grad_(True)  # a frozen mapping: w is the leaf
            fake = generator.synthesis(w)
        else:
            w = z.detach().requires_grad_(True)
            fake = generator(w, latent.labels)
        pixels = fake[0].numel() / fake.shape[1] if fake.dim() > 2 else 1
        noise = torch.randn_like(fake) / math.sqrt(pixels)
        (grad,) = torch.autograd.grad((fake * noise).sum(), w, create_graph=True)
        # the length of J^T y; with one w per layer, its square averaged over the layers (as StyleGAN2 does)
        lengths = grad.float().pow(2).sum(-1).mean(-1).sqrt() if grad.dim() == 3 else grad.float().pow(2).sum(1).sqrt()
        with torch.no_grad():
            self.mean.lerp_(lengths.mean(), self.decay)
        return (lengths - self.mean).pow(2).mean()


PENALTIES = {cls.__name__: cls for cls in (GradientPenalty, R1, R2, Drift, Orthogonal, PathLength)}

__all__ = ["Drift", "GradientPenalty", "Orthogonal", "PENALTIES", "PathLength", "Penalty", "R1", "R2"]
