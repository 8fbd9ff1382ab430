"""ProGAN's growing generator and discriminator (Karras et al. 2018, "Progressive Growing of GANs").

Both networks hold every resolution's block from the start and run those up to the current **stage**:
a float in ``[0, log2(S) - 2]``, 0 for 4x4, 1 for 8x8 and so on. An integer stage runs its resolution
alone; a fractional stage ``k - 1 + alpha`` fades the block of stage k in with weight ``alpha``, beside the
stage below upsampled (generator) or downsampled (discriminator), as the paper's figure 2 shows.

The generator always returns images of the data's full size (the current resolution upsampled by
repeating pixels) and the discriminator takes full-size images and averages them down to the current
resolution, so that sampling, metrics, grids and checkpoints see one image size all run long.
``fade_images`` gives real images the same fade as the generator's output (the reference's data fade).
The stage is a buffer, so a checkpoint keeps it; the family sets it from its growth schedule.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.nets.common import power_of_two_size
from lit_gans.nets.equalized import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm


def channels_at(width: int, resolution: int) -> int:
    """Channels at a resolution: ``width`` up to 32 px, halving per doubling above, as the reference's
    ``min(fmap_base / res, fmap_max)`` gives with ``width = fmap_max = 512`` (StyleGAN's networks too)."""
    return min(width, width * 32 // resolution)


def stage_channels(width: int, stage: int) -> int:
    """Channels at stage k (resolution 4 * 2^k), at least 1."""
    return max(1, channels_at(width, 4 * 2**stage))


def split_stage(stage: float) -> tuple[int, float]:
    """The highest block a stage runs and that block's weight: 2.0 -> (2, 1.0), 2.25 -> (3, 0.25)."""
    top = math.ceil(stage)
    return top, 1.0 if top == 0 else stage - (top - 1)


def fade_images(x: Tensor, stage: float) -> Tensor:
    """Full-size images as a network at ``stage`` sees them: averaged down to the stage's resolution and,
    inside a fade, mixed with the resolution below by the fading block's weight; then brought back to the
    full size by repeating pixels."""
    size = x.shape[-1]
    top, alpha = split_stage(stage)
    low = F.avg_pool2d(x, size // (4 * 2**top)) if 4 * 2**top < size else x
    if alpha < 1:
        low = torch.lerp(F.interpolate(F.avg_pool2d(low, 2), scale_factor=2, mode="nearest"), low, alpha)
    return F.interpolate(low, size=size, mode="nearest") if low.shape[-1] < size else low


class _Growing(nn.Module):
    """The stage buffer with a Python copy, so a forward pass never reads it back from an accelerator."""

    def _init_stage(self, data_shape: Sequence[int], num_classes: int) -> tuple[int, int]:
        """Check the data (square, 8 to 1024 px, unlabelled) and add the stage; returns (channels, stages)."""
        if num_classes:
            raise ConfigError("ProGAN's networks are unconditional: set model.conditional: false")
        channels, self.size, log_size = power_of_two_size(data_shape, type(self).__name__, 8, 1024)
        stages = log_size - 1
        self.max_stage = stages - 1
        self.register_buffer("stage", torch.zeros(()))
        self._stage = 0.0
        self.register_load_state_dict_post_hook(lambda module, _: module._sync_stage())
        return channels, stages

    def _sync_stage(self) -> None:
        self._stage = float(self.stage)

    def set_stage(self, stage: float) -> None:
        if not 0 <= stage <= self.max_stage:
            raise ValueError(f"{type(self).__name__}: stage {stage} is outside [0, {self.max_stage}]")
        self._stage = float(stage)
        self.stage.fill_(stage)

    def _apply(self, fn, *args, **kwargs):  # ``.to()``/EMA copies keep the Python copy in step with the buffer
        out = super()._apply(fn, *args, **kwargs)
        out._stage = float(out.stage) if out.stage.device.type != "meta" else out._stage
        return out


class ProGANGenerator(_Growing):
    """z (pixel-normalised) -> 4x4 (a fully connected layer, then a 3x3 convolution) -> per resolution:
    nearest upsampling and two 3x3 convolutions; leaky ReLU 0.2 and pixel norm after every convolution;
    a 1x1 to-RGB layer per resolution; every layer with the equalised learning rate. Output is linear
    (no tanh), as in the paper.

    Args:
        latent_dim: size of z.
        data_shape: ``(channels, S, S)`` with S a power of two from 8 to 1024.
        width: channels up to 32 px (``stage_channels``); the paper's 512.
    """

    def __init__(self, latent_dim: int, data_shape: Sequence[int], width: int = 512, num_classes: int = 0):
        super().__init__()
        channels, stages = self._init_stage(data_shape, num_classes)
        self.latent_dim = latent_dim
        c0 = stage_channels(width, 0)
        self.norm = PixelNorm()
        self.input = EqualizedLinear(latent_dim, c0 * 16, gain=math.sqrt(2) / 4)  # the reference's gain for 4x4
        self.blocks = nn.ModuleList([nn.ModuleList([EqualizedConv2d(c0, c0, 3)])])
        for k in range(1, stages):
            c_in, c_out = stage_channels(width, k - 1), stage_channels(width, k)
            self.blocks.append(nn.ModuleList([EqualizedConv2d(c_in, c_out, 3), EqualizedConv2d(c_out, c_out, 3)]))
        self.to_rgb = nn.ModuleList([EqualizedConv2d(stage_channels(width, k), channels, 1, gain=1.0) for k in range(stages)])

    def _act(self, h: Tensor) -> Tensor:
        return self.norm(F.leaky_relu(h, 0.2))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        top, alpha = split_stage(self._stage)
        h = self._act(self.input(self.norm(z)).view(z.shape[0], -1, 4, 4))
        previous = None
        for k in range(top + 1):
            if k:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            if k == top and alpha < 1:
                previous = self.to_rgb[k - 1](h)  # the stage below's image, already upsampled
            for conv in self.blocks[k]:
                h = self._act(conv(h))
        image = self.to_rgb[top](h)
        if previous is not None:
            image = torch.lerp(previous, image, alpha)
        return F.interpolate(image, size=self.size, mode="nearest") if image.shape[-1] < self.size else image


class ProGANDiscriminator(_Growing):
    """Full-size images averaged down to the current resolution -> a 1x1 from-RGB layer -> per resolution:
    two 3x3 convolutions and 2x average pooling -> at 4x4: the minibatch standard deviation (group 4), a 3x3
    convolution, a fully connected layer and one linear output; leaky ReLU 0.2, the equalised learning
    rate, no normalisation.

    Args:
        data_shape: ``(channels, S, S)`` with S a power of two from 8 to 1024.
        width: channels up to 32 px (``stage_channels``); the paper's 512.
        mbstd_group: group size of the minibatch standard deviation (the paper's 4).
    """

    def __init__(self, data_shape: Sequence[int], width: int = 512, num_classes: int = 0, mbstd_group: int = 4):
        super().__init__()
        channels, stages = self._init_stage(data_shape, num_classes)
        self.from_rgb = nn.ModuleList([EqualizedConv2d(channels, stage_channels(width, k), 1) for k in range(stages)])
        c0 = stage_channels(width, 0)
        self.blocks = nn.ModuleList([nn.ModuleList([MinibatchStdDev(mbstd_group), EqualizedConv2d(c0 + 1, c0, 3)])])
        for k in range(1, stages):
            c_in, c_out = stage_channels(width, k), stage_channels(width, k - 1)
            self.blocks.append(nn.ModuleList([EqualizedConv2d(c_in, c_in, 3), EqualizedConv2d(c_in, c_out, 3)]))
        self.dense = EqualizedLinear(c0 * 16, c0)
        self.output = EqualizedLinear(c0, 1, gain=1.0)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        top, alpha = split_stage(self._stage)
        resolution = 4 * 2**top
        x = F.avg_pool2d(x, self.size // resolution) if resolution < self.size else x
        h = F.leaky_relu(self.from_rgb[top](x), 0.2)
        for k in range(top, -1, -1):
            for layer in self.blocks[k]:
                h = layer(h) if isinstance(layer, MinibatchStdDev) else F.leaky_relu(layer(h), 0.2)
            if k:
                h = F.avg_pool2d(h, 2)
            if k == top and alpha < 1:  # the fading block beside the stage below's from-RGB of the pooled image
                h = torch.lerp(F.leaky_relu(self.from_rgb[k - 1](F.avg_pool2d(x, 2)), 0.2), h, alpha)
        h = F.leaky_relu(self.dense(h.flatten(1)), 0.2)
        return self.output(h).flatten()


__all__ = ["ProGANDiscriminator", "ProGANGenerator", "channels_at", "fade_images", "split_stage", "stage_channels"]
