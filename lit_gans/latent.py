"""Latent-space tools: spherical interpolation and interpolation strips."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between latent batches ``a`` and ``b`` (N, D) at fractions ``t`` (T,):
    returns (N, T, D). Gaussian latents keep their typical norm along the path (White 2016), which a
    straight line would shrink; nearly parallel pairs fall back to linear interpolation."""
    a_unit, b_unit = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_unit * b_unit).sum(1).clamp(-1, 1))[:, None, None]  # (N, 1, 1)
    t = t.to(a)[None, :, None]  # (1, T, 1)
    sin = torch.sin(omega)
    linear = sin.abs() < 1e-6
    safe = torch.where(linear, torch.ones_like(sin), sin)
    spherical = (torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]) / safe
    straight = (1 - t) * a[:, None] + t * b[:, None]
    return torch.where(linear, straight, spherical)


@torch.no_grad()
def interpolation_strips(module: Any, rows: int = 8, steps: int = 10) -> Tensor:
    """Samples along slerp paths between pairs of the module's fixed latents: ``rows`` strips of
    ``steps`` images (row-major), each strip keeping one class label for conditional families."""
    z = module.fixed_z
    rows = max(1, min(rows, len(z) // 2))
    path = slerp(z[:rows], z[rows : 2 * rows], torch.linspace(0, 1, steps)).reshape(rows * steps, -1)
    labels = module.fixed_labels[:rows].repeat_interleave(steps) if module.conditional else None
    return module.sample(len(path), labels=labels, z=path)


__all__ = ["interpolation_strips", "slerp"]
