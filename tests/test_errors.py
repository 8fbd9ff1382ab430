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


# ---------------------------------------------------------------------------------- image folders
def image_folder(root: Path, good: int = 8) -> Path:
    """``good`` 16x16 grey PNGs, plus a file of garbage and a truncated PNG, in ``root/images``."""
    folder = root / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(good):
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "garbage.png").write_bytes(b"this is not an image" * 10)
    whole = (folder / "0.png").read_bytes()
    (folder / "truncated.png").write_bytes(whole[: len(whole) // 2])
    return folder


def image_folder_config(root: Path) -> str:
    (root / "images.yaml").write_text(
        "model:\n  class_path: lit_gans.families.DCGAN\n  init_args: {latent_dim: 8, g_width: 8, d_width: 8}\n"
        "data:\n  class_path: datamodules.ImageFolderDataModule\n"
        "  init_args: {path: images, channels: 1, image_size: 16, batch_size: 4, val_fraction: 0.25}\n"
        "trainer: {accelerator: cpu, fast_dev_run: true, enable_progress_bar: false, logger: false}\n"
        "metrics: {on_validation: false}\n"
    )
    return str(root / "images.yaml")


def test_6a_corrupt_images_are_skipped_with_a_warning_naming_them(tmp_path):
    folder = image_folder(tmp_path)
    result = lit_gans("fit", "--config", image_folder_config(tmp_path), cwd=tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    warning = next(line for line in result.stderr.splitlines() if "cannot be decoded" in line)
    assert "skipped 2 image file(s)" in warning and "delete or replace them" in warning
    assert "images/garbage.png" in warning and "images/truncated.png" in warning
    dm = ImageFolderDataModule(str(folder), channels=1, image_size=16, batch_size=4, val_fraction=0.25)
    with pytest.warns(UserWarning, match="garbage.png"):
        dm.setup("fit")
    assert len(dm.train_set) + len(dm.val_set) == 8


def test_6a_an_image_that_fails_only_when_decoded_is_skipped_at_load_time(tmp_path, monkeypatch):
    """A file that passes the setup check (some damage only shows when the pixels are decoded) is
    skipped when loaded, with a warning, in favour of the next image."""
    import datamodules.image_folder as image_folder_module

    folder = image_folder(tmp_path)
    monkeypatch.setattr(image_folder_module, "_decodes", lambda path: True)
    dm = ImageFolderDataModule(str(folder), channels=1, image_size=16, batch_size=2, val_fraction=0.0)
    dm.setup("fit")
    assert len(dm.train_set) == 10
    with pytest.warns(UserWarning, match=r"skipped .*garbage\.png, which cannot be decoded \(UnidentifiedImageError"):
        images = [dm.train_set[i][0] for i in range(len(dm.train_set))]
    assert all(x.shape == (1, 16, 16) for x in images)


def test_6c_image_folder_channels_must_be_1_or_3(tmp_path, capsys):
    image_folder(tmp_path)
    result = lit_gans("fit", "--config", image_folder_config(tmp_path), "--data.init_args.channels", "2", cwd=tmp_path, timeout=180)
    line = error_line(result)
    assert "data.channels=2 is not supported: use 1 (grey) or 3 (RGB)" in line
    for channels in ("0", "4"):
        line = main_error(capsys, "fit", "--config", "images.yaml", "--data.init_args.channels", channels)
        assert f"data.channels={channels} is not supported" in line


# ---------------------------------------------------------------------------------- fit configs
def test_6b_latent_dim_must_be_positive(tmp_path, capsys):
    line = main_error(capsys, "fit", "--config", QUICKSTART, *DEV_RUN, "--model.init_args.latent_dim", "0")
    assert "model.latent_dim=0 must be at least 1" in line
    line = main_error(capsys, "fit", "--config", QUICKSTART, *DEV_RUN, "--model.init_args.latent_dim", "-3")
    assert "model.latent_dim=-3 must be at least 1" in line


def test_6d_default_root_dir_that_cannot_be_created(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    under_a_file = ["--trainer.default_root_dir", "notes.txt/run"]
    line = error_line(lit_gans("fit", "--config", DCGAN_DIGITS, *DEV_RUN, *under_a_file, cwd=tmp_path, timeout=180))  # wandb logger
    assert "trainer.default_root_dir notes.txt/run cannot be created: notes.txt is a file, not a folder" in line
    # the CSV logger, in a run that would write (fast_dev_run writes no logs)
    line = main_error(capsys, "fit", "--config", QUICKSTART, *FAST, "--model.init_args.max_g_steps", "1", *under_a_file)
    assert "trainer.default_root_dir notes.txt/run cannot be created: notes.txt is a file" in line
    if Path("/proc/self").is_dir():  # a place nobody can create folders in, root included
        line = main_error(capsys, "fit", "--config", QUICKSTART, *FAST, "--model.init_args.max_g_steps", "1",
                          "--trainer.default_root_dir", "/proc/lit-gans-run")
        assert "trainer.default_root_dir /proc/lit-gans-run cannot be created (" in line and "a folder you can write to" in line


def test_folder_check_survives_a_parent_removed_meanwhile(tmp_path, monkeypatch):
    """Two runs started together with the same default_root_dir: one's check removes the folders it made for the
    check while the other is creating them, so the other's mkdir finds a parent gone (FileNotFoundError)."""
    from lit_gans import paths

    mkdir, calls = Path.mkdir, []

    def racing_mkdir(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 1:  # the other process's check removed the parent just now
            raise FileNotFoundError(2, "No such file or directory")
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", racing_mkdir)
    target = tmp_path / "runs" / "acgan" / "fashion_mnist"
    assert paths.make_folder(target, "trainer.default_root_dir") == target and target.is_dir()
    assert len(calls) >= 2
    calls.clear()
    monkeypatch.setattr(paths, "MKDIR_ATTEMPTS", 1)  # a parent that keeps vanishing: one clear error, no traceback
    with pytest.raises(ConfigError, match="trainer.default_root_dir .* cannot be created"):
        paths.make_folder(tmp_path / "other", "trainer.default_root_dir")


def _check_run_folder_many_times(folder: str) -> str:
    from lit_gans.paths import make_folder

    for _ in range(200):
        make_folder(folder, "trainer.default_root_dir", keep=False)  # as the CLI checks it before a run
    return "ok"


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_runs_started_together_check_the_same_run_folder(tmp_path):
    """Four processes checking one default_root_dir at once (each makes the missing folders, then removes them):
    before the check retried and looked once, one of them failed with 'No such file or directory' or took a
    folder being removed for a file."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(4) as pool:
        assert pool.map(_check_run_folder_many_times, [str(tmp_path / "runs" / "acgan" / "fashion_mnist")] * 4) == ["ok"] * 4


def test_7d_val_fraction_out_of_range_names_val_fraction(tmp_path, capsys):
    line = main_error(capsys, "fit", "--config", QUICKSTART, *DEV_RUN, "--data.init_args.val_fraction", "1.0")
    assert "data.val_fraction=1.0 must be in [0, 1)" in line and "batch size" not in line
    for value in ("1.5", "-0.1"):
        line = main_error(capsys, "fit", "--config", QUICKSTART, *DEV_RUN, "--data.init_args.val_fraction", value)
        assert f"data.val_fraction={value} must be in [0, 1)" in line


def test_7d_image_folder_val_fraction(tmp_path):
    folder = image_folder(tmp_path)
    for value in (1.0, 2.0, -0.5):
        with pytest.raises(ConfigError, match=rf"data.val_fraction={value} must be in \[0, 1\)"):
            ImageFolderDataModule(str(folder), channels=1, val_fraction=value)


@pytest.mark.parametrize(
    "where, key, expected",
    [
        ("command line", "model.init_args.latnt_dim", "model.init_args.latnt_dim is not an option of DCGAN; did you mean latent_dim?"),
        ("yaml", "model.init_args.latnt_dim", "model.init_args.latnt_dim is not an option of DCGAN; did you mean latent_dim?"),
        ("yaml", "trainer.max_epoch", "trainer.max_epoch is not an option; did you mean trainer.max_epochs?"),
        ("command line", "data.init_args.imag_size", "data.init_args.imag_size is not an option of DigitsDataModule; did you mean image_size?"),
        ("command line", "modl.init_args.latent_dim", "modl is not a config section; did you mean model?"),
    ],
)
def test_7a_misspelt_key_gets_did_you_mean_not_a_dump(tmp_path, capsys, where, key, expected):
    if where == "yaml":
        leaf = key.rpartition(".")[2]
        text = Path(QUICKSTART).read_text()
        right = {"latnt_dim": "latent_dim: 64", "max_epoch": "max_epochs: -1"}[leaf]
        assert right in text
        (tmp_path / "typo.yaml").write_text(text.replace(right, right.replace(right.split(":")[0], leaf)))
        args = ["fit", "--config", "typo.yaml"]
    else:
        args = ["fit", "--config", QUICKSTART, *DEV_RUN, f"--{key}", "5"]
    if key == "model.init_args.latnt_dim" and where == "yaml":
        line = error_line(lit_gans(*args, cwd=tmp_path, timeout=180))
    else:
        line = main_error(capsys, *args)
    assert expected in line
    assert "Given value" not in line and "g_width" not in line and len(line) < 200, line


@pytest.mark.parametrize("content, kind", [("", "is empty"), ("# nothing here\n", "is empty"), ("- model\n- data\n", "holds a list")])
def test_7c_empty_or_non_mapping_config_names_the_file(tmp_path, capsys, content, kind):
    (tmp_path / "mine.yaml").write_text(content)
    if not content:
        line = error_line(lit_gans("fit", "--config", "mine.yaml", cwd=tmp_path, timeout=180))
    else:
        line = main_error(capsys, "fit", "--config", "mine.yaml")
    assert f"config mine.yaml {kind}" in line and "configs/quickstart.yaml" in line


def test_7e_linked_model_values_given_by_hand_are_warned_about(tmp_path):
    result = lit_gans(
        "fit", "--config", QUICKSTART, *DEV_RUN, "--model.init_args.data_shape", "[3, 32, 32]",
        "--model.init_args.num_classes", "3", cwd=tmp_path, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "model.init_args.data_shape=[3, 32, 32] is ignored: the model is built for the DataModule's data_shape" in result.stderr
    assert "model.init_args.num_classes=3 is ignored: the model is built for the DataModule's num_classes" in result.stderr
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["fit", "--config", QUICKSTART, *DEV_RUN]) == 0
    assert not [w for w in caught if "is ignored" in str(w.message)]
    assert not (tmp_path / "runs").exists()  # the check of default_root_dir leaves no folder behind


# ---------------------------------------------------------------------------------- sample / evaluate
def test_6e_sample_nrow_must_be_positive(checkpoints, tmp_path, capsys):
    line = main_error(capsys, "sample", "--ckpt", str(checkpoints["dcgan"]), "--nrow", "0", "--out", "grid.png")
    assert "--nrow 0 must be at least 1" in line
    line = main_error(capsys, "sample", "--ckpt", str(checkpoints["dcgan"]), "--nrow", "-2", "--out", str(tmp_path / "grid.png"))
    assert "--nrow -2 must be at least 1" in line
    assert list(tmp_path.iterdir()) == []


def test_6f_out_under_a_file(checkpoints, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    ckpt = str(checkpoints["dcgan"])
    line = only_line(lit_gans("sample", "--ckpt", ckpt, "--n", "16", "--out", "notes.txt/grid.png", cwd=tmp_path, timeout=120))
    assert "--out notes.txt cannot be created: notes.txt is a file, not a folder" in line
    line = main_error(capsys, "evaluate", "--ckpt", ckpt, "--n-samples", "16", "--out", "notes.txt/deeper/metrics.json")
    assert "--out notes.txt/deeper cannot be created: notes.txt is a file, not a folder" in line
    (tmp_path / "folder").mkdir()
    line = main_error(capsys, "sample", "--ckpt", ckpt, "--out", "folder")
    assert "--out folder is a folder; give a file name, e.g. folder/samples.png" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_6g_device_without_cuda_says_so_not_blames_the_checkpoint(checkpoints, tmp_path, capsys):
    line = only_line(lit_gans("sample", "--ckpt", str(checkpoints["dcgan"]), "--device", "cuda", cwd=tmp_path, timeout=120))
    assert "--device cuda: CUDA is not available on this machine; use --device cpu" in line and "checkpoint" not in line
    line = main_error(capsys, "evaluate", "--ckpt", str(checkpoints["dcgan"]), "--device", "cuda")
    assert "--device cuda: CUDA is not available on this machine; use --device cpu" in line and "checkpoint" not in line


@pytest.mark.parametrize("command", ["sample", "evaluate"])
@pytest.mark.parametrize(
    "device, message",
    [
        ("cuda:99", "--device cuda:99: "),  # no machine has a hundred GPUs: unavailable whether or not CUDA is
        ("gpu0", "--device 'gpu0' is not a device; use cpu, cuda"),
    ],
)
def test_6g_unavailable_or_invalid_device_is_named(checkpoints, tmp_path, capsys, command, device, message):
    line = main_error(capsys, command, "--ckpt", str(checkpoints["dcgan"]), "--device", device, "--out", str(tmp_path / "out.json"))
    assert message in line and "checkpoint" not in line, line
    assert device == "gpu0" or "use --device cpu" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command, out", [("sample", "grid.png"), ("sample", "x.pt"), ("evaluate", "metrics.json")])
def test_6h_diverged_checkpoint_is_refused_and_nothing_is_written(checkpoints, tmp_path, capsys, command, out):
    ckpt = checkpoints["diverged"]
    if out != "x.pt":  # evaluating NaN samples crashed the process (segmentation fault) before the fix
        line = only_line(lit_gans(command, "--ckpt", str(ckpt), "--out", out, cwd=tmp_path, timeout=120))
    else:
        line = main_error(capsys, command, "--ckpt", str(ckpt), "--out", out)
    assert f"checkpoint {ckpt} (g_step 2)" in line
    assert "NaN" in line and "diverged" in line and "use an earlier checkpoint" in line
    assert list(tmp_path.iterdir()) == []


def test_6h_a_good_checkpoint_still_samples(checkpoints, tmp_path):
    assert main(["sample", "--ckpt", str(checkpoints["dcgan"]), "--n", "4", "--out", str(tmp_path / "a" / "grid.png")]) == 0
    assert (tmp_path / "a" / "grid.png").is_file()


def test_7b_bad_labels_list_only_the_bad_values(checkpoints, tmp_path, capsys):
    line = main_error(capsys, "sample", "--ckpt", str(checkpoints["cgan"]), "--n", "5000", "--labels", "0,99,-1", "--out", "g.png")
    assert "labels outside this 10-class model: -1, 99; use class indices 0 to 9" in line and len(line) < 200, line[:500]
    assert not (tmp_path / "g.png").exists()
    model = CGAN(data_shape=(1, 16, 16), num_classes=10, latent_dim=8, g_width=8, d_width=8)
    with pytest.raises(ConfigError) as err:
        model.sample(5000, labels=torch.arange(5000))
    assert str(err.value) == (
        "labels outside this 10-class model: 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 and 4980 more; use class indices 0 to 9"
    )
