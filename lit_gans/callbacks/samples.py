"""Sample grids from the fixed latent batch, written to files and to the loggers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from lit_gans.plotting import save_samples


class SampleGrid(L.Callback):
    """Every ``every_n_g_steps`` generator iterations and at the end of training, draw samples from
    the model's fixed latent batch (EMA generator when enabled) and save them as
    ``<log_dir>/samples/g0001000.png``: an image grid, or a scatter plot for 2-D data. The image is
    also sent to wandb and TensorBoard loggers.

    Args:
        every_n_g_steps: generator iterations between grids.
        dirpath: folder for the images; defaults to ``<log_dir>/samples``.
        nrow: images per grid row.
    """

    def __init__(self, every_n_g_steps: int = 500, dirpath: Optional[str] = None, nrow: int = 8):
        if every_n_g_steps < 1:
            raise ValueError(f"samples.every_n_g_steps={every_n_g_steps} must be at least 1")
        self.every_n_g_steps, self.dirpath, self.nrow = every_n_g_steps, dirpath, nrow
        self._done_at = -1
        self.last_path: Optional[Path] = None

    def _folder(self, trainer: L.Trainer) -> Path:
        if self.dirpath:
            return Path(self.dirpath)
        return Path(trainer.log_dir or trainer.default_root_dir) / "samples"

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any, **kwargs: Any) -> None:
        g_step = pl_module.g_step
        if g_step > 0 and g_step % self.every_n_g_steps == 0 and g_step != self._done_at:
            self.write(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.g_step != self._done_at and not trainer.fast_dev_run:
            self.write(trainer, pl_module)

    @rank_zero_only
    def write(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Path:
        self._done_at = pl_module.g_step
        samples = pl_module.fixed_samples().float().cpu()
        path = self._folder(trainer) / f"g{pl_module.g_step:07d}.png"
        save_samples(samples, path, nrow=self.nrow, reference=getattr(trainer.datamodule, "modes", None))
        self.last_path = path
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("samples", [str(path)], step=trainer.global_step, caption=[f"g_step {pl_module.g_step}"])
            elif isinstance(logger, TensorBoardLogger):
                from torchvision.io import decode_png, read_file

                logger.experiment.add_image("samples", decode_png(read_file(str(path))), pl_module.g_step)
        return path
