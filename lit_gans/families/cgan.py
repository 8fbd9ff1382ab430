"""Conditional GAN (Mirza & Osindero 2014, "Conditional Generative Adversarial Nets")."""

from __future__ import annotations

from lit_gans.families.base import AdversarialModule
from lit_gans.nets.factory import Architecture


class CGAN(AdversarialModule):
    """Mirza & Osindero (2014): generator and discriminator both receive the class label y (one-hot,
    concatenated to z and to the input), so ``sample(n, labels)`` draws chosen classes. MLP networks
    as in the paper by default; ``architecture: dcgan`` gives a conditional DCGAN. Generated samples
    in a critic step get uniformly drawn labels."""

    def __init__(self, architecture: Architecture = "mlp", conditional: bool = True, **kwargs):
        super().__init__(architecture=architecture, conditional=conditional, **kwargs)
