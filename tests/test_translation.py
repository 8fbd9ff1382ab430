"""Image-to-image families (pix2pix, CycleGAN): their losses against the papers' formulas computed by hand,
the phase order, the learning-rate schedule, learning on the offline demos, grids and ``lit-gans translate``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from lit_gans.errors import ConfigError
from lit_gans.families import CycleGAN, Pix2Pix
from lit_gans.loop import Batch
from lit_gans.schedules import LinearDecay

from cli_run import run, CLI

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def images(n: int, channels: int = 1, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def test_pix2pix_losses_are_the_papers():
    """D: 0.5 * (BCE(D(a, b), 1) + BCE(D(a, G(a)), 0)); G: BCE(D(a, G(a)), 1) + 100 * |G(a) - b|."""
    torch.manual_seed(0)
    model = Pix2Pix(data_shape=(1, 16, 16), g_width=8, d_width=8, dropout=0.0)
    a, b = images(4, seed=1), images(4, seed=2)
    batch = Batch(image=b, condition=a)
    d_out, g_out = model.discriminator_loss(batch), model.generator_loss(batch)
    G, D = model.generator, model.discriminator
    fake = G(a)
    d_hand = 0.5 * (bce(D(torch.cat([a, b], 1)), 1.0) + bce(D(torch.cat([a, fake], 1)), 0.0))
    g_hand = bce(D(torch.cat([a, fake], 1)), 1.0) + 100 * (fake - b).abs().mean()
    assert torch.allclose(d_out.loss, d_hand, atol=1e-5) and torch.allclose(g_out.loss, g_hand, atol=1e-4)
    assert D(torch.cat([a, b], 1)).dim() == 4, "the PatchGAN judges patches: a map of logits, not one per image"


def test_cyclegan_losses_are_the_papers():
    """G: LSGAN (D(G(x)) - 1)^2 both ways + 10 * cycle L1 both ways + 0.5 * 10 * identity L1 both ways;
    each D: 0.5 * ((D(real) - 1)^2 + D(fake)^2), the fakes being those the generators just made (no pool)."""
    torch.manual_seed(0)
    model = CycleGAN(data_shape=(1, 16, 16), g_width=8, d_width=8, n_blocks=2, pool_size=0)
    a, b = images(4, seed=1), images(4, seed=2)
    batch = Batch(image=a, image_b=b)
    g_out = model.generator_loss(batch)
    d_out = model.discriminator_loss(batch)
    g_ab, g_ba, d_a, d_b = model.g_ab, model.g_ba, model.d_a, model.d_b
    fake_b, fake_a = g_ab(a), g_ba(b)
    mse = lambda x, t: (x - t).pow(2).mean()  # noqa: E731
    g_hand = (mse(d_b(fake_b), 1) + mse(d_a(fake_a), 1)
              + 10 * ((g_ba(fake_b) - a).abs().mean() + (g_ab(fake_a) - b).abs().mean())
              + 0.5 * 10 * ((g_ab(b) - b).abs().mean() + (g_ba(a) - a).abs().mean()))
    d_hand = 0.5 * (mse(d_a(a), 1) + mse(d_a(fake_a), 0)) + 0.5 * (mse(d_b(b), 1) + mse(d_b(fake_b), 0))
    assert torch.allclose(g_out.loss, g_hand, atol=1e-4)
    assert torch.allclose(d_out.loss, d_hand, atol=1e-5)


def test_cyclegan_steps_the_generators_first_then_the_critics_on_their_fakes():
    model = CycleGAN(data_shape=(1, 16, 16), g_width=8, d_width=8, n_blocks=1)
    assert [p.name for p in model.phases()] == ["generator", "discriminator"]
    assert model.optimizer_groups()["generator"][1] == ("g_ab", "g_ba")
    assert model.optimizer_groups()["discriminator"][1] == ("d_a", "d_b")
    batch = Batch(image=images(2), image_b=images(2, seed=3))
    g_out = model.generator_loss(batch)
    made = model._fakes[1]
    assert torch.equal(made, g_out.fake.detach())
    d_out = model.discriminator_loss(batch)  # the pool is filling: it hands back the fakes just made
    assert torch.equal(d_out.fake, made) and model._fakes is None


def test_identity_term_needs_domains_with_the_same_channels():
    with pytest.raises(ConfigError, match="identity_weight: 0"):
        CycleGAN(data_shape=(1, 16, 16), channels_b=3, g_width=8, d_width=8, n_blocks=1)
    model = CycleGAN(data_shape=(1, 16, 16), channels_b=3, identity_weight=0, g_width=8, d_width=8, n_blocks=1)
    assert model.translate(images(2), "a2b").shape == (2, 3, 16, 16)
    assert model.translate(images(2, channels=3), "b2a").shape == (2, 1, 16, 16)


def test_translation_families_refuse_noise_sampling_with_the_command_to_use():
    model = Pix2Pix(data_shape=(1, 16, 16), g_width=8, d_width=8)
    with pytest.raises(ConfigError, match="lit-gans translate"):
        model.sample(4)
    with pytest.raises(ConfigError, match="must be 'a2b'"):
        model.translate(images(1), "b2a")


def test_linear_decay_holds_then_falls_to_zero_and_resumes():
    def run_steps(scheduler, n):
        for _ in range(n):
            scheduler.optimizer.step()
            scheduler.step()

    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    scheduler = LinearDecay(optimizer, constant_steps=10, decay_steps=10)
    lrs = []
    for _ in range(25):
        lrs.append(optimizer.param_groups[0]["lr"])
        run_steps(scheduler, 1)
    assert lrs[:11] == [2e-4] * 11
    assert lrs[15] == pytest.approx(1e-4) and lrs[20] == 0.0 and lrs[24] == 0.0
    # a resumed scheduler continues where it stopped
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    first = LinearDecay(optimizer, constant_steps=10, decay_steps=10)
    run_steps(first, 13)
    state = first.state_dict()
    optimizer2 = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    second = LinearDecay(optimizer2, constant_steps=10, decay_steps=10)
    second.load_state_dict(state)
    optimizer2.param_groups[0]["lr"] = optimizer.param_groups[0]["lr"]  # the optimizer's own state restores this
    run_steps(first, 2)
    run_steps(second, 2)
    assert optimizer2.param_groups[0]["lr"] == pytest.approx(optimizer.param_groups[0]["lr"]) == pytest.approx(2e-4 * 0.5)
    with pytest.raises(ConfigError, match="must be >= 0"):
        LinearDecay(optimizer, constant_steps=-1, decay_steps=10)


def lit_gans(*args: str, cwd, timeout: int = 240):
    return run([*CLI, *args], cwd=cwd, timeout=timeout)


def write_inputs(folder, n: int, size: int = 20) -> list[str]:
    """``n`` grey PNGs of ``size`` px (resized by the command) and one file that is not an image."""
    folder.mkdir(parents=True)
    rng = torch.Generator().manual_seed(0)
    names = []
    for i in range(n):
        pixels = (torch.rand(size, size, generator=rng) * 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(folder / f"in{i}.png")
        names.append(f"in{i}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    return names


@pytest.mark.slow
def test_pix2pix_through_the_cli_writes_grids_and_translates_files(tmp_path, capsys):
    """``lit-gans fit`` with the default callbacks and logger on the edges demo, then ``lit-gans translate``."""
    result = lit_gans(
        "fit", "--config", str(ROOT / "configs" / "pix2pix" / "digits.yaml"), "--trainer.accelerator", "cpu",
        "--trainer.default_root_dir", str(tmp_path / "run"), "--model.init_args.max_g_steps", "4",
        "--samples.every_n_g_steps", "2", "--model.init_args.g_width", "8", "--model.init_args.d_width", "8",
        "--trainer.check_val_every_n_epoch", "1", "--trainer.limit_train_batches", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    # rows: 8 fixed validation edge maps, their translations, the true digits (16 px shown at 32, 2 px padding)
    grid = Image.open(tmp_path / "run" / "samples" / "g0000004.png")
    assert grid.size == (8 * 34 + 2, 3 * 34 + 2)
    ckpt = next((tmp_path / "run").rglob("last.ckpt"))

    write_inputs(tmp_path / "edges", 3)
    result = lit_gans("translate", "--ckpt", str(ckpt), "--input", str(tmp_path / "edges"), "--out",
                      str(tmp_path / "out"), "--pairs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "wrote 3 translation(s) (a2b, Pix2Pix, g_step 4)" in result.stdout
    assert "skipped 1 file(s) that cannot be decoded: broken.png" in result.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["in0.png", "in1.png", "in2.png"]
    assert Image.open(tmp_path / "out" / "in0.png").size == (32, 16)  # input | output at the model's 16 px

    from lit_gans.cli import main  # the refusals in this process: each subprocess costs seconds of imports

    for command, expected in ((["sample", "--ckpt", str(ckpt)], "lit-gans translate --ckpt"),
                              (["translate", "--ckpt", str(ckpt), "--input", str(tmp_path / "edges"), "--out",
                                str(tmp_path / "o2"), "--direction", "b2a"], "must be 'a2b'"),
                              (["translate", "--ckpt", str(ckpt), "--input", str(tmp_path / "none"), "--out",
                                str(tmp_path / "o3")], "does not exist")):
        assert main(command) == 2
        assert expected in capsys.readouterr().err


@pytest.mark.slow
def test_cyclegan_through_the_cli_translates_both_ways(tmp_path, capsys):
    result = lit_gans(
        "fit", "--config", str(ROOT / "configs" / "cyclegan" / "digits.yaml"), "--trainer.accelerator", "cpu",
        "--trainer.default_root_dir", str(tmp_path / "run"), "--model.init_args.max_g_steps", "2",
        "--samples.every_n_g_steps", "2", "--model.init_args.g_width", "8", "--model.init_args.d_width", "8",
        "--model.init_args.n_blocks", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    grid = Image.open(tmp_path / "run" / "samples" / "g0000002.png")
    assert grid.size == (8 * 34 + 2, 6 * 34 + 2)  # A, A->B, A->B->A, B, B->A, B->A->B
    ckpt = next((tmp_path / "run").rglob("last.ckpt"))
    write_inputs(tmp_path / "ones", 2)
    from lit_gans.cli import main  # in this process: the subprocess of the pix2pix test covers the command's start-up

    for direction in ("a2b", "b2a"):
        assert main(["translate", "--ckpt", str(ckpt), "--input", str(tmp_path / "ones" / "in1.png"), "--out",
                     str(tmp_path / direction), "--direction", direction]) == 0
        assert f"wrote 1 translation(s) ({direction}, CycleGAN, g_step 2)" in capsys.readouterr().out
        assert Image.open(tmp_path / direction / "in1.png").size == (16, 16)


def test_translate_refuses_a_model_that_samples_from_noise(tmp_path, capsys):
    from datamodules import DigitsDataModule
    from lit_gans.cli import main
    from lit_gans.families import DCGAN

    from conftest import quiet_trainer

    dm = DigitsDataModule(image_size=16, batch_size=16)
    model = DCGAN(data_shape=dm.data_shape, g_width=8, d_width=8, max_g_steps=1)
    trainer = quiet_trainer(limit_train_batches=2)
    trainer.fit(model, dm)
    trainer.save_checkpoint(tmp_path / "dcgan.ckpt")
    write_inputs(tmp_path / "in", 1)
    assert main(["translate", "--ckpt", str(tmp_path / "dcgan.ckpt"), "--input", str(tmp_path / "in"), "--out",
                 str(tmp_path / "out")]) == 2
    assert "DCGAN generates from noise" in capsys.readouterr().err


@pytest.mark.slow
def test_cyclegan_in_two_ddp_processes_with_the_default_callbacks(tmp_path):
    """Four networks, two optimizers, critics frozen in the generators' phase: DDP's unused-parameter detection
    and the image pools in every rank, with the grids, checkpoints and validation metrics users get."""
    result = lit_gans(
        "fit", "--config", str(ROOT / "configs" / "cyclegan" / "digits.yaml"), "--trainer.accelerator", "cpu",
        "--trainer.devices", "2", "--trainer.strategy", "ddp", "--trainer.default_root_dir", str(tmp_path / "run"),
        "--model.init_args.max_g_steps", "4", "--samples.every_n_g_steps", "2", "--model.init_args.g_width", "8",
        "--model.init_args.d_width", "8", "--model.init_args.n_blocks", "1", "--trainer.check_val_every_n_epoch", "1",
        "--trainer.limit_train_batches", "2", cwd=tmp_path, timeout=200)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "CycleGAN trained 4 generator iterations" in result.stdout
    assert "val/target_accuracy=" in result.stdout and "val/cycle_l1=" in result.stdout
    assert sorted(p.name for p in (tmp_path / "run" / "samples").glob("g*.png")) == ["g0000002.png", "g0000004.png"]
    assert [p.name for p in (tmp_path / "run").rglob("last.ckpt")] == ["last.ckpt"]


def validation_l1(model, datamodule) -> float:
    from lit_gans.loop import Batch

    total, n = 0.0, 0
    for batch in datamodule.val_dataloader():
        batch = Batch.of(batch, datamodule.batch_fields)
        total += float((model.translate(batch.condition) - batch.image).abs().mean()) * len(batch)
        n += len(batch)
    return total / n


@pytest.mark.slow
def test_pix2pix_learns_digits_from_their_edges():
    from datamodules import EdgesDataModule

    from conftest import quiet_trainer

    torch.manual_seed(0)
    dm = EdgesDataModule(dataset="digits", image_size=16, batch_size=32)
    dm.setup("fit")
    model = Pix2Pix(data_shape=dm.data_shape, g_width=16, d_width=16, d_layers=1, max_g_steps=150)
    before = validation_l1(model, dm)
    quiet_trainer().fit(model, dm)
    after = validation_l1(model, dm)
    print(f"pix2pix digits: validation L1 {before:.3f} -> {after:.3f}")
    assert model.g_step == 150
    assert after < 0.4 * before


@pytest.mark.slow
def test_cyclegan_translates_ones_into_sevens_for_the_digits_classifier():
    from datamodules import ClassPairDataModule
    from lit_gans.metrics import load_domain_network

    from conftest import quiet_trainer

    torch.manual_seed(0)
    dm = ClassPairDataModule(dataset="digits", class_a=1, class_b=7, image_size=16, batch_size=16)
    dm.setup("fit")
    classifier = load_domain_network("digits")
    ones = torch.stack([dm.val_set[i][0] for i in range(len(dm.val_set))])

    def sevens() -> float:
        return float((classifier(model.translate(ones, "a2b")).argmax(1) == 7).float().mean())

    model = CycleGAN(data_shape=dm.data_shape, g_width=8, d_width=8, n_blocks=2, d_layers=1, max_g_steps=300)
    before = sevens()
    quiet_trainer().fit(model, dm)
    after = sevens()
    print(f"CycleGAN digits: translations of 1s read as 7s {before:.2f} -> {after:.2f}")
    assert after > max(0.5, before + 0.4)
