"""Shape checks and label conditioning shared by the networks."""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from lit_gans.errors import ConfigError


def power_of_two_size(data_shape: Sequence[int], net: str, smallest: int, largest: int) -> tuple[int, int, int]:
    """Check that ``data_shape`` is ``(C, S, S)`` with S a power of two in ``[smallest, largest]``.

    Returns ``(channels, size, log2(size))``; raises one ``ConfigError`` (a ``ValueError``) naming the fix otherwise.
    """
    shape = tuple(int(d) for d in data_shape)
    allowed = [2**k for k in range(int(math.log2(smallest)), int(math.log2(largest)) + 1)]
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in allowed:
        hint = ""
        if len(shape) == 3 and shape[1] == shape[2]:
            bigger = [s for s in allowed if s > shape[1]]
            if bigger:
                hint = f" (e.g. data.image_size: {bigger[0]} resizes or pads the data to {bigger[0]} px)"
        raise ConfigError(
            f"{net} cannot make images of shape {shape}: it needs (channels, S, S) with S in {allowed}; "
            f"set data.image_size to one of these{hint}"
        )
    return shape[0], shape[1], int(math.log2(shape[1]))


def one_hot(labels: Tensor | None, num_classes: int, batch: int, device: torch.device) -> Tensor | None:
    """One-hot float labels for a conditional network, or ``None`` for an unconditional one."""
    if num_classes <= 0:
        return None
    if labels is None:
        raise ValueError(f"this network is conditional on {num_classes} classes: pass labels of shape ({batch},)")
    return F.one_hot(labels.long().to(device), num_classes).float()
