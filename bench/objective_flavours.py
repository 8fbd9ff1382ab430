"""Benchmark: the objective flavours (GMMN, MMD GAN, Cramér GAN, McGAN, Fisher GAN, Relaxed WGAN, EBGAN,
BEGAN, MAGAN) beside WGAN-GP and the GAN baseline, on the 2-D ring and grid and on digits, at equal CPU minutes.

Each family trains from its own config (``configs/<family>/{ring,grid,digits}.yaml``: its objective,
networks, optimisers, critic steps, EMA) through the real CLI in a subprocess (``runs.timed_fit``) for
the same wall time with one thread (``trainer.max_time``; the configs' ``max_g_steps`` is lifted to 10
million, so learning-rate schedules spread over ``max_g_steps``, e.g. ``CosineAnnealingLR`` with
``T_max: ${model.init_args.max_g_steps}``, do not act: the report names the configs that have one). The
last checkpoint is then evaluated in a fresh one-thread process (``--child CKPT``), with the final
generator (the EMA generator where the family has one: ``sample``):

- ring and grid: 2,500 samples scored with ``lit_gans.metrics.mode_coverage`` as ``bench/toy_quality.py``
  scores them (PacGAN's definitions: modes covered of 8 / 25, % high-quality samples within 3 std of a
  mode, reverse KL of their mode histogram to uniform; and the spread of the covered modes in units of
  the data's std), beside 2,500 true samples;
- digits: domain FID (``ModelEvaluation``, the shipped digits network) of 2,000 samples against all
  1,617 training images.

A config that does not exist (yet) gives a "no config" row, not a failure. After the runs, BEGAN's
convergence measure M_global and its k_t on digits (``began/m_global``, ``began/k`` in the run's CSV
log) are plotted against generator iterations to ``bench/results/began_m_global.png``.

    python bench/objective_flavours.py [--minutes 1.0] [--jobs 2] [--families gan,wgan_gp,gmmn,...] [--datasets ring,grid,digits]
    python bench/objective_flavours.py --report bench/results/objective_flavours.json [--observations FILE_OR_TEXT]

Defaults: 11 families x 3 data = 33 runs, two at a time, about 25 wall minutes on 2 CPU cores. Writes
bench/results/objective_flavours.md and .json. No published figure is put beside these rows: none of
the nine papers reports PacGAN's toy protocol or a digits domain FID.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, machine, markdown_table, write_results  # noqa: E402
from runs import ROOT, child_result, datamodule_of, evaluate_checkpoint, last_lines, run_all, saved_report, timed_fit  # noqa: E402
from toy_quality import N_EVAL, N_MODES, true_samples  # noqa: E402

FLAVOURS = ["gmmn", "mmd_gan", "cramer_gan", "mcgan", "fisher_gan", "relaxed_wgan", "ebgan", "began", "magan"]
FAMILIES = ["gan", "wgan_gp", *FLAVOURS]
DATASETS = ["ring", "grid", "digits"]
NAMES = {"gan": "GAN (baseline)", "wgan_gp": "WGAN-GP", "gmmn": "GMMN", "mmd_gan": "MMD GAN", "cramer_gan": "Cramér GAN",
         "mcgan": "McGAN", "fisher_gan": "Fisher GAN", "relaxed_wgan": "Relaxed WGAN", "ebgan": "EBGAN", "began": "BEGAN",
         "magan": "MAGAN"}
FIGURE = "began_m_global.png"


# ---------------------------------------------------------------------------------------------- the config's schedule
def config_notes(config: Path) -> dict[str, Any]:
    """What the config sets that a timed run changes: learning-rate schedules (and whether they are spread
    over ``max_g_steps``, which the timed run lifts) and where its EMA starts."""
    import yaml

    init = (yaml.safe_load(config.read_text()) or {}).get("model", {}).get("init_args", {}) or {}
    schedules = []
    for key in ("g_scheduler", "d_scheduler"):
        spec = init.get(key)
        if spec:
            name = str(spec.get("class_path", spec)).rsplit(".", 1)[-1] if isinstance(spec, dict) else str(spec)
            tied = "max_g_steps" in json.dumps(spec)
            schedules.append(f"{key[0].upper()}: {name}" + (" over max_g_steps (does not act)" if tied else ""))
    return {"schedules": schedules, "ema_decay": init.get("ema_decay"), "ema_start": init.get("ema_start", 0),
            "config_g_steps": init.get("max_g_steps")}


# ---------------------------------------------------------------------------------------------- one run
def run_one(item: tuple[str, str], args: argparse.Namespace, work: Path, lock: threading.Lock, started: float) -> dict:
    family, dataset = item
    config, run_dir = f"configs/{family}/{dataset}.yaml", work / f"{family}_{dataset}"
    result: dict[str, Any] = {"family": family, "dataset": dataset, "config": config, "run_dir": str(run_dir)}
    if not (ROOT / config).is_file():
        with lock:
            print(f"[{(time.perf_counter() - started) / 60:5.1f} min] no config {config}", flush=True)
        return {**result, "missing": True}
    result.update(config_notes(ROOT / config))
    with lock:
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] start {family} {dataset}", flush=True)
    result.update(timed_fit(config, run_dir, args.minutes, seed=args.seed))
    if result["returncode"] != 0:
        result["failed"] = last_lines(run_dir / "train.log")
    else:
        result.update(child_result(__file__, ["--child", str(run_dir / "ckpt" / "last.ckpt"), "--seed", str(args.seed),
                                              "--n-samples", str(args.n_samples), "--n-real", str(args.n_real)]))
    with lock:
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] done {family} {dataset}: "
              f"{ {k: v for k, v in result.items() if k not in ('command', 'run_dir')} }", flush=True)
    return result


def evaluate(checkpoint: Path, args: argparse.Namespace) -> dict:
    """Toys: ``mode_coverage`` of ``N_EVAL`` samples, seeded as ``bench/toy_quality.py`` seeds them; image data:
    domain FID (``runs.evaluate_checkpoint``)."""
    import torch

    from lit_gans.checkpoints import load_family
    from lit_gans.metrics import mode_coverage

    torch.set_num_threads(1)
    datamodule, _ = datamodule_of(checkpoint)
    if not hasattr(datamodule, "modes"):
        return evaluate_checkpoint(checkpoint, metrics=["fid"], n_samples=args.n_samples, n_real=args.n_real)
    model = load_family(checkpoint).eval()
    torch.manual_seed(10_000 + args.seed)
    stats = mode_coverage(model.sample(N_EVAL), datamodule.modes, datamodule.std)
    return {"g_step": model.g_step, "d_step": model.d_step, "ema": model.ema_generator is not None, **stats}


# ---------------------------------------------------------------------------------------------- BEGAN's M_global
def began_curve(run_dir: Path, figure: Path) -> dict[str, Any]:
    """BEGAN's ``began/m_global`` (and ``began/k``) from the CSV log under ``run_dir/logs``, plotted against
    generator iterations to ``figure``; the first and last values and whether M_global decreased (the mean
    of the last tenth of the logged points below that of the first tenth). ``{"note": ...}`` when there is
    no log or no M_global in it."""
    files = sorted((run_dir / "logs").rglob("metrics.csv"))
    if not files:
        return {"note": f"no metrics.csv under {run_dir / 'logs'}"}
    rows = list(csv.DictReader(files[-1].open()))
    g_of_step = {r["step"]: r["g_step"] for r in rows if r.get("step") not in (None, "") and r.get("g_step") not in (None, "")}
    points = []
    for r in rows:
        if r.get("began/m_global") in (None, ""):
            continue
        g = r.get("g_step") or g_of_step.get(r.get("step", ""))
        x = float(g) if g not in (None, "") else float(r.get("step") or len(points))
        k = float(r["began/k"]) if r.get("began/k") not in (None, "") else math.nan
        points.append((x, float(r["began/m_global"]), k))
    if not points:
        return {"note": f"{files[-1]} has no began/m_global column values"}
    points.sort()
    xs, ms, ks = zip(*points)
    tenth = max(1, len(ms) // 10)
    first, last = sum(ms[:tenth]) / tenth, sum(ms[-tenth:]) / tenth

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(xs, ms, color="tab:blue", lw=1.2, label="M_global")
    ax.set_xlabel("generator iteration")
    ax.set_ylabel("M_global", color="tab:blue")
    ax.tick_params(axis="y", labelcolor="tab:blue")
    if any(math.isfinite(k) for k in ks):
        ax2 = ax.twinx()
        ax2.plot(xs, ks, color="tab:orange", lw=1.0, label="k_t")
        ax2.set_ylabel("k_t", color="tab:orange")
        ax2.tick_params(axis="y", labelcolor="tab:orange")
    ax.set_title("BEGAN on digits: convergence measure M_global and k_t")
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=120)
    plt.close(fig)
    return {"points": len(ms), "first_g_step": xs[0], "last_g_step": xs[-1], "first": ms[0], "last": ms[-1],
            "first_tenth_mean": first, "last_tenth_mean": last, "decreased": last < first,
            "k_first": ks[0], "k_last": ks[-1], "figure": figure.name}


def began_summary(saved: dict, figure: Path) -> Optional[dict]:
    """The M_global curve of the BEGAN digits run: redrawn while its run dir exists, else what was saved."""
    run = next((r for r in saved["runs"] if r["family"] == "began" and r["dataset"] == "digits"), None)
    if run is None:
        return saved.get("began") or {"note": "no BEGAN run"}
    if run.get("missing"):
        return {"note": f"no BEGAN run ({run['config']} does not exist)"}
    if run.get("run_dir") and Path(run["run_dir"]).is_dir():
        return began_curve(Path(run["run_dir"]), figure)
    return saved.get("began") or {"note": f"no BEGAN run dir left ({run.get('run_dir')})"}


def began_lines(summary: dict) -> list[str]:
    if "note" in summary:
        return [f"BEGAN's M_global: {summary['note']}."]
    verdict = "decreased" if summary["decreased"] else "did **not** decrease"
    return [f"BEGAN's convergence measure M_global = L(x) + |γ L(x) − L(G(z))| on digits ({summary['points']} logged points, "
            f"generator iterations {summary['first_g_step']:.0f} to {summary['last_g_step']:.0f}): first {summary['first']:.4g}, "
            f"last {summary['last']:.4g}; mean of the first tenth {summary['first_tenth_mean']:.4g}, of the last tenth "
            f"{summary['last_tenth_mean']:.4g}: it {verdict}. k_t went from {summary['k_first']:.4g} to {summary['k_last']:.4g}. "
            f"Figure: `{summary['figure']}` (M_global left axis, k_t right)."]


# ---------------------------------------------------------------------------------------------- report
def _status(r: Optional[dict]) -> Optional[str]:
    """The cell of a run that gave no figures, or None."""
    if r is None:
        return "not run"
    if r.get("missing"):
        return "no config"
    return "failed" if "failed" in r else None


def toy_cell(r: Optional[dict], dataset: str) -> str:
    if _status(r):
        return _status(r)
    spread = f"{r['spread']:.2f}" if math.isfinite(r.get("spread", math.nan)) else "n/a"
    return f"{r['modes']}/{N_MODES[dataset]} · {100 * r['high_quality']:.1f} % · {spread}"


def fid_cell(r: Optional[dict]) -> str:
    if _status(r):
        return _status(r)
    return f"{r['fid']:.2f}" if r.get("fid") is not None else "n/a"


def report(saved: dict) -> None:
    s = saved["settings"]
    datasets = [d for d in DATASETS if d in s["datasets"].split(",")]
    families = [f for f in s["families"].split(",")]
    runs = {(r["family"], r["dataset"]): r for r in saved["runs"]}
    header = ["family"] + [f"{d}: modes · % HQ · spread" if d in N_MODES else f"{d}: domain FID" for d in datasets]
    summary = [[NAMES.get(f, f)] + [toy_cell(runs.get((f, d)), d) if d in N_MODES else fid_cell(runs.get((f, d)))
                                    for d in datasets] for f in families]
    toys = [d for d in datasets if d in N_MODES]
    if toys:
        true = {d: true_samples(d) for d in toys}
        summary.append([f"true samples ({N_EVAL:,} from the mixture)"]
                       + [toy_cell(true[d], d) if d in N_MODES else "-" for d in datasets])
    detail, notes, failures = [], [], []
    for f in families:
        for d in datasets:
            r = runs.get((f, d))
            if r is None:
                continue
            if r.get("missing"):
                detail.append([NAMES.get(f, f), d, "no config"] + [""] * 9)
                continue
            toy = d in N_MODES
            detail.append([NAMES.get(f, f), d, "failed" if "failed" in r else "ok",
                           r.get("modes") if toy else "", f"{100 * r['high_quality']:.1f}" if toy and "high_quality" in r else "",
                           r.get("reverse_kl") if toy else "", r.get("spread") if toy else "", r.get("fid") if not toy else "",
                           r.get("g_step"), r.get("d_step"), r.get("cpu_minutes"), r.get("wall_minutes")])
            if "failed" in r:
                failures.append(f"- {NAMES.get(f, f)} on {d}: {r['failed'][:300]}")
            extra = [x for x in r.get("schedules") or [] if "does not act" in x]
            if r.get("ema_decay") is not None and r.get("g_step") is not None and r["g_step"] <= (r.get("ema_start") or 0):
                extra.append(f"EMA starts at {r['ema_start']} > {r['g_step']} iterations reached: its samples are G's")
            if extra:
                notes.append(f"- `{r['config']}`: " + "; ".join(extra) + ".")
    began = saved.get("began_summary") or {"note": "no BEGAN run"}
    cpu = [r["cpu_minutes"] for r in saved["runs"] if "cpu_minutes" in r and "failed" not in r]
    body = [
        f"Machine: {saved['machine']}; {s['jobs']} runs in parallel, each `OMP_NUM_THREADS=1`.",
        "",
        f"Command: `python bench/objective_flavours.py {' '.join(saved['argv'])}` ({saved['wall_minutes']:.1f} wall minutes, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}).",
        "",
        f"Protocol: each family's `configs/<family>/<data>.yaml` through `lit-gans fit` for {s['minutes']:g} wall minutes "
        f"(`--trainer.max_time`, one thread, seed {s['seed']}; `max_g_steps` lifted to 10 million), every other setting the "
        "config's (objective, networks, optimisers, critic steps, batch, EMA). Learning-rate schedules spread over "
        "`max_g_steps` are therefore stretched over 10 million iterations and do not act (listed below); schedules in "
        "plain iterations (the GAN digits recipe's `ExponentialLR`) act as configured. "
        + (f"CPU minutes per run: {min(cpu):.2f} to {max(cpu):.2f} (the training process's user + system time, imports "
           "included). " if cpu else "")
        + f"The last checkpoint is evaluated in a fresh process with the final generator (the EMA generator where the "
        f"config has one): on the ring and grid, {N_EVAL:,} samples scored as in `toy_quality.md` "
        "(`lit_gans.metrics.mode_coverage`); on digits, domain FID with `ModelEvaluation` in the shipped digits network's "
        f"features, {s['n_samples']:,} samples against all 1,617 training images (16 px).",
        "",
        "Columns: *modes* is the number of mixture components (8 on the ring, 25 on the grid) with at least one "
        "high-quality sample; *% HQ* the share of samples within 3 std of their nearest mode; *spread* the root-mean-square "
        "offset of those samples from their mode per axis, in units of the data's std (true samples about 0.97; less means "
        "modes narrower than the data's, which % HQ rewards); *domain FID* lower is better. The true-samples row is the "
        "ceiling for the toys.",
        "",
        *markdown_table(header, summary),
        "",
        *began_lines(began),
        "",
        "Published context: none of the nine papers (GMMN, Li et al. 2015; MMD GAN, Li et al. 2017; Cramér GAN, Bellemare "
        "et al. 2017; McGAN, Mroueh et al. 2017; Fisher GAN, Mroueh & Sercu 2017; Relaxed WGAN, Guo et al. 2021; EBGAN, "
        "Zhao et al. 2017; BEGAN, Berthelot et al. 2017; MAGAN, Wang et al. 2017) reports PacGAN's ring and grid with these "
        "definitions or a digits domain FID, so no published row stands beside these; the PacGAN4 figures of long runs of "
        "another recipe are in `toy_quality.md`. These are short CPU runs: they rank early training, not the methods.",
        "",
        "## Runs",
        "",
        *markdown_table(["family", "data", "status", "modes", "% HQ", "reverse KL", "spread", "domain FID", "G iterations",
                         "D iterations", "CPU min", "training wall min"], detail),
    ]
    if notes:
        body += ["", "What the timed runs change in these configs:", "", *notes]
    if failures:
        body += ["", "Failures (end of the training log or the evaluation's error):", "", *failures]
    if s.get("observations"):
        body += ["", "## Reading", "", s["observations"]]
    write_results("objective_flavours", "Objective flavours beside WGAN-GP and the GAN baseline at equal CPU minutes", body,
                  {k: v for k, v in saved.items() if k != "began_summary"} | {"began": began})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="wall minutes of training per run (one thread)")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel")
    parser.add_argument("--n-samples", type=int, default=2000, help="digits: generated images for the FID")
    parser.add_argument("--n-real", type=int, default=2000, help="digits: real images for the FID (all 1,617 there are)")
    parser.add_argument("--work", default="/tmp/lit_gans_objective_flavours")
    parser.add_argument("--report", default=None, help="rebuild the tables from a results .json instead of running")
    parser.add_argument("--observations", default=None, help="with --report: a person's reading (text or a file)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(evaluate(Path(args.child), args)), flush=True)
        return
    if args.report:
        saved = saved_report(args.report, args.observations)
    else:
        unknown = sorted(set(args.datasets.split(",")) - set(DATASETS))
        if unknown:
            raise SystemExit(f"--datasets: unknown {unknown}; choose from {DATASETS}")
        work = Path(args.work)
        items = [(f, d) for f in args.families.split(",") for d in args.datasets.split(",")]
        saved = run_all(lambda item, lock, started: run_one(item, args, work, lock, started), items, args, work, machine(1))
    saved["began_summary"] = began_summary(saved, RESULTS / FIGURE)
    report(saved)


if __name__ == "__main__":
    main()
