"""pix2pix (Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation with Conditional Adversarial Networks")."""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torchmetrics.functional.image import peak_signal_noise_ratio

from lit_gans.errors import ConfigError
from lit_gans.families.base import adam
from lit_gans.families._translation import TranslationModule, as_rgb, ssim
from lit_gans.loop import Batch, Phase, StepOutput
from lit_gans.losses import ObjectiveName
from lit_gans.nets.translation import PatchDiscriminator, UNetGenerator, init_weights, patch_layers_for


def image_scores(fake: Tensor, real: Tensor) -> dict[str, Tensor]:
    """L1 (in [-1, 1] units, as the training loss), PSNR (dB) and SSIM of images in [-1, 1], measured in [0, 1]."""
    fake01, real01 = (fake.float().clamp(-1, 1) + 1) / 2, (real.float() + 1) / 2
    return {"l1": (fake.float() - real.float()).abs().mean(),
            "psnr": peak_signal_noise_ratio(fake01, real01, data_range=1.0),
            "ssim": ssim(fake01, real01)}


class Pix2Pix(TranslationModule):
    """pix2pix: a conditional GAN from an input image A to a target image B on paired data.

    G is a U-Net (skip connections between mirrored encoder and decoder layers; dropout 0.5, its only noise, on
    the decoder layers between its widest layers, as the reference: three at 256 px, none at 32 px); D is a PatchGAN that judges (A, B) pairs patch by patch
    (70x70 patches at 256 px with 3 layers; fewer layers on small images, ``d_layers``). G minimises the
    non-saturating loss plus ``l1_weight`` (100) times the L1 distance to the target; D's loss is halved.
    Adam with lr 2e-4 and betas (0.5, 0.999); the reference keeps the rate for 100 epochs and then decays it
    linearly to 0 (``g_scheduler``/``d_scheduler``: ``lit_gans.schedules.LinearDecay``).

    Validation logs ``val/l1`` (to the target, in [-1, 1] units), ``val/psnr`` and ``val/ssim`` of G's
    translations (eval mode), besides the losses.

    Args:
        data_shape: shape of a target image B (C, S, S), linked from the DataModule.
        condition_channels: channels of the input image A; None: as many as B.
        g_width: U-Net channels of its first layer (the paper: 64), doubling down to 8x.
        d_width: PatchGAN channels of its first layer (64).
        unet_depth: U-Net downsamplings; None goes down to 1x1 (8 at 256 px, the reference's ``unet_256``).
        dropout: dropout of the U-Net's innermost decoder layers (0 disables).
        norm: ``batch`` (the paper, batch size 1: instance-like) or ``instance``, in both networks.
        d_layers: PatchGAN stride-2 layers (3: 70x70 patches); None takes 3, or fewer where the image is too
            small for a 2x2 patch map (``lit_gans.nets.translation.patch_layers_for``).
        l1_weight: weight of the L1 term (lambda, 100).
        objective: ``non_saturating`` (the paper's "vanilla" GAN loss) or ``least_squares``.
        g_optimizer, d_optimizer, g_scheduler, d_scheduler: as ``AdversarialModule``'s.
        Others: ``TranslationModule``'s and ``AdversarialModule``'s.
    """

    needs_fields = ("condition", "image")

    def __init__(
        self,
        data_shape: Any,
        num_classes: int = 0,
        condition_channels: Optional[int] = None,
        g_width: int = 64,
        d_width: int = 64,
        unet_depth: Optional[int] = None,
        dropout: float = 0.5,
        norm: Literal["batch", "instance"] = "batch",
        d_layers: Optional[int] = None,
        l1_weight: float = 100.0,
        objective: ObjectiveName = "non_saturating",
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        g_scheduler: Optional[LRSchedulerCallable] = None,
        d_scheduler: Optional[LRSchedulerCallable] = None,
        **kwargs: Any,
    ):
        if l1_weight < 0:
            raise ConfigError(f"model.l1_weight={l1_weight} must be >= 0 (the paper: 100; 0 trains a plain conditional GAN)")
        if not 0 <= dropout < 1:
            raise ConfigError(f"model.dropout={dropout} must be in [0, 1) (the paper: 0.5; 0 disables)")
        self.translation_args = dict(condition_channels=condition_channels or int(data_shape[0]), unet_depth=unet_depth,
                                     dropout=dropout, norm=norm, d_layers=d_layers)
        self.l1_weight = float(l1_weight)
        super().__init__(
            data_shape=data_shape, num_classes=num_classes, g_width=g_width, d_width=d_width, objective=objective,
            g_optimizer=g_optimizer or adam(2e-4), d_optimizer=d_optimizer or adam(2e-4),
            g_scheduler=g_scheduler, d_scheduler=d_scheduler, **kwargs,
        )

    def build_networks(self, architecture: Any, g_width: Optional[int], d_width: Optional[int], d_batch_norm: bool,
                       **_: Any) -> dict[str, nn.Module]:
        args, (channels, size, width) = self.translation_args, self.data_shape
        if size != width:
            raise ConfigError(f"Pix2Pix needs square images; the DataModule gives {size}x{width}")
        d_layers = args["d_layers"] if args["d_layers"] is not None else patch_layers_for(size)
        generator = UNetGenerator(args["condition_channels"], channels, size, width=g_width or 64, depth=args["unet_depth"],
                                  dropout=args["dropout"], norm=args["norm"])
        discriminator = PatchDiscriminator(args["condition_channels"] + channels, width=d_width or 64, n_layers=d_layers,
                                           norm=args["norm"])
        return {"generator": init_weights(generator), "discriminator": init_weights(discriminator)}

    def phases(self) -> list[Phase]:
        """The reference's order on each batch: D on (A, B) against (A, G(A)), then G."""
        return [Phase("discriminator", ("discriminator",), self.discriminator_loss),
                Phase("generator", ("generator",), self.generator_loss, after_step=(self._after_generator_step,))]

    def judge_pairs(self, condition: Tensor, image: Tensor) -> Tensor:
        """The PatchGAN's logits (N, 1, H', W') for input/output pairs."""
        return self.network("critic")(torch.cat([condition, image], dim=1))

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        with torch.no_grad():
            fake = self.network("generator")(batch.condition)
        real_logits = self.judge_pairs(batch.condition, batch.image)
        fake_logits = self.judge_pairs(batch.condition, fake)
        loss = self.d_scale * self.objective.d_loss(real_logits, fake_logits)
        logs = {"loss/d": loss.detach(), "d/real": real_logits.mean().detach(), "d/fake": fake_logits.mean().detach()}
        return StepOutput(loss, logs, fake=fake, fake_logits=fake_logits, real=batch.image, real_logits=real_logits)

    def generator_loss(self, batch: Batch) -> StepOutput:
        fake = self.network("generator")(batch.condition)
        fake_logits = self.judge_pairs(batch.condition, fake)
        adversarial = self.g_scale * self.objective.g_loss(fake_logits)
        l1 = F.l1_loss(fake, batch.image)
        loss = adversarial + self.l1_weight * l1
        logs = {"loss/g": loss.detach(), "loss/g_adv": adversarial.detach(), "loss/l1": l1.detach()}
        return StepOutput(loss, logs, fake=fake, fake_logits=fake_logits)

    def translate(self, x: Tensor, direction: str = "a2b", ema: bool = True) -> Tensor:
        """G's translations of input images A (N, C_a, S, S) in [-1, 1], in eval mode (dropout off)."""
        if direction != "a2b":
            raise ConfigError(f"Pix2Pix translates one way, A to B: direction={direction!r} must be 'a2b'")
        net = self.ema_generator.module if ema and self.ema_generator is not None else self.network("generator")
        return self._translated(net, x)

    def input_channels(self, direction: str = "a2b") -> int:
        """Channels of the images ``translate`` reads (A's)."""
        if direction != "a2b":
            raise ConfigError(f"Pix2Pix translates one way, A to B: direction={direction!r} must be 'a2b'")
        return self.translation_args["condition_channels"]

    def _validate(self, batch: Batch) -> None:
        fake = self.translate(batch.condition)
        real_logits, fake_logits = self.judge_pairs(batch.condition, batch.image), self.judge_pairs(batch.condition, fake)
        scores = {f"val/{k}": v for k, v in image_scores(fake, batch.image).items()}
        scores["val/d_loss"] = self.d_scale * self.objective.d_loss(real_logits, fake_logits)
        scores["val/g_loss"] = self.g_scale * self.objective.g_loss(fake_logits)
        self.log_dict(scores, batch_size=len(batch), sync_dist=True)

    def translation_grid(self) -> tuple[Tensor, int]:
        """Three rows: the fixed validation inputs A, G's translations, the targets B."""
        fixed = self.fixed_inputs()
        fake = self.translate(fixed.condition)
        rows = [fixed.condition, fake, fixed.image]
        if any(r.shape[1] != rows[0].shape[1] for r in rows):
            rows = [as_rgb(r) for r in rows]
        return torch.cat(rows), len(fixed)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, l1_weight={self.l1_weight}"


__all__ = ["Pix2Pix", "image_scores"]
