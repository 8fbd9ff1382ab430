"""LSGAN (Mao et al. 2017, "Least Squares Generative Adversarial Networks")."""

from __future__ import annotations

from lit_gans.families.base import AdversarialModule
from lit_gans.losses import ObjectiveName


class LSGAN(AdversarialModule):
    """Mao et al. (2017): the least-squares objective with the 0-1 coding (a=0, b=c=1, eq. 2), on
    DCGAN networks, Adam with lr 2e-4 and beta1 0.5 (the base's defaults)."""

    def __init__(self, objective: ObjectiveName = "least_squares", **kwargs):
        super().__init__(objective=objective, **kwargs)
