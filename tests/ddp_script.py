"""Run by test_ddp.py: WGAN-GP on the 2-D ring with 2 CPU processes (gloo) and plain
``strategy="ddp"``; every rank saves its final weights for comparison.

Usage: python ddp_script.py OUT_DIR [strategy]
"""

import sys
from pathlib import Path

import lightning as L
import torch

from datamodules import Toy2DDataModule
from lit_gans.families import WGANGP


def main(out: Path, strategy: str) -> None:
    L.seed_everything(0)
    dm = Toy2DDataModule(name="ring", n_samples=4096, batch_size=64)
    model = WGANGP(
        data_shape=dm.data_shape, architecture="mlp", latent_dim=8, g_width=32, d_width=32, max_g_steps=6, ema_decay=0.9
    )
    trainer = L.Trainer(
        accelerator="cpu",
        devices=2,
        strategy=strategy,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(model, dm)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"state": state, "g_step": model.g_step, "d_step": model.d_step}, out / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "ddp")
