"""The original GAN (Goodfellow et al. 2014, "Generative Adversarial Nets")."""

from __future__ import annotations

from lit_gans.families.base import AdversarialModule
from lit_gans.losses import ObjectiveName
from lit_gans.nets.factory import Architecture


class GAN(AdversarialModule):
    """Goodfellow et al. (2014): multilayer perceptrons and the minimax game.

    The generator uses the paper's non-saturating loss (section 3: maximise log D(G(z))), the form
    used in practice; ``objective: minimax`` gives the saturating eq. 1. The paper trained with SGD
    and momentum; the default here is Adam (lr 2e-4, betas (0.5, 0.999)). The configs write out each
    protocol's own optimizer (PacGAN's 2-D runs: lr 1e-4, beta1 0.8). MLPs default to PacGAN's
    sizes (G 4x400 with batch norm, D 3x200).
    """

    def __init__(self, architecture: Architecture = "mlp", objective: ObjectiveName = "non_saturating", **kwargs):
        super().__init__(architecture=architecture, objective=objective, **kwargs)
