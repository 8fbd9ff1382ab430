"""SRGAN (Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial
Network"), with its SRResNet pre-training."""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torchmetrics.functional.image import peak_signal_noise_ratio

from lit_gans.errors import ConfigError
from lit_gans.families.base import adam
from lit_gans.families._translation import TranslationModule, ssim
from lit_gans.loop import Batch, Phase, StepOutput
from lit_gans.losses import ObjectiveName
from lit_gans.nets.superres import SRDiscriminator, SRResNetGenerator, VGGFeatures


def luma(images: Tensor) -> Tensor:
    """The Y channel (ITU-R BT.601, as MATLAB's ``rgb2ycbcr``) of RGB images in [0, 1], in [0, 1]: the channel
    super-resolution papers measure PSNR and SSIM on. Grey images are returned as they are."""
    if images.shape[1] == 1:
        return images
    r, g, b = images[:, 0:1], images[:, 1:2], images[:, 2:3]
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def sr_scores(fake: Tensor, real: Tensor, border: int) -> dict[str, Tensor]:
    """PSNR (dB) and SSIM of images in [-1, 1] on their Y channel with ``border`` pixels cropped from each side
    (the papers' protocol: the border of a x4 result is cropped by 4 px), and L1 in [-1, 1] units."""
    fake01, real01 = (fake.float().clamp(-1, 1) + 1) / 2, (real.float() + 1) / 2
    y_fake, y_real = luma(fake01), luma(real01)
    if border:
        y_fake, y_real = y_fake[..., border:-border, border:-border], y_real[..., border:-border, border:-border]
    return {"psnr": peak_signal_noise_ratio(y_fake, y_real, data_range=1.0),
            "ssim": ssim(y_fake, y_real),
            "l1": (fake.float().clamp(-1, 1) - real.float()).abs().mean()}


class SRGAN(TranslationModule):
    """SRGAN: x``scale`` super-resolution by an SRResNet generator (``n_blocks`` residual blocks, sub-pixel
    upsampling), first pre-trained alone as SRResNet on the pixel MSE for ``pretrain_steps`` generator
    iterations, then trained against a VGG-style discriminator on the perceptual loss: a content loss plus
    ``adversarial_weight`` (1e-3) times the non-saturating GAN loss.

    Content loss: the MSE between VGG19 features (conv5_4 after its ReLU, scaled by 1/12.75: the paper's
    VGG54) of the output and of the true image when ``vgg_weights`` points at torchvision's VGG19 weights file
    (nothing is downloaded); else the pixel MSE (``content: pixel``: the paper's SRGAN-MSE; no shipped network
    knows colour photos). Adam with lr 1e-4
    and betas (0.9, 0.999) for both networks (the paper: 1e-4, then 1e-5 for the last half; use
    ``g_scheduler``).

    Validation logs ``val/psnr`` and ``val/ssim`` (Y channel, ``scale`` px border cropped, as the papers) of the
    super-resolved images and ``val/bicubic_psnr``/``val/bicubic_ssim`` of bicubic upsampling, the baseline.

    Args:
        data_shape: shape of a high-resolution image (C, S, S), linked from the DataModule; inputs are S/scale.
        scale: upsampling factor (4).
        g_width, d_width: channels of the generator (64) and of the discriminator's first layer (64).
        n_blocks: the generator's residual blocks (16).
        pretrain_steps: generator iterations of SRResNet pre-training on the pixel MSE before the
            discriminator joins (the paper: 10^6 SRResNet iterations; 0 trains the GAN from the start).
        content: ``vgg54`` (needs ``vgg_weights``), ``vgg22`` (too), ``pixel``, or ``auto``: ``vgg54`` when
            ``vgg_weights`` is given, else ``pixel``.
        vgg_weights: path of torchvision's ``vgg19-dcbbe3c0.pth`` (https://download.pytorch.org/models/vgg19-dcbbe3c0.pth).
        adversarial_weight: weight of the generator's adversarial loss (1e-3).
        objective: ``non_saturating`` (the paper's) or another of ``lit_gans.losses``.
        Others: ``TranslationModule``'s and ``AdversarialModule``'s.
    """

    needs_fields = ("condition", "image")
    any_input_size = True

    def __init__(
        self,
        data_shape: Any,
        num_classes: int = 0,
        scale: int = 4,
        g_width: int = 64,
        d_width: int = 64,
        n_blocks: int = 16,
        pretrain_steps: int = 1000,
        content: Literal["auto", "vgg54", "vgg22", "pixel"] = "auto",
        vgg_weights: Optional[str] = None,
        adversarial_weight: float = 1e-3,
        objective: ObjectiveName = "non_saturating",
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        g_scheduler: Optional[LRSchedulerCallable] = None,
        d_scheduler: Optional[LRSchedulerCallable] = None,
        **kwargs: Any,
    ):
        if content not in ("auto", "vgg54", "vgg22", "pixel"):
            raise ConfigError(f"model.content={content!r} is unknown; use auto, vgg54 (the paper's), vgg22 or pixel")
        if content == "auto":
            content = "pixel" if vgg_weights is None else "vgg54"
        if content != "pixel" and vgg_weights is None:
            raise ConfigError(f"model.content={content} needs VGG19's weights: download "
                              "https://download.pytorch.org/models/vgg19-dcbbe3c0.pth and set model.vgg_weights to its path, "
                              "or set model.content: pixel (the pixel MSE, the paper's SRGAN-MSE)")
        if pretrain_steps < 0 or adversarial_weight < 0:
            raise ConfigError(f"model.pretrain_steps={pretrain_steps} and model.adversarial_weight={adversarial_weight} "
                              "must be >= 0")
        self.sr_args = dict(scale=int(scale), n_blocks=n_blocks)
        self.pretrain_steps, self.adversarial_weight, self.content = int(pretrain_steps), float(adversarial_weight), content
        super().__init__(
            data_shape=data_shape, num_classes=num_classes, g_width=g_width, d_width=d_width, objective=objective,
            g_optimizer=g_optimizer or adam(1e-4, (0.9, 0.999)), d_optimizer=d_optimizer or adam(1e-4, (0.9, 0.999)),
            g_scheduler=g_scheduler, d_scheduler=d_scheduler, **kwargs,
        )
        # the content network is fixed and comes from the user's file: kept out of the state dict and checkpoints
        self._vgg: list[nn.Module] = []
        if content != "pixel":
            self._vgg = [VGGFeatures(vgg_weights, layer="relu5_4" if content == "vgg54" else "relu2_2")]

    def build_networks(self, architecture: Any, g_width: Optional[int], d_width: Optional[int], d_batch_norm: bool,
                       **_: Any) -> dict[str, nn.Module]:
        channels, size, width = self.data_shape
        scale = self.sr_args["scale"]
        if size != width or size % scale:
            raise ConfigError(f"SRGAN needs square high-resolution images whose side divides by scale={scale}; the "
                              f"DataModule gives {size}x{width}")
        generator = SRResNetGenerator(channels, scale=scale, width=g_width or 64, n_blocks=self.sr_args["n_blocks"])
        discriminator = SRDiscriminator(channels, image_size=size, width=d_width or 64)
        return {"generator": generator, "discriminator": discriminator}

    @property
    def pretraining(self) -> bool:
        """Still SRResNet: the discriminator has not joined."""
        return self.g_step < self.pretrain_steps

    def phases(self) -> list[Phase]:
        """The discriminator once pre-training is over, then the generator, on every batch."""
        return [Phase("discriminator", ("discriminator",), self.discriminator_loss, when=lambda: not self.pretraining),
                Phase("generator", ("generator",), self.generator_loss, after_step=(self._after_generator_step,))]

    def content_loss(self, fake: Tensor, real: Tensor) -> Tensor:
        if self.pretraining or not self._vgg:
            return F.mse_loss(fake, real)
        vgg = self._vgg[0].to(fake.device)
        return F.mse_loss(vgg(fake), vgg(real).detach())

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        with torch.no_grad():
            fake = self.network("generator")(batch.condition)
        real_logits, fake_logits = self.discriminator(batch.image), self.discriminator(fake)
        loss = self.objective.d_loss(real_logits, fake_logits)
        logs = {"loss/d": loss.detach(), "d/real": real_logits.mean().detach(), "d/fake": fake_logits.mean().detach()}
        return StepOutput(loss, logs, fake=fake, fake_logits=fake_logits, real=batch.image, real_logits=real_logits)

    def generator_loss(self, batch: Batch) -> StepOutput:
        fake = self.network("generator")(batch.condition)
        content = self.content_loss(fake, batch.image)
        logs = {"loss/content": content.detach()}
        loss = content
        if not self.pretraining:
            fake_logits = self.discriminator(fake)
            adversarial = self.objective.g_loss(fake_logits)
            loss = content + self.adversarial_weight * adversarial
            logs["loss/g_adv"] = adversarial.detach()
        logs["loss/g"] = loss.detach()
        return StepOutput(loss, logs, fake=fake)

    # ------------------------------------------------------------------ super-resolving and its measures
    def translate(self, x: Tensor, direction: str = "a2b", ema: bool = True) -> Tensor:
        """Super-resolved images (N, C, H * scale, W * scale) in [-1, 1] of low-resolution ones, in eval mode."""
        if direction != "a2b":
            raise ConfigError(f"SRGAN translates one way, low to high resolution: direction={direction!r} must be 'a2b'")
        net = self.ema_generator.module if ema and self.ema_generator is not None else self.network("generator")
        return self._translated(net, x).clamp(-1, 1)

    def input_channels(self, direction: str = "a2b") -> int:
        return int(self.data_shape[0])

    def bicubic(self, x: Tensor) -> Tensor:
        """The baseline: bicubic upsampling by ``scale``, clamped to [-1, 1]."""
        return F.interpolate(x, scale_factor=self.sr_args["scale"], mode="bicubic", align_corners=False).clamp(-1, 1)

    def _validate(self, batch: Batch) -> None:
        border = self.sr_args["scale"]
        scores = {f"val/{k}": v for k, v in sr_scores(self.translate(batch.condition), batch.image, border).items()}
        bicubic = sr_scores(self.bicubic(batch.condition.to(self.device)), batch.image, border)
        scores.update({"val/bicubic_psnr": bicubic["psnr"], "val/bicubic_ssim": bicubic["ssim"]})
        self.log_dict(scores, batch_size=len(batch), sync_dist=True)

    def translation_grid(self) -> tuple[Tensor, int]:
        """Three rows: bicubic upsampling of the fixed validation inputs, the super-resolved images, the truth."""
        fixed = self.fixed_inputs()
        return torch.cat([self.bicubic(fixed.condition), self.translate(fixed.condition), fixed.image]), len(fixed)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, scale={self.sr_args['scale']}, content={self.content}, "
                f"pretrain_steps={self.pretrain_steps}, adversarial_weight={self.adversarial_weight}")


__all__ = ["SRGAN", "luma", "sr_scores"]
