"""Run by test_ddp.py: WGAN-GP on the 2-D ring with 2 CPU processes (gloo) and plain
``strategy="ddp"``; every rank saves its final weights for comparison.

Usage: python ddp_script.py OUT_DIR [strategy]
"""

import sys
from pathlib import Path

import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import quiet_trainer  # noqa: E402

from datamodules import Toy2DDataModule  # noqa: E402
from lit_gans.families import WGANGP  # noqa: E402


def main(out: Path, strategy: str) -> None:
    L.seed_everything(0)
    dm = Toy2DDataModule(name="ring", n_samples=4096, batch_size=64)
    model = WGANGP(
        data_shape=dm.data_shape, architecture="mlp", latent_dim=8, g_width=32, d_width=32, max_g_steps=6, ema_decay=0.9
    )
    trainer = quiet_trainer(devices=2, strategy=strategy)
    trainer.fit(model, dm)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    draw = model.latent_spec.draw(4, model.device).z.cpu()  # each rank's random stream after training
    torch.save({"state": state, "g_step": model.g_step, "d_step": model.d_step, "draw": draw,
                "direct_steps": model._stepper.direct}, out / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "ddp")
