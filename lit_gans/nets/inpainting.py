"""Networks and masks of the context encoder (Pathak, Kraehenbuehl, Donahue, Darrell & Efros 2016, "Context
Encoders: Feature Learning by Inpainting").

A context encoder sees an image with a region removed and predicts the missing pixels: an encoder maps the
known context to a compact code, a decoder paints the region from it; an L2 reconstruction loss (weighted
10x near the border of the region, see ``overlap_weights``) plus a small adversarial loss on the painted
region trains it (the paper weighs them 0.999 and 0.001).

Masks are float tensors of shape (N, 1, H, W) with 1 on a missing pixel and 0 on a known one; they
broadcast over the channels of an image batch.

- ``center_mask``: one square hole in the centre (the paper's "central region": 64x64 of 128x128).
- ``random_block_mask``: the paper's "random block" masks, several smaller square blocks at random,
  possibly overlapping, positions (4 blocks of a quarter of the side each by default: at most 1/4 of the
  image is masked).
- ``overlap_weights``: the per-pixel weights of the reconstruction loss: ``weight`` (10) on the band of
  the hole within ``overlap`` (4) px of known context, 1 inside, 0 on known pixels.
- ``apply_mask``: the generator's input, the image with its hole filled with a constant (the mean).
- ``crop_center`` / ``paste_center``: cut the centre region out of an image, and put a (predicted) one back.
- ``ContextEncoder``: the encoder-decoder generator: 4x4 stride-2 convs down to 4x4, a 4x4 conv to a
  1x1 bottleneck code, transposed convs up to the centre region (or the whole image), tanh.
- ``ContextDiscriminator``: the adversarial discriminator of the painted region (or a whole image): one
  logit per image.

The layers follow the paper's released code (a DCGAN-style context encoder rather than the AlexNet encoder of
the feature-learning experiments); the paper's channel-wise fully connected layer is the ``channel_fc``
option of ``ContextEncoder``. ``init_weights`` (from ``lit_gans.nets.translation``: N(0, 0.02) weights,
N(1, 0.02) batch-norm scales) is the reference's initialisation; the constructors keep PyTorch's default.
Convs followed by a batch norm have no bias (the norm's shift replaces it); all others have one.
"""

from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.nets.translation import init_weights

__all__ = [
    "ChannelWiseLinear",
    "ContextDiscriminator",
    "ContextEncoder",
    "apply_mask",
    "center_mask",
    "crop_center",
    "init_weights",
    "overlap_weights",
    "paste_center",
    "random_block_mask",
]

NORMS = ("batch", "none")

# ---------------------------------------------------------------------------------------------- helpers


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_positive(where: str, **values) -> None:
    for name, value in values.items():
        if not (_is_int(value) and value >= 1):
            raise ConfigError(f"{where}: {name}={value!r} must be a positive integer; use {name} >= 1")


def _check_norm(where: str, norm: str) -> None:
    if norm not in NORMS:
        raise ConfigError(f"{where}: norm={norm!r} is not a normalisation it knows; use one of {list(NORMS)}")


def _norm(norm: str, channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels)] if norm == "batch" else []


def _check_power_of_two(where: str, name: str, value, smallest: int, hint: str = "") -> None:
    """``value`` is a power of two of at least ``smallest``; a ``ConfigError`` naming the nearest fits otherwise."""
    if _is_int(value) and value >= smallest and not value & (value - 1):
        return
    if _is_int(value) and value >= smallest:
        below = 1 << (value.bit_length() - 1)
        fix = f"use {name}={below} or {name}={2 * below} (resize the images)"
    else:
        fix = f"use {name}={smallest} or a larger power of two"
    raise ConfigError(f"{where}: {name}={value!r} is not a power of two >= {smallest}{hint}; {fix}")


def _check_mask(where: str, mask: Tensor) -> None:
    if not isinstance(mask, Tensor) or mask.ndim != 4 or mask.shape[1] != 1:
        shape = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise ConfigError(
            f"{where} takes a mask of shape (N, 1, H, W) (1 = missing pixel), not {shape}; "
            f"make one with center_mask or random_block_mask"
        )


def _dtype(dtype: Optional[torch.dtype]) -> torch.dtype:
    return torch.get_default_dtype() if dtype is None else dtype


def _center_start(size: int, hole: int) -> int:
    """First row (or column) of a centred run of ``hole`` pixels in ``size``: ``(size - hole) // 2``."""
    return (size - hole) // 2


# ------------------------------------------------------------------------------------------------ masks


def center_mask(
    n: int,
    image_size: int,
    hole_size: Optional[int] = None,
    device: Optional[Union[str, torch.device]] = None,
    dtype: Optional[torch.dtype] = None,
) -> Tensor:
    """The paper's central-region mask: (n, 1, image_size, image_size), 1 on a centred square hole.

    The hole covers rows and columns ``top .. top + hole_size - 1`` with ``top = (image_size - hole_size) // 2``
    (the same region that ``crop_center`` cuts out; for an odd ``image_size - hole_size`` the hole sits half a
    pixel up and to the left of the exact centre).

    Args:
        n: masks in the batch (all equal).
        image_size: side of the square images.
        hole_size: side of the hole; ``None`` is ``image_size // 2`` (the paper's 64 of 128: a quarter of
            the image). It must leave some context: ``1 <= hole_size < image_size``.
        device: where the mask is made.
        dtype: its float dtype (the default dtype if ``None``).
    """
    where = "center_mask"
    _check_positive(where, n=n, image_size=image_size)
    hole = image_size // 2 if hole_size is None else hole_size
    if not (_is_int(hole) and 1 <= hole < image_size):
        raise ConfigError(
            f"{where}: hole_size={hole!r} does not fit a {image_size} px image with context around it; "
            f"use 1 <= hole_size < {image_size} (None is image_size // 2 = {image_size // 2})"
        )
    mask = torch.zeros(n, 1, image_size, image_size, device=device, dtype=_dtype(dtype))
    top = _center_start(image_size, hole)
    mask[..., top : top + hole, top : top + hole] = 1
    return mask


def random_block_mask(
    n: int,
    image_size: int,
    hole_size: Optional[int] = None,
    blocks: int = 4,
    generator: Optional[torch.Generator] = None,
    device: Optional[Union[str, torch.device]] = None,
    dtype: Optional[torch.dtype] = None,
) -> Tensor:
    """The paper's random-block masks: (n, 1, image_size, image_size), the union of ``blocks`` square holes.

    Each mask has its own ``blocks`` squares of side ``hole_size``, each placed uniformly at random wholly
    inside the image (top-left corner uniform in ``0 .. image_size - hole_size`` on both axes, independently);
    they may overlap, as in the paper. With the defaults (4 blocks of side ``image_size // 4``, each 1/16 of
    the image) the masked fraction lies in [1/16, 1/4]: 1/4 when no two blocks overlap, and about 0.22 on
    average (from 16 px to 128 px): "up to 1/4 of the image", as the paper says.

    The positions are drawn with ``torch.randint``: reproducible under ``torch.manual_seed`` (or with
    ``generator``), and the same on every device, since they are drawn on the generator's device (the CPU
    without one) and only then moved to ``device``.

    Args:
        n: masks in the batch.
        image_size: side of the square images.
        hole_size: side of each block; ``None`` is ``image_size // 4`` (at least 1). ``1 <= hole_size < image_size``.
        blocks: squares per mask (4).
        generator: a ``torch.Generator`` for the draws; ``None`` uses the global one.
        device: where the mask is made.
        dtype: its float dtype (the default dtype if ``None``).
    """
    where = "random_block_mask"
    _check_positive(where, n=n, image_size=image_size, blocks=blocks)
    side = max(1, image_size // 4) if hole_size is None else hole_size
    if not (_is_int(side) and 1 <= side < image_size):
        raise ConfigError(
            f"{where}: hole_size={side!r} does not fit a {image_size} px image with context around it; "
            f"use 1 <= hole_size < {image_size} (None is image_size // 4 = {max(1, image_size // 4)})"
        )
    draw_on = generator.device if generator is not None else torch.device("cpu")
    corners = torch.randint(0, image_size - side + 1, (n, blocks, 2), generator=generator, device=draw_on)
    corners = corners.to(device if device is not None else draw_on)
    pos = torch.arange(image_size, device=corners.device)
    # inside[i, b, axis, p]: pixel p lies in block b of mask i along that axis
    inside = (pos >= corners[..., None]) & (pos < corners[..., None] + side)
    rows, cols = inside[:, :, 0], inside[:, :, 1]
    mask = (rows[..., :, None] & cols[..., None, :]).any(dim=1)
    return mask[:, None].to(_dtype(dtype))


def overlap_weights(mask: Tensor, overlap: int = 4, weight: float = 10.0) -> Tensor:
    """The per-pixel weights of the reconstruction loss, same shape and dtype as ``mask``.

    The scheme: known pixels (mask 0) get 0; a hole pixel (mask 1) gets ``weight`` if a known pixel lies
    within ``overlap`` px of it in the chessboard metric (``max(|dy|, |dx|) <= overlap``: a square
    neighbourhood), and 1 otherwise. For the centre hole of side ``h`` that is the outer ring of the hole,
    ``overlap`` px wide, at ``weight``, and the inner ``(h - 2 * overlap)`` square at 1: the pixel at
    ``(i, j)`` of the hole is in the ring iff ``min(i, j, h - 1 - i, h - 1 - j) < overlap``. Pixels outside
    the image do not count as known, so a hole touching the image's edge has no band along it.

    The reference (``overlapPred = 4``, weight 10) removes a square ``2 * overlap`` px smaller than the region
    it predicts and weighs the ``overlap`` px ring of known context around the hole 10x; the same ring, on
    the hole's side of its border, is weighted here, so that the loss stays on pixels the generator cannot
    see. For the centre-region setting, crop the weights like the images:
    ``crop_center(overlap_weights(mask), hole_size)``.

    Args:
        mask: (N, 1, H, W), 1 = missing pixel.
        overlap: width of the band in pixels (4 in the reference); 0 gives every hole pixel 1.
        weight: the band's weight (10 in the reference).
    """
    where = "overlap_weights"
    _check_mask(where, mask)
    if not (_is_int(overlap) and overlap >= 0):
        raise ConfigError(f"{where}: overlap={overlap!r} must be a non-negative integer; use overlap >= 0 (4 in the paper)")
    if not weight >= 0:
        raise ConfigError(f"{where}: weight={weight!r} is not a loss weight; use weight >= 0 (10 in the paper)")
    hole = (mask > 0.5).to(mask.dtype)
    if overlap == 0:
        return hole
    # 1 where a known pixel lies within ``overlap`` px; max pooling pads with -inf, so outside is not known
    near_known = F.max_pool2d(1 - hole, 2 * overlap + 1, stride=1, padding=overlap)
    return hole * (1 + (weight - 1) * near_known)


def apply_mask(images: Tensor, mask: Tensor, fill: Union[float, Tensor] = 0.0) -> Tensor:
    """``images`` with every missing pixel (mask 1) set to ``fill`` and the known ones unchanged (a new tensor).

    The paper fills the hole with the dataset's mean; images here are in [-1, 1], so the default 0 is the
    mean grey. ``fill`` may be a number or a per-channel tensor of shape (C,) (the reference fills RGB with
    its dataset's mean colour). Gradients flow to the known pixels of ``images`` only.

    Args:
        images: (N, C, H, W).
        mask: (N, 1, H, W) or (1, 1, H, W), 1 = missing pixel.
        fill: the value of the hole.
    """
    where = "apply_mask"
    _check_mask(where, mask)
    if images.ndim != 4 or images.shape[-2:] != mask.shape[-2:] or mask.shape[0] not in (1, images.shape[0]):
        raise ConfigError(
            f"{where}: images {tuple(images.shape)} and mask {tuple(mask.shape)} do not match; "
            f"use images (N, C, H, W) and a mask (N, 1, H, W) of the same N, H and W"
        )
    fill = torch.as_tensor(fill, dtype=images.dtype, device=images.device)
    if fill.ndim == 1:
        fill = fill.view(1, -1, 1, 1)
    return torch.where(mask > 0.5, fill, images)


def crop_center(images: Tensor, hole_size: int) -> Tensor:
    """The centred ``hole_size`` x ``hole_size`` region of ``images`` (..., H, W): the region ``center_mask``
    removes (rows from ``(H - hole_size) // 2``, columns from ``(W - hole_size) // 2``). A view, not a copy."""
    h, w = images.shape[-2:]
    if not (_is_int(hole_size) and 1 <= hole_size <= min(h, w)):
        raise ConfigError(f"crop_center: hole_size={hole_size!r} does not fit images of {h}x{w}; use 1 <= hole_size <= {min(h, w)}")
    top, left = _center_start(h, hole_size), _center_start(w, hole_size)
    return images[..., top : top + hole_size, left : left + hole_size]


def paste_center(images: Tensor, patch: Tensor) -> Tensor:
    """A copy of ``images`` (N, C, H, W) with its centre region replaced by ``patch`` (N, C, h, w), at the
    place ``crop_center`` cuts it from, so ``crop_center(paste_center(x, p), h) == p``. Differentiable with
    respect to both (the completed image of the centre-region setting)."""
    h, w = patch.shape[-2:]
    H, W = images.shape[-2:]
    if patch.shape[:-2] != images.shape[:-2] or h > H or w > W:
        raise ConfigError(
            f"paste_center: a patch of shape {tuple(patch.shape)} does not fit images of shape {tuple(images.shape)}; "
            f"use a patch with the images' N and C and sides at most {H}x{W}"
        )
    out = images.clone()
    top, left = _center_start(H, h), _center_start(W, w)
    out[..., top : top + h, left : left + w] = patch.to(out.dtype)
    return out


# -------------------------------------------------------------------------------------------- generator


class ChannelWiseLinear(nn.Module):
    """The paper's channel-wise fully connected layer: each channel's ``size`` x ``size`` map goes through its
    own fully connected layer (size**2 -> size**2), with no connections between channels and no bias, so it
    has ``channels * size**4`` parameters (a full layer would have ``channels**2 * size**4``).

    Args:
        channels: channels in and out.
        size: side of the square feature maps.
    """

    def __init__(self, channels: int, size: int):
        super().__init__()
        _check_positive(type(self).__name__, channels=channels, size=size)
        self.channels, self.size = channels, size
        area = size * size
        # N(0, 1/area): unit output variance for unit inputs (PyTorch's default linear init has a third of it)
        self.weight = nn.Parameter(torch.randn(channels, area, area) / area**0.5)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        if (c, h, w) != (self.channels, self.size, self.size):
            raise ConfigError(
                f"{type(self).__name__} takes maps of shape (N, {self.channels}, {self.size}, {self.size}), not {tuple(x.shape)}"
            )
        out = torch.einsum("ncp,cqp->ncq", x.reshape(n, c, h * w), self.weight)
        return out.reshape(n, c, h, w)


class ContextEncoder(nn.Module):
    """The context encoder: a masked image (N, channels, S, S) -> the predicted region (N, channels, R, R) in [-1, 1].

    Encoder: ``log2(S) - 2`` 4x4 stride-2 convs (padding 1) down to 4x4, to ``min(width * 2**k, 8 * width)``
    channels (``k = 0, 1, ...``), each followed by LeakyReLU 0.2 and (all but the first) the norm. Code: a
    4x4 conv (no padding) to a ``bottleneck``-channel 1x1 code, the norm and LeakyReLU 0.2, as the reference.
    Decoder: a 4x4 transposed conv from 1x1 to 4x4, then ``log2(R) - 3`` 4x4 stride-2 transposed convs
    (padding 1), each with the norm and ReLU, their channels halving to ``width`` at ``R / 2`` (capped at
    ``8 * width``); a last 4x4 stride-2 transposed conv to ``channels`` at ``R``, tanh. At 128 px with the
    defaults that is the reference's 128 -> 64 -> 32 -> 16 -> 8 -> 4 -> 1 -> 4 -> ... -> 64 (its encoder keeps
    ``width`` channels on the second layer; here they double on every layer).

    With ``channel_fc`` the 1x1 bottleneck is replaced by the paper's channel-wise fully connected layer
    (``ChannelWiseLinear``) on the encoder's 4x4 map, the norm and LeakyReLU 0.2, and the decoder's first
    layer by the paper's stride-1 (1x1) conv, which mixes the channels, to the same 4x4 map; the code is then
    the ``8 * width`` (at most) channel 4x4 map, and ``bottleneck`` must be left ``None``.

    The network is not fully convolutional: it takes only the size ``image_size`` it was built for.
    Fill the hole of the input with ``apply_mask``; with the centre hole the natural ``out_size`` is the hole
    (``image_size // 2``, the default; place it with ``paste_center``); with random-block masks predict the
    whole image (``out_size = image_size``) and keep its known pixels from the input.

    Args:
        channels: channels of the images (1 for grey, 3 for RGB).
        image_size: side of the square input; a power of two >= 16.
        width: channels of the first encoder conv and of the last hidden decoder layer (``nef`` and ``ngf``,
            64 in the reference).
        bottleneck: channels of the 1x1 code; ``None`` is ``8 * width`` (4000 in the paper at 128 px; 100 by
            default in the reference code).
        out_size: side of the output; a power of two >= 8; ``None`` is ``image_size // 2`` (the centre hole).
        norm: ``"batch"`` (the paper) or ``"none"``.
        channel_fc: use the paper's channel-wise fully connected bottleneck instead of the 1x1 code.
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        bottleneck: Optional[int] = None,
        out_size: Optional[int] = None,
        norm: str = "batch",
        channel_fc: bool = False,
    ):
        super().__init__()
        net = type(self).__name__
        _check_positive(net, channels=channels, width=width)
        _check_power_of_two(net, "image_size", image_size, 16, " (the encoder halves it down to 4x4 with stride-2 convs)")
        out_size = image_size // 2 if out_size is None else out_size
        _check_power_of_two(net, "out_size", out_size, 8, " (the decoder doubles 4x4 up to it)")
        _check_norm(net, norm)
        if channel_fc and bottleneck is not None:
            raise ConfigError(
                f"{net}: bottleneck={bottleneck!r} has no use with channel_fc=True (the channel-wise layer keeps "
                f"the encoder's channels); use bottleneck=None or channel_fc=False"
            )
        bottleneck = 8 * width if bottleneck is None else bottleneck
        _check_positive(net, bottleneck=bottleneck)
        self.channels, self.image_size, self.out_size = channels, image_size, out_size
        self.norm, self.channel_fc = norm, bool(channel_fc)
        bias = norm != "batch"
        cap = 8 * width

        enc: list[nn.Module] = []
        c_in = channels
        for k in range(image_size.bit_length() - 3):  # log2(image_size / 4) halvings
            c_out = min(width * 2**k, cap)
            enc.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=k == 0 or bias))
            enc += [] if k == 0 else _norm(norm, c_out)
            enc.append(nn.LeakyReLU(0.2))
            c_in = c_out
        self.encoder = nn.Sequential(*enc)
        self.encoder_channels = c_in

        # hidden decoder channels at sides 4, 8, ..., out_size / 2: width at out_size / 2, doubling downwards
        sides = [4 * 2**i for i in range(out_size.bit_length() - 3)]
        hidden = [min(width * (out_size // 2) // s, cap) for s in sides]
        self.decoder_channels = hidden

        if self.channel_fc:
            self.code_channels = c_in
            code = [ChannelWiseLinear(c_in, 4)] + _norm(norm, c_in) + [nn.LeakyReLU(0.2)]
            first: nn.Module = nn.Conv2d(c_in, hidden[0], 1, bias=bias)
        else:
            self.code_channels = bottleneck
            code = [nn.Conv2d(c_in, bottleneck, 4, bias=bias)] + _norm(norm, bottleneck) + [nn.LeakyReLU(0.2)]
            first = nn.ConvTranspose2d(bottleneck, hidden[0], 4, bias=bias)
        self.code = nn.Sequential(*code)

        dec: list[nn.Module] = [first] + _norm(norm, hidden[0]) + [nn.ReLU()]
        for c_prev, c_next in zip(hidden, hidden[1:]):
            dec += [nn.ConvTranspose2d(c_prev, c_next, 4, 2, 1, bias=bias)] + _norm(norm, c_next) + [nn.ReLU()]
        dec += [nn.ConvTranspose2d(hidden[-1], channels, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: Tensor) -> Tensor:
        shape = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != shape:
            raise ConfigError(
                f"{type(self).__name__} takes masked images of shape (N, {', '.join(map(str, shape))}), not "
                f"{tuple(x.shape)}; resize the images to {self.image_size} px or build it with image_size={x.shape[-1]}"
            )
        return self.decoder(self.code(self.encoder(x)))


# ---------------------------------------------------------------------------------------- discriminator


class ContextDiscriminator(nn.Module):
    """The adversarial discriminator: (N, channels, S, S) -> logits (N,), one per image.

    ``log2(S) - 2`` 4x4 stride-2 convs (padding 1) down to 4x4, to ``min(width * 2**k, 8 * width)`` channels,
    each followed by LeakyReLU 0.2 and (all but the first) the norm; a 4x4 conv (no padding) to one logit.
    It judges what the generator paints: the (real or predicted) centre region (``image_size`` = the hole's
    side, the paper's 64 px: 64 -> 32 -> 16 -> 8 -> 4 -> 1), or whole images (with random-block masks). It
    returns logits, not probabilities (the reference ends with a sigmoid and BCE; use the logit form of the
    loss). Not fully convolutional: it takes only the size it was built for.

    Args:
        channels: channels of the images.
        image_size: side of the square input; a power of two >= 8.
        width: channels of the first conv (``ndf``, 64 in the reference).
        norm: ``"batch"`` (the paper) or ``"none"`` (for losses with a gradient penalty).
    """

    def __init__(self, channels: int = 1, image_size: int = 16, width: int = 64, norm: str = "batch"):
        super().__init__()
        net = type(self).__name__
        _check_positive(net, channels=channels, width=width)
        _check_power_of_two(net, "image_size", image_size, 8, " (it halves the input down to 4x4 with stride-2 convs)")
        _check_norm(net, norm)
        self.channels, self.image_size, self.norm = channels, image_size, norm
        bias = norm != "batch"
        layers: list[nn.Module] = []
        c_in = channels
        for k in range(image_size.bit_length() - 3):
            c_out = min(width * 2**k, 8 * width)
            layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=k == 0 or bias))
            layers += [] if k == 0 else _norm(norm, c_out)
            layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        layers.append(nn.Conv2d(c_in, 1, 4))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        shape = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != shape:
            raise ConfigError(
                f"{type(self).__name__} takes images of shape (N, {', '.join(map(str, shape))}), not "
                f"{tuple(x.shape)}; pass the region it was built for or build it with image_size={x.shape[-1]}"
            )
        return self.net(x).flatten()
