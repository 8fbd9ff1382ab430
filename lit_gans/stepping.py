"""The loop's backward passes and optimizer steps: through Lightning, or straight to what Lightning would call.

``LightningModule.manual_backward`` and ``LightningOptimizer.step`` pass through the strategy, the
precision plugin and a dispatch of the callback and module hooks ``on_before_backward``,
``on_after_backward`` and ``on_before_optimizer_step`` (each dispatch visits every callback), about
0.1 ms of host time a call, two of each per generator iteration. Where none of those layers does
anything for the run, ``DirectSteps`` makes the calls they end in:

- backward: ``strategy.pre_backward`` (DDP: ``prepare_for_backward``, so gradients are still all-reduced,
  unused parameters found), ``loss.backward()``, ``strategy.post_backward`` (DDP's static-graph flush);
- step: ``optimizer._on_before_step()`` (the manual loop's step count: ``trainer.global_step``), the
  wrapped torch optimizer's ``step()`` (its own hooks and LR schedulers' step counting run as always),
  ``optimizer._on_after_step()``.

``direct_steps_refused`` says when that is not so, and ``LightningSteps`` keeps Lightning's calls:

- a precision plugin other than ``32-true`` (``Precision``) and ``bf16-mixed`` (``MixedPrecision`` without
  a GradScaler): ``16-mixed`` scales the loss in ``pre_backward`` and steps through ``GradScaler``;
  ``16-true``, DeepSpeed, FSDP and XLA plugins have backward or step logic of their own. Autocast is not
  affected either way: the strategy wraps the whole ``training_step`` in it;
- a strategy whose ``backward`` or ``optimizer_step`` is its own (DDP's counts only without a post-local-SGD
  model averager);
- a callback or the module overriding one of the three hooks, or the module overriding ``backward`` or
  ``manual_backward``; Lightning's profiler on (it times these calls); Fabric; an LBFGS optimizer (it needs
  Lightning's closure).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import lightning as L
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.strategies import DDPStrategy, Strategy
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch import Tensor
from torch.optim import LBFGS

#: hooks that Lightning's backward and step call, and that a direct call skips
HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


class LightningSteps:
    """Backward and step through Lightning's API (``manual_backward``, ``LightningOptimizer.step``)."""

    direct = False

    def __init__(self, module: L.LightningModule):
        self.module = module

    def backward(self, loss: Tensor) -> None:
        self.module.manual_backward(loss)

    def step(self, optimizer: Any) -> None:
        optimizer.step()


class DirectSteps(LightningSteps):
    """What ``LightningSteps`` ends in, without the layers that do nothing here (``direct_steps_refused``)."""

    direct = True

    def __init__(self, module: L.LightningModule):
        super().__init__(module)
        self.strategy = module.trainer.strategy

    def backward(self, loss: Tensor) -> None:
        # Strategy.backward without the precision plugin, whose pre_backward, backward and post_backward only
        # dispatch hooks and call loss.backward() when it has no GradScaler
        self.strategy.pre_backward(loss)
        loss.backward()
        self.strategy.post_backward(loss.detach())

    def step(self, optimizer: Any) -> None:
        # LightningOptimizer.step without the strategy and plugin, whose optimizer_step only wraps a closure that
        # does nothing in manual optimisation around the hook dispatch; _on_*_step are the manual loop's counters
        optimizer._on_before_step()
        optimizer.optimizer.step()
        optimizer._on_after_step()


def direct_steps_refused(trainer: L.Trainer, module: L.LightningModule, optimizers: Sequence[Any]) -> Optional[str]:
    """Why this run's backward passes and steps must go through Lightning's API; None when they need not."""
    plugin, strategy = trainer.precision_plugin, trainer.strategy
    if type(plugin) not in (Precision, MixedPrecision):
        return f"the precision plugin {type(plugin).__name__} has a backward or step of its own"
    if getattr(plugin, "scaler", None) is not None:
        return f"precision {plugin.precision} scales the loss and steps through a GradScaler"
    if type(strategy).backward is not Strategy.backward:
        return f"the strategy {type(strategy).__name__} has its own backward"
    ddp_plain = type(strategy).optimizer_step is DDPStrategy.optimizer_step and getattr(strategy, "_model_averager", None) is None
    if type(strategy).optimizer_step is not Strategy.optimizer_step and not ddp_plain:
        return f"the strategy {type(strategy).__name__} has its own optimizer step"
    if not isinstance(trainer.profiler, PassThroughProfiler):
        return "Lightning's profiler times these calls"
    if getattr(module, "_fabric", None) is not None:
        return "the module runs under Fabric"
    for name in ("backward", "manual_backward"):
        if getattr(type(module), name) is not getattr(L.LightningModule, name):
            return f"the module overrides {name}"
    for hook in HOOKS:
        if is_overridden(hook, module, L.LightningModule):
            return f"the module overrides {hook}"
        for callback in trainer.callbacks:
            if is_overridden(hook, callback, L.Callback):
                return f"the callback {type(callback).__name__} overrides {hook}"
    if any(isinstance(getattr(o, "optimizer", o), LBFGS) for o in optimizers):
        return "LBFGS needs Lightning's closure"
    return None


def steps_for(trainer: L.Trainer, module: L.LightningModule, optimizers: Sequence[Any]) -> LightningSteps:
    """``DirectSteps`` where nothing refuses them, else ``LightningSteps``."""
    refused = direct_steps_refused(trainer, module, optimizers)
    return LightningSteps(module) if refused else DirectSteps(module)


__all__ = ["DirectSteps", "LightningSteps", "direct_steps_refused", "steps_for"]
