"""What a sample needs: the latent spec, a drawn latent, and the tools built on them (interpolation).

A family says what its generator reads (``LatentSpec``): noise z (size and distribution), discrete
codes (InfoGAN's categorical codes), continuous codes, class labels. ``LatentSpec.draw`` draws a
``Latent`` batch; ``LatentSpec.assemble`` turns it into the generator's input vector (z, the codes
one-hot, the continuous codes, concatenated); class labels go to the generator beside it.
``sample``, fixed sample grids, interpolation and ``lit-gans sample`` are all built from it.

Normal noise can be drawn truncated (BigGAN's truncation trick, Brock et al. 2019): every entry of z
within ``[-t, t]`` (``truncated_normal``), which trades the variety of samples for their quality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from lit_gans.errors import ConfigError

Distribution = Literal["normal", "uniform"]


def truncated_normal(shape: tuple[int, ...], threshold: float, device: Any = None,
                     generator: Optional[torch.Generator] = None, dtype: Optional[torch.dtype] = None) -> Tensor:
    """Standard normal numbers conditioned on ``|x| <= threshold`` (a truncated normal): the
    distribution BigGAN's truncation trick draws by resampling every entry past the threshold until none
    is left, drawn here in one pass by inverting the normal CDF on ``[-t, t]`` (``sqrt(2) erfinv(v)`` for
    v uniform on ``[-erf(t / sqrt(2)), erf(t / sqrt(2))]``, in float64 where the device has it, then cast
    to ``dtype``, by default torch's). It reads ``shape``'s count of uniform numbers from ``generator``
    (the global generator when None), whatever the threshold, so a seed gives the same uniforms at every
    threshold: the draws of one seed shrink smoothly as the threshold falls. ``threshold=inf`` gives
    plain normal numbers."""
    if not threshold > 0:  # also NaN
        raise ConfigError(f"truncation threshold {threshold} must be > 0, e.g. 0.5")
    work = torch.float32 if torch.device(device or "cpu").type == "mps" else torch.float64  # MPS has no float64
    below_one = 1 - torch.finfo(work).eps / 2  # the largest value under 1: erfinv(1) is infinite
    half_width = min(1 - math.erfc(threshold / math.sqrt(2)), below_one)  # erf(t / sqrt(2)) = P(|z| <= t)
    v = (torch.rand(shape, device=device, generator=generator, dtype=work) * 2 - 1) * half_width
    z = torch.erfinv(v.clamp_(-below_one, below_one)) * math.sqrt(2)
    return z.clamp_(-threshold, threshold).to(dtype or torch.get_default_dtype())  # the clamp: rounding at the ends


@dataclass
class Latent:
    """One batch of what the generator reads. ``codes`` are categorical code indices (N, K);
    ``continuous`` continuous codes (N, C); ``labels`` class indices (N,); absent parts are None."""

    z: Tensor
    codes: Optional[Tensor] = None
    continuous: Optional[Tensor] = None
    labels: Optional[Tensor] = None

    def __len__(self) -> int:
        return self.z.shape[0]

    def to(self, device: Any) -> "Latent":
        return Latent(*(None if t is None else t.to(device) for t in self.parts()))

    def parts(self) -> tuple[Optional[Tensor], ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def __getitem__(self, index: Any) -> "Latent":
        return Latent(*(None if t is None else t[index] for t in self.parts()))

    def replace(self, **parts: Optional[Tensor]) -> "Latent":
        """This latent with the given parts swapped in (None leaves a part as it is)."""
        return replace(self, **{k: v for k, v in parts.items() if v is not None})


@dataclass(frozen=True)
class LatentSpec:
    """What one sample needs.

    Args:
        z_dim: size of the noise vector z.
        distribution: ``normal`` (N(0, I)) or ``uniform`` (U(-1, 1), InfoGAN's reference noise); only
            normal noise can be drawn truncated (``truncation``).
        categorical: the sizes of the discrete codes, drawn uniformly (InfoGAN: ``(10,)``).
        continuous: number of continuous codes, drawn from U(-1, 1).
        num_classes: classes of the class label the generator reads (0: unconditional).
    """

    z_dim: int
    distribution: Distribution = "normal"
    categorical: tuple[int, ...] = ()
    continuous: int = 0
    num_classes: int = 0

    def __post_init__(self) -> None:
        if self.z_dim < 0 or self.continuous < 0 or any(k < 2 for k in self.categorical):
            raise ConfigError(f"latent spec {self}: sizes must be >= 0 and each categorical code needs >= 2 values")
        if self.distribution not in ("normal", "uniform"):
            raise ConfigError(f"latent distribution {self.distribution!r} is unknown; use 'normal' or 'uniform'")

    @property
    def input_dim(self) -> int:
        """Size of the generator's input vector (z, one-hot codes and continuous codes)."""
        return self.z_dim + sum(self.categorical) + self.continuous

    def check_truncation(self, truncation: Optional[float]) -> None:
        """One clear error when z cannot be drawn truncated at ``truncation`` (None: not truncated)."""
        if truncation is None:
            return
        if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not truncation > 0:
            raise ConfigError(
                f"truncation={truncation!r} must be a number > 0: the largest |z| entry kept (BigGAN's truncation "
                "trick; e.g. 0.5); leave it out to draw z from N(0, I) as in training"
            )
        if self.distribution != "normal":
            raise ConfigError(
                f"truncation={truncation} applies to normal noise only, and this model draws z from "
                f"{self.distribution} U(-1, 1); sample without truncation"
            )

    def noise(self, n: int, device: Any = None, generator: Optional[torch.Generator] = None,
              truncation: Optional[float] = None) -> Tensor:
        """``n`` noise vectors z; with ``truncation`` (normal noise only), every entry within
        ``[-truncation, truncation]`` (``truncated_normal``)."""
        self.check_truncation(truncation)
        if truncation is not None:
            return truncated_normal((n, self.z_dim), float(truncation), device, generator)
        if self.distribution == "uniform":
            return torch.rand(n, self.z_dim, device=device, generator=generator) * 2 - 1
        return torch.randn(n, self.z_dim, device=device, generator=generator)

    def draw(self, n: int, device: Any = None, generator: Optional[torch.Generator] = None, labels: bool = True,
             truncation: Optional[float] = None) -> Latent:
        """``n`` random latents: every part drawn from its distribution (class labels only with ``labels``;
        z truncated at ``truncation`` when given, see ``noise``)."""
        codes = continuous = None
        if self.categorical:
            codes = torch.stack(
                [torch.randint(k, (n,), device=device, generator=generator) for k in self.categorical], dim=1)
        if self.continuous:
            continuous = torch.rand(n, self.continuous, device=device, generator=generator) * 2 - 1
        drawn = torch.randint(self.num_classes, (n,), device=device, generator=generator) if self.num_classes and labels else None
        return Latent(self.noise(n, device, generator, truncation), codes, continuous, drawn)

    def fixed(self, n: int, seed: int) -> Latent:
        """The run's fixed sample batch (for grids comparable across a run): seeded noise and continuous
        codes; classes and categorical codes in turn (0, 1, 2, ...) so a grid shows each of them."""
        g = torch.Generator().manual_seed(seed)
        latent = self.draw(n, generator=g, labels=False)
        turn = torch.arange(n)
        return latent.replace(
            codes=torch.stack([turn % k for k in self.categorical], dim=1) if self.categorical else None,
            labels=turn % self.num_classes if self.num_classes else None,
        )

    def assemble(self, latent: Latent) -> Tensor:
        """The generator's input vector: z, then each code one-hot, then the continuous codes."""
        parts = [latent.z]
        if self.categorical:
            parts += [F.one_hot(latent.codes[:, i], k).to(latent.z.dtype) for i, k in enumerate(self.categorical)]
        if self.continuous:
            parts.append(latent.continuous.to(latent.z.dtype))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def check(self, latent: Latent) -> None:
        """One clear error when a latent given by a user does not fit the spec."""
        n = len(latent)
        expected = {"z": (n, self.z_dim), "codes": (n, len(self.categorical)) if self.categorical else None,
                    "continuous": (n, self.continuous) if self.continuous else None,
                    "labels": (n,) if self.num_classes else None}
        for name, shape in expected.items():
            value = getattr(latent, name)
            if shape is None and value is not None:
                raise ConfigError(f"this model takes no {name}: sample without them")
            if shape is not None and (value is None or tuple(value.shape) != shape):
                got = None if value is None else tuple(value.shape)
                raise ConfigError(f"{name} must have shape {shape} for {n} samples, got {got}")
        for name, sizes in (("labels", (self.num_classes,)), ("codes", self.categorical)):
            value = getattr(latent, name)
            if value is None:
                continue
            bounds = torch.as_tensor(sizes, device=value.device)
            bad = value[(value < 0) | (value >= bounds)].unique().tolist()
            if bad:  # only the bad values: a message listing every label grows with n
                shown = ", ".join(str(v) for v in bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
                if name == "labels":
                    raise ConfigError(f"labels outside this {self.num_classes}-class model: {shown}; "
                                      f"use class indices 0 to {self.num_classes - 1}")
                raise ConfigError(f"codes outside their sizes {list(sizes)}: {shown}; use indices from 0")


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
    ``steps`` images (row-major); the noise moves, each strip keeps its first latent's codes and label."""
    fixed = module.fixed_latent()
    rows = max(1, min(rows, len(fixed) // 2))
    path = slerp(fixed.z[:rows], fixed.z[rows : 2 * rows], torch.linspace(0, 1, steps)).reshape(rows * steps, -1)
    keep = fixed[:rows][torch.arange(rows).repeat_interleave(steps)]
    return module.sample(len(path), latent=keep.replace(z=path))


__all__ = ["Distribution", "Latent", "LatentSpec", "interpolation_strips", "slerp", "truncated_normal"]
