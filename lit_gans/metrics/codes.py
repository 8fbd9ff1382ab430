"""Does a generator obey what it is asked for? Class accuracy of conditional samples (AC-GAN, cGAN) and
the agreement of InfoGAN's categorical code with the classes a domain classifier sees.

Class accuracy is the share of samples asked for class y that a classifier of the data's classes (a
shipped domain network, ``lit_gans.metrics.domain``, or one of ``lit-gans train-classifier``) labels y,
per class and over all samples. ``class_accuracy``/``class_accuracies`` sample a module and classify
its samples; ``ClassAccuracy`` (torchmetrics, summed over DDP ranks) accumulates the same counts from
logits already computed, as ``ModelEvaluation``'s ``class_accuracy`` metric does with the feature
network's logits. The classifier's class indices must be the data's labels (the shipped networks were
trained on them); an ImageNet network such as Inception does not qualify.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor
from torchmetrics import Metric


def _predict(classifier: Callable[[Tensor], Tensor], samples: Tensor, batch: int = 500) -> Tensor:
    with torch.no_grad():
        return torch.cat([classifier(part).argmax(1).cpu() for part in samples.split(batch)])


def class_hits(predicted: Tensor, labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Per asked class y (``num_classes`` of them): how many samples asked for y were ``predicted`` y
    (hits) and how many were asked for y (counts), as float64 tensors (num_classes,)."""
    labels = labels.long().to(predicted.device)
    counts = torch.bincount(labels, minlength=num_classes)[:num_classes].double()
    hits = torch.bincount(labels[predicted.long() == labels], minlength=num_classes)[:num_classes].double()
    return hits, counts


def _shares(hits: Tensor, counts: Tensor) -> tuple[Tensor, Tensor]:
    per_class = torch.where(counts > 0, hits / counts.clamp_min(1), torch.full_like(hits, float("nan")))
    return hits.sum() / counts.sum().clamp_min(1), per_class


def accuracies(hits: Tensor, counts: Tensor) -> dict[str, Any]:
    """``accuracy`` (hits over all samples) and ``per_class`` (a list of hits / counts per class, NaN
    for a class never asked for) from ``class_hits``' counts."""
    accuracy, per_class = _shares(hits, counts)
    return {"accuracy": float(accuracy), "per_class": per_class.tolist()}


class ClassAccuracy(Metric):
    """Class accuracy accumulated over batches (and summed over DDP ranks): ``update(logits, labels)``
    with a classifier's logits (N, K) of samples asked for ``labels`` (N,); ``compute`` gives
    ``accuracy`` (a 0-d tensor) and ``per_class`` (num_classes,) (NaN for classes never asked for)."""

    full_state_update = False

    def __init__(self, num_classes: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.add_state("hits", torch.zeros(num_classes, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("counts", torch.zeros(num_classes, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, logits: Tensor, labels: Tensor) -> None:
        hits, counts = class_hits(logits.argmax(1), labels, self.num_classes)
        self.hits += hits.to(self.hits)
        self.counts += counts.to(self.counts)

    def compute(self) -> dict[str, Tensor]:
        accuracy, per_class = _shares(self.hits, self.counts)
        return {"accuracy": accuracy, "per_class": per_class}


def class_accuracies(module: Any, classifier: Callable[[Tensor], Tensor], n_per_class: int = 100, seed: int = 0) -> dict[str, Any]:
    """Class accuracy of ``module``'s samples, ``n_per_class`` asked for each class (noise drawn from
    ``seed``): ``accuracy`` (over all samples) and ``per_class`` (a list, one share per class)."""
    num_classes = module.latent_spec.num_classes
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        predicted = _predict(classifier, module.sample(len(labels), labels=labels))
    return accuracies(*class_hits(predicted, labels, num_classes))


def class_accuracy(module: Any, classifier: Callable[[Tensor], Tensor], n_per_class: int = 100, seed: int = 0) -> float:
    """The share of samples asked for class y (``n_per_class`` of each) that ``classifier`` labels y
    (``class_accuracies`` gives it per class too)."""
    return class_accuracies(module, classifier, n_per_class, seed)["accuracy"]


def code_class_accuracy(module: Any, classifier: Callable[[Tensor], Tensor], code: int = 0, n_per_value: int = 100,
                        seed: int = 0) -> dict[str, Any]:
    """How well categorical code ``code`` of an InfoGAN picks the class that ``classifier`` sees.

    For each value v of the code, ``n_per_value`` samples with that value (noise and other codes drawn
    at random) are classified. Codes are learnt without labels, so they match classes only up to a
    permutation: the accuracy is taken under the best one-to-one matching of code values to classes
    (the Hungarian algorithm on the code-by-class counts), as InfoGAN's reported 5 % MNIST error is.

    Returns ``accuracy``, ``matching`` (code value -> class) and ``counts`` (code value x class).
    """
    size = module.latent_spec.categorical[code]
    values = torch.arange(size).repeat_interleave(n_per_value)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        latent = module.latent_spec.draw(len(values), module.device)
        latent.codes[:, code] = values.to(latent.codes.device)
        predicted = _predict(classifier, module.sample(len(values), latent=latent))
    classes = int(max(predicted.max().item() + 1, size))
    counts = np.zeros((size, classes), dtype=np.int64)
    np.add.at(counts, (values.numpy(), predicted.numpy()), 1)
    rows, cols = linear_sum_assignment(-counts)
    return {"accuracy": float(counts[rows, cols].sum() / len(values)),
            "matching": {int(r): int(c) for r, c in zip(rows, cols)}, "counts": counts.tolist()}


__all__ = ["ClassAccuracy", "accuracies", "class_accuracies", "class_accuracy", "class_hits", "code_class_accuracy"]
