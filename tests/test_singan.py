"""SinGAN (Shaham et al. 2019): the losses by hand, scales trained one after the other (warm start, noise
amplitude from the reconstruction error, the per-scale learning rate), samples at any size, learning one image,
and the CLI (grids, checkpoints, ``lit-gans sample``) on a bundled photo."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from datamodules import SingleImageDataModule
from lit_gans.families import SinGAN
from lit_gans.families.singan import patch_distance, resize
from lit_gans.loop import Batch
from lit_gans.nets.singan import image_pyramid
from lit_gans.regularizers import gradient_penalty

from cli_run import CLI, run
from conftest import quiet_trainer

ROOT = Path(__file__).resolve().parents[1]


def small_model(**kwargs) -> tuple[SinGAN, SingleImageDataModule]:
    dm = SingleImageDataModule(max_size=48, steps_per_epoch=20)
    return SinGAN(data_shape=dm.data_shape, width=8, **kwargs), dm


def test_losses_at_the_coarsest_scale_are_the_papers():
    """Critic: E[D(fake)] - E[D(real)] + 0.1 GP; generator: -E[D(G(z, 0))] + 10 ||G(z*, 0) - x_0||^2 (mean)."""
    torch.manual_seed(0)
    model, dm = small_model(steps_per_scale=10)
    model._pyramid = image_pyramid(dm.image, model.sizes)
    real = model._pyramid[0]
    torch.manual_seed(1)
    d_out = model.discriminator_loss(Batch(image=dm.image))
    torch.manual_seed(1)
    zeros = torch.zeros_like(real)
    fake = model.generators[0](torch.randn_like(zeros), zeros)
    critic = model.critics[0]
    gp = gradient_penalty(critic, real, fake)
    assert torch.allclose(d_out.loss - 0.1 * d_out.logs["penalty/gp"], critic(fake).mean() - critic(real).mean(), atol=1e-6)
    assert float(gp) > 0
    torch.manual_seed(2)
    g_out = model.generator_loss(Batch(image=dm.image))
    torch.manual_seed(2)
    fake = model.generators[0](torch.randn_like(zeros), zeros)
    expected = -critic(fake).mean() + 10 * F.mse_loss(model.generators[0](model.rec_noise, zeros), real)
    assert torch.allclose(g_out.loss, expected, atol=1e-5)


def test_scales_train_one_after_the_other_each_starting_from_the_one_below():
    torch.manual_seed(0)
    model, dm = small_model(steps_per_scale=6)
    assert model.sizes == [(25, 38), (32, 48)] and model.max_g_steps == 12
    trainer = quiet_trainer(max_steps=2 * 7)  # 7 batches: 6 at the coarsest scale, 1 at the next
    coarsest_before = [p.clone() for p in model.generators[0].parameters()]
    finest_before = [p.clone() for p in model.generators[1].parameters()]
    trainer.fit(model, dm)
    assert model.g_step == 7 and model.scale == 1 and int(model.scales_started) == 2
    # the coarsest scale trained, then stayed frozen: the finest started from its weights and moved on
    assert any(not torch.equal(a, b) for a, b in zip(coarsest_before, model.generators[0].parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(finest_before, model.generators[1].parameters()))
    # the noise amplitude of a scale: 0.1 x the RMS error of the reconstruction by the scales below, upsampled
    model._pyramid = image_pyramid(dm.image, model.sizes)
    model._start_scale(1)
    with torch.no_grad():
        model.eval()
        below = resize(model.generate(0, reconstruct=True), model.sizes[1])
        model.train()
    expected = 0.1 * torch.sqrt(F.mse_loss(below, model._pyramid[1]))
    assert float(model.noise_amps[1]) == pytest.approx(float(expected), rel=1e-5) and float(expected) > 0
    # the learning rate of the last 20 % of a scale is a tenth: step 7 is the 2nd of 6 at scale 1
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(5e-4)


def test_samples_come_at_any_size_and_super_resolution_enlarges():
    torch.manual_seed(0)
    model, dm = small_model()
    assert model.sample(3).shape == (3, 3, 32, 48)
    assert model.sample(2, size=(40, 80)).shape == (2, 3, 40, 80)
    assert model.super_resolve(dm.image, 2.0).shape == (1, 3, 64, 96)


def test_patch_distance_is_low_for_the_images_own_patches_rearranged():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 24, 24) * 2 - 1
    swapped = torch.cat([image[..., 12:, :], image[..., :12, :]], dim=-2)  # halves swapped: same patches mostly
    noise = torch.rand(1, 3, 24, 24) * 2 - 1
    assert float(patch_distance(swapped, image)) < 0.5 * float(patch_distance(noise, image))


@pytest.mark.slow
def test_singan_learns_the_image_and_samples_differ_from_it():
    torch.manual_seed(0)
    model, dm = small_model(steps_per_scale=150)
    real = dm.image
    before = float(F.mse_loss(model.reconstruct(), real).sqrt())
    quiet_trainer().fit(model, dm)
    after = float(F.mse_loss(model.reconstruct(), real).sqrt())
    samples = model.sample(4, generator=torch.Generator().manual_seed(0))
    differ = float((samples - real).abs().mean())
    own, noise = float(patch_distance(samples, real)), float(patch_distance(torch.rand_like(samples) * 2 - 1, real))
    print(f"SinGAN: reconstruction RMSE {before:.3f} -> {after:.3f}; samples differ by {differ:.3f}; "
          f"patch distance {own:.3f} (noise {noise:.3f})")
    assert after < 0.5 * before
    assert differ > 0.05 and own < 0.5 * noise


@pytest.mark.slow
def test_singan_through_the_cli_writes_grids_and_samples(tmp_path, capsys):
    result = run([*CLI, "fit", "--config", str(ROOT / "configs" / "singan" / "chelsea.yaml"), "--trainer.accelerator", "cpu",
                  "--trainer.default_root_dir", str(tmp_path / "run"), "--model.init_args.steps_per_scale", "2",
                  "--model.init_args.max_g_steps", "10", "--model.init_args.width", "8", "--samples.every_n_g_steps", "10",
                  "--data.init_args.steps_per_epoch", "5", "--trainer.check_val_every_n_epoch", "1"], cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SinGAN trained 10 generator iterations" in result.stdout
    grid = Image.open(tmp_path / "run" / "samples" / "g0000010.png")
    assert grid.size[0] > grid.size[1] > 64
    assert not list((tmp_path / "run" / "samples").glob("interp_*")), "no latent vector to interpolate"
    ckpt = next((tmp_path / "run").rglob("last.ckpt"))
    from lit_gans.cli import main

    assert main(["sample", "--ckpt", str(ckpt), "--n", "4", "--nrow", "2", "--out", str(tmp_path / "s.pt")]) == 0
    assert torch.load(tmp_path / "s.pt").shape == (4, 3, 64, 96)
    assert main(["evaluate", "--ckpt", str(ckpt)]) == 2
    assert "SinGAN measures itself in validation" in capsys.readouterr().err
