"""Stopping a diverging run before it spoils anything: non-finite losses and runaway weights.

``DivergenceGuard`` is a mixin of ``AdversarialModule``: the loop calls ``_check_finite`` on each
phase's loss before the step and ``check_weights`` whenever values are logged;
``GeneratorStepCheckpoint`` calls ``check_weights`` before writing any checkpoint, so every file on
disk holds finite, bounded weights and the error can name the last good one.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lit_gans.errors import DivergenceError, NonFiniteLossError


class DivergenceGuard:
    """Non-finite loss and weight checks (needs ``max_weight``, ``g_step``, ``d_step`` on the module, and
    ``_finite``: a dict the module starts empty)."""

    def _check_finite(self, loss: Tensor, phase: str) -> None:
        """Stop before a non-finite loss reaches the weights. On an accelerator, reading the value would wait
        for the device every step, so the flag is kept there and read when values are logged and before
        every checkpoint (``check_weights``)."""
        if loss.device.type != "cpu":
            finite = torch.isfinite(loss.detach())
            self._finite[phase] = finite if phase not in self._finite else self._finite[phase] & finite
        elif not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"the {phase} loss became {loss.item()} at generator step {self.g_step}, discriminator step "
                f"{self.d_step}; training stopped before the weights took it. {self._last_good_checkpoint()}")

    def check_weights(self) -> Tensor:
        """The largest weight magnitude; raises ``DivergenceError`` when it passes ``max_weight`` or is
        not finite (a run can diverge without a NaN loss: Adam at a huge learning rate drives weights
        to 1e30 behind batch norm and tanh), and ``NonFiniteLossError`` for a loss flagged on a device."""
        bad = [phase for phase, finite in self._finite.items() if not bool(finite)]
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



__all__ = ["DivergenceGuard"]
