"""The StyleGAN family: lazy-regularisation adjustment of the optimizers, the path-length penalty in W
against a value computed by hand, truncation in W (``sample(psi=...)``, ``lit-gans sample --psi``), the
style-mixing grid, and one clear error for each bad setting."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from cli_run import lit_gans
from conftest import quiet_trainer
from datamodules import DigitsDataModule
from lit_gans.cli import main
from lit_gans.errors import ConfigError
from lit_gans.families import StyleGAN
from lit_gans.families.stylegan import LazyAdjusted
from lit_gans.families import DCGAN
from lit_gans.latent import Latent
from lit_gans.metrics.features import feature_network
from lit_gans.metrics.ppl import FeatureDistance, perceptual_path_length
from lit_gans.penalties import R1, PathLength

ROOT = Path(__file__).resolve().parents[1]


def small(**kwargs) -> StyleGAN:
    args = dict(data_shape=(1, 16, 16), latent_dim=16, g_width=8, d_width=8, mapping_layers=2)
    return StyleGAN(**{**args, **kwargs})


def test_lazy_penalties_adjust_learning_rate_and_betas_of_their_phase():
    model = small()  # R1 every 16 critic steps, path length every 4 generator steps
    param = [nn.Parameter(torch.zeros(1))]
    g, d = model.g_optimizer(param), model.d_optimizer(param)
    for optimizer, k in ((g, 4), (d, 16)):
        c = k / (k + 1)
        assert optimizer.param_groups[0]["lr"] == pytest.approx(2e-3 * c)
        assert optimizer.param_groups[0]["betas"] == pytest.approx((0.0, 0.99**c))
        assert optimizer.defaults["lr"] == pytest.approx(2e-3 * c)  # what a resumed run puts back
    plain = small(lazy_adjust=False).d_optimizer(param)
    assert plain.param_groups[0]["lr"] == 2e-3
    every_step = small(penalties=[R1(gamma=1.0)]).d_optimizer(param)
    assert every_step.param_groups[0]["lr"] == 2e-3  # a penalty applied every step needs no adjustment
    with pytest.raises(ConfigError, match=r"different intervals \[4, 8\]"):
        small(penalties=[R1(gamma=1.0, every=4), R1(gamma=2.0, every=8)])
    assert isinstance(model.g_optimizer, LazyAdjusted)


def test_path_length_is_taken_in_w_for_a_style_based_generator():
    """A hand-made generator: w = z repeated over 2 layers, image = sum over layers and dims of w * B (one
    pixel). Then J^T y = y * B, and the length is |y| * sqrt(mean over layers of sum_d B^2)."""
    torch.manual_seed(0)
    B = torch.randn(2, 3)

    class Toy(nn.Module):
        num_ws = 2

        def mapping(self, z, num_ws=1):
            return z[:, None].repeat(1, num_ws, 1) * 1.0

        def synthesis(self, ws):
            return (ws * B).sum(dim=(1, 2))[:, None, None, None]

    toy = Toy()
    module = SimpleNamespace(network=lambda role: toy, latent_spec=SimpleNamespace(assemble=lambda latent: latent.z))
    z = torch.randn(4, 3)
    penalty = PathLength(batch_shrink=1, decay=1.0)  # decay 1: the running mean is this batch's mean
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        value = penalty(module, SimpleNamespace(latent=Latent(z)), None)
        torch.manual_seed(5)
        y = torch.randn(4, 1, 1, 1).flatten()
    lengths = y.abs() * B.pow(2).sum(1).mean().sqrt()
    assert penalty.mean.item() == pytest.approx(lengths.mean().item(), rel=1e-5)
    assert value.item() == pytest.approx((lengths - lengths.mean()).pow(2).mean().item(), rel=1e-4)


def test_path_length_trains_the_mapping_and_synthesis_networks():
    model = small()
    out = model.generator_loss(_batch(8))
    value = model.penalties[1](model, out, None)
    value.backward()
    generator = model.network("generator")
    assert generator.mapping.layers[0].weight.grad is not None
    assert generator.synthesis.const.grad is not None


def _batch(n: int):
    from lit_gans.loop import Batch

    return Batch(torch.zeros(n, 1, 16, 16))


def test_truncation_in_w_moves_samples_towards_the_average_image():
    torch.manual_seed(0)
    model = small(ema_decay=None)
    model.network("generator").mapping.w_avg.normal_()
    z = torch.randn(6, 16)
    assert torch.allclose(model.sample(6, z=z, psi=1.0), model.sample(6, z=z))
    average = model.sample(6, z=z, psi=0.0)
    assert torch.allclose(average, average[:1].expand_as(average), atol=1e-6)  # every sample the average image
    half = model.sample(6, z=z, psi=0.5)
    assert not torch.allclose(half, average) and not torch.allclose(half, model.sample(6, z=z))
    assert model.network("generator").truncation_psi == 1.0  # restored after sampling
    with pytest.raises(ConfigError, match="psi=-1 must be a number >= 0"):
        model.sample(2, psi=-1)


def test_style_mixing_grid_takes_the_chosen_layers_from_rows_and_the_rest_from_columns():
    torch.manual_seed(0)
    model = small(ema_decay=None)
    generator = model.network("generator")
    rows, columns = torch.randn(2, 16), torch.randn(3, 16)
    grid = model.style_mixing(list(rows), list(columns), layers=(2, 4))  # the middle styles of 16 px (6 layers)
    assert grid.shape == (6, 1, 16, 16)
    generator.eval()
    with torch.no_grad():
        ws_row, ws_col = (generator.mapping(z, num_ws=generator.num_ws) for z in (rows[1:2], columns[2:3]))
        mixed = torch.cat([ws_col[:, :2], ws_row[:, 2:4], ws_col[:, 4:]], dim=1)
        by_hand = generator.synthesis(mixed, "const").clamp(-1, 1)
    assert torch.allclose(grid[5], by_hand[0], atol=1e-6)  # row 1, column 2
    with pytest.raises(ConfigError, match=r"layers=\(4, 9\) must be \(start, stop\) with 0 <= start < stop <= 6"):
        model.style_mixing(list(rows), list(columns), layers=(4, 9))


def test_interpolation_in_w_runs_from_one_w_to_the_other_in_a_straight_line():
    torch.manual_seed(0)
    model = small(ema_decay=None)
    generator = model.network("generator")
    start, end = torch.randn(2, 16), torch.randn(2, 16)
    path = model.interpolate_w(start, end, steps=5)
    assert path.shape == (10, 1, 16, 16)
    generator.eval()
    with torch.no_grad():
        w_a, w_b = generator.mapping(start)[:, 0], generator.mapping(end)[:, 0]
        middle = generator.synthesis((0.5 * (w_a + w_b))[:, None].repeat(1, generator.num_ws, 1), "const").clamp(-1, 1)
        ends = generator.synthesis(w_b[:, None].repeat(1, generator.num_ws, 1), "const").clamp(-1, 1)
    assert torch.allclose(path[2], middle[0], atol=1e-5) and torch.allclose(path[9], ends[1], atol=1e-5)
    with pytest.raises(ConfigError, match="steps=1 must be at least 2"):
        model.interpolate_w(start, end, steps=1)


# ---------------------------------------------------------------------- perceptual path length
class Flat(nn.Module):
    """A feature network whose features are the pixels."""

    def forward(self, x):
        return x.flatten(1), None


def test_feature_distance_is_the_squared_distance_of_unit_features():
    a, b = torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 2.0]])
    expected = (torch.tensor([0.6, 0.8]) - torch.tensor([0.0, 1.0])).pow(2).sum()
    assert torch.allclose(FeatureDistance(Flat())(a, b), expected[None])
    assert FeatureDistance(Flat())(a, 5 * a).item() == pytest.approx(0.0, abs=1e-6)  # scale does not count


def test_ppl_is_zero_for_a_generator_that_ignores_its_latent_and_grows_with_its_sensitivity():
    torch.manual_seed(0)
    model = DCGAN(data_shape=(1, 8, 8), g_width=8, d_width=8, latent_dim=4)
    generator = model.network("generator")
    pattern = torch.randn(1, 1, 8, 8)
    generator.forward = lambda z, labels=None: torch.tanh(pattern + 0 * z[:, :1, None, None])
    assert perceptual_path_length(model, Flat(), n_samples=50)["ppl"] == pytest.approx(0.0, abs=1e-6)
    values = []
    for gain in (1.0, 3.0):
        generator.forward = lambda z, labels=None, gain=gain: torch.tanh(0.1 * pattern + 0.01 * gain * z[:, :1, None, None])
        values.append(perceptual_path_length(model, Flat(), n_samples=200, epsilon=1e-2)["ppl"])
    assert values[1] > 4 * values[0] > 0  # about gain^2 = 9 times as long
    with pytest.raises(ConfigError, match="PPL in W needs a generator with a mapping network"):
        perceptual_path_length(model, Flat(), "w")


def test_ppl_of_a_style_generator_in_z_and_w_is_reproducible():
    torch.manual_seed(0)
    model = small()
    features = feature_network("digits")
    z_space, w_space = (perceptual_path_length(model, features, space, n_samples=100) for space in ("z", "w"))
    assert z_space == perceptual_path_length(model, features, "z", n_samples=100)
    assert z_space["ppl"] > 0 and w_space["ppl"] > 0 and z_space != w_space


def test_config_errors_name_the_fix():
    with pytest.raises(ConfigError, match="model.architecture='dcgan' must be 'stylegan'"):
        small(architecture="dcgan")
    with pytest.raises(ConfigError, match="unconditional"):
        small(conditional=True, num_classes=10)
    with pytest.raises(ConfigError, match="data.image_size"):
        small(data_shape=(1, 12, 12))


@pytest.mark.slow
def test_sample_and_evaluate_with_psi_from_the_command_line(tmp_path, capsys):
    args = ["--config", str(ROOT / "configs" / "stylegan" / "digits.yaml"), "--model.init_args.g_width", "8",
            "--model.init_args.d_width", "8", "--model.init_args.latent_dim", "16", "--model.init_args.w_dim", "16",
            "--model.init_args.max_g_steps", "4", "--trainer.enable_progress_bar", "false",
            "--metrics.every_n_g_steps", "4", "--metrics.n_samples", "64", "--checkpoint.dirpath", "ckpt"]
    fit = lit_gans("fit", *args, cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", map_location="cpu", weights_only=False)
    assert "penalties.1.mean" in saved["state_dict"]  # path length's running mean travels with the checkpoint
    sample = lit_gans("sample", "--ckpt", "ckpt/last.ckpt", "--n", "8", "--psi", "0.7", "--out", "psi.png", cwd=tmp_path)
    assert sample.returncode == 0, sample.stderr[-3000:]
    assert "w truncated by psi 0.7" in sample.stdout and (tmp_path / "psi.png").is_file()
    evaluate = lit_gans("evaluate", "--ckpt", "ckpt/last.ckpt", "--psi", "0.5", "--n-samples", "64", "--n-real", "64",
                        "--metrics", "fid", "--ppl", "z,w", "--ppl-samples", "50", cwd=tmp_path)
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    report = json.loads((tmp_path / "ckpt" / "last.psi0.5.metrics.json").read_text())
    assert report["psi"] == 0.5 and {"digits/fid", "digits/ppl_z", "digits/ppl_w", "digits/ppl_std_w"} <= set(report["metrics"])
    # the refusals, in this process (a CLI subprocess costs seconds of imports)
    assert main(["evaluate", "--ckpt", str(tmp_path / "ckpt" / "last.ckpt"), "--ppl", "x"]) == 2
    assert "--ppl x must list z and/or w" in capsys.readouterr().err
    dcgan = DCGAN(data_shape=(1, 16, 16), latent_dim=8, g_width=8, d_width=8, max_g_steps=2)
    trainer = quiet_trainer()
    trainer.fit(dcgan, DigitsDataModule(image_size=16, batch_size=16))
    trainer.save_checkpoint(tmp_path / "dcgan.ckpt")
    capsys.readouterr()
    assert main(["sample", "--ckpt", str(tmp_path / "dcgan.ckpt"), "--psi", "0.7", "--out", str(tmp_path / "x.png")]) == 2
    refused = SimpleNamespace(stderr=capsys.readouterr().err)
    assert "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].endswith("has no mapping network (StyleGAN has); use --truncation to truncate z")
