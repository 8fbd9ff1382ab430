"""Class-conditional residual networks: cGAN-PD (Miyato & Koyama 2018), SAGAN (Zhang et al. 2019) and
BigGAN (Brock et al. 2019) are one generator and one discriminator with different switches.

Generator: z -> linear 4x4 -> residual up-sampling blocks (BN-ReLU-up-conv3-BN-ReLU-conv3, a 1x1
shortcut) -> BN-ReLU-conv3-tanh, where the blocks' batch norms are **conditional**: their gain and bias
come from the class. Three ways, as the papers do it:

- per-class gains and biases (cGAN-PD, SAGAN): an embedding table per batch norm;
- a shared class embedding (BigGAN): one embedding of the class, and each batch norm maps it linearly
  to its gains and biases;
- a hierarchical latent (BigGAN): z is split into one chunk for the input layer and one per block, and
  each block's chunk joins the shared embedding in its batch norms' input.

Discriminator: SNGAN's residual blocks (``lit_gans.nets.resnet``) down to 8x8, two more at 8x8, ReLU,
global sum pooling, a linear logit and the projection term <embed(y), phi(x)> (Miyato & Koyama 2018).

Both take ``attention``: the resolution (in pixels) after whose block a self-attention block sits
(``lit_gans.nets.attention``); None leaves it out.
"""

from __future__ import annotations

from typing import Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from lit_gans.errors import ConfigError
from lit_gans.nets.attention import SelfAttention
from lit_gans.nets.common import power_of_two_size
from lit_gans.nets.resnet import _DBlock, projection_logits

Init = Literal["default", "orthogonal"]


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose gain ``1 + gamma(c)`` and bias ``beta(c)`` come from a condition ``c``.

    ``num_classes > 0``: ``c`` is a class index and gamma, beta are embedding tables (at the start gamma
    ~ N(0, 0.02), so gains are near 1 and differ a little between classes, and beta = 0). ``cond_dim > 0``: ``c`` is a vector and gamma, beta are linear maps without bias
    (BigGAN). Neither: an ordinary batch norm with a learnt gain and bias.
    """

    def __init__(self, channels: int, num_classes: int = 0, cond_dim: int = 0):
        super().__init__()
        self.conditional = num_classes > 0 or cond_dim > 0
        self.bn = nn.BatchNorm2d(channels, affine=not self.conditional)
        self.gamma: Optional[nn.Module] = None
        self.beta: Optional[nn.Module] = None
        if num_classes > 0:
            self.gamma, self.beta = nn.Embedding(num_classes, channels), nn.Embedding(num_classes, channels)
            nn.init.normal_(self.gamma.weight, std=0.02)
            nn.init.zeros_(self.beta.weight)
        elif cond_dim > 0:
            self.gamma, self.beta = nn.Linear(cond_dim, channels, bias=False), nn.Linear(cond_dim, channels, bias=False)

    def forward(self, x: Tensor, cond: Optional[Tensor]) -> Tensor:
        h = self.bn(x)
        if not self.conditional:
            return h
        gain, bias = 1 + self.gamma(cond), self.beta(cond)
        return h * gain[:, :, None, None] + bias[:, :, None, None]


class _CondGBlock(nn.Module):
    """CBN-ReLU-upsample-conv3-CBN-ReLU-conv3 with a 1x1 upsampled shortcut (BigGAN's GBlock)."""

    def __init__(self, c_in: int, c_out: int, num_classes: int, cond_dim: int):
        super().__init__()
        self.bn1, self.bn2 = ConditionalBatchNorm2d(c_in, num_classes, cond_dim), ConditionalBatchNorm2d(c_out, num_classes, cond_dim)
        self.conv1, self.conv2 = nn.Conv2d(c_in, c_out, 3, 1, 1), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor, cond: Optional[Tensor]) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


def _attention_at(attention: Optional[int], resolutions: Sequence[int], net: str) -> Optional[int]:
    """The index of the block after which attention sits, or None; one clear error for a size no block has."""
    if attention is None or attention == 0:
        return None
    if attention not in resolutions:
        raise ConfigError(f"{net}: attention={attention} is not a resolution of its blocks {list(resolutions)}; "
                          "choose one of them, or null for no self-attention")
    return list(resolutions).index(attention)


def orthogonal_init(module: nn.Module) -> nn.Module:
    """Orthogonal initialisation of every convolution, linear and embedding weight (BigGAN's ``ortho``),
    biases at zero; per-class batch-norm tables keep their near-identity start. Run it before spectral
    norm is applied."""
    tables = {id(m) for bn in module.modules() if isinstance(bn, ConditionalBatchNorm2d)
              for m in (bn.gamma, bn.beta) if isinstance(m, nn.Embedding)}
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear, nn.Embedding)) and id(layer) not in tables:
            nn.init.orthogonal_(layer.weight)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)
    return module


class BigGANGenerator(nn.Module):
    """Residual generator with conditional batch norm (cGAN-PD, SAGAN, BigGAN).

    Args:
        latent_dim: size of z.
        data_shape: ``(channels, S, S)`` with S a power of two from 16 to 256.
        features: channels of every block (cGAN-PD's CIFAR-10 network: 256; BigGAN's CIFAR: 4 x 64).
        num_classes: classes of the label (0: unconditional, plain batch norm unless ``hierarchical``).
        shared_embedding: size of BigGAN's shared class embedding; 0 gives each batch norm its own
            per-class gains and biases (cGAN-PD, SAGAN).
        hierarchical: split z into one chunk for the input layer and one per block (BigGAN), as evenly as
            ``latent_dim`` allows; each block's batch norms read its chunk beside the class embedding.
        attention: resolution after whose block a self-attention block sits (SAGAN, BigGAN); None: none.
        spectral_norm: spectral norm on every convolution and linear layer (SAGAN and BigGAN normalise G
            too); class embeddings are left as they are.
        init: ``default`` (PyTorch's) or ``orthogonal`` (BigGAN).
    """

    def __init__(self, latent_dim: int, data_shape: Sequence[int], features: int = 256, num_classes: int = 0,
                 shared_embedding: int = 0, hierarchical: bool = False, attention: Optional[int] = None,
                 spectral_norm: bool = False, init: Init = "default"):
        super().__init__()
        name = type(self).__name__
        channels, size, log_size = power_of_two_size(data_shape, name, 16, 256)
        n_blocks = log_size - 2
        self.latent_dim, self.num_classes, self.features, self.hierarchical = latent_dim, num_classes, features, hierarchical
        if hierarchical:
            slots = n_blocks + 1
            if latent_dim < slots:
                raise ConfigError(f"{name}: a hierarchical latent splits z into {slots} chunks (one for the input "
                                  f"layer, one per block), so latent_dim={latent_dim} must be at least {slots}")
            self.chunks = [latent_dim // slots + (1 if i < latent_dim % slots else 0) for i in range(slots)]
        else:
            self.chunks = [latent_dim]
        self.shared = nn.Embedding(num_classes, shared_embedding) if num_classes and shared_embedding else None
        label_dim = shared_embedding if self.shared is not None else 0
        per_class = num_classes if (num_classes and not shared_embedding and not hierarchical) else 0
        if num_classes and not shared_embedding and hierarchical:
            label_dim = num_classes  # one-hot labels beside the chunks
        cond_dims = [label_dim + (self.chunks[i + 1] if hierarchical else 0) for i in range(n_blocks)]
        self.linear = nn.Linear(self.chunks[0], 4 * 4 * features)
        self.blocks = nn.ModuleList([_CondGBlock(features, features, per_class, cond_dims[i]) for i in range(n_blocks)])
        resolutions = [2 ** (3 + i) for i in range(n_blocks)]
        self.attention_index = _attention_at(attention, resolutions, name)
        self.attention = SelfAttention(features) if self.attention_index is not None else None
        self.out = nn.Sequential(nn.BatchNorm2d(features), nn.ReLU(), nn.Conv2d(features, channels, 3, 1, 1), nn.Tanh())
        if init == "orthogonal":
            orthogonal_init(self)
        elif init != "default":
            raise ConfigError(f"{name}: init={init!r} is unknown; use 'default' or 'orthogonal'")
        if spectral_norm:
            for layer in list(self.modules()):
                if isinstance(layer, (nn.Conv2d, nn.Linear)):
                    _spectral_norm(layer)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.num_classes and labels is None:
            raise ValueError(f"this network is conditional on {self.num_classes} classes: pass labels of shape ({z.shape[0]},)")
        labels = None if labels is None else labels.long().to(z.device)
        chunks = torch.split(z, self.chunks, dim=1)
        if self.shared is not None:
            label = self.shared(labels)
        elif self.num_classes and self.hierarchical:
            label = F.one_hot(labels, self.num_classes).to(z.dtype)
        else:
            label = None
        h = self.linear(chunks[0]).view(z.shape[0], self.features, 4, 4)
        for i, block in enumerate(self.blocks):
            if self.hierarchical:
                cond = chunks[i + 1] if label is None else torch.cat([label, chunks[i + 1]], dim=1)
            else:
                cond = label if label is not None else labels
            h = block(h, cond)
            if i == self.attention_index:
                h = self.attention(h)
        return self.out(h)


class BigGANDiscriminator(nn.Module):
    """SNGAN's residual discriminator with optional self-attention and the projection term.

    Spectral norm is applied by the family (``spectral_norm: true``), to the embedding too.

    Args:
        data_shape: ``(channels, S, S)`` with S a power of two from 16 to 256.
        features: channels of every block (cGAN-PD's CIFAR-10 network: 128).
        num_classes: >0 adds the projection <embed(y), phi(x)> to the logit.
        attention: resolution after whose block a self-attention block sits; None: none.
        init: ``default`` or ``orthogonal`` (BigGAN).
    """

    def __init__(self, data_shape: Sequence[int], features: int = 128, num_classes: int = 0,
                 attention: Optional[int] = None, init: Init = "default"):
        super().__init__()
        name = type(self).__name__
        channels, size, log_size = power_of_two_size(data_shape, name, 16, 256)
        self.num_classes = num_classes
        blocks = [_DBlock(channels, features, down=True, first=True)]
        blocks += [_DBlock(features, features, down=True) for _ in range(log_size - 4)]
        blocks += [_DBlock(features, features, down=False) for _ in range(2)]
        self.blocks = nn.ModuleList(blocks)
        resolutions = [size // 2 ** min(i + 1, log_size - 3) for i in range(len(blocks))]
        self.attention_index = _attention_at(attention, resolutions, name)
        self.attention = SelfAttention(features) if self.attention_index is not None else None
        self.linear = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features) if num_classes > 0 else None
        if init == "orthogonal":
            orthogonal_init(self)
        elif init != "default":
            raise ConfigError(f"{name}: init={init!r} is unknown; use 'default' or 'orthogonal'")

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attention_index:
                h = self.attention(h)
        return projection_logits(F.relu(h), self.linear, self.embed, labels)


__all__ = ["BigGANDiscriminator", "BigGANGenerator", "ConditionalBatchNorm2d", "orthogonal_init"]
