"""Run by tests/test_metrics.py: a DCGAN on digits trained by 2 DDP processes (gloo) with the
GenerativeMetrics callback; each rank saves the metric values it computed.

Usage: python metrics_callback_ddp_script.py OUT_DIR
"""

import json
import sys
from pathlib import Path

import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import quiet_trainer  # noqa: E402

from datamodules import DigitsDataModule  # noqa: E402
from lit_gans.callbacks import GenerativeMetrics  # noqa: E402
from lit_gans.families import DCGAN  # noqa: E402


def main(out: Path) -> None:
    torch.set_num_threads(1)
    L.seed_everything(0)
    dm = DigitsDataModule(image_size=16, batch_size=32)
    model = DCGAN(data_shape=dm.data_shape, g_width=8, d_width=8, latent_dim=16, max_g_steps=4, ema_decay=0.9)
    metrics = GenerativeMetrics(every_n_g_steps=2, n_samples=101, n_real=300, on_validation=False, cache_dir=str(out / "cache"))
    trainer = quiet_trainer(devices=2, strategy="ddp", callbacks=[metrics])
    trainer.fit(model, dm)
    (out / f"rank{trainer.global_rank}.json").write_text(json.dumps(metrics.history))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
