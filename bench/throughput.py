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
import logging
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, markdown_table, write_results  # noqa: E402
from datamodules import DigitsDataModule, GANDataModule, Toy2DDataModule  # noqa: E402
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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=sorted(SETTINGS), default=None, help="one setting (not written)")
    parser.add_argument("--ways", default=",".join(WAYS), help="comma-separated subset of " + ",".join(WAYS))
    parser.add_argument("--steps", type=int, default=None, help="override timed steps per block (not written)")
    args = parser.parse_args()
    ways = args.ways.split(",")
    if unknown := set(ways) - set(WAYS):
        parser.error(f"--ways {sorted(unknown)} unknown; choose from {','.join(WAYS)}")

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
            results.append(measure(setting, ways, args.rounds, Path(tmp), device))
    wall = time.perf_counter() - t0
    report(results, ways, args.rounds, wall, write=args.only is None and ways == list(WAYS) and not args.steps)


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


if __name__ == "__main__":
    main()
