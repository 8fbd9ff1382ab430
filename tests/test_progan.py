"""ProGAN: the growth schedule, the fade-in of both networks and of the real images, the equalised learning
rate and the minibatch standard deviation against values computed by hand, the optimizer reset at each
fade's edges, and a run resumed inside a fade through ``lit-gans fit``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cli_run import lit_gans
from conftest import assert_same_training_state, quiet_trainer
from datamodules import DigitsDataModule
from lit_gans.errors import ConfigError
from lit_gans.families import ProGAN
from lit_gans.nets.equalized import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from lit_gans.nets.progan import ProGANDiscriminator, ProGANGenerator, fade_images, split_stage, stage_channels

ROOT = Path(__file__).resolve().parents[1]


def small(**kwargs) -> ProGAN:
    args = dict(data_shape=(1, 16, 16), g_width=8, d_width=8, latent_dim=16, fade_images=100, stable_images=100)
    return ProGAN(**{**args, **kwargs})


# ---------------------------------------------------------------------- schedule
def test_alpha_ramps_from_0_to_1_over_the_fade_images_and_then_holds():
    model = small()
    stages = {n: model.growth_stage(n) for n in (0, 99, 100, 125, 150, 199, 200, 299, 300, 350, 400, 10**6)}
    assert stages == {0: 0.0, 99: 0.0, 100: 0.0, 125: 0.25, 150: 0.5, 199: 0.99, 200: 1.0, 299: 1.0,
                      300: 1.0, 350: 1.5, 400: 2.0, 10**6: 2.0}
    assert [split_stage(s) for s in (0.0, 0.25, 1.0, 1.5, 2.0)] == [(0, 1.0), (1, 0.25), (1, 1.0), (2, 0.5), (2, 1.0)]
    assert small(fade_images=0, stable_images=0).growth_stage(0) == 2.0  # no growth: the full size at once
    assert small(fade_images=0).growth_stage(100) == 1.0  # no fade: the next resolution at once


def test_channels_halve_above_32_px_as_the_reference_does():
    assert [stage_channels(512, k) for k in range(9)] == [512, 512, 512, 512, 256, 128, 64, 32, 16]


# ---------------------------------------------------------------------- fade-in
@pytest.fixture
def networks():
    torch.manual_seed(0)
    return ProGANGenerator(8, (1, 16, 16), width=8), ProGANDiscriminator((1, 16, 16), width=8)


def grown_alone(generator: ProGANGenerator, z: torch.Tensor, top: int) -> torch.Tensor:
    """The generator of resolution 4 * 2^top with no fade, written out by hand."""
    act = lambda h: generator.norm(F.leaky_relu(h, 0.2))  # noqa: E731
    h = act(generator.input(generator.norm(z)).view(len(z), -1, 4, 4))
    for k in range(top + 1):
        if k:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        for conv in generator.blocks[k]:
            h = act(conv(h))
    return generator.to_rgb[top](h)


def test_at_the_end_of_a_fade_the_output_is_the_grown_network_alone(networks):
    generator, _ = networks
    z = torch.randn(4, 8)
    for top in (0, 1, 2):
        generator.set_stage(top)
        alone = grown_alone(generator, z, top)
        assert torch.allclose(generator(z), F.interpolate(alone, size=16, mode="nearest"), atol=1e-6)
    # inside the fade to 16 px: alpha of the new block plus 1 - alpha of the 8 px network, upsampled
    generator.set_stage(1.25)
    below = F.interpolate(grown_alone(generator, z, 1), scale_factor=2, mode="nearest")
    assert torch.allclose(generator(z), 0.75 * below + 0.25 * grown_alone(generator, z, 2), atol=1e-5)


def test_both_networks_are_continuous_at_the_start_of_a_fade(networks):
    generator, discriminator = networks
    z, x = torch.randn(4, 8), torch.randn(4, 1, 16, 16)
    outputs = {}
    for stage in (1.0, 1.0 + 1e-6):
        generator.set_stage(stage)
        discriminator.set_stage(stage)
        outputs[stage] = generator(z), discriminator(fade_images(x, stage))
    (g0, d0), (g1, d1) = outputs.values()
    assert split_stage(1.0 + 1e-6)[0] == 2  # the 16 px blocks run, with a weight of 1e-6
    assert torch.allclose(g0, g1, atol=1e-4) and torch.allclose(d0, d1, atol=1e-4)


def test_real_images_are_faded_as_the_generator_fades():
    x = torch.arange(64.0).view(1, 1, 8, 8)
    assert torch.equal(fade_images(x, 0.0), F.interpolate(F.avg_pool2d(x, 2), scale_factor=2))  # 4 px of an 8 px image
    x = torch.randn(2, 3, 16, 16)
    at_8 = F.avg_pool2d(x, 2)
    at_4 = F.interpolate(F.avg_pool2d(at_8, 2), scale_factor=2)
    expected = F.interpolate(0.3 * at_4 + 0.7 * at_8, scale_factor=2)
    assert torch.allclose(fade_images(x, 0.7), expected, atol=1e-6)
    assert torch.equal(fade_images(x, 2.0), x)


def test_the_critic_reads_only_the_current_resolution(networks):
    _, discriminator = networks
    discriminator.set_stage(1)
    x = torch.randn(3, 1, 16, 16)
    blocky = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2)
    assert torch.allclose(discriminator(x), discriminator(blocky), atol=1e-5)


# ---------------------------------------------------------------------- layers by hand
def test_equalised_learning_rate_scales_weights_at_run_time_by_he_constant():
    torch.manual_seed(0)
    conv = EqualizedConv2d(8, 4, 3)
    assert conv.weight_scale == pytest.approx(math.sqrt(2) / math.sqrt(8 * 3 * 3))  # = 1/6
    x = torch.randn(2, 8, 5, 5)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight / 6, conv.bias, padding=1), atol=1e-6)
    assert conv.weight.std().item() == pytest.approx(1.0, abs=0.2)  # stored at unit scale
    linear = EqualizedLinear(10, 3, gain=1.0, lr_mul=0.01)
    assert linear.weight_scale == pytest.approx(0.01 / math.sqrt(10))
    assert linear.weight.std().item() == pytest.approx(100.0, rel=0.3)  # N(0, 1 / lr_mul^2)


def test_equalised_layers_all_move_at_the_same_relative_speed_under_adam():
    """The point of the equalised learning rate: Adam's first step changes every layer's effective weights by
    lr times He's constant, which is the same fraction of that layer's weight scale whatever its fan-in."""
    torch.manual_seed(0)
    layers = [EqualizedConv2d(4, 4, 3), EqualizedConv2d(64, 4, 3)]
    relative = []
    for layer in layers:
        before = layer.scaled()[0].detach().clone()
        optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
        layer(torch.randn(2, layer.in_channels, 6, 6)).square().mean().backward()
        optimizer.step()
        relative.append(((layer.scaled()[0] - before).abs().mean() / before.abs().mean()).item())
    assert relative[0] == pytest.approx(relative[1], rel=0.05)


def test_pixel_norm_and_minibatch_stddev_by_hand():
    x = torch.tensor([[3.0, 4.0]])[:, :, None, None]
    assert torch.allclose(PixelNorm()(x).flatten(), torch.tensor([3.0, 4.0]) / math.sqrt(12.5))
    # 4 samples, groups of 2 (samples 0 and 2, 1 and 3), one channel, one pixel
    x = torch.tensor([1.0, 10.0, 3.0, 10.0]).view(4, 1, 1, 1)
    out = MinibatchStdDev(group_size=2)(x)
    assert out.shape == (4, 2, 1, 1)
    assert torch.allclose(out[:, 1].flatten(), torch.tensor([1.0, 0.0, 1.0, 0.0]), atol=1e-3)
    assert MinibatchStdDev(group_size=4)(torch.randn(6, 3, 2, 2)).shape == (6, 4, 2, 2)  # 4 does not divide 6: groups of 3


# ---------------------------------------------------------------------- the family
def test_config_errors_name_the_fix():
    with pytest.raises(ConfigError, match="model.architecture='dcgan' must be 'progan'"):
        small(architecture="dcgan")
    with pytest.raises(ConfigError, match="fade_images=-1 .* must be whole numbers"):
        small(fade_images=-1)
    with pytest.raises(ConfigError, match="unconditional"):
        small(conditional=True, num_classes=10)
    with pytest.raises(ConfigError, match=r"set data.image_size to one of these \(e.g. data.image_size: 16"):
        small(data_shape=(1, 12, 12))


def test_training_grows_the_networks_and_resets_adam_at_each_fade_edge():
    torch.manual_seed(0)
    dm = DigitsDataModule(image_size=16, batch_size=50)
    model = small(max_g_steps=9, ema_decay=0.9)  # 50 images a step: 4x4 to 100, fade to 200, 8x8 to 300, fade...
    seen = []

    class Record(__import__("lightning").Callback):
        def on_train_batch_end(self, trainer, module, *args):
            adam_steps = int(next(iter(trainer.optimizers[1].state.values()))["step"])
            seen.append((module.images_seen, module.stage, adam_steps))

    quiet_trainer(callbacks=[Record()]).fit(model, dm)
    # the stage a step ran at is the schedule's for the images seen before it; Adam counts from each edge
    assert [(n, s) for n, s, _ in seen] == [(50, 0.0), (100, 0.0), (150, 0.0), (200, 0.5), (250, 1.0),
                                            (300, 1.0), (350, 1.0), (400, 1.5), (450, 2.0)]
    assert [a for _, _, a in seen] == [1, 2, 3, 1, 1, 2, 3, 1, 1]
    assert model.resolution == 16 and model.alpha == 1.0
    assert model.ema_generator.module._stage == 2.0 and float(model.ema_generator.module.stage) == 2.0


@pytest.mark.slow
def test_a_run_resumed_inside_a_fade_is_identical_to_an_uninterrupted_one(tmp_path):
    """Through ``lit-gans fit`` with its default callbacks: 12 steps of 64 images; 8 px fades in over images
    64-448, so the checkpoint after step 6 (384 images) is inside that fade; resumed from there to step 12
    (past the fade's end and into the fade to 16 px), all weights, the EMA, the stage and Adam's moments equal
    those of the run that never stopped."""
    args = ["--config", str(ROOT / "configs" / "progan" / "digits.yaml"), "--model.init_args.g_width", "8",
            "--model.init_args.d_width", "8", "--model.init_args.latent_dim", "16",
            "--model.init_args.fade_images", "384", "--model.init_args.stable_images", "64",
            "--trainer.enable_progress_bar", "false", "--checkpoint.every_n_g_steps", "6", "--checkpoint.save_top_k", "-1",
            "--samples.every_n_g_steps", "4", "--metrics.every_n_g_steps", "6", "--metrics.n_samples", "64"]
    for name, steps, extra in (("full", 12, []), ("half", 6, []), ("resumed", 12, ["--ckpt_path", "half/last.ckpt"])):
        result = lit_gans("fit", *args, "--model.init_args.max_g_steps", str(steps), "--checkpoint.dirpath", name, *extra,
                          cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    load = lambda p: torch.load(tmp_path / p, map_location="cpu", weights_only=False)  # noqa: E731
    half = load("half/g0000006.ckpt")
    assert half["lit_gans"]["images_seen"] == 384  # step 6 ran at 320 images: stage 256 / 384
    assert float(half["state_dict"]["generator.stage"]) == pytest.approx(256 / 384)
    one, two = load("full/g0000012.ckpt"), load("resumed/g0000012.ckpt")
    assert one["lit_gans"]["images_seen"] == two["lit_gans"]["images_seen"] == 768
    assert float(one["state_dict"]["generator.stage"]) == pytest.approx(1.5)  # step 12 at 704 images: 1 + 192 / 384
    assert_same_training_state(one, two)


@pytest.mark.slow
def test_two_processes_grow_together_and_count_the_images_of_both(tmp_path):
    """``lit-gans fit`` on two gloo processes with the default callbacks: growth follows the images of both
    ranks (2 x 64 a step), blocks not yet grown hold unused parameters (DDP's detection is on), and the
    checkpoint records the stage both ranks ran at."""
    result = lit_gans(
        "fit", "--config", str(ROOT / "configs" / "progan" / "digits.yaml"), "--trainer.accelerator", "cpu",
        "--trainer.devices", "2", "--trainer.strategy", "ddp", "--model.init_args.g_width", "8", "--model.init_args.d_width", "8",
        "--model.init_args.latent_dim", "16", "--model.init_args.fade_images", "256", "--model.init_args.stable_images", "256",
        "--model.init_args.max_g_steps", "4", "--samples.every_n_g_steps", "2", "--metrics.n_samples", "100",
        "--trainer.enable_progress_bar", "false", "--checkpoint.dirpath", "ckpt", cwd=tmp_path, timeout=200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", map_location="cpu", weights_only=False)
    assert saved["lit_gans"]["images_seen"] == 4 * 2 * 64
    assert float(saved["state_dict"]["generator.stage"]) == pytest.approx(0.5)  # step 4 ran at 384 images: (384 - 256) / 256
