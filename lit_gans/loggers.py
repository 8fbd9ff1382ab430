"""The default logger: wandb online when the user is logged in, offline otherwise."""

from __future__ import annotations

import netrc
import os
from typing import Any
from urllib.parse import urlparse

from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_info


def wandb_logged_in() -> bool:
    """True when wandb has credentials: ``WANDB_API_KEY`` or a netrc entry for its host."""
    if os.environ.get("WANDB_MODE", "").lower() in ("offline", "disabled", "dryrun"):
        return False
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or ""
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


class AutoWandbLogger(WandbLogger):
    """``WandbLogger`` that logs online when wandb has credentials and offline otherwise, printing
    one line on how to upload an offline run.

    Args:
        project: wandb project name.
        save_dir: folder for wandb's files.
        offline: force offline (True) or online (False); None decides from the credentials.
        kwargs: passed to ``lightning.pytorch.loggers.WandbLogger``.
    """

    def __init__(self, project: str = "lit-gans", save_dir: str = "runs", offline: bool | None = None, **kwargs: Any):
        if offline is None:
            offline = not wandb_logged_in()
        if offline:
            rank_zero_info(
                f"wandb: not logged in, logging offline under {save_dir}/wandb; upload later with "
                f"`wandb sync {save_dir}/wandb/offline-run-*` (or `wandb login` before the next run)"
            )
        os.makedirs(save_dir, exist_ok=True)
        super().__init__(project=project, save_dir=save_dir, offline=offline, **kwargs)

    @property
    def experiment(self) -> Any:
        """The wandb run; its charts use generator iterations (``g_step``) as the x-axis, not
        Lightning's global step, which counts both optimizers' steps."""
        first = self._experiment is None
        run = super().experiment
        if first and getattr(run, "define_metric", None):
            run.define_metric("g_step")
            run.define_metric("*", step_metric="g_step", step_sync=True)
        return run


def default_logger() -> Any:
    """A lazily built ``AutoWandbLogger``, for LightningCLI's trainer defaults."""
    from jsonargparse import lazy_instance

    return lazy_instance(AutoWandbLogger)
