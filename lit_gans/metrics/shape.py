"""What a generator's continuous code changes in its images: image-moment properties of single-channel
images and the standardised effect of one continuous code on each of them.

The properties (``shape_properties``) come from the moments of the ink, ``(x + 1) / 2`` of an image in
[-1, 1], in pixels, x counted to the right (columns) and y upward (rows from the bottom):

* ``ink``: ink mass, the mean ink per pixel (0 for an all -1 image, 1 for an all +1 image);
* ``width`` / ``height``: ``sqrt(mu20 / mu00)`` / ``sqrt(mu02 / mu00)``, the spread of the ink along x / y;
* ``slant``: the shear ``mu11 / mu02`` (the slant a deskew removes): how far the ink moves right per pixel
  up, > 0 leaning right like ``/``, 0 upright;
* ``centroid_x`` / ``centroid_y``: the centre of the ink;
* ``upright_width``: the width after deskewing, ``sqrt((mu20 - mu11^2 / mu02) / mu00)``, so that a slant
  alone does not read as a change of width.

All but ``ink`` are NaN for an image without ink.

``code_property_effects`` varies one continuous code of a family (InfoGAN) with everything else fixed per
sample and reports, per property, the mean at each code value, the standardised effect (the mean per-sample
slope over the property's spread across samples) and how consistent the slope's sign is across samples.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

PROPERTIES = ("ink", "width", "height", "slant", "centroid_x", "centroid_y", "upright_width")


def shape_properties(images: Tensor) -> dict[str, Tensor]:
    """The moment properties (``PROPERTIES``, see the module docstring) of a batch of single-channel
    images in [-1, 1], (N, 1, H, W) or (N, H, W): a dict of float64 tensors (N,)."""
    if images.dim() == 4:
        if images.shape[1] != 1:
            raise ValueError(f"shape_properties reads single-channel images; got {images.shape[1]} channels")
        images = images[:, 0]
    ink = (images.detach().double().clamp(-1, 1) + 1) / 2
    h, w = ink.shape[-2:]
    x = torch.arange(w, dtype=ink.dtype, device=ink.device)
    y = torch.arange(h - 1, -1, -1, dtype=ink.dtype, device=ink.device)  # upward: the bottom row is y = 0
    m00 = ink.sum((1, 2))
    total = torch.where(m00 > 0, m00, torch.full_like(m00, float("nan")))  # no ink: NaN properties
    cx = (ink.sum(1) * x).sum(1) / total
    cy = (ink.sum(2) * y).sum(1) / total
    dx, dy = x - cx[:, None], y - cy[:, None]  # (N, W), (N, H)
    mu20 = (ink.sum(1) * dx**2).sum(1)
    mu02 = (ink.sum(2) * dy**2).sum(1)
    mu11 = (ink * dy[:, :, None] * dx[:, None, :]).sum((1, 2))
    slant = mu11 / mu02
    return {"ink": m00 / (h * w), "width": (mu20 / total).sqrt(), "height": (mu02 / total).sqrt(), "slant": slant,
            "centroid_x": cx, "centroid_y": cy, "upright_width": ((mu20 - slant * mu11) / total).clamp_min(0).sqrt()}


def code_property_effects(module: Any, code_index: int, values: Tensor = torch.linspace(-1, 1, 9), n: int = 256,
                          seed: int = 0) -> dict[str, dict[str, Any]]:
    """What continuous code ``code_index`` of ``module`` (a family with a latent spec and ``sample``, e.g.
    InfoGAN) does to each of ``shape_properties``.

    ``n`` latents are drawn from the family's latent spec (seed ``seed``); for each of them the code is set to
    each of ``values`` while the noise, the categorical codes and the other continuous codes stay as drawn,
    and the sampling generator (``module.sample``: eval mode, EMA when the family has one) makes the images.

    Returns, per property: ``mean`` (the mean across samples at each value), ``slope`` (the mean over samples
    of the least-squares slope of the property against the code value), ``spread`` (its standard deviation
    across the samples with the code at 0), ``effect`` (slope / spread: the property moves about 2 x effect
    spreads from code -1 to 1) and ``consistency`` (the share of samples whose slope has the majority sign).
    """
    spec = module.latent_spec
    if not 0 <= code_index < spec.continuous:
        raise ValueError(f"code_index {code_index} is not one of the family's {spec.continuous} continuous codes")
    values = torch.as_tensor(values, dtype=torch.float64).flatten()
    if len(values) < 2:
        raise ValueError("code_property_effects needs at least two code values")
    latent = spec.draw(n, generator=torch.Generator().manual_seed(seed))

    def measure(value: float) -> dict[str, Tensor]:
        continuous = latent.continuous.clone()
        continuous[:, code_index] = value
        with torch.no_grad():
            return shape_properties(module.sample(n, latent=latent.replace(continuous=continuous)).cpu())

    at_values = [measure(float(v)) for v in values]
    zero = (values == 0).nonzero().flatten()
    at_zero = at_values[int(zero[0])] if len(zero) else measure(0.0)  # the spread at code 0, measured once
    centred = values - values.mean()
    out: dict[str, dict[str, Any]] = {}
    for name in PROPERTIES:
        table = torch.stack([m[name] for m in at_values])  # (values, n)
        slopes = (centred[:, None] * (table - table.mean(0))).sum(0) / (centred**2).sum()  # per sample
        slope, spread = float(slopes.nanmean()), float(at_zero[name][~at_zero[name].isnan()].std())
        up, down = float((slopes > 0).double().mean()), float((slopes < 0).double().mean())
        out[name] = {"values": values.tolist(), "mean": table.nanmean(1).tolist(), "slope": slope, "spread": spread,
                     "effect": slope / spread if spread > 0 else float("nan"), "consistency": max(up, down)}
    return out


__all__ = ["PROPERTIES", "code_property_effects", "shape_properties"]
