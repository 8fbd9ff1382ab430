"""Benchmark: modes covered on stacked digits (1,000 modes), the image-scale mode-collapse test.

Trains DCGAN (configs/dcgan/stacked_digits.yaml: 32 features, Adam 2e-4 / beta1 0.5, batch 64),
WGAN-GP (the same networks without batch norm in the critic, gradient penalty 10, n_critic 5, Adam
1e-4 / betas (0, 0.9)) and DCGAN with a packed discriminator (PacGAN's PacDCGAN2) on
``StackedDigitsDataModule`` (50,000 stacked 16 px images), then counts the modes of 26,000 samples
and the KL divergence of their mode histogram from uniform with ``lit_gans.metrics.stacked``
(the VEEGAN / PacGAN protocol: 26,000 samples). 26,000 real stacked images give the ceiling.

    OMP_NUM_THREADS=1 python bench/stacked_digits.py [--seeds 0 1] [--g-steps dcgan=3000 wgan_gp=600 pacdcgan2=3000]

WGAN-GP runs fewer generator iterations: each takes 5 critic steps with a double backward (~15x
the cost of a DCGAN iteration here), so its budget is set to similar CPU minutes.

Writes bench/results/stacked_digits.md and .json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, markdown_table, write_results  # noqa: E402

N_SAMPLES = 26_000
G_STEPS = {"dcgan": 3000, "wgan_gp": 600, "pacdcgan2": 3000}
NAMES = {"dcgan": "DCGAN", "wgan_gp": "WGAN-GP", "pacdcgan2": "DCGAN, packed D (PacDCGAN2)"}


def make_model(family: str, data_shape, g_steps: int):
    from lit_gans.families import DCGAN, WGANGP

    common = dict(data_shape=data_shape, g_width=32, d_width=32, max_g_steps=g_steps)
    if family == "dcgan":
        return DCGAN(**common)
    if family == "pacdcgan2":
        return DCGAN(pack=2, **common)
    if family == "wgan_gp":
        return WGANGP(latent_dim=100, **common)
    raise SystemExit(f"unknown family {family!r}; use dcgan, wgan_gp or pacdcgan2")


@torch.no_grad()
def draw(model, n: int, batch: int = 1000) -> torch.Tensor:
    return torch.cat([model.sample(min(batch, n - i)).cpu() for i in range(0, n, batch)])


def run(family: str, seed: int, g_steps: int) -> dict:
    import lightning as L

    from datamodules import StackedDigitsDataModule
    from lit_gans.metrics.stacked import stacked_modes

    L.seed_everything(seed, verbose=False)
    dm = StackedDigitsDataModule(image_size=16, n_samples=50_000, batch_size=64)
    model = make_model(family, dm.data_shape, g_steps)
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
    )
    start = time.perf_counter()
    trainer.fit(model, dm)
    train_seconds = time.perf_counter() - start
    torch.manual_seed(10_000 + seed)
    stats = stacked_modes(draw(model, N_SAMPLES))
    out = {"family": family, "seed": seed, "g_steps": model.g_step, "train_seconds": train_seconds, **stats}
    print(out, flush=True)
    return out


def real_ceiling() -> dict:
    from datamodules import StackedDigitsDataModule
    from lit_gans.metrics.stacked import stacked_modes

    dm = StackedDigitsDataModule(image_size=16, n_samples=50_000)
    dm.setup()
    x = torch.stack([dm.train_set[i][0] for i in range(N_SAMPLES)])
    return stacked_modes(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--g-steps", nargs="*", default=[], help=f"family=N generator iterations (default {G_STEPS})")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--families", nargs="+", default=list(G_STEPS), choices=list(G_STEPS))
    args = parser.parse_args()
    steps = dict(G_STEPS)
    for item in args.g_steps:
        family, _, n = item.partition("=")
        if family not in steps or not n.isdigit():
            parser.error(f"--g-steps {item!r}: write family=N with family in {list(steps)}")
        steps[family] = int(n)
    torch.set_num_threads(1)

    real = real_ceiling()
    print("real", real, flush=True)
    runs = [run(family, seed, steps[family]) for family in args.families for seed in args.seeds]

    rows = [["real stacked digits (26,000 training images)", "-", "-", real["modes"], real["reverse_kl"], "-"]]
    for family in args.families:
        mine = [r for r in runs if r["family"] == family]
        modes = [r["modes"] for r in mine]
        kls = [r["reverse_kl"] for r in mine]
        spread = lambda v: f" +- {statistics.stdev(v):.3g}" if len(v) > 1 else ""  # noqa: E731
        rows.append([
            NAMES[family], len(mine), steps[family],
            f"{statistics.mean(modes):.1f}{spread(modes)}", f"{statistics.mean(kls):.3f}{spread(kls)}",
            f"{statistics.mean(r['train_seconds'] for r in mine) / 60:.1f}",
        ])
    body = [
        f"Machine: {machine(threads=1)}.",
        "",
        f"Modes (of 1,000) among {N_SAMPLES:,} samples and KL(mode histogram || uniform), each channel classified by",
        "the shipped `digits` domain network (99.4 % test accuracy); 16 px stacked scikit-learn digits, 50,000",
        f"training images, networks of width 32, batch 64, {len(args.seeds)} seed(s) ({', '.join(map(str, args.seeds))}).",
        "WGAN-GP gets fewer generator iterations (each is 5 critic steps with a gradient penalty), for similar CPU time.",
        "",
        *markdown_table(["model", "seeds", "G steps", "modes", "KL", "train minutes"], rows),
        "",
        "Protocol: the number of samples (26,000) follows VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018),",
        "whose stacked-MNIST code (github.com/fjxmlzn/PacGAN, VEEGAN_experiment/config.py) draws 26,000 test samples",
        "and trains on 128,000 stacked 28 px MNIST images for 50 epochs. Their published modes/KL tables are images",
        "we could not read offline, so no published figures are quoted here; they use MNIST at 28 px, a different",
        "classifier and ~100x more training, so any comparison is indicative only.",
        "",
        "    OMP_NUM_THREADS=1 python bench/stacked_digits.py " + " ".join(sys.argv[1:]),
    ]
    write_results(
        "stacked_digits", "Stacked digits: modes covered (of 1,000) and KL to uniform", body,
        {"machine": machine(threads=1), "n_samples": N_SAMPLES, "g_steps": {f: steps[f] for f in args.families}, "seeds": args.seeds,
         "real": real, "runs": runs},
    )


if __name__ == "__main__":
    main()
