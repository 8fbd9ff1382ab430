"""DiffAugment: its transforms, its policy, and where the loop applies it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lit_gans.augment import DiffAugment, brightness, contrast, cutout, saturation, translation
from lit_gans.checkpoints import load_family
from lit_gans.errors import ConfigError
from lit_gans.families import DCGAN

ROOT = Path(__file__).resolve().parents[1]


def test_translation_moves_each_sample_by_whole_pixels_within_an_eighth_and_fills_with_zero():
    torch.manual_seed(0)
    x = -torch.ones(64, 1, 16, 16)
    x[:, :, 7, 9] = 1.0
    y = translation(x)
    assert y.shape == x.shape
    for sample in y:
        peak = (sample[0] == 1).nonzero()
        if len(peak):  # a shift of at most 2 px keeps this pixel inside
            assert abs(int(peak[0, 0]) - 7) <= 2 and abs(int(peak[0, 1]) - 9) <= 2
        assert set(sample.unique().tolist()) <= {-1.0, 0.0, 1.0}  # the border comes in as 0
    assert len({tuple((s[0] == 1).nonzero()[0].tolist()) for s in y}) > 5  # shifts differ per sample


def test_cutout_zeroes_one_square_of_half_the_side_per_sample():
    torch.manual_seed(0)
    x = torch.ones(32, 3, 16, 16)
    y = cutout(x)
    holes = (y == 0).all(dim=1)  # (n, h, w), the same hole in every channel
    assert ((y == 0) | (y == 1)).all() and (holes.sum((1, 2)) <= 64).all() and (holes.sum((1, 2)) > 0).all()
    for hole in holes:
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert hole[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # one rectangle
        assert len(rows) <= 8 and len(cols) <= 8


def test_colour_transforms_follow_the_paper_ranges():
    torch.manual_seed(0)
    x = torch.rand(256, 3, 8, 8) * 2 - 1
    shift = (brightness(x) - x).flatten(1)
    assert torch.allclose(shift, shift[:, :1].expand_as(shift)) and shift.abs().max() <= 0.5
    grey = x[:, :1]
    assert torch.allclose(saturation(grey), grey)  # one channel has no saturation
    c = contrast(x)
    assert torch.allclose(c.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-5)
    ratio = (c - c.mean((1, 2, 3), keepdim=True)).std((1, 2, 3)) / (x - x.mean((1, 2, 3), keepdim=True)).std((1, 2, 3))
    assert ratio.min() >= 0.5 - 1e-4 and ratio.max() <= 1.5 + 1e-4


def test_every_transform_passes_gradients():
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    DiffAugment(["color", "translation", "cutout"])(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_policy_and_input_errors_name_the_fix():
    with pytest.raises(ConfigError, match="unknown: flip"):
        DiffAugment(["color", "flip"])
    with pytest.raises(ConfigError, match="one or more of color, translation, cutout"):
        DiffAugment([])
    assert DiffAugment("translation").policy == ("translation",)
    with pytest.raises(ConfigError, match="remove model.augment"):
        DiffAugment()(torch.zeros(4, 2))


def test_the_critic_judges_augmented_images_in_training_only():
    model = DCGAN(data_shape=(1, 16, 16), g_width=8, d_width=8, augment=DiffAugment(["translation", "cutout"]))
    seen = []
    model.discriminator.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    x = torch.ones(8, 1, 16, 16)
    model.train()
    model.judge(x, None)
    assert (seen[-1] == 0).any()  # holes and shifted borders
    model.eval()
    model.judge(x, None)
    assert torch.equal(seen[-1], x)
    # the generator's gradient passes through the augmentation
    model.train()
    latent = model.latent_spec.draw(8)
    logits, _ = model.judge(model.generate(latent), None)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.generator.parameters() if p.requires_grad)


def test_augment_from_the_command_line_trains_and_the_checkpoint_rebuilds_it(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    result = subprocess.run(
        [sys.executable, "-m", "lit_gans.cli", "fit", "--config", str(ROOT / "configs" / "quickstart.yaml"),
         "--model.init_args.g_width", "8", "--model.init_args.d_width", "8", "--trainer.enable_progress_bar", "false",
         "--model.init_args.max_g_steps", "4", "--checkpoint.every_n_g_steps", "4", "--metrics.metrics", "[]",
         "--model.init_args.augment", "lit_gans.augment.DiffAugment",
         "--model.init_args.augment.policy", "[translation, cutout]"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = sorted(tmp_path.rglob("last.ckpt"))[0]
    model = load_family(checkpoint)
    assert isinstance(model.augment, DiffAugment) and model.augment.policy == ("translation", "cutout")
    assert model.g_step == 4
