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
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import markdown_table, write_results  # noqa: E402
from runs import evaluate_checkpoint, family_bench_parser, run_family_bench  # noqa: E402

FAMILIES = ["progan", "stylegan", "dcgan", "sngan"]
NAMES = {"dcgan": "DCGAN", "sngan": "SNGAN", "progan": "ProGAN", "stylegan": "StyleGAN2"}


def overrides(family: str, args: argparse.Namespace) -> list[str]:
    """ProGAN's growth schedule shrunk to the budget, and its EMA off (module docstring)."""
    if family != "progan":
        return []
    return ["--model.init_args.fade_images", str(args.fade_images), "--model.init_args.stable_images", str(args.stable_images),
            "--model.init_args.ema_decay", "null"]


def path_lengths(checkpoint: Path, feature: str, n: int) -> dict:
    """PPL in z (and in W for a style-based generator) of a checkpoint, in the ``feature`` network."""
    from lit_gans.checkpoints import load_family
    from lit_gans.metrics.features import feature_network
    from lit_gans.metrics.ppl import perceptual_path_length
    from lit_gans.nets.stylegan import is_style_based

    model = load_family(checkpoint).eval()
    features = feature_network(feature)
    spaces = ["z", "w"] if is_style_based(model.network("generator")) else ["z"]
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
            rows.append([r.get("label", NAMES[r["family"]]), "failed: " + r["failed"][:120]] + [""] * 7)
            continue
        size = "32 px" if "stage" not in r else f"stage {r['stage']:.2f} ({4 * 2 ** math.ceil(r['stage'])} px), {r['images_seen']:,} images"
        ppl = " / ".join(f"{r[k]:.3g}" for k in ("ppl_z", "ppl_w") if k in r)
        rows.append([r.get("label", NAMES[r["family"]]), r.get("g_step"), r.get("d_step"), r["cpu_minutes"], size, r.get("fid"), r.get("kid"), ppl])
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


def evaluate(checkpoint: Path, args: argparse.Namespace) -> dict:
    out = evaluate_checkpoint(checkpoint, metrics=["fid", "kid"], n_samples=args.n_samples, n_real=args.n_real)
    return {**out, **growth(checkpoint), **path_lengths(checkpoint, out["feature"], args.ppl_samples)}


def main() -> None:
    parser = family_bench_parser(__doc__.splitlines()[0], FAMILIES, 7.0, "/tmp/lit_gans_progressive")
    parser.add_argument("--fade-images", type=int, default=2560, help="ProGAN: real images per fade")
    parser.add_argument("--stable-images", type=int, default=2560, help="ProGAN: real images per stable phase")
    parser.add_argument("--ppl-samples", type=int, default=2000, help="pairs of latents for the path lengths")
    run_family_bench(__file__, parser.parse_args(), report, evaluate, overrides)


if __name__ == "__main__":
    main()
