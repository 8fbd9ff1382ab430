"""Build a generator/discriminator pair by architecture name, as the YAML configs name them."""

from __future__ import annotations

from typing import Literal, Optional, Sequence

from torch import nn

from lit_gans.errors import ConfigError
from lit_gans.nets.biggan import BigGANDiscriminator, BigGANGenerator
from lit_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lit_gans.nets.mlp import MLPDiscriminator, MLPGenerator
from lit_gans.nets.progan import ProGANDiscriminator, ProGANGenerator
from lit_gans.nets.resnet import ResNetDiscriminator, ResNetGenerator
from lit_gans.nets.stylegan import StyleGANDiscriminator, StyleGANGenerator

Architecture = Literal["mlp", "dcgan", "resnet", "biggan", "progan", "stylegan"]

# default widths: PacGAN's 2-D MLPs (G 4x400, D 3x200), DCGAN's 64 features, SNGAN's and cGAN-PD's 256/128 channels,
# ProGAN's and StyleGAN's 512 channels up to 32 px
DEFAULT_WIDTHS = {"mlp": (400, 200), "dcgan": (64, 64), "resnet": (256, 128), "biggan": (256, 128), "progan": (512, 512),
                  "stylegan": (512, 512)}


def build_networks(
    architecture: Architecture,
    latent_dim: int,
    data_shape: Sequence[int],
    num_classes: int = 0,
    g_width: Optional[int] = None,
    d_width: Optional[int] = None,
    d_batch_norm: bool = True,
    d_shape: Optional[Sequence[int]] = None,
    d_num_classes: Optional[int] = None,
    d_outputs: int = 1,
) -> tuple[nn.Module, nn.Module]:
    """A generator and a discriminator for ``data_shape``; ``num_classes > 0`` makes both conditional
    (``d_num_classes``, when given, sets the discriminator's apart: AC-GAN's reads no label).
    ``d_shape`` is the input of the discriminator when it differs (a packed critic, PacGAN).
    ``d_outputs > 1`` makes the discriminator a feature critic returning (N, d_outputs) (mlp and dcgan)."""
    if architecture not in DEFAULT_WIDTHS:
        raise ConfigError(f"model.architecture={architecture!r} is unknown; choose one of {sorted(DEFAULT_WIDTHS)}")
    if d_outputs != 1 and architecture not in ("mlp", "dcgan"):
        raise ConfigError(f"model.architecture={architecture!r}: a feature critic ({d_outputs} outputs per sample) is "
                          "built for mlp or dcgan; choose one of them")
    shape = tuple(int(d) for d in data_shape)
    if len(shape) == 1 and architecture != "mlp":
        raise ConfigError(f"architecture {architecture!r} makes images, but the data are vectors of shape {shape}; "
                          "set model.architecture: mlp")
    d_in = shape if d_shape is None else tuple(int(d) for d in d_shape)
    g_width = g_width or DEFAULT_WIDTHS[architecture][0]
    d_width = d_width or DEFAULT_WIDTHS[architecture][1]
    d_classes = num_classes if d_num_classes is None else d_num_classes
    if architecture == "mlp":
        output = "linear" if len(shape) == 1 else "tanh"
        return (
            MLPGenerator(latent_dim, shape, hidden=(g_width,) * 4, output=output, num_classes=num_classes),
            MLPDiscriminator(d_in, hidden=(d_width,) * 3, num_classes=d_classes, outputs=d_outputs),
        )
    if architecture == "dcgan":
        return (
            DCGANGenerator(latent_dim, shape, features=g_width, num_classes=num_classes),
            DCGANDiscriminator(d_in, features=d_width, batch_norm=d_batch_norm, num_classes=d_classes, outputs=d_outputs),
        )
    if architecture == "biggan":  # conditional: per-class batch norm in G, projection in D (cGAN-PD)
        return (
            BigGANGenerator(latent_dim, shape, features=g_width, num_classes=num_classes),
            BigGANDiscriminator(d_in, features=d_width, num_classes=d_classes),
        )
    if architecture == "progan":  # growing networks: the family sets their stage (lit_gans.families.ProGAN)
        return (
            ProGANGenerator(latent_dim, shape, width=g_width, num_classes=num_classes),
            ProGANDiscriminator(d_in, width=d_width, num_classes=d_classes),
        )
    if architecture == "stylegan":  # StyleGAN2's networks with their defaults (the StyleGAN family sets the rest)
        return (
            StyleGANGenerator(latent_dim, shape, width=g_width, num_classes=num_classes),
            StyleGANDiscriminator(d_in, width=d_width, num_classes=d_classes),
        )
    return (
        ResNetGenerator(latent_dim, shape, features=g_width, num_classes=num_classes),
        ResNetDiscriminator(d_in, features=d_width, num_classes=d_classes),
    )
