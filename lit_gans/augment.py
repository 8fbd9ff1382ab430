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
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Sequence

import torch
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


__all__ = ["Augment", "DiffAugment", "TRANSFORMS", "brightness", "contrast", "cutout", "saturation", "translation"]
