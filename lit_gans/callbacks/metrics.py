"""Evaluation during training and from checkpoints: FID/KID/IS and classifier scores on torchmetrics,
PacGAN's mode coverage on 2-D mixtures, modes of stacked digits."""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional, Sequence

import lightning as L
import torch
from lightning.pytorch.utilities.seed import isolate_rng
from torch import Tensor

from lit_gans.errors import ConfigError
from lit_gans.metrics.evaluator import IMAGE_METRICS, Evaluator, rank_share, real_features
from lit_gans.metrics.modes import mode_coverage

METRICS = (*IMAGE_METRICS, "modes", "stacked")
#: samples per evaluation under ``fast_dev_run``: enough to check the plumbing, not to measure
FAST_DEV_RUN_SAMPLES = 64


def _world(trainer: Optional[L.Trainer]) -> tuple[int, int]:
    return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)


class ModelEvaluation:
    """The metrics that suit a DataModule, computed on samples of a model.

    With ``metrics=None`` (auto): PacGAN's mode coverage (``modes``) on 2-D mixtures, the 1,000-mode
    count (``stacked``) on stacked digits, and on images ``fid``, ``kid``, ``is`` and ``classifier``
    in the feature space ``feature``. ``feature="auto"`` takes the shipped domain classifier of the
    dataset (digits, Fashion-MNIST) and otherwise Inception, whose weights must be on disk
    (``inception_weights``); without them, auto skips the image metrics with one warning.

    Under DDP each rank draws its share of ``n_samples`` for the torchmetrics metrics, and holds
    its slice of the cached real features, so the synced values equal one process's. Every rank
    must call ``evaluate``.
    """

    def __init__(
        self,
        datamodule: Any,
        metrics: Optional[Sequence[str]] = None,
        feature: str = "auto",
        inception_weights: Optional[str] = None,
        n_samples: int = 10_000,
        n_real: int = 10_000,
        batch_size: int = 250,
        kid_subset_size: int = 1000,
        cache_dir: Optional[str] = None,
    ):
        for name, value in (("n_samples", n_samples), ("n_real", n_real), ("batch_size", batch_size)):
            if value < 1:
                raise ConfigError(f"metrics.{name}={value} must be at least 1")
        unknown = sorted(set(metrics or ()) - set(METRICS))
        if unknown:
            raise ConfigError(f"unknown metrics {unknown}; choose from {', '.join(METRICS)}")
        self.datamodule, self.n_samples, self.n_real, self.batch_size = datamodule, n_samples, n_real, batch_size
        self.inception_weights, self.kid_subset_size, self.cache_dir = inception_weights, kid_subset_size, cache_dir
        self.kind = self._kind(datamodule)
        self.metrics = self._resolve(metrics)
        self.feature = self._feature(feature) if set(self.metrics) & set(IMAGE_METRICS) else None
        if self.feature is None:
            self.metrics = [m for m in self.metrics if m not in IMAGE_METRICS]
        self.evaluator: Optional[Evaluator] = None
        self._digits: Optional[torch.nn.Module] = None  # the network that reads stacked digits

    @staticmethod
    def _kind(datamodule: Any) -> str:
        from datamodules import Toy2DDataModule

        if isinstance(datamodule, Toy2DDataModule):
            return "toy"
        if type(datamodule).__name__ == "StackedDigitsDataModule":
            return "stacked"
        return "image" if len(getattr(datamodule, "data_shape", ())) == 3 else "other"

    def _resolve(self, metrics: Optional[Sequence[str]]) -> list[str]:
        if metrics is None:
            return {"toy": ["modes"], "stacked": ["stacked"], "image": list(IMAGE_METRICS)}.get(self.kind, [])
        if "modes" in metrics and self.kind != "toy":
            raise ConfigError("metric 'modes' (PacGAN's mode coverage) needs a 2-D mixture: data Toy2DDataModule")
        if "stacked" in metrics and self.kind != "stacked":
            raise ConfigError("metric 'stacked' (1,000-mode count) needs data StackedDigitsDataModule")
        if set(metrics) & set(IMAGE_METRICS) and self.kind not in ("image", "stacked"):
            raise ConfigError(f"metrics {sorted(set(metrics) & set(IMAGE_METRICS))} need image data")
        return list(dict.fromkeys(metrics))

    def _feature(self, feature: str) -> Optional[str]:
        from lit_gans.metrics.domain import domain_for
        from lit_gans.metrics.features import find_inception_weights

        if feature != "auto":
            return feature
        domain = domain_for(self.datamodule)
        if domain == "mnist":
            domain = None  # no MNIST weights ship (the dataset cannot be fetched where lit-gans is built)
        if domain is not None:
            return domain
        try:
            find_inception_weights(self.inception_weights)
            return "inception"
        except ConfigError as err:
            warnings.warn(f"FID/KID/IS are off: {err}", stacklevel=2)
            return None

    # ------------------------------------------------------------------ preparation
    def _real_batches(self, n: int):
        dataset = self.datamodule.train_set
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[: min(n, len(dataset))]
        for start in range(0, len(order), self.batch_size):
            yield torch.stack([dataset[int(i)][0] for i in order[start : start + self.batch_size]])

    def prepare(self, device: torch.device, n_real: Optional[int] = None) -> None:
        """Build the feature network on ``device`` and load (or compute and cache) real features."""
        image_metrics = [m for m in self.metrics if m in IMAGE_METRICS]
        if not image_metrics or self.evaluator is not None:
            return
        from lit_gans.metrics.features import feature_network

        network = feature_network(self.feature, self.inception_weights).to(device)
        self.evaluator = Evaluator(network, image_metrics, kid_subset_size=self.kid_subset_size).to(device)
        if self.evaluator.needs_real:
            if self.datamodule.train_set is None:
                self.datamodule.setup("fit")
            n = n_real or self.n_real
            key = {
                "data": f"{type(self.datamodule).__module__}.{type(self.datamodule).__qualname__}",
                "hparams": {k: v for k, v in dict(self.datamodule.hparams).items() if not k.startswith("_") and k not in ("batch_size", "num_workers", "pin_memory")},
                "feature": self.feature,
                "n_real": n,
            }
            features = real_features(key, lambda: self._real_batches(n), lambda x: self.evaluator.features(x)[0], self.cache_dir)
            self.evaluator.add_real_features(rank_share(features).to(device))

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def _samples(self, module: Any, n: int, seed: int) -> Tensor:
        device = module.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            return torch.cat([module.sample(min(self.batch_size, n - i)) for i in range(0, n, self.batch_size)])

    def evaluate(self, module: Any, seed: int = 0, trainer: Optional[L.Trainer] = None, n_samples: Optional[int] = None) -> dict[str, float]:
        """The metrics of ``module``'s samples (EMA generator when enabled), as ``{"<group>/<name>": value}``."""
        n = n_samples or self.n_samples
        rank, world = _world(trainer)
        out: dict[str, float] = {}
        if "modes" in self.metrics:
            stats = mode_coverage(self._samples(module, n, seed), self.datamodule.modes, self.datamodule.std)
            # reverse KL is undefined while no sample is of high quality: not reported then
            out.update({f"modes/{k}": float(v) for k, v in stats.items() if math.isfinite(v)})
        if "stacked" in self.metrics:
            from lit_gans.metrics.domain import load_domain_network
            from lit_gans.metrics.stacked import stacked_modes

            if self._digits is None:
                self._digits = load_domain_network("digits", map_location=module.device)
            stats = stacked_modes(self._samples(module, n, seed), self._digits)
            out.update({f"stacked/{k}": float(v) for k, v in stats.items()})
        if self.evaluator is not None:
            self.prepare(module.device)
            self.evaluator.reset_fake()
            mine = len(torch.arange(max(n, world)).tensor_split(world)[rank])  # every rank at least one
            samples = self._samples(module, mine, seed * 1009 + rank)
            for batch in samples.split(self.batch_size):
                self.evaluator.update_fake(batch)
            values = self.evaluator.compute(seed)
            out.update({f"{self.feature}/{k}": v for k, v in values.items()})
        return out


class GenerativeMetrics(L.Callback):
    """Evaluate every ``every_n_g_steps`` generator iterations, when ``max_g_steps`` is reached and at
    each validation, on the EMA generator when enabled, and log to every logger (e.g.
    ``digits/fid``, ``digits/kid``, ``inception/is``, ``modes/high_quality``).

    Real features are computed once and cached (``$LIT_GANS_CACHE``, default ``~/.cache/lit-gans``).
    Under ``fast_dev_run`` evaluations use 64 samples (a plumbing check, with one small-sample warning).

    Args:
        every_n_g_steps: generator iterations between evaluations.
        n_samples: generated samples per evaluation (PacGAN's protocol is 2,500 for 2-D mixtures;
            FID is usually reported on 10,000 or 50,000).
        metrics: any of fid, kid, is, classifier, modes, stacked; null picks what suits the data.
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
        if self.evaluation is None and trainer.datamodule is not None:
            self.evaluation = ModelEvaluation(trainer.datamodule, **self.options)

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
