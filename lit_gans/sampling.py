"""Sampling from a family: from its latent spec, its fixed latent batch, and the generator by role.

``AdversarialModule`` takes this in; the methods read ``latent_spec``, ``network("generator")`` and the
optional ``ema_generator`` of the module.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.latent import Latent


class Sampling:
    """``sample``, ``generate`` and the fixed latent batch (buffers ``fixed_z``, ``fixed_labels`` and, when
    the spec has codes, ``fixed_codes``/``fixed_continuous``) of a family."""

    #: clamp samples to [-1, 1]: for generators with a linear output (ProGAN, StyleGAN), whose critic sees the
    #: raw images in training while grids, metrics and ``lit-gans sample`` need images in range
    clamp_samples: bool = False

    def register_fixed_latent(self, n: int, seed: int) -> None:
        """Draw the run's fixed latent batch (``n`` samples from ``seed``) into buffers, so checkpoints keep it."""
        fixed = self.latent_spec.fixed(n, seed)
        self.register_buffer("fixed_z", fixed.z)
        self.register_buffer("fixed_labels", fixed.labels if self.latent_spec.num_classes else torch.zeros(0, dtype=torch.long))
        for name, value in (("fixed_codes", fixed.codes), ("fixed_continuous", fixed.continuous)):
            if value is not None:
                self.register_buffer(name, value)

    @property
    def sampling_generator(self) -> nn.Module:
        """The EMA generator when enabled, else the generator."""
        return self.ema_generator.module if self.ema_generator is not None else self.network("generator")

    def generate(self, latent: Latent, net: Optional[nn.Module] = None) -> Tensor:
        """The generator's (or ``net``'s) samples for ``latent``, with gradients as the caller has them."""
        return (net or self.network("generator"))(self.latent_spec.assemble(latent), latent.labels)

    def fixed_latent(self) -> Latent:
        """The run's fixed latent batch, for grids comparable across a run."""
        return Latent(self.fixed_z, getattr(self, "fixed_codes", None), getattr(self, "fixed_continuous", None),
                      self.fixed_labels if self.latent_spec.num_classes else None)

    @torch.no_grad()
    def sample(self, n: int, labels: Optional[Tensor | Sequence[int]] = None, z: Optional[Tensor] = None, *,
               codes: Optional[Tensor] = None, continuous: Optional[Tensor] = None, latent: Optional[Latent] = None,
               ema: bool = True, truncation: Optional[float] = None) -> Tensor:
        """``n`` samples from the (EMA, when enabled and ``ema``) generator in eval mode.

        Images come in [-1, 1]; 2-D toys as points. Parts not given are drawn; class labels (conditional
        families only) default to classes 0, 1, 2, ... in turn. ``latent`` gives every part at once.
        ``truncation`` (normal noise only) draws z truncated at that threshold (BigGAN's truncation trick:
        every entry within ``[-truncation, truncation]``); a ``z`` or ``latent`` given is used as it is.
        """
        spec = self.latent_spec
        if labels is not None and not spec.num_classes:
            raise ConfigError(f"{type(self).__name__} is unconditional: sample without labels")
        spec.check_truncation(truncation)
        if latent is None:
            if spec.num_classes and labels is None:
                labels = torch.arange(n) % spec.num_classes
            latent = spec.draw(n, self.device, labels=False, truncation=truncation if z is None else None).replace(
                z=z, codes=codes, continuous=continuous, labels=None if labels is None else torch.as_tensor(labels))
        latent = latent.to(self.device)
        spec.check(latent)
        net = self.sampling_generator if ema else self.network("generator")
        was_training = net.training
        net.eval()
        try:
            samples = self.generate(latent, net)
            return samples.clamp(-1, 1) if self.clamp_samples else samples
        finally:
            net.train(was_training)

    def fixed_samples(self) -> Tensor:
        """Samples from the fixed latent batch, for grids comparable across a run."""
        return self.sample(len(self.fixed_z), latent=self.fixed_latent())


class Truncated:
    """A family whose ``sample`` draws z truncated at ``truncation`` and/or, for StyleGAN, truncates w by
    ``psi`` (``StyleGAN.sample``), for code that calls ``sample(n)`` (``ModelEvaluation``, ``lit-gans evaluate
    --truncation/--psi``); every other attribute (``device``, ``latent_spec``, ``g_step``...) is the family's."""

    def __init__(self, module: Any, truncation: Optional[float] = None, psi: Optional[float] = None):
        if truncation is not None:
            module.latent_spec.check_truncation(truncation)
        self.module, self.truncation, self.psi = module, truncation, psi

    def sample(self, n: int, *args: Any, **kwargs: Any) -> Tensor:
        if self.truncation is not None:
            kwargs.setdefault("truncation", self.truncation)
        if self.psi is not None:
            kwargs.setdefault("psi", self.psi)
        return self.module.sample(n, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name == "module":  # not set yet (copying, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.module, name)

    def __repr__(self) -> str:
        return f"Truncated({type(self.module).__name__}, truncation={self.truncation}, psi={self.psi})"


__all__ = ["Sampling", "Truncated"]
