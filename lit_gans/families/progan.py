"""ProGAN (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality, Stability, and Variation")."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Optional

from lightning.pytorch.cli import OptimizerCallable

from lit_gans.errors import ConfigError
from lit_gans.families.base import AdversarialModule, adam
from lit_gans.loop import Batch
from lit_gans.losses import ObjectiveName
from lit_gans.nets.factory import Architecture
from lit_gans.nets.progan import fade_images
from lit_gans.penalties import Drift, Penalty


class ProGAN(AdversarialModule):
    """Karras et al. (2018): the networks grow from 4x4 to the data's size. Training starts at 4x4 for
    ``stable_images`` real images; then each larger resolution fades in over ``fade_images`` (its block's
    weight alpha ramps from 0 to 1, real images faded alike) and trains alone for ``stable_images`` more
    (the paper's 600k + 600k). Growth follows the real images the critic has seen (all processes
    together), and that count is saved in checkpoints, so a run resumed inside a fade goes on with the
    same resolution and alpha. Each time a fade starts or ends, both optimizers forget their moments
    (the reference resets Adam's state whenever the resolution changes).

    The paper's recipe: the Wasserstein loss with the gradient penalty (lambda 10) and the drift term
    (epsilon 0.001, ``lit_gans.penalties.Drift``), one critic step per generator step, Adam with lr 1e-3,
    betas (0, 0.99) and eps 1e-8, generator EMA 0.999; pixel norm, the equalised learning rate and the
    minibatch standard deviation are in the networks (``lit_gans.nets.progan``).

    Args:
        architecture: ``progan`` (``lit_gans.nets.progan``).
        fade_images: real images over which each new resolution fades in (the paper's 600,000).
        stable_images: real images trained at each resolution, 4x4 included, before the next one fades in
            (the paper's 600,000); the last resolution trains on for the rest of the run.
        reset_optimizers: clear both optimizers' moments when a fade starts or ends.
        penalties: None takes the paper's drift term, ``[Drift(0.001)]``; a list replaces it.
        d_batch_norm: unused (the critic has no normalisation); kept so saved hyperparameters load.
        kwargs: the loop's other arguments (``AdversarialModule``); ``g_width``/``d_width`` are the channels up
            to 32 px (the paper's 512), halved per doubling above.
    """

    clamp_samples = True  # linear output (``lit_gans.sampling.Sampling``)

    def __init__(
        self,
        architecture: Architecture = "progan",
        fade_images: int = 600_000,
        stable_images: int = 600_000,
        reset_optimizers: bool = True,
        objective: ObjectiveName = "wasserstein",
        gradient_penalty: float = 10.0,
        penalties: Optional[list[Penalty]] = None,
        n_critic: int = 1,
        g_width: Optional[int] = 512,
        d_width: Optional[int] = 512,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        ema_decay: Optional[float] = 0.999,
        d_batch_norm: bool = False,
        **kwargs: Any,
    ):
        if architecture != "progan":
            raise ConfigError(f"ProGAN grows its own networks: model.architecture={architecture!r} must be 'progan'")
        if fade_images < 0 or stable_images < 0:
            raise ConfigError(f"model.fade_images={fade_images} and model.stable_images={stable_images} must be "
                              "whole numbers of real images >= 0 (the paper: 600000 each)")
        super().__init__(
            architecture=architecture, objective=objective, gradient_penalty=gradient_penalty,
            penalties=[Drift(0.001)] if penalties is None else penalties, n_critic=n_critic,
            g_width=g_width, d_width=d_width, d_batch_norm=d_batch_norm,
            g_optimizer=g_optimizer or adam(1e-3, (0.0, 0.99)), d_optimizer=d_optimizer or adam(1e-3, (0.0, 0.99)),
            ema_decay=ema_decay, **kwargs,
        )
        self.fade_images, self.stable_images, self.reset_optimizers = int(fade_images), int(stable_images), reset_optimizers
        self.max_stage = self.network("generator").max_stage
        self.images_seen = 0  # real images the critic has seen, summed over processes

    # ------------------------------------------------------------------ the growth schedule
    def growth_stage(self, images: int) -> float:
        """The stage after ``images`` real images: 0 for 4x4, k for resolution 4 * 2^k, ``k - 1 + alpha``
        while stage k fades in."""
        period = self.fade_images + self.stable_images
        if images < self.stable_images:
            return 0.0
        if period == 0:
            return float(self.max_stage)
        grown, into = divmod(images - self.stable_images, period)
        stage = grown + (min(into / self.fade_images, 1.0) if self.fade_images else 1.0)
        return float(min(stage, self.max_stage))

    @property
    def stage(self) -> float:
        """The stage the networks run at now."""
        return self.network("generator")._stage

    @property
    def resolution(self) -> int:
        """The resolution of the highest block running now."""
        return 4 * 2 ** math.ceil(self.stage)

    @property
    def alpha(self) -> float:
        """The weight of the block fading in (1 outside a fade)."""
        stage = self.stage
        return 1.0 if stage == math.ceil(stage) else stage - math.floor(stage)

    def set_stage(self, stage: float) -> None:
        """Run every network (the EMA generator's too) at ``stage``."""
        for network in (self.network("generator"), self.network("critic"), *self._ema_networks()):
            network.set_stage(stage)

    def _ema_networks(self) -> list:
        return [self.ema_generator.module] if self.ema_generator is not None else []

    def _grow(self) -> None:
        stage, before = self.growth_stage(self.images_seen), self.stage
        if stage == before:
            return
        fade_edge = (math.floor(stage), math.ceil(stage)) != (math.floor(before), math.ceil(before))
        if self.reset_optimizers and fade_edge and self._trainer is not None:
            for optimizer in self.trainer.optimizers:
                optimizer.state.clear()
        self.set_stage(stage)

    # ------------------------------------------------------------------ the loop's hooks
    def training_step(self, batch: Any, batch_idx: int) -> None:
        self._grow()
        batch = Batch.of(batch, self.batch_fields)
        super().training_step(self._faded(batch), batch_idx)
        self.images_seen += len(batch) * self.trainer.world_size

    def _faded(self, batch: Batch) -> Batch:
        """The batch with its real images faded to the current stage (as the generator's output is)."""
        stage = self.stage
        return batch if stage == self.max_stage else replace(batch, image=fade_images(batch.image, stage))

    def _validate(self, batch: Batch) -> None:
        super()._validate(self._faded(batch))

    def _update_ema(self) -> None:
        super()._update_ema()
        for network in self._ema_networks():  # the average mixes buffers too: the stage is set, not averaged
            network.set_stage(self.stage)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["lit_gans"]["images_seen"] = self.images_seen

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.images_seen = int(checkpoint.get("lit_gans", {}).get("images_seen", 0))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, fade_images={self.fade_images}, stable_images={self.stable_images}"


__all__ = ["ProGAN"]
