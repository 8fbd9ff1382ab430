"""The generator's exponential moving average, updated without host-device syncs."""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from lit_gans.regularizers import refresh_spectral_norms, spectral_norm_layers


@torch.no_grad()
def update_ema(averaged: AveragedModel, source: nn.Module, copy: bool, decay: Optional[float] = None) -> None:
    """One EMA step of ``averaged`` (an ``AveragedModel`` built with ``get_ema_multi_avg_fn(decay)`` and
    ``use_buffers=True``) towards ``source``: with ``copy`` its weights and buffers become the source's;
    otherwise they move by ``lerp(1 - decay)``. This is what ``AveragedModel.update_parameters`` computes
    (bitwise, on a CPU), without reading its ``n_averaged`` counter back from the device, which that
    method does twice per call: a host sync at every generator step on a GPU. Then one power iteration gives
    each spectrally normalised tensor of the average its own singular vectors (``refresh_spectral_norms``), where
    ``update_parameters`` would leave averaged ones. ``decay`` defaults to the one the average was built with
    (``ema_decay_at`` gives a ramped-up one)."""
    pairs = list(zip([*averaged.module.parameters(), *averaged.module.buffers()],
                     [*source.parameters(), *source.buffers()]))
    if copy:
        for mine, theirs in pairs:
            mine.copy_(theirs)
        averaged.n_averaged.fill_(1)
        return
    decay = averaged.lit_gans_decay if decay is None else decay
    floats = [(mine, theirs) for mine, theirs in pairs if mine.is_floating_point()]
    torch._foreach_lerp_([m for m, _ in floats], [t for _, t in floats], 1 - decay)
    for mine, theirs in pairs:
        if not mine.is_floating_point():  # counters such as num_batches_tracked, as AveragedModel treats them
            mine.copy_(mine * decay + theirs * (1 - decay))
    refresh_spectral_norms(averaged.lit_gans_spectral)
    averaged.n_averaged.add_(1)


def ema_decay_at(decay: float, step: int, rampup: Optional[float] = None) -> float:
    """The decay of the average's update at generator iteration ``step``: ``decay``, or with ``rampup`` the decay
    whose half-life is ``rampup * step`` iterations where that is shorter than ``decay``'s (StyleGAN2-ADA's
    ramp-up, counted in iterations instead of images)."""
    if rampup is None or decay <= 0.0:
        return decay
    half_life = min(math.log(0.5) / math.log(decay), rampup * max(step, 1))
    return 0.5 ** (1.0 / half_life)


def ema_of(module: nn.Module, decay: float) -> AveragedModel:
    """A frozen EMA copy of ``module`` (weights and buffers), updated by ``update_ema``."""
    from torch.optim.swa_utils import get_ema_multi_avg_fn

    averaged = AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True).requires_grad_(False)
    averaged.lit_gans_decay = decay
    averaged.lit_gans_spectral = spectral_norm_layers(averaged.module)  # found once: the update runs every G step
    return averaged


__all__ = ["ema_decay_at", "ema_of", "update_ema"]
