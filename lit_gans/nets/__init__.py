"""Plain ``nn.Module`` generators and discriminators; no Lightning here.

Every generator maps ``(z, labels=None)`` to a batch of samples; every discriminator maps
``(x, labels=None)`` to logits of shape ``(N,)``. Shapes are checked at construction.
"""

from lit_gans.nets.attention import SelfAttention
from lit_gans.nets.biggan import BigGANDiscriminator, BigGANGenerator, ConditionalBatchNorm2d
from lit_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lit_gans.nets.mlp import MLPDiscriminator, MLPGenerator
from lit_gans.nets.resnet import ResNetDiscriminator, ResNetGenerator

__all__ = [
    "BigGANDiscriminator",
    "BigGANGenerator",
    "ConditionalBatchNorm2d",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "SelfAttention",
]
