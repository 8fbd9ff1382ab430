"""Stopping a diverging run before it spoils anything: non-finite losses and runaway weights.

``DivergenceGuard`` is a mixin of ``AdversarialModule``: the loop calls ``_check_finite`` on each
phase's loss before the step and ``check_weights`` whenever values are logged;
``GeneratorStepCheckpoint`` calls ``check_weights`` before writing any checkpoint, so every file on
disk holds finite, bounded weights and the error can name the last good one.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from lit_gans.errors import DivergenceError, NonFiniteLossError


class PendingLosses:
    """Each phase's losses on an accelerator since they were last read. Keeping a loss launches no kernel
    (``torch.isfinite`` and ``&`` would launch five a phase) and reads nothing back (which would wait for
    the device); ``non_finite`` reads them all at once. Every ``fold_every`` losses of a phase are folded
    into one flag on the device, so the list stays short however rarely it is read."""

    fold_every = 64

    def __init__(self) -> None:
        self.pending: dict[str, list[Tensor]] = {}
        self.folded: dict[str, Tensor] = {}  # phase -> all its folded losses were finite (a bool on the device)

    def add(self, phase: str, loss: Tensor, copy: bool = False) -> None:
        """Keep ``loss`` (a copy with CUDA graphs, whose outputs a later replay overwrites)."""
        pending = self.pending.setdefault(phase, [])
        pending.append(loss.detach().clone() if copy else loss.detach())
        if len(pending) >= self.fold_every:
            self._fold(phase)

    def _fold(self, phase: str) -> None:
        finite = torch.isfinite(torch.stack(self.pending.pop(phase))).all()
        self.folded[phase] = finite & self.folded[phase] if phase in self.folded else finite

    def non_finite(self) -> list[str]:
        """The phases with a non-finite loss since the last call that found none (one wait for the device)."""
        for phase in list(self.pending):
            self._fold(phase)
        bad = [phase for phase, finite in self.folded.items() if not bool(finite)]
        if not bad:
            self.folded.clear()
        return bad  # kept when found: every later check raises too


class DivergenceGuard:
    """Non-finite loss and weight checks (needs ``max_weight``, ``g_step``, ``d_step`` on the module, and
    ``_finite``: a ``PendingLosses`` the module starts with)."""

    #: read each loss when it is made (True) or keep it on its device until values are logged or a checkpoint is
    #: written (False); None: at once on the CPU, where reading costs nothing, kept on accelerators
    read_losses_at_once: Optional[bool] = None

    def _check_finite(self, loss: Tensor, phase: str) -> None:
        """Stop before a non-finite loss reaches the weights. On an accelerator, reading the value would wait
        for the device every step, so the loss is kept there and read when values are logged and before
        every checkpoint (``check_weights``)."""
        at_once = self.read_losses_at_once
        if at_once is False or (at_once is None and loss.device.type != "cpu"):
            self._finite.add(phase, loss, copy=getattr(self, "_cuda_graphs", False))
        elif not math.isfinite(loss.item()):
            raise NonFiniteLossError(
                f"the {phase} loss became {loss.item()} at generator step {self.g_step}, discriminator step "
                f"{self.d_step}; training stopped before the weights took it. {self._last_good_checkpoint()}")

    def check_weights(self) -> Tensor:
        """The largest weight magnitude; raises ``DivergenceError`` when it passes ``max_weight`` or is
        not finite (a run can diverge without a NaN loss: Adam at a huge learning rate drives weights
        to 1e30 behind batch norm and tanh), and ``NonFiniteLossError`` for a loss kept on a device."""
        bad = self._finite.non_finite()
        if bad:
            raise NonFiniteLossError(f"the {' and '.join(bad)} loss became non-finite at or before generator step "
                                     f"{self.g_step}. {self._last_good_checkpoint()}")
        largest = torch.stack([p.detach().abs().max() for p in self.parameters() if p.numel()]).max()
        if self.max_weight is not None and not bool(largest <= self.max_weight):  # NaN fails <= too
            networks = [name for name, net in self.named_children() if any(
                not bool(p.detach().abs().max() <= self.max_weight) for p in net.parameters() if p.numel())]
            raise DivergenceError(
                f"training diverged: {' and '.join(networks) or 'the'} weights reached {largest.item():.3g} at generator "
                f"step {self.g_step} (model.max_weight={self.max_weight:g}). {self._last_good_checkpoint()}"
            )
        return largest

    def _last_good_checkpoint(self) -> str:
        """Which checkpoint to resume from, for divergence messages (every checkpoint written passed
        ``check_weights``)."""
        callback = self.trainer.checkpoint_callback if self._trainer is not None else None
        # the newest step-named file (last.ckpt is overwritten by the next run that resumes from it)
        path = getattr(callback, "best_model_path", "") or getattr(callback, "last_model_path", "")
        advice = "Lower the learning rates or add a regulariser"
        if not path:
            return f"No checkpoint was written before it. {advice} and start again"
        return f"The last good checkpoint is {path}. {advice}, then resume from it (--ckpt_path)"



__all__ = ["DivergenceGuard", "PendingLosses"]
