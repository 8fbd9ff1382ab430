"""Benchmark: mode coverage and sample quality on the 2-D ring and grid (PacGAN's protocol, Lin et al.
2018, sec. 5.1), for the plain GAN recipe and the suite's best toy recipe, over several seeds.

Each run trains through the suite from a committed config (``LitGansCLI``, the code path of
``lit-gans fit --config ...``) in its own single-threaded process, then draws 2,500 samples (the EMA
generator when the recipe has one) and scores them with ``lit_gans.metrics.mode_coverage``: modes
covered, % high-quality samples (within 3 std of a mode) and reverse KL of the high-quality mode
histogram to uniform. CPU time is the run process's user + system time (imports included); wall time
depends on what else the machine runs.

    python bench/toy_quality.py [--seeds 0 1 2] [--jobs 2] [--datasets ring grid] [--recipes gan best] [--keep]
    python bench/toy_quality.py --merge a.json b.json   # one report from separate calls

Writes bench/results/toy_quality.md and .json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

# name -> (label, config per dataset, extra command-line overrides)
RECIPES = {
    "gan": (
        "GAN baseline (configs/gan, shortened to 18,000 G iterations)",
        "configs/gan/{dataset}.yaml",
        ["--model.init_args.max_g_steps", "18000"],
    ),
    "best": ("GAN + lr 5e-4 + cosine LR decay + EMA (configs/gan/*_ema)", "configs/gan/{dataset}_ema.yaml", []),
    "deligan": ("DeLiGAN: that recipe with a learnt 50-component mixture latent and R1 scaled to the mode width (configs/deligan)", "configs/deligan/{dataset}.yaml", []),
}
# PacGAN (Lin et al. 2018), Table 1, PacGAN4 row: modes, % high-quality samples, reverse KL
PUBLISHED = {"ring": (7.8, 95.9, 0.07), "grid": (24.8, 93.6, 0.04)}
N_MODES = {"ring": 8, "grid": 25}
N_EVAL = 2500
RESULTS_JSON = HERE / "results" / "toy_quality.json"


def worker(config: str, seed: int, overrides: list[str]) -> None:
    """Train one run through the CLI and print its scores as one JSON line."""
    import torch

    torch.set_num_threads(1)
    from lit_gans.cli import LitGansCLI
    from lit_gans.metrics import mode_coverage

    with tempfile.TemporaryDirectory() as root:
        start = time.process_time()
        cli = LitGansCLI(args=[
            "fit", "--config", str(REPO / config), "--seed_everything", str(seed),
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--trainer.default_root_dir", root,
            "--trainer.accelerator", "cpu", *overrides,
        ])
        train_cpu = time.process_time() - start
    model, dm = cli.model, cli.datamodule
    torch.manual_seed(10_000 + seed)
    stats = mode_coverage(model.sample(N_EVAL), dm.modes, dm.std)
    print("RESULT " + json.dumps({**stats, "g_steps": model.g_step, "train_cpu_s": train_cpu,
                                  "ema": model.ema_generator is not None}), flush=True)


def launch(config: str, seed: int, overrides: list[str], log: Path) -> subprocess.Popen:
    """One run in a child process; its output goes to a file (a full pipe would block it)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
           "WANDB_MODE": "offline", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, __file__, "--worker", "--config", config, "--seed", str(seed), "--", *overrides]
    with open(log, "w") as out:
        return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, text=True)


def true_samples(dataset: str) -> dict[str, float]:
    """The scores of N_EVAL samples of the mixture itself: the ceiling of every column."""
    from datamodules import Toy2DDataModule
    from lit_gans.metrics import mode_coverage

    dm = Toy2DDataModule(name=dataset, n_samples=N_EVAL, seed=0)
    dm.setup("fit")
    return mode_coverage(dm.train_set.tensors[0], dm.modes, dm.std)


def parse(log: Path) -> dict:
    lines = log.read_text().splitlines()
    for line in lines:
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = [line for line in lines if line.strip()][-3:]
    return {"failed": " / ".join(tail)[-300:]}


def run_all(jobs: list[tuple[str, str, int]], parallel: int, logs: Path) -> list[dict]:
    """Run (recipe, dataset, seed) jobs, ``parallel`` at a time; CPU time from each child's rusage."""
    pending, running, results = list(jobs), {}, []
    while pending or running:
        while pending and len(running) < parallel:
            recipe, dataset, seed = pending.pop(0)
            _, config, overrides = RECIPES[recipe]
            config = config.format(dataset=dataset)
            log = logs / f"{recipe}_{dataset}_{seed}.log"
            proc = launch(config, seed, overrides, log)
            info = {"recipe": recipe, "dataset": dataset, "seed": seed, "config": config}
            running[proc.pid] = (time.time(), log, info)
            print(f"started {recipe} {dataset} seed {seed} ({config}); log {log}", flush=True)
        pid, status, rusage = os.wait4(-1, 0)  # reaps the child, so the Popen object is not used again
        if pid not in running:
            continue
        started, log, info = running.pop(pid)
        result = {**info, **parse(log), "wall_s": time.time() - started, "cpu_s": rusage.ru_utime + rusage.ru_stime}
        results.append(result)
        print(json.dumps(result), flush=True)
    return results


def mean_se(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    se = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n) if n > 1 else float("nan")
    return mean, se


def pm(values: list[float], digits: int) -> str:
    mean, se = mean_se(values)
    return f"{mean:.{digits}f} ± {se:.{digits}f}" if math.isfinite(se) else f"{mean:.{digits}f}"


def report(results: list[dict], seeds: list[int], parallel: int, note: str = "") -> None:
    from bench.common import machine, markdown_table, write_results

    summary_rows, run_rows, summary, verdicts = [], [], {}, []
    for dataset in ("ring", "grid"):
        for recipe, (label, _, _) in RECIPES.items():
            runs = [r for r in results if r["recipe"] == recipe and r["dataset"] == dataset]
            if not runs:
                continue
            ok = [r for r in runs if "failed" not in r]
            for r in sorted(runs, key=lambda r: r["seed"]):
                run_rows.append([dataset, recipe, r["seed"], r.get("modes", "failed"),
                                 f"{100 * r['high_quality']:.1f}" if "high_quality" in r else "n/a",
                                 f"{r['reverse_kl']:.3f}" if "reverse_kl" in r else "n/a",
                                 f"{r['spread']:.2f}" if "spread" in r else "n/a",
                                 r.get("g_steps", "n/a"), f"{r['cpu_s'] / 60:.2f}", f"{r['wall_s'] / 60:.2f}"])
            if not ok:
                continue
            all_modes = sum(r["modes"] == N_MODES[dataset] for r in ok)
            kls = [r["reverse_kl"] for r in ok if math.isfinite(r["reverse_kl"])]
            spreads = [r["spread"] for r in ok if math.isfinite(r.get("spread", math.nan))]
            summary_rows.append([
                dataset, label, f"{len(ok)}/{len(runs)}",
                pm([float(r["modes"]) for r in ok], 1) + f" / {N_MODES[dataset]}", f"{all_modes}/{len(ok)}",
                pm([100 * r["high_quality"] for r in ok], 1), pm(kls, 3) if kls else "n/a",
                pm(spreads, 2) if spreads else "n/a", pm([r["cpu_s"] / 60 for r in ok], 2), pm([r["wall_s"] / 60 for r in ok], 2),
            ])
            summary[f"{dataset}/{recipe}"] = {
                "label": label, "runs": len(runs), "ok": len(ok), "runs_with_all_modes": all_modes,
                **{k: mean_se(v) for k, v in {
                    "modes": [float(r["modes"]) for r in ok],
                    "high_quality_pct": [100 * r["high_quality"] for r in ok],
                    "reverse_kl": kls or [float("nan")],
                    "spread": spreads or [float("nan")],
                    "cpu_min": [r["cpu_s"] / 60 for r in ok],
                    "wall_min": [r["wall_s"] / 60 for r in ok],
                }.items()},
            }
        met = [s["label"] for k, s in summary.items() if k.startswith(dataset + "/")
               and s["runs_with_all_modes"] == s["ok"] == s["runs"] and s["high_quality_pct"][0] >= 95.0]
        verdicts.append(f"{dataset}: " + (", ".join(met) if met else "no recipe"))
        modes, hq, kl = PUBLISHED[dataset]
        summary_rows.append([dataset, "PacGAN4, published (Lin et al. 2018, Table 1; 400 epochs)", "-",
                             f"{modes} / {N_MODES[dataset]}", "-", f"{hq}", f"{kl}", "-", "-", "-"])
        true = true_samples(dataset)
        summary_rows.append([dataset, f"true samples ({N_EVAL:,} from the mixture, the ceiling)", "-",
                             f"{true['modes']} / {N_MODES[dataset]}", "-", f"{100 * true['high_quality']:.1f}",
                             f"{true['reverse_kl']:.3f}", f"{true['spread']:.2f}", "-", "-"])

    body = [
        f"Machine: {machine(threads=1)}; " + (f"{parallel} run(s) at a time. " if parallel else "")
        + f"Seeds {seeds}. "
        f"Each run: `lit-gans fit` from the config in a fresh single-threaded process, then {N_EVAL:,} "
        "samples (EMA generator when the recipe has one) scored with PacGAN's definitions "
        "(`lit_gans.metrics.mode_coverage`: high quality = within 3 std of the nearest mode; a mode is "
        "covered by >= 1 high-quality sample; reverse KL of the high-quality mode histogram to uniform). "
        "Spread, beyond PacGAN: the root-mean-square offset of the high-quality samples from their mode per "
        "axis, in units of the data's std (true samples: their row below); less means modes narrower than "
        "the data's, which the high-quality fraction rewards.",
        "",
        "Mean ± standard error over seeds. CPU minutes are the run process's user + system time, imports "
        "included; wall minutes depend on the other load on the machine.",
        "",
        *markdown_table(["data", "recipe", "runs ok", "modes", "runs with all modes", "% high quality",
                         "reverse KL", "spread (std)", "CPU min", "wall min"], summary_rows),
        "",
        "Target (all modes in every run and >= 95 % high-quality samples on average, i.e. beating "
        "PacGAN4's published figures): " + "; ".join(verdicts) + ".",
        *([""] + [note] if note else []),
        "",
        "Published row: PacGAN4 of Lin et al. (2018), Table 1 (mean of their runs, 400,000 generator "
        "iterations). Other rows of that table and VEEGAN's Table 1 are left out: their exact numbers could "
        "not be confirmed from a source available here.",
        "",
        "## Runs",
        "",
        *markdown_table(["data", "recipe", "seed", "modes", "% HQ", "reverse KL", "spread", "G iterations", "CPU min",
                         "wall min"], run_rows),
        "",
        "Reproduce: `python bench/toy_quality.py --seeds " + " ".join(map(str, seeds)) + f" --jobs {parallel or 2}`.",
    ]
    write_results("toy_quality", "Mode coverage and sample quality on the 2-D ring and grid", body,
                  {"machine": machine(threads=1), "seeds": seeds, "parallel_runs": parallel, "n_eval": N_EVAL,
                   "recipes": {k: {"label": v[0], "config": v[1], "overrides": v[2]} for k, v in RECIPES.items()},
                   "published_pacgan4": PUBLISHED, "summary": summary, "runs": results})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (each one thread)")
    parser.add_argument("--datasets", nargs="+", default=["ring", "grid"], choices=["ring", "grid"])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--keep", action="store_true",
                        help="keep the runs already in bench/results/toy_quality.json that this call does not redo")
    parser.add_argument("--merge", nargs="+", metavar="JSON",
                        help="no training: write the report from the runs stored in these result files")
    parser.add_argument("--note", default="", help="a line added to the report (e.g. how the runs were scheduled)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.config, args.seed, args.overrides)
    if args.jobs < 1:
        raise SystemExit(f"--jobs {args.jobs} must be at least 1")
    if args.merge:
        runs = [r for path in args.merge for r in json.loads(Path(path).read_text())["runs"]]
        return report(runs, sorted({r["seed"] for r in runs}), 0, args.note)  # scheduling: see --note
    jobs = [(r, d, s) for d in args.datasets for r in args.recipes for s in args.seeds]
    # longest first, so that two parallel slots finish together
    jobs.sort(key=lambda job: (job[0] != "best", job[1] != "grid"))
    with tempfile.TemporaryDirectory(prefix="toy_quality_") as logs:
        results = run_all(jobs, args.jobs, Path(logs))
    previous = RESULTS_JSON.exists() and args.keep and json.loads(RESULTS_JSON.read_text()).get("runs", [])
    if previous:
        done = {(r["recipe"], r["dataset"], r["seed"]) for r in results}
        results = [r for r in previous if (r["recipe"], r["dataset"], r["seed"]) not in done] + results
        args.seeds = sorted({r["seed"] for r in results})
    report(results, args.seeds, args.jobs, args.note)


if __name__ == "__main__":
    main()
