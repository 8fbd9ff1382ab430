"""Where a run's wall time goes: start-up, training, validation, evaluation (metrics), sample grids and
checkpoints (``TimeReport``), printed at the end of ``lit-gans fit`` and written to
``<log_dir>/time_report.json``."""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import lightning as L

_IMPORTED = time.time()


def process_started() -> float:
    """When this process started (``time.time()`` scale): from ``/proc`` on Linux, else when this
    module was imported (which misses the interpreter's own start)."""
    try:
        with open("/proc/self/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()  # field 22 (starttime) is the 20th after the name
        with open("/proc/uptime") as uptime:
            since_boot = float(uptime.read().split()[0])
        return time.time() - (since_boot - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return _IMPORTED


class Timed:
    """A callback that adds the seconds of its own work (``with self.timed():``) to ``seconds``."""

    seconds: float = 0.0

    @contextmanager
    def timed(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds = self.seconds + time.perf_counter() - start


#: what the report names each timed callback's work, by the callback's ``time_category``
CATEGORIES = ("start-up", "training", "validation", "evaluation", "sample grids", "checkpoints")


class TimeReport(L.Callback):
    """Splits a ``fit``'s wall time into start-up (process start to the first training batch: imports,
    data preparation, building, Lightning's sanity check), training, validation (Lightning's validation loop, without the
    metrics evaluated in it), evaluation (the metrics callback), sample grids and checkpoints (each
    callback with a ``time_category`` times its own work), up to the end of ``fit`` (what follows, the
    process's exit, is not counted). Installed by
    ``lit-gans fit``; the split is in ``report`` after the run, in ``<log_dir>/time_report.json`` and in
    the run's closing lines."""

    def __init__(self) -> None:
        self.report: dict[str, float] = {}
        self._train_started: Optional[float] = None
        self._validation_started: Optional[float] = None
        self._validation = 0.0
        self._log_dir: Optional[Path] = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # every rank asks (``log_dir`` is a broadcast); only rank 0 writes
        self._log_dir = Path(trainer.log_dir or trainer.default_root_dir) if stage == "fit" else None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._train_started = time.time()

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:  # Lightning's sanity check runs before training: part of the start-up
            self._validation_started = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._validation_started is not None:
            self._validation += time.perf_counter() - self._validation_started
            self._validation_started = None

    def _timed(self, trainer: L.Trainer) -> dict[str, float]:
        spent = {category: 0.0 for category in CATEGORIES[3:]}
        for callback in trainer.callbacks:
            category = getattr(callback, "time_category", None)
            if category in spent:
                spent[category] += callback.seconds
        return spent

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        now, started = time.time(), process_started()
        if self._train_started is None or trainer.fast_dev_run:  # stopped before training began; a plumbing check
            return
        spent = self._timed(trainer)
        # metrics evaluated at a validation's end ran inside the validation loop: count them once
        in_validation = sum(getattr(c, "seconds_in_validation", 0.0) for c in trainer.callbacks)
        validation = max(0.0, self._validation - in_validation)
        startup = self._train_started - started
        loop = now - self._train_started
        training = max(0.0, loop - validation - sum(spent.values()))
        self.report = {"wall": now - started, "start-up": startup, "training": training, "validation": validation, **spent}
        if trainer.is_global_zero and self._log_dir is not None:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            (self._log_dir / "time_report.json").write_text(json.dumps(self.report, indent=1) + "\n")

    def line(self) -> str:
        """The report as one line: ``61.2 s: start-up 9.0 s, training 48.1 s (79 %), ...``: start-up, training and
        every other kind of work the run did, however short (a 0.04 s evaluation reads ``evaluation 0.0 s``)."""
        if not self.report:
            return ""
        wall = self.report["wall"]
        parts = [f"{name} {seconds:.1f} s ({100 * seconds / wall:.0f} %)" for name, seconds in self.report.items()
                 if name != "wall" and (seconds > 0 or name in ("start-up", "training"))]
        return f"{wall:.1f} s: " + ", ".join(parts)


__all__ = ["CATEGORIES", "TimeReport", "Timed", "process_started"]
