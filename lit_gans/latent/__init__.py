"""The latent: what a sample needs (``spec``: ``LatentSpec``, ``Latent``, slerp) and the tools that work
in it for every family with a latent spec (``tools``: interpolation, arithmetic, projection,
inpainting by latent optimisation, attribute directions)."""

from lit_gans.latent.spec import Distribution, Latent, LatentSpec, interpolation_strips, slerp, truncated_normal
from lit_gans.latent.tools import (
    AttributeDirection,
    InpaintResult,
    LatentEncoder,
    ProjectionResult,
    center_mask,
    class_means,
    contextual_weights,
    fit_direction,
    inpaint,
    interpolate,
    project,
    psnr,
    train_encoder,
    walk,
)

__all__ = ["AttributeDirection", "Distribution", "InpaintResult", "Latent", "LatentEncoder", "LatentSpec", "ProjectionResult",
           "center_mask", "class_means", "contextual_weights", "fit_direction", "inpaint", "interpolate", "interpolation_strips",
           "project", "psnr", "slerp", "train_encoder", "truncated_normal", "walk"]
