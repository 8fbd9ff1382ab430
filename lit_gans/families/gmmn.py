"""GMMN (Li, Swersky & Zemel 2015, "Generative Moment Matching Networks")."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.families._kernels import gaussian_kernel, mmd2
from lit_gans.families.base import AdversarialModule, adam
from lit_gans.latent import Distribution, LatentSpec
from lit_gans.loop import Batch, Phase, StepOutput
from lit_gans.nets.factory import Architecture

#: the paper's MNIST kernels as standard deviations: the authors' code (yujiali/gmmn) computes
#: exp(-|x - y|^2 / (2 sigma)) with sigma in {2, 5, 10, 20, 40, 80}, so sigma plays the variance and the widths are
#: sqrt(sigma) (pixels in [0, 1], 784 dimensions); digits at 16 px in [-1, 1] have squared distances of the
#: same order (4x per pixel, a third of the pixels), so they serve there as they are
PIXEL_BANDWIDTHS = tuple(round(math.sqrt(sigma), 3) for sigma in (2, 5, 10, 20, 40, 80))  # 1.414 ... 8.944


def gmmn_loss(fake: Tensor, real: Tensor, bandwidths: Sequence[float], square_root: bool = True) -> Tensor:
    """The generator's loss: the (biased, all-pairs) MMD^2 between generated and real samples under a
    mixture of Gaussian kernels, or its square root (``sqrt(MMD^2)``, as the paper trains)."""
    value = mmd2(fake.flatten(1), real.flatten(1), lambda a, b: gaussian_kernel(a, b, bandwidths), unbiased=False)
    return value.clamp_min(1e-12).sqrt() if square_root else value  # clamped: the biased estimate is >= 0


class GMMN(AdversarialModule):
    """Li et al. (2015): no critic at all. The generator minimises the maximum mean discrepancy between a
    generated batch and a real batch under a fixed mixture of Gaussian kernels (section 3, eq. 5: the
    biased estimate over all pairs; its square root, as the paper trains), one generator step per batch.
    Defaults from the paper's MNIST GMMN (data space): uniform noise U(-1, 1) of 10 numbers, an MLP
    generator (the paper: 64-256-256-1024 ReLU units and a sigmoid output; here ``g_width`` units in each
    of four layers and a tanh output), the kernels exp(-|x - y|^2 / (2 sigma)) of sigma = 2, 5, 10, 20, 40, 80
    (standard deviations sqrt(sigma), 1.41 to 8.94). The paper trains with SGD and
    momentum on minibatches of 1,000; here Adam with lr 1e-3 (the suite's digits batches are smaller).

    With no critic, the critic's arguments are refused: ``d_optimizer``, ``d_scheduler``, ``n_critic``,
    ``clip_value``, the penalties, ``augment``, ``spectral_norm``, ``pack`` and ``conditional``.
    ``d_width`` and ``d_batch_norm`` are accepted and unused, so that a call naming them for every family
    builds GMMN too. Steps are counted in the ``generator`` phase only (``d_step`` stays 0).

    Args:
        bandwidths: the standard deviations of the Gaussian kernels (2-D toys need their data's scale:
            e.g. 0.02 to 1 for the ring).
        square_root: minimise ``sqrt(MMD^2)`` (the paper's choice) rather than ``MMD^2``.
        latent_dim: size of the noise.
        z_distribution: ``uniform`` (U(-1, 1), the paper's) or ``normal``.
        architecture: the generator's networks (``mlp``, the paper's, or ``dcgan``).
        g_width: units per hidden layer of the MLP generator (features for DCGAN).
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    roles = {"generator": "generator"}

    def __init__(
        self,
        data_shape: Sequence[int],
        bandwidths: Sequence[float] = PIXEL_BANDWIDTHS,
        square_root: bool = True,
        latent_dim: int = 10,
        z_distribution: Distribution = "uniform",
        architecture: Architecture = "mlp",
        g_width: Optional[int] = 256,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        d_scheduler: Optional[LRSchedulerCallable] = None,
        n_critic: int = 1,
        clip_value: Optional[float] = None,
        gradient_penalty: float = 0.0,
        r1_gamma: float = 0.0,
        r2_gamma: float = 0.0,
        penalties: Optional[list[Any]] = None,
        augment: Optional[Any] = None,
        spectral_norm: bool = False,
        pack: int = 1,
        conditional: bool = False,
        **kwargs,
    ):
        refused = {"d_optimizer": d_optimizer is not None, "d_scheduler": d_scheduler is not None,
                   "n_critic": n_critic != 1, "clip_value": clip_value is not None,
                   "gradient_penalty": gradient_penalty != 0, "r1_gamma": r1_gamma != 0, "r2_gamma": r2_gamma != 0,
                   "penalties": bool(penalties), "augment": augment is not None, "spectral_norm": spectral_norm,
                   "pack": pack != 1, "conditional": conditional}
        for name, given in refused.items():
            if given:
                raise ConfigError(f"model.{name}: GMMN has no critic, so a critic's setting means nothing to it; "
                                  f"remove model.{name} (GMMN matches moments under fixed kernels)")
        bandwidths = tuple(float(s) for s in bandwidths)
        if not bandwidths or any(not s > 0 for s in bandwidths):
            raise ConfigError(f"model.bandwidths={list(bandwidths)} must list kernel widths > 0 "
                              "(e.g. [2, 5, 10, 20, 40, 80] for pixels, [0.02, 0.05, 0.1, 0.2, 0.5, 1] for the ring)")
        self.bandwidths, self.square_root, self.z_distribution = bandwidths, square_root, z_distribution
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, architecture=architecture, g_width=g_width,
                         g_optimizer=g_optimizer or adam(1e-3), **kwargs)

    def make_latent_spec(self) -> LatentSpec:
        return LatentSpec(self.latent_dim, self.z_distribution)

    def build_networks(self, architecture: Architecture, g_width: Optional[int], d_width: Optional[int],
                       d_batch_norm: bool, input_dim: Optional[int] = None,
                       critic_classes: Optional[int] = None) -> dict[str, nn.Module]:
        networks = super().build_networks(architecture, g_width, d_width, d_batch_norm, input_dim, critic_classes)
        return {"generator": networks["generator"]}  # the factory's discriminator is dropped: no critic

    def optimizer_groups(self):
        return {"generator": (self.g_optimizer, ("generator",), self.g_scheduler)}

    def phases(self) -> list[Phase]:
        return [Phase("generator", ("generator",), self.generator_loss, after_step=(self._after_generator_step,))]

    def mmd(self, fake: Tensor, real: Tensor) -> Tensor:
        return gmmn_loss(fake, real, self.bandwidths, self.square_root)

    def generator_loss(self, batch: Batch) -> StepOutput:
        latent = self.latent_spec.draw(len(batch), self.device)
        fake = self.generate(latent)
        loss = self.mmd(fake.float(), batch.image.float())
        return StepOutput(loss, {"loss/g": loss.detach()}, latent, fake, real=batch.image)

    def _validate(self, batch: Batch) -> None:
        n = len(batch)
        if n < 2:
            return
        fake = self.sample(n)
        with torch.no_grad():
            value = mmd2(fake.flatten(1).float(), batch.image.flatten(1).float(),
                         lambda a, b: gaussian_kernel(a, b, self.bandwidths), unbiased=True)
        self.log("val/mmd2", value, batch_size=n, sync_dist=True)

    def extra_repr(self) -> str:
        return f"bandwidths={list(self.bandwidths)}, square_root={self.square_root}, latent_dim={self.latent_dim}"


__all__ = ["GMMN", "PIXEL_BANDWIDTHS", "gmmn_loss"]
