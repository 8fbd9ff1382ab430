"""The Fréchet distance between two Gaussians fitted to feature sets (the formula behind FID)."""

from __future__ import annotations

import torch
from torch import Tensor


def gaussian_stats(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and (unbiased) covariance of ``features`` (N, D), in float64."""
    x = features.detach().double().flatten(1)
    return x.mean(0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^1/2), the trace term from the eigenvalues
    of S1 S2 (real and non-negative for covariance matrices, up to rounding)."""
    eigenvalues = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp_min(0)
    value = (mu1 - mu2).pow(2).sum() + sigma1.trace() + sigma2.trace() - 2 * eigenvalues.sqrt().sum()
    return float(value.clamp_min(0))
