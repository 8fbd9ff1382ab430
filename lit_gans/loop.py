"""The loop's vocabulary: a batch with named fields, what a loss made, and a phase.

``AdversarialModule`` (``lit_gans.families.base``) runs a family's phases on each batch; these are the
small types that a family's losses and penalties exchange with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from torch import Tensor

from lit_gans.errors import ConfigError
from lit_gans.latent import Latent

#: the names a DataModule may give the parts of its batches (``batch_fields``), in the order it yields them
BATCH_FIELDS = ("image", "label", "condition", "image_b")


@dataclass
class Batch:
    """One batch by name: ``image`` (real samples), ``label`` (class indices), ``condition`` (a
    conditioning input such as pix2pix's source image) and ``image_b`` (a second domain, CycleGAN)."""

    image: Tensor
    label: Optional[Tensor] = None
    condition: Optional[Tensor] = None
    image_b: Optional[Tensor] = None

    @classmethod
    def of(cls, data: Any, names: Sequence[str] = ("image", "label")) -> "Batch":
        """A batch from what a DataLoader yields: a ``Batch``, a dict by field name, a tuple in the
        order of ``names`` (the DataModule's ``batch_fields``), or a bare tensor of images."""
        if isinstance(data, Batch):
            return data
        if isinstance(data, dict):
            return cls(**{k: data[k] for k in BATCH_FIELDS if k in data})
        if isinstance(data, Tensor):
            return cls(data)
        return cls(**dict(zip(names, data)))

    def __len__(self) -> int:
        return self.image.shape[0]


@dataclass
class StepOutput:
    """What a phase's loss made, so that a family extending it through ``super()`` and the penalties reuse
    it instead of computing it twice. ``aux`` values are a critic's extra outputs (an auxiliary classifier's
    logits, InfoGAN's code estimates) where its network returns ``(logits, aux)``."""

    loss: Tensor
    logs: dict[str, Tensor] = field(default_factory=dict)
    latent: Optional[Latent] = None
    fake: Optional[Tensor] = None
    fake_logits: Optional[Tensor] = None
    fake_aux: Any = None
    real: Optional[Tensor] = None
    real_labels: Optional[Tensor] = None
    real_logits: Optional[Tensor] = None
    real_aux: Any = None

    def add(self, name: str, value: Tensor, weight: float = 1.0) -> "StepOutput":
        """Add ``weight * value`` to the loss and log ``value`` under ``name``."""
        self.loss = self.loss + weight * value
        self.logs[name] = value.detach()
        return self


@dataclass
class Phase:
    """One step the loop takes: ``loss(batch) -> StepOutput`` minimised by the ``optimizers`` named.

    It runs on every ``every``-th batch, or, with ``of``, after every ``every``-th step of that phase
    (WGAN's generator: ``every=5, of="discriminator"``), and, with ``when``, only while ``when()`` is true
    (SRGAN's critic waits for the end of the generator's pre-training). ``after_step`` actions run after
    each of its steps (weight clipping, the EMA update, a schedule).
    """

    name: str
    optimizers: tuple[str, ...]
    loss: Callable[[Batch], StepOutput]
    every: int = 1
    of: Optional[str] = None
    after_step: tuple[Callable[[], None], ...] = ()
    when: Optional[Callable[[], bool]] = None


def batches_per_step(phases: Sequence[Phase], name: str = "generator") -> int:
    """Training batches per step of the phase ``name`` (5 for WGAN's generator: every 5th critic step,
    which runs on every batch), from the phases' intervals; 1 for a phase that is not there."""
    by_name = {phase.name: phase for phase in phases}
    seen: set[str] = set()
    batches = 1
    while name in by_name and name not in seen:
        seen.add(name)
        phase = by_name[name]
        batches *= phase.every
        name = phase.of
    return batches


def check_loop_arguments(**args: Any) -> None:
    """One clear error for each loop argument out of range."""
    checks = [
        (args["latent_dim"] >= 1, "model.latent_dim={latent_dim} must be at least 1 (the size of z; DCGAN uses 100)"),
        (args["n_critic"] >= 1, "model.n_critic={n_critic} must be at least 1 (critic steps per generator step)"),
        (args["ema_decay"] is None or 0.0 <= args["ema_decay"] < 1.0,
         "model.ema_decay={ema_decay} must be in [0, 1), e.g. 0.999, or null to disable"),
        (args["ema_rampup"] is None or args["ema_rampup"] > 0,
         "model.ema_rampup={ema_rampup} must be positive (StyleGAN2-ADA uses 0.05), or null for none"),
        (args["max_g_steps"] is None or args["max_g_steps"] >= 1,
         "model.max_g_steps={max_g_steps} must be a positive number of generator iterations"),
        (not args["conditional"] or args["num_classes"] >= 1,
         "a conditional family needs labelled data: the DataModule reports num_classes=0"),
        (args["pack"] >= 1, "model.pack={pack} must be at least 1 (1 disables packing; PacGAN uses 2 to 4)"),
        (args["pack"] == 1 or not args["conditional"],
         "model.pack={pack} needs an unconditional family: packing class labels is not supported"),
        (args["max_weight"] is None or args["max_weight"] > 0,
         "model.max_weight={max_weight} must be positive (e.g. 1e4), or null to disable the check"),
    ] + [(args[k] >= 0, f"model.{k}={{{k}}} must be >= 0 (0 disables it)") for k in ("gradient_penalty", "r1_gamma", "r2_gamma")]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message.format(**args))



__all__ = ["BATCH_FIELDS", "Batch", "Phase", "StepOutput", "batches_per_step", "check_loop_arguments"]
