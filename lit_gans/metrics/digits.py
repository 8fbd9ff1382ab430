"""A domain score for generated 8x8-style digits, computed on the CPU in well under a second.

A softmax-regression classifier is fitted once (torch, L-BFGS) on the bundled digits; generated
images are average-pooled to 8x8 and scored by: the Fréchet distance to the real digits in pixel
space (lower is better), the classifier's mean confidence, the number of classes generated and the
KL divergence of the predicted-class histogram from uniform.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lit_gans.metrics.frechet import frechet_distance, gaussian_stats


@lru_cache(maxsize=1)
def _reference() -> tuple[torch.nn.Linear, tuple[Tensor, Tensor]]:
    from datamodules.digits import load_digit_images

    images, labels = load_digit_images()
    x = torch.from_numpy(images.reshape(len(images), -1)).double() / 255.0
    y = torch.from_numpy(labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        classifier = torch.nn.Linear(64, 10).double()
    optimizer = torch.optim.LBFGS(classifier.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(classifier(x), y) + 1e-3 * classifier.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return classifier.requires_grad_(False), gaussian_stats(x)


def digits_score(samples: Tensor) -> dict[str, float]:
    """Score images in [-1, 1] of shape (N, 1, S, S) against the bundled digits."""
    if samples.dim() != 4 or samples.shape[1] != 1:
        raise ValueError(f"digits_score needs grey images (N, 1, S, S), got {tuple(samples.shape)}")
    classifier, (mu_real, sigma_real) = _reference()
    x = F.adaptive_avg_pool2d((samples.detach().float().cpu() + 1) / 2, 8).flatten(1).clamp(0, 1)
    mu, sigma = gaussian_stats(x)
    probs = classifier(x.double()).softmax(1).numpy()
    hist = np.bincount(probs.argmax(1), minlength=10) / len(probs)
    nz = hist > 0
    return {
        "frechet_distance": frechet_distance(mu, sigma, mu_real, sigma_real),
        "confidence": float(probs.max(1).mean()),
        "classes": int(nz.sum()),
        "class_kl": float((hist[nz] * np.log(hist[nz] * 10)).sum()),
    }
