"""Perceptual path length (Karras et al. 2019, section 4.2) with torchmetrics' ``perceptual_path_length``,
measured in a shipped domain network instead of LPIPS's VGG (which cannot be downloaded here).

PPL is the mean of ``d(G(lerp(a, b, t)), G(lerp(a, b, t + eps))) / eps^2`` over random pairs of latents and
positions t, with the 1 % lowest and highest values discarded; lower means smoother interpolation. The
distance ``d`` here is the squared Euclidean distance between the unit-normalised penultimate features
of the domain network (LPIPS also compares unit-normalised features, over five VGG layers with learnt
weights). The values are therefore comparable between models measured with the same network, not with
the papers' VGG-based figures (e.g. StyleGAN's 412 in Z and 145 in W on FFHQ, full paths).

Spaces: ``z`` interpolates the latent z spherically (slerp, as the paper does for Gaussian z); ``w``
interpolates w linearly, for generators with a mapping network (StyleGAN). A style-based generator runs
with its constant noise, so two images of a pair differ only by the step in the latent.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.nets.stylegan import is_style_based


class FeatureDistance(nn.Module):
    """Squared Euclidean distance between unit-normalised features of a feature network (images in [-1, 1])."""

    def __init__(self, features: nn.Module):
        super().__init__()
        self.features = features

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        fa, fb = (F.normalize(self.features(x)[0].flatten(1).float(), dim=1) for x in (a, b))
        return (fa - fb).pow(2).sum(dim=1)


class _PathGenerator(nn.Module):
    """What torchmetrics asks of a generator: ``sample(n)`` latents and ``forward(latents)`` images in [0, 255]."""

    def __init__(self, module: Any, space: str, ema: bool):
        super().__init__()
        self.module, self.space = module, space
        self.net = module.sampling_generator if ema else module.network("generator")
        self.style = is_style_based(self.net)
        if space == "w" and not self.style:
            raise ConfigError(f"PPL in W needs a generator with a mapping network (StyleGAN); {type(module).__name__} "
                              "has none: use space 'z'")
        self.num_classes = module.latent_spec.num_classes

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        z = self.module.latent_spec.assemble(self.module.latent_spec.draw(n, self.module.device, labels=False))
        return self.net.mapping(z)[:, 0] if self.space == "w" else z

    def forward(self, latent: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        if self.space == "w":
            images = self.net.synthesis(latent[:, None].repeat(1, self.net.num_ws, 1), "const")
        elif self.style:
            images = self.net(latent, labels, noise_mode="const")
        else:
            images = self.net(latent, labels)
        return (images.clamp(-1, 1) + 1) * 127.5


def perceptual_path_length(module: Any, features: nn.Module, space: Literal["z", "w"] = "z", n_samples: int = 2000,
                           epsilon: float = 1e-4, batch_size: int = 100, seed: int = 0, ema: bool = True) -> dict[str, float]:
    """PPL of a family's generator (EMA when it has one and ``ema``) in ``space`` over ``n_samples`` pairs,
    with ``features`` (e.g. ``feature_network("fashion_mnist")``) as the similarity network; returns
    ``{"ppl": mean, "ppl_std": std}`` of the distances kept (1 %-99 %)."""
    from torchmetrics.functional.image.perceptual_path_length import perceptual_path_length as tm_ppl

    if space not in ("z", "w"):
        raise ConfigError(f"PPL space={space!r} must be 'z' or 'w'")
    generator = _PathGenerator(module, space, ema)
    was_training = generator.net.training
    generator.net.eval()
    try:
        with torch.random.fork_rng(devices=[module.device] if module.device.type == "cuda" else []):
            torch.manual_seed(seed)
            mean, std, _ = tm_ppl(generator, num_samples=n_samples, conditional=generator.num_classes > 0,
                                  batch_size=batch_size, interpolation_method="lerp" if space == "w" else "slerp_any",
                                  epsilon=epsilon, sim_net=FeatureDistance(features).to(module.device).eval())
    finally:
        generator.net.train(was_training)
    return {"ppl": float(mean), "ppl_std": float(std)}


__all__ = ["FeatureDistance", "perceptual_path_length"]
