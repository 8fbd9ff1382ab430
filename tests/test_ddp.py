"""Two CPU processes with gloo: plain ``strategy="ddp"`` works for a manual-optimisation GAN
(lit-gans turns on unused-parameter detection), the gradient penalty included, and both ranks end
with identical weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

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
    assert rank0["state"].keys() == rank1["state"].keys()
    for key, value in rank0["state"].items():
        assert torch.equal(value, rank1["state"][key]), key
    assert "find_unused_parameters=True" in result.stdout + result.stderr
