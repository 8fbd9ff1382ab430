"""``lit-gans sample`` writes a grid from a checkpoint of every family; truncated noise in ``sample``,
``lit-gans sample --truncation`` and ``lit-gans evaluate --truncation``."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from datamodules import DigitsDataModule
from lit_gans.cli import main
from lit_gans.errors import ConfigError
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


@pytest.fixture(scope="module")
def dcgan_checkpoint(tmp_path_factory):
    """A DCGAN on digits trained for two generator steps, and its checkpoint."""
    dm = DigitsDataModule(image_size=16, batch_size=16)
    model = FAMILIES["DCGAN"](data_shape=dm.data_shape, num_classes=10, g_width=8, d_width=8, max_g_steps=2)
    trainer = quiet_trainer(limit_train_batches=2)
    trainer.fit(model, dm)
    ckpt = tmp_path_factory.mktemp("dcgan") / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    return model, ckpt


def test_sample_draws_truncated_noise_when_asked(dcgan_checkpoint):
    from lit_gans.sampling import Truncated

    model, _ = dcgan_checkpoint
    seen = []
    hook = model.sampling_generator.register_forward_pre_hook(lambda net, inputs: seen.append(inputs[0].clone()))
    try:
        torch.manual_seed(0)
        truncated = model.sample(40, truncation=0.5)
        assert truncated.shape == (40, 1, 16, 16) and seen[-1].abs().max() <= 0.5
        torch.manual_seed(0)
        assert torch.equal(model.sample(40, truncation=0.5), truncated)  # seeded as any draw
        torch.manual_seed(0)
        assert torch.equal(Truncated(model, 0.5).sample(40), truncated)
        model.sample(200)
        assert seen[-1].abs().max() > 2  # untruncated by default
        z = torch.full((3, model.latent_spec.z_dim), 3.0)
        model.sample(3, z=z, truncation=0.5)
        assert torch.equal(seen[-1], z)  # a z given is used as it is
    finally:
        hook.remove()
    wrapped = Truncated(model, 0.5)
    assert wrapped.device == model.device and wrapped.latent_spec is model.latent_spec and wrapped.g_step == model.g_step
    with pytest.raises(ConfigError, match="must be a number > 0"):
        model.sample(4, truncation=0)


def test_truncation_is_refused_for_uniform_noise():
    from lit_gans.sampling import Truncated

    model = FAMILIES["InfoGAN"](data_shape=(1, 16, 16), g_width=8, d_width=8)
    assert model.latent_spec.distribution == "uniform"
    with pytest.raises(ConfigError, match="applies to normal noise only"):
        model.sample(4, truncation=0.5)
    with pytest.raises(ConfigError, match="applies to normal noise only"):
        Truncated(model, 0.5)


def test_sample_command_with_truncation_writes_truncated_samples(dcgan_checkpoint, tmp_path, capsys):
    _, ckpt = dcgan_checkpoint
    args = ["sample", "--ckpt", str(ckpt), "--n", "16", "--no-ema"]
    assert main(args + ["--truncation", "0.5", "--out", str(tmp_path / "grid.png")]) == 0
    assert "wrote 16 samples of DCGAN (g_step 2, generator, z truncated at 0.5)" in capsys.readouterr().out
    assert Image.open(tmp_path / "grid.png").size == (8 * 32 + 18, 2 * 32 + 6)
    assert main(args + ["--truncation", "0.5", "--out", str(tmp_path / "a.pt")]) == 0
    assert main(args + ["--truncation", "0.5", "--out", str(tmp_path / "b.pt")]) == 0
    assert main(args + ["--out", str(tmp_path / "plain.pt")]) == 0
    a, b, plain = (torch.load(tmp_path / f"{name}.pt") for name in ("a", "b", "plain"))
    assert torch.equal(a, b) and not torch.equal(a, plain)
    capsys.readouterr()
    for bad in ("0", "-1", "nan", "inf"):
        assert main(args + ["--truncation", bad, "--out", str(tmp_path / "bad.png")]) == 2
        assert "must be a finite number > 0" in capsys.readouterr().err
    assert not (tmp_path / "bad.png").exists()


def test_evaluate_with_truncation_records_it(dcgan_checkpoint, tmp_path, capsys, monkeypatch):
    import json

    monkeypatch.setenv("LIT_GANS_CACHE", str(tmp_path / "cache"))
    _, ckpt = dcgan_checkpoint
    args = ["evaluate", "--ckpt", str(ckpt), "--metrics", "fid,classifier", "--n-samples", "200", "--n-real", "300"]
    assert main(args + ["--truncation", "0.5", "--out", str(tmp_path / "t.json")]) == 0
    assert "DCGAN at g_step 2 (generator, z truncated at 0.5), 200 samples" in capsys.readouterr().out
    assert main(args + ["--out", str(tmp_path / "plain.json")]) == 0
    truncated, plain = (json.loads((tmp_path / name).read_text()) for name in ("t.json", "plain.json"))
    assert truncated["truncation"] == 0.5 and plain["truncation"] is None
    assert set(truncated["metrics"]) == set(plain["metrics"]) and "digits/fid" in truncated["metrics"]
    assert truncated["metrics"]["digits/fid"] != plain["metrics"]["digits/fid"]
    capsys.readouterr()
    assert main(args + ["--truncation", "-0.5"]) == 2
    assert "--truncation -0.5 must be a finite number > 0" in capsys.readouterr().err
