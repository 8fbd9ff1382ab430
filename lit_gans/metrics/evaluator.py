"""FID, KID, IS and classifier scores on torchmetrics, with one feature pass per batch.

The feature network (Inception, or a shipped domain classifier: ``lit_gans.metrics.features``) runs
once per batch; its features go to torchmetrics' ``FrechetInceptionDistance`` and
``KernelInceptionDistance`` and its logits to ``InceptionScore`` and ``ClassifierScores``, each
built with a pass-through ``feature`` module. torchmetrics keeps the states and syncs them across
DDP ranks in ``compute()``, which therefore every rank must call (torchmetrics issue 2684 is the
hang when only rank 0 does).

Real statistics: the real features are computed once per (dataset, feature network, count) and
cached on disk (``real_features``); under DDP each rank holds a contiguous slice of them, so that
the synced states equal a single process's.
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
from torchmetrics.image import FrechetInceptionDistance, InceptionScore, KernelInceptionDistance

from lit_gans.errors import ConfigError
from lit_gans.metrics.modes import uniform_kl
from lit_gans.metrics.spec import IMAGE_METRICS


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


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class Evaluator(nn.Module):
    """Image metrics in one feature space.

    Args:
        network: maps images in [-1, 1] to ``(features, logits)`` (``lit_gans.metrics.features``).
        metrics: any of ``fid``, ``kid``, ``is``, ``classifier``.
        kid_subsets: KID subsets (torchmetrics' ``subsets``).
        kid_subset_size: KID subset size; lowered to the sample count when there are fewer samples.
        is_splits: IS splits; lowered to the sample count when there are fewer samples.
    """

    def __init__(
        self,
        network: nn.Module,
        metrics: Sequence[str] = IMAGE_METRICS,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        is_splits: int = 10,
    ):
        super().__init__()
        unknown = sorted(set(metrics) - set(IMAGE_METRICS))
        if unknown or not metrics:
            raise ConfigError(f"unknown image metrics {unknown or list(metrics)}; choose from {', '.join(IMAGE_METRICS)}")
        self.network = network.eval().requires_grad_(False)
        self.metric_names = tuple(dict.fromkeys(metrics))
        d, k = network.num_features, network.num_classes
        with warnings.catch_warnings():  # torchmetrics' note that KID and IS keep features in memory
            warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
            self.fid = FrechetInceptionDistance(feature=_Given(d), reset_real_features=False) if "fid" in metrics else None
            self.kid = (
                KernelInceptionDistance(feature=_Given(d), subsets=kid_subsets, subset_size=kid_subset_size, reset_real_features=False)
                if "kid" in metrics
                else None
            )
            self.inception_score = InceptionScore(feature=_Given(k), splits=is_splits) if "is" in metrics else None
        self.classifier = ClassifierScores(k) if "classifier" in metrics else None
        self.kid_subset_size, self.is_splits = kid_subset_size, is_splits
        self.n_real = 0  # this rank's
        self.n_fake = 0
        self._pending: list[tuple[Tensor, Tensor]] = []
        self._warned = False

    @property
    def needs_real(self) -> bool:
        return self.fid is not None or self.kid is not None

    @torch.no_grad()
    def features(self, images: Tensor) -> tuple[Tensor, Tensor]:
        device = next(self.network.parameters()).device
        return self.network(images.to(device))

    def add_real_features(self, features: Tensor) -> None:
        """Add real features (this rank's share of them)."""
        if self.fid is not None:
            self.fid.update(features, real=True)
        if self.kid is not None:  # float64: KID's polynomial-kernel MMD cancels large terms
            self.kid.update(features.double(), real=True)
        self.n_real += len(features)

    @torch.no_grad()
    def update_fake(self, images: Tensor) -> None:
        features, logits = self.features(images)
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

    def _warn(self, message: str) -> None:
        if not self._warned and _world()[0] == 0:
            warnings.warn(message, stacklevel=3)
        self._warned = True

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
            if self.needs_real:
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
        return out

    def reset_fake(self) -> None:
        """Forget generated samples; the real features stay."""
        for metric in (self.fid, self.kid, self.inception_score, self.classifier):
            if metric is not None:
                metric.reset()
        self.n_fake = 0
        self._pending = []


# ---------------------------------------------------------------------- real features, cached
def cache_dir() -> Path:
    """Where real features are cached: ``$LIT_GANS_CACHE`` or ``~/.cache/lit-gans``."""
    return Path(os.environ.get("LIT_GANS_CACHE") or Path.home() / ".cache" / "lit-gans") / "real_features"


def real_features(
    key: dict[str, Any],
    images: Callable[[], Iterable[Tensor]],
    featurize: Callable[[Tensor], Tensor],
    directory: Optional[Path] = None,
) -> Tensor:
    """Features of the real images, computed once per ``key`` (dataset, feature network, count) and
    then read from ``directory`` (default ``cache_dir()``). The cache is written whole, then
    renamed into place; an unreadable cache file is recomputed."""
    directory = cache_dir() if directory is None else Path(directory)
    key = json.loads(json.dumps(key, sort_keys=True, default=str))  # as it reads back from the file
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = directory / f"{key.get('feature', 'features')}-{digest}.pt"
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            if stored.get("key") == key:
                return stored["features"]
        except Exception:  # a damaged cache is recomputed below
            pass
    features = torch.cat([featurize(batch).float().cpu() for batch in images()])
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save({"key": key, "features": features}, tmp)
    tmp.replace(path)
    return features


def rank_share(features: Tensor) -> Tensor:
    """This rank's contiguous slice of ``features`` (all of them in a single process)."""
    rank, world = _world()
    return features.tensor_split(world)[rank] if world > 1 else features


__all__ = ["ClassifierScores", "Evaluator", "IMAGE_METRICS", "cache_dir", "rank_share", "real_features"]
