"""Benchmark: 10 % of Fashion-MNIST, without augmentation, with DiffAugment and with ADA, over seeds.

Every run trains ``configs/dcgan/fashion_mnist.yaml`` through the real CLI in a subprocess on a fixed,
class-stratified 10 % of the training set (``data.train_fraction: 0.1``: 6,000 images, the same for
every seed), for the same number of generator iterations with one thread, at a reduced width (``g_width = d_width``, default
32). The three settings differ only in ``model.augment``: none; ``DiffAugment`` with all its transforms
(colour, translation, cutout; Zhao et al. 2020); ``ADA`` (Karras et al. 2020) with the reference's
target 0.6 and interval 4 but a faster speed (``--ada-kimg``, default 100 thousand images for p to go
from 0 to 1; the reference's 500 suits runs of millions of images, far longer than these). The last
checkpoint is evaluated in the shipped Fashion-MNIST classifier's feature space against 2,000 images of
the **full** training set (the distribution, not the 6,000 seen): domain FID and KID.

    python bench/limited_data.py [--steps 600] [--seeds 0,1,2] [--width 32] [--jobs 2] [--max-minutes M]

On a GPU machine (the config's ``accelerator: auto`` takes it) the nine runs can go at once, at the config's
width and a length where the critic overfits the 6,000 images (``bench/gpu_quality.sh`` with ``LIMITED=1``):

    python bench/limited_data.py --steps 4000 --width 64 --jobs 9 --max-minutes 5

Writes bench/results/limited_data.md and .json. Anchor (CIFAR-10, 10 % of the data, Inception FID, long
GPU runs): DiffAugment took BigGAN from 39.78 to 22.40 and StyleGAN2 from 36.02 to 14.50.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, markdown_table, write_results  # noqa: E402
from runs import child_result, evaluate_checkpoint, last_lines, run_all, saved_report, timed_fit  # noqa: E402

CONFIG = "configs/dcgan/fashion_mnist.yaml"
SETTINGS = ("none", "diffaugment", "ada")


def augment_override(setting: str, ada_kimg: float) -> list[str]:
    if setting == "none":
        return []
    if setting == "diffaugment":
        spec = {"class_path": "lit_gans.augment.DiffAugment", "init_args": {"policy": ["color", "translation", "cutout"]}}
    else:
        spec = {"class_path": "lit_gans.augment.ADA", "init_args": {"target": 0.6, "interval": 4, "speed_kimg": ada_kimg}}
    return ["--model.init_args.augment", json.dumps(spec)]


def run(setting: str, seed: int, args: argparse.Namespace, work: Path, lock: threading.Lock, started: float) -> dict:
    run_dir = work / f"{setting}_seed{seed}"
    with lock:
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] start {run_dir.name}", flush=True)
    overrides = ["--data.init_args.train_fraction", str(args.fraction),
                 "--model.init_args.g_width", str(args.width), "--model.init_args.d_width", str(args.width),
                 *augment_override(setting, args.ada_kimg)]
    result = {"setting": setting, "seed": seed,
              **timed_fit(CONFIG, run_dir, args.max_minutes, overrides, seed=seed, steps=args.steps)}
    if result["returncode"] != 0:
        result["failed"] = last_lines(run_dir / "train.log")
    else:
        result.update(child_result(__file__, ["--child", str(run_dir / "ckpt" / "last.ckpt")]))
        result.update(ada_p(run_dir))
    with lock:
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] done {run_dir.name}: "
              f"{ {k: v for k, v in result.items() if k != 'command'} }", flush=True)
    return result


def ada_p(run_dir: Path) -> dict:
    """ADA's last logged p and r_t (CSV logger), when the run logged them."""
    import csv

    out = {}
    for path in (run_dir / "logs").rglob("metrics.csv"):
        rows = list(csv.DictReader(path.open()))
        for key, name in (("augment/p", "ada_p"), ("augment/rt", "ada_rt")):
            values = [float(r[key]) for r in rows if r.get(key)]
            if values:
                out[name] = values[-1]
    return out


def report(saved: dict) -> None:
    s = saved["settings"]
    rows, summary = [], []
    for r in saved["runs"]:
        rows.append([r["setting"], r["seed"], r.get("g_step"), r["cpu_minutes"], r.get("fid"), r.get("kid"),
                     r.get("ada_p"), r.get("ada_rt"), r.get("failed", "")[:100]])
    for setting in SETTINGS:
        fids = [r["fid"] for r in saved["runs"] if r["setting"] == setting and "fid" in r]
        if fids:
            spread = statistics.stdev(fids) if len(fids) > 1 else 0.0
            summary.append([setting, len(fids), statistics.mean(fids), spread, min(fids), max(fids)])
    base = {r["seed"]: r["fid"] for r in saved["runs"] if r["setting"] == "none" and "fid" in r}
    wins = []
    for setting in SETTINGS[1:]:
        pairs = [(base[r["seed"]], r["fid"]) for r in saved["runs"] if r["setting"] == setting and "fid" in r and r["seed"] in base]
        if pairs:
            wins.append(f"- {setting}: lower FID than no augmentation in {sum(b > f for b, f in pairs)} of {len(pairs)} seeds.")
    body = [
        f"Machine: {saved['machine']}; {s['jobs']} runs in parallel, each `OMP_NUM_THREADS=1`.",
        "",
        f"Command: `python bench/limited_data.py {' '.join(saved['argv'])}` ({saved['wall_minutes']:.1f} wall minutes, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}).",
        "",
        f"Protocol: `{CONFIG}` through `lit-gans fit`, `data.train_fraction: {s['fraction']:g}` (a class-stratified subset, "
        f"the same images for every seed), `g_width = d_width = {s['width']}` (config: 64), {s['steps']} generator iterations "
        f"per run (batch 128: about {s['steps'] * 128 / (60000 * s['fraction']):.0f} epochs of the {60000 * s['fraction']:,.0f} "
        "images; one thread, CPU minutes in the table"
        + (f"; each run cut at {s['max_minutes']:g} wall minutes" if s.get("max_minutes") else "") + "), every other setting "
        "the config's. "
        f"Settings: no augmentation; DiffAugment `[color, translation, cutout]`; ADA with target 0.6, interval 4 and "
        f"speed_kimg {s['ada_kimg']:g} (the reference: 500, for runs of millions of images). Evaluation of the last "
        f"checkpoint: `ModelEvaluation` in the shipped Fashion-MNIST classifier's features, {s['n_samples']} samples "
        f"against {s['n_real']} images of the full training set. Lower is better.",
        "",
        "## Summary (domain FID over seeds)",
        "",
        *markdown_table(["augmentation", "seeds", "mean FID", "std", "min", "max"], summary),
        "",
        *wins,
        "",
        "## Runs",
        "",
        *markdown_table(["augmentation", "seed", "G steps", "CPU minutes", "domain FID", "KID", "ADA p (last)", "ADA r_t (last)", "failed"], rows),
    ]
    if s.get("observations"):
        body += ["", "## Reading", "", s["observations"]]
    write_results("limited_data", "10 % of Fashion-MNIST: no augmentation, DiffAugment and ADA", body, saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="generator iterations of every run")
    parser.add_argument("--seeds", type=lambda v: [int(x) for x in v.split(",")], default=[0, 1, 2])
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--ada-kimg", type=float, default=100.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="cut a run at this many wall minutes (its G steps in the table say where it stopped)")
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--n-real", type=int, default=2000)
    parser.add_argument("--work", default="/tmp/lit_gans_limited_data")
    parser.add_argument("--report", default=None, help="rebuild the tables from a results .json instead of running")
    parser.add_argument("--observations", default=None, help="with --report: a person's reading (text or a file)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from datamodules import FashionMNISTDataModule

        full = FashionMNISTDataModule(data_dir="data", image_size=32, fit="pad")  # the whole distribution
        out = evaluate_checkpoint(Path(args.child), ["fid", "kid"], n_samples=args.n_samples, n_real=args.n_real, datamodule=full)
        print("RESULT " + json.dumps(out), flush=True)
        return
    if args.report:
        report(saved_report(args.report, args.observations))
        return
    from datamodules import FashionMNISTDataModule

    FashionMNISTDataModule(data_dir="data").prepare_data()
    work = Path(args.work)
    jobs = [(setting, seed) for seed in args.seeds for setting in args.settings.split(",")]
    report(run_all(lambda job, lock, started: run(job[0], job[1], args, work, lock, started), jobs, args, work, machine(1)))


if __name__ == "__main__":
    main()
