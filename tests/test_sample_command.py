"""``lit-gans sample`` writes a grid from a checkpoint of every family."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from datamodules import DigitsDataModule
from lit_gans.cli import main
from lit_gans.families import FAMILIES

from conftest import quiet_trainer


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_sample_from_each_family_checkpoint(family, tmp_path, capsys):
    dm = DigitsDataModule(image_size=16, batch_size=16)
    model = FAMILIES[family](
        data_shape=dm.data_shape, num_classes=dm.num_classes, g_width=8, d_width=8, max_g_steps=1, ema_decay=0.9
    )
    trainer = quiet_trainer(limit_train_batches=5)
    trainer.fit(model, dm)
    ckpt = tmp_path / "model.ckpt"
    trainer.save_checkpoint(ckpt)

    args = ["sample", "--ckpt", str(ckpt), "--n", "20", "--nrow", "10"]
    if model.conditional:
        args += ["--labels", "3,7"]
    if model.latent_spec.categorical:
        args += ["--codes", "0,5"]
    assert main(args + ["--out", str(tmp_path / "grid.png")]) == 0
    assert f"wrote 20 samples of {family} (g_step 1, EMA generator)" in capsys.readouterr().out
    assert Image.open(tmp_path / "grid.png").size == (10 * 32 + 22, 2 * 32 + 6)

    assert main(args + ["--out", str(tmp_path / "x.pt"), "--no-ema"]) == 0
    samples = torch.load(tmp_path / "x.pt")
    assert samples.shape == (20, 1, 16, 16) and samples.abs().max() <= 1


def test_codes_are_refused_for_a_model_without_them(tmp_path, capsys):
    dm = DigitsDataModule(image_size=16, batch_size=16)
    model = FAMILIES["DCGAN"](data_shape=dm.data_shape, num_classes=10, g_width=8, d_width=8)
    trainer = quiet_trainer(limit_train_batches=1, max_steps=2)
    trainer.fit(model, dm)
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    assert main(["sample", "--ckpt", str(tmp_path / "m.ckpt"), "--codes", "1", "--out", str(tmp_path / "g.png")]) == 2
    assert "--codes: DCGAN has no categorical code" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()
