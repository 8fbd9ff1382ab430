"""Evaluation of a model's samples, during training (``GenerativeMetrics``) and from checkpoints
(``lit-gans evaluate``): FID/KID/IS and classifier scores on torchmetrics, PacGAN's mode coverage on
2-D mixtures, modes of stacked digits, as the DataModule's ``evaluation`` declares
(``lit_gans.metrics.spec``), and for class-conditional models on labelled data intra-class FID and
class accuracy.

Class-conditional metrics (``intra_fid``, ``class_accuracy``):

- ``<feature>/intra_fid``: intra-class FID (Miyato & Koyama 2018, cGANs with projection
  discriminator): for each class y the FID between the samples asked for y and the real images
  labelled y, in the same feature space and with the same formula as ``<feature>/fid``; reported as
  the mean over classes. ``ModelEvaluation.per_class`` keeps the value of every class.
- ``<feature>/class_accuracy``: the share of samples asked for class y that the feature network
  (a domain classifier of the data's classes) labels y, over all samples; per class in
  ``per_class``. Inception is an ImageNet classifier, so it does not give this metric.

Protocol: the ``n_samples`` generated samples are split evenly over the K classes (sample i is asked
for class i mod K: n // K or n // K + 1 per class) and serve every image metric (``fid`` too, so a
conditional model's FID is that of class-balanced samples); the real images of class y are those
labelled y among the ``n_real`` cached real images (their features and labels are cached together).
FID on few samples is biased upward, and per class there are K times fewer: with the usual
n_samples = 10,000 and 10 classes, 1,000 per class, fewer than Inception's 2,048 features. Intra-FID
values are therefore for comparing models under one protocol (same feature, n_samples, n_real),
not with published numbers or with ``fid``. A class with fewer than 2 samples on either side makes
``intra_fid`` NaN (with a warning).

When they are computed: with ``metrics=None`` (auto) for a model whose ``latent_spec.num_classes``
equals the DataModule's ``num_classes`` (> 0), when the image metrics are on and the feature space is
a domain classifier (not Inception); for unconditional models they are silently absent. Asked for
explicitly (``metrics=[..., "intra_fid"]``) they raise one ``ConfigError`` on unlabelled data, with
``feature: inception`` (``class_accuracy`` only), with a classifier of other classes
(``class_accuracy`` only) and, at ``evaluate``, for an unconditional model.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional, Sequence

import lightning as L
import torch
from torch import Tensor

from lit_gans.errors import ConfigError
from lit_gans.metrics.evaluator import Evaluator, _cached, labelled_real_features, rank_share, real_features
from lit_gans.metrics.modes import mode_coverage
from lit_gans.metrics.spec import CONDITIONAL_METRICS, FEATURE_METRICS, IMAGE_METRICS, METRICS, evaluation_of


def _world(trainer: Optional[L.Trainer]) -> tuple[int, int]:
    return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)


def model_classes(module: Any) -> int:
    """The classes a model's samples can be asked for (``module.latent_spec.num_classes``; 0 when
    unconditional or when the object has no latent spec)."""
    return int(getattr(getattr(module, "latent_spec", None), "num_classes", 0) or 0)


class ModelEvaluation:
    """The metrics that suit a DataModule, computed on samples of a model.

    The DataModule's ``evaluation`` (a ``lit_gans.metrics.spec.DataEvaluation``; from its
    ``data_shape`` when it has none) says which metrics suit it. With ``metrics=None`` (auto) those
    are PacGAN's mode coverage (``modes``) on 2-D mixtures, the 1,000-mode count (``stacked``) on
    stacked digits, and on images ``fid``, ``kid``, ``is`` and ``classifier`` in the feature space
    ``feature``. ``feature="auto"`` takes the domain classifier the data declares when it ships
    (digits, Fashion-MNIST) and otherwise Inception, whose weights must be on disk
    (``inception_weights``); without them, auto skips the image metrics with one warning.

    For class-conditional models on labelled data it adds ``intra_fid`` and ``class_accuracy`` (see
    the module docstring for when, and for their protocol); ``per_class`` holds their values per
    class after each ``evaluate``.

    It reaches the model only through ``module.sample(n)`` (``module.sample(n, labels=...)`` for a
    conditional model), ``module.latent_spec.num_classes`` (when it has a latent spec) and
    ``module.device``.

    Under DDP each rank draws its share of ``n_samples`` for the torchmetrics metrics (for a
    conditional model, its contiguous slice of the global class sequence 0, 1, ..., K-1, 0, 1, ...),
    and holds its slice of the cached real features, so the synced states equal one process's. For
    ``intra_fid`` every rank holds all real features with their labels and torchmetrics gathers the
    generated features and labels of every rank, so every rank computes the same per-class FIDs;
    ``class_accuracy``'s hits and counts per class are summed over ranks. Every rank must call
    ``evaluate``.
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
        data = type(datamodule).__name__
        #: the data's classes (0: unlabelled)
        self.num_classes = int(getattr(datamodule, "num_classes", 0) or 0)
        #: the metrics to compute; ``intra_fid`` and ``class_accuracy`` only for conditional models
        #: (``metrics_for``)
        self.metrics = self.declared.choose(metrics, data)
        #: the class-conditional metrics asked for by name (an error where they cannot be computed)
        self.explicit = [m for m in CONDITIONAL_METRICS if m in self.metrics] if metrics is not None else []
        if self.explicit and self.num_classes < 1:
            raise ConfigError(
                f"metrics {self.explicit} need labelled data (samples of each class against real images of that "
                f"class); {data} has no classes (num_classes={self.num_classes}); leave {', '.join(self.explicit)} "
                "out of the metrics"
            )
        if "modes" in self.metrics and not (hasattr(datamodule, "modes") and hasattr(datamodule, "std")):
            raise ConfigError(
                f"metric 'modes' needs the mixture's means and std: {data} declares it "
                "but has no 'modes' and 'std' attributes; add them (as Toy2DDataModule has)"
            )
        self.feature = self._feature(feature) if set(self.metrics) & set(FEATURE_METRICS) else None
        if self.feature is None:
            self.metrics = [m for m in self.metrics if m not in FEATURE_METRICS]
        elif metrics is None and self.num_classes and self.feature != "inception" and set(self.metrics) & set(IMAGE_METRICS):
            self.metrics += [m for m in CONDITIONAL_METRICS if m not in self.metrics]
        if self.feature == "inception" and "class_accuracy" in self.metrics:
            message = (
                "metric 'class_accuracy' needs a classifier of the data's classes, and Inception is an ImageNet "
                "classifier; evaluate in a domain network's space (feature: digits, fashion_mnist or a weights file "
                "of `lit-gans train-classifier`) or leave class_accuracy out of the metrics"
            )
            if "class_accuracy" in self.explicit:
                raise ConfigError(message)
            warnings.warn(f"class_accuracy is off: {message}", stacklevel=2)
            self.metrics.remove("class_accuracy")
        self.evaluator: Optional[Evaluator] = None
        self._digits: Optional[torch.nn.Module] = None  # the network that reads stacked digits
        self._warned_classes = False
        #: the last ``evaluate``'s values per class (class y at index y), under the keys of its
        #: results: ``<feature>/intra_fid`` and ``<feature>/class_accuracy`` when they were computed
        self.per_class: dict[str, list[float]] = {}

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
    def _real_batches(self, n: int, labels: bool = False):
        """Batches of the first ``n`` real images in a fixed shuffled order (with their labels: ``labels``)."""
        dataset = self.datamodule.train_set
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[: min(n, len(dataset))]
        for start in range(0, len(order), self.batch_size):
            items = [dataset[int(i)] for i in order[start : start + self.batch_size]]
            images = torch.stack([item[0] for item in items])
            yield (images, torch.tensor([int(item[1]) for item in items])) if labels else images

    def prepare(self, device: torch.device, n_real: Optional[int] = None) -> None:
        """Build the feature network on ``device`` and load (or compute and cache) real features
        (with their labels when ``intra_fid`` may be computed)."""
        feature_metrics = [m for m in self.metrics if m in FEATURE_METRICS]
        if not feature_metrics or self.evaluator is not None:
            return
        from lit_gans.metrics.features import feature_network

        network = feature_network(self.feature, self.inception_weights).to(device)
        if "class_accuracy" in feature_metrics and network.num_classes != self.num_classes:
            message = (
                f"metric 'class_accuracy' needs a classifier of the data's {self.num_classes} classes; the feature "
                f"network {self.feature} classifies {network.num_classes}; evaluate in a domain network of this data "
                "or leave class_accuracy out of the metrics"
            )
            if "class_accuracy" in self.explicit:
                raise ConfigError(message)
            warnings.warn(f"class_accuracy is off: {message}", stacklevel=2)
            self.metrics.remove("class_accuracy")
            feature_metrics.remove("class_accuracy")
        border = int(getattr(self.datamodule, "evaluation_border", 0) or 0)  # e.g. the padding of fit: pad data
        self.evaluator = Evaluator(network, feature_metrics, kid_subset_size=self.kid_subset_size, num_classes=self.num_classes,
                                   border=border).to(device)
        if self.evaluator.needs_real:
            if self.datamodule.train_set is None:
                self.datamodule.setup("fit")
            n = n_real or self.n_real
            key = {
                "data": f"{type(self.datamodule).__module__}.{type(self.datamodule).__qualname__}",
                "hparams": {k: v for k, v in dict(self.datamodule.hparams).items() if not k.startswith("_") and k not in ("batch_size", "num_workers", "pin_memory")},
                "feature": self.feature,
                "n_real": n,
                **({"border": border} if border else {}),
            }
            featurize = lambda x: self.evaluator.features(x)[0]  # noqa: E731
            if self.evaluator.needs_real_labels:  # one pass and one cache file for fid/kid and intra_fid
                features, labels = labelled_real_features(key, lambda: self._real_batches(n, labels=True), featurize, self.cache_dir)
                self.evaluator.set_real_classes(features, labels)  # every class, whole, on every rank
            else:
                features = real_features(key, lambda: self._real_batches(n), featurize, self.cache_dir)
            self.evaluator.add_real_features(rank_share(features).to(device))
            kid = self.evaluator.kid
            if kid is not None and min(len(features), self.n_samples) >= kid.subset_size:
                # the real subsets' KID terms depend on the real features alone: cached beside them
                full = features.double().to(device)
                terms = _cached({**key, "kid_real_terms": [kid.subsets, kid.subset_size, kid.real_subset_seed]},
                                lambda: {k: v.cpu() for k, v in kid.real_terms(full).items()}, self.cache_dir)
                kid.set_real_terms(full, terms["index"], terms["within"])

    def metrics_for(self, module: Any) -> list[str]:
        """The metrics ``evaluate`` computes for ``module``: ``metrics`` without ``intra_fid`` and
        ``class_accuracy`` unless ``module`` is conditional on the data's classes. Raises one
        ``ConfigError`` when they were asked for by name and ``module`` is not (every rank raises it)."""
        conditional = [m for m in CONDITIONAL_METRICS if m in self.metrics]
        if not conditional:
            return list(self.metrics)
        k = model_classes(module)
        problem = None
        if k == 0:
            problem = (f"{type(module).__name__} is unconditional (latent_spec.num_classes is 0); evaluate a "
                       "class-conditional model (e.g. CGAN, ACGAN, CGANPD)")
        elif k != self.num_classes:
            problem = (f"{type(module).__name__} is conditional on {k} classes but {type(self.datamodule).__name__} "
                       f"has {self.num_classes}; evaluate it on the data it was trained on")
        if problem is None:
            return list(self.metrics)
        if self.explicit:
            raise ConfigError(f"metrics {self.explicit} need a model conditional on the data's classes: {problem}, "
                              f"or leave {', '.join(self.explicit)} out of the metrics")
        if k and not self._warned_classes:  # an unconditional model: silently absent
            warnings.warn(f"intra_fid and class_accuracy are off: {problem}", stacklevel=2)
            self._warned_classes = True
        return [m for m in self.metrics if m not in CONDITIONAL_METRICS]

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def _samples(self, module: Any, n: int, seed: int, labels: Optional[Tensor] = None) -> Tensor:
        """``n`` samples from ``seed``, in batches; asked for ``labels`` (n,) when given."""
        device = module.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            if labels is None:
                return torch.cat([module.sample(min(self.batch_size, n - i)) for i in range(0, n, self.batch_size)])
            return torch.cat([module.sample(len(part), labels=part) for part in labels.split(self.batch_size)])

    def evaluate(self, module: Any, seed: int = 0, trainer: Optional[L.Trainer] = None, n_samples: Optional[int] = None) -> dict[str, float]:
        """The metrics of ``module``'s samples (EMA generator when enabled), as ``{"<group>/<name>": value}``;
        the per-class values of ``intra_fid`` and ``class_accuracy`` go to ``per_class``."""
        conditional = bool(set(self.metrics_for(module)) & set(CONDITIONAL_METRICS))
        n = n_samples or self.n_samples
        rank, world = _world(trainer)
        out: dict[str, float] = {}
        self.per_class = {}
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
        if set(self.metrics) & set(FEATURE_METRICS):
            self.prepare(module.device)  # once; callers usually have (building networks and real features up front)
        if self.evaluator is not None:
            self.evaluator.reset_fake()
            mine = torch.arange(max(n, world)).tensor_split(world)[rank]  # every rank at least one
            k = model_classes(module)
            # a conditional model's samples are asked for classes 0, 1, ..., K-1, 0, 1, ... over all ranks
            labels = mine % k if k else None
            samples = self._samples(module, len(mine), seed * 1009 + rank, labels=labels)
            for i, batch in enumerate(samples.split(self.batch_size)):
                asked = labels[i * self.batch_size : i * self.batch_size + len(batch)] if conditional else None
                self.evaluator.update_fake(batch, asked)
            values = self.evaluator.compute(seed)
            out.update({f"{self.feature}/{name}": v for name, v in values.items()})
            self.per_class = {f"{self.feature}/{name}": v for name, v in self.evaluator.per_class.items()}
        return out


__all__ = ["CONDITIONAL_METRICS", "METRICS", "ModelEvaluation", "model_classes"]
