"""SRGAN (Ledig et al. 2017): SRResNet pre-training, then the perceptual loss (content + 1e-3 adversarial) by hand;
beating bicubic upsampling on the held-out photo; ``lit-gans translate`` super-resolving a file at its own size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from lit_gans.errors import ConfigError
from lit_gans.families import SRGAN
from lit_gans.families.srgan import luma, sr_scores
from lit_gans.loop import Batch

from cli_run import CLI, run

ROOT = Path(__file__).resolve().parents[1]


def pair(n: int = 4, size: int = 16, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(image=torch.rand(n, 3, size, size, generator=g) * 2 - 1,
                 condition=torch.rand(n, 3, size // 4, size // 4, generator=g) * 2 - 1)


def test_pretraining_is_srresnet_then_the_perceptual_loss_joins():
    torch.manual_seed(0)
    model = SRGAN(data_shape=(3, 16, 16), g_width=8, d_width=8, n_blocks=1, pretrain_steps=2)
    critic = next(p for p in model.phases() if p.name == "discriminator")
    batch = pair()
    assert model.pretraining and not critic.when()
    out = model.generator_loss(batch)
    fake = model.generator(batch.condition)
    assert torch.allclose(out.loss, F.mse_loss(fake, batch.image), atol=1e-6) and "loss/g_adv" not in out.logs
    model.steps["generator"] = 2
    assert not model.pretraining and critic.when()
    out = model.generator_loss(batch)
    logits = model.discriminator(fake)
    expected = F.mse_loss(fake, batch.image) + 1e-3 * F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    assert torch.allclose(out.loss, expected, atol=1e-6)
    assert model.generator(batch.condition).shape == (4, 3, 16, 16)


def test_content_loss_choice_and_its_errors():
    assert SRGAN(data_shape=(3, 16, 16), g_width=8, d_width=8, n_blocks=1).content == "pixel"  # auto without VGG19
    with pytest.raises(ConfigError, match="vgg19-dcbbe3c0.pth"):
        SRGAN(data_shape=(3, 16, 16), content="vgg54")
    with pytest.raises(ConfigError, match="scale=4"):
        SRGAN(data_shape=(3, 18, 18))


def test_scores_use_the_luma_channel_inside_the_border():
    real = torch.zeros(1, 3, 12, 12)
    fake = real.clone()
    fake[..., :4, :] = 1.0  # errors only in the cropped border
    assert sr_scores(fake, real, border=4)["psnr"] > 90
    assert sr_scores(fake, real, border=0)["psnr"] < 20
    white = torch.ones(1, 3, 1, 1)
    assert float(luma(white)) == pytest.approx(235 / 255, abs=1e-4)


@pytest.mark.slow
def test_srresnet_learns_to_super_resolve_the_held_out_photo():
    """400 SRResNet iterations move PSNR on the held-out photo's tiles far up from the untrained network's; at this
    length it is still below nearest and bicubic upsampling (which ``bench/translation.py`` measures at length)."""
    from datamodules import SuperResolutionDataModule
    from lit_gans.loop import Batch as B

    from conftest import quiet_trainer

    torch.manual_seed(0)
    dm = SuperResolutionDataModule(hr_size=32, crops_per_epoch=1024, batch_size=16)
    dm.setup("fit")
    model = SRGAN(data_shape=dm.data_shape, g_width=16, d_width=16, n_blocks=2, pretrain_steps=400, max_g_steps=400,
                  g_optimizer=lambda p: torch.optim.Adam(p, lr=1e-3))
    val = B.of(dm.val_set.__getitems__(list(range(len(dm.val_set)))), dm.batch_fields)

    def psnr(images: torch.Tensor) -> float:
        return float(sr_scores(images, val.image, 4)["psnr"])

    before = psnr(model.translate(val.condition))
    quiet_trainer().fit(model, dm)
    after = psnr(model.translate(val.condition))
    nearest = psnr(F.interpolate(val.condition, scale_factor=4, mode="nearest"))
    print(f"SRResNet on the held-out photo: {before:.2f} -> {after:.2f} dB (nearest {nearest:.2f}, "
          f"bicubic {psnr(model.bicubic(val.condition)):.2f})")
    assert after > before + 8


@pytest.mark.slow
def test_srgan_through_the_cli_super_resolves_a_file_at_its_own_size(tmp_path):
    result = run([*CLI, "fit", "--config", str(ROOT / "configs" / "srgan" / "photos.yaml"), "--trainer.accelerator", "cpu",
                  "--trainer.default_root_dir", str(tmp_path / "run"), "--model.init_args.max_g_steps", "4",
                  "--model.init_args.pretrain_steps", "2", "--samples.every_n_g_steps", "4", "--model.init_args.g_width", "8",
                  "--model.init_args.d_width", "8", "--model.init_args.n_blocks", "1", "--data.init_args.crops_per_epoch", "64",
                  "--trainer.val_check_interval", "4"], cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "val/bicubic_psnr=" in result.stdout and "val/psnr=" in result.stdout
    assert Image.open(tmp_path / "run" / "samples" / "g0000004.png").size == (8 * 34 + 2, 3 * 34 + 2)
    ckpt = next((tmp_path / "run").rglob("last.ckpt"))
    (tmp_path / "in").mkdir()
    Image.fromarray((torch.rand(10, 12, 3) * 255).to(torch.uint8).numpy()).save(tmp_path / "in" / "small.png")
    from lit_gans.cli import main  # in this process: tests/test_translation.py starts the command in a subprocess

    assert main(["translate", "--ckpt", str(ckpt), "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    assert Image.open(tmp_path / "out" / "small.png").size == (48, 40)  # x4 at the file's own size
