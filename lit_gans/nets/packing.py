"""Packing (PacGAN, Lin et al. 2018): the discriminator judges m samples at once."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from lit_gans.errors import ConfigError


def packed_shape(data_shape: Sequence[int], pack: int) -> tuple[int, ...]:
    """The shape a packed discriminator sees: ``pack`` samples concatenated along the first axis
    (features of vectors, channels of images), e.g. ``(2,) -> (8,)`` and ``(3, 32, 32) -> (12, 32, 32)``."""
    shape = tuple(int(d) for d in data_shape)
    return (shape[0] * pack, *shape[1:])


class Packed(nn.Module):
    """Wraps a discriminator built for ``packed_shape(data_shape, pack)``: a batch ``(B, d0, ...)`` is
    reshaped into ``B / pack`` packs of ``pack`` consecutive samples ``(B / pack, pack * d0, ...)``,
    and one logit per pack comes out. Real and generated samples are never mixed in a pack, since the
    loop calls the discriminator on real and generated batches separately.

    Args:
        discriminator: a discriminator whose input is ``packed_shape(data_shape, pack)``.
        pack: samples per pack, m in the paper (PacGAN2, PacGAN3, PacGAN4, ...).
    """

    def __init__(self, discriminator: nn.Module, pack: int):
        super().__init__()
        if pack < 1:
            raise ConfigError(f"pack={pack} must be at least 1 (samples the discriminator sees at once)")
        self.discriminator, self.pack = discriminator, pack

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if labels is not None:
            raise ConfigError("a packed discriminator is unconditional: packing class labels is not supported")
        n = x.shape[0]
        if n % self.pack:
            raise ConfigError(
                f"a batch of {n} samples cannot be split into packs of {self.pack}; make data.batch_size a "
                f"multiple of model.pack={self.pack}"
            )
        # (B, d0, ...) -> (B/m, m, d0, ...) -> (B/m, m*d0, ...): samples 0..m-1 form the first pack
        return self.discriminator(x.reshape(n // self.pack, self.pack * x.shape[1], *x.shape[2:]))

    def extra_repr(self) -> str:
        return f"pack={self.pack}"


__all__ = ["Packed", "packed_shape"]
