"""Benchmark: the cost of the suite's DDP setting (DDP with unused-parameter detection) on CPU/gloo.

For WGAN-GP (MLP, 2-D ring, gradient penalty included) and DCGAN (32 px, batch 64), it times
generator iterations in one process and in two DDP processes with the same per-process batch
(one thread each), and reports the per-iteration overhead of DDP. It also checks that plain DDP
without detection fails for these GANs (Lightning issue 20328), which is why lit-gans turns
detection on.

    python bench/ddp_overhead.py [--steps 60]

Writes bench/results/ddp_overhead.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
WARMUP = 5


def worker(args: argparse.Namespace) -> None:
    import lightning as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from datamodules import GANDataModule, Toy2DDataModule
    from lit_gans.families import DCGAN, WGANGP

    torch.set_num_threads(1)
    L.seed_everything(0)
    if args.model == "wgangp":
        dm = Toy2DDataModule(name="ring", n_samples=50_000, batch_size=256)
        model = WGANGP(data_shape=dm.data_shape, architecture="mlp", max_g_steps=WARMUP + args.steps)
    else:

        class Images(GANDataModule):
            data_shape = (3, 32, 32)

            def make_datasets(self):
                x = torch.rand(4096, 3, 32, 32) * 2 - 1
                data = TensorDataset(x, torch.zeros(4096, dtype=torch.long))
                return data, data

        dm = Images(batch_size=64)
        model = DCGAN(data_shape=dm.data_shape, max_g_steps=WARMUP + args.steps)

    times: dict[int, float] = {}

    class Clock(L.Callback):
        def on_train_batch_end(self, trainer, module, *rest):
            if module.g_step in (WARMUP, WARMUP + args.steps) and module.g_step not in times:
                times[module.g_step] = time.perf_counter()

    strategy = "auto" if args.devices == 1 else args.strategy
    trainer = L.Trainer(
        accelerator="cpu", devices=args.devices, strategy=strategy, max_epochs=-1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=0, callbacks=[Clock()],
    )
    if args.plain_ddp:
        # bypass lit-gans' fix to show what plain DDP does
        model.setup = lambda stage: None
    trainer.fit(model, dm)
    if trainer.global_rank == 0:
        seconds = times[WARMUP + args.steps] - times[WARMUP]
        print("RESULT " + json.dumps({"seconds_per_g_step": seconds / args.steps}))


def run(model: str, devices: int, steps: int, plain_ddp: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--worker", "--model", model, "--devices", str(devices), "--steps", str(steps)]
    if plain_ddp:
        cmd.append("--plain-ddp")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    if "not used in producing the loss" in out.stderr:
        return {"failed": "parameters not used in producing the loss (Lightning issue 20328)"}
    reason = [line for line in out.stderr.splitlines() if "Error" in line or "error" in line]
    return {"failed": (reason[-1] if reason else out.stderr[-300:]).strip()[:200]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--model", default="wgangp")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--strategy", default="ddp")
    parser.add_argument("--plain-ddp", action="store_true")
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    rows = []
    for model, label in (("wgangp", "WGAN-GP, MLP on 2-D ring, batch 256/process"), ("dcgan", "DCGAN 32 px, batch 64/process")):
        single = run(model, 1, args.steps)
        ddp = run(model, 2, args.steps)
        plain = run(model, 2, 3, plain_ddp=True)
        row = {
            "setting": label,
            "1 process s/g-step": single.get("seconds_per_g_step"),
            "2-process DDP s/g-step": ddp.get("seconds_per_g_step"),
            "plain DDP (no detection)": "works" if "seconds_per_g_step" in plain else "fails: " + plain["failed"],
        }
        if row["1 process s/g-step"] and row["2-process DDP s/g-step"]:
            row["DDP overhead"] = row["2-process DDP s/g-step"] / row["1 process s/g-step"] - 1
        rows.append(row)
        print(row, flush=True)

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, no GPU, gloo backend, 1 thread per process"
    write_results(rows, machine, args.steps)


def write_results(rows: list[dict], machine: str, steps: int) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ddp_overhead.json").write_text(json.dumps({"machine": machine, "steps": steps, "rows": rows}, indent=2))
    lines = [
        "# DDP overhead of the suite's setting (find_unused_parameters=True)",
        "",
        f"Machine: {machine}. {steps} generator iterations timed after {WARMUP} of warm-up; same batch per process.",
        "Overhead = time per generator iteration with 2 DDP processes / with 1 process - 1 (0 % is perfect scaling).",
        "",
        "| setting | 1 process (s/g-step) | 2-process DDP (s/g-step) | DDP overhead | plain DDP without detection |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else "n/a"
        overhead = f"{100 * r['DDP overhead']:+.1f} %" if "DDP overhead" in r else "n/a"
        lines.append(f"| {r['setting']} | {fmt(r['1 process s/g-step'])} | {fmt(r['2-process DDP s/g-step'])} | {overhead} | {r['plain DDP (no detection)']} |")
    (RESULTS / "ddp_overhead.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
