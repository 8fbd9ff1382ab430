"""Context encoders (Pathak, Krähenbühl, Donahue, Darrell & Efros 2016, "Context Encoders: Feature Learning by
Inpainting"): filling a missing region of an image from its context, with a reconstruction and an
adversarial loss."""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.families.base import adam
from lit_gans.families._translation import TranslationModule, ssim
from lit_gans.loop import Batch, Phase, StepOutput
from lit_gans.losses import ObjectiveName
from lit_gans.nets.inpainting import ContextDiscriminator
from lit_gans.nets.inpainting import ContextEncoder as ContextEncoderNet
from lit_gans.nets.inpainting import apply_mask, center_mask, crop_center, overlap_weights, paste_center, random_block_mask
from lit_gans.nets.translation import init_weights

MASKS = ("center", "random")


def hole_psnr(fake: Tensor, real: Tensor, mask: Tensor) -> Tensor:
    """PSNR (dB) over the missing pixels only (``mask`` 1), images in [-1, 1] measured in [0, 1]."""
    squared = (((fake.float().clamp(-1, 1) - real.float()) / 2) ** 2 * mask).sum() / (mask.sum() * fake.shape[1]).clamp_min(1)
    return -10 * torch.log10(squared.clamp_min(1e-10))


def mean_fill(images: Tensor, mask: Tensor) -> Tensor:
    """The baseline: every missing pixel set to its image's mean colour over the known pixels."""
    known = 1 - mask
    mean = (images * known).sum(dim=(2, 3), keepdim=True) / known.sum(dim=(2, 3), keepdim=True).clamp_min(1)
    return images * known + mean * mask


class ContextEncoder(TranslationModule):
    """The context encoder: an encoder-decoder G reads an image with a region missing and paints the region; it
    minimises ``rec_weight`` (0.999) times the L2 reconstruction error of the region, whose border band of
    ``overlap`` px is weighted ``overlap_weight`` (10) times more (the paper's overlap, which ties the fill to its
    surroundings; here the band lies inside the hole, the reference puts it on the context side), plus
    ``adv_weight`` (0.001) times the non-saturating GAN loss of a discriminator that judges the region (the
    centre) or the whole completed image (random blocks). Adam with lr 2e-4 and betas (0.5, 0.999), both networks
    (the reference's); weights drawn from N(0, 0.02).

    ``mask: center`` removes the central square of ``hole_size`` (the paper's: half the image side, 64 of 128 px)
    and G paints only that square; ``mask: random`` removes random square blocks (about a quarter of the image)
    and G paints a whole image, of which the missing pixels are kept. Missing pixels are given to G as 0, the
    middle of the [-1, 1] range (the paper: the dataset's mean).

    Validation logs ``val/psnr`` over the missing pixels, ``val/ssim`` of the centre region (``center`` masks),
    and the same of the baseline that fills the hole with each image's mean colour (``val/mean_fill_psnr``,
    ``val/mean_fill_ssim``).

    Args:
        data_shape: image shape (C, S, S), linked from the DataModule (any image DataModule: digits, Fashion-MNIST, folders).
        mask: ``center`` or ``random``.
        hole_size: side of the central hole (a power of 2 >= 8), or of each of the 4 random blocks; None: half the
            image side for ``center`` (the paper's 64 of 128), a quarter for ``random`` (at most a quarter of the image
            missing, blocks may overlap).
        g_width, d_width: channels of the networks' first layers (64).
        bottleneck: channels of G's 1x1 code; None: the network's default.
        overlap: width (px) of the hole's border band weighted more in the reconstruction (the paper: 4 at 128 px).
        overlap_weight: its weight (10).
        rec_weight, adv_weight: the loss weights (0.999, 0.001).
        Others: ``TranslationModule``'s and ``AdversarialModule``'s.
    """

    needs_fields = ("image",)

    def __init__(
        self,
        data_shape: Any,
        num_classes: int = 0,
        mask: Literal["center", "random"] = "center",
        hole_size: Optional[int] = None,
        g_width: int = 64,
        d_width: int = 64,
        bottleneck: Optional[int] = None,
        overlap: int = 4,
        overlap_weight: float = 10.0,
        rec_weight: float = 0.999,
        adv_weight: float = 0.001,
        objective: ObjectiveName = "non_saturating",
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        g_scheduler: Optional[LRSchedulerCallable] = None,
        d_scheduler: Optional[LRSchedulerCallable] = None,
        **kwargs: Any,
    ):
        if mask not in MASKS:
            raise ConfigError(f"model.mask={mask!r} is unknown; use 'center' (the paper's central square) or 'random' (blocks)")
        for name, value in (("overlap", overlap), ("overlap_weight", overlap_weight), ("rec_weight", rec_weight),
                            ("adv_weight", adv_weight)):
            if value < 0:
                raise ConfigError(f"model.{name}={value} must be >= 0")
        size = int(data_shape[-1])
        if mask == "center":
            hole_size = hole_size or size // 2
            if not 0 < hole_size < size:
                raise ConfigError(f"model.hole_size={hole_size} must be between 1 and the image side {size} - 1")
        self.mask_kind, self.hole_size, self.bottleneck = mask, hole_size, bottleneck
        self.overlap, self.overlap_weight = int(overlap), float(overlap_weight)
        self.rec_weight, self.adv_weight = float(rec_weight), float(adv_weight)
        super().__init__(
            data_shape=data_shape, num_classes=num_classes, g_width=g_width, d_width=d_width, objective=objective,
            g_optimizer=g_optimizer or adam(2e-4), d_optimizer=d_optimizer or adam(2e-4),
            g_scheduler=g_scheduler, d_scheduler=d_scheduler, **kwargs,
        )

    def build_networks(self, architecture: Any, g_width: Optional[int], d_width: Optional[int], d_batch_norm: bool,
                       **_: Any) -> dict[str, nn.Module]:
        channels, size, width = self.data_shape
        if size != width:
            raise ConfigError(f"ContextEncoder needs square images; the DataModule gives {size}x{width}")
        region = self.hole_size if self.mask_kind == "center" else size
        generator = ContextEncoderNet(channels, image_size=size, width=g_width or 64, bottleneck=self.bottleneck, out_size=region)
        discriminator = ContextDiscriminator(channels, image_size=region, width=d_width or 64)
        return {"generator": init_weights(generator), "discriminator": init_weights(discriminator)}

    def phases(self) -> list[Phase]:
        """The discriminator, then the generator, on every batch (the reference's order)."""
        return [Phase("discriminator", ("discriminator",), self.discriminator_loss),
                Phase("generator", ("generator",), self.generator_loss, after_step=(self._after_generator_step,))]

    # ------------------------------------------------------------------ masks and completion
    def draw_mask(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """Masks (n, 1, S, S) on this module's device, 1 where pixels are missing."""
        size = int(self.data_shape[-1])
        if self.mask_kind == "center":
            return center_mask(n, size, self.hole_size, device=self.device)
        return random_block_mask(n, size, self.hole_size, generator=generator, device=self.device)

    def complete(self, net: nn.Module, images: Tensor, mask: Tensor) -> Tensor:
        """``images`` with their missing pixels (``mask``) painted by ``net``."""
        painted = net(apply_mask(images, mask))
        if self.mask_kind == "center":
            return paste_center(images, painted)
        return images * (1 - mask) + painted * mask

    def region(self, images: Tensor) -> Tensor:
        """What the discriminator judges: the central square, or the whole image."""
        return crop_center(images, self.hole_size) if self.mask_kind == "center" else images

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        mask = self.draw_mask(len(batch))
        with torch.no_grad():
            fake = self.complete(self.network("generator"), batch.image, mask)
        real_logits = self.discriminator(self.region(batch.image))
        fake_logits = self.discriminator(self.region(fake))
        loss = self.objective.d_loss(real_logits, fake_logits)
        logs = {"loss/d": loss.detach(), "d/real": real_logits.mean().detach(), "d/fake": fake_logits.mean().detach()}
        return StepOutput(loss, logs, fake=fake, fake_logits=fake_logits, real=batch.image, real_logits=real_logits)

    def reconstruction_loss(self, completed: Tensor, images: Tensor, mask: Tensor) -> Tensor:
        """The weighted mean squared error over the missing pixels (their border band ``overlap_weight`` times)."""
        weights = overlap_weights(mask, self.overlap, self.overlap_weight)
        return ((completed - images) ** 2 * weights).sum() / (weights.sum() * images.shape[1]).clamp_min(1e-8)

    def generator_loss(self, batch: Batch) -> StepOutput:
        mask = self.draw_mask(len(batch))
        completed = self.complete(self.network("generator"), batch.image, mask)
        reconstruction = self.reconstruction_loss(completed, batch.image, mask)
        fake_logits = self.discriminator(self.region(completed))
        adversarial = self.objective.g_loss(fake_logits)
        loss = self.rec_weight * reconstruction + self.adv_weight * adversarial
        logs = {"loss/g": loss.detach(), "loss/reconstruction": reconstruction.detach(), "loss/g_adv": adversarial.detach()}
        return StepOutput(loss, logs, fake=completed, fake_logits=fake_logits)

    # ------------------------------------------------------------------ inpainting and its measures
    def translate(self, x: Tensor, direction: str = "a2b", ema: bool = True, mask: Optional[Tensor] = None) -> Tensor:
        """``x`` (N, C, S, S) in [-1, 1] with the region of ``mask`` (default: a fresh mask of the model's kind) painted
        by G, in eval mode."""
        if direction != "a2b":
            raise ConfigError(f"ContextEncoder fills holes, one way: direction={direction!r} must be 'a2b'")
        net = self.ema_generator.module if ema and self.ema_generator is not None else self.network("generator")
        x = x.to(self.device)
        mask = self.draw_mask(len(x)) if mask is None else mask.to(self.device)
        was_training = net.training
        net.eval()
        try:
            with torch.no_grad():
                return self.complete(net, x, mask)
        finally:
            net.train(was_training)

    def input_channels(self, direction: str = "a2b") -> int:
        return int(self.data_shape[0])

    def _validate(self, batch: Batch) -> None:
        images = batch.image.to(self.device)
        mask = self.draw_mask(len(images))  # random masks: from the seed validation_step sets
        completed, filled = self.translate(images, mask=mask), mean_fill(images, mask)
        scores = {"val/psnr": hole_psnr(completed, images, mask), "val/mean_fill_psnr": hole_psnr(filled, images, mask),
                  "val/l1": ((completed - images).abs() * mask).sum() / (mask.sum() * images.shape[1]).clamp_min(1)}
        if self.mask_kind == "center":
            for name, made in (("ssim", completed), ("mean_fill_ssim", filled)):
                scores[f"val/{name}"] = ssim((self.region(made).clamp(-1, 1) + 1) / 2, (self.region(images) + 1) / 2)
        self.log_dict(scores, batch_size=len(images), sync_dist=True)

    def translation_grid(self) -> tuple[Tensor, int]:
        """Three rows: the fixed validation images with their hole, completed by G, and as they are."""
        images = self.fixed_inputs().image
        mask = self.draw_mask(len(images), generator=torch.Generator(device=self.device).manual_seed(0))
        return torch.cat([apply_mask(images, mask), self.translate(images, mask=mask), images]), len(images)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, mask={self.mask_kind}, hole_size={self.hole_size}, "
                f"rec_weight={self.rec_weight}, adv_weight={self.adv_weight}")


__all__ = ["ContextEncoder", "hole_psnr", "mean_fill"]
