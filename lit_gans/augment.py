"""Augmentation inside the loop: what the critic sees of real and generated images alike.

DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training") applies the
same random, differentiable transforms to every image the critic judges: real and generated, in the
critic's and in the generator's phase, so that the generator's gradient passes through them and the
critic cannot overfit a small training set. A config lists it as a model argument::

    model:
      init_args:
        augment:
          class_path: lit_gans.augment.DiffAugment
          init_args: {policy: [color, translation, cutout]}

The loop (``AdversarialModule.judge``) applies ``augment`` in training only; validation, sampling and
metrics see the images as they are. Images are in [-1, 1]; each transform draws its parameters per sample.
Data-side augmentation of the real images alone belongs in the DataModule (albumentations).

ADA (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data", the rule of its
code, stylegan2-ada-pytorch) applies each of its transforms to each image with a probability ``p`` that it
tunes while training: every ``interval`` critic steps it reads r_t = E[sign(D(real))], the mean sign of
the critic's logits on the (augmented) real images since the last update, and moves p up when r_t is
above ``target`` (the critic is overfitting) and down when it is below::

    p <- clamp(p + sign(r_t - target) * batch * interval / (speed_kimg * 1000), 0, 1)

with ``target`` 0.6, ``interval`` 4 and ``speed_kimg`` 500 by default (p can move from 0 to 1 in 500,000
real images); ``batch`` is the global batch (every process's real images). A config enables it as::

    model:
      init_args:
        augment:
          class_path: lit_gans.augment.ADA
          init_args: {target: 0.6}

The loop hands ADA the critic's real logits after each critic step (``Augment.observe``) and logs what it
returns: ``augment/p`` and ``augment/rt``. ``p`` is a buffer, so checkpoints hold it and a resumed run
goes on with it. kornia's ``AdaptiveDiscriminatorAugmentation`` follows another rule (an exponential
moving average of the critic's accuracy on real images, target 0.85, fixed steps, p at most 0.8); this
one is written to the reference's rule above.
"""

from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod
from typing import Any, Optional, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.specs import Recorded


def brightness(x: Tensor) -> Tensor:
    """Add U(-0.5, 0.5) to every pixel of a sample."""
    return x + (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) - 0.5)


def saturation(x: Tensor) -> Tensor:
    """Scale each pixel's distance from its channel mean by U(0, 2) (a no-op on one channel)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) * 2) + mean


def contrast(x: Tensor) -> Tensor:
    """Scale each sample's distance from its mean by U(0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) + 0.5) + mean


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each sample by a whole number of pixels, up to ``ratio`` of the side each way, filling with 0."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy + sh  # (n, h, 1) into the padded image
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx + sw  # (n, 1, w)
    padded = F.pad(x, (sw, sw, sh, sh))
    # advanced indices around a slice put their broadcast shape (n, h, w) first: (n, h, w, c)
    return padded[torch.arange(n, device=x.device).view(n, 1, 1), :, rows, cols].permute(0, 3, 1, 2)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Set a square of ``ratio`` of the side to 0 in each sample, centred anywhere (clipped at the border)."""
    n, _, h, w = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h, (n, 1, 1), device=x.device) - size_h // 2
    left = torch.randint(0, w, (n, 1, 1), device=x.device) - size_w // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= top) & (rows < top + size_h) & (cols >= left) & (cols < left + size_w)  # (n, h, w)
    return x * (~hole).unsqueeze(1).to(x.dtype)


#: policy name -> transforms, in the order they are applied
TRANSFORMS = {"color": (brightness, saturation, contrast), "translation": (translation,), "cutout": (cutout,)}


class Augment(Recorded, nn.Module, metaclass=ABCMeta):
    """Base of the augmentations the loop applies to what the critic judges."""

    @abstractmethod
    def forward(self, x: Tensor) -> Tensor:
        """The images (N, C, H, W) as the critic is to see them, differentiably."""

    def observe(self, real_logits: Tensor, images: Optional[int] = None) -> dict[str, Tensor]:
        """Called by the loop after each critic step in training with the critic's logits on the real batch
        (detached) and the number of real images they judged (``images``: more than the logits under a packed
        critic); returns values to log under their names. An augmentation that adapts (``ADA``) tunes
        itself here; the default does nothing and logs nothing."""
        return {}


class DiffAugment(Augment):
    """DiffAugment's transforms, in the paper's order: ``color`` (brightness +-0.5, saturation x[0, 2],
    contrast x[0.5, 1.5]), ``translation`` (up to 1/8 of the side, zero padding), ``cutout`` (a square of
    half the side). The default is all three (the paper's StyleGAN2 runs); its BigGAN CIFAR-10 runs use
    ``[translation, cutout]``.

    Args:
        policy: the transforms to apply, from ``color``, ``translation``, ``cutout``.
    """

    def __init__(self, policy: Sequence[str] = ("color", "translation", "cutout")):
        super().__init__()
        policy = [policy] if isinstance(policy, str) else list(policy)
        unknown = [p for p in policy if p not in TRANSFORMS]
        if unknown or not policy:
            raise ConfigError(f"DiffAugment policy {policy} must list one or more of {', '.join(TRANSFORMS)}"
                              + (f" (unknown: {', '.join(map(str, unknown))})" if unknown else ""))
        self.policy = tuple(dict.fromkeys(policy))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ConfigError(f"DiffAugment transforms images (N, C, H, W), got shape {tuple(x.shape)}; "
                              "remove model.augment for data that is not images")
        for name in self.policy:
            for transform in TRANSFORMS[name]:
                x = transform(x)
        return x.contiguous()

    def extra_repr(self) -> str:
        return f"policy={list(self.policy)}"


# ---------------------------------------------------------------------------------------------- ADA
#: the reference's spreads (stylegan2-ada-pytorch's ``bgc`` pipeline), as log2 standard deviations where the
#: value is a factor: log-normal factors 2**N(0, std) have a natural-log standard deviation of std * ln 2
INTEGER_SHIFT = 0.125  # blit translation: U(-1/8, 1/8) of the side, rounded to whole pixels
SCALE_STD = 0.2  # isotropic scaling, log2
ANISO_STD = 0.2  # anisotropic scaling, log2
FRACTION_SHIFT_STD = 0.125  # fractional translation, in sides
BRIGHTNESS_STD = 0.2  # added to every channel
CONTRAST_STD = 0.5  # log2
SATURATION_STD = 1.0  # log2


def _none_chosen(chosen: Tensor) -> bool:
    """No sample drew any transform of a group. Known for free only on the CPU: on an accelerator, reading the
    draw would make the host wait for the device, so the group runs and leaves unchosen samples as they are."""
    return chosen.device.type == "cpu" and not bool(chosen.any())


def _reflect(index: Tensor, size: int) -> Tensor:
    """Whole pixel indices folded into [0, size) by reflection about the edge pixels (``F.pad``'s ``reflect``)."""
    if size == 1:
        return torch.zeros_like(index)
    period = 2 * (size - 1)
    index = torch.remainder(index, period)
    return torch.where(index >= size, period - index, index)


def blit(x: Tensor, p: float) -> Tensor:
    """ADA's pixel blitting, each with probability ``p`` per sample: an x-flip (of half the chosen samples, as
    the reference), a rotation by a multiple of 90 degrees (of 180 only when the image is not square: a quarter
    turn would change its shape) and a translation by whole pixels, U(-1/8, 1/8) of each side, rounded. They
    move pixels without resampling (one gather), and what comes in at the border is the image reflected."""
    n, c, h, w = x.shape
    device = x.device
    chosen = torch.rand(n, 3, device=device) < p  # flip, rotation, translation
    if _none_chosen(chosen):
        return x
    flip = chosen[:, 0] & (torch.rand(n, device=device) < 0.5)
    turns = torch.randint(0, 4, (n,), device=device) * chosen[:, 1]
    if h != w:
        turns = turns % 2 * 2  # 1 and 3 quarter turns become half turns: 0 or 180 degrees, equally likely
    shift = (torch.rand(n, 2, device=device) * 2 - 1) * INTEGER_SHIFT * chosen[:, 2:]  # in sides
    dx = torch.round(shift[:, 0] * w).long().view(n, 1, 1)
    dy = torch.round(shift[:, 1] * h).long().view(n, 1, 1)
    # twice the coordinates about the image centre, (W - 1) / 2 and (H - 1) / 2, are whole numbers
    u = (2 * torch.arange(w, device=device) - (w - 1)).view(1, 1, w)
    v = (2 * torch.arange(h, device=device) - (h - 1)).view(1, h, 1)
    # from each output pixel back to its source: undo the translation, then the rotation, then the flip
    u, v = u - 2 * dx, v - 2 * dy
    cos = ((turns + 1) % 2 * (1 - turns)).view(n, 1, 1)  # cos and sin of k quarter turns, k = 0..3
    sin = (turns % 2 * (2 - turns)).view(n, 1, 1)
    u, v = cos * u + sin * v, cos * v - sin * u
    u = torch.where(flip.view(n, 1, 1), -u, u)
    cols = _reflect(torch.div(u + (w - 1), 2, rounding_mode="floor"), w)
    rows = _reflect(torch.div(v + (h - 1), 2, rounding_mode="floor"), h)
    index = (rows * w + cols).view(n, 1, h * w).expand(n, c, h * w)
    return x.reshape(n, c, h * w).gather(2, index).view(n, c, h, w)


def _rotation(theta: Tensor) -> Tensor:
    """(N, 2, 2) rotations by ``theta``."""
    cos, sin = torch.cos(theta), torch.sin(theta)
    return torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)


def warp(x: Tensor, linear: Tensor, offset: Tensor) -> Tensor:
    """Each sample resampled through an affine map from output to input pixels, ``in = linear @ out + offset``
    (``linear`` (N, 2, 2), ``offset`` (N, 2); x right, y down, in pixels from the image centre), bilinearly,
    reflecting the image at its border. Differentiable with respect to ``x``, twice (R1 through it works)."""
    n, c, h, w = x.shape
    # affine_grid reads coordinates normalised to [-1, 1] (align_corners=False), x_norm = 2 x / W about the
    # centre: in those the map is D M D^-1 with D = diag(2 / W, 2 / H)
    theta = torch.stack([
        torch.stack([linear[:, 0, 0], linear[:, 0, 1] * (h / w), offset[:, 0] * (2 / w)], -1),
        torch.stack([linear[:, 1, 0] * (w / h), linear[:, 1, 1], offset[:, 1] * (2 / h)], -1),
    ], dim=1)
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    grid = F.affine_grid(theta.to(work.dtype), [n, c, h, w], align_corners=False)
    return F.grid_sample(work, grid, mode="bilinear", padding_mode="reflection", align_corners=False).to(x.dtype)


def geometric(x: Tensor, p: float) -> Tensor:
    """ADA's general geometric transforms, each with probability ``p`` per sample, composed into one affine map
    and resampled once (``warp``: bilinear, reflection at the border): isotropic scaling (log-normal, log2 std
    0.2), a rotation by U(-180, 180) degrees, anisotropic scaling (log-normal, log2 std 0.2) and a translation
    by N(0, 1/8) of each side. As in the reference, the rotation is drawn twice, before and after the
    anisotropic scaling, each with probability 1 - sqrt(1 - p), so that one of them happens with probability
    p. Samples that drew none keep their pixels exactly."""
    n, _, h, w = x.shape
    device = x.device
    p_rotation = 1 - math.sqrt(max(1 - p, 0.0))
    draws = torch.rand(n, 5, device=device)  # scaling, rotation before, anisotropy, rotation after, translation
    chosen = torch.stack([draws[:, 0] < p, draws[:, 1] < p_rotation, draws[:, 2] < p, draws[:, 3] < p_rotation,
                          draws[:, 4] < p], dim=1)
    if _none_chosen(chosen):
        return x
    normal = torch.randn(n, 4, device=device)
    theta = (torch.rand(n, 2, device=device) * 2 - 1) * math.pi
    scale = torch.where(chosen[:, 0], torch.exp2(normal[:, 0] * SCALE_STD), 1.0)
    before = torch.where(chosen[:, 1], theta[:, 0], 0.0)
    aniso = torch.where(chosen[:, 2], torch.exp2(normal[:, 1] * ANISO_STD), 1.0)
    after = torch.where(chosen[:, 3], theta[:, 1], 0.0)
    shift = torch.where(chosen[:, 4:], normal[:, 2:] * FRACTION_SHIFT_STD, 0.0)  # in sides
    shift = torch.stack([shift[:, 0] * w, shift[:, 1] * h], dim=1)  # in pixels
    # the image moves as out = T R(after) A R(before) S in; the warp needs the inverse, from output pixels to
    # input pixels: in = S^-1 R(-before) A^-1 R(-after) (out - t)
    inverse_aniso = torch.diag_embed(torch.stack([1 / aniso, aniso], -1))
    linear = _rotation(-before) @ inverse_aniso @ _rotation(-after) / scale.view(n, 1, 1)
    offset = -(linear @ shift.unsqueeze(-1)).squeeze(-1)
    return torch.where(chosen.any(1).view(n, 1, 1, 1), warp(x, linear, offset), x)


def color(x: Tensor, p: float) -> Tensor:
    """ADA's colour transforms, each with probability ``p`` per sample, in the reference's order: brightness
    (add N(0, 0.2)), contrast (scale about 0, mid-grey of [-1, 1], by a log-normal factor of log2 std 0.5),
    luma flip (negate the grey component and keep the rest, for half the chosen samples: one channel is negated),
    hue rotation (about the grey axis by U(-180, 180) degrees; three channels only) and saturation (scale each
    pixel's distance from its channel mean by a log-normal factor of log2 std 1; a no-op on one channel). The
    grey axis is the mean of the channels, so every transform but hue works on any number of channels."""
    n, c = x.shape[:2]
    device = x.device
    chosen = torch.rand(n, 5, device=device) < p  # brightness, contrast, luma flip, hue, saturation
    if _none_chosen(chosen):
        return x
    normal = torch.randn(n, 3, device=device)
    flip = chosen[:, 2] & (torch.rand(n, device=device) < 0.5)
    hue = (torch.rand(n, device=device) * 2 - 1) * math.pi * chosen[:, 3]

    def per_sample(value: Tensor) -> Tensor:
        return value.to(x.dtype).view(n, 1, 1, 1)

    # each step adds a change that is exactly 0 where the sample did not draw it, so those stay exact
    x = x + per_sample(torch.where(chosen[:, 0], normal[:, 0] * BRIGHTNESS_STD, 0.0))
    x = x * per_sample(torch.where(chosen[:, 1], torch.exp2(normal[:, 1] * CONTRAST_STD), 1.0))
    x = x - 2 * per_sample(flip) * x.mean(dim=1, keepdim=True)
    if c == 3:  # Rodrigues about the unit grey axis g: x' = x + (cos - 1)(x - mean) + sin (g x x)
        cross = (x.roll(1, dims=1) - x.roll(-1, dims=1)) / math.sqrt(3)
        x = x + per_sample(torch.cos(hue) - 1) * (x - x.mean(dim=1, keepdim=True)) + per_sample(torch.sin(hue)) * cross
    if c > 1:
        x = x + per_sample(torch.where(chosen[:, 4], torch.exp2(normal[:, 2] * SATURATION_STD) - 1, 0.0)) * (
            x - x.mean(dim=1, keepdim=True))
    return x


#: ADA's transform groups (the reference's ``bgc``), in the order they are applied
PIPELINE = {"blit": blit, "geometric": geometric, "color": color}


class ADA(Augment):
    """Adaptive discriminator augmentation (Karras et al. 2020): the reference's ``bgc`` pipeline applied with a
    probability ``p`` that follows the critic's overfitting (the module docstring has the rule and the YAML).

    Each transform is applied to each image independently with probability ``p``, differentiably (the
    generator's gradient passes through it), on images (N, C, H, W) in [-1, 1] with any number of channels;
    ``p = 0`` returns the images as they are. All twelve transforms of the reference's ``bgc`` are here, in
    three groups: ``blit`` (x-flip, rotation by multiples of 90 degrees, integer translation), ``geometric``
    (isotropic scaling, arbitrary rotation, anisotropic scaling, fractional translation) and ``color``
    (brightness, contrast, luma flip, hue rotation, saturation); the functions of those names document the
    spreads, which are the reference's. Differences: the
    geometric resampling is one bilinear ``grid_sample`` with reflection at the border, without the reference's
    2x upsampling through a wavelet (sym6) low-pass filter, so it aliases slightly more; blitting moves whole
    pixels exactly (the reference resamples it too); a non-square image is rotated by 0 or 180 degrees only;
    hue rotation needs three channels (the reference accepts only one or three; here the grey axis is the mean
    of any number). The groups run in the order blit, geometric, color, whatever the order listed.

    After each critic step the loop calls ``observe`` with the critic's real logits. ADA adds up their signs
    on the device (no wait for it), and every ``interval`` critic steps it reads r_t, their mean sign over
    every process of a distributed run (so that every process gets the same p), and moves ``p`` by
    ``sign(r_t - target)`` times the real images seen since the last update (``batch * interval``) divided by
    ``speed_kimg * 1000``, keeping it in [0, 1]. ``observe`` returns ``augment/p`` and ``augment/rt`` (the last
    r_t; 0 before the first update) for the loop to log. ``p`` is a buffer and the partial sums are the
    module's extra state, so a checkpoint holds both and a resumed run goes on exactly (p of the checkpoint,
    not the config's initial ``p``). The sums are not buffers because DDP copies rank 0's buffers to every
    rank at each step, which would overwrite the other ranks' sums; under DDP the checkpoint holds rank 0's
    partial sums, so a run resumed in the middle of an interval counts rank 0's part of it on every rank.

    Args:
        p: the initial probability, in [0, 1]; 0 in the reference.
        target: the r_t that ADA holds, in (0, 1); 0.6 in the paper. None (``null``) keeps ``p`` fixed (the
            paper's fixed-p runs); r_t is still measured and logged. On the command line jsonargparse does not
            take ``--model.init_args.augment.target null``; give the whole entry instead:
            ``--model.init_args.augment '{class_path: lit_gans.augment.ADA, init_args: {target: null, p: 0.2}}'``.
        interval: critic steps between updates of ``p`` (4).
        speed_kimg: thousands of real images over which ``p`` can move by 1 (500).
        pipeline: the transform groups, from ``blit``, ``geometric``, ``color`` (the reference's ``bgc``: all).
    """

    def __init__(
        self,
        p: float = 0.0,
        target: Optional[float] = 0.6,
        interval: int = 4,
        speed_kimg: float = 500.0,
        pipeline: Sequence[str] = ("blit", "geometric", "color"),
    ):
        super().__init__()
        number = (int, float)
        if isinstance(p, bool) or not isinstance(p, number) or not 0 <= p <= 1:
            raise ConfigError(f"ADA p={p!r} must be in [0, 1]: the initial augmentation probability (0 in the paper)")
        if target is not None and (isinstance(target, bool) or not isinstance(target, number) or not 0 < target < 1):
            raise ConfigError(f"ADA target={target!r} must be in (0, 1): the mean sign of the critic's real logits "
                              "that ADA holds (0.6 in the paper); or null to keep p fixed")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ConfigError(f"ADA interval={interval!r} must be a whole number of critic steps, 1 or more "
                              "(the paper updates p every 4)")
        if isinstance(speed_kimg, bool) or not isinstance(speed_kimg, number) or not 0 < speed_kimg < math.inf:
            raise ConfigError(f"ADA speed_kimg={speed_kimg!r} must be a positive number: thousands of real images "
                              "over which p can move by 1 (500 in the paper)")
        groups = [pipeline] if isinstance(pipeline, str) else list(pipeline)
        unknown = [g for g in groups if g not in PIPELINE]
        if unknown or not groups:
            raise ConfigError(f"ADA pipeline {groups} must list one or more of {', '.join(PIPELINE)}"
                              + (f" (unknown: {', '.join(map(str, unknown))})" if unknown else ""))
        if target is None and p == 0:
            raise ConfigError("ADA with target=null keeps p fixed, and p=0 never augments: set p above 0 for "
                              "fixed-p augmentation, or a target (0.6) to tune it")
        self.target = None if target is None else float(target)
        self.interval, self.speed_kimg = interval, float(speed_kimg)
        self.pipeline = tuple(name for name in PIPELINE if name in groups)
        self.register_buffer("p", torch.tensor(float(p), dtype=torch.float32))
        self._p_host: Optional[float] = float(self.p)  # what forward reads: the buffer's value, on the host
        self._signs = torch.zeros((), dtype=torch.int64)  # sum of the signs since the last update, on the device
        self._rt = torch.zeros(())  # the last r_t
        self._logits = self._images = self._steps = 0  # logits, real images and critic steps since the last update

    # ------------------------------------------------------------------ augmentation
    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ConfigError(f"ADA transforms images (N, C, H, W), got shape {tuple(x.shape)}; "
                              "remove model.augment for data that is not images")
        p = self.probability()
        if p <= 0:
            return x
        for name in self.pipeline:
            x = PIPELINE[name](x, p)
        return x

    def probability(self) -> float:
        """``p`` as a number (read from the buffer after a load, then kept on the host: no wait per step)."""
        if self._p_host is None:
            self._p_host = float(self.p)
        return self._p_host

    # ------------------------------------------------------------------ the heuristic
    @torch.no_grad()
    def observe(self, real_logits: Tensor, images: Optional[int] = None) -> dict[str, Tensor]:
        """Count the signs of the critic's logits on a real batch; every ``interval`` calls, update ``p``.
        ``images``: the real images those logits judged, when it is not one logit per image (a packed critic);
        by default the logits' first dimension."""
        logits = real_logits.detach()
        if self._signs.device != logits.device:
            self._signs, self._rt = self._signs.to(logits.device), self._rt.to(logits.device)
        self._signs += (logits > 0).sum() - (logits < 0).sum()
        self._logits += logits.numel()
        self._images += (logits.shape[0] if logits.dim() else 1) if images is None else int(images)
        self._steps += 1
        if self._steps >= self.interval:
            self._update()
        return {"augment/p": self.p.detach().clone(), "augment/rt": self._rt.clone()}

    def _update(self) -> None:
        counts = torch.stack([self._signs, torch.full_like(self._signs, self._logits),
                              torch.full_like(self._signs, self._images)])
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(counts)  # every process's signs and counts: the same r_t, the same p everywhere
        signs, logits, images = counts.tolist()  # the one wait for the device, every ``interval`` steps
        self._signs.zero_()
        self._logits = self._images = self._steps = 0
        rt = signs / logits if logits else 0.0
        self._rt.fill_(rt)
        if self.target is not None:
            step = math.copysign(images / (self.speed_kimg * 1000), rt - self.target) if rt != self.target else 0.0
            # in float32 on the host, as the buffer holds it: steps up and down cancel exactly, and the value kept
            # here is the buffer's, as a resumed run reads it
            p = torch.tensor(self.probability(), dtype=torch.float32) + torch.tensor(step, dtype=torch.float32)
            self._p_host = float(p.clamp(0.0, 1.0))
            self.p.fill_(self._p_host)

    # ------------------------------------------------------------------ state
    def get_extra_state(self) -> Any:
        return {"signs": self._signs.clone(), "logits": self._logits, "images": self._images, "steps": self._steps,
                "rt": self._rt.clone()}

    def set_extra_state(self, state: Any) -> None:
        self._signs = torch.as_tensor(state["signs"], dtype=torch.int64).clone()
        self._rt = torch.as_tensor(state["rt"], dtype=torch.float32).clone()
        self._logits, self._images, self._steps = int(state["logits"]), int(state["images"]), int(state["steps"])

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._p_host = None  # p may have changed: read it again at the next use

    def _apply(self, fn: Any, recurse: bool = True) -> "ADA":
        super()._apply(fn, recurse)
        if self.p.dtype != torch.float32:  # a model cast to half precision keeps p exact: steps of 1e-4 would vanish
            self.p = self.p.float()
        return self

    def extra_repr(self) -> str:
        return (f"p={float(self.p):.4g}, target={self.target}, interval={self.interval}, "
                f"speed_kimg={self.speed_kimg:g}, pipeline={list(self.pipeline)}")


__all__ = ["ADA", "Augment", "DiffAugment", "PIPELINE", "TRANSFORMS", "blit", "brightness", "color", "contrast",
           "cutout", "geometric", "saturation", "translation", "warp"]
