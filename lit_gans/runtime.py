"""Run settings of ``lit-gans fit`` beside the Trainer's: validation counted in generator iterations, and
torch's CPU threads per process."""

from __future__ import annotations

import os
from typing import Any, Optional

import torch

from lit_gans.errors import ConfigError
from lit_gans.loop import batches_per_step

class ValidationSchedule:
    """When Lightning's validation loop runs (the losses on the validation split; the image-to-image
    families and SinGAN measure themselves there): every ``every_n_g_steps`` generator iterations,
    translated into the Trainer's ``val_check_interval`` in batches from the family's phases (a WGAN
    with 5 critic steps per generator step validates every ``5 * every_n_g_steps`` batches).
    ``null`` gives Lightning's epoch cadence, and a config that sets ``trainer.val_check_interval`` or
    ``trainer.check_val_every_n_epoch`` keeps its own (``lit-gans`` leaves both unset by default).

    A validation of a family that generates from noise reads at most ``max_batches`` batches (the losses
    need no more; Fashion-MNIST's 10,000 test images took a 256-wide BigGAN 15 CPU minutes at the end of
    a 2-minute run); the families that measure themselves in validation (``evaluates_itself``: the
    image-to-image families, SinGAN) read it all. ``trainer.limit_val_batches`` in a config wins. The metrics (FID, KID, ...) have their own
    schedule (``metrics.every_n_g_steps``).

    Args:
        every_n_g_steps: generator iterations between validations (null: Lightning's trainer settings).
        max_batches: validation batches read by a family that generates from noise (null: all).
    """

    def __init__(self, every_n_g_steps: Optional[int] = 500, max_batches: Optional[int] = 20):
        if every_n_g_steps is not None and every_n_g_steps < 1:
            raise ConfigError(f"validation.every_n_g_steps={every_n_g_steps} must be at least 1, or null for "
                              "Lightning's trainer settings (trainer.check_val_every_n_epoch)")
        if max_batches is not None and max_batches < 1:
            raise ConfigError(f"validation.max_batches={max_batches} must be at least 1, or null to read the whole split")
        self.every_n_g_steps, self.max_batches = every_n_g_steps, max_batches

    def trainer_settings(self, model: Any, trainer_config: dict[str, Any]) -> dict[str, Any]:
        """The Trainer arguments that put validation on this schedule for ``model``, or none when the
        config chose its own (or ``every_n_g_steps`` is null)."""
        settings: dict[str, Any] = {}
        if trainer_config.get("limit_val_batches") is None:  # lit-gans' default: not set by the config
            whole = self.max_batches is None or getattr(model, "evaluates_itself", False)
            settings["limit_val_batches"] = 1.0 if whole else self.max_batches
        own = trainer_config.get("val_check_interval") is not None or trainer_config.get("check_val_every_n_epoch") is not None
        if own:
            return settings
        if self.every_n_g_steps is None or not hasattr(model, "phases"):
            return {**settings, "check_val_every_n_epoch": 1}  # Lightning's default
        return {**settings, "val_check_interval": self.every_n_g_steps * batches_per_step(model.phases(), "generator"),
                "check_val_every_n_epoch": None}


def processes_per_node(trainer_config: Any) -> int:
    """How many training processes this run puts on one machine: a launcher's own count (torchrun's
    ``LOCAL_WORLD_SIZE``, SLURM's ``SLURM_NTASKS_PER_NODE``), else the Trainer's ``devices`` (``auto``
    or -1: every GPU on a GPU machine, one process on the CPU)."""
    for name in ("LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE"):
        value = os.environ.get(name, "").split("(")[0]  # SLURM writes e.g. "2(x3)"
        if value.isdigit():
            return max(1, int(value))
    accelerator = str(trainer_config.get("accelerator") or "auto")
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    devices = trainer_config.get("devices", "auto")
    if isinstance(devices, str) and devices.lstrip("-").isdigit():
        devices = int(devices)
    if isinstance(devices, (list, tuple)):
        return max(1, len(devices))
    if isinstance(devices, int) and devices > 0:
        return devices
    return max(1, torch.cuda.device_count()) if on_gpu else 1


def available_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def choose_threads(threads: Optional[int], trainer_config: dict[str, Any]) -> int:
    """Set torch's intra-op threads: ``threads`` when given; else ``OMP_NUM_THREADS`` when the environment
    sets it (torch reads it itself); else the cores divided among this machine's training processes (two
    CPU processes on two cores get one thread each: more oversubscribes the cores, and spinning threads
    make small operations many times slower). Returns the count."""
    if threads is not None and threads < 1:
        raise ConfigError(f"threads={threads} must be at least 1 (torch's CPU threads per process), or null to "
                          "divide the cores among the run's processes")
    if threads is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return torch.get_num_threads()
    count = threads if threads is not None else max(1, available_cores() // processes_per_node(trainer_config))
    torch.set_num_threads(count)
    return count


__all__ = ["ValidationSchedule", "available_cores", "choose_threads", "processes_per_node"]
