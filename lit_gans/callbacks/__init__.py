"""Lightning callbacks of lit-gans; they use only the families' public API (``sample``, ``g_step``)."""

from lit_gans.callbacks.checkpoint import GeneratorStepCheckpoint
from lit_gans.callbacks.metrics import GenerativeMetrics, ModelEvaluation
from lit_gans.callbacks.progress import GANProgressBar
from lit_gans.callbacks.samples import SampleGrid
from lit_gans.callbacks.timing import TimeReport

__all__ = ["GenerativeMetrics", "GANProgressBar", "GeneratorStepCheckpoint", "ModelEvaluation", "SampleGrid", "TimeReport"]
