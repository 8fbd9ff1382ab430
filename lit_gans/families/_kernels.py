"""Kernels and two-sample distances of the moment-matching families (GMMN, MMD GAN, Cramér GAN).

Pure functions on batches of vectors ``x`` (N, d) and ``y`` (M, d): a kernel returns the Gram matrix
(N, M); ``mmd2`` estimates the squared maximum mean discrepancy under a kernel (Gretton et al. 2012),
``witness`` evaluates its witness function, and ``energy_distance`` is the MMD^2 of the distance
kernel ``-||x - y||`` (Székely & Rizzo 2013; Sejdinovic et al. 2013), which Cramér GAN uses.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

Kernel = Callable[[Tensor, Tensor], Tensor]


def squared_distances(x: Tensor, y: Tensor) -> Tensor:
    """``||x_i - y_j||^2`` for every pair, (N, M), without an (N, M, d) intermediate."""
    d2 = x.pow(2).sum(1)[:, None] + y.pow(2).sum(1)[None, :] - 2 * x @ y.t()
    return d2.clamp_min(0)


def safe_sqrt(s: Tensor) -> Tensor:
    """``sqrt(s)`` for ``s >= 0`` whose gradient is 0, not NaN, where ``s`` is 0 (a point and itself)."""
    positive = s > 0
    return torch.where(positive, torch.where(positive, s, torch.ones_like(s)).sqrt(), torch.zeros_like(s))


def distances(x: Tensor, y: Tensor) -> Tensor:
    """``||x_i - y_j||`` for every pair, (N, M)."""
    return safe_sqrt(squared_distances(x, y))


def gaussian_kernel(x: Tensor, y: Tensor, sigmas: Sequence[float]) -> Tensor:
    """A mixture of Gaussian kernels (GMMN, Li et al. 2015): ``sum_s exp(-||x - y||^2 / (2 s^2))``."""
    d2 = squared_distances(x, y)
    return sum(torch.exp(-d2 / (2.0 * s * s)) for s in sigmas)


def rational_quadratic_kernel(x: Tensor, y: Tensor, alphas: Sequence[float], linear: float = 0.0) -> Tensor:
    """A mixture of rational-quadratic kernels plus a linear term (Bińkowski et al. 2018, section 5:
    alphas 0.2, 0.5, 1, 2, 5 and linear weight 1): ``sum_a (1 + ||x - y||^2 / (2 a))^(-a) + linear x.y``."""
    d2 = squared_distances(x, y)
    k = sum((1.0 + d2 / (2.0 * a)).pow(-a) for a in alphas)
    return k + linear * (x @ y.t()) if linear else k


def distance_kernel(x: Tensor, y: Tensor) -> Tensor:
    """The (conditionally positive definite) distance kernel ``-||x - y||`` of the energy distance."""
    return -distances(x, y)


def mmd2(x: Tensor, y: Tensor, kernel: Kernel, unbiased: bool = True) -> Tensor:
    """MMD^2 between the samples ``x`` and ``y`` (Gretton et al. 2012). Unbiased (eq. 3, the U-statistic):
    ``sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (n(n-1)) - 2 mean_{i,j} k(x_i, y_j)``;
    biased (eq. 5, GMMN's): every pair, the diagonals included, averaged."""
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    if not unbiased:
        return k_xx.mean() + k_yy.mean() - 2 * k_xy.mean()
    if m < 2 or n < 2:
        raise ValueError(f"the unbiased MMD^2 needs at least 2 samples on each side, got {m} and {n}")
    xx = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    yy = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return xx + yy - 2 * k_xy.mean()


def witness(x: Tensor, real: Tensor, fake: Tensor, kernel: Kernel) -> Tensor:
    """The MMD's empirical witness function at each ``x``: ``mean_j k(x, real_j) - mean_j k(x, fake_j)`` (N,)."""
    return kernel(x, real).mean(1) - kernel(x, fake).mean(1)


def energy_distance(x: Tensor, y: Tensor) -> Tensor:
    """The energy distance ``2 E||X - Y|| - E||X - X'|| - E||Y - Y'||``, estimated without bias (the
    within-sample terms over distinct pairs): the unbiased MMD^2 under the distance kernel."""
    return mmd2(x, y, distance_kernel, unbiased=True)


__all__ = ["Kernel", "distance_kernel", "distances", "energy_distance", "gaussian_kernel", "mmd2",
           "rational_quadratic_kernel", "safe_sqrt", "squared_distances", "witness"]
