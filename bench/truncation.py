"""Benchmark: BigGAN's truncation trick (Brock et al. 2019) on a trained generator: what sample quality
is won and what variety is lost as z is drawn from a narrower truncated normal.

The generator is a checkpoint (``--ckpt``) or one trained here: ``lit-gans fit --config <config>`` in a
subprocess for ``--steps`` generator iterations (default ``configs/dcgan/fashion_mnist.yaml`` at
``g_width = d_width = 32``, seed 0, a CSV logger, checkpoints and sample grids only at the end,
in-training metrics off, ``OMP_NUM_THREADS=1``); every other setting is the config's. The checkpoint
is loaded with ``lit_gans.checkpoints.load_family`` (its EMA generator when it has one) and, for each
threshold t of ``--thresholds`` (``none``: z ~ N(0, I) as in training), sampled with
``model.sample(n, truncation=t)`` (each entry of z from N(0, 1) conditioned on ``|z| <= t``) and
measured, in one process, in the feature space of the data's shipped domain network:

* domain FID and the classifier scores (confidence = mean top softmax probability, classes predicted,
  KL of the predicted-class histogram to uniform): ``ModelEvaluation(datamodule, metrics=['fid',
  'classifier'], n_samples, n_real)`` with the DataModule recorded in the checkpoint (real statistics:
  ``--n-real`` training images), seed 0; for a class-conditional model also ``class_accuracy`` where the
  metrics have it (samples cycle through the classes, as ``sample(n)`` asks for them);
* variety: ``pixel spread``, the per-pixel standard deviation across ``--n-diversity`` samples (images
  in [-1, 1]) averaged over pixels, and ``feature distance``, the mean pairwise Euclidean distance of
  their domain features;
* the same numbers for ``--n-samples`` held-out real images (the DataModule's validation split: the
  Fashion-MNIST test set), the reference a generator is compared with.

    python bench/truncation.py                     # train the default (about 7-10 minutes on 2 CPU cores), then sweep
    python bench/truncation.py --ckpt runs/dcgan/fashion_mnist/.../last.ckpt       # sweep a checkpoint
    python bench/truncation.py --config configs/acgan/fashion_mnist.yaml --steps 3000   # a class-conditional family

Writes bench/results/<name>.md and .json, <name>.png (FID, confidence and variety against the
threshold) and <name>_samples.png (a row per threshold, the same uniforms behind each column, so a
column shows one sample shrinking towards the mode). ``--name`` defaults to ``truncation`` for the
default run and to ``truncation_<family>_<data>`` otherwise (e.g. ``truncation_acgan_fashionmnist``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from runs import datamodule_of  # noqa: E402

DEFAULT_CONFIG = "configs/dcgan/fashion_mnist.yaml"
DEFAULT_WIDTH = 32  # g_width = d_width of the default run (the config's 64 is about 4x slower on a CPU)
THRESHOLDS = "0.25,0.5,0.75,1.0,1.5,2.0,none"
GRID_COLUMNS = 12


def train(args: argparse.Namespace, width: Optional[int]) -> tuple[Path, dict[str, Any]]:
    """Train ``args.config`` for ``args.steps`` generator iterations through ``lit-gans fit`` (``runs.timed_fit``)."""
    from runs import last_lines, timed_fit

    run_dir = Path(args.work)
    widths = ["--model.init_args.g_width", str(width), "--model.init_args.d_width", str(width)] if width else []
    load = os.getloadavg()[0]
    run = timed_fit(args.config, run_dir, None, widths, seed=args.seed, steps=args.steps)
    if run["returncode"] != 0:
        raise SystemExit(f"training failed (exit {run['returncode']}), see {run_dir / 'train.log'}: {last_lines(run_dir / 'train.log')}")
    flags = run["command"].replace(str(run_dir), "RUN")
    return run_dir / "ckpt" / "last.ckpt", {"command": f"OMP_NUM_THREADS=1 lit-gans {flags}", "train_minutes": run["wall_minutes"],
                                            "load_before": load, "load_after": os.getloadavg()[0]}


# ---------------------------------------------------------------------------------------------- measuring
class HeldOut:
    """Held-out real images in the shape of a model for ``ModelEvaluation`` (``sample`` and ``device``)."""

    def __init__(self, images: Any):
        import torch

        self.images, self.at, self.device = images, 0, torch.device("cpu")

    def sample(self, n: int, **_: Any) -> Any:
        part = self.images[self.at : self.at + n]
        self.at += n
        return part


def variety(images: Any, network: Optional[Any]) -> dict[str, float]:
    """``pixel_spread`` (per-pixel std across the images, averaged) and ``feature_distance`` (mean pairwise
    distance of their features in ``network``, when given)."""
    import torch

    out = {"pixel_spread": float(images.float().std(0).mean())}
    if network is not None:
        with torch.no_grad():
            features = torch.cat([network.features(part) for part in images.split(250)]).double()
        n = len(features)
        out["feature_distance"] = float(torch.cdist(features, features).sum() / (n * (n - 1)))
    return out


def label(threshold: Optional[float]) -> str:
    return "none" if threshold is None else f"{threshold:g}"


def sweep(args: argparse.Namespace, checkpoint: Path) -> dict[str, Any]:
    import torch

    from lit_gans.checkpoints import load_family
    from lit_gans.metrics import METRICS, ModelEvaluation, load_domain_network
    from lit_gans.sampling import Truncated

    torch.set_num_threads(1)
    model = load_family(checkpoint).eval()
    datamodule, recorded = datamodule_of(checkpoint)
    if args.name is None:  # another model than the default run's: named apart
        data = recorded["class_path"].rsplit(".", 1)[-1].removesuffix("DataModule")
        args.name = f"truncation_{type(model).__name__}_{data}".lower()
    conditional = model.latent_spec.num_classes > 0
    metrics = ["fid", "classifier"] + (["class_accuracy"] if conditional and "class_accuracy" in METRICS else [])
    evaluation = ModelEvaluation(datamodule, metrics=metrics, n_samples=args.n_samples, n_real=args.n_real)
    if evaluation.feature is None:
        raise SystemExit(f"{type(datamodule).__name__} has no feature network for FID here; see lit_gans.metrics.features")
    evaluation.prepare(model.device)
    network = load_domain_network(evaluation.feature) if evaluation.feature != "inception" else None
    feature = evaluation.feature
    thresholds = [None if t.strip() == "none" else float(t) for t in args.thresholds.split(",")]
    rows = []
    for threshold in thresholds:
        start = time.perf_counter()
        sampled = model if threshold is None else Truncated(model, threshold)
        values = evaluation.evaluate(sampled, seed=0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            images = torch.cat([sampled.sample(min(250, args.n_diversity - i)) for i in range(0, args.n_diversity, 250)])
        row = {"threshold": threshold, "outside": None if threshold is None else math.erfc(threshold / math.sqrt(2)),
               **{k.split("/", 1)[1]: v for k, v in values.items()}, **variety(images, network),
               "seconds": time.perf_counter() - start}
        rows.append(row)
        print(f"truncation {label(threshold):>5}: " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()
                                                               if isinstance(v, float) and k != "threshold"), flush=True)

    # the reference: held-out real images under the same protocol
    datamodule.setup("fit")
    held = datamodule.val_set
    n = min(args.n_samples, len(held))
    order = torch.randperm(len(held), generator=torch.Generator().manual_seed(0))[:n]
    real = torch.stack([held[int(i)][0] for i in order])
    reference = ModelEvaluation(datamodule, metrics=["fid", "classifier"], n_samples=n, n_real=args.n_real)
    reference.prepare(model.device)
    real_values = {k.split("/", 1)[1]: v for k, v in reference.evaluate(HeldOut(real), seed=0).items()}
    real_row = {"held_out": n, **real_values, **variety(real[: args.n_diversity], network)}

    figure = samples_figure(model, thresholds, RESULTS_DIR() / f"{args.name}_samples.png")
    return {"checkpoint": str(checkpoint), "family": type(model).__name__, "g_step": model.g_step,
            "generator": "EMA generator" if model.ema_generator is not None else "generator",
            "data": recorded, "feature": feature, "metrics": metrics, "rows": rows, "real": real_row,
            "samples_figure": figure}


def RESULTS_DIR() -> Path:
    from bench.common import RESULTS

    return RESULTS


# ---------------------------------------------------------------------------------------------- figures
def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def samples_figure(model: Any, thresholds: list[Optional[float]], path: Path) -> str:
    """A row per threshold, GRID_COLUMNS samples each; column j reads the same uniforms in every row
    (``none`` is the untruncated normal of those uniforms), and for a conditional model asks for class
    j mod K, so a column shows one sample as the threshold narrows."""
    import torch
    from PIL import Image, ImageDraw
    from torchvision.utils import make_grid

    spec = model.latent_spec
    rows = []
    for threshold in thresholds:
        latent = spec.draw(GRID_COLUMNS, generator=torch.Generator().manual_seed(1), labels=False,
                           truncation=math.inf if threshold is None else threshold)
        if spec.num_classes:
            latent = latent.replace(labels=torch.arange(GRID_COLUMNS) % spec.num_classes)
        rows.append(model.sample(GRID_COLUMNS, latent=latent).float().cpu())
    images = torch.cat(rows)
    if images.shape[-1] < 48:
        images = torch.nn.functional.interpolate(images, scale_factor=2, mode="nearest")
    grid = make_grid(images.clamp(-1, 1) * 0.5 + 0.5, nrow=GRID_COLUMNS, padding=2, pad_value=1.0)
    panel = Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
    left, top = 70, 26
    canvas = Image.new("RGB", (left + panel.width, top + panel.height), "white")
    canvas.paste(panel, (left, top))
    draw = ImageDraw.Draw(canvas)
    draw.text((left, 5), f"{type(model).__name__}, g_step {model.g_step}: z truncated at t (rows); "
              "the same uniforms in each column", fill="black", font=_font(13))
    row_height = (panel.height - 2) / len(thresholds)
    for i, threshold in enumerate(thresholds):
        draw.text((6, top + 2 + i * row_height + row_height / 2 - 8), f"t = {label(threshold)}", fill="black", font=_font(13))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return str(path.relative_to(ROOT))


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low
    step = 10 ** math.floor(math.log10(span / count))
    for factor in (1, 2, 2.5, 5, 10):
        if span / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def curves_figure(result: dict[str, Any], path: Path) -> str:
    """One panel per quantity against the threshold: the finite thresholds joined by a line on a linear
    axis, ``none`` as a separate point right of a break, the held-out real images' value dashed."""
    from PIL import Image, ImageDraw

    panels = [("domain FID (lower is better)", "fid"), ("classifier confidence", "confidence"),
              ("pixel spread (variety)", "pixel_spread")]
    if any("feature_distance" in row for row in result["rows"]):
        panels.append(("feature distance (variety)", "feature_distance"))
    rows, real = result["rows"], result["real"]
    finite = [r for r in rows if r["threshold"] is not None]
    untruncated = [r for r in rows if r["threshold"] is None]
    x_max = max([r["threshold"] for r in finite] or [1.0])
    width, height, pad_left, pad_right, pad_top, pad_bottom = 330, 250, 58, 16, 30, 42
    canvas = Image.new("RGB", (width * len(panels), height), "white")
    draw = ImageDraw.Draw(canvas)
    font, small = _font(13), _font(11)
    for p, (title, key) in enumerate(panels):
        x0, x1 = p * width + pad_left, (p + 1) * width - pad_right
        y0, y1 = pad_top, height - pad_bottom
        none_x = x1 - 8
        plot_x1 = x1 - 40 if untruncated else x1

        def px(t: float) -> float:
            return x0 + (plot_x1 - x0) * t / x_max

        values = [r.get(key) for r in rows if r.get(key) is not None] + ([real[key]] if real.get(key) is not None else [])
        if not values:
            continue
        low, high = min(values), max(values)
        margin = 0.08 * (high - low) if high > low else max(abs(high) * 0.1, 1e-3)
        low, high = low - margin, high + margin

        def py(v: float) -> float:
            return y1 - (y1 - y0) * (v - low) / (high - low)

        draw.text((p * width + 10, 6), title, fill="black", font=font)
        draw.line([(x0, y0), (x0, y1), (x1, y1)], fill="black")
        for tick in _ticks(low, high):
            draw.line([(x0 - 4, py(tick)), (x0, py(tick))], fill="black")
            draw.text((p * width + 4, py(tick) - 7), f"{tick:.4g}", fill="black", font=small)
        for tick in _ticks(0, x_max, 4):
            draw.line([(px(tick), y1), (px(tick), y1 + 4)], fill="black")
            draw.text((px(tick) - 8, y1 + 6), f"{tick:g}", fill="black", font=small)
        if untruncated:
            draw.text((none_x - 14, y1 + 6), "none", fill="black", font=small)
            draw.line([(plot_x1 + 12, y1 - 4), (plot_x1 + 18, y1 + 4)], fill="black")  # the axis break
        draw.text(((x0 + x1) / 2 - 55, y1 + 22), "truncation threshold t", fill="black", font=small)
        if real.get(key) is not None:  # dashed: the held-out real images
            y = py(real[key])
            for x in range(int(x0), int(x1), 10):
                draw.line([(x, y), (min(x + 5, x1), y)], fill=(0, 140, 0))
            draw.text((x0 + 4, y - 15), "real (held out)", fill=(0, 140, 0), font=small)
        points = [(px(r["threshold"]), py(r[key])) for r in finite if r.get(key) is not None]
        if len(points) > 1:
            draw.line(points, fill=(30, 80, 200), width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(30, 80, 200))
        for r in untruncated:
            if r.get(key) is not None:
                x, y = none_x, py(r[key])
                draw.rectangle([x - 4, y - 4, x + 4, y + 4], outline=(200, 40, 40), width=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return str(path.relative_to(ROOT))


# ---------------------------------------------------------------------------------------------- report
def report(saved: dict[str, Any]) -> None:
    from bench.common import markdown_table, write_results

    settings, result = saved["settings"], saved["result"]
    name = settings["name"]
    figure = curves_figure(result, RESULTS_DIR() / f"{name}.png")
    feature = result["feature"]
    training = saved.get("training")
    rows = []
    has_accuracy = any("class_accuracy" in r for r in result["rows"])
    for r in result["rows"]:
        rows.append([label(r["threshold"]), "n/a" if r["outside"] is None else f"{100 * r['outside']:.1f} %",
                     r.get("fid"), r.get("confidence"), int(r["classes"]) if "classes" in r else None, r.get("class_kl"),
                     *([r.get("class_accuracy")] if has_accuracy else []), r.get("pixel_spread"), r.get("feature_distance")])
    real = result["real"]
    rows.append([f"real ({real['held_out']} held out)", "", real.get("fid"), real.get("confidence"),
                 int(real["classes"]) if "classes" in real else None, real.get("class_kl"),
                 *([None] if has_accuracy else []), real.get("pixel_spread"), real.get("feature_distance")])
    header = ["truncation t", "P(abs(z_i) > t) under N(0, 1)", f"domain FID ({feature})",
              "classifier confidence", "classes predicted", "class KL to uniform",
              *(["class accuracy"] if has_accuracy else []), "pixel spread", "feature distance"]
    finite = [r for r in result["rows"] if r["threshold"] is not None and r.get("fid") is not None]
    plain = next((r for r in result["rows"] if r["threshold"] is None), None)
    invocation = f"python bench/truncation.py {' '.join(saved['argv'])}".rstrip()
    data = result["data"]
    width = f" at g_width = d_width = {settings['width']}" if settings.get("width") else ""
    body = [
        f"Machine: {saved['machine']}; one process, `OMP_NUM_THREADS=1`"
        + (f" (1-minute load average {training['load_before']:.1f} when training started, {training['load_after']:.1f} "
           "when it ended: the cores were shared with other work)" if training else "") + ".",
        "",
        f"Invocation: `{invocation}` ({saved['wall_minutes']:.1f} wall minutes"
        + (f": training {training['train_minutes']:.1f}, the sweep {saved['sweep_minutes']:.1f})" if training
           else f", the sweep of checkpoint `{result['checkpoint']}`)"),
        "",
        "Protocol: "
        + (f"`{training['command']}` (RUN: a scratch folder), i.e. `{settings['config']}` for {settings['steps']:,} "
           f"generator iterations{width}, every other setting the config's. " if training else "")
        + f"{result['family']} at g_step {result['g_step']:,} ({result['generator']}), on "
        f"`{data['class_path']}` ({', '.join(f'{k}={v}' for k, v in data['init_args'].items() if k not in ('num_workers', 'pin_memory'))}). "
        f"For each threshold t, z is drawn from N(0, 1) truncated to [-t, t] entry by entry "
        "(`model.sample(n, truncation=t)`, BigGAN's truncation trick; `none` is z ~ N(0, I) as in training); "
        f"`ModelEvaluation(datamodule, metrics={result['metrics']}, n_samples={settings['n_samples']}, "
        f"n_real={settings['n_real']})` gives the domain FID against {settings['n_real']:,} training images and the "
        f"classifier scores (confidence: mean top softmax probability) in the shipped `{feature}` network, seed 0. "
        f"Variety on {settings['n_diversity']:,} samples (seed 1): pixel spread is the per-pixel standard deviation "
        "across them (images in [-1, 1]) averaged over pixels; feature distance the mean pairwise Euclidean "
        f"distance of their `{feature}` features. The last row measures held-out real images (the DataModule's "
        "validation split) the same way. FIDs of so few samples are biased upwards: they are for comparing these "
        "rows, not with published numbers (nor with Inception FIDs).",
        "",
        *markdown_table(header, rows),
        "",
    ]
    if finite:
        best = min(finite + ([plain] if plain else []), key=lambda r: r["fid"])
        lines = [f"- Lowest FID: t = {label(best['threshold'])} ({best['fid']:.3g})"
                 + (f"; the lowest of a truncated t: t = {label(min(finite, key=lambda r: r['fid'])['threshold'])} "
                    f"({min(r['fid'] for r in finite):.3g})" if best is plain else "") + "."]
        if plain is not None:
            narrow = min(finite, key=lambda r: r["threshold"])
            lines.append(
                f"- From untruncated to t = {narrow['threshold']:g}: FID {plain['fid']:.3g} -> {narrow['fid']:.3g}, confidence "
                f"{plain['confidence']:.3f} -> {narrow['confidence']:.3f}, classes predicted {int(plain['classes'])} -> "
                f"{int(narrow['classes'])}, class KL {plain['class_kl']:.2f} -> {narrow['class_kl']:.2f}, pixel spread "
                f"{plain['pixel_spread']:.3f} -> {narrow['pixel_spread']:.3f} (real images: {real['pixel_spread']:.3f}).")
        body += lines + [""]
    if settings.get("observations"):
        body += ["Reading of the figures (a person's, written after the run): " + settings["observations"], ""]
    body += [f"Figures: [{Path(figure).name}]({Path(figure).name}) (FID, confidence and variety against t; the square "
             "is `none`, the dashed line the held-out real images), "
             f"[{Path(result['samples_figure']).name}]({Path(result['samples_figure']).name}) (a row per t, the same "
             "uniforms behind each column)."]
    write_results(name, f"Truncation trick: quality against variety ({result['family']}, {data['class_path'].rsplit('.', 1)[-1]})",
                  body, {**saved, "figure": figure})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default=None, help="sweep this checkpoint instead of training one")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"config to train (default {DEFAULT_CONFIG})")
    parser.add_argument("--steps", type=int, default=600,
                        help="generator iterations of the run trained here (default 600: 7 to 10 minutes in all on 2 "
                             "loaded CPU cores)")
    parser.add_argument("--width", type=int, default=None,
                        help=f"g_width = d_width of the run (default {DEFAULT_WIDTH} for the default config, the config's "
                             "otherwise; 0: the config's)")
    parser.add_argument("--seed", type=int, default=0, help="seed_everything of the run")
    parser.add_argument("--thresholds", default=THRESHOLDS, help=f"comma-separated, 'none' for untruncated (default {THRESHOLDS})")
    parser.add_argument("--n-samples", type=int, default=2000, help="generated samples per threshold for FID and the classifier")
    parser.add_argument("--n-real", type=int, default=2000, help="training images of the FID reference")
    parser.add_argument("--n-diversity", type=int, default=1000, help="samples per threshold for the variety numbers")
    parser.add_argument("--work", default="/tmp/lit_gans_truncation", help="the training run's folder")
    parser.add_argument("--name", default=None,
                        help="results name (default: truncation for the default run, else truncation_<family>_<data>)")
    parser.add_argument("--report", default=None, help="rebuild the report from a saved <work>/results.json instead of running")
    parser.add_argument("--observations", default=None, help="with --report: a person's reading of the figures (text or a file)")
    args = parser.parse_args()
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        if args.observations:
            text = args.observations
            if len(text) < 256 and "\n" not in text and Path(text).is_file():  # a file of it
                text = Path(text).read_text().strip()
            saved["settings"]["observations"] = text
        report(saved)
        return
    if args.name is None and not args.ckpt and args.config == DEFAULT_CONFIG and args.width is None:
        args.name = "truncation"
    width = (DEFAULT_WIDTH if args.config == DEFAULT_CONFIG else None) if args.width is None else (args.width or None)
    from bench.common import machine

    started = time.perf_counter()
    training = None
    checkpoint = Path(args.ckpt) if args.ckpt else None
    if checkpoint is None:
        checkpoint, training = train(args, width)
    sweep_start = time.perf_counter()
    result = sweep(args, checkpoint)
    settings = {**{k: v for k, v in vars(args).items() if k not in ("report", "observations")}, "width": width}
    saved = {"machine": machine(1), "argv": sys.argv[1:], "settings": settings, "training": training, "result": result,
             "sweep_minutes": (time.perf_counter() - sweep_start) / 60, "wall_minutes": (time.perf_counter() - started) / 60}
    Path(args.work).mkdir(parents=True, exist_ok=True)
    (Path(args.work) / "results.json").write_text(json.dumps(saved, indent=2, default=str) + "\n")
    report(saved)


if __name__ == "__main__":
    main()
