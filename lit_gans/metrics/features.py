"""Feature networks for FID, KID, IS and classifier scores.

Both kinds take generator output as it comes (float images in [-1, 1], 1 or 3 channels, any size)
and return ``(features, logits)``, so one pass serves every metric:

- ``InceptionFeatures``: torchmetrics' default Inception v3 (the FID reference network, through
  torch-fidelity), from a local weights file. The network is for GPUs (about 0.2 s per image on
  one CPU core).
- ``DomainFeatures``: a small classifier shipped with lit-gans (``lit_gans.metrics.domain``), for
  evaluation on the CPU in its own feature space. Numbers in this space are comparable with each
  other, not with published Inception FIDs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

from lit_gans.errors import ConfigError

#: torch-fidelity's Inception v3 weights (the TensorFlow FID network converted to PyTorch).
INCEPTION_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
INCEPTION_FILE = INCEPTION_URL.rsplit("/", 1)[-1]
INCEPTION_ENV = "LIT_GANS_INCEPTION_WEIGHTS"


def find_inception_weights(path: Optional[str | Path] = None) -> Path:
    """The Inception weights file: ``path`` if given, else ``$LIT_GANS_INCEPTION_WEIGHTS``, else
    torch hub's cache (``<torch hub dir>/checkpoints/<file>``, where a download lands). Raises one
    ``ConfigError`` saying how to get the file when none exists."""
    candidates = [Path(p) for p in (path, os.environ.get(INCEPTION_ENV)) if p]
    candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise ConfigError(
        f"Inception weights for FID/KID/IS not found (looked in {looked}); download {INCEPTION_URL} "
        f"on a machine with internet, then pass its path as metrics.inception_weights (or set {INCEPTION_ENV}), "
        "or evaluate in a domain feature space (metrics.feature: digits / fashion_mnist)"
    )


def to_uint8_rgb(images: Tensor) -> Tensor:
    """Images in [-1, 1], 1 or 3 channels -> uint8 RGB in [0, 255], as Inception expects."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ConfigError(f"Inception metrics need images (N, 1 or 3, H, W); got shape {tuple(images.shape)}")
    images = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


class InceptionFeatures(nn.Module):
    """torchmetrics' Inception v3 (``NoTrainInceptionV3``, the FID reference network) loaded from a
    local weights file; one pass gives the 2048 pool features (FID, KID) and the 1008 logits (IS).

    Args:
        weights: the weights file; see ``find_inception_weights`` for where it is looked for.
    """

    name = "inception"
    num_features = 2048
    num_classes = 1008

    def __init__(self, weights: Optional[str | Path] = None):
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        path = find_inception_weights(weights)
        try:
            self.net = NoTrainInceptionV3(
                name="inception-v3-compat", features_list=["2048", "logits_unbiased"], feature_extractor_weights_path=str(path)
            )
        except Exception as err:  # unpickling, missing keys, wrong shapes
            raise ConfigError(
                f"Inception weights {path} cannot be loaded ({type(err).__name__}); it is not torch-fidelity's "
                f"{INCEPTION_FILE}: download it again from {INCEPTION_URL}"
            ) from None

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        # torchmetrics' forward keeps only the first output; its inner forward returns both
        features, logits = self.net._torch_fidelity_forward(to_uint8_rgb(images))
        return features.reshape(len(images), -1), logits.reshape(len(images), -1)


class DomainFeatures(nn.Module):
    """A shipped domain classifier (``lit_gans.metrics.domain``): its penultimate features (FID,
    KID) and its logits (IS, classifier scores) from one call each."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.net = network
        self.name, self.num_features, self.num_classes = network.name, network.num_features, network.num_classes

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features = self.net.features(images)  # one pass: the logits are the classifier's on these features
        return features, self.net.classifier(features)


def feature_network(feature: str, inception_weights: Optional[str | Path] = None) -> nn.Module:
    """The network of a feature space: ``inception``, or a domain network by name or weights path
    (``digits``, ``fashion_mnist``, ``/path/to/mnist.pt``). It maps images in [-1, 1] to
    ``(features, logits)``."""
    if feature == "inception":
        return InceptionFeatures(inception_weights)
    from lit_gans.metrics.domain import load_domain_network

    return DomainFeatures(load_domain_network(feature))


__all__ = ["DomainFeatures", "InceptionFeatures", "feature_network", "find_inception_weights", "to_uint8_rgb"]
