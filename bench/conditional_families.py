"""Benchmark: DCGAN, SNGAN, cGAN-PD, SAGAN and BigGAN on Fashion-MNIST (32 px) at equal CPU minutes.

Each family trains from its own config (``configs/<family>/fashion_mnist.yaml``: its objective,
optimisers, critic steps, EMA) through the real CLI in a subprocess, for the same wall time with one
thread (``trainer.max_time``; the configs' lengths are lifted), at a common reduced width
(``g_width = d_width``, default 32) so that CPU runs make progress. The last checkpoint (EMA generator
where the family has one) is then evaluated in the shipped Fashion-MNIST classifier's feature space
against 2,000 real training images: domain FID and KID, and for the class-conditional families the
intra-class FID (mean over classes of the FID between the samples asked for a class and that class's
real images) and the class accuracy (the share of samples asked for class y that the classifier labels
y, read inside the 2-pixel padding as it reads real 28 px images).

    python bench/conditional_families.py [--minutes 8] [--width 32] [--jobs 2] [--families dcgan,sngan,...]

Writes bench/results/conditional_families.md and .json. The published CIFAR-10 ordering (StudioGAN:
DCGAN 49.03, SNGAN 13.25, SAGAN 14.01, BigGAN 8.03; Mimicry: SNGAN 16.77, cGAN-PD 10.84; Inception FID
of long GPU runs) is printed beside it as the expectation; these CPU runs are short, so the ordering
they show is of early training.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import markdown_table, write_results  # noqa: E402
from runs import evaluate_checkpoint, family_bench_parser, run_family_bench  # noqa: E402

FAMILIES = ["dcgan", "sngan", "cgan_pd", "sagan", "biggan"]
NAMES = {"dcgan": "DCGAN", "sngan": "SNGAN", "cgan_pd": "cGAN-PD", "sagan": "SAGAN", "biggan": "BigGAN"}
#: CIFAR-10 Inception FIDs of long GPU runs (lower is better)
PUBLISHED = {"dcgan": "49.03 (StudioGAN)", "sngan": "13.25 (StudioGAN), 16.77 (Mimicry)", "cgan_pd": "10.84 (Mimicry)",
             "sagan": "14.01 (StudioGAN)", "biggan": "8.03 (StudioGAN)"}


def report(saved: dict) -> None:
    rows = []
    for r in saved["runs"]:
        if "failed" in r:
            rows.append([NAMES[r["family"]], "failed: " + r["failed"][:120]] + [""] * 8)
            continue
        rows.append([NAMES[r["family"]], r.get("g_step"), r.get("d_step"), r["cpu_minutes"], r.get("fid"),
                     r.get("kid"), r.get("intra_fid"), r.get("class_accuracy_inside"), PUBLISHED[r["family"]]])
    s = saved["settings"]
    body = [
        f"Machine: {saved['machine']}; {s['jobs']} runs in parallel, each `OMP_NUM_THREADS=1`.",
        "",
        f"Command: `python bench/conditional_families.py {' '.join(saved['argv'])}` ({saved['wall_minutes']:.1f} wall minutes, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}).",
        "",
        f"Protocol: each family's `configs/<family>/fashion_mnist.yaml` through `lit-gans fit` for {s['minutes']:g} wall minutes "
        f"(`--trainer.max_time`, one thread; the CPU minutes each run got are in the table), seed {s['seed']}, "
        f"`g_width = d_width = {s['width']}` (configs: DCGAN 64/64, SNGAN and cGAN-PD 256/128, SAGAN 256/128, BigGAN 256/256), "
        "every other setting the config's (objective, optimisers and learning rates, critic steps, batch size, BigGAN's EMA). "
        "The learning-rate decay of the SNGAN and cGAN-PD configs is spread over `max_g_steps`, lifted here to 10 million, so "
        "it does not act. The last checkpoint (EMA generator for BigGAN) is evaluated with `ModelEvaluation` in the shipped "
        f"Fashion-MNIST classifier's feature space: {s['n_samples']} samples against {s['n_real']} real training images "
        "(padded to 32 px, as the runs train); FID and KID (mean) over all samples; for the class-conditional families, "
        "intra-class FID (mean over the 10 classes of the FID between the samples asked for a class and that class's real "
        "images; fewer samples per class than features, so biased upward: compare between rows only) and class accuracy "
        "(200 samples per class; the classifier reads the 28 px picture inside the padding, as it reads real images, "
        "where real test images score 0.904, `bench/results/auxiliary_families.md`). Domain FIDs are not Inception FIDs: "
        "the published column is the expectation for the order, not for the values.",
        "",
        *markdown_table(["family", "G steps", "D steps", "CPU minutes", "domain FID", "KID", "intra-class FID",
                         "class accuracy", "published CIFAR-10 FID (Inception, long GPU runs)"], rows),
    ]
    if s.get("observations"):
        body += ["", "## Reading", "", s["observations"]]
    write_results("conditional_families", "DCGAN, SNGAN, cGAN-PD, SAGAN and BigGAN on Fashion-MNIST at equal CPU minutes", body, saved)


def evaluate(checkpoint: Path, args: argparse.Namespace) -> dict:
    return evaluate_checkpoint(checkpoint, metrics=["fid", "kid", "intra_fid"], n_samples=args.n_samples, n_real=args.n_real)


def main() -> None:
    parser = family_bench_parser(__doc__.splitlines()[0], FAMILIES, 8.0, "/tmp/lit_gans_conditional_families")
    run_family_bench(__file__, parser.parse_args(), report, evaluate)


if __name__ == "__main__":
    main()
