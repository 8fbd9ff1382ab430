"""Every YAML config under configs/ trains: ``fit`` with ``fast_dev_run`` through ``LitGansCLI``.

The configs are globbed, so a new config is tested without a new test. Each run keeps everything
from the file except what makes it fast and offline: 5 batches (so families with ``n_critic: 5``
make one generator step), batch size 8, 8-wide networks, the CPU, image folders at 64 px, and tiny fake MNIST /
Fashion-MNIST / CIFAR-10 files and a folder of random images (``tests/fakedata.py``) for the torchvision
datasets and image folders.

    python -m pytest -q -s tests/test_configs.py     # -s prints each config's fast_dev_run time
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import pytest
import torch
import yaml

try:
    from tests.fakedata import fake_cifar_integrity, write_all  # noqa: F401  (fixture used by name)
except ImportError:  # tests/ on sys.path instead of the repository root
    from fakedata import fake_cifar_integrity, write_all  # noqa: F401

from lit_gans.cli import LitGansCLI

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(REPO.glob("configs/**/*.yaml"))
RECIPES = [p for p in CONFIGS if p.parent != REPO / "configs"]  # configs/<family>/<dataset>.yaml
TORCHVISION_DATA = {
    "datamodules.MNISTDataModule",
    "datamodules.FashionMNISTDataModule",
    "datamodules.CIFAR10DataModule",
}
FAST_DEV_RUN_BATCHES = 5
LOSS_PREFIXES = ("loss/", "val/", "d/", "penalty/")  # losses, critic outputs and penalties
TIMES: dict[str, float] = {}


def config_id(path: Path) -> str:
    return str(path.relative_to(REPO))


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())  # ${...} interpolations stay strings here


@pytest.fixture(scope="session")
def fake_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``data_dir`` holding tiny fake MNIST, Fashion-MNIST and CIFAR-10."""
    return write_all(tmp_path_factory.mktemp("fake_data"))


@pytest.fixture(autouse=True)
def offline_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """wandb offline with its folders in tmp; relative paths (runs/, data/) resolve inside tmp."""
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        folder = tmp_path / name.lower()
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One intra-op thread: the 8-wide networks gain nothing from more, and on a busy 2-core machine
    two spinning OpenMP threads made small convolutions (and their double backward) ~70x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", autouse=True)
def timing_report():
    """Print every config's fast_dev_run time at the end of the module (shown with ``-s``)."""
    yield
    if TIMES:
        width = max(len(k) for k in TIMES)
        print(f"\n\nfast_dev_run ({FAST_DEV_RUN_BATCHES} batches) time per config:")
        for name, seconds in sorted(TIMES.items()):
            print(f"  {name:<{width}}  {seconds:6.2f} s")
        print(f"  {'total':<{width}}  {sum(TIMES.values()):6.2f} s")


def fast_args(config: Path, root: Path, data_dir: Path) -> list[str]:
    """The file's recipe, shrunk to seconds: 5 batches of 8 on the CPU through 8-wide networks."""
    args = [
        "--config", str(config),
        "--trainer.fast_dev_run", str(FAST_DEV_RUN_BATCHES),
        "--trainer.default_root_dir", str(root),
        "--trainer.accelerator", "cpu",
        "--trainer.devices", "1",
        "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false",
        "--data.init_args.batch_size", "8",
        "--model.init_args.g_width", "8",
        "--model.init_args.d_width", "8",
    ]
    data = load_yaml(config)["data"]["class_path"]
    if data == "datamodules.SingleImageDataModule":  # SinGAN: batches of one image; 8-wide nets on a small one
        at = args.index("--data.init_args.batch_size")
        del args[at:at + 2]
        args += ["--data.init_args.max_size", "48", "--model.init_args.width", "8"]
    if data in TORCHVISION_DATA:
        args += ["--data.init_args.data_dir", str(data_dir)]
    folder = str(data_dir / "images")  # users' folders (CelebA, FFHQ, facades, horse2zebra): random images here
    if data in ("datamodules.ImageFolderDataModule", "datamodules.PairedFolderDataModule",
                "datamodules.SuperResolutionFolderDataModule"):
        args += ["--data.init_args.path", folder, "--data.init_args.num_workers", "0"]
    if data == "datamodules.UnpairedFolderDataModule":
        args += ["--data.init_args.path_a", folder, "--data.init_args.path_b", folder, "--data.init_args.num_workers", "0"]
    if data in ("datamodules.ImageFolderDataModule", "datamodules.PairedFolderDataModule",
                "datamodules.UnpairedFolderDataModule") and load_yaml(config)["data"]["init_args"].get("image_size", 0) > 64:
        args += ["--data.init_args.image_size", "64"]  # the users' 128-256 px recipes, at 64 px: the same code, faster
    init = load_yaml(config)["model"].get("init_args", {})
    if "vgg_weights" in init:  # VGG19's weights are the user's download
        args += ["--model.init_args.content", "pixel"]
    if "pretrain_steps" in init:  # SRGAN: one SRResNet iteration, then the GAN phases within the 5 batches
        args += ["--model.init_args.pretrain_steps", "1"]
    return args


@pytest.mark.parametrize("config", CONFIGS, ids=[config_id(p) for p in CONFIGS])
def test_config_fast_dev_run(config: Path, tmp_path: Path, fake_data_dir: Path, fake_cifar_integrity) -> None:
    start = time.perf_counter()
    cli = LitGansCLI(args=["fit", *fast_args(config, tmp_path / "run", fake_data_dir)])
    seconds = time.perf_counter() - start
    TIMES[config_id(config)] = seconds
    print(f"\n{config_id(config)}: fast_dev_run {seconds:.2f} s", end="")

    model = cli.model
    assert model.g_step >= 1, f"no generator step in {FAST_DEV_RUN_BATCHES} batches (n_critic={model.n_critic})"
    # fast_dev_run=5 is max_steps=5, and Lightning's global_step counts the optimizer steps of both
    # networks (Lightning issue 17958): 1:1 families stop after 3 batches, n_critic=5 ones after 5
    critic = "critic" in model.roles  # GMMN has none: its one phase is the generator's
    assert int(critic) <= model.d_step <= FAST_DEV_RUN_BATCHES
    metrics = cli.trainer.callback_metrics
    assert ({"loss/d", "loss/g"} if critic else {"loss/g"}) <= set(metrics), f"losses not logged: {sorted(metrics)}"
    losses = {k: v for k, v in metrics.items() if k.startswith(LOSS_PREFIXES)}
    not_finite = {k: v.item() for k, v in losses.items() if not torch.isfinite(v).all()}
    assert not not_finite, f"non-finite losses: {not_finite}"
    assert "${" not in str(cli.config), "an omegaconf interpolation was left unresolved"
    # everything but the widths comes from the file
    init = load_yaml(config)["model"].get("init_args", {})
    kept = {"n_critic": model.n_critic, "latent_dim": model.latent_dim, "clip_value": model.clip_value,
            "gradient_penalty": sum(p.weight for p in model.penalties if type(p).__name__ == "GradientPenalty"), "objective": model.objective.name, "max_g_steps": model.max_g_steps}
    changed = {k: (init[k], v) for k, v in kept.items() if k in init and init[k] != v}
    assert not changed, f"settings differ from the file (file, model): {changed}"


def test_every_family_and_dataset_has_a_recipe() -> None:
    """The recipe set of the README: each family on each dataset it suits."""
    expected = {
        "gan": {"ring", "grid", "digits", "mnist"},
        "dcgan": {"digits", "mnist", "fashion_mnist", "cifar10"},
        "wgan": {"digits", "fashion_mnist", "cifar10"},
        "wgan_gp": {"ring", "grid", "digits", "fashion_mnist", "cifar10"},
        "lsgan": {"digits", "fashion_mnist", "cifar10"},
        "sngan": {"digits", "cifar10"},
        "cgan": {"digits", "mnist", "fashion_mnist"},
        "acgan": {"digits", "fashion_mnist"},
        "infogan": {"digits", "fashion_mnist"},
        "progan": {"digits", "fashion_mnist", "lfw", "celeba"},
        "stylegan": {"digits", "fashion_mnist", "lfw", "ffhq"},
        "pix2pix": {"digits", "fashion_mnist", "facades"},
        "cyclegan": {"digits", "fashion_mnist", "horse2zebra"},
        "context_encoder": {"digits", "fashion_mnist"},
        "srgan": {"photos", "div2k"},
        "singan": {"chelsea"},
    }
    found: dict[str, set[str]] = {}
    for path in RECIPES:
        found.setdefault(path.parent.name, set()).add(path.stem)
    missing = {f: sorted(names - found.get(f, set())) for f, names in expected.items() if names - found.get(f, set())}
    assert not missing, f"missing recipes: {missing}"


@pytest.mark.parametrize("config", RECIPES, ids=[config_id(p) for p in RECIPES])
def test_recipe_conventions(config: Path) -> None:
    """A header naming the paper, length in generator iterations, runs/<family>/<dataset>, default logger."""
    text = config.read_text()
    assert text.startswith("# "), "start with a comment naming the paper and the recipe"
    cfg = load_yaml(config)
    family, dataset = config.parent.name, config.stem
    trainer, init = cfg["trainer"], cfg["model"]["init_args"]
    assert trainer["max_epochs"] == -1, "the length is model.init_args.max_g_steps, not epochs"
    assert isinstance(init.get("max_g_steps"), int) and init["max_g_steps"] > 0
    assert trainer["default_root_dir"] == f"runs/{family}/{dataset}"
    assert "logger" not in trainer, "leave trainer.logger to the CLI default (wandb, offline when logged out)"
    module, _, name = cfg["model"]["class_path"].rpartition(".")
    critic_free = "critic" not in getattr(importlib.import_module(module), name).roles  # GMMN: no d_optimizer
    for name in ("g_optimizer",) if critic_free else ("g_optimizer", "d_optimizer"):
        assert "class_path" in init.get(name, {}), f"write the paper's {name} out explicitly"
    if cfg["data"]["class_path"] == "datamodules.Toy2DDataModule":
        assert init["architecture"] == "mlp"


def test_interpolation_resolves_to_max_g_steps(tmp_path: Path, fake_data_dir: Path, fake_cifar_integrity) -> None:
    """SNGAN's linear LR decay reads its length from ``${model.init_args.max_g_steps}``."""
    config = REPO / "configs/sngan/cifar10.yaml"
    assert "${model.init_args.max_g_steps}" in config.read_text()
    args = fast_args(config, tmp_path / "run", fake_data_dir)
    cli = LitGansCLI(args=args, run=False)
    init = cli.config["model"]["init_args"]
    assert init["max_g_steps"] == 50000
    for name in ("g_scheduler", "d_scheduler"):
        assert init[name]["init_args"]["total_iters"] == 50000
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        scheduler = getattr(cli.model, name)(optimizer)
        assert isinstance(scheduler, torch.optim.lr_scheduler.LinearLR)
        assert scheduler.total_iters == 50000 and scheduler.end_factor == 0.0


def test_fake_data_loads_with_torchvision(fake_data_dir: Path, fake_cifar_integrity) -> None:
    """The fake files are what torchvision's own readers expect."""
    from torchvision.datasets import CIFAR10, MNIST, FashionMNIST

    for cls in (MNIST, FashionMNIST):
        train, test = cls(str(fake_data_dir), train=True), cls(str(fake_data_dir), train=False)
        assert (len(train), len(test)) == (128, 64)
        assert tuple(train.data.shape[1:]) == (28, 28) and train.data.dtype == torch.uint8
        assert set(train.targets.tolist()) == set(range(10))
    train, test = CIFAR10(str(fake_data_dir), train=True), CIFAR10(str(fake_data_dir), train=False)
    assert (len(train), len(test)) == (130, 64)
    assert train.data.shape[1:] == (32, 32, 3) and len(train.classes) == 10
    image, label = train[0]
    assert image.size == (32, 32) and 0 <= label < 10
    assert len(train.targets) == len(train)


def test_command_line_override_reaches_the_interpolation(tmp_path: Path, fake_data_dir: Path, fake_cifar_integrity) -> None:
    config = REPO / "configs/sngan/cifar10.yaml"
    args = fast_args(config, tmp_path / "run", fake_data_dir) + ["--model.init_args.max_g_steps", "1000"]
    cli = LitGansCLI(args=args, run=False)
    init = cli.config["model"]["init_args"]
    assert init["max_g_steps"] == 1000
    assert init["g_scheduler"]["init_args"]["total_iters"] == 1000
    assert init["d_scheduler"]["init_args"]["total_iters"] == 1000
