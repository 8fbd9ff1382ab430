"""Benchmark: ProGAN and StyleGAN2 beside DCGAN and SNGAN on Fashion-MNIST (32 px) at equal CPU minutes.

Each family trains from its own config (``configs/<family>/fashion_mnist.yaml``) through the real CLI in
a subprocess for the same wall time with one thread, at a common reduced width (``g_width = d_width``,
default 32). ProGAN's growth schedule is shrunk to fit the budget (``--fade-images``/``--stable-images``,
the config's: 600,000 each) so that it reaches 32 px inside the run, and its EMA is off (at decay 0.999
a few hundred steps leave the average near the initial weights); StyleGAN2 keeps its config's (a half-life
of 10,000 images). The last checkpoint is evaluated in the shipped Fashion-MNIST classifier's feature space
against 2,000 real training images: domain FID and KID, and the perceptual path length
(``lit_gans.metrics.ppl``, in the same network) in z, and in W for StyleGAN2.

    python bench/progressive.py [--minutes 7] [--width 32] [--jobs 2] [--families progan,stylegan,dcgan,sngan]

Writes bench/results/progressive.md and .json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, markdown_table, write_results  # noqa: E402
from runs import child_result, evaluate_checkpoint, last_lines, run_all, saved_report, timed_fit  # noqa: E402

FAMILIES = ["progan", "stylegan", "dcgan", "sngan"]
NAMES = {"dcgan": "DCGAN", "sngan": "SNGAN", "progan": "ProGAN", "stylegan": "StyleGAN2"}


def run(family: str, args: argparse.Namespace, work: Path, lock: threading.Lock, started: float) -> dict:
    run_dir = work / family
    config = f"configs/{family}/fashion_mnist.yaml"
    with lock:
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] start {family}", flush=True)
    overrides = ["--model.init_args.g_width", str(args.width), "--model.init_args.d_width", str(args.width)]
    if family == "progan":
        overrides += ["--model.init_args.fade_images", str(args.fade_images),
                      "--model.init_args.stable_images", str(args.stable_images), "--model.init_args.ema_decay", "null"]
    result = {"family": family, "config": config, **timed_fit(config, run_dir, args.minutes, overrides, seed=args.seed)}
    if result["returncode"] != 0:
        result["failed"] = last_lines(run_dir / "train.log")
    else:
        result.update(child_result(__file__, ["--child", str(run_dir / "ckpt" / "last.ckpt")]))
    with lock:
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] done {family}: "
              f"{ {k: v for k, v in result.items() if k != 'command'} }", flush=True)
    return result


def path_lengths(checkpoint: Path, feature: str, n: int) -> dict:
    """PPL in z (and in W for a style-based generator) of a checkpoint, in the ``feature`` network."""
    from lit_gans.checkpoints import load_family
    from lit_gans.metrics.features import feature_network
    from lit_gans.metrics.ppl import perceptual_path_length

    model = load_family(checkpoint).eval()
    features = feature_network(feature)
    spaces = ["z", "w"] if hasattr(model.network("generator"), "mapping") else ["z"]
    return {f"{k}_{space}": v for space in spaces for k, v in perceptual_path_length(model, features, space, n_samples=n).items()}


def growth(checkpoint: Path) -> dict:
    """ProGAN's stage and images seen in a checkpoint (empty for other families)."""
    import torch

    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if "generator.stage" not in saved["state_dict"]:
        return {}
    stage = float(saved["state_dict"]["generator.stage"])
    return {"stage": stage, "images_seen": saved["lit_gans"].get("images_seen")}


def report(saved: dict) -> None:
    rows = []
    for r in saved["runs"]:
        if "failed" in r:
            rows.append([NAMES[r["family"]], "failed: " + r["failed"][:120]] + [""] * 7)
            continue
        size = "32 px" if "stage" not in r else f"stage {r['stage']:.2f} ({4 * 2 ** math.ceil(r['stage'])} px), {r['images_seen']:,} images"
        ppl = " / ".join(f"{r[k]:.3g}" for k in ("ppl_z", "ppl_w") if k in r)
        rows.append([NAMES[r["family"]], r.get("g_step"), r.get("d_step"), r["cpu_minutes"], size, r.get("fid"), r.get("kid"), ppl])
    s = saved["settings"]
    body = [
        f"Machine: {saved['machine']}; {s['jobs']} runs in parallel, each `OMP_NUM_THREADS=1`.",
        "",
        f"Command: `python bench/progressive.py {' '.join(saved['argv'])}` ({saved['wall_minutes']:.1f} wall minutes, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}).",
        "",
        f"Protocol: each family's `configs/<family>/fashion_mnist.yaml` through `lit-gans fit` for {s['minutes']:g} wall minutes "
        f"(`--trainer.max_time`, one thread), seed {s['seed']}, `g_width = d_width = {s['width']}`, every other setting the "
        f"config's, except ProGAN's growth schedule: {s['fade_images']:,} images per fade and {s['stable_images']:,} per stable "
        "phase (the config's: 600,000 each), and its EMA off. The last checkpoint is evaluated with `ModelEvaluation` in the "
        f"shipped Fashion-MNIST classifier's feature space: {s['n_samples']} samples against {s['n_real']} real training images "
        f"(padded to 32 px). Domain FIDs are not Inception FIDs. PPL: `lit_gans.metrics.ppl` over {s['ppl_samples']} pairs, "
        "epsilon 1e-4, in the same network (squared distance of unit-normalised penultimate features; not comparable with "
        "the papers' VGG/LPIPS figures), in z (slerp) and, for StyleGAN2, in W (lerp); lower is smoother.",
        "",
        *markdown_table(["family", "G steps", "D steps", "CPU minutes", "resolution at the end", "domain FID", "KID",
                         "PPL z / W"], rows),
    ]
    if s.get("observations"):
        body += ["", "## Reading", "", s["observations"]]
    write_results("progressive", "ProGAN and StyleGAN2 beside DCGAN and SNGAN on Fashion-MNIST at equal CPU minutes", body, saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=7.0, help="wall minutes of training per family (one thread)")
    parser.add_argument("--width", type=int, default=32, help="g_width = d_width of every run")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--fade-images", type=int, default=2560, help="ProGAN: real images per fade")
    parser.add_argument("--stable-images", type=int, default=2560, help="ProGAN: real images per stable phase")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel")
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--n-real", type=int, default=2000)
    parser.add_argument("--ppl-samples", type=int, default=2000, help="pairs of latents for the path lengths")
    parser.add_argument("--work", default="/tmp/lit_gans_progressive")
    parser.add_argument("--report", default=None, help="rebuild the table from a results .json instead of running")
    parser.add_argument("--observations", default=None, help="with --report: a person's reading (text or a file)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        out = evaluate_checkpoint(Path(args.child), metrics=["fid", "kid"], n_samples=args.n_samples, n_real=args.n_real)
        extra = {**growth(Path(args.child)), **path_lengths(Path(args.child), out["feature"], args.ppl_samples)}
        print("RESULT " + json.dumps({**out, **extra}), flush=True)
        return
    if args.report:
        report(saved_report(args.report, args.observations))
        return
    from datamodules import FashionMNISTDataModule

    FashionMNISTDataModule(data_dir="data").prepare_data()  # fail early, before runs start
    work = Path(args.work)
    report(run_all(lambda family, lock, started: run(family, args, work, lock, started), args.families.split(","),
                   args, work, machine(1)))


if __name__ == "__main__":
    main()
