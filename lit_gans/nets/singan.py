"""Networks of SinGAN (Shaham, Dekel & Michaeli 2019, "SinGAN: Learning a Generative Model from a Single
Natural Image"): a pyramid of small fully convolutional GANs, one per scale of a single training image,
trained coarsest first.

- ``fit_size`` and ``scale_sizes``: the image pyramid's sizes (the reference's defaults: the longer side at
  most 250 px, the coarsest shorter side about 25 px, a ratio of about 0.75 between scales).
- ``image_pyramid``: the training image resized to each of those sizes.
- ``SinGANGenerator``: one scale's generator, residual on the upsampled output of the scale below
  (``previous + body(noise + previous)``, the paper's eq. 2-3).
- ``SinGANCritic``: one scale's patch critic, a map of scores whose every value judges one
  ``receptive_field`` x ``receptive_field`` patch (11x11 with the default five 3x3 convs).
- ``copy_weights``: the warm start of each scale from the scale below (the paper initialises a scale with
  the previous one's weights when their widths match).

Both networks are ``layers`` convs of ``kernel`` x ``kernel`` (stride 1, ``width`` channels): ``layers - 1``
blocks of conv, batch norm and LeakyReLU 0.2, then a conv to the output (``channels`` and tanh for the
generator, one score without activation for the critic). The convs followed by a batch norm have no bias
(the norm's shift replaces it); the last conv has one. The constructors keep PyTorch's default
initialisation; the reference's (N(0, 0.02) convs, N(1, 0.02) norm weights) is
``lit_gans.nets.translation.init_weights``.

Padding: the input is zero-padded once, by ``layers * (kernel - 1) / 2`` pixels on each side, and the
convs are unpadded ("valid"), so the output has the input's size, as in the reference (which pads the
noise and the previous image once per scale; padding their sum with zeros is the same thing). The
generator's residual adds the unpadded ``previous``. The critic pads its input the same way, so its map
has one score per input pixel (the reference's critic reads unpadded images and returns a map smaller by
``receptive_field - 1``); border scores see zeros beyond the image, as the generator's border outputs do.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.errors import ConfigError


# ---------------------------------------------------------------------------------------------- pyramid


def _round(x: float) -> int:
    """``x`` rounded to the nearest integer, halves up (Python's ``round`` rounds halves to even)."""
    return int(math.floor(x + 0.5))


def fit_size(height: int, width: int, max_size: int) -> tuple[int, int]:
    """``height`` x ``width`` shrunk (aspect kept, sides rounded) so that its longer side is at most
    ``max_size``; an image already that small keeps its size (it is never enlarged)."""
    _check_sides("fit_size", height=height, width=width, max_size=max_size)
    scale = min(max_size / max(height, width), 1.0)
    if scale >= 1.0:
        return height, width
    return max(1, _round(height * scale)), max(1, _round(width * scale))


def scale_sizes(
    height: int, width: int, min_size: int = 25, max_size: int = 250, factor: float = 0.75
) -> list[tuple[int, int]]:
    """The sizes ``(h, w)`` of SinGAN's image pyramid, coarsest first.

    The image is first shrunk so that its longer side is at most ``max_size`` (``fit_size``), to
    ``H x W`` with shorter side ``S = min(H, W)``. The number of scales is

        N = ceil(log(min_size / S) / log(factor)) + 1,

    the fewest scales whose ratio ``factor`` brings ``S`` down to ``min_size`` or below, and the ratio
    actually used is adjusted so that the coarsest shorter side is exactly ``min_size``:

        r = (min_size / S) ** (1 / (N - 1))    (r >= factor; N = 1 and no ratio when S == min_size).

    Scale ``n = 0 .. N-1`` (coarsest first) is ``(H * r**(N-1-n), W * r**(N-1-n))``, each side rounded to
    the nearest integer; the last one is ``(H, W)`` itself.

    Args:
        height, width: the training image's size.
        min_size: the coarsest scale's shorter side (25 in the paper's code).
        max_size: the largest longer side trained on (250 in the paper's code).
        factor: the largest ratio between consecutive scales, in (0, 1) (0.75 in the paper's code).

    Returns:
        ``N`` sizes ``(h, w)``, coarsest first, increasing.
    """
    _check_sides("scale_sizes", height=height, width=width, min_size=min_size, max_size=max_size)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0.0 < factor < 1.0:
        raise ConfigError(f"scale_sizes: factor={factor!r} must be in (0, 1): it is the ratio between scales; use e.g. 0.75")
    h, w = fit_size(height, width, max_size)
    shorter = min(h, w)
    if shorter < min_size:
        raise ConfigError(
            f"scale_sizes: the image of {height}x{width}, shrunk to {h}x{w} (max_size={max_size}), has a shorter "
            f"side below min_size={min_size}; lower min_size to {shorter} or less, or raise max_size"
        )
    if shorter == min_size:
        return [(h, w)]
    n = math.ceil(round(math.log(min_size / shorter) / math.log(factor), 9)) + 1
    r = (min_size / shorter) ** (1.0 / (n - 1))
    sizes = [(max(1, _round(h * r ** (n - 1 - i))), max(1, _round(w * r ** (n - 1 - i)))) for i in range(n - 1)]
    return sizes + [(h, w)]


def image_pyramid(image: Tensor, sizes: list[tuple[int, int]]) -> list[Tensor]:
    """``image`` (N, C, H, W) in [-1, 1] resized to each of ``sizes``, in their order (coarsest first for
    ``scale_sizes``): bicubic interpolation (``align_corners=False``), antialiased where the size shrinks
    both sides, clamped to [-1, 1]. A size equal to the image's is the image itself, not resampled."""
    if image.ndim != 4:
        raise ConfigError(f"image_pyramid takes an image of shape (1, C, H, W), not {tuple(image.shape)}")
    x = image if image.is_floating_point() else image.float()
    out = []
    for size in sizes:
        size = (int(size[0]), int(size[1]))
        if size == tuple(image.shape[-2:]):
            out.append(image)
            continue
        shrink = size[0] <= image.shape[-2] and size[1] <= image.shape[-1]
        y = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=shrink)
        out.append(y.clamp_(-1.0, 1.0))
    return out


# ---------------------------------------------------------------------------------------------- networks


def _check_sides(fn: str, **values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{fn}: {name}={value!r} must be a positive integer number of pixels")


def _check_net(net: str, channels: int, width: int, layers: int, kernel: int) -> None:
    for name, value in (("channels", channels), ("width", width), ("layers", layers), ("kernel", kernel)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{net}: {name}={value!r} must be a positive integer; use {name} >= 1")
    if layers < 2:
        raise ConfigError(f"{net}: layers={layers} leaves no conv block before the output conv; use layers >= 2 (5 in the paper)")
    if kernel % 2 == 0:
        raise ConfigError(f"{net}: kernel={kernel} is even, so the output could not keep the input's size; use an odd kernel (3 in the paper)")


def _body(channels: int, width: int, layers: int, kernel: int, out: int) -> nn.Sequential:
    """Zero padding of ``layers * (kernel - 1) / 2``, ``layers - 1`` blocks of unpadded conv, batch norm and
    LeakyReLU 0.2, and an unpadded conv to ``out`` channels (with bias)."""
    modules: list[nn.Module] = [nn.ZeroPad2d(layers * (kernel - 1) // 2)]
    c = channels
    for _ in range(layers - 1):
        modules += [nn.Conv2d(c, width, kernel, bias=False), nn.BatchNorm2d(width), nn.LeakyReLU(0.2)]
        c = width
    modules.append(nn.Conv2d(c, out, kernel))
    return nn.Sequential(*modules)


def _check_input(net: str, x: Tensor, channels: int, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != channels:
        raise ConfigError(f"{net} takes {name} of shape (N, {channels}, H, W), not {tuple(x.shape)}")


class SinGANGenerator(nn.Module):
    """One scale's generator: ``(noise, previous) -> previous + body(noise + previous)``, all (N, C, H, W).

    ``previous`` is the output of the scale below, upsampled to this scale's size (zeros at the coarsest
    scale, where the generator makes an image from noise alone); ``body`` ends in tanh, so the generator
    adds details in [-1, 1] to it (the paper's eq. 2-3). The output is not clamped.

    Args:
        channels: channels of the images (3 for RGB).
        width: channels of the hidden convs (32 at the coarsest scales of the paper's code).
        layers: convs in all (5 in the paper), the last one to ``channels``.
        kernel: the convs' odd kernel size (3 in the paper).

    Attributes:
        body: the padding and convs, ending in ``nn.Tanh``; ``body[-2]`` is the last conv.
        receptive_field: side of the input patch each output pixel sees, ``1 + layers * (kernel - 1)``.
    """

    def __init__(self, channels: int = 3, width: int = 32, layers: int = 5, kernel: int = 3):
        super().__init__()
        net = type(self).__name__
        _check_net(net, channels, width, layers, kernel)
        self.channels, self.width, self.layers, self.kernel = channels, width, layers, kernel
        self.receptive_field = 1 + layers * (kernel - 1)
        self.body = nn.Sequential(*_body(channels, width, layers, kernel, channels), nn.Tanh())

    def forward(self, noise: Tensor, previous: Tensor) -> Tensor:
        net = type(self).__name__
        _check_input(net, noise, self.channels, "noise")
        _check_input(net, previous, self.channels, "previous")
        if noise.shape != previous.shape:
            raise ConfigError(
                f"{net}: noise {tuple(noise.shape)} and previous {tuple(previous.shape)} differ; upsample the "
                "previous scale's output to this scale's size and draw the noise at that size"
            )
        return previous + self.body(noise + previous)


class SinGANCritic(nn.Module):
    """One scale's critic: images (N, C, H, W) -> a map of patch scores (N, 1, H, W), no activation.

    Fully convolutional: each score judges the ``receptive_field`` x ``receptive_field`` patch centred on
    its pixel (11x11 for the default five 3x3 convs), zeros standing in beyond the image's border.

    Args:
        channels: channels of the images (3 for RGB).
        width: channels of the hidden convs (32 at the coarsest scales of the paper's code).
        layers: convs in all (5 in the paper), the last one to a single score.
        kernel: the convs' odd kernel size (3 in the paper).

    Attributes:
        body: the padding and convs.
        receptive_field: side of the patch each score sees, ``1 + layers * (kernel - 1)``.
    """

    def __init__(self, channels: int = 3, width: int = 32, layers: int = 5, kernel: int = 3):
        super().__init__()
        net = type(self).__name__
        _check_net(net, channels, width, layers, kernel)
        self.channels, self.width, self.layers, self.kernel = channels, width, layers, kernel
        self.receptive_field = 1 + layers * (kernel - 1)
        self.body = _body(channels, width, layers, kernel, 1)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(type(self).__name__, x, self.channels, "images")
        return self.body(x)


def copy_weights(source: nn.Module, target: nn.Module) -> nn.Module:
    """Warm start: ``target`` gets a copy of ``source``'s parameters and buffers (batch-norm statistics
    included), as the paper starts each scale from the previous scale's trained networks.

    Args:
        source: the previous scale's generator or critic.
        target: this scale's network, of the same class and the same architecture (widths, layers, kernel).

    Returns:
        ``target``, changed in place.

    Raises:
        ConfigError: the two networks' classes, parameter names or shapes differ.
    """
    if type(source) is not type(target):
        raise ConfigError(
            f"copy_weights: cannot copy a {type(source).__name__} into a {type(target).__name__}; "
            "copy a generator into a generator and a critic into a critic"
        )
    src, dst = source.state_dict(), target.state_dict()
    differ = [k for k in sorted(set(src) | set(dst)) if k not in src or k not in dst or src[k].shape != dst[k].shape]
    if differ:
        k = differ[0]
        shapes = f"{tuple(src[k].shape) if k in src else 'missing'} vs {tuple(dst[k].shape) if k in dst else 'missing'}"
        raise ConfigError(
            f"copy_weights: the {type(source).__name__}s differ in {len(differ)} tensor(s), e.g. {k}: {shapes}; "
            "warm-start only networks of the same width, layers and kernel (initialise this scale afresh instead)"
        )
    with torch.no_grad():
        for k, value in dst.items():
            value.copy_(src[k])
    return target


__all__ = [
    "SinGANCritic",
    "SinGANGenerator",
    "copy_weights",
    "fit_size",
    "image_pyramid",
    "scale_sizes",
]
