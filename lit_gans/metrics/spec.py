"""What a DataModule says about the evaluation of its samples (``GANDataModule.evaluation``).

``ModelEvaluation`` and ``domain_for`` read this declaration instead of checking data classes, so
a DataModule of your own gets the metrics it declares:

.. code-block:: python

    class MyDigits(GANDataModule):
        evaluation = DataEvaluation.for_images(feature="digits")  # FID/KID/IS in the digits network's features

The class-conditional metrics (``CONDITIONAL_METRICS``: intra-class FID and class accuracy) are allowed
wherever the image metrics are, on labelled data (``num_classes > 0``); ``ModelEvaluation`` decides
from the model and the feature network whether it computes them (see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from lit_gans.errors import ConfigError

#: metrics computed in a feature network's space (``lit_gans.metrics.evaluator``)
IMAGE_METRICS = ("fid", "kid", "is", "classifier")
#: metrics of class-conditional models on labelled data, in the same feature space: ``intra_fid``
#: (FID per class, averaged) and ``class_accuracy`` (share of samples the domain classifier labels as
#: the class they were asked for); allowed wherever an image metric is
CONDITIONAL_METRICS = ("intra_fid", "class_accuracy")
#: every metric computed in a feature network's space (``lit_gans.metrics.evaluator.Evaluator``)
FEATURE_METRICS = (*IMAGE_METRICS, *CONDITIONAL_METRICS)
#: every metric ``ModelEvaluation`` knows
METRICS = (*FEATURE_METRICS, "modes", "stacked")
#: what each metric that is not an image metric needs of the data, for the error when data refuses it
NEEDS = {
    "modes": "metric 'modes' (PacGAN's mode coverage) needs a 2-D mixture: data Toy2DDataModule",
    "stacked": "metric 'stacked' (1,000-mode count) needs data StackedDigitsDataModule",
}


@dataclass(frozen=True)
class DataEvaluation:
    """How samples of a DataModule are evaluated.

    Args:
        default: the metrics computed when none are chosen (``metrics: null``), from ``METRICS``:
            ``fid``, ``kid``, ``is``, ``classifier`` (images, in a feature network's space),
            ``modes`` (PacGAN's mode coverage; the DataModule has ``modes`` and ``std``),
            ``stacked`` (the 1,000 modes of stacked digits). ``intra_fid`` and ``class_accuracy``
            (``CONDITIONAL_METRICS``) need not be listed: ``ModelEvaluation`` adds them for
            class-conditional models on labelled data evaluated by a domain classifier.
        allowed: the metrics that may be chosen besides ``default`` (``CONDITIONAL_METRICS`` are
            allowed wherever an image metric is).
        feature: the feature network of the image metrics under ``feature: auto``: a domain
            network (``"digits"``, ``"fashion_mnist"``, or ``"mnist"``, whose weights do not ship,
            so Inception is used) or None for Inception.
    """

    default: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    feature: Optional[str] = None

    def __post_init__(self) -> None:
        default, allowed = tuple(self.default), tuple(self.allowed)
        unknown = sorted(set(default + allowed) - set(METRICS))
        if unknown:
            raise ConfigError(f"DataEvaluation names unknown metrics {unknown}; choose from {', '.join(METRICS)}")
        object.__setattr__(self, "default", default)
        object.__setattr__(self, "allowed", tuple(dict.fromkeys(default + allowed)))  # default is allowed

    @classmethod
    def for_images(cls, feature: Optional[str] = None) -> "DataEvaluation":
        """FID, KID, IS and classifier scores in ``feature``'s space (None: Inception)."""
        return cls(default=IMAGE_METRICS, feature=feature)

    @classmethod
    def for_shape(cls, data_shape: Sequence[int]) -> "DataEvaluation":
        """The default of data that declares nothing: the image metrics in Inception's space for
        samples of shape (C, H, W), no metric otherwise."""
        return cls.for_images() if len(tuple(data_shape)) == 3 else cls()

    def choose(self, metrics: Optional[Sequence[str]], data: str) -> list[str]:
        """The metrics to compute: ``default`` for None, else ``metrics`` (without repeats) when
        ``data`` (the DataModule's name, for the error) allows them all."""
        if metrics is None:
            return list(self.default)
        allowed = self.allowed + (CONDITIONAL_METRICS if set(IMAGE_METRICS) & set(self.allowed) else ())
        refused = [m for m in dict.fromkeys(metrics) if m not in allowed]
        if not refused:
            return list(dict.fromkeys(metrics))
        allows = f"{data} allows {', '.join(self.allowed)}" if self.allowed else f"{data} declares no metric"
        for name in NEEDS:
            if name in refused:
                raise ConfigError(f"{NEEDS[name]}; {allows}")
        if set(IMAGE_METRICS) & set(self.allowed):
            raise ConfigError(f"metrics {refused} are not evaluated on {data}, which allows {', '.join(self.allowed)}")
        raise ConfigError(f"metrics {refused} need image data; {allows}")


def evaluation_of(datamodule: Any) -> DataEvaluation:
    """A DataModule's declaration (its ``evaluation``), or for one that declares none (a
    LightningDataModule of your own) the default of its ``data_shape``."""
    declared = getattr(datamodule, "evaluation", None)
    if declared is None:
        return DataEvaluation.for_shape(getattr(datamodule, "data_shape", ()))
    if not isinstance(declared, DataEvaluation):
        raise ConfigError(
            f"{type(datamodule).__name__}.evaluation is a {type(declared).__name__}; make it a "
            "lit_gans.metrics.spec.DataEvaluation (or None for the default of its data_shape)"
        )
    return declared


__all__ = ["CONDITIONAL_METRICS", "DataEvaluation", "FEATURE_METRICS", "IMAGE_METRICS", "METRICS", "NEEDS", "evaluation_of"]
