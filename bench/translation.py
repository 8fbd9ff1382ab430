"""Benchmark: pix2pix, CycleGAN, the context encoder, SRGAN and SinGAN on their offline demos, against baselines.

Each run trains a config through the real CLI in a subprocess (one thread) for a fixed number of generator
iterations, then its last checkpoint is measured on the whole validation split of its data:

- pix2pix (``configs/pix2pix/{fashion_mnist,digits}.yaml``: Canny edges -> item): L1 to the true images (in
  [-1, 1] units, the training loss's), PSNR and SSIM, beside the same network untrained (the issue's baseline),
  the edge map itself as the output, and the mean training image for every input;
- CycleGAN (``configs/cyclegan/{fashion_mnist,digits}.yaml``: sneaker <-> ankle boot, 1 <-> 7): the share of
  translations that the shipped domain classifier labels as the target class (A->B and B->A), beside the
  untrained networks, the inputs left as they are, and the real images of the target class (the ceiling);
  the cycle-reconstruction L1 error;
- the context encoder (``configs/context_encoder/{digits,fashion_mnist}.yaml``: the centre hole): PSNR over the
  missing pixels and SSIM of the centre region, beside the untrained network and the image's mean colour;
- SRGAN (``configs/srgan/photos.yaml``, x4): PSNR/SSIM of the SRResNet (end of pre-training) and of SRGAN on the
  held-out photo's tiles, beside bicubic and nearest-neighbour upsampling;
- SinGAN (``configs/singan/chelsea.yaml``): samples' distance from the image (they should differ) and their 7x7
  patches' distance from the image's (they should match), beside baselines that do not share its patches.

Figures: ``bench/results/translation_<family>_<data>.png`` (pix2pix: edges, translation, truth; CycleGAN: A,
A->B, B, B->A) from the first validation images.

    python bench/translation.py [--runs pix2pix:fashion_mnist:3000,cyclegan:fashion_mnist:3000] [--width 32] [--jobs 2]

Writes bench/results/translation.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fmt, machine, markdown_table, write_results  # noqa: E402
from runs import ROOT, child_result, datamodule_of, last_lines, run_all, saved_report, timed_fit, unpadded  # noqa: E402

RUNS = ("pix2pix:digits:2000,cyclegan:digits:2000,pix2pix:fashion_mnist:3000,cyclegan:fashion_mnist:3000,"
        "context_encoder:digits:2000,context_encoder:fashion_mnist:3000,srgan:photos:3000,singan:chelsea:2500")
RESULTS = ROOT / "bench" / "results"


def val_batches(checkpoint: Path):
    """The model (eval mode), its DataModule's record, and the validation batches of its data."""
    import torch

    from lit_gans.checkpoints import load_family
    from lit_gans.loop import Batch

    torch.set_num_threads(1)
    model = load_family(checkpoint).eval()
    datamodule, recorded = datamodule_of(checkpoint)
    datamodule.setup("fit")
    batches = [Batch.of(b, datamodule.batch_fields) for b in datamodule.val_dataloader()]
    return model, datamodule, recorded, batches


def untrained_like(checkpoint: Path):
    """The checkpoint's family and settings with every network drawn afresh from the papers' initialisation
    (``init_weights``, seed 0), as a run starts."""
    import torch

    from lit_gans.checkpoints import load_family
    from lit_gans.nets.translation import init_weights

    fresh = load_family(checkpoint).eval()
    torch.manual_seed(0)
    for name in fresh.network_names:
        init_weights(getattr(fresh, name))
    return fresh


def mean_scores(pairs) -> dict:
    """Image scores averaged over batches, weighted by their sizes: ``pairs`` of (fake, real)."""
    from lit_gans.families.pix2pix import image_scores

    totals, n = {}, 0
    for fake, real in pairs:
        for k, v in image_scores(fake, real).items():
            totals[k] = totals.get(k, 0.0) + float(v) * len(real)
        n += len(real)
    return {k: v / n for k, v in totals.items()}


def figure(rows, path: Path, n: int = 12, nrow: Optional[int] = None) -> None:
    """Rows of images (each cut to ``n``) in one grid of ``nrow`` images a row (default ``n``: one row each)."""
    import torch

    from lit_gans.families._translation import as_rgb
    from lit_gans.plotting import save_samples

    rows = [r[:n].float() for r in rows]
    if any(r.shape[1] != rows[0].shape[1] for r in rows):
        rows = [as_rgb(r) for r in rows]
    save_samples(torch.cat(rows), path, nrow=nrow or n)


def evaluate_pix2pix(checkpoint: Path, figure_path: Path) -> dict:
    import torch

    model, datamodule, _, batches = val_batches(checkpoint)
    fresh = untrained_like(checkpoint)
    from lit_gans.loop import Batch

    train = datamodule.train_set
    mean_image = Batch.of(train.__getitems__(list(range(len(train)))), datamodule.batch_fields).image.mean(0)
    with torch.no_grad():
        out = {"g_step": model.g_step, "n_val": sum(len(b) for b in batches),
               "trained": mean_scores((model.translate(b.condition), b.image) for b in batches),
               "untrained": mean_scores((fresh.translate(b.condition), b.image) for b in batches),
               "edges_as_output": mean_scores((b.condition, b.image) for b in batches),
               "mean_image": mean_scores((mean_image.expand_as(b.image), b.image) for b in batches)}
        first = batches[0]
        figure([first.condition, model.translate(first.condition), first.image], figure_path)
    return out


def evaluate_cyclegan(checkpoint: Path, figure_path: Path) -> dict:
    import torch
    import torch.nn.functional as F

    from lit_gans.metrics import load_domain_network

    model, datamodule, recorded, batches = val_batches(checkpoint)
    fresh = untrained_like(checkpoint)
    classifier = unpadded(load_domain_network(datamodule.dataset), recorded)
    class_a, class_b = datamodule.class_a, datamodule.class_b

    def shares(translate_a, translate_b) -> dict:
        hits_b = sum(int((classifier(translate_a(b.image)).argmax(1) == class_b).sum()) for b in batches)
        hits_a = sum(int((classifier(translate_b(b.image_b)).argmax(1) == class_a).sum()) for b in batches)
        n = sum(len(b) for b in batches)
        return {"a2b": hits_b / n, "b2a": hits_a / n, "mean": (hits_a + hits_b) / (2 * n)}

    with torch.no_grad():
        out = {"g_step": model.g_step, "n_val": sum(len(b) for b in batches), "class_a": class_a, "class_b": class_b,
               "trained": shares(lambda x: model.translate(x, "a2b"), lambda x: model.translate(x, "b2a")),
               "untrained": shares(lambda x: fresh.translate(x, "a2b"), lambda x: fresh.translate(x, "b2a")),
               "inputs_as_output": shares(lambda x: x, lambda x: x),
               "real_targets": {"a2b": sum(int((classifier(b.image_b).argmax(1) == class_b).sum()) for b in batches)
                                / sum(len(b) for b in batches),
                                "b2a": sum(int((classifier(b.image).argmax(1) == class_a).sum()) for b in batches)
                                / sum(len(b) for b in batches)},
               "cycle_l1": sum(0.5 * float(F.l1_loss(model.translate(model.translate(b.image, "a2b"), "b2a"), b.image)
                                           + F.l1_loss(model.translate(model.translate(b.image_b, "b2a"), "a2b"), b.image_b))
                               * len(b) for b in batches) / sum(len(b) for b in batches)}
        first = batches[0]
        figure([first.image, model.translate(first.image, "a2b"), first.image_b, model.translate(first.image_b, "b2a")],
               figure_path)
    return out


def evaluate_context_encoder(checkpoint: Path, figure_path: Path) -> dict:
    import torch

    from lit_gans.families.context_encoder import hole_psnr, mean_fill
    from lit_gans.families._translation import ssim
    from lit_gans.nets.inpainting import apply_mask

    model, _, _, batches = val_batches(checkpoint)
    fresh = untrained_like(checkpoint)
    generator = torch.Generator().manual_seed(0)
    totals: dict[str, float] = {}
    n = 0
    with torch.no_grad():
        for b in batches:
            mask = model.draw_mask(len(b), generator=generator)
            made = {"trained": model.translate(b.image, mask=mask), "untrained": fresh.translate(b.image, mask=mask),
                    "mean_fill": mean_fill(b.image, mask)}
            for name, x in made.items():
                totals[f"{name}_psnr"] = totals.get(f"{name}_psnr", 0.0) + float(hole_psnr(x, b.image, mask)) * len(b)
                if model.mask_kind == "center":
                    score = ssim((model.region(x).clamp(-1, 1) + 1) / 2, (model.region(b.image) + 1) / 2)
                    totals[f"{name}_ssim"] = totals.get(f"{name}_ssim", 0.0) + float(score) * len(b)
            n += len(b)
        first = batches[0].image
        mask = model.draw_mask(len(first), generator=torch.Generator().manual_seed(0))
        figure([apply_mask(first, mask), model.translate(first, mask=mask), first], figure_path)
    return {"g_step": model.g_step, "n_val": n, "mask": model.mask_kind, **{k: v / n for k, v in totals.items()}}


def evaluate_srgan(checkpoint: Path, figure_path: Path) -> dict:
    """SRGAN's last checkpoint and, beside it, the SRResNet it was pre-trained into (the checkpoint at the end of
    pre-training), on every tile of the held-out photo: PSNR/SSIM on the luma channel inside a ``scale`` px border."""
    import torch
    import torch.nn.functional as F

    from lit_gans.checkpoints import load_family
    from lit_gans.families.srgan import sr_scores

    model, datamodule, _, batches = val_batches(checkpoint)
    srresnet = load_family(checkpoint.parent / f"g{model.pretrain_steps:07d}.ckpt").eval()
    scale = model.sr_args["scale"]
    made = {"srgan": model.translate, "srresnet": srresnet.translate, "bicubic": model.bicubic,
            "nearest": lambda x: F.interpolate(x, scale_factor=scale, mode="nearest")}
    totals: dict[str, float] = {}
    n = 0
    with torch.no_grad():
        for b in batches:
            for name, upsample in made.items():
                for k, v in sr_scores(upsample(b.condition), b.image, scale).items():
                    totals[f"{name}_{k}"] = totals.get(f"{name}_{k}", 0.0) + float(v) * len(b)
            n += len(b)
        lr, hr = datamodule.val_photo_pair()
        top, left = hr.shape[-2] // 2 - 64, hr.shape[-1] // 2 - 64  # a 128 px window of the held-out photo's centre
        window = hr[..., top:top + 128, left:left + 128]
        small = lr[..., top // scale:(top + 128) // scale, left // scale:(left + 128) // scale]
        figure([model.bicubic(small), srresnet.translate(small), model.translate(small), window], figure_path, n=1, nrow=4)
    return {"g_step": model.g_step, "pretrain_steps": model.pretrain_steps, "n_val": n, "val_photo": datamodule.val_photo,
            **{k: v / n for k, v in totals.items()}}


def evaluate_singan(checkpoint: Path, figure_path: Path) -> dict:
    """SinGAN's samples against its one image: how far they are from it (they should differ), how far their 7x7
    patches are from the image's nearest ones (they should match), against images that do not share its patches."""
    import torch
    import torch.nn.functional as F

    from datamodules.superres import load_photo, photo_tensor, to_unit
    from lit_gans.families.singan import patch_distance
    from lit_gans.loop import Batch

    model, datamodule, _, batches = val_batches(checkpoint)
    real = Batch.of(next(iter(datamodule.val_dataloader())), datamodule.batch_fields).image[:1]
    samples = model.sample(16, generator=torch.Generator().manual_seed(0))
    other_photo = "coffee" if datamodule.photo != "coffee" else "rocket"
    other = F.interpolate(to_unit(photo_tensor(load_photo(other_photo))).unsqueeze(0), size=real.shape[-2:],
                          mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)
    blurred = F.interpolate(F.interpolate(real, scale_factor=0.25, mode="bilinear", antialias=True), size=real.shape[-2:],
                            mode="bilinear", align_corners=False)
    noise = (torch.randn(1, *real.shape[1:], generator=torch.Generator().manual_seed(0)) * real.std() + real.mean()).clamp(-1, 1)
    shifted = torch.roll(real, shifts=(real.shape[-2] // 2, real.shape[-1] // 2), dims=(-2, -1))  # the image, rearranged
    pairwise = torch.cdist(samples.flatten(1), samples.flatten(1), p=1) / samples[0].numel()
    out = {"g_step": model.g_step, "sizes": model.sizes, "photo": datamodule.photo,
           "rec_rmse": float(F.mse_loss(model.reconstruct(), real).sqrt()),
           "sample_distance": float((samples - real).abs().mean()),
           "sample_diversity": float(pairwise.sum() / (len(samples) * (len(samples) - 1))),
           "patch_distance": {"samples": float(patch_distance(samples, real)),
                              "image_rolled": float(patch_distance(shifted, real)),
                              "image_blurred": float(patch_distance(blurred, real)),
                              f"other_photo_{other_photo}": float(patch_distance(other, real)),
                              "noise_same_mean_std": float(patch_distance(noise, real))}}
    figure([real, samples[:7]], figure_path, n=8, nrow=4)
    big = model.sample(1, size=(real.shape[-2], real.shape[-1] * 2), generator=torch.Generator().manual_seed(1))
    figure([big], figure_path.with_name(figure_path.stem + "_wide.png"), n=1, nrow=1)
    return out


EVALUATORS = {"pix2pix": evaluate_pix2pix, "cyclegan": evaluate_cyclegan, "context_encoder": evaluate_context_encoder,
              "srgan": evaluate_srgan, "singan": evaluate_singan}


def evaluate(checkpoint: Path, family: str, data: str) -> dict:
    path = RESULTS / f"translation_{family}_{data}.png"
    return EVALUATORS[family](checkpoint, path) | {"figure": path.name}


def report(saved: dict) -> None:
    s = saved["settings"]
    p2p, cyc, ce, sr, sg = [], [], [], [], []
    for r in saved["runs"]:
        label = r.get("label") or f"{r['family']} {r['data']}"
        if "failed" in r:
            {"pix2pix": p2p, "cyclegan": cyc, "srgan": sr, "singan": sg}.get(r["family"], ce).append([label, "failed: " + str(r["failed"])[:120]] + [""] * 6)
            continue
        if r["family"] == "singan":
            pd = r["patch_distance"]
            baselines = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in pd.items() if k != "samples")
            sg.append([label, r["g_step"], fmt(r["cpu_minutes"]), " ".join(f"{h}x{w}" for h, w in r["sizes"]),
                       f"{r['rec_rmse']:.3f}", f"{r['sample_distance']:.3f}", f"{r['sample_diversity']:.3f}",
                       f"**{pd['samples']:.3f}**", baselines])
        elif r["family"] == "srgan":
            cells = [f"{r[f'{k}_psnr']:.2f} / {r[f'{k}_ssim']:.3f}" for k in ("srresnet", "srgan", "bicubic", "nearest")]
            sr.append([label, f"{r['pretrain_steps']} + {r['g_step'] - r['pretrain_steps']}", fmt(r["cpu_minutes"]),
                       f"{r['n_val']} tiles of `{r['val_photo']}`", f"**{cells[0]}**", f"**{cells[1]}**", *cells[2:],
                       f"{r['srresnet_psnr'] - r['bicubic_psnr']:+.2f} / {r['srgan_psnr'] - r['bicubic_psnr']:+.2f}"])
        elif r["family"] == "context_encoder":
            cells = [f"{r[f'{k}_psnr']:.2f}" + (f" / {r[f'{k}_ssim']:.3f}" if f"{k}_ssim" in r else "")
                     for k in ("trained", "untrained", "mean_fill")]
            ce.append([label, r["g_step"], fmt(r["cpu_minutes"]), r["n_val"], r["mask"], f"**{cells[0]}**", *cells[1:],
                       f"{r['trained_psnr'] - r['mean_fill_psnr']:+.2f}"])
        elif r["family"] == "pix2pix":
            t, u, e, m = r["trained"], r["untrained"], r["edges_as_output"], r["mean_image"]
            p2p.append([label, r["g_step"], fmt(r["cpu_minutes"]), r["n_val"],
                        f"**{t['l1']:.3f}** / {t['psnr']:.2f} / {t['ssim']:.3f}", f"{u['l1']:.3f} / {u['psnr']:.2f} / {u['ssim']:.3f}",
                        f"{e['l1']:.3f} / {e['psnr']:.2f} / {e['ssim']:.3f}", f"{m['l1']:.3f} / {m['psnr']:.2f} / {m['ssim']:.3f}",
                        f"{t['l1'] / u['l1']:.3f}"])
        else:
            t, u, i, real = r["trained"], r["untrained"], r["inputs_as_output"], r["real_targets"]
            cyc.append([label, r["g_step"], fmt(r["cpu_minutes"]), r["n_val"],
                        f"**{t['a2b']:.3f}** / **{t['b2a']:.3f}**", f"{u['a2b']:.3f} / {u['b2a']:.3f}",
                        f"{i['a2b']:.3f} / {i['b2a']:.3f}", f"{real['a2b']:.3f} / {real['b2a']:.3f}", f"{r['cycle_l1']:.3f}"])
    body = [
        f"Machine: {saved['machine']}; {s['jobs']} runs in parallel, each `OMP_NUM_THREADS=1`.",
        "",
        f"Command: `python bench/translation.py {' '.join(saved['argv'])}` ({saved['wall_minutes']:.1f} wall minutes, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}).",
        "",
        f"Protocol: each `configs/<family>/<data>.yaml` through `lit-gans fit` for the generator iterations listed (the "
        f"config's learning-rate schedule, constant then linear decay, compressed to that length), seed {s['seed']}, "
        + ("the configs' widths (pix2pix 32, CycleGAN 16)" if s['width'] is None else f"`g_width = d_width = {s['width']}`")
        + ", every other setting the config's; the last checkpoint is "
        + "measured on the whole validation split (Fashion-MNIST: the test split's items of the classes used).",
        "",
        "## pix2pix: Canny edges -> item",
        "",
        "L1 to the true image in [-1, 1] units (lower is better) / PSNR dB / SSIM (higher is better); the untrained "
        "network is the same config freshly initialised (seed 0). The last column: trained L1 over untrained L1.",
        "",
        *markdown_table(["run", "G steps", "CPU minutes", "val images", "trained L1 / PSNR / SSIM", "untrained",
                         "edge map as output", "mean training image", "L1 ratio"], p2p),
        "",
        "## CycleGAN: unpaired class A <-> class B",
        "",
        "Share of translations that the shipped domain classifier (read inside the padding, as it reads real images) "
        "labels as the target class, A->B / B->A; target (the issue's): >= 0.80. Baselines: the untrained networks, the "
        "inputs left as they are, and the real images of the target class (the classifier's own accuracy, the ceiling). "
        "Cycle L1: mean of |G_BA(G_AB(a)) - a| and |G_AB(G_BA(b)) - b|, [-1, 1] units.",
        "",
        *markdown_table(["run", "G steps", "CPU minutes", "val images per domain", "trained A->B / B->A", "untrained",
                         "input as output", "real targets", "cycle L1"], cyc),
        "",
        "## SRGAN: x4 super-resolution of a held-out photo",
        "",
        "PSNR (dB) / SSIM on the luma channel with a 4 px border cropped (the papers' protocol), over every 32 px tile "
        "of the held-out photo; the SRResNet is the checkpoint at the end of pre-training (pixel MSE), SRGAN the last one "
        "(content loss: the pixel MSE, no VGG19 weights being downloaded, plus 1e-3 x the GAN loss). Baselines: bicubic "
        "and nearest-neighbour upsampling. The paper's Set5 x4 figures, for scale: bicubic 28.43, SRResNet 32.05, SRGAN "
        "29.40 dB (96 px crops of 350,000 ImageNet images, 10^6 + 2 x 10^5 iterations). The last column: SRResNet / SRGAN "
        "minus bicubic PSNR.",
        "",
        *markdown_table(["run", "G steps (pre-training + GAN)", "CPU minutes", "validation", "SRResNet", "SRGAN",
                         "bicubic", "nearest", "gain over bicubic"], sr),
        "",
        "## SinGAN: one image",
        "",
        "On the training image at its full size: the reconstruction's RMS error from the fixed noise ([-1, 1] units); "
        "16 random samples' mean absolute difference from the image (they should differ: the issue's threshold, 0.05 "
        "here) and from each other (diversity); the mean distance (RMS per pixel) from each 7x7 patch of the samples "
        "to the image's nearest patch (their patch statistics should match), beside the same for the image rolled by "
        "half its size (its own patches, rearranged: the floor), the image blurred (x4 down and up), another bundled "
        "photo, and noise of the image's mean and spread.",
        "",
        *markdown_table(["run", "G steps", "CPU minutes", "scales", "reconstruction RMSE", "sample distance",
                         "sample diversity", "patch distance", "baselines' patch distance"], sg),
        "",
        "## Context encoder: filling the centre",
        "",
        "PSNR (dB) over the missing pixels / SSIM of the centre region, on the whole validation split, one mask per "
        "image (the centre: the same for all). Baselines: the untrained network, and each image's mean colour over its "
        "known pixels (the issue's mean fill). The last column: trained minus mean-fill PSNR.",
        "",
        *markdown_table(["run", "G steps", "CPU minutes", "val images", "mask", "trained PSNR / SSIM", "untrained",
                         "mean fill", "PSNR gain"], ce),
        "",
        "Figures: " + ", ".join(f"`{r['figure']}`" for r in saved["runs"] if "figure" in r)
        + " (pix2pix rows: edges, translation, truth; CycleGAN rows: A, A->B, B, B->A; context encoder rows: with the "
        "hole, filled, truth; SRGAN, left to right: bicubic, SRResNet, SRGAN, truth, on a 128 px window of the held-out "
        "photo; SinGAN: the image, then 7 samples, and `_wide.png`, a sample twice as wide).",
    ]
    if s.get("observations"):
        body += ["", "## Reading", "", s["observations"]]
    write_results("translation", "Image-to-image families on their offline demos against trivial baselines", body, saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=RUNS, help="family:data:generator_iterations, comma-separated")
    parser.add_argument("--width", type=int, default=None, help="g_width = d_width of every run (default: the configs')")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", default="/tmp/lit_gans_translation")
    parser.add_argument("--report", default=None, help="rebuild the table from a results .json instead of running")
    parser.add_argument("--observations", default=None, help="with --report: a person's reading (text or a file)")
    parser.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(evaluate(Path(args.child[0]), args.child[1], args.child[2])), flush=True)
        return
    if args.report:
        report(saved_report(args.report, args.observations))
        return
    work = Path(args.work)

    def run(item: str, lock: threading.Lock, started: float) -> dict:
        family, data, steps = item.split(":")
        steps = int(steps)
        run_dir, config = work / f"{family}_{data}", f"configs/{family}/{data}.yaml"
        with lock:
            print(f"[{(time.perf_counter() - started) / 60:5.1f} min] start {family} {data}", flush=True)
        half = str(steps // 2)
        overrides = [] if args.width is None else ["--model.init_args.g_width", str(args.width), "--model.init_args.d_width", str(args.width)]
        if family == "srgan":  # the SRResNet: the checkpoint at the end of pre-training (the config's length)
            overrides += ["--checkpoint.every_n_g_steps", "1000", "--checkpoint.save_top_k", "-1"]
        # pix2pix's and CycleGAN's schedule, compressed to this length (the others keep the config's)
        for which in ("g_scheduler", "d_scheduler") if family in ("pix2pix", "cyclegan") else ():
            overrides += [f"--model.init_args.{which}.init_args.constant_steps", half,
                          f"--model.init_args.{which}.init_args.decay_steps", str(steps - steps // 2)]
        result = {"family": family, "data": data, "config": config,
                  **timed_fit(config, run_dir, None, overrides, seed=args.seed, steps=steps)}
        ckpt = run_dir / "ckpt" / "last.ckpt"
        if result["returncode"] != 0 or not ckpt.is_file():
            result["failed"] = f"training exit {result['returncode']}: {last_lines(run_dir / 'train.log')}"
        else:
            result.update(child_result(__file__, ["--child", str(ckpt), family, data]))
        with lock:
            print(f"[{(time.perf_counter() - started) / 60:5.1f} min] done {family} {data}: "
                  + json.dumps({k: v for k, v in result.items() if k in ("g_step", "trained", "failed")}), flush=True)
        return result

    report(run_all(run, args.runs.split(","), args, work, machine(threads=1)))


if __name__ == "__main__":
    main()
