"""The metrics callback: evaluates during training with ``lit_gans.metrics.evaluation.ModelEvaluation``
(re-exported here, its former home)."""

from __future__ import annotations

import math
from typing import Any, Optional

import lightning as L
import torch
from lightning.pytorch.utilities.seed import isolate_rng

from lit_gans.errors import ConfigError
from lit_gans.metrics.evaluation import METRICS, ModelEvaluation

#: samples per evaluation under ``fast_dev_run``: enough to check the plumbing, not to measure
FAST_DEV_RUN_SAMPLES = 64


class GenerativeMetrics(L.Callback):
    """Evaluate every ``every_n_g_steps`` generator iterations, when ``max_g_steps`` is reached and at
    each validation, on the EMA generator when enabled, and log to every logger (e.g.
    ``digits/fid``, ``digits/kid``, ``inception/is``, ``modes/high_quality``; for a class-conditional
    model on labelled data ``digits/intra_fid`` and ``digits/class_accuracy``, with the values per
    class in ``evaluation.per_class``).

    Real features are computed once and cached (``$LIT_GANS_CACHE``, default ``~/.cache/lit-gans``).
    Under ``fast_dev_run`` evaluations use 64 samples (a plumbing check, with one small-sample warning).

    Args:
        every_n_g_steps: generator iterations between evaluations.
        n_samples: generated samples per evaluation (PacGAN's protocol is 2,500 for 2-D mixtures;
            FID is usually reported on 10,000 or 50,000).
        metrics: any of fid, kid, is, classifier, intra_fid, class_accuracy, modes, stacked; null picks
            what suits the data and the model (intra_fid and class_accuracy for a class-conditional
            model in a domain classifier's space; asked for by name on an unconditional model they
            stop the run at setup with one error).
        feature: feature space of fid/kid/is/classifier: auto, inception, digits, fashion_mnist or a
            weights file of ``lit-gans train-classifier``.
        inception_weights: path of torch-fidelity's Inception weights (for ``feature: inception``).
        n_real: real images whose features make the reference statistics.
        batch_size: images per feature-network batch.
        kid_subset_size: KID subset size (lowered to the sample count for small runs).
        on_validation: also evaluate at the end of each validation.
        cache_dir: folder for cached real features (default ``$LIT_GANS_CACHE``/real_features).
    """

    def __init__(
        self,
        every_n_g_steps: int = 500,
        n_samples: int = 2500,
        metrics: Optional[list[str]] = None,
        feature: str = "auto",
        inception_weights: Optional[str] = None,
        n_real: int = 10_000,
        batch_size: int = 250,
        kid_subset_size: int = 1000,
        on_validation: bool = True,
        cache_dir: Optional[str] = None,
    ):
        if every_n_g_steps < 1:
            raise ConfigError(f"metrics.every_n_g_steps={every_n_g_steps} must be at least 1")
        self.every_n_g_steps, self.on_validation = every_n_g_steps, on_validation
        self.options = dict(
            metrics=metrics, feature=feature, inception_weights=inception_weights, n_samples=n_samples, n_real=n_real,
            batch_size=batch_size, kid_subset_size=kid_subset_size, cache_dir=cache_dir,
        )
        self.evaluation: Optional[ModelEvaluation] = None
        self._done_at = -1
        self.history: list[dict[str, float]] = []

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if getattr(pl_module, "translates", False):
            # image-to-image families measure their translations in validation (``val/...``); samples from noise,
            # which these metrics compare with the data, do not exist for them
            self.evaluation = None
            return
        if self.evaluation is None and trainer.datamodule is not None:
            self.evaluation = ModelEvaluation(trainer.datamodule, **self.options)
        if self.evaluation is not None:
            self.evaluation.metrics_for(pl_module)  # metrics asked for that the model cannot give: an error now, not mid-run

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule, on_epoch: bool = False) -> Optional[dict[str, float]]:
        if self.evaluation is None or not self.evaluation.metrics:
            return None
        self._done_at = pl_module.g_step
        small = FAST_DEV_RUN_SAMPLES if trainer.fast_dev_run else None
        getattr(pl_module, "synchronize_buffers", lambda: None)()  # every rank samples from rank 0's model
        with isolate_rng():  # building networks and sampling must not move training's random stream
            self.evaluation.prepare(pl_module.device, n_real=small)
            metrics = self.evaluation.evaluate(pl_module, seed=pl_module.g_step, trainer=trainer, n_samples=small)
        self.history.append({"g_step": pl_module.g_step, **metrics})
        finite = {k: v for k, v in metrics.items() if math.isfinite(v)}
        if on_epoch:
            pl_module.log_dict(finite, on_step=False, on_epoch=True)
        else:
            # straight to the loggers: self.log in a batch hook is dropped between log_every_n_steps
            trainer.callback_metrics.update({k: torch.tensor(v) for k, v in finite.items()})
            if trainer.is_global_zero:
                for logger in trainer.loggers:
                    logger.log_metrics({**finite, "g_step": float(pl_module.g_step)}, step=trainer.global_step)
        return metrics

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any, **kwargs: Any) -> None:
        g_step = pl_module.g_step
        due = g_step % self.every_n_g_steps == 0 or (trainer.should_stop and not trainer.fast_dev_run)
        if g_step > 0 and due and g_step != self._done_at:
            self.evaluate(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.on_validation and not trainer.sanity_checking and pl_module.g_step != self._done_at:
            self.evaluate(trainer, pl_module, on_epoch=True)


__all__ = ["GenerativeMetrics", "METRICS", "ModelEvaluation"]
