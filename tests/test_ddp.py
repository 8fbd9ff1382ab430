"""Two CPU processes with gloo: plain ``strategy="ddp"`` works for a manual-optimisation GAN
(lit-gans turns on unused-parameter detection), the gradient penalty included, and both ranks end
with identical weights; and ``lit-gans fit`` with two processes and its default callbacks (sample
grids, metrics, checkpoints, the wandb logger) finishes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from cli_run import lit_gans

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_two_process_ddp_wgan_gp_ends_with_identical_weights(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(HERE / "ddp_script.py"), str(tmp_path), "ddp"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(tmp_path / "rank0.pt")
    rank1 = torch.load(tmp_path / "rank1.pt")
    assert (rank0["g_step"], rank0["d_step"]) == (6, 30) == (rank1["g_step"], rank1["d_step"])
    assert rank0["direct_steps"] and rank1["direct_steps"]  # lit_gans.stepping: the gradients still all-reduced
    assert rank0["state"].keys() == rank1["state"].keys()
    for key, value in rank0["state"].items():
        assert torch.equal(value, rank1["state"][key]), key
    assert "find_unused_parameters=True" in result.stdout + result.stderr
    # seeded alike, the ranks still draw different latents (else each global batch repeats its fakes)
    assert not torch.equal(rank0["draw"], rank1["draw"])


@pytest.mark.slow
def test_cli_two_processes_with_the_default_callbacks(tmp_path):
    """The run users start: sample grids are written by rank 0 alone, which once asked for
    ``trainer.log_dir`` (a collective) there and hung or broke the run."""
    result = lit_gans(
        "fit", "--config", str(HERE.parent / "configs" / "dcgan" / "digits.yaml"),
        "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp",
        "--model.init_args.max_g_steps", "4", "--samples.every_n_g_steps", "2", "--metrics.n_samples", "100",
        "--trainer.default_root_dir", str(tmp_path / "run"), cwd=tmp_path, timeout=150,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    samples = tmp_path / "run" / "samples"
    assert sorted(p.name for p in samples.glob("g*.png")) == ["g0000002.png", "g0000004.png"]
    assert Image.open(samples / "g0000004.png").size[0] > 64
    assert [p.name for p in (tmp_path / "run").rglob("last.ckpt")] == ["last.ckpt"]
    assert "trained 4 generator iterations" in result.stdout and "digits/fid=" in result.stdout
