"""Benchmark: does a rewrite of the loop still train every family the same way, step for step?

Trains each existing family briefly (same seed, same data, tiny networks, with its regularisers: EMA,
R1, DeLiGAN's sigma penalty, clipping, the gradient penalty, spectral norm, labels) once with the
code at ``--old`` (a checkout of an earlier revision, e.g. ``git worktree add /tmp/old 35e7d40``)
and once with this checkout, each in a fresh single-threaded process, then compares every weight and
buffer and a batch of samples. On a CPU the two must be bitwise equal; then the quality benchmarks
of the old loop (``toy_quality``, ``time_to_quality``, ``stacked_digits``) hold for the new one.

    python bench/loop_equivalence.py --old /tmp/old

Writes bench/results/loop_equivalence.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: family -> (data, data arguments, model arguments); short runs that cross every option the family uses
RUNS = {
    "GAN (EMA)": ("Toy2DDataModule", dict(name="ring", n_samples=5000, batch_size=128),
                  dict(architecture="mlp", latent_dim=2, g_width=64, d_width=64, ema_decay=0.999, max_g_steps=60)),
    "DeLiGAN (R1, sigma penalty)": ("Toy2DDataModule", dict(name="grid", n_samples=5000, batch_size=128),
                                    dict(g_width=64, d_width=64, r1_gamma=0.1, sigma_penalty=0.01, max_g_steps=60)),
    "DCGAN (EMA)": ("DigitsDataModule", dict(batch_size=32), dict(g_width=8, d_width=8, max_g_steps=20, ema_decay=0.9)),
    "LSGAN": ("DigitsDataModule", dict(batch_size=32), dict(g_width=8, d_width=8, max_g_steps=20)),
    "WGAN": ("DigitsDataModule", dict(batch_size=32), dict(g_width=8, d_width=8, max_g_steps=10)),
    "WGANGP": ("DigitsDataModule", dict(batch_size=32), dict(g_width=8, d_width=8, max_g_steps=10)),
    "SNGAN": ("DigitsDataModule", dict(batch_size=32), dict(g_width=8, d_width=8, max_g_steps=4)),
    "CGAN": ("DigitsDataModule", dict(batch_size=32), dict(g_width=32, d_width=32, max_g_steps=30)),
}

WORKER = """
import json, sys, torch, lightning as L
sys.path.insert(0, sys.argv[1])
import datamodules, lit_gans.families as families
RUNS = json.loads(sys.argv[3])
torch.set_num_threads(1)
out = {}
for name, (data, data_args, model_args) in RUNS.items():
    L.seed_everything(0)
    dm = getattr(datamodules, data)(**data_args)
    family = getattr(families, name.split()[0])
    model = family(data_shape=dm.data_shape, num_classes=dm.num_classes, **model_args)
    L.Trainer(logger=False, enable_progress_bar=False, enable_checkpointing=False, max_epochs=-1, limit_val_batches=0,
              enable_model_summary=False, log_every_n_steps=7).fit(model, dm)
    torch.manual_seed(5)
    out[name] = {"state": {k: v.clone() for k, v in model.state_dict().items()}, "samples": model.sample(8)}
torch.save(out, sys.argv[2])
"""


def train(code: Path, out: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(code)}
    # the run list comes from this checkout; the families and the loop from ``code``
    subprocess.run([sys.executable, "-c", WORKER, str(code), str(out), json.dumps(RUNS)], check=True, env=env, cwd=code,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    import torch

    sys.path.insert(0, str(ROOT))
    from bench.common import machine, markdown_table, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, type=Path, help="a checkout of the earlier revision")
    args = parser.parse_args()
    revision = subprocess.run(["git", "-C", str(args.old), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip() or str(args.old)
    with tempfile.TemporaryDirectory() as tmp:
        train(args.old.resolve(), Path(tmp) / "old.pt")
        train(ROOT, Path(tmp) / "new.pt")
        old, new = torch.load(Path(tmp) / "old.pt"), torch.load(Path(tmp) / "new.pt")
    rows, data = [], {}
    for name in RUNS:
        a, b = old[name], new[name]
        keys = sorted(set(a["state"]) | set(b["state"]))
        differ = [k for k in keys if k not in a["state"] or k not in b["state"] or not torch.equal(a["state"][k], b["state"][k])]
        samples = torch.equal(a["samples"], b["samples"])
        rows.append([name, len(keys), len(differ), ", ".join(differ[:3]) or "-", "yes" if samples else "no"])
        data[name] = {"tensors": len(keys), "differ": differ, "samples_equal": samples}
    body = [
        f"Machine: {machine(1)}. Old loop: revision {revision}; new loop: this checkout. Each family trained with seed 0 "
        "in one single-threaded process per revision; every weight and buffer compared with `torch.equal`, and 8 samples "
        "drawn after `torch.manual_seed(5)`.", "",
        *markdown_table(["family (options)", "tensors", "tensors that differ", "which", "samples bitwise equal"], rows),
    ]
    write_results("loop_equivalence", "The rewritten loop against the previous one, step for step", body,
                  {"old": revision, "runs": data})


if __name__ == "__main__":
    main()
