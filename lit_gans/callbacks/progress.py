"""A rich progress bar that speaks in generator and discriminator steps."""

from __future__ import annotations

import time
from typing import Any, Optional

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.callbacks.progress.rich_progress import RichProgressBarTheme


class GANProgressBar(RichProgressBar):
    """``RichProgressBar`` speaking in generator steps. When ``max_g_steps`` ends the run (no epoch limit),
    one bar counts generator steps over the whole run, with their speed and the run's time left;
    otherwise Lightning's bar of each epoch's batches, with ``g_step`` beside it. ``d_step`` is shown as a
    whole number, Lightning's version number is not.

    It costs little per batch: the bar is redrawn ``refresh_rate`` times a second, and the per-batch
    work (moving the bar, reading the logged values, which on a GPU waits for them) is done only when
    a redraw is due, when training stops and (for the epoch bar) on an epoch's last batch. Each redraw
    costs the training process about 2 ms on a 2-core CPU (rich renders on a thread that takes the GIL
    from the loop), so the default is 2 a second: where steps take milliseconds, as on a GPU, the
    default way of ``lit-gans fit`` cost 3.0-3.9 % over a bare Trainer at 10 redraws a second, 1.3-2.0 %
    at 2, and 0.6-1.1 % without a bar (``bench/results/progress_bar_cost.md``).

    Args:
        refresh_rate: redraws per second; 0 hides the bar.
        leave: keep each finished epoch's bar on screen (the epoch bar).
        theme: colours and styles of the bar.
        console_kwargs: arguments of the ``rich.console.Console`` it draws on.
    """

    def __init__(
        self,
        refresh_rate: int = 2,
        leave: bool = False,
        theme: RichProgressBarTheme = RichProgressBarTheme(),
        console_kwargs: Optional[dict[str, Any]] = None,
    ):
        super().__init__(refresh_rate=refresh_rate, leave=leave, theme=theme, console_kwargs=console_kwargs)
        self._next_update = 0.0
        self._whole_run = False  # ``run_length`` is known: set when training starts, read by every hook after it

    @staticmethod
    def run_length(trainer: L.Trainer, pl_module: L.LightningModule) -> Optional[int]:
        """The run's length in generator steps when they, not epochs, end it (``max_g_steps`` set and no
        epoch limit, as in every shipped config); else None."""
        target = getattr(pl_module, "max_g_steps", None)
        return int(target) if target and (trainer.max_epochs is None or trainer.max_epochs < 0) else None

    # Lightning's bar counts each epoch's batches, and resets (and draws, on the training thread) at every
    # epoch's start. When generator steps end the run, this bar counts them over the whole run instead, so its
    # speed is generator iterations a second and its estimate of the time left is the run's. The bar's task and
    # its update are private to ``RichProgressBar`` (``train_progress_bar_id``, ``_update``, ``_update_metrics``):
    # Lightning has no public hook for what a bar counts.
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._whole_run = self.run_length(trainer, pl_module) is not None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        made = self.progress is not None and self.train_progress_bar_id is not None
        if self._whole_run and made:  # the same bar goes on; its new title is drawn with the next redraw
            self.progress.update(self.train_progress_bar_id, description=self._get_train_description(trainer.current_epoch))
            return
        super().on_train_epoch_start(trainer, pl_module)
        if self._whole_run and self.progress is not None and self.train_progress_bar_id is not None:
            # reset, not update: a resumed run's steps so far are no sample of its speed
            self.progress.reset(self.train_progress_bar_id, total=self.run_length(trainer, pl_module), completed=pl_module.g_step)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        now = time.monotonic()
        if now < self._next_update and not trainer.should_stop:
            if self._whole_run or batch_idx + 1 < self.total_train_batches:  # the epoch bar draws an epoch's end
                return
        self._next_update = now + (1.0 / self.refresh_rate if self.refresh_rate > 0 else 0.0)
        if not self._whole_run:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
            return
        if self.is_disabled:
            return
        if self.train_progress_bar_id is None:  # a run resumed in mid-epoch
            self.on_train_epoch_start(trainer, pl_module)
        self._update(self.train_progress_bar_id, pl_module.g_step)
        self._update_metrics(trainer, pl_module)
        self.refresh()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._whole_run:  # a whole-run bar is redrawn on its own schedule
            super().on_train_epoch_end(trainer, pl_module)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if stage != "fit":  # a ``validate`` with this bar after a fit: no whole-run count, g_step shown again
            self._whole_run = False

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)  # shows the training values of now: the count goes with them
        if self._whole_run and self.train_progress_bar_id is not None:
            self._update(self.train_progress_bar_id, pl_module.g_step)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        if hasattr(pl_module, "g_step"):
            target = getattr(pl_module, "max_g_steps", None)
            if not self._whole_run:  # else the bar's own count is g_step/max_g_steps (in training, not in validate)
                items["g_step"] = f"{pl_module.g_step}/{target}" if target else str(pl_module.g_step)
            else:
                items.pop("g_step", None)
            items["d_step"] = str(pl_module.d_step)
        return items

    def _get_train_description(self, current_epoch: int) -> str:
        # Lightning's only hook for the bar's title is this private method; without it an endless run
        # (max_epochs: -1, stopped by max_g_steps) reads "Epoch 3/-2"
        if self.trainer.max_epochs is None or self.trainer.max_epochs < 0:
            return f"Epoch {current_epoch}"
        return super()._get_train_description(current_epoch)
