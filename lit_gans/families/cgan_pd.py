"""cGAN with a projection discriminator (Miyato & Koyama 2018, "cGANs with Projection Discriminator")."""

from __future__ import annotations

from typing import Literal, Optional, Union

from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from lit_gans.errors import ConfigError
from lit_gans.families.base import AdversarialModule, adam
from lit_gans.losses import ObjectiveName
from lit_gans.nets.biggan import BigGANDiscriminator, BigGANGenerator, Init
from lit_gans.nets.factory import Architecture
from lit_gans.nets.packing import Packed, packed_shape

#: where a self-attention block sits: a resolution in pixels, ``half`` (half the image side) or None
Attention = Optional[Union[int, Literal["half"]]]


class CGANPD(AdversarialModule):
    """Miyato & Koyama (2018), the CIFAR-10 ResNet setting as Mimicry trains it: the SNGAN networks made
    class-conditional, by conditional batch norm in the generator (per-class gains and biases) and the
    projection <embed(y), phi(x)> at the critic's last layer; spectral norm on every critic layer, the
    hinge loss, z of size 128, 5 critic steps per generator step, Adam with lr 2e-4 and betas (0, 0.9).

    SAGAN and BigGAN (``lit_gans.families.sagan``, ``.biggan``) are this family with their papers'
    switches; each is an argument here too.

    Args:
        architecture: ``biggan`` (these networks); another architecture of ``lit_gans.nets`` takes none of the
            switches below.
        attention: the resolution (pixels) after whose block G and D have a self-attention block, ``half``
            for half the image side, None for none (cGAN-PD).
        shared_embedding: size of BigGAN's shared class embedding in G; 0 gives every batch norm its own
            per-class gains and biases (cGAN-PD, SAGAN).
        hierarchical: BigGAN's hierarchical latent (z split between the input layer and the blocks).
        g_spectral_norm: spectral norm in the generator too (SAGAN, BigGAN).
        init: ``default`` (PyTorch's) or ``orthogonal`` (BigGAN) initialisation of both networks.
        kwargs: the loop's other arguments (``AdversarialModule``); ``g_width``/``d_width`` are the
            channels of the generator's and critic's blocks (default 256 and 128).
    """

    def __init__(
        self,
        architecture: Architecture = "biggan",
        conditional: bool = True,
        latent_dim: int = 128,
        objective: ObjectiveName = "hinge",
        spectral_norm: bool = True,
        n_critic: int = 5,
        attention: Attention = None,
        shared_embedding: int = 0,
        hierarchical: bool = False,
        g_spectral_norm: bool = False,
        init: Init = "default",
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        self.attention_at, self.shared_embedding, self.hierarchical = attention, shared_embedding, hierarchical
        self.g_spectral_norm, self.init = g_spectral_norm, init
        super().__init__(
            architecture=architecture,
            conditional=conditional,
            latent_dim=latent_dim,
            objective=objective,
            spectral_norm=spectral_norm,
            n_critic=n_critic,
            g_optimizer=g_optimizer or adam(2e-4, (0.0, 0.9)),
            d_optimizer=d_optimizer or adam(2e-4, (0.0, 0.9)),
            **kwargs,
        )

    def build_networks(self, architecture, g_width, d_width, d_batch_norm, input_dim=None, critic_classes=None) -> dict[str, nn.Module]:
        if architecture != "biggan":  # the paper's switches need its networks; others come from the factory
            switches = {"attention": self.attention_at, "shared_embedding": self.shared_embedding,
                        "hierarchical": self.hierarchical, "g_spectral_norm": self.g_spectral_norm,
                        "init": self.init != "default"}
            if any(switches.values()):
                raise ConfigError(f"{', '.join(k for k, v in switches.items() if v)} need the networks of "
                                  f"architecture 'biggan', not {architecture!r}: set model.init_args.architecture: biggan "
                                  "or leave them at their defaults")
            return super().build_networks(architecture, g_width, d_width, d_batch_norm, input_dim, critic_classes)
        classes = self.num_classes if self.conditional else 0
        attention = self.data_shape[-1] // 2 if self.attention_at == "half" else self.attention_at
        generator = BigGANGenerator(
            input_dim or self.latent_spec.input_dim, self.data_shape, features=g_width or 256, num_classes=classes,
            shared_embedding=self.shared_embedding, hierarchical=self.hierarchical, attention=attention,
            spectral_norm=self.g_spectral_norm, init=self.init)
        discriminator = BigGANDiscriminator(
            packed_shape(self.data_shape, self.pack) if self.pack > 1 else self.data_shape, features=d_width or 128, num_classes=classes if critic_classes is None else critic_classes,
            attention=attention, init=self.init)
        return {"generator": generator, "discriminator": Packed(discriminator, self.pack) if self.pack > 1 else discriminator}


__all__ = ["Attention", "CGANPD"]
