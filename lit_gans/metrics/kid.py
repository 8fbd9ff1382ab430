"""KID (Binkowski et al. 2018) with each kernel matrix computed once per evaluation.

torchmetrics' ``KernelInceptionDistance`` draws ``subsets`` pairs of subsets (one of the real
features, one of the generated) and computes three ``subset_size``-square polynomial kernel matrices
for each pair: with the standard 100 subsets of 1,000 that is 300 matrix products, most of them of
the same pairs of features. In float64 (the kernel's cube cancels large terms) it took 6 s of a 200-step
CGAN digits run for every evaluation, 61 % of the run.

``KernelDistance`` computes the same estimator, the unbiased MMD^2 of each pair of subsets averaged over
the subsets, from the kernel matrices of all features, each computed once: a subset's sum of kernel
values is a quadratic form ``s_a^T K s_b`` of the 0/1 indicator vectors of its members, so the sums of
every subset come from one product of the indicator matrix with K (in blocks of rows, so that K is
never held whole). The real subsets are drawn once, from their own seeded generator, and their
real-real sums are kept: only the terms with generated features are computed again at each
evaluation. States, DDP syncing and ``update`` are torchmetrics'.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor
from torchmetrics.image import KernelInceptionDistance
from torchmetrics.utilities import dim_zero_cat

#: kernel values held at once while the subset sums are accumulated (float64: 32 MB)
BLOCK_ELEMENTS = 4 * 2**20


class polynomial_kernel:
    """k(x, y) = (gamma x.y + coef)^degree, gamma = 1/d by default (KID's kernel): ``kernel(a, b)`` is the
    matrix of every pair, ``kernel.diagonal(x)`` the values k(x_j, x_j) from the rows' squared norms."""

    def __init__(self, degree: int = 3, gamma: Optional[float] = None, coef: float = 1.0):
        self.degree, self.gamma, self.coef = degree, gamma, coef

    def _gamma(self, x: Tensor) -> float:
        return 1.0 / x.shape[1] if self.gamma is None else self.gamma

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:
        return (a @ b.T * self._gamma(a) + self.coef) ** self.degree

    def diagonal(self, x: Tensor) -> Tensor:
        return (x.pow(2).sum(1) * self._gamma(x) + self.coef) ** self.degree


def indicators(index: Tensor, n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """(subsets, n) 0/1 matrix with row i marking the members ``index[i]`` of subset i."""
    rows = torch.zeros(index.shape[0], n, dtype=dtype, device=index.device)
    return rows.scatter_(1, index, 1.0)


def subset_kernel_sums(a: Tensor, b: Tensor, sel_a: Tensor, sel_b: Tensor, kernel: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """For each subset i, the sum of ``kernel(a_j, b_k)`` over the members j of ``sel_a[i]`` and k of
    ``sel_b[i]`` (indicator rows), with the kernel matrix built in blocks of rows of ``a``."""
    acc = a.new_zeros(sel_a.shape[0], b.shape[0])
    rows = max(1, BLOCK_ELEMENTS // max(1, b.shape[0]))
    for start in range(0, a.shape[0], rows):
        acc += sel_a[:, start:start + rows].to(a) @ kernel(a[start:start + rows], b)
    return (acc * sel_b.to(a)).sum(1)


def within_sums(x: Tensor, sel: Tensor, kernel: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """For each subset, the sum of ``kernel(x_j, x_k)`` over its pairs j != k."""
    return subset_kernel_sums(x, x, sel, sel, kernel) - sel.to(x) @ _diagonal(x, kernel)


def _diagonal(x: Tensor, kernel: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """``kernel(x_j, x_j)`` for every j, without the full matrix: the kernel's own ``diagonal`` where it has
    one, else the diagonals of blocks along the matrix's diagonal."""
    if hasattr(kernel, "diagonal"):
        return kernel.diagonal(x)
    out = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    rows = max(1, BLOCK_ELEMENTS // max(1, x.shape[0]))
    for start in range(0, x.shape[0], rows):
        block = x[start:start + rows]
        out[start:start + rows] = torch.diagonal(kernel(block, block))
    return out


def mmd2_of_subsets(real: Tensor, fake: Tensor, real_index: Tensor, fake_index: Tensor, kernel: Callable[[Tensor, Tensor], Tensor],
                    real_within: Optional[Tensor] = None) -> Tensor:
    """The unbiased MMD^2 of each pair of subsets (row i of ``real_index`` and of ``fake_index``, each of
    m distinct indices): what torchmetrics' ``poly_mmd`` gives on ``real[real_index[i]]`` and
    ``fake[fake_index[i]]``. ``real_within``: the real subsets' within-sums, when already known."""
    m = real_index.shape[1]
    sel_real, sel_fake = indicators(real_index, real.shape[0]), indicators(fake_index, fake.shape[0])
    if real_within is None:
        real_within = within_sums(real, sel_real, kernel)
    fake_within = within_sums(fake, sel_fake, kernel)
    cross = subset_kernel_sums(real, fake, sel_real, sel_fake, kernel)
    return (real_within + fake_within) / (m * (m - 1)) - 2 * cross / m**2


class KernelDistance(KernelInceptionDistance):
    """torchmetrics' ``KernelInceptionDistance`` (same arguments, states and result: the mean and the
    population standard deviation of the unbiased MMD^2 over ``subsets`` pairs of random subsets of
    ``subset_size``) with each kernel matrix computed once (see the module's docstring).

    Args:
        real_subset_seed: seed of the real subsets, drawn once per set of real features (the generated
            subsets come from torch's global random stream, as in torchmetrics).
    """

    def __init__(self, *args, real_subset_seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.real_subset_seed = real_subset_seed
        self._real_key: Optional[tuple] = None
        self._real_subsets: Optional[tuple[Tensor, Tensor]] = None

    def real_key(self, real: Tensor) -> tuple:
        """What the real subsets' terms depend on: the real features (by shape and two sums) and the settings."""
        return (tuple(real.shape), str(real.dtype), float(real.sum()), float((real * real).sum()), self.subsets,
                self.subset_size, self.degree, self.gamma, self.coef, self.real_subset_seed)

    def real_terms(self, real: Tensor) -> dict[str, Tensor]:
        """The real subsets (``index``, drawn from ``real_subset_seed``) and their within-sums (``within``) for
        ``real``: what ``compute`` needs of the real side, to compute once (or cache, ``set_real_terms``)."""
        kernel = polynomial_kernel(self.degree, self.gamma, self.coef)
        generator = torch.Generator().manual_seed(self.real_subset_seed)
        index = torch.stack([torch.randperm(real.shape[0], generator=generator)[: self.subset_size]
                             for _ in range(self.subsets)]).to(real.device)
        return {"index": index, "within": within_sums(real, indicators(index, real.shape[0]), kernel)}

    def set_real_terms(self, real: Tensor, index: Tensor, within: Tensor) -> None:
        """Use ``real_terms(real)`` computed elsewhere (a cache) when ``compute`` sees these real features."""
        self._real_key, self._real_subsets = self.real_key(real), (index.to(real.device), within.to(real))

    def _real_terms(self, real: Tensor) -> tuple[Tensor, Tensor]:
        key = self.real_key(real)
        if key != self._real_key:
            terms = self.real_terms(real)
            self._real_subsets, self._real_key = (terms["index"], terms["within"]), key
        return self._real_subsets

    def compute(self) -> tuple[Tensor, Tensor]:
        real = dim_zero_cat(self.real_features)
        fake = dim_zero_cat(self.fake_features)
        if real.shape[0] < self.subset_size or fake.shape[0] < self.subset_size:
            raise ValueError("Argument `subset_size` should be smaller than the number of samples")
        kernel = polynomial_kernel(self.degree, self.gamma, self.coef)
        real_index, real_within = self._real_terms(real)
        fake_index = torch.stack([torch.randperm(fake.shape[0])[: self.subset_size] for _ in range(self.subsets)]).to(fake.device)
        scores = mmd2_of_subsets(real, fake, real_index, fake_index, kernel, real_within=real_within)
        return scores.mean(), scores.std(unbiased=False)


__all__ = ["KernelDistance", "mmd2_of_subsets", "polynomial_kernel", "subset_kernel_sums"]
