"""The ``lit-gans`` command end to end in subprocesses: fit, validate, sample, and bad input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")
FAST = ["--model.init_args.g_width", "8", "--model.init_args.d_width", "8", "--trainer.enable_progress_bar", "false"]


def lit_gans(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lit_gans.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The quickstart config, shortened to 20 generator iterations, run in a fresh folder."""
    cwd = tmp_path_factory.mktemp("cli")
    result = lit_gans(
        "fit", "--config", QUICKSTART, "--model.init_args.max_g_steps", "20",
        "--checkpoint.every_n_g_steps", "10", "--samples.every_n_g_steps", "10",
        "--metrics.every_n_g_steps", "10", "--metrics.n_samples", "200", *FAST, cwd=cwd,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, result


def test_fit_writes_checkpoints_grids_metrics_and_says_where(trained):
    cwd, result = trained
    run = cwd / "runs" / "quickstart" / "logs" / "version_0"
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "checkpoints" / "g0000020.ckpt").is_file()
    assert (run / "samples" / "g0000010.png").is_file() and (run / "samples" / "g0000020.png").is_file()
    assert Image.open(run / "samples" / "g0000020.png").size[0] > 64
    # interpolation strips: 8 rows of 10 images (16 px digits shown at 32 px)
    assert Image.open(run / "samples" / "interp_g0000020.png").size == (10 * 32 + 22, 8 * 32 + 18)
    header, *rows = (run / "metrics.csv").read_text().splitlines()
    columns = header.split(",")
    assert {"g_step", "digits/fid", "digits/kid", "digits/is", "digits/classes", "digits/class_kl", "digits/confidence"} <= set(columns)
    fids = [row.split(",")[columns.index("digits/fid")] for row in rows]
    assert len([v for v in fids if v]) == 2  # evaluated at g_step 10 and 20
    assert "trained 20 generator iterations" in result.stdout
    assert "samples:" in result.stdout and "checkpoint:" in result.stdout


def test_sample_writes_a_grid_from_a_checkpoint(trained):
    cwd, _ = trained
    ckpt = cwd / "runs" / "quickstart" / "logs" / "version_0" / "checkpoints" / "last.ckpt"
    result = lit_gans("sample", "--ckpt", str(ckpt), "--n", "16", "--out", "grid.png", cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "EMA generator" in result.stdout and "g_step 20" in result.stdout
    assert Image.open(cwd / "grid.png").size == (8 * 32 + 18, 2 * 32 + 6)


def test_validate_from_a_checkpoint(trained):
    cwd, _ = trained
    ckpt = cwd / "runs" / "quickstart" / "logs" / "version_0" / "checkpoints" / "last.ckpt"
    result = lit_gans("validate", "--config", QUICKSTART, "--ckpt_path", str(ckpt), *FAST, cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "val/d_loss" in result.stdout
    assert "digits/fid" in result.stdout  # the metrics callback evaluates at validation too


def test_evaluate_prints_a_table_and_writes_json(trained):
    import json

    cwd, _ = trained
    ckpt = cwd / "runs" / "quickstart" / "logs" / "version_0" / "checkpoints" / "last.ckpt"
    result = lit_gans("evaluate", "--ckpt", str(ckpt), "--n-samples", "300", "--n-real", "300", "--out", "eval.json", cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DCGAN at g_step 20 (EMA generator), 300 samples, DigitsDataModule" in result.stdout
    report = json.loads((cwd / "eval.json").read_text())
    assert set(report["metrics"]) == {f"digits/{k}" for k in ("fid", "kid", "kid_std", "is", "is_std", "classes", "class_kl", "confidence")}
    for key, value in report["metrics"].items():
        assert re.search(rf"^{re.escape(key)} +{re.escape(f'{value:.6g}')}$", result.stdout, re.MULTILINE), key
    assert report["data"]["init_args"]["image_size"] == 16 and report["feature"] == "digits"
    only_fid = lit_gans("evaluate", "--ckpt", str(ckpt), "--metrics", "fid", "--n-samples", "300", "--n-real", "300", "--out", "fid.json", cwd=cwd)
    assert list(json.loads((cwd / "fid.json").read_text())["metrics"]) == ["digits/fid"], only_fid.stderr[-2000:]
    wrong = lit_gans("evaluate", "--ckpt", str(ckpt), "--metrics", "modes", cwd=cwd)
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1 and "needs a 2-D mixture" in wrong.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "lit_gans.families.NoSuchGAN"], "NoSuchGAN"),
        (["--data", "datamodules.MNISTDataModule", "--data.data_dir", "/nonexistent"], "MNIST not found"),
        (["--data.init_args.image_size", "28"], "cannot make images of shape (1, 28, 28)"),
        (["--model.init_args.n_critic", "0"], "n_critic=0 must be at least 1"),
    ],
    ids=["unknown-class-path", "missing-data", "impossible-image-size", "n_critic-0"],
)
def test_bad_configs_exit_non_zero_with_one_clear_line(tmp_path, args, message):
    result = lit_gans("fit", "--config", QUICKSTART, *FAST, *args, cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert error_lines and message in error_lines[-1], result.stderr[-2000:]


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_corrupt_checkpoint_is_one_clear_line(tmp_path, command):
    (tmp_path / "bad.ckpt").write_bytes(b"\x00" * 100)
    result = lit_gans(command, "--ckpt", "bad.ckpt", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip().splitlines()[-1]]
    assert "cannot be read" in result.stderr


def test_default_logger_is_wandb_offline_when_not_logged_in(tmp_path):
    (tmp_path / "ring.yaml").write_text(
        "model:\n  class_path: lit_gans.families.GAN\n  init_args: {max_g_steps: 5, g_width: 16, d_width: 16}\n"
        "data:\n  class_path: datamodules.Toy2DDataModule\n  init_args: {n_samples: 1000, batch_size: 50}\n"
        "trainer: {enable_progress_bar: false, limit_val_batches: 0}\n"
    )
    env_home = tmp_path / "home"
    env_home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}
    result = subprocess.run(
        [sys.executable, "-m", "lit_gans.cli", "fit", "--config", "ring.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**env, "PYTHONPATH": str(ROOT), "HOME": str(env_home), "WANDB_API_KEY": "", "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "wandb: not logged in, logging offline" in out and "wandb sync" in out
    runs = list((tmp_path / "runs" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].rglob("*.wandb"))
    assert sorted(p.name for p in (tmp_path / "runs" / "lit-gans").rglob("*.ckpt")) == ["g0000005.ckpt", "last.ckpt"]
