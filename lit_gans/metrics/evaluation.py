"""Evaluation of a model's samples, during training (``GenerativeMetrics``) and from checkpoints
(``lit-gans evaluate``): FID/KID/IS and classifier scores on torchmetrics, PacGAN's mode coverage on
2-D mixtures, modes of stacked digits, as the DataModule's ``evaluation`` declares
(``lit_gans.metrics.spec``)."""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional, Sequence

import lightning as L
import torch
from torch import Tensor

from lit_gans.errors import ConfigError
from lit_gans.metrics.evaluator import Evaluator, rank_share, real_features
from lit_gans.metrics.modes import mode_coverage
from lit_gans.metrics.spec import IMAGE_METRICS, METRICS, evaluation_of


def _world(trainer: Optional[L.Trainer]) -> tuple[int, int]:
    return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)


class ModelEvaluation:
    """The metrics that suit a DataModule, computed on samples of a model.

    The DataModule's ``evaluation`` (a ``lit_gans.metrics.spec.DataEvaluation``; from its
    ``data_shape`` when it has none) says which metrics suit it. With ``metrics=None`` (auto) those
    are PacGAN's mode coverage (``modes``) on 2-D mixtures, the 1,000-mode count (``stacked``) on
    stacked digits, and on images ``fid``, ``kid``, ``is`` and ``classifier`` in the feature space
    ``feature``. ``feature="auto"`` takes the domain classifier the data declares when it ships
    (digits, Fashion-MNIST) and otherwise Inception, whose weights must be on disk
    (``inception_weights``); without them, auto skips the image metrics with one warning.

    It reaches the model only through ``module.sample(n)`` and ``module.device``.

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
        #: what the data declares (``datamodule.evaluation``, or the default of its ``data_shape``)
        self.declared = evaluation_of(datamodule)
        self.metrics = self.declared.choose(metrics, type(datamodule).__name__)
        if "modes" in self.metrics and not (hasattr(datamodule, "modes") and hasattr(datamodule, "std")):
            raise ConfigError(
                f"metric 'modes' needs the mixture's means and std: {type(datamodule).__name__} declares it "
                "but has no 'modes' and 'std' attributes; add them (as Toy2DDataModule has)"
            )
        self.feature = self._feature(feature) if set(self.metrics) & set(IMAGE_METRICS) else None
        if self.feature is None:
            self.metrics = [m for m in self.metrics if m not in IMAGE_METRICS]
        self.evaluator: Optional[Evaluator] = None
        self._digits: Optional[torch.nn.Module] = None  # the network that reads stacked digits

    def _feature(self, feature: str) -> Optional[str]:
        from lit_gans.metrics.domain import NATIVE_SIZE, SHIPPED
        from lit_gans.metrics.features import find_inception_weights

        if feature != "auto":
            return feature
        domain = self.declared.feature
        if domain in NATIVE_SIZE and domain not in SHIPPED:
            domain = None  # its weights do not ship (MNIST cannot be fetched where lit-gans is built)
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


__all__ = ["METRICS", "ModelEvaluation"]
