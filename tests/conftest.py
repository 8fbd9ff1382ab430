"""Shared fixtures: offline wandb in temporary folders, a quiet Trainer factory, tiny models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import lightning as L
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # test helpers (fakedata) import without a package

if "PYTEST_XDIST_WORKER" in os.environ:
    # two test workers on two cores: more than one torch thread each oversubscribes the cores, and spinning
    # OpenMP threads then make small convolutions many times slower; subprocesses (CLI, DDP) inherit it
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def offline_wandb(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.mktemp("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(base))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("WANDB_SILENT", "true")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a test module (use with ``pytest.mark.usefixtures``), restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_same_training_state(one: dict, two: dict) -> None:
    """Two checkpoints hold bitwise the same weights, buffers and optimizer moments (an exact resume)."""
    import torch

    for key, value in one["state_dict"].items():
        assert torch.equal(value, two["state_dict"][key]), key
    for mine, theirs in zip(one["optimizer_states"], two["optimizer_states"]):
        for index, state in mine["state"].items():
            for name, value in state.items():
                assert torch.equal(value, theirs["state"][index][name]), (index, name)


def quiet_trainer(**kwargs) -> L.Trainer:
    """A Trainer without logger, progress bar, checkpoints or validation, unless asked for."""
    defaults = dict(
        accelerator="cpu",
        devices=1,
        max_epochs=-1,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    defaults.update(kwargs)
    return L.Trainer(**defaults)

