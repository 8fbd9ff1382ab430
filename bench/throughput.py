"""Benchmark: the suite's training speed against a plain PyTorch loop with the same networks, data and batch.

Two settings: DCGAN (``lit_gans.families.DCGAN``, bundled digits at 32 px, batch 64) and the
MLP GAN (``lit_gans.families.GAN``, PacGAN's 4x400 / 3x200 MLPs, latent 2, 2-D ring, batch 256).
Each is trained four ways, side by side in one process on one thread:

- ``plain``: a hand-written loop with the networks from ``lit_gans.nets.factory.build_networks``
  (same seed, so the same initial weights), Adam 2e-4 betas (0.5, 0.999), the non-saturating
  BCE-with-logits loss, the DataLoader of the same DataModule, one D step then one G step per
  batch, ``zero_grad(set_to_none=True)``, and D frozen during the G step (as the suite does);
- ``bare``: the family under ``L.Trainer`` without logger, progress bar or callbacks;
- ``default``: what ``lit-gans fit`` gives by default, with a CSVLogger in a temporary folder:
  the logger, ``GANProgressBar``, ``GeneratorStepCheckpoint``, ``SampleGrid`` and
  ``DomainMetrics`` (their intervals are never reached inside the timed window);
- ``wandb``: the same with the CLI's default logger, ``AutoWandbLogger`` offline in a temporary folder.

Validation is off everywhere (``limit_val_batches=0``): this measures training iterations. The
progress bar is drawn as in a terminal even when the output is redirected (``TTY_COMPATIBLE=1``).
Each round runs every way once, in a rotating order, for ``warmup`` + ``steps`` generator
iterations; only the last ``steps`` are timed (Trainer construction, set-up and teardown are
outside the window). Speeds are generator iterations per second, median over rounds; the ratio
is suite / plain within each round, then the median over rounds, so load from other processes on
the machine affects both sides of a ratio alike.

    OMP_NUM_THREADS=1 python bench/throughput.py [--rounds 5] [--only mlp] [--ways plain,bare,default]

Writes bench/results/throughput.md and .json (not with --only or --ways, which are for exploring).

GPU mode (``--gpu``; the issue "loop v2: per-step cost"): DCGAN at 64 px, batch 128, z 100, 64
features, on one CUDA device, with 8,192 random images in [-1, 1] handed out a batch at a time through
the suite's DataLoader with ``pin_memory`` (2 workers). Every side builds its networks with
``build_networks`` from the same seed (checked). Ways, interleaved in rounds as above:

- ``plain``: the hand-written loop above (the suite's algorithm: one D step, then one G step on a
  fresh fake batch with D frozen), forward passes and losses under ``torch.autocast(bfloat16)`` for
  ``bf16-mixed``;
- ``examples``: the loop structure of pytorch/examples' ``dcgan/main.py``: label tensors filled per
  step, D on the real batch and backward, D on ``fake.detach()`` and backward, D's step, then G's
  step through D on the *same* fake batch, D not frozen (so its weight gradients are computed and
  thrown away), and the per-step ``.item()`` reads of its log line (the line is formatted, not
  printed; its sample grids and checkpoints are left out). Our D returns logits, so
  ``BCEWithLogitsLoss`` stands for its sigmoid + ``BCELoss``. This is a slightly different
  algorithm: one fake batch per iteration instead of two;
- ``bare``: ``DCGAN`` under ``L.Trainer(accelerator="gpu", devices=1, precision=...)`` without
  logger, progress bar, checkpointing or callbacks;
- ``default``: as ``lit-gans fit`` builds it with a CSVLogger (the CPU mode's ``default``): the
  progress bar (drawn) and the CLI's callbacks; the metrics callback is given no metrics, since its
  end-of-run evaluation falls outside the timed window anyway.

Rows: ``32-true`` and ``bf16-mixed`` (eager), and for ``bf16-mixed`` (``--compile-precisions``)
two compiled variants: ``compile`` (``torch.compile`` of G and D for ``plain``; the family's
``compile=True`` for ``bare`` and ``default``) and ``reduce-overhead`` (CUDA graphs: ``mode=
"reduce-overhead"``, the family's ``compile_options``), each compiled block after
``torch._dynamo.reset()``. When the family refuses ``compile``/``compile_options`` the lit-gans
compiled cells say "unavailable"; a compiled cell that raises is reported as failed and skipped in
later rounds. Each block: ``torch.cuda.synchronize()`` at its timed window's ends, 10 untimed
iterations (30 compiled) and 150 timed; the ratio is to eager ``plain`` of the same precision within
each round, then the median. Rounds run while another fits in ``--budget`` (300 s; at least 2), so a
whole run takes about 6 minutes on an H100:

    PYTHONPATH=. python bench/throughput.py --gpu             # writes bench/results/throughput_gpu.md/.json
    PYTHONPATH=. python bench/throughput.py --gpu --device cpu --tiny   # the same code path on a CPU, 16 px, batch 8

Without a CUDA device ``--gpu`` refuses with one message. ``--tiny``, ``--steps`` and ``--ways`` are
not written.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
# rich draws the progress bar as in a terminal even when the output goes to a file (the bar's cost
# in a terminal is what users pay; rich skips the drawing otherwise)
os.environ.setdefault("TTY_COMPATIBLE", "1")
os.environ.setdefault("TTY_INTERACTIVE", "1")

import argparse
import contextlib
import logging
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, markdown_table, write_results  # noqa: E402
from datamodules import DigitsDataModule, GANDataModule, Toy2DDataModule  # noqa: E402
from datamodules.base import TensorBatches  # noqa: E402
from lit_gans.families import DCGAN, GAN  # noqa: E402
from lit_gans.nets.factory import build_networks  # noqa: E402

SEED = 0
WAYS = ("plain", "bare", "default", "wandb")


@dataclass
class Setting:
    label: str
    family: type
    nets: dict[str, Any]  # architecture, latent_dim, widths: given to the family and to build_networks
    data_class: type
    data_args: dict[str, Any]
    steps: int  # timed generator iterations per block
    warmup: int  # untimed generator iterations before them
    target: float  # the target for suite (default) / plain
    data: GANDataModule | None = field(default=None, repr=False)

    def dm(self) -> GANDataModule:
        """The DataModule of the plain loop and the bare Trainer (the CLI builds its own, equal one)."""
        if self.data is None:
            self.data = self.data_class(**self.data_args)
            self.data.setup("fit")
        return self.data


SETTINGS = {
    "dcgan": Setting(
        "DCGAN, digits 32 px, batch 64",
        DCGAN,
        {"architecture": "dcgan", "latent_dim": 100, "g_width": 64, "d_width": 64},
        DigitsDataModule,
        {"image_size": 32, "batch_size": 64},
        steps=8,
        warmup=2,
        target=0.95,
    ),
    "mlp": Setting(
        "GAN (MLP), 2-D ring, batch 256",
        GAN,
        {"architecture": "mlp", "latent_dim": 2, "g_width": 400, "d_width": 200},
        Toy2DDataModule,
        {"name": "ring", "batch_size": 256},
        steps=150,
        warmup=20,
        target=0.90,
    ),
}


# ---------------------------------------------------------------------------------------- plain PyTorch
def plain_networks(setting: Setting, device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(SEED)
    nets = dict(setting.nets)
    arch, latent = nets.pop("architecture"), nets.pop("latent_dim")
    g, d = build_networks(arch, latent, setting.dm().data_shape, **nets)
    return g.to(device), d.to(device)


def run_plain(setting: Setting, device: torch.device) -> tuple[float, float]:
    """Wall and CPU seconds of ``setting.steps`` generator iterations of a hand-written loop, after the warm-up."""
    generator, discriminator = plain_networks(setting, device)
    generator.train(), discriminator.train()
    g_opt = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    latent = setting.nets["latent_dim"]
    loader = setting.dm().train_dataloader()
    total, step, start = setting.warmup + setting.steps, 0, (0.0, 0.0)
    while step < total:
        for real, _ in loader:
            real = real.to(device, non_blocking=True)
            n = real.shape[0]
            # discriminator step: -log D(x) - log(1 - D(G(z)))
            with torch.no_grad():
                fake = generator(torch.randn(n, latent, device=device))
            d_loss = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake)).mean()
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
            # generator step, non-saturating: -log D(G(z)), D frozen
            discriminator.requires_grad_(False)
            g_loss = F.softplus(-discriminator(generator(torch.randn(n, latent, device=device)))).mean()
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
            discriminator.requires_grad_(True)
            step += 1
            if step == setting.warmup:
                start = _now(device)
            elif step == total:
                end = _now(device)
                return end[0] - start[0], end[1] - start[1]
    raise AssertionError("unreachable")


def _now(device: torch.device) -> tuple[float, float]:
    """Wall clock and this process's CPU time (all threads), after the device's queued work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter(), time.process_time()


# ---------------------------------------------------------------------------------------- the suite
class Clock(L.Callback):
    """Stamps the time at the end of the batches that complete generator iterations ``start`` and ``end``."""

    def __init__(self, start: int, end: int):
        self.start, self.end = start, end
        self.stamps: dict[int, tuple[float, float]] = {}

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        g_step = pl_module.g_step
        if g_step in (self.start, self.end) and g_step not in self.stamps:
            self.stamps[g_step] = _now(pl_module.device)


def suite_model(setting: Setting, max_g_steps: int) -> L.LightningModule:
    torch.manual_seed(SEED)
    return setting.family(data_shape=setting.dm().data_shape, max_g_steps=max_g_steps, **setting.nets)


def cli_config(setting: Setting, way: str, run_dir: Path, max_g_steps: int) -> dict[str, Any]:
    """What ``lit-gans fit`` is given: the family, the data and the run's length; everything else is
    the CLI's default (logger, progress bar, checkpoints, sample grids, metrics). ``default`` swaps
    the CLI's wandb logger for a CSVLogger; ``wandb`` keeps it (offline)."""
    trainer: dict[str, Any] = {"default_root_dir": str(run_dir), "limit_val_batches": 0, "num_sanity_val_steps": 0}
    if way == "default":
        trainer["logger"] = {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": str(run_dir)}}
    return {
        "seed_everything": SEED,
        "trainer": trainer,
        "model": {
            "class_path": f"{setting.family.__module__}.{setting.family.__name__}",
            "init_args": {**setting.nets, "max_g_steps": max_g_steps},
        },
        "data": {"class_path": f"{setting.data_class.__module__}.{setting.data_class.__name__}", "init_args": setting.data_args},
    }


def build_suite(setting: Setting, way: str, root: Path, max_g_steps: int) -> tuple[L.Trainer, L.LightningModule, Any]:
    """``bare``: the family under a Trainer with nothing else; ``default``/``wandb``: as ``lit-gans fit`` builds it."""
    if way == "bare":
        trainer = L.Trainer(
            accelerator="auto", devices=1, max_epochs=-1, limit_val_batches=0, num_sanity_val_steps=0,
            logger=False, enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False,
        )
        return trainer, suite_model(setting, max_g_steps), setting.dm()
    from lit_gans.cli import LitGansCLI

    cli = LitGansCLI(args=cli_config(setting, way, Path(tempfile.mkdtemp(dir=root)), max_g_steps), run=False)
    return cli.trainer, cli.model, cli.datamodule


def run_suite(setting: Setting, way: str, root: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``setting.steps`` generator iterations under ``L.Trainer`` configured as ``way``."""
    total = setting.warmup + setting.steps
    trainer, model, dm = build_suite(setting, way, root, total)
    clock = Clock(setting.warmup, total)
    trainer.callbacks.insert(0, clock)  # first: stamps before the other callbacks' per-batch work
    trainer.fit(model, datamodule=dm)
    if way == "wandb":
        import wandb

        wandb.finish()
    (wall0, cpu0), (wall1, cpu1) = clock.stamps[setting.warmup], clock.stamps[total]
    return wall1 - wall0, cpu1 - cpu0


def check_same_start(setting: Setting, root: Path) -> None:
    """The suite's networks (built directly and by the CLI) and the plain loop's start from the same weights."""
    g, d = plain_networks(setting, torch.device("cpu"))
    for way in ("bare", "default"):
        model = build_suite(setting, way, root, 1)[1]
        for ours, theirs in ((model.generator, g), (model.discriminator, d)):
            for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
                if not torch.equal(a, b):
                    raise AssertionError(f"{setting.label}: initial {name} differs between the suite ({way}) and the plain loop")


# ---------------------------------------------------------------------------------------- the run
def measure(setting: Setting, ways: list[str], rounds: int, root: Path, device: torch.device) -> dict[str, Any]:
    check_same_start(setting, root)
    wall: dict[str, list[float]] = {way: [] for way in ways}
    cpu: dict[str, list[float]] = {way: [] for way in ways}
    for r in range(rounds):
        order = ways[r % len(ways):] + ways[: r % len(ways)]  # rotate so no way always runs first
        for way in order:
            w, c = run_plain(setting, device) if way == "plain" else run_suite(setting, way, root)
            wall[way].append(setting.steps / w)
            cpu[way].append(setting.steps / c)
            print(f"  {setting.label} | round {r + 1}/{rounds} | {way:8s} {setting.steps / w:8.2f} it/s "
                  f"({setting.steps / c:.2f} per CPU second)", flush=True)
    result: dict[str, Any] = {"setting": setting.label, "steps": setting.steps, "warmup": setting.warmup,
                              "target": setting.target}
    for clock, speeds in (("wall", wall), ("cpu", cpu)):
        result[f"it_per_s_{clock}"] = {way: statistics.median(v) for way, v in speeds.items()}
        result[f"it_per_s_{clock}_rounds"] = speeds
        if "plain" in speeds:
            plain = speeds["plain"]
            result[f"ratio_{clock}"] = {
                way: statistics.median(s / p for s, p in zip(v, plain)) for way, v in speeds.items() if way != "plain"
            }
            # where the time goes: extra milliseconds per generator iteration over the previous way
            previous = {"bare": "plain", "default": "bare", "wandb": "default"}
            result[f"extra_ms_{clock}"] = {
                way: statistics.median(1e3 / a - 1e3 / b for a, b in zip(v, speeds[previous[way]]))
                for way, v in speeds.items() if way in previous and previous[way] in speeds
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5; --gpu --tiny: 2)")
    parser.add_argument("--only", choices=sorted(SETTINGS), default=None, help="one setting (not written)")
    parser.add_argument("--ways", default=None, help=f"comma-separated subset of {','.join(WAYS)} "
                        f"(--gpu: of {','.join(GPU_WAYS)}); not written")
    parser.add_argument("--steps", type=int, default=None, help="override timed steps per block (not written)")
    gpu = parser.add_argument_group("GPU mode")
    gpu.add_argument("--gpu", action="store_true", help="DCGAN 64 px, batch 128, eager/bf16/compiled rows on a GPU; "
                     "writes bench/results/throughput_gpu.md/.json")
    gpu.add_argument("--device", default="cuda", help="device of --gpu (default cuda; cpu for a check with --tiny)")
    gpu.add_argument("--tiny", action="store_true", help="--gpu's code path at 16 px, batch 8, 2 rounds of a few steps (not written)")
    gpu.add_argument("--workers", type=int, default=None, help="DataLoader workers of --gpu (default 2; --tiny 0)")
    gpu.add_argument("--budget", type=float, default=None,
                     help="seconds after which --gpu starts no new round (at least 2 rounds run; default 300; --tiny none)")
    gpu.add_argument("--compile-precisions", default=None, help="precisions with compiled rows (default bf16-mixed; '' for none)")
    gpu.add_argument("--variants", default=None, help=f"compiled variants, of {','.join(COMPILE_VARIANTS)} (default both)")
    gpu.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark on, for every way")
    args = parser.parse_args()
    if args.gpu:
        gpu_main(args, parser)
        return
    ways = args.ways.split(",") if args.ways else list(WAYS)
    if unknown := set(ways) - set(WAYS):
        parser.error(f"--ways {sorted(unknown)} unknown; choose from {','.join(WAYS)}")
    rounds = 5 if args.rounds is None else args.rounds

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    names = [args.only] if args.only else list(SETTINGS)
    results = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            setting = SETTINGS[name]
            if args.steps:
                setting.steps = args.steps
            results.append(measure(setting, ways, rounds, Path(tmp), device))
    wall = time.perf_counter() - t0
    report(results, ways, rounds, wall, write=args.only is None and ways == list(WAYS) and not args.steps)


def report(results: list[dict[str, Any]], ways: list[str], rounds: int, wall: float, write: bool) -> None:
    header = ["setting", "plain it/s", "suite it/s (bare)", "suite it/s (default: CSV logger + bar)",
              "suite it/s (default, wandb offline)", "ratio bare", "ratio default", "ratio wandb", "target"]

    def rows(clock: str) -> list[list[Any]]:
        out = []
        for r in results:
            speed, ratio = r[f"it_per_s_{clock}"], r.get(f"ratio_{clock}", {})
            verdict = "met" if ratio.get("default", 0) >= r["target"] else "NOT met"
            out.append([r["setting"], speed.get("plain"), speed.get("bare"), speed.get("default"), speed.get("wandb"),
                        ratio.get("bare"), ratio.get("default"), ratio.get("wandb"), f">= {r['target']:.2f}: {verdict}"])
        return out

    extra_header = ["setting", "plain loop", "+ Lightning and the suite's loop (bare - plain)",
                    "+ CSV logger, bar, callbacks (default - bare)", "wandb instead of CSV (wandb - default)"]
    extra_rows = []
    for r in results:
        plain, extra = r["it_per_s_cpu"].get("plain"), r.get("extra_ms_cpu", {})
        extra_rows.append([r["setting"], 1e3 / plain if plain else None, extra.get("bare"), extra.get("default"),
                           extra.get("wandb")])
    blocks = ", ".join(f"{r['setting']}: {r['warmup']} + {r['steps']}" for r in results)
    body = [
        f"Machine: {machine()}. The machine is shared with other processes, so the ways alternate within "
        f"each of {rounds} rounds. Generator iterations per block (warm-up + timed): {blocks}. "
        f"Total wall time {wall:.0f} s.",
        "",
        "Wall clock (what the issue asks; moves with the load from other processes):",
        "",
        *markdown_table(header, rows("wall")),
        "",
        "Per CPU second of the process (all its threads; steadier under load, blind to wandb's service process):",
        "",
        *markdown_table(header, rows("cpu")),
        "",
        "Where the time goes, CPU milliseconds per generator iteration (median over rounds of the difference):",
        "",
        *markdown_table(extra_header, extra_rows),
        "",
        "it/s: generator iterations (one D step + one G step) per second, median over rounds. Ratio: suite / "
        "plain within a round, then the median over rounds. Bare: the family under `L.Trainer` without "
        "logger, progress bar or callbacks. Default: what `lit-gans fit` builds (progress bar, checkpoint, "
        "sample-grid and metrics callbacks) with a CSVLogger instead of its default wandb logger; wandb: "
        "that default, offline. The callbacks' intervals are not reached in the timed window. Validation "
        "off. Target: the default ratio (issue: >= 0.95 DCGAN, >= 0.90 MLP).",
        "",
        "Per round (wall-clock it/s):",
        "",
    ]
    for r in results:
        for way, values in r["it_per_s_wall_rounds"].items():
            body.append(f"- {r['setting']}, {way}: " + ", ".join(f"{v:.3g}" for v in values))
    if write:
        write_results("throughput", "Training throughput: the suite against a plain PyTorch loop", body,
                      {"machine": machine(), "rounds": rounds, "wall_seconds": wall, "results": results})
    else:
        print("\n".join(body))


# ---------------------------------------------------------------------------------------- GPU mode
GPU_WAYS = ("plain", "examples", "bare", "default")
PRECISIONS = ("32-true", "bf16-mixed")
#: torch.compile options of each compiled variant (the suite gets them as ``compile_options``)
COMPILE_VARIANTS: dict[str, dict[str, Any]] = {"compile": {}, "reduce-overhead": {"mode": "reduce-overhead"}}
#: the ways each compiled variant is run for (the pytorch/examples loop is measured eager only)
COMPILED_WAYS = {"compile": ("plain", "bare", "default"), "reduce-overhead": ("plain", "bare", "default")}
#: the family of the suite's side (a module attribute, so that a check can swap in a stand-in)
FAMILY: type = DCGAN
#: the import path under which the CLI finds ``RandomImages`` (this file, whether run as a script or imported)
RANDOM_IMAGES_PATH = "bench.throughput.RandomImages"
if __name__ == "__main__":
    sys.modules.setdefault("bench.throughput", sys.modules[__name__])

_IMAGES: dict[tuple, torch.Tensor] = {}


class RandomImages(GANDataModule):
    """``n`` random images in [-1, 1] (seeded, unlabelled), held as one tensor and handed out a batch
    at a time (``TensorBatches``), through the suite's loader with ``pin_memory``. Made once per
    process and shared by every way, including the DataModules the CLI builds."""

    def __init__(self, image_size: int = 64, channels: int = 3, n: int = 8192, batch_size: int = 128,
                 num_workers: int = 0, pin_memory: bool = True):
        super().__init__(batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory)
        self.n = n
        self.data_shape = (channels, image_size, image_size)

    def make_datasets(self) -> tuple[TensorBatches, TensorBatches]:
        key = (self.n, self.data_shape)
        if key not in _IMAGES:
            _IMAGES[key] = torch.rand((self.n, *self.data_shape), generator=torch.Generator().manual_seed(SEED)) * 2 - 1
        images, labels = _IMAGES[key], torch.zeros(self.n, dtype=torch.long)
        held_out = min(self.n, self.batch_size)
        return TensorBatches(images, labels), TensorBatches(images[:held_out], labels[:held_out])


@dataclass
class GpuSetting:
    """The GPU mode's sizes (``tiny`` shrinks them for a check of the code path on a CPU)."""

    device: torch.device
    image_size: int = 64
    batch_size: int = 128
    latent_dim: int = 100
    width: int = 64
    n_images: int = 8192  # 64 batches an epoch
    workers: int = 2
    steps: int = 150  # timed generator iterations per block
    warmup: int = 10  # untimed ones before them, eager
    compile_warmup: int = 30  # ... and compiled (the compilations happen in the first few)
    precisions: tuple[str, ...] = PRECISIONS
    compile_precisions: tuple[str, ...] = ("bf16-mixed",)
    variants: tuple[str, ...] = tuple(COMPILE_VARIANTS)
    data: RandomImages | None = field(default=None, repr=False)

    @classmethod
    def tiny(cls, device: torch.device) -> "GpuSetting":
        return cls(device, image_size=16, batch_size=8, width=8, n_images=64, workers=0, steps=4, warmup=2,
                   compile_warmup=3)

    @property
    def data_args(self) -> dict[str, Any]:
        return {"image_size": self.image_size, "channels": 3, "n": self.n_images, "batch_size": self.batch_size,
                "num_workers": self.workers, "pin_memory": True}

    @property
    def nets(self) -> dict[str, Any]:
        return {"architecture": "dcgan", "latent_dim": self.latent_dim, "g_width": self.width, "d_width": self.width}

    @property
    def label(self) -> str:
        return (f"DCGAN {self.image_size} px, batch {self.batch_size}, z {self.latent_dim}, {self.width} features, "
                f"{self.n_images} random images through a pinned DataLoader ({self.workers} workers)")

    def dm(self) -> RandomImages:
        if self.data is None:
            self.data = RandomImages(**self.data_args)
            self.data.setup("fit")
        return self.data


@dataclass(frozen=True)
class Cell:
    """One block of the table: a precision, eager or a compiled variant, and a way."""

    precision: str
    variant: str  # "eager" or a key of COMPILE_VARIANTS
    way: str

    @property
    def row(self) -> str:
        return self.precision if self.variant == "eager" else f"{self.precision} + {self.variant}"

    @property
    def name(self) -> str:
        return f"{self.row} | {self.way}"


def gpu_cells(setting: GpuSetting, ways: list[str], suite_compiles: bool) -> list[Cell]:
    cells = [Cell(p, "eager", w) for p in setting.precisions for w in ways]
    for p in setting.compile_precisions:
        for variant in setting.variants:
            cells += [Cell(p, variant, w) for w in COMPILED_WAYS[variant]
                      if w in ways and (w == "plain" or suite_compiles)]
    return cells


def autocast(device: torch.device, precision: str):
    """What the plain loops run the networks' forward passes and losses under."""
    if precision == "bf16-mixed":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def gpu_plain(setting: GpuSetting, cell: Cell) -> tuple[float, float]:
    """Seconds from the block's start to the first timed iteration (building, compiling, warm-up),
    and seconds of ``setting.steps`` generator iterations of a hand-written loop after them.

    ``plain``: the suite's algorithm (one D step then one G step per batch, two fresh fake batches,
    D frozen during the G step). ``examples``: the loop of pytorch/examples' ``dcgan/main.py`` (see
    the module docstring), which reuses the D step's fake batch for the G step."""
    begin = _now(setting.device)[0]
    device, latent = setting.device, setting.latent_dim
    torch.manual_seed(SEED)
    g, d = build_networks("dcgan", latent, setting.dm().data_shape, g_width=setting.width, d_width=setting.width)
    g, d = g.to(device).train(), d.to(device).train()
    g_opt = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    if cell.variant != "eager":
        g, d = torch.compile(g, **COMPILE_VARIANTS[cell.variant]), torch.compile(d, **COMPILE_VARIANTS[cell.variant])
    amp = partial(autocast, device, cell.precision)
    warmup = setting.warmup if cell.variant == "eager" else setting.compile_warmup
    total, step, start = warmup + setting.steps, 0, 0.0
    loader = setting.dm().train_dataloader()
    criterion = torch.nn.BCEWithLogitsLoss()
    while True:
        for real, _ in loader:
            real = real.to(device, non_blocking=True)
            n = real.shape[0]
            if cell.variant == "reduce-overhead":  # a new step of CUDA graph trees (see the family's loop)
                torch.compiler.cudagraph_mark_step_begin()
            if cell.way == "plain":
                # discriminator step: -log D(x) - log(1 - D(G(z)))
                with torch.no_grad(), amp():
                    fake = g(torch.randn(n, latent, device=device))
                with amp():
                    d_loss = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()
                d_opt.zero_grad(set_to_none=True)
                d_loss.backward()
                d_opt.step()
                # generator step, non-saturating: -log D(G(z)) on a fresh batch, D frozen
                if cell.variant == "reduce-overhead":
                    torch.compiler.cudagraph_mark_step_begin()
                d.requires_grad_(False)
                with amp():
                    g_loss = F.softplus(-d(g(torch.randn(n, latent, device=device)))).mean()
                g_opt.zero_grad(set_to_none=True)
                g_loss.backward()
                g_opt.step()
                d.requires_grad_(True)
            else:
                # pytorch/examples dcgan/main.py's order, with logits and BCEWithLogitsLoss for its
                # sigmoid and BCELoss: D on the real batch (backward), D on the detached fake (backward),
                # D's step; then G's step through D (not frozen) on that same fake batch
                d.zero_grad(set_to_none=True)
                label = torch.full((n,), 1.0, device=device)
                with amp():
                    output = d(real).view(-1)
                    err_d_real = criterion(output, label)
                err_d_real.backward()
                d_x = output.detach().sigmoid().mean().item()
                with amp():
                    fake = g(torch.randn(n, latent, device=device))
                label.fill_(0.0)
                with amp():
                    output = d(fake.detach()).view(-1)
                    err_d_fake = criterion(output, label)
                err_d_fake.backward()
                d_g_z1 = output.detach().sigmoid().mean().item()
                err_d = err_d_real + err_d_fake
                d_opt.step()
                g.zero_grad(set_to_none=True)
                label.fill_(1.0)
                with amp():
                    output = d(fake).view(-1)
                    err_g = criterion(output, label)
                err_g.backward()
                d_g_z2 = output.detach().sigmoid().mean().item()
                g_opt.step()
                # the script prints this line every batch; it is formatted here, not printed
                _ = "[%d] Loss_D: %.4f Loss_G: %.4f D(x): %.4f D(G(z)): %.4f / %.4f" % (
                    step, err_d.item(), err_g.item(), d_x, d_g_z1, d_g_z2)
            step += 1
            if step == warmup:
                start = _now(device)[0]
            elif step == total:
                return start - begin, _now(device)[0] - start


def gpu_model_args(setting: GpuSetting, cell: Cell, max_g_steps: int) -> dict[str, Any]:
    args: dict[str, Any] = {**setting.nets, "max_g_steps": max_g_steps}
    if cell.variant != "eager":
        args.update(compile=True, compile_options=COMPILE_VARIANTS[cell.variant] or None)
    return args


def gpu_cli_config(setting: GpuSetting, cell: Cell, run_dir: Path, max_g_steps: int,
                   overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """``lit-gans fit`` with the CSV logger (as the CPU mode's ``default``), on the device and at the
    precision of ``cell``, with the trainer settings ``overrides`` on top. The metrics callback is kept but given
    no metrics: its end-of-run evaluation falls outside the timed window and would only spend the slot's time."""
    return {
        "seed_everything": SEED,
        "trainer": {
            "default_root_dir": str(run_dir), "limit_val_batches": 0, "num_sanity_val_steps": 0,
            "accelerator": "gpu" if setting.device.type == "cuda" else "cpu", "devices": 1, "precision": cell.precision,
            "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": str(run_dir)}},
            **(overrides or {}),
        },
        "model": {"class_path": f"{FAMILY.__module__}.{FAMILY.__qualname__}",
                  "init_args": gpu_model_args(setting, cell, max_g_steps)},
        "data": {"class_path": RANDOM_IMAGES_PATH, "init_args": setting.data_args},
        "metrics": {"metrics": []},
    }


def gpu_build_suite(setting: GpuSetting, cell: Cell, root: Path, max_g_steps: int,
                    overrides: dict[str, Any] | None = None):
    """``overrides``: trainer settings over the default way's (``bench/progress_bar_cost.py``)."""
    if cell.way == "bare":
        trainer = L.Trainer(
            accelerator="gpu" if setting.device.type == "cuda" else "cpu", devices=1, precision=cell.precision,
            max_epochs=-1, limit_val_batches=0, num_sanity_val_steps=0, logger=False, enable_progress_bar=False,
            enable_checkpointing=False, enable_model_summary=False, callbacks=[],
        )
        torch.manual_seed(SEED)
        model = FAMILY(data_shape=setting.dm().data_shape, **gpu_model_args(setting, cell, max_g_steps))
        return trainer, model, setting.dm()
    from lit_gans.cli import LitGansCLI

    run_dir = Path(tempfile.mkdtemp(dir=root))
    cli = LitGansCLI(args=gpu_cli_config(setting, cell, run_dir, max_g_steps, overrides), run=False)
    return cli.trainer, cli.model, cli.datamodule


def gpu_suite(setting: GpuSetting, cell: Cell, root: Path, overrides: dict[str, Any] | None = None) -> tuple[float, float]:
    """As ``gpu_plain``, for the family under ``L.Trainer`` (``bare``) or as ``lit-gans fit`` builds it (``default``,
    with the trainer settings ``overrides`` on top)."""
    begin = _now(setting.device)[0]
    warmup = setting.warmup if cell.variant == "eager" else setting.compile_warmup
    total = warmup + setting.steps
    trainer, model, dm = gpu_build_suite(setting, cell, root, total, overrides)
    clock = Clock(warmup, total)
    trainer.callbacks.insert(0, clock)
    trainer.fit(model, datamodule=dm)
    start, end = clock.stamps[warmup][0], clock.stamps[total][0]
    return start - begin, end - start


def suite_compile_support() -> str | None:
    """None when the family takes ``compile=True`` and ``compile_options``; else why the compiled
    lit-gans rows are unavailable."""
    for options in (None, {"mode": "reduce-overhead"}):
        try:
            FAMILY(data_shape=(3, 16, 16), g_width=8, d_width=8, compile=True, compile_options=options)
        except Exception as err:  # TypeError for an unknown argument, ConfigError for a refused value
            return f"{FAMILY.__name__}(compile=True, compile_options={options}) is refused: {type(err).__name__}: " + (
                str(err).splitlines() or [""])[0]
    return None


def gpu_check_same_start(setting: GpuSetting, root: Path) -> None:
    """The plain loops and the suite (built directly and by the CLI) start from the same weights."""
    torch.manual_seed(SEED)
    g, d = build_networks("dcgan", setting.latent_dim, setting.dm().data_shape, g_width=setting.width, d_width=setting.width)
    for way in ("bare", "default"):
        model = gpu_build_suite(setting, Cell("32-true", "eager", way), root, 1)[1]
        for ours, theirs in ((model.generator, g), (model.discriminator, d)):
            for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
                if not torch.equal(a, b):
                    raise AssertionError(f"GPU mode: initial {name} differs between the suite ({way}) and the plain loop")


def gpu_main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(f"bench/throughput.py --gpu: no CUDA device is visible to torch {torch.__version__} "
                 f"(CUDA build {torch.version.cuda}); run it on a GPU machine, or check the code path on a CPU "
                 "with --gpu --device cpu --tiny")
    ways = args.ways.split(",") if args.ways else list(GPU_WAYS)
    if unknown := set(ways) - set(GPU_WAYS):
        parser.error(f"--ways {sorted(unknown)} unknown in --gpu mode; choose from {','.join(GPU_WAYS)}")
    setting = GpuSetting.tiny(device) if args.tiny else GpuSetting(device)
    if args.steps:
        setting.steps = args.steps
    if args.workers is not None:
        setting.workers = args.workers
    if args.compile_precisions is not None:
        setting.compile_precisions = tuple(p for p in args.compile_precisions.split(",") if p)
    if args.variants is not None:
        setting.variants = tuple(v for v in args.variants.split(",") if v)
    if unknown := (set(setting.compile_precisions) - set(PRECISIONS)) | (set(setting.variants) - set(COMPILE_VARIANTS)):
        parser.error(f"{sorted(unknown)} unknown; precisions: {','.join(PRECISIONS)}; variants: {','.join(COMPILE_VARIANTS)}")
    rounds = args.rounds if args.rounds is not None else (2 if args.tiny else 5)
    budget = args.budget if args.budget is not None else (None if args.tiny else 300.0)
    if args.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)

    t0 = time.perf_counter()
    unavailable = suite_compile_support() if setting.compile_precisions and setting.variants else None
    if unavailable:
        print(f"compiled lit-gans rows unavailable: {unavailable}", flush=True)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "no GPU (CPU check)"
    print(f"{gpu}: {setting.label}; up to {rounds} rounds, {setting.warmup} (compiled: {setting.compile_warmup}) "
          f"+ {setting.steps} iterations a block" + (f", new rounds until {budget:.0f} s" if budget else ""), flush=True)
    setting.dm()
    cells = gpu_cells(setting, ways, unavailable is None)
    speeds: dict[Cell, list[float | None]] = {c: [] for c in cells}
    setup_s: dict[Cell, list[float]] = {c: [] for c in cells}
    errors: dict[Cell, str] = {}
    done = 0
    with tempfile.TemporaryDirectory() as tmp:
        gpu_check_same_start(setting, Path(tmp))
        print(f"same initial weights on every side; set-up {time.perf_counter() - t0:.1f} s", flush=True)
        for r in range(rounds):
            round_start = time.perf_counter()
            order = cells[r % len(cells):] + cells[: r % len(cells)]
            for cell in order:
                if cell in errors:
                    speeds[cell].append(None)
                    continue
                if cell.variant != "eager":
                    torch._dynamo.reset()  # a fresh compilation each block, as a new run gets
                try:
                    run = gpu_plain if cell.way in ("plain", "examples") else partial(gpu_suite, root=Path(tmp))
                    before, seconds = run(setting, cell)
                except Exception as err:  # a compiled variant that breaks is reported, not fatal
                    errors[cell] = f"{type(err).__name__}: " + (str(err).strip().splitlines() or [""])[0][:300]
                    speeds[cell].append(None)
                    print(f"  round {r + 1} | {cell.name:40s} FAILED: {errors[cell]}", flush=True)
                    continue
                speeds[cell].append(setting.steps / seconds)
                setup_s[cell].append(before)
                print(f"  round {r + 1}/{rounds} | {cell.name:40s} {setting.steps / seconds:8.2f} it/s "
                      f"(set-up, compilation and warm-up {before:.1f} s)", flush=True)
            done = r + 1
            took, elapsed = time.perf_counter() - round_start, time.perf_counter() - t0
            if budget is not None and done >= 2 and done < rounds and elapsed + took > budget:
                print(f"stopping after {done} rounds: another ({took:.0f} s) would pass the {budget:.0f} s budget", flush=True)
                break
    wall = time.perf_counter() - t0
    write = device.type == "cuda" and not args.tiny and not args.steps and ways == list(GPU_WAYS)
    gpu_report(setting, cells, speeds, setup_s, errors, unavailable, done, wall, gpu, write)


def _median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def gpu_report(setting: GpuSetting, cells: list[Cell], speeds: dict[Cell, list[float | None]],
               setup_s: dict[Cell, list[float]], errors: dict[Cell, str], unavailable: str | None, rounds: int,
               wall: float, gpu: str, write: bool) -> None:
    by = {(c.row, c.way): c for c in cells}

    def ratio(cell: Cell, base: Cell | None) -> float | None:
        """Median over rounds of cell / base within each round."""
        if base is None:
            return None
        return _median([a / b if a is not None and b is not None else None for a, b in zip(speeds[cell], speeds[base])])

    summary: dict[str, dict[str, Any]] = {}
    for cell in cells:
        plain = by.get((cell.precision, "plain"))
        eager = by.get((cell.precision, cell.way)) if cell.variant != "eager" else None
        summary[cell.name] = {
            "precision": cell.precision, "variant": cell.variant, "way": cell.way,
            "it_per_s": _median(speeds[cell]), "it_per_s_rounds": speeds[cell],
            "ratio_to_eager_plain": ratio(cell, plain) if cell != plain else 1.0,
            "speedup_over_eager_same_way": ratio(cell, eager),
            "setup_compile_warmup_s": setup_s[cell], "error": errors.get(cell),
        }

    def cell_text(row: str, way: str) -> str:
        cell = by.get((row, way))
        if cell is None:
            variant = row.partition(" + ")[2]
            if unavailable and variant and way in COMPILED_WAYS.get(variant, ()):
                return "unavailable"
            return "n/a"
        if cell in errors and not any(v is not None for v in speeds[cell]):
            return "failed"
        s = summary[cell.name]
        text = f"{s['it_per_s']:.3g}"
        if way != "plain" or cell.variant != "eager":
            text += f" ({s['ratio_to_eager_plain']:.2f}x)"
        return text

    rows_seen = list(dict.fromkeys(c.row for c in cells))
    for p in setting.compile_precisions:  # compiled rows stay in the table when the suite could not take part
        for v in setting.variants:
            if f"{p} + {v}" not in rows_seen:
                rows_seen.append(f"{p} + {v}")
    header = ["precision", "plain: hand-written loop, same algorithm", "examples: pytorch/examples dcgan/main.py loop",
              "lit-gans DCGAN, bare Trainer", "lit-gans, progress bar + CSV logger", "target"]
    table = []
    for row in rows_seen:
        cells_row = [cell_text(row, w) for w in GPU_WAYS]
        if " + " not in row:
            key, goal, what = "ratio_to_eager_plain", 0.95, ">= 0.95x"
        else:
            key, goal, what = "speedup_over_eager_same_way", 1.3, ">= 1.3x over eager"
        verdicts = []
        for way in ("bare", "default"):
            r = summary.get(f"{row} | {way}", {}).get(key)
            verdicts.append(f"{way} {'n/a' if r is None else 'met' if r >= goal else 'NOT met'}")
        target = f"{what}: " + ", ".join(verdicts)
        table.append([row, *cells_row, target])
    speedup_header = ["compiled row", "plain", "lit-gans bare", "lit-gans default", "compile + warm-up s (plain, bare, default)"]
    speedup_rows = []
    for row in rows_seen:
        if " + " not in row:
            continue
        line: list[Any] = [row]
        for way in ("plain", "bare", "default"):
            cell = by.get((row, way))
            line.append(summary[cell.name]["speedup_over_eager_same_way"] if cell else None)
        line.append(", ".join(f"{statistics.median(setup_s[by[(row, w)]]):.0f}" if (row, w) in by and setup_s[by[(row, w)]]
                              else "n/a" for w in ("plain", "bare", "default")))
        speedup_rows.append(line)
    flags = (f"cudnn.benchmark {torch.backends.cudnn.benchmark}, cudnn.allow_tf32 {torch.backends.cudnn.allow_tf32}, "
             f"matmul.allow_tf32 {torch.backends.cuda.matmul.allow_tf32}")
    body = [
        f"Machine: {machine()}; device {gpu}; lightning {L.__version__}; {flags}.",
        f"Setting: {setting.label}. {rounds} interleaved rounds; a block is {setting.warmup} untimed (compiled: "
        f"{setting.compile_warmup}) + {setting.steps} timed generator iterations. Total wall time {wall:.0f} s.",
        "",
        "Generator iterations per second, median over rounds (ratio to `plain` of the same precision, eager, "
        "within each round, then the median):",
        "",
        *markdown_table(header, table),
        "",
        *(["Speed-up of compilation: compiled / eager of the same way and precision (median over rounds), and "
           "the seconds before the timed window (set-up, compilation, warm-up; median):", "",
           *markdown_table(speedup_header, speedup_rows), ""] if speedup_rows else []),
        "plain: a hand-written loop of the suite's algorithm (one D step, then one G step on a fresh fake batch "
        "with D frozen; non-saturating BCE with logits; Adam 2e-4, betas (0.5, 0.999)); examples: the loop of "
        "pytorch/examples dcgan/main.py (one fake batch per iteration reused by the G step, D not frozen, "
        "per-step .item() reads), a slightly different algorithm; bare: the family under L.Trainer alone; "
        "default: with the suite's progress bar, its callbacks and a CSVLogger. bf16-mixed: torch.autocast to "
        "bfloat16 (Lightning's plugin on the suite's side). Compiled rows: torch.compile of G and D (plain) and "
        "the family's compile=True with compile_options (lit-gans); reduce-overhead uses CUDA graphs.",
    ]
    if unavailable:
        body += ["", f"Compiled lit-gans rows unavailable: {unavailable}"]
    for cell, message in errors.items():
        body += ["", f"{cell.name} failed: {message}"]
    body += ["", "Per round (it/s):", ""]
    for cell in cells:
        body.append(f"- {cell.name}: " + ", ".join("failed" if v is None else f"{v:.3g}" for v in speeds[cell]))
    if write:
        write_results("throughput_gpu", "Training throughput on a GPU: the suite against hand-written loops", body, {
            "machine": machine(), "gpu": gpu, "lightning": L.__version__, "flags": flags, "setting": setting.label,
            "sizes": {k: getattr(setting, k) for k in ("image_size", "batch_size", "latent_dim", "width", "n_images",
                                                       "workers", "steps", "warmup", "compile_warmup")},
            "rounds": rounds, "wall_seconds": wall, "suite_compile_unavailable": unavailable, "cells": summary,
        })
    else:
        print("\n".join(body))
    print(f"total wall time {wall:.0f} s")


if __name__ == "__main__":
    main()
