"""The context encoder (Pathak et al. 2016): its loss against the paper's formula by hand, learning to fill the
centre of digits better than a mean-colour fill, and ``lit-gans translate`` filling holes in image files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from lit_gans.errors import ConfigError
from lit_gans.families import ContextEncoder
from lit_gans.families.context_encoder import hole_psnr, mean_fill
from lit_gans.loop import Batch
from lit_gans.nets.inpainting import center_mask

from cli_run import CLI, run

ROOT = Path(__file__).resolve().parents[1]


def images(n: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_generator_loss_is_the_papers_weighted_l2_plus_the_adversarial_term():
    """0.999 x sum(w (x - G)^2) / sum(w) over the hole (w = 10 on its 2 px border band, 1 inside) + 0.001 x
    BCE(D(G's region), 1); the completed image keeps every known pixel."""
    torch.manual_seed(0)
    model = ContextEncoder(data_shape=(1, 16, 16), g_width=8, d_width=8, overlap=2)
    x = images(4)
    out = model.generator_loss(Batch(image=x))
    mask = center_mask(4, 16, 8)
    masked = torch.where(mask.bool(), torch.zeros_like(x), x)
    region = model.generator(masked)
    completed = x.clone()
    completed[..., 4:12, 4:12] = region
    w = torch.ones(8, 8)
    w[2:6, 2:6] = 0.1  # 1 inside, 10 on the band: scaled by 1/10 throughout
    w = w * 10
    reconstruction = ((region - x[..., 4:12, 4:12]) ** 2 * w).sum() / (w.sum() * 4)
    logits = model.discriminator(region)
    expected = 0.999 * reconstruction + 0.001 * F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    assert torch.allclose(out.loss, expected, atol=1e-5)
    assert torch.equal(out.fake * (1 - mask), x * (1 - mask)) and torch.allclose(out.fake, completed)


def test_random_blocks_paint_whole_images_but_keep_the_known_pixels():
    torch.manual_seed(0)
    model = ContextEncoder(data_shape=(1, 16, 16), g_width=8, d_width=8, mask="random")
    x = images(3)
    mask = model.draw_mask(3, generator=torch.Generator().manual_seed(1))
    filled = model.translate(x, mask=mask)
    assert 0 < mask.mean() <= 0.25
    assert torch.equal(filled * (1 - mask), x * (1 - mask)) and not torch.equal(filled * mask, x * mask)
    assert model.discriminator(filled).shape == (3,), "random blocks: the discriminator judges whole images"


def test_the_mean_fill_baseline_and_hole_psnr_by_hand():
    x = torch.tensor([[[[0.5, -0.5], [1.0, 0.0]]]])
    mask = torch.tensor([[[[0.0, 0.0], [0.0, 1.0]]]])
    filled = mean_fill(x, mask)
    assert filled[0, 0, 1, 1] == pytest.approx(1.0 / 3) and torch.equal(filled * (1 - mask), x * (1 - mask))
    # error 1/3 in [-1, 1] units = 1/6 in [0, 1]: PSNR = -10 log10(1/36)
    assert float(hole_psnr(filled, x, mask)) == pytest.approx(10 * torch.log10(torch.tensor(36.0)).item(), rel=1e-4)


def test_bad_settings_are_one_clear_error():
    with pytest.raises(ConfigError, match="mask='ring' is unknown"):
        ContextEncoder(data_shape=(1, 16, 16), mask="ring")
    with pytest.raises(ConfigError, match="hole_size=16"):
        ContextEncoder(data_shape=(1, 16, 16), hole_size=16)


@pytest.mark.slow
def test_context_encoder_fills_digit_centres_better_than_their_mean_colour():
    from datamodules import DigitsDataModule

    from conftest import quiet_trainer

    torch.manual_seed(0)
    dm = DigitsDataModule(image_size=16, batch_size=64)
    dm.setup("fit")
    x = torch.stack([dm.val_set[i][0] for i in range(len(dm.val_set))])
    mask = center_mask(len(x), 16, 8)
    model = ContextEncoder(data_shape=dm.data_shape, g_width=16, d_width=16, overlap=2, max_g_steps=120)
    before = float(hole_psnr(model.translate(x, mask=mask), x, mask))
    quiet_trainer().fit(model, dm)
    after = float(hole_psnr(model.translate(x, mask=mask), x, mask))
    baseline = float(hole_psnr(mean_fill(x, mask), x, mask))
    print(f"context encoder digits: PSNR in the hole {before:.2f} -> {after:.2f} dB (mean fill {baseline:.2f} dB)")
    assert after > baseline + 2.0


@pytest.mark.slow
def test_context_encoder_through_the_cli_fills_holes_in_files(tmp_path, capsys):
    result = run([*CLI, "fit", "--config", str(ROOT / "configs" / "context_encoder" / "digits.yaml"),
                  "--trainer.accelerator", "cpu", "--trainer.default_root_dir", str(tmp_path / "run"),
                  "--model.init_args.max_g_steps", "2", "--samples.every_n_g_steps", "2", "--model.init_args.g_width", "8",
                  "--model.init_args.d_width", "8", "--trainer.check_val_every_n_epoch", "1",
                  "--trainer.limit_train_batches", "1"], cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert Image.open(tmp_path / "run" / "samples" / "g0000002.png").size == (8 * 34 + 2, 3 * 34 + 2)
    assert "last validation: val/l1=" in result.stdout and "val/mean_fill_psnr=" in result.stdout
    ckpt = next((tmp_path / "run").rglob("last.ckpt"))
    (tmp_path / "in").mkdir()
    Image.fromarray((torch.rand(40, 40) * 255).to(torch.uint8).numpy()).save(tmp_path / "in" / "noise.png")
    from lit_gans.cli import main  # in this process: tests/test_translation.py starts the command in a subprocess

    assert main(["translate", "--ckpt", str(ckpt), "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--pairs"]) == 0
    assert "wrote 1 translation(s) (a2b, ContextEncoder, g_step 2)" in capsys.readouterr().out
    assert Image.open(tmp_path / "out" / "noise.png").size == (32, 16)
