"""Benchmark: time to quality — domain FID against wall-clock minutes of training, for DCGAN,
WGAN-GP and SNGAN on the bundled digits (16 px) and Fashion-MNIST (32 px).

Each family keeps its paper defaults (loss, n_critic, optimiser, penalty: the family classes'
defaults) with CPU-sized networks (width 32 in G and D). Training runs in one thread for a budget of
process CPU time (equal to wall-clock time on an unloaded core, and unaffected by other load on a
shared machine); every ``--every`` seconds of training the generator (no EMA) is evaluated with
``ModelEvaluation`` (FID and KID in the shipped domain network's feature space, 1,000 samples
against up to 2,000 real images). Evaluation time is not counted as training time.

    python bench/time_to_quality.py [--minutes 3] [--every 30] [--jobs 2]

Writes bench/results/time_to_quality.md and .json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FAMILIES = ("DCGAN", "WGANGP", "SNGAN")
DATASETS = {"digits": ("DigitsDataModule", {"image_size": 16, "batch_size": 64}),
            "fashion_mnist": ("FashionMNISTDataModule", {"image_size": 32, "fit": "pad", "batch_size": 64})}


def run(family: str, dataset: str, minutes: float, every: float, seed: int) -> dict:
    """One training run in this process; returns the curve."""
    import lightning as L
    import torch

    import datamodules
    from lit_gans import families
    from lit_gans.metrics import ModelEvaluation

    torch.set_num_threads(1)
    L.seed_everything(seed, verbose=False)
    name, kwargs = DATASETS[dataset]
    dm = getattr(datamodules, name)(**kwargs)
    extra = {"architecture": "resnet"} if family == "SNGAN" else {}
    model = getattr(families, family)(data_shape=dm.data_shape, g_width=32, d_width=32, **extra)
    evaluation = ModelEvaluation(dm, metrics=["fid", "kid", "classifier"], n_samples=1000, n_real=2000)
    curve: list[dict] = []

    class Clock(L.Callback):
        def __init__(self):
            self.trained = 0.0
            self.started = None
            self.next_mark = 0.0

        def on_train_batch_start(self, trainer, module, *args):
            self.started = time.process_time()

        def on_train_batch_end(self, trainer, module, *args):
            self.trained += time.process_time() - self.started
            if self.trained >= self.next_mark:
                evaluation.prepare(module.device)
                values = evaluation.evaluate(module, seed=0)
                curve.append({"minutes": self.trained / 60, "g_step": module.g_step, **values})
                print(family, dataset, f"{self.trained / 60:.2f} min", module.g_step, {k: round(v, 3) for k, v in values.items()}, flush=True)
                self.next_mark += every
            if self.trained >= minutes * 60:
                trainer.should_stop = True

    trainer = L.Trainer(accelerator="auto", devices=1, max_epochs=-1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        num_sanity_val_steps=0, callbacks=[Clock()])
    trainer.fit(model, dm)
    return {"family": family, "dataset": dataset, "feature": evaluation.feature, "curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="training budget per run (CPU minutes, one thread)")
    parser.add_argument("--every", type=float, default=30.0, help="seconds of training between evaluations")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (one thread each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--report", default=None, help="rebuild the table from a results .json instead of training")
    parser.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(run(*args.child, args.minutes, args.every, args.seed)))
        return

    def child(family: str, dataset: str) -> dict:
        command = [sys.executable, __file__, "--child", family, dataset, "--minutes", str(args.minutes),
                   "--every", str(args.every), "--seed", str(args.seed)]
        out = subprocess.run(command, capture_output=True, text=True, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
        lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            return {"family": family, "dataset": dataset, "failed": out.stderr.strip().splitlines()[-1:]}
        return json.loads(lines[-1][len("RESULT "):])

    if args.report:
        results = json.loads(Path(args.report).read_text())["results"]
    else:
        jobs = [(f, d) for d in args.datasets.split(",") for f in args.families.split(",")]
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda job: child(*job), jobs))
    report(results, args)


def report(results: list[dict], args: argparse.Namespace) -> None:
    from bench.common import machine, markdown_table, write_results

    marks = [m for m in (0.5, 1, 2, 3, 5, 10) if m <= args.minutes + 1e-9]
    rows = []
    for r in results:
        if "failed" in r:
            rows.append([r["dataset"], r["family"], *["failed"] * (len(marks) + 3)])
            continue
        curve, key = r["curve"], f"{r['feature']}/fid"

        def at(minute: float) -> float | None:
            # the first evaluation once that much training time has passed (evaluations come every
            # --every seconds, a batch or so after each mark)
            after = [p for p in curve if p["minutes"] >= minute - 0.02]
            return after[0][key] if after else None

        best = min(curve, key=lambda p: p[key])
        rows.append([r["dataset"], r["family"], curve[0][key], *[at(m) for m in marks], best[key], curve[-1]["g_step"]])
    header = ["dataset", "family", "FID at start", *[f"FID at {m:g} min" for m in marks], "best FID", "g-steps in budget"]
    body = [
        f"Machine: {machine(1)}; {args.jobs} runs in parallel.",
        f"FID in the shipped domain classifier's feature space (digits / fashion_mnist network; not comparable with "
        f"Inception FIDs), 1,000 generated vs up to 2,000 real images, raw generator (no EMA), seed {args.seed}. "
        f"Budget {args.minutes:g} CPU minutes of training per run (one thread; wall-clock minutes on an unloaded core); "
        "evaluation time excluded. Families keep their paper defaults (DCGAN: non-saturating, Adam 2e-4; WGAN-GP: "
        "n_critic 5, lambda 10, Adam 1e-4 (0, 0.9); SNGAN: ResNet, hinge, spectral norm, n_critic 5, Adam 2e-4 (0, 0.9)) "
        "with width 32. Lower is better.",
        "",
        *markdown_table(header, rows),
    ]
    write_results("time_to_quality", "Time to quality: domain FID against training minutes (one CPU thread)", body,
                  {"machine": machine(1), "minutes": args.minutes, "every_seconds": args.every, "results": results})


if __name__ == "__main__":
    main()
