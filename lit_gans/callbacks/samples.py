"""Sample grids from the fixed latent batch and latent interpolation strips, written to files and
to the loggers. A class-conditional model's grid has one row per class (``class_grid_latent``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.seed import isolate_rng
from torch import Tensor

from lit_gans.callbacks.timing import Timed
from lit_gans.latent import Latent, interpolation_strips
from lit_gans.plotting import save_samples

#: the most classes a class-conditional grid shows, one row each (classes 0 to 99)
MAX_CLASS_ROWS = 100


def class_grid_latent(fixed: Latent, num_classes: int, columns: int) -> Latent:
    """The latent of a class-conditional grid, row-major: one row per class (the first
    ``MAX_CLASS_ROWS`` classes), each row the first ``columns`` latents of ``fixed`` (noise and
    codes) asked for that row's class, so that a column shows one noise vector across the classes.
    ``fixed`` (the run's fixed batch, kept in checkpoints) is not changed."""
    columns = max(1, min(columns, len(fixed)))
    rows = min(num_classes, MAX_CLASS_ROWS)
    grid = fixed[:columns][torch.arange(columns).repeat(rows)]
    return grid.replace(labels=torch.arange(rows, device=fixed.z.device).repeat_interleave(columns))


class SampleGrid(Timed, L.Callback):
    """Every ``every_n_g_steps`` generator iterations and at the end of training, draw samples from
    the model's fixed latent batch (EMA generator when enabled) and save them as
    ``<log_dir>/samples/g0001000.png``: an image grid, or a scatter plot for 2-D data. The image is
    also sent to wandb and TensorBoard loggers. For images, latent interpolation strips (slerp
    between pairs of fixed latents, one strip per row) go to ``samples/interp_g0001000.png``.

    A class-conditional model's image grid (``module.latent_spec.num_classes > 0``) has one row per
    class (classes 0, 1, ..., up to ``MAX_CLASS_ROWS``) and ``nrow`` columns: column j is the j-th
    fixed noise vector (and codes) in every row, so it shows one z across the classes
    (``class_grid_latent``). The fixed latent batch itself (its cycling labels) is unchanged.

    Args:
        every_n_g_steps: generator iterations between grids.
        dirpath: folder for the images; defaults to ``<log_dir>/samples``.
        nrow: images per grid row (for a class-conditional model: per class).
        interpolation_steps: images per interpolation strip; 0 turns the strips off.
    """

    time_category = "sample grids"

    def __init__(self, every_n_g_steps: int = 500, dirpath: Optional[str] = None, nrow: int = 8, interpolation_steps: int = 10):
        if every_n_g_steps < 1:
            raise ValueError(f"samples.every_n_g_steps={every_n_g_steps} must be at least 1")
        if interpolation_steps < 0 or interpolation_steps == 1:
            raise ValueError(f"samples.interpolation_steps={interpolation_steps} must be 0 (off) or at least 2")
        self.every_n_g_steps, self.dirpath, self.nrow = every_n_g_steps, dirpath, nrow
        self.interpolation_steps = interpolation_steps
        self._done_at = -1
        self.last_path: Optional[Path] = None
        self._resolved_dir: Optional[Path] = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # ``trainer.log_dir`` broadcasts from rank 0, so every rank must ask for it, here, and not
        # in ``write``, which runs on rank 0 alone (asking there hangs or breaks a DDP run)
        self._resolved_dir = Path(self.dirpath) if self.dirpath else Path(trainer.log_dir or trainer.default_root_dir) / "samples"

    def _folder(self, trainer: L.Trainer) -> Path:
        if self._resolved_dir is None:  # called outside a Trainer's run: a single process
            self.setup(trainer, trainer.lightning_module, "fit")
        return self._resolved_dir

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any, **kwargs: Any) -> None:
        g_step = pl_module.g_step
        if g_step > 0 and g_step % self.every_n_g_steps == 0 and g_step != self._done_at:
            self.write(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.g_step != self._done_at and not trainer.fast_dev_run:
            self.write(trainer, pl_module)

    @rank_zero_only
    def write(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Path:
        with self.timed(), isolate_rng():  # grids come from fixed latents; nothing here may move training's random stream
            return self._write(trainer, pl_module)

    def grid(self, pl_module: L.LightningModule) -> tuple[Tensor, int]:
        """The grid's samples (row-major) and images per row: for a class-conditional model of
        images one row of ``nrow`` per class (``class_grid_latent``), else the fixed latent batch in
        rows of ``nrow``."""
        if getattr(pl_module, "translates", False):  # image-to-image: fixed inputs, their translations (and targets)
            return pl_module.translation_grid()
        num_classes = int(getattr(getattr(pl_module, "latent_spec", None), "num_classes", 0) or 0)
        if num_classes and len(getattr(pl_module, "data_shape", ())) == 3:
            latent = class_grid_latent(pl_module.fixed_latent(), num_classes, self.nrow)
            return pl_module.sample(len(latent), latent=latent), len(latent) // min(num_classes, MAX_CLASS_ROWS)
        return pl_module.fixed_samples(), self.nrow

    def _write(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Path:
        self._done_at = pl_module.g_step
        samples, nrow = self.grid(pl_module)
        samples = samples.float().cpu()
        path = self._folder(trainer) / f"g{pl_module.g_step:07d}.png"
        save_samples(samples, path, nrow=nrow, reference=getattr(trainer.datamodule, "modes", None))
        self.last_path = path
        self._publish(trainer, "samples", path, pl_module.g_step)
        # interpolation strips walk between latent vectors: not for families without one (translation, SinGAN)
        if self.interpolation_steps and samples.dim() == 4 and getattr(pl_module, "interpolates", True):
            strips = interpolation_strips(pl_module, rows=self.nrow, steps=self.interpolation_steps).float().cpu()
            interp = save_samples(strips, path.with_name(f"interp_{path.name}"), nrow=self.interpolation_steps)
            self._publish(trainer, "interpolation", interp, pl_module.g_step)
        return path

    @staticmethod
    def _publish(trainer: L.Trainer, key: str, path: Path, g_step: int) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key, [str(path)], step=trainer.global_step, caption=[f"g_step {g_step}"])
            elif isinstance(logger, TensorBoardLogger):
                from torchvision.io import decode_png, read_file

                logger.experiment.add_image(key, decode_png(read_file(str(path))), g_step)
