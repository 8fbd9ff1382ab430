"""DeLiGAN (Gurumurthy, Sarvadevabhatla & Babu 2017, "DeLiGAN: Generative Adversarial Networks for
Diverse and Limited Data"): the GAN with a learnable mixture-of-Gaussians latent."""

from __future__ import annotations

from torch import nn

from lit_gans.errors import ConfigError
from lit_gans.families.base import AdversarialModule
from lit_gans.latent import LatentSpec
from lit_gans.loop import Batch, StepOutput
from lit_gans.losses import ObjectiveName
from lit_gans.nets.factory import Architecture
from lit_gans.nets.mixture import MixtureLatent


class DeLiGAN(AdversarialModule):
    """Gurumurthy et al. (2017): the latent is a uniform mixture of ``components`` Gaussians whose means
    and scales are learnt with the generator (``lit_gans.nets.mixture.MixtureLatent``); the rest is the
    GAN's (non-saturating loss, MLPs by default). The paper's penalty ``sigma_penalty * sum (1 -
    sigma)^2`` on the generator's loss keeps the scales from shrinking to points.

    Args:
        components: mixture components (the paper: 50).
        sigma: initial scale of the components (the paper: 0.2).
        sigma_penalty: weight of the penalty on the scales; 0 disables it.
        latent_dim: size of each component; the family draws one more standard normal number per
            sample to pick the component.
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    resumable_args = AdversarialModule.resumable_args | {"sigma_penalty"}

    def __init__(
        self,
        architecture: Architecture = "mlp",
        objective: ObjectiveName = "non_saturating",
        components: int = 50,
        sigma: float = 0.2,
        sigma_penalty: float = 0.0,
        latent_dim: int = 100,
        n_fixed_samples: int = 64,
        seed: int = 0,
        **kwargs,
    ):
        if components < 1:
            raise ConfigError(f"model.components={components} must be at least 1 (DeLiGAN uses 50)")
        if sigma <= 0 or sigma_penalty < 0:
            raise ConfigError(f"model.sigma={sigma} must be > 0 and model.sigma_penalty={sigma_penalty} >= 0")
        self.components, self.sigma, self.sigma_penalty = components, sigma, sigma_penalty
        super().__init__(architecture=architecture, objective=objective, latent_dim=latent_dim,
                         n_fixed_samples=n_fixed_samples, seed=seed, **kwargs)

    def make_latent_spec(self) -> LatentSpec:
        # one more standard normal number per sample picks the component
        return LatentSpec(self.latent_dim + 1)

    def build_networks(self, architecture, g_width, d_width, d_batch_norm, input_dim=None) -> dict[str, nn.Module]:
        networks = super().build_networks(architecture, g_width, d_width, d_batch_norm, input_dim=self.latent_dim)
        networks["generator"] = MixtureLatent(networks["generator"], self.latent_dim, self.components, self.sigma)
        return networks

    def generator_loss(self, batch: Batch) -> StepOutput:
        out = super().generator_loss(batch)
        if self.sigma_penalty > 0:
            out.add("penalty/sigma", (1 - self.generator.log_sigma.exp()).pow(2).sum(), self.sigma_penalty)
        return out
