"""EBGAN (Zhao, Mathieu & LeCun 2017, "Energy-based Generative Adversarial Network"), and the autoencoder
critic that BEGAN and MAGAN share with it."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Optional

import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.families.base import AdversarialModule, adam
from lit_gans.loop import Batch, StepOutput
from lit_gans.losses import Objective
from lit_gans.nets.autoencoder import Activation, EnergyNorm, build_autoencoder, reconstruction_energy
from lit_gans.nets.factory import DEFAULT_WIDTHS, Architecture
from lit_gans.resume import RESUMABLE


def ebgan_d_loss(real_energy: Tensor, fake_energy: Tensor, margin: float | Tensor) -> Tensor:
    """Zhao et al. (2017), eq. 1: E[D(x)] + E[max(0, m - D(G(z)))]."""
    return real_energy.mean() + F.relu(margin - fake_energy).mean()


def ebgan_g_loss(fake_energy: Tensor) -> Tensor:
    """Zhao et al. (2017), eq. 2: E[D(G(z))]."""
    return fake_energy.mean()


def pulling_away_term(code: Tensor) -> Tensor:
    """Zhao et al. (2017), eq. 7: the mean squared cosine similarity of the codes of distinct samples,
    1 / (N (N - 1)) * sum_{i != j} (S_i . S_j / (|S_i| |S_j|))^2; 0 for a batch of one."""
    n = code.shape[0]
    if n < 2:
        return code.new_zeros(())
    s = F.normalize(code.flatten(1).float(), dim=1)
    cosine = s @ s.T
    return (cosine.pow(2).sum() - cosine.diagonal().pow(2).sum()) / (n * (n - 1))


class AutoencoderCriticModule(AdversarialModule, metaclass=ABCMeta):
    """The loop with an autoencoder as its critic (``lit_gans.nets.autoencoder``): ``judge`` returns each
    sample's energy (its reconstruction error, ``energy_norm``) and its code, and the family's objective
    is a pair of methods on energies, ``energy_d_loss`` and ``energy_g_loss`` (low energy = real), so the
    base's losses, penalties (which see energies) and validation work unchanged. Unconditional and unpacked.

    Args:
        code: size of the autoencoder's code (its bottleneck).
        activation: the autoencoder's hidden activation, ``relu``, ``leaky_relu`` or ``elu``.
        kwargs: the loop's other arguments (``AdversarialModule``); ``d_width`` is the autoencoder's width and
            ``d_batch_norm`` its batch norm (convolutional autoencoder only).
    """

    energy_norm: EnergyNorm = "l2"
    objective_name = "energy"

    def __init__(self, code: int = 64, activation: Activation = "leaky_relu", **kwargs):
        if code < 1:
            raise ConfigError(f"model.code={code} must be at least 1 (the autoencoder's code size)")
        # the CLI fills in the base's default objective from the signature; another one cannot apply here
        objective = kwargs.pop("objective", "non_saturating")
        if objective != "non_saturating":
            raise ConfigError(f"model.objective={objective!r}: {type(self).__name__}'s objective is its own "
                              "energy loss; remove model.objective")
        self.code, self.activation = int(code), activation
        super().__init__(**kwargs)
        self.hparams.pop("objective", None)  # the base's default, unused here
        self.objective = Objective(self.objective_name, self.energy_d_loss, self.energy_g_loss, self.energy_g_terms)

    def build_networks(self, architecture: Architecture, g_width: Optional[int], d_width: Optional[int],
                       d_batch_norm: bool, input_dim: Optional[int] = None,
                       critic_classes: Optional[int] = None) -> dict[str, nn.Module]:
        name = type(self).__name__
        if self.conditional:
            raise ConfigError(f"{name} is unconditional: remove model.conditional")
        if self.pack > 1:
            raise ConfigError(f"model.pack={self.pack}: {name}'s autoencoder critic judges one sample at a time; use pack: 1")
        networks = super().build_networks(architecture, g_width, d_width, d_batch_norm, input_dim, critic_classes)
        width = d_width or DEFAULT_WIDTHS.get(architecture, (0, 64))[1]
        networks[self.roles["critic"]] = build_autoencoder(architecture, self.data_shape, width, self.code,
                                                           self.activation, d_batch_norm)
        return networks

    def judge(self, x: Tensor, labels: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        """Each sample's energy (N,) and the autoencoder's code of it (N, code)."""
        if self.augment is not None and self.training:
            x = self.augment(x)
        autoencoder = self.network("critic")
        code = autoencoder.encode(x)
        return reconstruction_energy(x, autoencoder.decode(code), self.energy_norm), code

    @abstractmethod
    def energy_d_loss(self, real_energy: Tensor, fake_energy: Tensor) -> Tensor:
        """The discriminator's loss from the energies of real and generated samples (low energy = real)."""

    def energy_g_loss(self, fake_energy: Tensor) -> Tensor:
        return ebgan_g_loss(fake_energy)

    def energy_g_terms(self, fake_energy: Tensor) -> Tensor:
        """The generator's loss per sample: each sample's energy (EBGAN, MAGAN; BEGAN's L(G(z)))."""
        return fake_energy


class EBGAN(AutoencoderCriticModule):
    """Zhao et al. (2017): the discriminator is an autoencoder whose energy D(x) is the reconstruction error
    of x, ``||Dec(Enc(x)) - x||`` (the paper's eq. 13: the Euclidean norm over a sample's entries, not squared);
    it minimises D(x) + max(0, m - D(G(z))),
    the generator minimises D(G(z)) plus, with ``pt_weight`` > 0 (EBGAN-PT), the pulling-away term on the
    encoder's codes of its samples (weight 0.1 in the paper; generator loss only, as in the paper).

    Defaults: the restrictions of the paper's MNIST grid search (section 4.1): Adam with lr 0.001 for both
    networks (beta1 0.5 here: the paper's text gives none), margin m = 10, and PT weight 0.1. The margin is in
    the energy's units, which grow with the square root of a sample's size: for the same error per pixel, m = 10
    on 28 x 28 images is 10 * sqrt(256 / 784) = 5.7 on 16 x 16 ones (the digits config's), and the 2-D toys'
    configs give theirs.

    Args:
        margin: the hinge margin m on the energy of generated samples.
        pt_weight: weight of the pulling-away term (0 gives plain EBGAN).
        code: size of the autoencoder's code.
        activation: the autoencoder's hidden activation.
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    resumable_args = RESUMABLE | {"margin", "pt_weight"}
    energy_norm = "l2_norm"

    def __init__(
        self,
        margin: float = 10.0,
        pt_weight: float = 0.1,
        code: int = 64,
        activation: Activation = "leaky_relu",
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        if margin < 0 or pt_weight < 0:
            raise ConfigError(f"model.margin={margin} and model.pt_weight={pt_weight} must be >= 0 "
                              "(the paper: margin 10 on 28 px MNIST, PT weight 0.1)")
        self.fixed_margin, self.pt_weight = float(margin), float(pt_weight)
        super().__init__(code=code, activation=activation, g_optimizer=g_optimizer or adam(1e-3),
                         d_optimizer=d_optimizer or adam(1e-3), **kwargs)

    def hinge_margin(self) -> float | Tensor:
        """The margin m of the discriminator's hinge (MAGAN adapts it)."""
        return self.fixed_margin

    def energy_d_loss(self, real_energy: Tensor, fake_energy: Tensor) -> Tensor:
        return ebgan_d_loss(real_energy, fake_energy, self.hinge_margin())

    def generator_loss(self, batch: Batch) -> StepOutput:
        out = super().generator_loss(batch)
        if self.pt_weight > 0:
            out.add("loss/g_pt", pulling_away_term(out.fake_aux), self.pt_weight)
        return out

    def extra_repr(self) -> str:
        return f"margin={self.fixed_margin}, pt_weight={self.pt_weight}, code={self.code}, latent_dim={self.latent_dim}"


__all__ = ["EBGAN", "AutoencoderCriticModule", "ebgan_d_loss", "ebgan_g_loss", "pulling_away_term"]
