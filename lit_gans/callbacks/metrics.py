"""The metrics callback: evaluates during training with ``lit_gans.metrics.evaluation.ModelEvaluation``
(re-exported here, its former home)."""

from __future__ import annotations

import math
import time
import warnings
from typing import Any, Optional

import lightning as L
import torch
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.seed import isolate_rng

from lit_gans.callbacks.timing import Timed
from lit_gans.errors import ConfigError
from lit_gans.metrics.evaluation import METRICS, ModelEvaluation

#: samples per evaluation under ``fast_dev_run``: enough to check the plumbing, not to measure
FAST_DEV_RUN_SAMPLES = 64


#: the share of a run's time that evaluation may take before the metrics callback warns
EVALUATION_BUDGET = 0.10


class GenerativeMetrics(Timed, L.Callback):
    """Evaluate every ``every_n_g_steps`` generator iterations and when training stops (``max_g_steps``,
    ``max_steps``, ``max_time``...), on the EMA generator when enabled, and log to every logger (e.g.
    ``digits/fid``, ``digits/kid``, ``inception/is``, ``modes/high_quality``; for a class-conditional
    model on labelled data ``digits/intra_fid`` and ``digits/class_accuracy``, with the values per
    class in ``evaluation.per_class``).

    Real features are computed once and cached (``$LIT_GANS_CACHE``, default ``~/.cache/lit-gans``).
    Under ``fast_dev_run`` evaluations use 64 samples (a plumbing check, with one small-sample warning).

    Evaluation runs on this schedule only, not at Lightning's validations during ``fit`` (unless
    ``on_validation``); ``lit-gans validate`` evaluates.
    The callback times itself: when, at the measured costs of an evaluation and of a generator
    iteration, its schedule would spend more than ``budget`` of the run evaluating, it warns once with
    the numbers and the ``every_n_g_steps`` that fits.

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
        on_validation: also evaluate at the end of each validation (off: validation stays cheap).
        cache_dir: folder for cached real features (default ``$LIT_GANS_CACHE``/real_features).
        budget: the share of the run's time evaluation may take before the callback warns (0.1).
    """

    time_category = "evaluation"

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
        on_validation: bool = False,
        cache_dir: Optional[str] = None,
        budget: float = EVALUATION_BUDGET,
    ):
        if every_n_g_steps < 1:
            raise ConfigError(f"metrics.every_n_g_steps={every_n_g_steps} must be at least 1")
        if not 0 < budget <= 1:
            raise ConfigError(f"metrics.budget={budget} must be in (0, 1]: the share of the run evaluation may take, e.g. 0.1")
        self.every_n_g_steps, self.on_validation, self.budget = every_n_g_steps, on_validation, budget
        self.options = dict(
            metrics=metrics, feature=feature, inception_weights=inception_weights, n_samples=n_samples, n_real=n_real,
            batch_size=batch_size, kid_subset_size=kid_subset_size, cache_dir=cache_dir,
        )
        self.evaluation: Optional[ModelEvaluation] = None
        self._done_at = -1
        self.history: list[dict[str, float]] = []
        self.seconds_in_validation = 0.0
        self._started: Optional[tuple[float, int]] = None  # (time, g_step) when training started
        self._warned = False

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

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = (time.perf_counter(), pl_module.g_step)

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule, on_epoch: bool = False) -> Optional[dict[str, float]]:
        if self.evaluation is None or not self.evaluation.metrics:
            return None
        before = self.seconds
        with self.timed():
            metrics, preparing = self._evaluate(trainer, pl_module, on_epoch)
        if on_epoch:
            self.seconds_in_validation += self.seconds - before
        if not trainer.fast_dev_run:  # the one-off preparation (real features, the network) is not a cost per evaluation
            self._check_budget(trainer, pl_module, self.seconds - before - preparing)
        return metrics

    def _check_budget(self, trainer: L.Trainer, pl_module: L.LightningModule, cost: float) -> None:
        """Warn once when evaluations of ``cost`` seconds every ``every_n_g_steps`` generator iterations
        would take more than ``budget`` of the run, at the generator iteration's measured cost."""
        if self._warned or self._started is None or trainer.should_stop:
            return
        started, first_step = self._started
        steps = pl_module.g_step - first_step
        if steps <= 0:
            return
        per_step = max(time.perf_counter() - started - self.seconds, 0.0) / steps
        share = cost / (cost + self.every_n_g_steps * per_step)
        if share > self.budget:
            self._warned = True
            fits = math.ceil(cost * (1 - self.budget) / (self.budget * max(per_step, 1e-9)))
            if trainer.is_global_zero:
                warnings.warn(
                    f"lit-gans: an evaluation takes {cost:.1f} s and a generator iteration {1000 * per_step:.0f} ms, so "
                    f"evaluating every {self.every_n_g_steps} iterations spends {100 * share:.0f} % of the run on metrics "
                    f"(budget {100 * self.budget:.0f} %); set metrics.every_n_g_steps to {fits} or more, or lower "
                    f"metrics.n_samples ({self.options['n_samples']})", stacklevel=2)

    def _evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule, on_epoch: bool) -> tuple[dict[str, float], float]:
        self._done_at = pl_module.g_step
        small = FAST_DEV_RUN_SAMPLES if trainer.fast_dev_run else None
        getattr(pl_module, "synchronize_buffers", lambda: None)()  # every rank samples from rank 0's model
        with isolate_rng():  # building networks and sampling must not move training's random stream
            start = time.perf_counter()
            self.evaluation.prepare(pl_module.device, n_real=small)
            preparing = time.perf_counter() - start
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
        return metrics, preparing

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any, **kwargs: Any) -> None:
        g_step = pl_module.g_step
        due = g_step % self.every_n_g_steps == 0 or (trainer.should_stop and not trainer.fast_dev_run)
        if g_step > 0 and due and g_step != self._done_at:
            self.evaluate(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # training stopped where ``on_train_batch_end`` could not see it coming (``trainer.max_time``, whose timer
        # may run after this callback, or the end of ``max_epochs``): evaluate the final model all the same
        if not trainer.fast_dev_run and pl_module.g_step > 0 and pl_module.g_step != self._done_at:
            self.evaluate(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # in ``fit`` only when asked (validation stays cheap); ``lit-gans validate`` is a request for the numbers
        wanted = self.on_validation or trainer.state.fn == TrainerFn.VALIDATING
        if wanted and not trainer.sanity_checking and pl_module.g_step != self._done_at:
            self.evaluate(trainer, pl_module, on_epoch=True)


__all__ = ["GenerativeMetrics", "METRICS", "ModelEvaluation"]
