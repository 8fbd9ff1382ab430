"""Pictures of samples: image grids through torchvision, scatter plots of 2-D points with Pillow."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
from PIL import Image, ImageDraw
from torch import Tensor


def save_samples(samples: Tensor, path: str | Path, nrow: int = 8, reference: Optional[Tensor] = None) -> Path:
    """Write images in [-1, 1] as a grid, or 2-D points as a scatter plot (``reference`` points,
    e.g. the true modes, drawn in red). The file is written whole, then renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if samples.dim() == 2 and samples.shape[1] == 2:
        scatter_image(samples, reference).save(tmp, format="PNG")
    else:
        from torchvision.utils import save_image

        if samples.dim() == 4 and samples.shape[-1] < 32:  # enlarge tiny images so a grid is legible
            samples = torch.nn.functional.interpolate(samples, scale_factor=-(-32 // samples.shape[-1]), mode="nearest")
        save_image(samples, tmp, nrow=nrow, normalize=True, value_range=(-1, 1), format="PNG")
    tmp.replace(path)
    return path


def scatter_image(points: Tensor, reference: Optional[Tensor] = None, size: int = 400) -> Image.Image:
    """A white square with ``points`` in blue and ``reference`` points in red, axes scaled to fit both."""
    every = points if reference is None else torch.cat([points, reference.to(points)])
    finite = every[torch.isfinite(every).all(1)]
    lo, hi = (finite.min(0).values, finite.max(0).values) if len(finite) else (torch.zeros(2), torch.ones(2))
    span = float((hi - lo).max().clamp_min(1e-6)) * 1.1
    centre = (hi + lo) / 2

    def to_px(p: Tensor) -> list[tuple[float, float]]:
        xy = (p - centre) / span * (size - 20) + size / 2
        return [(float(x), float(size - y)) for x, y in xy.tolist()]

    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for x, y in to_px(points[torch.isfinite(points).all(1)]):
        draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=(31, 119, 180))
    if reference is not None:
        for x, y in to_px(reference.float()):
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), outline=(214, 39, 40), width=2)
    return image
