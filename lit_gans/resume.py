"""Resuming a run: what may change, and the random state that makes a resumed run exact.

``lit-gans fit --ckpt_path`` keeps the config it is given (Lightning's CLI would replace it with the
checkpoint's hyperparameters). What may change on resume is the run's length, the loss and its
penalties and augmentation, ``n_critic`` and EMA timing, optimizer hyperparameters (learning rate, betas, weight
decay) and logging; what may not is what the weights' meaning depends on: the family, the networks
and the data's shape. A change of the second kind is refused with one line naming it.

Exactness: the checkpoint also records every process's random-number generators (torch, CUDA,
numpy, Python), restored right before the first resumed training step, and the DataModule records
its place in the data order (``datamodules.base.ResumableSampler``), so on a CPU a resumed run is
bitwise identical to an uninterrupted one.
"""

from __future__ import annotations

import random
from typing import Any, Iterable, Mapping, Optional

import numpy as np
import torch
import torch.distributed as dist

from lightning.pytorch.utilities import rank_zero_info

from lit_gans.errors import CheckpointError

#: model arguments that a resumed run may change; everything else must match the checkpoint
RESUMABLE = frozenset({
    "max_g_steps", "n_critic", "objective", "clip_value", "gradient_penalty", "r1_gamma", "r2_gamma",
    "ema_decay", "ema_start", "ema_rampup", "max_weight", "penalties", "augment",
})


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def check_resumable(
    saved_family: Optional[str], family: str, saved: Mapping[str, Any], current: Mapping[str, Any],
    resumable: frozenset[str] = RESUMABLE,
) -> list[str]:
    """The ``resumable`` arguments that differ (as ``"name old -> new"``); raises ``CheckpointError``
    for a different family or a change of anything else."""
    if saved_family and saved_family != family:
        raise CheckpointError(
            f"the checkpoint holds a {saved_family.rpartition('.')[2]} but the config builds a "
            f"{family.rpartition('.')[2]}; resume with the config the checkpoint was trained with"
        )
    frozen, changed = [], []
    for key in sorted(set(saved) | set(current)):
        if key.startswith("_") or key.endswith(("_optimizer", "_scheduler")):
            continue  # optimizers are the config's on resume: ``apply_optimizer_settings`` reports what changed
        old, new = _plain(saved.get(key)), _plain(current.get(key))
        if old == new:
            continue
        # an EMA can change its decay, but not appear or disappear: its weights are in the checkpoint or not
        if key in resumable and not (key == "ema_decay" and (old is None) != (new is None)):
            changed.append(f"{key} {old} -> {new}")
        else:
            frozen.append(f"{key} {old} -> {new}")
    if frozen:
        raise CheckpointError(
            f"the config changes what the checkpoint's weights were trained as ({'; '.join(frozen)}); resuming "
            f"may change only {', '.join(sorted(resumable))}, optimizers and logging: undo the change or start a new run"
        )
    return changed


def apply_optimizer_settings(named: Iterable[tuple[str, Any, Any]]) -> list[str]:
    """After Lightning restored optimizer states (which carry the checkpoint's learning rates and
    betas), put back the hyperparameters the config gave each optimizer. ``named`` holds (name,
    optimizer, scheduler or None). A scheduled learning rate is rescaled by new/old base rate.
    Returns the changes as ``"name key old -> new"``."""
    changes = []
    for name, optimizer, scheduler in named:
        wanted = optimizer.defaults
        for index, group in enumerate(optimizer.param_groups):
            for key, value in wanted.items():
                if key not in group or key in ("params", "initial_lr"):
                    continue
                if key == "lr" and scheduler is not None and hasattr(scheduler, "base_lrs"):
                    old = scheduler.base_lrs[index]
                    if old != value:
                        scheduler.base_lrs[index] = value
                        group["lr"] = group["lr"] * value / old
                        group["initial_lr"] = value
                        changes.append(f"{name} lr {old:g} -> {value:g}")
                    continue
                old = group[key]
                if _plain(old) != _plain(value):
                    group[key] = value
                    changes.append(f"{name} {key} {old} -> {value}")
    return changes


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state["numpy"] = {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos, "has_gauss": has_gauss, "cached": cached}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def collect_rng_states() -> list[dict[str, Any]]:
    """Every process's random state, indexed by global rank (called on every rank while a checkpoint is
    made; rank 0 writes it)."""
    mine = _rng_state()
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [mine]
    everyone: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    return everyone


def restore_rng_state(states: list[dict[str, Any]], rank: int) -> bool:
    """Set this process's generators from the checkpoint's entry for ``rank``; False when the checkpoint
    has none for it (written with fewer processes)."""
    if rank >= len(states):
        return False
    state = states[rank]
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy = state["numpy"]
    np.random.set_state(("MT19937", numpy["keys"].numpy().astype(np.uint32), numpy["pos"], numpy["has_gauss"], numpy["cached"]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    return True


class ResumableModule:
    """The checkpoint hooks of ``AdversarialModule``: the family, step counts, every process's random
    state and the data the model learnt go into each checkpoint; on resume, the config is checked
    against the checkpoint (``check_resumable``), the random state is restored right before the first
    step and the config's optimizer settings are put back (``apply_optimizer_settings``)."""

    resumable_args: frozenset[str] = RESUMABLE
    _resume_rng: Optional[list] = None
    _resume_changes: list[str] = []

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["lit_gans"] = {
            "family": self._family_name(), "g_step": self.g_step, "d_step": self.d_step,
            "steps": dict(self.steps), "batches": self.batches,
            "rng": collect_rng_states(),  # every process's generators, for an exact resume
        }
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is not None and hasattr(datamodule, "hparams"):
            # the data this model learnt, so that `lit-gans evaluate` can rebuild the reference set
            checkpoint["lit_gans"]["datamodule"] = {
                "class_path": f"{type(datamodule).__module__}.{type(datamodule).__qualname__}",
                "init_args": {k: v for k, v in datamodule.hparams.items() if not k.startswith("_")},
            }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("lit_gans", {})
        if self._trainer is not None:  # a run resumed (or validated) from it; load_from_checkpoint builds from it
            self._resume_changes = check_resumable(
                state.get("family"), self._family_name(), checkpoint.get("hyper_parameters", {}), self.hparams,
                self.resumable_args,
            )
        # penalties and augmentation may change on resume: their running state (path length's mean, ADA's p)
        # follows the config's, kept from the checkpoint where the config has the same entries
        prefixes = ("penalties.", "augment.")
        mine = {k: v for k, v in self.state_dict().items() if k.startswith(prefixes)}
        weights = checkpoint.get("state_dict", {})
        for key in [k for k in weights if k.startswith(prefixes) and k not in mine]:
            del weights[key]
        for key, value in mine.items():
            weights.setdefault(key, value)
        self.steps = {k: int(v) for k, v in state.get("steps", {}).items()} or {
            "generator": int(state.get("g_step", 0)), "discriminator": int(state.get("d_step", 0))}
        self.batches = int(state.get("batches", self.d_step))
        self._resume_rng = state.get("rng")

    def _family_name(self) -> str:
        return f"{type(self).__module__}.{type(self).__qualname__}"

    def on_train_start(self) -> None:
        if self._resume_rng is not None:
            # restored here, after everything between the checkpoint's load and the first step that drew numbers
            if not restore_rng_state(self._resume_rng, self.global_rank):
                rank_zero_info("lit-gans: the checkpoint has no random state for this many processes; the resumed run is not exact")
            self._resume_rng = None
        if self.trainer.ckpt_path is not None:
            schedulers = {id(c.scheduler.optimizer): c.scheduler for c in self.trainer.lr_scheduler_configs}
            named = [(name, o, schedulers.get(id(o))) for name, o in zip(self.optimizer_groups(), self.trainer.optimizers)]
            changes = self._resume_changes + apply_optimizer_settings(named)
            if changes:
                rank_zero_info(f"lit-gans: resuming at generator step {self.g_step} with the config's {'; '.join(changes)}")



__all__ = ["RESUMABLE", "ResumableModule", "apply_optimizer_settings", "check_resumable", "collect_rng_states",
           "restore_rng_state"]
