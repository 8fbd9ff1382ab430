"""A callback for the cluster tests, given on the command line of a multi-process run
(``--trainer.callbacks+='{"class_path": "rank_report.RankReport", "init_args": {"out_dir": ...}}'``,
with ``tests/`` on ``PYTHONPATH``): every rank writes what the tests compare across ranks, since the
checkpoint is written by rank 0 alone.

- ``rank{R}.training`` once rank R has made ``mark_g_step`` generator steps (a run to kill is training);
- ``rank{R}.pt`` at the end of training: ranks, the cluster environment Lightning chose, step counts,
  the module's state_dict, the optimizers' states and the metric values the rank computed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
import torch

from lit_gans.callbacks import GenerativeMetrics


def _cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: _cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu(v) for v in value)
    return value


class RankReport(L.Callback):
    def __init__(self, out_dir: str, mark_g_step: int = 1):
        self.out_dir, self.mark_g_step = Path(out_dir), mark_g_step
        self._marked = False

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, *args: Any, **kwargs: Any) -> None:
        if not self._marked and pl_module.g_step >= self.mark_g_step:
            self._marked = True
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / f"rank{trainer.global_rank}.training").write_text(str(os.getpid()))

    def on_train_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        strategy = trainer.strategy
        report = {
            "global_rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "local_rank": trainer.local_rank,
            "node_rank": trainer.node_rank,
            "environment": type(strategy.cluster_environment).__name__,
            "strategy": type(strategy).__name__,
            "g_step": pl_module.g_step,
            "d_step": pl_module.d_step,
            "state": _cpu(pl_module.state_dict()),
            "optimizers": [_cpu(optimizer.state_dict()) for optimizer in trainer.optimizers],
            "metrics": [list(c.history) for c in trainer.callbacks if isinstance(c, GenerativeMetrics)],
        }
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.out_dir / f"rank{trainer.global_rank}.pt.tmp"
        torch.save(report, tmp)
        tmp.replace(self.out_dir / f"rank{trainer.global_rank}.pt")
