"""User mistakes met through the ``lit-gans`` command are one line, naming the bad value, what was
expected and the fix, with exit code 2 and no traceback (issue 12, defects 6 and 7).

Each defect has one test that runs the command in a subprocess, as users start it; further cases of
the same defect call ``lit_gans.cli.main`` in this process (the same code path, without a
subprocess's ten seconds of imports).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cli_run import lit_gans
from conftest import quiet_trainer
from datamodules import DigitsDataModule, ImageFolderDataModule
from lit_gans.cli import main
from lit_gans.errors import ConfigError
from lit_gans.families import CGAN, DCGAN

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")
DCGAN_DIGITS = str(ROOT / "configs" / "dcgan" / "digits.yaml")
FAST = ["--model.init_args.g_width", "8", "--model.init_args.d_width", "8", "--trainer.enable_progress_bar", "false"]
DEV_RUN = [*FAST, "--trainer.fast_dev_run", "true"]


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Each test runs in its own folder, so in-process runs write nothing into the checkout."""
    monkeypatch.chdir(tmp_path)


def error_line(result) -> str:
    """The one ``lit-gans: error:`` line of a run that must fail with exit code 2 and no traceback."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("lit-gans: error: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def only_line(result) -> str:
    """As ``error_line``, for commands (sample, evaluate) whose stderr must be that line alone."""
    line = error_line(result)
    assert result.stderr.strip() == line, result.stderr[-3000:]
    return line


def main_error(capsys, *args: str) -> str:
    """``lit-gans ARGS`` in this process: exit code 2 and one ``lit-gans: error:`` line."""
    code = main(list(args))
    err = capsys.readouterr().err
    assert code == 2, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("lit-gans: error: ")]
    assert len(lines) == 1, err[-3000:]
    return lines[0]


# ---------------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Tiny DCGAN and CGAN checkpoints (2 generator iterations on the digits), and a copy of the
    DCGAN one whose generator has a NaN weight, as a diverged run leaves."""
    folder = tmp_path_factory.mktemp("checkpoints")
    paths = {}
    for name, family in (("dcgan", DCGAN), ("cgan", CGAN)):
        dm = DigitsDataModule(image_size=16, batch_size=16)
        model = family(data_shape=dm.data_shape, num_classes=dm.num_classes, latent_dim=8, g_width=8, d_width=8, max_g_steps=2)
        trainer = quiet_trainer()
        trainer.fit(model, dm)
        paths[name] = folder / f"{name}.ckpt"
        trainer.save_checkpoint(paths[name])
    checkpoint = torch.load(paths["dcgan"], map_location="cpu", weights_only=True)
    weight = next(k for k, v in checkpoint["state_dict"].items() if k.startswith("generator.") and v.is_floating_point())
    checkpoint["state_dict"][weight][...] = float("nan")
    paths["diverged"] = folder / "diverged.ckpt"
    torch.save(checkpoint, paths["diverged"])
    return paths


# ---------------------------------------------------------------------------------- fit configs
def test_6b_latent_dim_must_be_positive(tmp_path, capsys):
    line = error_line(lit_gans("fit", "--config", QUICKSTART, *DEV_RUN, "--model.init_args.latent_dim", "0", cwd=tmp_path, timeout=180))
    assert "model.latent_dim=0 must be at least 1" in line
    line = main_error(capsys, "fit", "--config", QUICKSTART, *DEV_RUN, "--model.init_args.latent_dim", "-3")
    assert "model.latent_dim=-3 must be at least 1" in line


def test_7b_bad_labels_list_only_the_bad_values(checkpoints, tmp_path):
    result = lit_gans("sample", "--ckpt", str(checkpoints["cgan"]), "--n", "5000", "--labels", "0,99,-1", "--out", "g.png", cwd=tmp_path, timeout=120)
    line = only_line(result)
    assert "labels outside this 10-class model: -1, 99; use class indices 0 to 9" in line and len(line) < 200, line[:500]
    assert not (tmp_path / "g.png").exists()
    model = CGAN(data_shape=(1, 16, 16), num_classes=10, latent_dim=8, g_width=8, d_width=8)
    with pytest.raises(ConfigError) as err:
        model.sample(5000, labels=torch.arange(5000))
    assert str(err.value) == (
        "labels outside this 10-class model: 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 and 4980 more; use class indices 0 to 9"
    )
