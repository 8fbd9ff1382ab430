"""Evaluation metrics: FID/KID/IS and classifier scores on torchmetrics (``evaluator``) in Inception's
or a shipped domain classifier's feature space (``features``, ``domain``), intra-class FID and class
accuracy of class-conditional models (``evaluator.IntraClassFID``, ``codes.ClassAccuracy``), PacGAN's
mode coverage, stacked-digits modes, and a pixel-space digits score for quick learning checks. A
DataModule declares which of them suit its samples (``spec.DataEvaluation``);
``evaluation.ModelEvaluation`` computes them."""

from lit_gans.metrics.codes import ClassAccuracy, class_accuracies, class_accuracy, code_class_accuracy
from lit_gans.metrics.digits import digits_score
from lit_gans.metrics.domain import classifier_scores, load_domain_network
from lit_gans.metrics.evaluation import METRICS, ModelEvaluation
from lit_gans.metrics.evaluator import ClassifierScores, Evaluator, IntraClassFID
from lit_gans.metrics.features import feature_network
from lit_gans.metrics.frechet import frechet_distance, gaussian_stats
from lit_gans.metrics.modes import mode_coverage, uniform_kl
from lit_gans.metrics.spec import CONDITIONAL_METRICS, DataEvaluation, evaluation_of
from lit_gans.metrics.stacked import stacked_modes

__all__ = [
    "CONDITIONAL_METRICS", "METRICS", "ClassAccuracy", "ClassifierScores", "DataEvaluation", "Evaluator",
    "IntraClassFID", "ModelEvaluation", "class_accuracies", "class_accuracy", "classifier_scores",
    "code_class_accuracy", "digits_score", "evaluation_of", "feature_network", "frechet_distance",
    "gaussian_stats", "load_domain_network", "mode_coverage", "stacked_modes", "uniform_kl",
]
