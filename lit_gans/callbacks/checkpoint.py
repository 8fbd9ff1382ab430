"""Checkpoints counted in generator iterations."""

from __future__ import annotations

import os
from typing import Any, Optional

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from lit_gans.callbacks.timing import Timed
from lit_gans.checkpoints import AtomicCheckpointIO


class GeneratorStepCheckpoint(Timed, ModelCheckpoint):
    """``ModelCheckpoint`` that saves every ``every_n_g_steps`` generator iterations and at the end of
    training, naming files by generator step (``g0002000.ckpt``) and keeping ``last.ckpt``.

    Checkpoints are written atomically (``lit_gans.checkpoints.AtomicCheckpointIO``, installed in
    ``setup`` where the Trainer uses Lightning's default writer), and only after the weights pass the
    family's divergence check, so every file is whole and holds finite, bounded weights: an
    interrupted or diverging run leaves the last good checkpoint intact.

    Args:
        every_n_g_steps: generator iterations between checkpoints.
        dirpath: folder for checkpoints; defaults to the logger's ``checkpoints`` folder.
        filename: name pattern; ``g_step`` and ``d_step`` are available.
        save_top_k: how many step checkpoints to keep (-1 keeps all).
        save_last: also write ``last.ckpt``.
        auto_insert_metric_name: prefix metric values with their names in file names.
        every_n_epochs: also save at the end of every n-th epoch (0: only by generator step).
        kwargs: other ``ModelCheckpoint`` arguments.
    """

    time_category = "checkpoints"

    def __init__(
        self,
        every_n_g_steps: int = 1000,
        dirpath: Optional[str] = None,
        filename: str = "g{g_step:07.0f}",
        save_top_k: int = 1,
        save_last: bool = True,
        auto_insert_metric_name: bool = False,
        every_n_epochs: int = 0,
        **kwargs: Any,
    ):
        if every_n_g_steps < 1:
            raise ValueError(f"checkpoint.every_n_g_steps={every_n_g_steps} must be at least 1")
        # no monitor: save_top_k keeps the newest files; every_n_epochs=0 leaves the timing to g_step
        super().__init__(
            dirpath=dirpath,
            filename=filename,
            save_top_k=save_top_k,
            save_last=save_last,
            auto_insert_metric_name=auto_insert_metric_name,
            every_n_epochs=every_n_epochs,
            **kwargs,
        )
        self.every_n_g_steps = every_n_g_steps
        self._saved_at_g_step = -1

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:  # Lightning's default; a user's own stays
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()

    # Private ModelCheckpoint methods, overridden on purpose: Lightning schedules and names checkpoints by
    # ``global_step``, which counts every optimizer step (issue 17958), and has no public hook for another
    # step count. Keeping ModelCheckpoint (rather than calling trainer.save_checkpoint ourselves) keeps
    # ``ckpt_path: last``, ``best_model_path`` and top-k bookkeeping working.
    def _monitor_candidates(self, trainer: L.Trainer) -> dict[str, torch.Tensor]:
        candidates = super()._monitor_candidates(trainer)
        module = trainer.lightning_module
        candidates["g_step"] = torch.tensor(float(getattr(module, "g_step", trainer.global_step)))
        candidates["d_step"] = torch.tensor(float(getattr(module, "d_step", 0)))
        return candidates

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        with self.timed():  # for the run's time report
            super()._save_checkpoint(trainer, filepath)

    def _save_now(self, trainer: L.Trainer) -> None:
        g_step = getattr(trainer.lightning_module, "g_step", trainer.global_step)
        if g_step == self._saved_at_g_step or self._should_skip_saving_checkpoint(trainer):
            return
        check_weights = getattr(trainer.lightning_module, "check_weights", None)
        if check_weights is not None:
            check_weights()  # a diverged model stops the run here, before any file is replaced
        self._saved_at_g_step = g_step
        candidates = self._monitor_candidates(trainer)
        self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any, **kwargs: Any) -> None:
        g_step = getattr(pl_module, "g_step", trainer.global_step)
        if g_step > 0 and g_step % self.every_n_g_steps == 0:
            self._save_now(trainer)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._adopt_resumed_last(trainer)

    def _adopt_resumed_last(self, trainer: L.Trainer) -> None:
        """A run resumed from this folder's ``last.ckpt`` goes on writing that file. Lightning restores which file
        is a run's last only when the checkpoint names the same folder, so a run folder that was moved or copied
        (scratch to project storage) would get ``last-v1.ckpt`` beside a ``last.ckpt`` that stays at the resumed
        step, and resuming from ``last.ckpt`` again would silently go back to it."""
        resumed = trainer.ckpt_path
        if not self.save_last or self.last_model_path or not resumed or self.dirpath is None or "://" in str(resumed):
            return
        last = self.format_checkpoint_name({}, self.CHECKPOINT_NAME_LAST)
        if os.path.realpath(resumed) == os.path.realpath(last):
            self.last_model_path = last

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if getattr(pl_module, "g_step", 0) > 0:
            self._save_now(trainer)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "saved_at_g_step": self._saved_at_g_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._saved_at_g_step = state_dict.get("saved_at_g_step", -1)
