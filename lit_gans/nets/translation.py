"""Networks of image-to-image translation: pix2pix (Isola et al. 2017, "Image-to-Image Translation with
Conditional Adversarial Networks") and CycleGAN (Zhu et al. 2017, "Unpaired Image-to-Image Translation
using Cycle-Consistent Adversarial Networks").

- ``UNetGenerator``: pix2pix's encoder-decoder with skip connections (Ronneberger et al. 2015). The encoder
  halves the image ``depth`` times with 4x4 stride-2 convs (LeakyReLU 0.2; no norm on the first and the
  innermost layer); the decoder doubles it back with 4x4 stride-2 transposed convs (ReLU), each but the
  innermost reading its input concatenated with the mirror encoder feature; tanh output.
- ``PatchDiscriminator``: the PatchGAN, a fully convolutional discriminator whose every logit judges one
  patch of the input (70x70 with the default ``n_layers=3``); it returns the map of logits, not one logit.
- ``CycleGANGenerator``: CycleGAN's ResNet generator (Johnson et al. 2016): 7x7 conv, ``n_down`` stride-2
  downsamplings, ``n_blocks`` residual blocks, ``n_down`` stride-2 upsamplings, 7x7 conv, tanh.
- ``ImagePool``: CycleGAN's history of generated images (Shrivastava et al. 2017) that the discriminator
  is trained on instead of only the newest fakes.
- ``init_weights``: the reference's "normal" initialisation, N(0, 0.02) weights. The constructors here keep
  PyTorch's default initialisation; a family applies ``init_weights`` to each network, as the reference
  does when it builds one.

Normalisation (``norm``): ``"batch"`` (``nn.BatchNorm2d``), ``"instance"`` (``nn.InstanceNorm2d`` without
affine parameters or running statistics, as the reference) or ``"none"``. Convs followed by a batch norm
have no bias (the norm's shift replaces it); all others have one. All networks are fully convolutional:
they take any input size that their strides divide, not only the size they were built for.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from lit_gans.errors import ConfigError

NORMS = ("batch", "instance", "none")


def init_weights(module: nn.Module, std: float = 0.02) -> nn.Module:
    """The reference's "normal" initialisation, applied to ``module`` and all its submodules, in place.

    Conv, transposed-conv and linear weights are drawn from N(0, std) and their biases set to 0; the
    weights of affine norm layers (batch, instance, group and layer norm) from N(1, std) and their
    biases set to 0. Draws go through ``torch.nn.init``, so ``torch.manual_seed`` reproduces them.

    Args:
        module: the network to initialise.
        std: standard deviation of the draws (0.02 in pix2pix and CycleGAN).

    Returns:
        ``module`` itself.
    """
    if not std >= 0:
        raise ConfigError(f"init_weights: std={std} is not a standard deviation; use std >= 0 (0.02 in the papers)")
    norms = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm, nn.LayerNorm)
    for m in module.modules():
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, norms):
            if getattr(m, "weight", None) is not None:
                nn.init.normal_(m.weight, 1.0, std)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
    return module


def _check_norm(net: str, norm: str) -> None:
    if norm not in NORMS:
        raise ConfigError(f"{net}: norm={norm!r} is not a normalisation it knows; use one of {list(NORMS)}")


def _norm_layer(norm: str, channels: int) -> list[nn.Module]:
    """The norm layer after a conv of ``channels`` outputs, as a list (empty for ``"none"``)."""
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if norm == "instance":
        return [nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)]
    return []


def _check_positive(net: str, **values: int) -> None:
    for name, value in values.items():
        if not (isinstance(value, int) and value >= 1):
            raise ConfigError(f"{net}: {name}={value!r} must be a positive integer; use {name} >= 1")


def _check_dropout(net: str, dropout: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"{net}: dropout={dropout} is not a probability below 1; use 0 <= dropout < 1 (0 disables it)")


def _check_input(net: str, x: Tensor, channels: int, multiple: int, why: str) -> None:
    """``x`` is (N, channels, H, W) with H and W multiples of ``multiple``; a clear ``ConfigError`` otherwise."""
    if x.ndim != 4 or x.shape[1] != channels:
        raise ConfigError(f"{net} takes images of shape (N, {channels}, H, W), not {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h % multiple or w % multiple:
        raise ConfigError(
            f"{net}: input size {h}x{w} is not divisible by {multiple} ({why}); "
            f"resize or crop the images to a multiple of {multiple}"
        )


# ---------------------------------------------------------------------------------------------- U-Net


class UNetGenerator(nn.Module):
    """pix2pix's U-Net generator: (N, in_channels, H, W) -> (N, out_channels, H, W) in [-1, 1].

    Encoder layer ``k`` (``k = 0 .. depth-1``) is a 4x4 stride-2 conv to ``min(width * 2**k, max_width)``
    channels, then the norm (not on the first layer, nor on the innermost, whose output is 1x1 at the
    default depth) and LeakyReLU 0.2 (not on the innermost). Decoder layer ``k`` mirrors it: ReLU, a 4x4
    stride-2 transposed conv back to the channels of encoder layer ``k-1`` (to ``out_channels`` and tanh
    for ``k = 0``), the norm (not on ``k = 0``) and dropout. Every decoder layer but the innermost reads
    the output of the decoder layer below concatenated with the output of encoder layer ``k`` (its skip
    connection, with the encoder's activation applied, as in the paper and the reference).

    Dropout is placed as the reference places it: after the decoder layers that map ``max_width`` to
    ``max_width`` channels, the innermost excluded. With the default widths that is ``depth - 5`` layers:
    the three next to the innermost at 256 px (depth 8), none at depth 5 or less. Dropout is the
    generator's only noise (pix2pix has no z); it follows train/eval mode like any ``nn.Dropout``
    (pix2pix keeps it on at test time: leave the module in train mode for that).

    Args:
        in_channels: channels of the input image (3 for RGB; more for stacked conditions).
        out_channels: channels of the output image.
        image_size: side of the square images it is built for; it must be divisible by ``2**depth``.
        width: channels of the first encoder layer (``ngf``, 64 in the paper).
        max_width: cap on the channels of the deeper layers; ``None`` is ``8 * width`` (512 in the paper).
        depth: number of downsamplings; ``None`` goes down to a 1x1 bottleneck, ``log2(image_size)``
            (8 at 256 px, the reference's ``unet_256``; 7 at 128 px, its ``unet_128``).
        dropout: dropout probability of the layers named above (0.5 in the paper); 0 disables it.
        norm: ``"batch"`` (the paper), ``"instance"`` or ``"none"``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        image_size: int,
        width: int = 64,
        max_width: Optional[int] = None,
        depth: Optional[int] = None,
        dropout: float = 0.5,
        norm: str = "batch",
    ):
        super().__init__()
        net = type(self).__name__
        max_width = 8 * width if max_width is None else max_width
        _check_positive(net, in_channels=in_channels, out_channels=out_channels, image_size=image_size)
        _check_positive(net, width=width, max_width=max_width)
        _check_norm(net, norm)
        _check_dropout(net, dropout)
        if depth is None:
            if image_size < 2:
                raise ConfigError(f"{net}: image size {image_size} cannot be halved; use images of at least 2 px")
            if image_size & (image_size - 1):
                twos = (image_size & -image_size).bit_length() - 1  # how many times 2 divides image_size
                raise ConfigError(
                    f"{net}: image size {image_size} is not a power of two, so depth=None (down to 1x1) cannot "
                    f"work; use a power-of-two size or depth={twos} or less"
                    + (f" ({image_size} = {image_size >> twos} * 2**{twos})" if twos else "")
                )
            depth = int(math.log2(image_size))
        if not (isinstance(depth, int) and depth >= 1):
            raise ConfigError(f"{net}: depth={depth!r} must be a positive integer; use depth >= 1 or depth=None")
        if image_size % 2**depth:
            fits = max(k for k in range(depth) if image_size % 2**k == 0)
            raise ConfigError(
                f"{net}: image size {image_size} is not divisible by 2**{depth}={2**depth}, which {depth} "
                f"downsamplings need; use a size that is a multiple of {2**depth}"
                + (f" or depth={fits}" if fits >= 1 else "")
            )
        self.in_channels, self.out_channels, self.image_size = in_channels, out_channels, image_size
        self.depth, self.norm = depth, norm
        bias = norm != "batch"
        chans = [min(width * 2**k, max_width) for k in range(depth)]
        self.channels = chans

        self.encoder = nn.ModuleList()
        for k in range(depth):
            innermost = k == depth - 1
            layers: list[nn.Module] = [nn.Conv2d(in_channels if k == 0 else chans[k - 1], chans[k], 4, 2, 1, bias=bias)]
            if 0 < k < depth - 1:
                layers += _norm_layer(norm, chans[k])
            if not innermost:
                layers.append(nn.LeakyReLU(0.2))
            self.encoder.append(nn.Sequential(*layers))

        self.decoder = nn.ModuleList()
        for k in range(depth):
            c_in = chans[k] if k == depth - 1 else 2 * chans[k]
            layers = [nn.ReLU()]
            if k == 0:
                layers += [nn.ConvTranspose2d(c_in, out_channels, 4, 2, 1), nn.Tanh()]
            else:
                layers += [nn.ConvTranspose2d(c_in, chans[k - 1], 4, 2, 1, bias=bias)]
                layers += _norm_layer(norm, chans[k - 1])
                if dropout > 0 and k < depth - 1 and chans[k - 1] == chans[k] == max_width:
                    layers.append(nn.Dropout(dropout))
            self.decoder.append(nn.Sequential(*layers))

    def forward(self, x: Tensor) -> Tensor:
        _check_input(type(self).__name__, x, self.in_channels, 2**self.depth, f"depth={self.depth} downsamplings")
        skips = []
        for layer in self.encoder:
            x = layer(x)
            skips.append(x)
        x = self.decoder[-1](skips[-1])
        for k in range(self.depth - 2, -1, -1):
            x = self.decoder[k](torch.cat([skips[k], x], dim=1))
        return x


# ------------------------------------------------------------------------------------------- PatchGAN


def _patch_convs(n_layers: int) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of the PatchGAN's convs: ``n_layers`` stride-2, then two stride-1."""
    return [(4, 2, 1)] * n_layers + [(4, 1, 1)] * 2


def _check_layers(n_layers: int) -> None:
    if not (isinstance(n_layers, int) and n_layers >= 1):
        raise ConfigError(f"PatchDiscriminator: n_layers={n_layers!r} must be a positive integer; use n_layers >= 1 (3 in the paper)")


def patch_receptive_field(n_layers: int) -> int:
    """Side in pixels of the input patch that one PatchGAN logit sees: 70 for 3 layers, 34 for 2, 16 for 1.

    Computed from the convs: ``1 + sum((kernel - 1) * product of the strides before it)``.
    """
    _check_layers(n_layers)
    field, jump = 1, 1
    for kernel, stride, _ in _patch_convs(n_layers):
        field += (kernel - 1) * jump
        jump *= stride
    return field


def patch_output_size(image_size: int, n_layers: int = 3) -> int:
    """Side of the PatchGAN's logit map for an input of side ``image_size``; 0 or less if it is too small.

    Each 4x4 stride-2 conv with padding 1 maps a side ``s`` to ``floor(s / 2)`` and each 4x4 stride-1 conv
    to ``s - 1``, so the map has side ``floor(image_size / 2**n_layers) - 2`` (30 at 256 px with 3 layers,
    2 at 32 px).
    """
    _check_layers(n_layers)
    size = image_size
    for kernel, stride, pad in _patch_convs(n_layers):
        if size + 2 * pad < kernel:
            return 0
        size = (size + 2 * pad - kernel) // stride + 1
    return size


def patch_layers_for(image_size: int) -> int:
    """The largest ``n_layers`` (at most 3, the paper's 70x70 PatchGAN) whose logit map is at least 2x2 at
    ``image_size`` (see ``patch_output_size``): 3 from 32 px up, 2 at 16 px, 1 at 8 px."""
    for n_layers in (3, 2, 1):
        if patch_output_size(image_size, n_layers) >= 2:
            return n_layers
    raise ConfigError(
        f"PatchDiscriminator: image size {image_size} is too small for a 2x2 map of patch logits; "
        f"use images of at least 8 px"
    )


class PatchDiscriminator(nn.Module):
    """PatchGAN: (N, in_channels, H, W) -> logits of shape (N, 1, H', W'), one per overlapping patch.

    4x4 convs with padding 1 and LeakyReLU 0.2: the first to ``width`` channels with stride 2 and no norm;
    ``n_layers - 1`` more with stride 2 doubling the channels (capped at ``8 * width``) with the norm; one
    with stride 1 (doubling, same cap) with the norm; a last one with stride 1 to one channel of logits.
    Each logit sees a ``patch_receptive_field(n_layers)`` square of the input (70x70 for 3 layers);
    ``H' = floor(H / 2**n_layers) - 2`` (``patch_output_size``). The map is not flattened: average the loss
    over it. For pix2pix, pass the condition and the (real or generated) image concatenated on channels.

    Args:
        in_channels: channels of the input (pix2pix: input plus output channels).
        width: channels of the first conv (``ndf``, 64 in the paper).
        n_layers: stride-2 convs; 3 is the 70x70 PatchGAN, 1 the 16x16 one (``patch_layers_for`` picks one
            that fits small images).
        norm: ``"batch"`` (pix2pix), ``"instance"`` (CycleGAN) or ``"none"``.
    """

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        net = type(self).__name__
        _check_positive(net, in_channels=in_channels, width=width)
        _check_layers(n_layers)
        _check_norm(net, norm)
        self.in_channels, self.n_layers, self.norm = in_channels, n_layers, norm
        convs = _patch_convs(n_layers)
        bias = norm != "batch"
        c_in, layers = in_channels, []
        for i, (kernel, stride, pad) in enumerate(convs[:-1]):
            c_out = min(width * 2**i, 8 * width)
            layers.append(nn.Conv2d(c_in, c_out, kernel, stride, pad, bias=i == 0 or bias))
            layers += [] if i == 0 else _norm_layer(norm, c_out)
            layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        kernel, stride, pad = convs[-1]
        layers.append(nn.Conv2d(c_in, 1, kernel, stride, pad))
        self.net = nn.Sequential(*layers)

    @staticmethod
    def output_size(image_size: int, n_layers: int = 3) -> int:
        """Side of the logit map for an input of side ``image_size`` (``patch_output_size``)."""
        return patch_output_size(image_size, n_layers)

    @property
    def receptive_field(self) -> int:
        """Side of the input patch each logit sees (``patch_receptive_field``)."""
        return patch_receptive_field(self.n_layers)

    def forward(self, x: Tensor) -> Tensor:
        net = type(self).__name__
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ConfigError(f"{net} takes images of shape (N, {self.in_channels}, H, W), not {tuple(x.shape)}")
        smallest = min(x.shape[-2:])
        if patch_output_size(smallest, self.n_layers) < 1:
            fits = [n for n in range(self.n_layers - 1, 0, -1) if patch_output_size(smallest, n) >= 1]
            raise ConfigError(
                f"{net}: input size {x.shape[-2]}x{x.shape[-1]} is too small for n_layers={self.n_layers} "
                f"(its logit map would be empty); use "
                + (f"n_layers={fits[0]} or less (see patch_layers_for) or " if fits else "")
                + f"images of at least {2 ** self.n_layers * 3} px"
            )
        return self.net(x)


# ----------------------------------------------------------------------------------- CycleGAN ResNet


class ResidualBlock(nn.Module):
    """x + [reflection pad 1, 3x3 conv, norm, ReLU, (dropout), reflection pad 1, 3x3 conv, norm](x).

    Args:
        channels: channels in and out.
        norm: ``"batch"``, ``"instance"`` or ``"none"``.
        dropout: dropout probability between the two convs; 0 disables it.
    """

    def __init__(self, channels: int, norm: str = "instance", dropout: float = 0.0):
        super().__init__()
        bias = norm != "batch"
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias)]
        layers += _norm_layer(norm, channels) + [nn.ReLU()]
        layers += [nn.Dropout(dropout)] if dropout > 0 else []
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias)] + _norm_layer(norm, channels)
        self.block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class CycleGANGenerator(nn.Module):
    """CycleGAN's ResNet generator: (N, in_channels, H, W) -> (N, out_channels, H, W) in [-1, 1].

    Reflection pad 3, 7x7 conv to ``width``, norm, ReLU; ``n_down`` 3x3 stride-2 convs doubling the
    channels, each with norm and ReLU; ``n_blocks`` ``ResidualBlock``; ``n_down`` 3x3 stride-2 transposed
    convs (output padding 1) halving the channels, each with norm and ReLU; reflection pad 3, 7x7 conv to
    ``out_channels``, tanh. H and W must be divisible by ``2**n_down``, and the bottleneck at least 2x2
    (reflection padding needs it).

    Args:
        in_channels: channels of the input image.
        out_channels: channels of the output image.
        width: channels of the first conv (``ngf``, 64 in the paper).
        n_blocks: residual blocks (9 in the paper at 256 px, 6 at 128 px).
        n_down: downsamplings, and as many upsamplings (2 in the paper).
        norm: ``"instance"`` (the paper), ``"batch"`` or ``"none"``.
        dropout: dropout probability inside the residual blocks (0 in CycleGAN; 0.5 is the reference's
            ``--use_dropout``); 0 disables it.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 64,
        n_blocks: int = 9,
        n_down: int = 2,
        norm: str = "instance",
        dropout: float = 0.0,
    ):
        super().__init__()
        net = type(self).__name__
        _check_positive(net, in_channels=in_channels, out_channels=out_channels, width=width)
        for name, value in (("n_blocks", n_blocks), ("n_down", n_down)):
            if not (isinstance(value, int) and value >= 0):
                raise ConfigError(f"{net}: {name}={value!r} must be a non-negative integer; use {name} >= 0")
        _check_norm(net, norm)
        _check_dropout(net, dropout)
        self.in_channels, self.out_channels, self.n_blocks, self.n_down = in_channels, out_channels, n_blocks, n_down
        bias = norm != "batch"
        stem: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7, bias=bias)]
        stem += _norm_layer(norm, width) + [nn.ReLU()]
        c = width
        for _ in range(n_down):
            stem += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias)] + _norm_layer(norm, 2 * c) + [nn.ReLU()]
            c *= 2
        self.down = nn.Sequential(*stem)
        self.blocks = nn.Sequential(*[ResidualBlock(c, norm, dropout) for _ in range(n_blocks)])
        head: list[nn.Module] = []
        for _ in range(n_down):
            head += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias)]
            head += _norm_layer(norm, c // 2) + [nn.ReLU()]
            c //= 2
        head += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.up = nn.Sequential(*head)

    def forward(self, x: Tensor) -> Tensor:
        net = type(self).__name__
        _check_input(net, x, self.in_channels, 2**self.n_down, f"n_down={self.n_down} downsamplings")
        need = max(4, 2 * 2**self.n_down)  # reflection pad 3 at full size; a bottleneck of at least 2x2
        if min(x.shape[-2:]) < need:
            raise ConfigError(
                f"{net}: input size {x.shape[-2]}x{x.shape[-1]} is too small for its reflection padding with "
                f"n_down={self.n_down}; use images of at least {need} px or a smaller n_down"
            )
        return self.up(self.blocks(self.down(x)))


# ---------------------------------------------------------------------------------------- Image pool


class ImagePool(nn.Module):
    """CycleGAN's buffer of generated images (Shrivastava et al. 2017): the discriminator is updated on a
    history of fakes, not only on the newest batch.

    ``query(images)`` goes through the batch image by image: while fewer than ``size`` images are stored,
    the image is stored and returned; afterwards, with probability 1/2 the image is returned as is, and
    otherwise a uniformly chosen stored image is returned and the new one takes its place.

    The stored images are detached copies, kept in a Python list: they are not parameters nor buffers,
    so ``state_dict`` and checkpoints do not hold them (neither does the reference); a resumed run starts
    with an empty pool that refills in ``size`` images. Random numbers come from torch's default CPU
    generator (whatever the images' device), so ``torch.manual_seed`` reproduces the choices, the same on
    every device, with no device synchronisation.

    Args:
        size: images kept (50 in CycleGAN); 0 makes ``query`` return its input unchanged.
    """

    def __init__(self, size: int = 50):
        super().__init__()
        if not (isinstance(size, int) and size >= 0):
            raise ConfigError(f"ImagePool: size={size!r} must be a non-negative integer; use size >= 0 (50 in CycleGAN, 0 disables the pool)")
        self.size = size
        self.images: list[Tensor] = []

    @property
    def num_images(self) -> int:
        """Images stored so far (at most ``size``)."""
        return len(self.images)

    def reset(self) -> None:
        """Forget the stored images."""
        self.images = []

    def query(self, images: Tensor) -> Tensor:
        """A batch like ``images`` (N, ...) mixing new and stored images, as described above.

        Images returned as is keep their autograd graph; stored ones carry none. Detach the result for the
        discriminator's step, as usual for fakes.
        """
        if self.size == 0 or images.shape[0] == 0:
            return images
        out = []
        for image in images.split(1):
            if len(self.images) < self.size:
                self.images.append(image.detach().clone())
                out.append(image)
            elif torch.rand(()).item() < 0.5:
                out.append(image)
            else:
                i = int(torch.randint(self.size, ()).item())
                old, self.images[i] = self.images[i], image.detach().clone()
                out.append(old.to(device=images.device, dtype=images.dtype))
        return torch.cat(out, dim=0)

    def forward(self, images: Tensor) -> Tensor:
        return self.query(images)

    def extra_repr(self) -> str:
        return f"size={self.size}, stored={len(self.images)}"


__all__ = [
    "CycleGANGenerator",
    "ImagePool",
    "PatchDiscriminator",
    "ResidualBlock",
    "UNetGenerator",
    "init_weights",
    "patch_layers_for",
    "patch_output_size",
    "patch_receptive_field",
]
