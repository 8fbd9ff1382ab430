"""Evaluation metrics that run offline on the CPU."""

from lit_gans.metrics.digits import digits_score
from lit_gans.metrics.frechet import frechet_distance, gaussian_stats
from lit_gans.metrics.modes import mode_coverage

__all__ = ["digits_score", "frechet_distance", "gaussian_stats", "mode_coverage"]
