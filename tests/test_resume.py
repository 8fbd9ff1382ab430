"""Resume, checkpoints and divergence, through ``lit-gans fit`` with its default callbacks and logger:
a resumed run is bitwise identical to an uninterrupted one, honours the config it is given (and
refuses one that changes the networks), checkpoints are written atomically, and a diverging run
stops naming the last good checkpoint."""

from __future__ import annotations

import errno
import logging
import subprocess
from pathlib import Path

import pytest
import torch

from cli_run import lit_gans
from conftest import assert_same_training_state
from lit_gans.cli import main

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / "configs" / "dcgan" / "digits.yaml")
RING = str(ROOT / "configs" / "gan" / "ring.yaml")
# 8 features, an EMA, and every callback active mid-run (grids and metrics every 10 steps), so that
# the test also shows that they leave training's random stream alone
SMALL_DIGITS = [
    "--config", DIGITS, "--model.init_args.g_width", "8", "--model.init_args.d_width", "8",
    "--model.init_args.ema_decay", "0.9", "--trainer.enable_progress_bar", "false",
    "--checkpoint.every_n_g_steps", "20", "--checkpoint.save_top_k", "-1",
    "--samples.every_n_g_steps", "10", "--metrics.every_n_g_steps", "10", "--metrics.n_samples", "64",
]
SMALL_RING = [
    "--config", RING, "--model.init_args.g_width", "32", "--model.init_args.d_width", "32",
    "--data.init_args.n_samples", "5000", "--trainer.enable_progress_bar", "false", "--trainer.log_every_n_steps", "1",
    "--checkpoint.every_n_g_steps", "2", "--model.init_args.max_g_steps", "30",
]


@pytest.fixture
def cli(capfd, caplog, monkeypatch):
    """``lit-gans ARGS`` in this process (no second start-up; the checkpoint runs above use
    subprocesses), run in ``cwd``, with what it printed; Lightning's info lines, which pytest's log
    capture takes, are added to stderr."""

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        monkeypatch.chdir(cwd)
        caplog.set_level(logging.INFO, logger="lightning.pytorch")
        caplog.clear()
        capfd.readouterr()
        code = main(list(args))
        out, err = capfd.readouterr()
        return subprocess.CompletedProcess(args, code, out, caplog.text + err)

    return run


def one_error_line(result) -> str:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def digits_runs(tmp_path_factory):
    """40 generator steps in one run; 20 steps, then resumed to 40 (12 batches an epoch: the
    checkpoint at 20 falls in the middle of the second epoch)."""
    cwd = tmp_path_factory.mktemp("resume")
    full = lit_gans("fit", *SMALL_DIGITS, "--model.init_args.max_g_steps", "40", "--checkpoint.dirpath", "full", cwd=cwd)
    assert full.returncode == 0, full.stderr[-3000:]
    half = lit_gans("fit", *SMALL_DIGITS, "--model.init_args.max_g_steps", "20", "--checkpoint.dirpath", "half", cwd=cwd)
    assert half.returncode == 0, half.stderr[-3000:]
    resumed = lit_gans(
        "fit", *SMALL_DIGITS, "--model.init_args.max_g_steps", "40", "--checkpoint.dirpath", "resumed",
        "--ckpt_path", "half/last.ckpt", cwd=cwd,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return cwd, resumed


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def test_resume_mid_epoch_is_bitwise_identical_to_an_uninterrupted_run(digits_runs):
    cwd, resumed = digits_runs
    assert "max_g_steps 20 -> 40" in resumed.stdout + resumed.stderr
    assert "trained 40 generator iterations" in resumed.stdout  # the config's length, not the checkpoint's 20
    assert load(cwd / "full" / "g0000020.ckpt")["state_dict"].keys() == load(cwd / "half" / "g0000020.ckpt")["state_dict"].keys()
    one, two = load(cwd / "full" / "g0000040.ckpt"), load(cwd / "resumed" / "g0000040.ckpt")
    assert one["lit_gans"]["g_step"] == two["lit_gans"]["g_step"] == 40
    assert any(key.startswith("ema_generator.") for key in one["state_dict"])
    assert_same_training_state(one, two)


def test_resume_applies_the_configs_learning_rate(digits_runs, cli):
    cwd, _ = digits_runs
    result = cli(
        "fit", *SMALL_DIGITS, "--model.init_args.max_g_steps", "22", "--checkpoint.dirpath", "lower_lr",
        "--model.init_args.g_optimizer.init_args.lr", "1e-05", "--ckpt_path", "half/last.ckpt", cwd=cwd,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "generator lr 0.0002 -> 1e-05" in result.stdout + result.stderr
    g_state, d_state = load(cwd / "lower_lr" / "last.ckpt")["optimizer_states"]
    assert g_state["param_groups"][0]["lr"] == 1e-5 and d_state["param_groups"][0]["lr"] == 2e-4


@pytest.mark.parametrize(
    "change, message",
    [
        (["--model.init_args.d_width", "16"], "d_width 8 -> 16"),
        (["--model.init_args.latent_dim", "64"], "latent_dim 100 -> 64"),
        (["--data.init_args.image_size", "8"], "data_shape [1, 16, 16] -> [1, 8, 8]"),
        (["--model", "lit_gans.families.LSGAN"], "the checkpoint holds a DCGAN but the config builds a LSGAN"),
    ],
    ids=["width", "latent", "data-shape", "family"],
)
def test_resume_refuses_a_change_of_networks_data_or_family(digits_runs, cli, change, message):
    cwd, _ = digits_runs
    result = cli("fit", *SMALL_DIGITS, *change, "--ckpt_path", "half/last.ckpt", cwd=cwd)
    assert message in one_error_line(result)


def test_fit_from_a_missing_or_truncated_checkpoint_is_one_line(digits_runs, cli):
    cwd, _ = digits_runs
    missing = cli("fit", *SMALL_DIGITS, "--ckpt_path", "nowhere.ckpt", cwd=cwd)
    assert "checkpoint nowhere.ckpt does not exist" in one_error_line(missing)
    data = (cwd / "half" / "last.ckpt").read_bytes()
    (cwd / "truncated.ckpt").write_bytes(data[: len(data) // 2])
    truncated = cli("fit", *SMALL_DIGITS, "--ckpt_path", "truncated.ckpt", cwd=cwd)
    assert "truncated.ckpt cannot be read" in one_error_line(truncated)


def test_a_nan_at_the_first_steps_says_that_no_checkpoint_exists(tmp_path, cli):
    sgd = ["--model.init_args.g_optimizer", "torch.optim.SGD", "--model.init_args.g_optimizer.init_args.lr", "1e6",
           "--model.init_args.d_optimizer", "torch.optim.SGD", "--model.init_args.d_optimizer.init_args.lr", "1e6"]
    # logged (and weight-checked) rarely, so that the NaN loss is what stops the run
    result = cli("fit", *SMALL_RING, *sgd, "--trainer.log_every_n_steps", "100", "--checkpoint.dirpath", "ckpts", cwd=tmp_path)
    line = one_error_line(result)
    assert "loss became nan" in line and "No checkpoint was written before it" in line
    assert not list(tmp_path.rglob("*.ckpt"))


def test_diverging_weights_stop_the_run_at_the_last_good_checkpoint(tmp_path, cli):
    """Adam at lr 3000 on the critic: no NaN, but weights past 1e4 within a few steps. The run stops
    before a checkpoint takes them, names the last good one, and resuming from it with a sane
    learning rate finishes."""
    result = cli(
        "fit", *SMALL_RING, "--model.init_args.d_optimizer.init_args.lr", "3000", "--checkpoint.dirpath", "ckpts", cwd=tmp_path
    )
    line = one_error_line(result)
    assert "training diverged: discriminator weights reached" in line and "model.max_weight=10000" in line
    good = line.split("The last good checkpoint is ")[1].split(". ")[0]
    assert Path(good).parent.name == "ckpts" and (tmp_path / good).is_file()
    for path in (tmp_path / "ckpts").glob("*.ckpt"):
        weights = [v for k, v in load(path)["state_dict"].items() if v.is_floating_point() and "running" not in k]
        assert max(v.abs().max().item() for v in weights) <= 1e4, path
    resumed = cli(
        "fit", *SMALL_RING, "--model.init_args.d_optimizer.init_args.lr", "1e-4", "--checkpoint.dirpath", "ckpts",
        "--ckpt_path", good, cwd=tmp_path,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "discriminator lr 3000.0 -> 0.0001" in resumed.stdout + resumed.stderr
    assert "trained 30 generator iterations" in resumed.stdout


def test_a_failed_checkpoint_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    """A full disk while ``last.ckpt`` is rewritten: one ``CheckpointError`` line, the previous file
    unchanged, no temporary file left behind."""
    import lightning as L

    from conftest import quiet_trainer
    from datamodules import Toy2DDataModule
    from lit_gans.callbacks import GeneratorStepCheckpoint
    from lit_gans.errors import CheckpointError
    from lit_gans.families import GAN

    real_save = torch.save
    saves = []

    def full_disk_on_the_second_save(obj, f, *args, **kwargs):
        saves.append(f)
        if len(saves) <= 2:  # g0000002.ckpt and last.ckpt
            return real_save(obj, f, *args, **kwargs)
        if hasattr(f, "write"):
            f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    L.seed_everything(0)
    dm = Toy2DDataModule(n_samples=512, batch_size=64)
    model = GAN(data_shape=dm.data_shape, architecture="mlp", latent_dim=2, g_width=16, d_width=16, max_g_steps=4)
    checkpoint = GeneratorStepCheckpoint(every_n_g_steps=2, dirpath=str(tmp_path))
    trainer = quiet_trainer(callbacks=[checkpoint], enable_checkpointing=True)
    monkeypatch.setattr(torch, "save", full_disk_on_the_second_save)
    with pytest.raises(CheckpointError) as error:
        trainer.fit(model, dm)
    monkeypatch.setattr(torch, "save", real_save)
    message = str(error.value)
    assert "No space left on device" in message and "previous checkpoint there is intact" in message and "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g0000002.ckpt", "last.ckpt"]
    assert load(tmp_path / "last.ckpt")["lit_gans"]["g_step"] == 2
