"""A rich progress bar that speaks in generator and discriminator steps."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar


class GANProgressBar(RichProgressBar):
    """``RichProgressBar`` showing ``g_step``/``d_step`` as whole numbers (with the target when
    ``max_g_steps`` is set) and the losses, without Lightning's version number."""

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        if hasattr(pl_module, "g_step"):
            target = getattr(pl_module, "max_g_steps", None)
            items["g_step"] = f"{pl_module.g_step}/{target}" if target else str(pl_module.g_step)
            items["d_step"] = str(pl_module.d_step)
        return items

    def _get_train_description(self, current_epoch: int) -> str:
        if self.trainer.max_epochs is None or self.trainer.max_epochs < 0:
            return f"Epoch {current_epoch}"
        return super()._get_train_description(current_epoch)
