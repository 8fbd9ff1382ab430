"""FID, KID, IS and classifier scores on torchmetrics, with one feature pass per batch.

The feature network (Inception, or a shipped domain classifier: ``lit_gans.metrics.features``) runs
once per batch; its features go to torchmetrics' ``FrechetInceptionDistance`` and to KID
(``lit_gans.metrics.kid.KernelDistance``: torchmetrics' ``KernelInceptionDistance`` with each
kernel matrix computed once) and its logits to ``InceptionScore`` and ``ClassifierScores``, each
built with a pass-through ``feature`` module. torchmetrics keeps the states and syncs them across
DDP ranks in ``compute()``, which therefore every rank must call (torchmetrics issue 2684 is the
hang when only rank 0 does).

Real statistics: the real features are computed once per (dataset, feature network, count) and
cached on disk (``real_features``); under DDP each rank holds a contiguous slice of them, so that
the synced states equal a single process's.

Class-conditional metrics (samples asked for given classes, ``update_fake(images, labels)``):

- ``intra_fid`` (``IntraClassFID``): for each class y, the FID between the samples asked for y and
  the real images labelled y, in the same features as ``fid`` and with the same formula
  (``lit_gans.metrics.frechet``); reported as the mean over classes, the values per class in
  ``Evaluator.per_class``. The real features of every class (``labelled_real_features``, cached
  with their labels) are held whole by every rank; the generated features and their labels are
  gathered from every rank at ``compute()`` (torchmetrics ``cat`` states), so every rank computes
  the same per-class distances from the same sets.
- ``class_accuracy`` (``lit_gans.metrics.codes.ClassAccuracy``): the share of samples asked for y
  that the feature network's classifier labels y (hits and counts per class, summed over ranks).
  The network's classes must be the data's labels: a shipped domain network, not Inception.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.image import FrechetInceptionDistance, InceptionScore
from torchmetrics.utilities import dim_zero_cat

from lit_gans.errors import ConfigError
from lit_gans.metrics.codes import ClassAccuracy
from lit_gans.metrics.frechet import frechet_distance, gaussian_stats
from lit_gans.metrics.kid import KernelDistance
from lit_gans.metrics.modes import uniform_kl
from lit_gans.metrics.spec import CONDITIONAL_METRICS, FEATURE_METRICS, IMAGE_METRICS


class _Given(nn.Module):
    """A pass-through ``feature`` module: the evaluator hands torchmetrics features it computed once."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


class ClassifierScores(Metric):
    """From a classifier's logits on generated images: ``classes`` (classes predicted at least once),
    ``class_kl`` (KL of the predicted-class histogram to uniform; 0 for balanced classes, log K for
    one class) and ``confidence`` (mean top softmax probability)."""

    full_state_update = False

    def __init__(self, num_classes: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.add_state("counts", torch.zeros(num_classes, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("confidence_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, logits: Tensor) -> None:
        probs = logits.double().softmax(1)
        confidence, predicted = probs.max(1)
        self.counts += torch.bincount(predicted, minlength=self.num_classes).to(self.counts)
        self.confidence_sum += confidence.sum()

    def compute(self) -> dict[str, Tensor]:
        return {
            "classes": (self.counts > 0).sum().double(),
            "class_kl": torch.tensor(uniform_kl(self.counts, self.num_classes), dtype=torch.float64),
            "confidence": self.confidence_sum / self.counts.sum().clamp_min(1),
        }


class IntraClassFID(Metric):
    """FID per class (Miyato & Koyama 2018's intra-FID before its mean over classes): the Fréchet
    distance between the Gaussians fitted to the features of the samples asked for class y and to
    the features of the real images labelled y.

    ``set_real(features, labels)`` gives the real features of every class once (all of them, on
    every rank; they are kept on the CPU and are not reset); ``update(features, labels)`` adds
    generated ones, which DDP gathers from every rank at ``compute()``. ``compute`` returns
    ``per_class`` (num_classes,) float64 (NaN for a class with fewer than 2 samples on either side),
    ``fake_counts`` and ``real_counts`` (num_classes,).
    """

    full_state_update = False

    def __init__(self, num_classes: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.add_state("features", [], dist_reduce_fx="cat")
        self.add_state("labels", [], dist_reduce_fx="cat")
        self.real_features: Optional[Tensor] = None
        self.real_labels: Optional[Tensor] = None

    def set_real(self, features: Tensor, labels: Tensor) -> None:
        if len(features) != len(labels):
            raise ConfigError(f"{len(features)} real features but {len(labels)} labels")
        self.real_features, self.real_labels = features.detach().float().cpu(), labels.detach().long().cpu()

    def update(self, features: Tensor, labels: Tensor) -> None:
        self.features.append(features.detach().float())
        self.labels.append(labels.detach().long().to(features.device))

    def compute(self) -> dict[str, Tensor]:
        if self.real_features is None:
            raise ConfigError("intra-class FID needs the real features of each class: call set_real first")
        fake, labels = dim_zero_cat(self.features), dim_zero_cat(self.labels)
        k = self.num_classes
        fake_counts = torch.bincount(labels, minlength=k)[:k].cpu()
        real_counts = torch.bincount(self.real_labels, minlength=k)[:k]
        per_class = torch.full((k,), math.nan, dtype=torch.float64)
        for y in range(k):
            if fake_counts[y] >= 2 and real_counts[y] >= 2:
                real = self.real_features[self.real_labels == y].to(fake.device)
                per_class[y] = frechet_distance(*gaussian_stats(real), *gaussian_stats(fake[labels == y]))
        return {"per_class": per_class, "fake_counts": fake_counts, "real_counts": real_counts}


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class Evaluator(nn.Module):
    """Image metrics in one feature space.

    Args:
        network: maps images in [-1, 1] to ``(features, logits)`` (``lit_gans.metrics.features``).
        metrics: any of ``fid``, ``kid``, ``is``, ``classifier``, and for samples asked for classes
            ``intra_fid`` and ``class_accuracy`` (computed only when ``update_fake`` is given labels).
        kid_subsets: KID subsets (torchmetrics' ``subsets``).
        kid_subset_size: KID subset size; lowered to the sample count when there are fewer samples.
        is_splits: IS splits; lowered to the sample count when there are fewer samples.
        num_classes: the data's classes (for ``intra_fid`` and ``class_accuracy``); for
            ``class_accuracy`` the network must classify exactly these classes.
        border: pixels on each side of every image (real and generated) that the network does not
            read: the DataModule's ``evaluation_border`` (the padding of ``fit: pad`` data).
    """

    def __init__(
        self,
        network: nn.Module,
        metrics: Sequence[str] = IMAGE_METRICS,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        is_splits: int = 10,
        num_classes: int = 0,
        border: int = 0,
    ):
        super().__init__()
        if border < 0:
            raise ConfigError(f"border={border} must be >= 0 (pixels on each side the feature network does not read)")
        self.border = border
        unknown = sorted(set(metrics) - set(FEATURE_METRICS))
        if unknown or not metrics:
            raise ConfigError(f"unknown image metrics {unknown or list(metrics)}; choose from {', '.join(FEATURE_METRICS)}")
        conditional = [m for m in CONDITIONAL_METRICS if m in metrics]
        if conditional and num_classes < 1:
            raise ConfigError(f"metrics {conditional} need the data's classes: pass num_classes (the data's labels)")
        if "class_accuracy" in metrics and network.num_classes != num_classes:
            raise ConfigError(
                f"metric 'class_accuracy' needs a classifier of the data's {num_classes} classes; the "
                f"{getattr(network, 'name', type(network).__name__)} network has {network.num_classes}"
            )
        self.network = network.eval().requires_grad_(False)
        self.metric_names = tuple(dict.fromkeys(metrics))
        d, k = network.num_features, network.num_classes
        with warnings.catch_warnings():  # torchmetrics' note that KID and IS keep features in memory
            warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
            self.fid = FrechetInceptionDistance(feature=_Given(d), reset_real_features=False) if "fid" in metrics else None
            self.kid = (
                KernelDistance(feature=_Given(d), subsets=kid_subsets, subset_size=kid_subset_size, reset_real_features=False)
                if "kid" in metrics
                else None
            )
            self.inception_score = InceptionScore(feature=_Given(k), splits=is_splits) if "is" in metrics else None
        self.classifier = ClassifierScores(k) if "classifier" in metrics else None
        self.intra_fid = IntraClassFID(num_classes) if "intra_fid" in metrics else None
        self.class_accuracy = ClassAccuracy(num_classes) if "class_accuracy" in metrics else None
        self.num_classes = num_classes
        self.kid_subset_size, self.is_splits = kid_subset_size, is_splits
        self.n_real = 0  # this rank's
        self.n_fake = 0
        self._pending: list[tuple[Tensor, Tensor]] = []
        self._labelled = False  # whether the generated samples came with the classes they were asked for
        self._warned: set[str] = set()
        #: the last ``compute``'s values per class (class y at index y): ``intra_fid`` and
        #: ``class_accuracy``, when they were computed
        self.per_class: dict[str, list[float]] = {}

    @property
    def needs_real(self) -> bool:
        return self.fid is not None or self.kid is not None or self.intra_fid is not None

    @property
    def needs_real_labels(self) -> bool:
        """Whether the real features must come with their labels (``set_real_classes``)."""
        return self.intra_fid is not None

    @torch.no_grad()
    def features(self, images: Tensor) -> tuple[Tensor, Tensor]:
        device = next(self.network.parameters()).device
        b = self.border
        if b and min(images.shape[-2:]) > 2 * b:
            images = images[..., b:-b, b:-b]
        return self.network(images.to(device))

    def add_real_features(self, features: Tensor) -> None:
        """Add real features (this rank's share of them)."""
        if self.fid is not None:
            self.fid.update(features, real=True)
        if self.kid is not None:  # float64: KID's polynomial-kernel MMD cancels large terms
            self.kid.update(features.double(), real=True)
        self.n_real += len(features)

    def set_real_classes(self, features: Tensor, labels: Tensor) -> None:
        """The real features of every class with their labels, for ``intra_fid``: all of them, on
        every rank (not a rank's share)."""
        if self.intra_fid is not None:
            self.intra_fid.set_real(features, labels)

    @torch.no_grad()
    def update_fake(self, images: Tensor, labels: Optional[Tensor] = None) -> None:
        """Add generated images; ``labels``: the classes they were asked for (conditional models),
        which ``intra_fid`` and ``class_accuracy`` need. Give labels with every batch or with none."""
        features, logits = self.features(images)
        if labels is not None:
            labels = torch.as_tensor(labels, device=features.device).long()
            if labels.shape != (len(images),):
                raise ConfigError(f"labels must have shape ({len(images)},) for {len(images)} images, got {tuple(labels.shape)}")
            self._labelled = True
            if self.intra_fid is not None:
                self.intra_fid.update(features, labels)
            if self.class_accuracy is not None:
                self.class_accuracy.update(logits, labels)
        if self.fid is not None:
            self.fid.update(features, real=False)
        # KID and IS keep per-update lists that DDP gathers update by update, interleaving the
        # ranks; one update per rank at compute() keeps the single-process order
        self._pending.append((features.double(), logits))
        if self.classifier is not None:
            self.classifier.update(logits)
        self.n_fake += len(images)

    def _global_counts(self) -> tuple[int, int]:
        counts = torch.tensor([self.n_real, self.n_fake], dtype=torch.float64)
        if _world()[1] > 1:
            backend_device = next(self.network.parameters()).device if dist.get_backend() == "nccl" else torch.device("cpu")
            counts = counts.to(backend_device)
            dist.all_reduce(counts)
        return int(counts[0]), int(counts[1])

    def _warn(self, message: str, topic: str = "samples", stacklevel: int = 3) -> None:
        """``message`` once per evaluator and ``topic``, from rank 0 (``stacklevel``: at ``compute``'s caller)."""
        if topic not in self._warned and _world()[0] == 0:
            warnings.warn(message, stacklevel=stacklevel)
        self._warned.add(topic)

    def compute(self, seed: int = 0) -> dict[str, float]:
        """The metrics over every rank's samples (call on every rank). FID/KID are NaN with fewer
        than 2 samples on either side; with fewer samples than feature dimensions they are computed
        and one warning says they are biased."""
        if self._pending:
            features, logits = (torch.cat(parts) for parts in zip(*self._pending))
            self._pending = []
            if self.kid is not None:
                self.kid.update(features, real=False)
            if self.inception_score is not None:
                self.inception_score.update(logits)
        n_real, n_fake = self._global_counts()
        d = self.network.num_features
        out: dict[str, float] = {}
        with torch.random.fork_rng(devices=[]):  # KID subsets and IS splits are drawn at random
            torch.manual_seed(seed)
            if self.fid is not None or self.kid is not None:
                n = min(n_real, n_fake)
                if n < 2:
                    self._warn(f"FID/KID need at least 2 real and 2 generated samples; got {n_real} and {n_fake}: reported as NaN")
                    out.update({name: math.nan for name in ("fid", "kid") if getattr(self, name) is not None})
                else:
                    if n < d:
                        self._warn(
                            f"FID/KID on {n} samples with {d}-dimensional features are biased upward (fewer samples than "
                            f"features); values are comparable only at equal sample counts: use n_samples >= {d}, "
                            "ideally 10,000 or more"
                        )
                    if self.fid is not None:
                        out["fid"] = float(self.fid.compute())
                    if self.kid is not None:
                        self.kid.subset_size = min(self.kid_subset_size, n)
                        kid_mean, kid_std = self.kid.compute()
                        out["kid"], out["kid_std"] = float(kid_mean), float(kid_std)
            if self.inception_score is not None:
                if n_fake >= 1:
                    self.inception_score.splits = max(1, min(self.is_splits, n_fake))
                    is_mean, is_std = self.inception_score.compute()
                    out["is"], out["is_std"] = float(is_mean), float(is_std)
            if self.classifier is not None and n_fake >= 1:
                out.update({k: float(v) for k, v in self.classifier.compute().items()})
        self.per_class = {}
        if self._labelled:
            out.update(self._compute_conditional())
        return out

    def _compute_conditional(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.intra_fid is not None:
            result = self.intra_fid.compute()
            per_class, fake, real = result["per_class"], result["fake_counts"], result["real_counts"]
            self.per_class["intra_fid"] = per_class.tolist()
            few = int(torch.minimum(fake, real).min())
            if few < 2:
                short = [y for y in range(self.num_classes) if min(fake[y], real[y]) < 2]
                self._warn(
                    f"intra-class FID needs at least 2 real and 2 generated samples of every class; classes {short[:10]}"
                    f"{' and more' if len(short) > 10 else ''} have fewer (generated per class: {int(fake.min())} to "
                    f"{int(fake.max())}, real: {int(real.min())} to {int(real.max())}): reported as NaN", "intra_fid", stacklevel=4)
                out["intra_fid"] = math.nan
            else:
                d = self.network.num_features
                if few < d:
                    self._warn(
                        f"intra-class FID on {few} samples per class with {d}-dimensional features is biased upward "
                        "(fewer samples than features); values are comparable only under one protocol (equal "
                        "n_samples and n_real)", "intra_fid", stacklevel=4)
                out["intra_fid"] = float(per_class.mean())
        if self.class_accuracy is not None:
            result = self.class_accuracy.compute()
            self.per_class["class_accuracy"] = result["per_class"].tolist()
            out["class_accuracy"] = float(result["accuracy"])
        return out

    def reset_fake(self) -> None:
        """Forget generated samples; the real features stay."""
        for metric in (self.fid, self.kid, self.inception_score, self.classifier, self.intra_fid, self.class_accuracy):
            if metric is not None:
                metric.reset()
        self.n_fake = 0
        self._pending = []
        self._labelled = False


# ---------------------------------------------------------------------- real features, cached
def cache_dir() -> Path:
    """Where real features are cached: ``$LIT_GANS_CACHE`` or ``~/.cache/lit-gans``."""
    return Path(os.environ.get("LIT_GANS_CACHE") or Path.home() / ".cache" / "lit-gans") / "real_features"


def _cached(key: dict[str, Any], compute: Callable[[], dict[str, Tensor]], directory: Optional[Path]) -> dict[str, Tensor]:
    """The tensors stored for ``key`` in ``directory`` (default ``cache_dir()``), else ``compute()``'s,
    stored there (written whole, then renamed into place; an unreadable file is recomputed)."""
    directory = cache_dir() if directory is None else Path(directory)
    key = json.loads(json.dumps(key, sort_keys=True, default=str))  # as it reads back from the file
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = directory / f"{key.get('feature', 'features')}-{digest}.pt"
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            if stored.get("key") == key:
                return stored
        except Exception:  # a damaged cache is recomputed below
            pass
    tensors = compute()
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save({"key": key, **tensors}, tmp)
    tmp.replace(path)
    return {"key": key, **tensors}


def real_features(
    key: dict[str, Any],
    images: Callable[[], Iterable[Tensor]],
    featurize: Callable[[Tensor], Tensor],
    directory: Optional[Path] = None,
) -> Tensor:
    """Features of the real images, computed once per ``key`` (dataset, feature network, count) and
    then read from ``directory`` (default ``cache_dir()``). The cache is written whole, then
    renamed into place; an unreadable cache file is recomputed."""
    return _cached(key, lambda: {"features": torch.cat([featurize(batch).float().cpu() for batch in images()])}, directory)["features"]


def labelled_real_features(
    key: dict[str, Any],
    batches: Callable[[], Iterable[tuple[Tensor, Tensor]]],
    featurize: Callable[[Tensor], Tensor],
    directory: Optional[Path] = None,
) -> tuple[Tensor, Tensor]:
    """``real_features`` with the images' labels: ``batches()`` yields ``(images, labels)``; returns
    ``(features, labels)``, cached together under ``key`` plus ``"labels": True`` (a file apart from
    the unlabelled one)."""

    def compute() -> dict[str, Tensor]:
        features, labels = [], []
        for images, y in batches():
            features.append(featurize(images).float().cpu())
            labels.append(torch.as_tensor(y).long().cpu().reshape(-1))
        return {"features": torch.cat(features), "labels": torch.cat(labels)}

    stored = _cached({**key, "labels": True}, compute, directory)
    return stored["features"], stored["labels"]


def rank_share(features: Tensor) -> Tensor:
    """This rank's contiguous slice of ``features`` (all of them in a single process)."""
    rank, world = _world()
    return features.tensor_split(world)[rank] if world > 1 else features


__all__ = ["ClassifierScores", "Evaluator", "IMAGE_METRICS", "IntraClassFID", "cache_dir", "labelled_real_features", "rank_share",
           "real_features"]
