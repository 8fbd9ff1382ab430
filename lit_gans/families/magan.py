"""MAGAN (Wang, Cully, Chang & Demiris 2017, "MAGAN: Margin Adaptation for Generative Adversarial Networks")."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Optional

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lit_gans.errors import ConfigError
from lit_gans.families.base import adam
from lit_gans.families.ebgan import AutoencoderCriticModule, ebgan_d_loss
from lit_gans.loop import Batch, Phase, StepOutput
from lit_gans.nets.autoencoder import Activation
from lit_gans.resume import RESUMABLE


def adapt_margin(margin: Tensor, real_mean: Tensor, fake_mean: Tensor, previous_fake_mean: Tensor) -> Tensor:
    """MAGAN's margin rule at an epoch's end (the authors' ``gan_release.py``; Algorithm 1): the margin becomes
    the epoch's expected real energy when (1) that is below the margin, (2) the epoch's fake energy exceeds its
    real energy (S_fake > S_real; compared as means per batch, which for equal batch counts is the sums'
    comparison) and (3) the fake energy rose since the previous epoch (S_fake,t > S_fake,t-1: G stopped
    improving under the current margin); otherwise the margin stays. Never increases."""
    update = (real_mean < margin) & (real_mean < fake_mean) & (fake_mean > previous_fake_mean)
    return torch.where(update, real_mean, margin)


class MAGAN(AutoencoderCriticModule):
    """Wang et al. (2017): EBGAN's hinge loss D(x) + max(0, m - D(G(z))) and G loss D(G(z)) with the margin m
    adapted during training. The discriminator is first pre-trained as an autoencoder on real data alone
    (``pretrain_steps``: the authors' two epochs), and m starts as the expected real energy, estimated from the
    second half of those steps (the energies of each batch before its step; the authors measure one further
    epoch without training). Then at each epoch's end the rule of ``adapt_margin`` runs on the epoch's mean real
    energy (from the discriminator steps) and mean fake energy (from the generator steps); on the first epoch
    the previous fake energy is +inf, so the margin holds. The margin, the epoch's energy sums and the previous
    epoch's fake energy are buffers, saved and restored with checkpoints; ``magan/margin`` is logged.

    An "epoch" is the DataModule's (``on_train_epoch_end``), or every ``margin_interval`` generator iterations
    when set: for short runs on large data (a 2-D toy epoch is hundreds of batches) and for comparisons.

    Defaults (the authors' release): LeakyReLU(0.2) autoencoders without batch norm,
    Adam with lr 0.0005 and beta1 0.5 for both networks (the release uses Adamax with those values).
    Energies are per-entry mean squared errors, as EBGAN's here.

    Args:
        pretrain_steps: discriminator steps of autoencoder pre-training on real batches before the adversarial
            phases; None takes two epochs of the training data (the authors'). At least 1: it sets the margin.
        margin_interval: generator iterations per margin adaptation; None adapts at each epoch's end.
        code: size of the autoencoder's code.
        activation: the autoencoder's hidden activation.
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    objective_name = "magan"
    resumable_args = RESUMABLE | {"margin_interval"}

    def __init__(
        self,
        pretrain_steps: Optional[int] = None,
        margin_interval: Optional[int] = None,
        code: int = 64,
        activation: Activation = "leaky_relu",
        d_batch_norm: bool = False,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        if pretrain_steps is not None and pretrain_steps < 1:
            raise ConfigError(f"model.pretrain_steps={pretrain_steps} must be at least 1 (the pre-training sets the "
                              "initial margin), or null for the authors' two epochs")
        if margin_interval is not None and margin_interval < 1:
            raise ConfigError(f"model.margin_interval={margin_interval} must be a positive number of generator "
                              "iterations, or null to adapt the margin at each epoch's end")
        self.pretrain_steps, self.margin_interval = pretrain_steps, margin_interval
        super().__init__(code=code, activation=activation, d_batch_norm=d_batch_norm,
                         g_optimizer=g_optimizer or adam(5e-4, (0.5, 0.999)),
                         d_optimizer=d_optimizer or adam(5e-4, (0.5, 0.999)), **kwargs)
        self.register_buffer("margin", torch.zeros(()))
        # the current epoch's sums of batch-mean energies and their batch counts, and the previous epoch's fake mean
        self.register_buffer("real_energy_sum", torch.zeros(()))
        self.register_buffer("fake_energy_sum", torch.zeros(()))
        self.register_buffer("real_batches", torch.zeros((), dtype=torch.long))
        self.register_buffer("fake_batches", torch.zeros((), dtype=torch.long))
        self.register_buffer("previous_fake_energy", torch.full((), math.inf))

    # ------------------------------------------------------------------ pre-training
    @property
    def pretrain_total(self) -> int:
        """Pre-training steps: ``pretrain_steps``, or two epochs of the training data."""
        if self.pretrain_steps is not None:
            return self.pretrain_steps
        batches = self.trainer.num_training_batches
        if not math.isfinite(batches):
            raise ConfigError("model.pretrain_steps=null takes two epochs, but the training data has no length; "
                              "set model.pretrain_steps")
        return 2 * int(batches)

    @property
    def pretraining(self) -> bool:
        return self.steps.get("pretrain", 0) < self.pretrain_total

    def pretrain_loss(self, batch: Batch) -> StepOutput:
        """The autoencoder's reconstruction energy on real data alone."""
        energy, _ = self.judge(batch.image, None)
        loss = energy.mean()
        step, total = self.steps.get("pretrain", 0), self.pretrain_total
        if step >= total // 2:  # the second half estimates the expected real energy
            self._accumulate(real=loss.detach())
        return StepOutput(loss, {"loss/d_pretrain": loss.detach()}, real=batch.image, real_logits=energy)

    def _after_pretrain_step(self) -> None:
        if self.steps["pretrain"] == self.pretrain_total:
            with torch.no_grad():
                self.margin.copy_(self.real_energy_sum / self.real_batches.clamp(min=1))
            self._reset_epoch()
            self._logs["magan/margin"] = self.margin.detach().clone()

    def phases(self) -> list[Phase]:
        d, g = super().phases()
        g_after = g.after_step + ((self._after_interval,) if self.margin_interval else ())
        return [Phase("pretrain", ("discriminator",), self.pretrain_loss, when=lambda: self.pretraining,
                      after_step=(self._after_pretrain_step,)),
                replace(d, when=lambda: not self.pretraining), replace(g, after_step=g_after)]

    # ------------------------------------------------------------------ the adversarial phases
    def energy_d_loss(self, real_energy: Tensor, fake_energy: Tensor) -> Tensor:
        return ebgan_d_loss(real_energy, fake_energy, self.margin)

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        out = super().discriminator_loss(batch)
        self._accumulate(real=out.real_logits.detach().mean())
        out.logs["magan/margin"] = self.margin.detach().clone()
        return out

    def generator_loss(self, batch: Batch) -> StepOutput:
        out = super().generator_loss(batch)
        self._accumulate(fake=out.fake_logits.detach().mean())
        return out

    @torch.no_grad()
    def _accumulate(self, real: Optional[Tensor] = None, fake: Optional[Tensor] = None) -> None:
        if real is not None:
            self.real_energy_sum += real
            self.real_batches += 1
        if fake is not None:
            self.fake_energy_sum += fake
            self.fake_batches += 1

    def _reset_epoch(self) -> None:
        for name in ("real_energy_sum", "fake_energy_sum", "real_batches", "fake_batches"):
            getattr(self, name).zero_()

    @torch.no_grad()
    def adapt(self) -> None:
        """The epoch's end: apply ``adapt_margin`` and start new sums (nothing before pre-training ends)."""
        if self.pretraining or not (int(self.real_batches) and int(self.fake_batches)):
            return
        real = self.real_energy_sum / self.real_batches
        fake = self.fake_energy_sum / self.fake_batches
        self.margin.copy_(adapt_margin(self.margin, real, fake, self.previous_fake_energy))
        self.previous_fake_energy.copy_(fake)
        self._reset_epoch()

    def _after_interval(self) -> None:
        if self.g_step % self.margin_interval == 0:
            self.adapt()

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        if self.margin_interval is None:
            self.adapt()

    def extra_repr(self) -> str:
        return (f"pretrain_steps={self.pretrain_steps}, margin_interval={self.margin_interval}, code={self.code}, "
                f"latent_dim={self.latent_dim}")


__all__ = ["MAGAN", "adapt_margin"]
