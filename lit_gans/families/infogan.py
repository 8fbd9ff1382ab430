"""InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets")."""

from __future__ import annotations

from typing import Optional, Sequence

import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lit_gans.errors import ConfigError
from lit_gans.families._auxiliary import AuxiliaryCriticModule
from lit_gans.families.base import adam
from lit_gans.latent import Distribution, Latent, LatentSpec
from lit_gans.loop import Batch, StepOutput
from lit_gans.nets.factory import Architecture


class InfoGAN(AuxiliaryCriticModule):
    """Chen et al. (2016): beside the noise z the generator reads structured codes (MNIST: one 10-way
    categorical code and two continuous codes in U(-1, 1)), and a network Q (``q_head``: 128 units with
    batch norm) estimates the codes of a generated sample. As in the reference, D and Q share the
    discriminator's convolutions and a fully connected layer of 1,024 units (batch norm, LeakyReLU) on
    them; D's logit and Q read that layer. Both players
    minimise ``info_weight`` times the negative variational lower bound of the mutual information between
    codes and samples (cross-entropy for categorical codes; a unit-variance Gaussian log-likelihood,
    ``0.5 (c - mu)^2``, for continuous ones, as the reference's fixed-std codes); Q is stepped with the
    discriminator. Defaults from the reference MNIST launcher: 62 uniform noise numbers, weight 1, Adam
    with beta1 0.5 and lr 1e-3 for G, 2e-4 for D and Q.

    Args:
        latent_dim: size of the noise z.
        categorical: the sizes of the categorical codes.
        continuous: the number of continuous codes.
        z_distribution: ``uniform`` (U(-1, 1), the reference's) or ``normal``.
        info_weight: weight lambda of the mutual-information term.
        shared_units: units of the fully connected layer that D's logit and Q share (the reference: 1,024);
            0 puts both on the convolutions' features.
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    roles = {**AuxiliaryCriticModule.roles, "auxiliary": "q_head"}
    auxiliary_hidden = 128

    def __init__(
        self,
        architecture: Architecture = "dcgan",
        latent_dim: int = 62,
        categorical: Sequence[int] = (10,),
        continuous: int = 2,
        z_distribution: Distribution = "uniform",
        info_weight: float = 1.0,
        shared_units: int = 1024,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        if info_weight < 0:
            raise ConfigError(f"model.info_weight={info_weight} must be >= 0 (the paper uses 1)")
        if not categorical and continuous < 1:
            raise ConfigError("InfoGAN needs at least one code: set model.categorical (e.g. [10]) or model.continuous")
        if kwargs.get("conditional"):
            raise ConfigError("InfoGAN learns its codes without labels: remove model.conditional")
        self.categorical, self.continuous = tuple(int(k) for k in categorical), int(continuous)
        if shared_units < 0:
            raise ConfigError(f"model.shared_units={shared_units} must be >= 0 (the reference uses 1024; 0 shares no layer)")
        self.z_distribution, self.info_weight, self.shared_hidden = z_distribution, info_weight, int(shared_units)
        super().__init__(architecture=architecture, latent_dim=latent_dim, g_optimizer=g_optimizer or adam(1e-3),
                         d_optimizer=d_optimizer or adam(2e-4), **kwargs)

    def make_latent_spec(self) -> LatentSpec:
        return LatentSpec(self.latent_dim, self.z_distribution, self.categorical, self.continuous)

    def auxiliary_outputs(self) -> int:
        return sum(self.categorical) + self.continuous

    def information_loss(self, q: Tensor, latent: Latent) -> Tensor:
        """The negative lower bound of I(codes; G(z, codes)), up to constants: Q's cross-entropy on each
        categorical code plus half the squared error of its estimate of each continuous code."""
        loss, start = q.new_zeros(()), 0
        for i, k in enumerate(self.categorical):
            loss = loss + F.cross_entropy(q[:, start : start + k].float(), latent.codes[:, i])
            start += k
        if self.continuous:
            loss = loss + 0.5 * (q[:, start:].float() - latent.continuous).pow(2).sum(1).mean()
        return loss

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        out = super().discriminator_loss(batch)
        return out.add("loss/d_info", self.information_loss(out.fake_aux, out.latent), self.info_weight)

    def generator_loss(self, batch: Batch) -> StepOutput:
        out = super().generator_loss(batch)
        return out.add("loss/g_info", self.information_loss(out.fake_aux, out.latent), self.info_weight)
