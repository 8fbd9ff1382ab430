"""Lightning callbacks of lit-gans; they use only the families' public API (``sample``, ``g_step``)."""

from lit_gans.callbacks.checkpoint import GeneratorStepCheckpoint
from lit_gans.callbacks.metrics import DomainMetrics
from lit_gans.callbacks.progress import GANProgressBar
from lit_gans.callbacks.samples import SampleGrid

__all__ = ["DomainMetrics", "GANProgressBar", "GeneratorStepCheckpoint", "SampleGrid"]
