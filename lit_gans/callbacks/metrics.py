"""Domain metrics during training: mode coverage on 2-D mixtures, the digits score on digits."""

from __future__ import annotations

import math
from typing import Any, Optional

import lightning as L
import torch

from lit_gans.metrics import digits_score, mode_coverage


def domain_metrics(pl_module: L.LightningModule, datamodule: Any, n_samples: int) -> Optional[dict[str, float]]:
    """Metrics for the data this model trains on, or None where lit-gans has no domain metric."""
    from datamodules import DigitsDataModule, Toy2DDataModule

    if isinstance(datamodule, Toy2DDataModule):
        stats = mode_coverage(pl_module.sample(n_samples), datamodule.modes, datamodule.std)
        # reverse KL is undefined while no sample is of high quality: not logged then
        return {f"modes/{k}": float(v) for k, v in stats.items() if math.isfinite(v)}
    if isinstance(datamodule, DigitsDataModule) and pl_module.data_shape[0] == 1:
        return {f"digits/{k}": float(v) for k, v in digits_score(pl_module.sample(n_samples)).items()}
    return None


class DomainMetrics(L.Callback):
    """Every ``every_n_g_steps`` generator iterations and when ``max_g_steps`` is reached, draw
    ``n_samples`` samples (EMA generator when enabled) and log the domain metrics: PacGAN's mode
    coverage on 2-D mixtures (``modes/modes``, ``modes/high_quality``, ``modes/reverse_kl``) and the
    digits score on digits (``digits/frechet_distance``, ``digits/confidence``, ...). Other data:
    nothing is logged (the FID/KID callbacks come with the evaluation module).

    Args:
        every_n_g_steps: generator iterations between evaluations.
        n_samples: samples per evaluation (2,500 is PacGAN's protocol).
    """

    def __init__(self, every_n_g_steps: int = 500, n_samples: int = 2500):
        self.every_n_g_steps, self.n_samples = every_n_g_steps, n_samples
        self._done_at = -1
        self.history: list[dict[str, float]] = []

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Optional[dict[str, float]]:
        self._done_at = pl_module.g_step
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(pl_module.g_step)
            metrics = domain_metrics(pl_module, trainer.datamodule, self.n_samples)
        if metrics is None:
            return None
        self.history.append({"g_step": pl_module.g_step, **metrics})
        pl_module.log_dict(metrics, on_step=True, on_epoch=False)
        return metrics

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any, **kwargs: Any) -> None:
        g_step = pl_module.g_step
        due = g_step % self.every_n_g_steps == 0 or (trainer.should_stop and not trainer.fast_dev_run)
        if g_step > 0 and due and g_step != self._done_at:
            self.evaluate(trainer, pl_module)
