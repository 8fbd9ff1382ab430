"""Domain feature networks: small classifiers shipped with the package, for offline CPU evaluation.

Inception features (FID, KID, IS) need a 100 MB download and describe photographs; for digits and
clothes a small CNN trained on the domain itself gives a feature space that runs offline, at CPU
speed, and means something for the data (as the MNIST-classifier scores of Unrolled GAN, VEEGAN and
PacGAN do). One network per dataset family:

- ``digits``: scikit-learn's 8x8 digits (native size 16, as the DigitsDataModule serves them),
  shipped;
- ``fashion_mnist``: Fashion-MNIST at 28 px, shipped;
- ``mnist``: MNIST at 28 px, not shipped (MNIST cannot be bundled offline): train it with
  ``lit-gans train-classifier --dataset mnist --root DIR --out PATH`` and pass the path.

Every network takes images in [-1, 1] of shape (N, C, S, S) with any C (channels are averaged to
grey) and any S >= 8, resizes them (antialiased) to its native size, and returns logits
(``forward``) or its penultimate activations (``features``, for Fréchet/kernel distances).
Weights files hold a ``state_dict`` and a ``meta`` dict (dataset, native size, widths, test
accuracy, seed, command, torch version) and load with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.errors import CheckpointError, ConfigError
from lit_gans.metrics.spec import evaluation_of

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SHIPPED = ("digits", "fashion_mnist")
NATIVE_SIZE = {"digits": 16, "fashion_mnist": 28, "mnist": 28}
TRAIN_HINT = "train them with `lit-gans train-classifier --dataset {name} --root DIR --out PATH` and pass the path"


class DomainNetwork(nn.Module):
    """A small CNN classifier whose penultimate layer is a feature space for its domain.

    Three blocks of (3x3 convolution, batch norm, ReLU) with 2x2 max pooling between them, global
    average pooling, then ``Linear -> ReLU`` (the features) and a linear classifier.

    Args:
        name: the domain, ``"digits"``, ``"fashion_mnist"`` or ``"mnist"``.
        native_size: side the network was trained at; inputs are resized to it.
        widths: channels of the three convolution blocks.
        num_features: size of the feature layer.
        num_classes: classes of the domain.
    """

    def __init__(
        self,
        name: str,
        native_size: int,
        widths: Sequence[int] = (32, 64, 128),
        num_features: int = 128,
        num_classes: int = 10,
    ):
        super().__init__()
        self.name, self.native_size = name, int(native_size)
        self.widths, self.num_features, self.num_classes = tuple(int(w) for w in widths), int(num_features), int(num_classes)
        self.meta: dict[str, Any] = {}  # what the weights file says about its training (filled on load)
        layers: list[nn.Module] = []
        in_channels = 1
        for i, width in enumerate(self.widths):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            layers += [nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            in_channels = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_channels, self.num_features), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(self.num_features, self.num_classes)

    def config(self) -> dict[str, Any]:
        """The constructor arguments, as stored in a weights file."""
        return {
            "name": self.name,
            "native_size": self.native_size,
            "widths": list(self.widths),
            "num_features": self.num_features,
            "num_classes": self.num_classes,
        }

    def prepare(self, x: Tensor) -> Tensor:
        """Images in [-1, 1], (N, C, S, S) -> grey (N, 1, native, native) on the network's device."""
        if x.dim() != 4 or x.shape[-1] != x.shape[-2] or x.shape[-1] < 8:
            raise ConfigError(
                f"the {self.name} network needs square images (N, C, S, S) with S >= 8, got {tuple(x.shape)}"
            )
        param = next(self.parameters())
        x = x.to(device=param.device, dtype=param.dtype)
        if x.shape[1] != 1:
            x = x.mean(dim=1, keepdim=True)
        if x.shape[-1] != self.native_size:
            x = F.interpolate(x, size=self.native_size, mode="bilinear", align_corners=False, antialias=True)
        return x

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations, (N, num_features) float32."""
        return self.body(self.prepare(x))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits, (N, num_classes)."""
        return self.classifier(self.features(x))


def _read(path: Path, map_location: Any) -> dict[str, Any]:
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"{path} is not a readable domain-network weights file ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else 'no detail'}); retrain it with `lit-gans train-classifier`"
        ) from None
    if not isinstance(blob, dict) or not {"state_dict", "meta"} <= set(blob):
        raise CheckpointError(
            f"{path} holds no domain network (expected keys 'state_dict' and 'meta'); "
            "write one with `lit-gans train-classifier --out PATH`"
        )
    return blob


def load_domain_network(name_or_path: str, map_location: Any = None) -> DomainNetwork:
    """A domain network in eval mode with ``requires_grad_(False)``.

    Args:
        name_or_path: ``"digits"`` or ``"fashion_mnist"`` (shipped weights), ``"mnist"`` (needs
            your own weights under that name: pass their path instead), or a ``.pt`` path written
            by ``lit-gans train-classifier``.
        map_location: device for the weights, as in ``torch.load`` (default: where they were saved,
            i.e. the CPU for the shipped files).
    """
    name_or_path = str(name_or_path)
    if name_or_path in SHIPPED:
        path = WEIGHTS_DIR / f"{name_or_path}.pt"
        if not path.is_file():
            raise ConfigError(
                f"the shipped {name_or_path} weights are missing from {WEIGHTS_DIR} (a broken install?); "
                f"reinstall lit-gans or {TRAIN_HINT.format(name=name_or_path)}"
            )
    elif name_or_path in NATIVE_SIZE:
        raise ConfigError(
            f"no {name_or_path} domain network is shipped (the dataset cannot be bundled offline); "
            f"{TRAIN_HINT.format(name=name_or_path)}"
        )
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"domain network {name_or_path!r} is neither a shipped name ({', '.join(SHIPPED)}) nor an "
                f"existing weights file; {TRAIN_HINT.format(name='digits|fashion_mnist|mnist')}"
            )
    blob = _read(path, map_location)
    try:
        network = DomainNetwork(**{k: blob["meta"][k] for k in ("name", "native_size", "widths", "num_features", "num_classes")})
        network.load_state_dict(blob["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise CheckpointError(
            f"{path} does not match the domain network ({type(err).__name__}: {str(err).splitlines()[0]}); "
            "retrain it with `lit-gans train-classifier`"
        ) from None
    network.meta = dict(blob["meta"])
    if map_location is not None:
        network.to(map_location)
    return network.eval().requires_grad_(False)


def classifier_scores(logits: Tensor) -> dict[str, float]:
    """Scores of generated samples from a domain classifier's logits (N, K), in one call (the
    torchmetrics ``ClassifierScores`` accumulates them over batches and DDP ranks).

    Returns ``classes`` (classes predicted at least once), ``class_kl`` (KL divergence of the
    predicted-class histogram p from uniform, sum p log(K p): 0 when classes are balanced, log K
    when one class takes everything) and ``confidence`` (mean max softmax probability).
    """
    from lit_gans.metrics.evaluator import ClassifierScores

    if logits.dim() != 2 or len(logits) == 0:
        raise ConfigError(f"classifier_scores needs logits (N, K) with N >= 1, got {tuple(logits.shape)}")
    metric = ClassifierScores(logits.shape[1])
    metric.update(logits.detach().cpu())
    scores = {k: float(v) for k, v in metric.compute().items()}
    return {**scores, "classes": int(scores["classes"])}


def domain_for(datamodule: Any) -> Optional[str]:
    """The domain network that fits a DataModule's images, as its ``evaluation`` declares
    (``lit_gans.metrics.spec``), or None when there is none."""
    return evaluation_of(datamodule).feature
