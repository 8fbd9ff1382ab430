"""The latent tools on a trained DCGAN (the quickstart config on the bundled digits): projection of generated
samples (random starts, restarts, an encoder's start), inpainting of a centre hole in held-out digits against
a mean fill and a nearest-neighbour fill, and a walk along a fitted class direction.

    PYTHONPATH=. python bench/latent_tools.py [--ckpt runs/quickstart/.../last.ckpt]

Without ``--ckpt`` it first trains ``configs/quickstart.yaml`` (1,500 generator iterations) into ``--work``.
Results: ``bench/results/latent_tools.md`` and ``.json``, figures ``latent_tools_*.png``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torchvision.utils import save_image  # noqa: E402

from bench.common import RESULTS, machine, markdown_table, write_results  # noqa: E402
from bench.runs import ROOT, lit_gans, one_thread_env, saved_report  # noqa: E402

PSNR_TARGET = 30.0


def trained_checkpoint(work: Path) -> Path:
    found = sorted(work.rglob("last.ckpt"))
    if found:
        return found[-1]
    command = lit_gans() + ["fit", "--config", "configs/quickstart.yaml", "--trainer.default_root_dir", str(work),
                            "--trainer.logger.init_args.save_dir", str(work), "--trainer.enable_progress_bar", "false"]
    subprocess.run(command, cwd=ROOT, env=one_thread_env(), check=True, stdout=subprocess.DEVNULL)
    return sorted(work.rglob("last.ckpt"))[-1]


def steps_to(curve: torch.Tensor, level: float) -> list[float]:
    """Per target (columns of ``curve`` (steps, targets)), the first step whose PSNR reaches ``level`` (inf if none)."""
    reached = curve >= level
    first = reached.float().argmax(0).float()
    first[~reached.any(0)] = float("inf")
    return first.tolist()


def projection_rows(model: Any, args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor]]:
    from lit_gans.latent import project, psnr, train_encoder

    g = torch.Generator().manual_seed(123)
    z_star = torch.randn(args.targets, model.latent_spec.z_dim, generator=g)
    targets = model.sample(args.targets, z=z_star)
    rows, images = [], {"targets": targets}
    # the baseline: the best of many random latents, no optimisation
    draws = model.latent_spec.draw(args.targets * args.random_draws, generator=g)
    drawn = model.sample(len(draws), latent=draws).view(args.targets, args.random_draws, *targets.shape[1:])
    best = torch.stack([psnr(drawn[i], targets[i:i + 1].expand_as(drawn[i])).max() for i in range(args.targets)])
    rows.append({"method": f"best of {args.random_draws} random latents, no optimisation", "steps": 0, "psnr": best.tolist()})
    started = time.perf_counter()
    encoder = train_encoder(model, steps=args.encoder_steps, batch_size=64, seed=1)
    encoder_seconds = time.perf_counter() - started
    settings = [("projection, 1 random start", dict(restarts=1)),
                (f"projection, best of {args.restarts} random starts", dict(restarts=args.restarts)),
                (f"projection from the encoder's guess ({args.encoder_steps} encoder steps, {encoder_seconds:.0f} s)",
                 dict(restarts=1, encoder=encoder))]
    for name, options in settings:
        started = time.perf_counter()
        result = project(model, targets, steps=args.steps, lr=args.lr, seed=7, **options)
        rows.append({"method": name, "steps": args.steps, "psnr": result.psnr.tolist(), "start_psnr": result.start_psnr.tolist(),
                     "steps_to_target": steps_to(result.psnr_steps, PSNR_TARGET), "seconds": time.perf_counter() - started})
        images[name] = result.image
    return rows, images


def inpainting_rows(model: Any, checkpoint: Path, args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor]]:
    from bench.runs import datamodule_of
    from lit_gans.latent import center_mask, inpaint, psnr

    dm, _ = datamodule_of(checkpoint)  # the run's own digits, as the checkpoint records them
    dm.setup("fit")
    train = torch.stack([dm.train_set[i][0] for i in range(len(dm.train_set))])
    held_out = torch.stack([dm.val_set[i][0] for i in range(min(args.inpaint_images, len(dm.val_set)))])
    mask = center_mask(held_out.shape[1:])
    hole = (1 - mask).bool().expand_as(held_out)
    masked = held_out * mask
    rows, images = [], {"originals": held_out, "masked": masked + (mask - 1)}
    mean_fill = mask * held_out + (1 - mask) * train.mean(0, keepdim=True)
    # nearest neighbour: the training digit closest on the known pixels lends its hole
    known = mask.bool().expand_as(held_out[0]).flatten()
    distance = torch.cdist(held_out.flatten(1)[:, known], train.flatten(1)[:, known])
    neighbour = train[distance.argmin(1)]
    nn_fill = mask * held_out + (1 - mask) * neighbour
    for name, filled in (("mean training image in the hole", mean_fill), ("nearest training digit on the known pixels", nn_fill)):
        rows.append({"method": name, "psnr_hole": psnr(filled, held_out, 1 - mask).tolist()})
        images[name] = filled
    started = time.perf_counter()
    result = inpaint(model, held_out, mask, steps=args.steps, lr=args.lr, prior_weight=args.prior_weight, restarts=args.restarts,
                     reference=held_out, seed=3)
    rows.append({"method": f"latent optimisation (Yeh et al.; {args.steps} steps, {args.restarts} starts, prior weight "
                           f"{args.prior_weight})", "psnr_hole": result.psnr_hole.tolist(), "seconds": time.perf_counter() - started})
    images["latent optimisation"] = result.filled
    assert bool(hole.any())
    return rows, images


def direction_rows(model: Any, args: argparse.Namespace) -> tuple[dict[str, Any], torch.Tensor]:
    from lit_gans.latent import fit_direction, walk
    from lit_gans.metrics.domain import load_domain_network

    classifier = load_domain_network("digits")
    if args.walk_class < 0:  # the class the classifier reads most often in the model's samples
        with torch.no_grad():
            probe = classifier(model.sample(1000)).argmax(1)
        args.walk_class = int(torch.bincount(probe, minlength=10).argmax())
    direction = fit_direction(model, classifier, target_class=args.walk_class, n=args.direction_samples, seed=0)
    z = torch.randn(args.walks, model.latent_spec.z_dim, generator=torch.Generator().manual_seed(11))
    alphas = torch.linspace(-args.alpha, args.alpha, args.alpha_steps).tolist()
    images, scores = walk(model, z, direction, alphas)
    predicted = classifier(images).argmax(1).view(args.walks, len(alphas))
    share = (predicted == args.walk_class).float().mean(0)
    mean = scores.mean(0)
    rows_monotonic = float((scores.diff(dim=1) >= -1e-6).all(1).float().mean())
    return {"class": args.walk_class, "boundary_accuracy": direction.accuracy, "positives": direction.positives,
            "alphas": alphas, "mean_probability": mean.tolist(), "share_predicted": share.tolist(),
            "mean_monotonic": bool((mean.diff() > 0).all()), "rows_monotonic": rows_monotonic}, images


def report(saved: dict[str, Any]) -> None:
    settings = saved["settings"]
    proj = []
    for row in saved["projection"]:
        values = torch.tensor(row["psnr"])
        reach = torch.tensor(row.get("steps_to_target", [float("inf")] * len(values)))
        finite = reach[torch.isfinite(reach)]
        proj.append([row["method"], row["steps"], f"{values.mean():.1f}", f"{values.min():.1f}",
                     f"{int((values >= PSNR_TARGET).sum())}/{len(values)}",
                     f"{finite.median():.0f}" if len(finite) else "never", f"{row.get('seconds', 0):.0f}"])
    inp = [[row["method"], f"{torch.tensor(row['psnr_hole']).mean():.2f}", f"{torch.tensor(row['psnr_hole']).median():.2f}"]
           for row in saved["inpainting"]]
    d = saved["direction"]
    walk_rows = [[f"{a:+.2f}", f"{p:.3f}", f"{s:.2f}"] for a, p, s in zip(d["alphas"], d["mean_probability"], d["share_predicted"])]
    body = [
        f"Machine: {saved['machine']}.", "",
        f"Command: `python bench/latent_tools.py {' '.join(saved['argv'])}` ({saved['wall_minutes']:.1f} wall minutes, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}).", "",
        f"Model: `{saved['checkpoint']}` (DCGAN, `configs/quickstart.yaml`: z of 64, width 32, 1,500 generator iterations "
        "on the bundled digits at 16 px; the EMA generator). Images in [-1, 1]; PSNR with peak-to-peak 2.", "",
        "## Projection of generated samples", "",
        f"{settings['targets']} targets G(z*) for random z*; Adam on z (lr {settings['lr']}, cosine decay to 0), pixel MSE. "
        f"Target: PSNR >= {PSNR_TARGET:.0f} dB. Steps to target: the median over the targets that reach it.", "",
        *markdown_table(["method", "steps", "mean PSNR dB", "worst", f">= {PSNR_TARGET:.0f} dB", "steps to target (median)", "seconds"], proj),
        "",
        "## Inpainting a centre hole (half the side) in held-out digits", "",
        f"The first {settings['inpaint_images']} validation digits (never trained on); PSNR inside the hole only.", "",
        *markdown_table(["method", "mean PSNR in the hole dB", "median"], inp),
        "",
        f"## Walking along a fitted direction: class {d['class']} for the shipped digits classifier", "",
        f"{settings['direction_samples']} latents labelled by whether the classifier reads their sample as {d['class']} "
        f"({100 * d['positives']:.1f} % do); logistic regression in z (held-out accuracy {d['boundary_accuracy']:.3f}); "
        f"{settings['walks']} random z walked along the unit normal. Probability: the classifier's softmax probability of "
        f"class {d['class']}, mean over the walks; share: walks whose sample is read as {d['class']}.", "",
        *markdown_table(["alpha", "mean probability", "share read as the class"], walk_rows), "",
        f"Mean probability rises at every step: {'yes' if d['mean_monotonic'] else 'no'}; walks whose probability never falls: "
        f"{100 * d['rows_monotonic']:.0f} %. Figure: `latent_tools_walk.png` (one walk per row, alpha from "
        f"{d['alphas'][0]:+.1f} to {d['alphas'][-1]:+.1f}).",
    ]
    if settings.get("observations"):
        body += ["", "## Reading", "", settings["observations"]]
    write_results("latent_tools", "Latent tools on a trained DCGAN (digits)", body, saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", default=None)
    parser.add_argument("--work", default="/tmp/lit_gans_latent_tools")
    parser.add_argument("--targets", type=int, default=16)
    parser.add_argument("--random-draws", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--encoder-steps", type=int, default=1500)
    parser.add_argument("--inpaint-images", type=int, default=64)
    parser.add_argument("--prior-weight", type=float, default=0.003)
    parser.add_argument("--walk-class", type=int, default=-1, help="class of the direction (default: the one most often generated)")
    parser.add_argument("--direction-samples", type=int, default=4000)
    parser.add_argument("--walks", type=int, default=12)
    parser.add_argument("--alpha", type=float, default=4.0)
    parser.add_argument("--alpha-steps", type=int, default=9)
    parser.add_argument("--report", default=None)
    parser.add_argument("--observations", default=None)
    args = parser.parse_args()
    if args.report:
        report(saved_report(args.report, args.observations))
        return
    from lit_gans.checkpoints import load_family

    torch.set_num_threads(1)
    started = time.perf_counter()
    work = Path(args.work)
    checkpoint = Path(args.ckpt) if args.ckpt else trained_checkpoint(work)
    model = load_family(checkpoint).eval()
    projection, proj_images = projection_rows(model, args)
    inpainting, inp_images = inpainting_rows(model, checkpoint, args)
    direction, walk_images = direction_rows(model, args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    n = min(8, args.targets)
    save_image((torch.cat([v[:n] for v in proj_images.values()]) + 1) / 2, RESULTS / "latent_tools_projection.png", nrow=n)
    save_image((torch.cat([v[:8] for v in inp_images.values()]) + 1) / 2, RESULTS / "latent_tools_inpainting.png", nrow=8)
    save_image((walk_images + 1) / 2, RESULTS / "latent_tools_walk.png", nrow=args.alpha_steps)
    settings = {k: v for k, v in vars(args).items() if k not in ("report", "observations")}
    saved = {"machine": machine(1), "settings": settings, "argv": sys.argv[1:], "checkpoint": str(checkpoint),
             "wall_minutes": (time.perf_counter() - started) / 60, "projection": projection, "inpainting": inpainting,
             "direction": direction, "figures": {"projection": "rows: targets, then each projection method's result",
                                                 "inpainting": "rows: originals, masked, " + ", ".join(list(inp_images)[2:])}}
    (work / "results.json").parent.mkdir(parents=True, exist_ok=True)
    (work / "results.json").write_text(json.dumps(saved, indent=1) + "\n")
    report(saved)


if __name__ == "__main__":
    main()
