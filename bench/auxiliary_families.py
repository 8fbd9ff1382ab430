"""Benchmark: do InfoGAN's codes and AC-GAN's labels control what the shipped domain classifier sees?

Each run trains one config of ``configs/`` through the real CLI in a subprocess (``lit-gans fit
--config ... --model.init_args.max_g_steps N``, a CSV logger, checkpoints every 500 generator
iterations, in-training metrics off, ``OMP_NUM_THREADS=1``, two runs in parallel at most), then a
second subprocess loads its checkpoints (``lit_gans.checkpoints.load_family``) and evaluates them:

* InfoGAN: ``code_class_accuracy`` (200 samples per value of the 10-way categorical code, accuracy under
  the best one-to-one matching of code values to classes) at every checkpoint, and a figure
  ``infogan_codes_<data>[_seed<s>].png`` of the final generator: the 10 code values in matched class
  order, then each continuous code varied from -1 to 1 with the noise fixed;
* AC-GAN and CGAN: ``class_accuracy`` (200 samples per class) at every checkpoint; AC-GAN's final class
  grid ``acgan_classes_<data>.png``;
* InfoGAN, AC-GAN and CGAN: the spread of the final generator's samples of one class or code value (the
  per-pixel standard deviation across them), beside the real images' within-class spread;
* AC-GAN, DCGAN and CGAN: domain FID of the final generator (``ModelEvaluation``, metric ``fid`` in the
  domain network's feature space, 2,000 samples against up to 2,000 real training images of the run's
  own DataModule, seed 0).

A reference job measures the domain classifier on held-out real images (and, on Fashion-MNIST, the FID
of 2,000 held-out test images under the same protocol).

    python bench/auxiliary_families.py [--digits-steps 1500] [--infogan-steps 1000] [--fashion-steps 1000]
        [--fashion-width 32] [--infogan-seeds 0,1] [--budget-minutes 45] [--jobs 2]

The defaults fit about 45 wall minutes on 2 CPU cores shared with about one core of other work.

    python bench/auxiliary_families.py --only infogan --infogan-steps 3000 --infogan-seeds 0,1,2 --tag g3000 \
        --work /tmp/lit_gans_auxiliary_families_g3000   # longer InfoGAN runs, figures named apart
    python bench/auxiliary_families.py --reevaluate [--work DIR]   # evaluate saved checkpoints again
    python bench/auxiliary_families.py --report A/results.json,B/results.json   # one report of both

Writes bench/results/auxiliary_families.md and .json, and the figures beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from runs import datamodule_of, unpadded  # noqa: E402
sys.path.insert(0, str(ROOT))

N_PER = 200  # samples per class / per code value
FID_SAMPLES, FID_REAL = 2000, 2000
TARGETS = {"infogan_code_accuracy": 0.85, "acgan_class_accuracy": 0.90}
DOMAIN = {"digits": "digits", "fashion_mnist": "fashion_mnist"}


@dataclass
class Job:
    """One training run (or the real-data reference, family ``real``)."""

    family: str  # config folder: infogan, acgan, dcgan, cgan
    data: str  # digits or fashion_mnist
    steps: int
    seed: int = 0
    width: Optional[int] = None  # g_width = d_width override (None: the config's)
    optional: bool = False  # started only when the budget allows
    tag: str = ""  # names this invocation's figures apart from the default bench's (e.g. "g3000")
    estimate_min: float = 1.0  # rough wall minutes, for ordering and the budget
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.family}_{self.data}" + (f"_seed{self.seed}" if self.family != "real" else "")


# seconds per generator iteration of one run when two run side by side on the 2-core machine while
# other work uses about one core (measured: AC-GAN / DCGAN Fashion-MNIST at width 32 about 1.0 / 1.25 s;
# the rest scaled from single-run probes); only for ordering and the budget guard
SECONDS_PER_STEP = {("infogan", "digits"): 0.3, ("acgan", "digits"): 0.25, ("dcgan", "digits"): 0.28,
                    ("cgan", "digits"): 0.12, ("acgan", "fashion_mnist"): 1.0, ("dcgan", "fashion_mnist"): 1.25,
                    ("cgan", "fashion_mnist"): 0.5, ("infogan", "fashion_mnist"): 1.25}


def plan(args: argparse.Namespace) -> list[Job]:
    jobs: list[Job] = []
    only = set(args.only.split(",")) if args.only else None
    for seed in args.infogan_seeds:
        jobs.append(Job("infogan", "digits", args.infogan_steps, seed))
    for family in ("acgan", "dcgan", "cgan"):
        jobs.append(Job(family, "digits", args.digits_steps))
    for family in ("acgan", "dcgan", "cgan"):
        width = args.fashion_width if family != "cgan" else None  # CGAN's MLP recipe as it is
        jobs.append(Job(family, "fashion_mnist", args.fashion_steps, width=width))
    if args.infogan_fashion:
        jobs.append(Job("infogan", "fashion_mnist", args.fashion_steps, width=args.fashion_width, optional=True))
    if only:
        jobs = [j for j in jobs if j.family in only]
    for job in jobs:
        job.tag = args.tag
        job.estimate_min = 1.5 + job.steps * SECONDS_PER_STEP[(job.family, job.data)] / 60
    jobs.sort(key=lambda j: (j.optional, -j.estimate_min))  # longest first, optional last
    if only:
        return jobs
    return [Job("real", "digits", 0, estimate_min=0.3), Job("real", "fashion_mnist", 0, estimate_min=0.5)] + jobs


# ---------------------------------------------------------------------------------------------- parent
def cli() -> list[str]:
    entry = Path(sys.executable).parent / "lit-gans"
    return [str(entry)] if entry.is_file() else [sys.executable, "-m", "lit_gans.cli"]


def run_overrides(job: Job) -> str:
    """What differs between runs: the config, seed, length and width."""
    width = f" --model.init_args.g_width {job.width} --model.init_args.d_width {job.width}" if job.width is not None else ""
    return (f"--config configs/{job.family}/{job.data}.yaml --seed_everything {job.seed} "
            f"--model.init_args.max_g_steps {job.steps}{width}")


#: the flags every run shares (RUN is the run's folder)
SHARED_FLAGS = ("--trainer.logger lightning.pytorch.loggers.CSVLogger --trainer.logger.init_args.save_dir RUN/logs "
                "--trainer.default_root_dir RUN --trainer.enable_progress_bar false --trainer.limit_val_batches 0 "
                "--trainer.num_sanity_val_steps 0 --checkpoint.dirpath RUN/ckpt --checkpoint.every_n_g_steps 500 "
                "--checkpoint.save_top_k -1 --samples.every_n_g_steps 500 --metrics.metrics []")


def train_command(job: Job, run_dir: Path) -> list[str]:
    command = cli() + [
        "fit", "--config", f"configs/{job.family}/{job.data}.yaml",
        "--seed_everything", str(job.seed),
        "--model.init_args.max_g_steps", str(job.steps),
        "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.init_args.save_dir", str(run_dir / "logs"),
        "--trainer.logger.init_args.name", "",
        "--trainer.default_root_dir", str(run_dir),
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0",
        "--checkpoint.dirpath", str(run_dir / "ckpt"), "--checkpoint.every_n_g_steps", "500",
        "--checkpoint.save_top_k", "-1",
        "--samples.dirpath", str(run_dir / "samples"), "--samples.every_n_g_steps", "500",
        "--metrics.metrics", "[]",
    ]
    if job.width is not None:
        command += ["--model.init_args.g_width", str(job.width), "--model.init_args.d_width", str(job.width)]
    return command


def execute(job: Job, work: Path, started: float, budget_s: float, lock: threading.Lock, train: bool = True) -> Job:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"}
    run_dir = work / job.name
    run_dir.mkdir(parents=True, exist_ok=True)
    if train and job.optional and time.perf_counter() - started + job.estimate_min * 60 > budget_s:
        job.result = {"skipped": f"not started: its estimate ({job.estimate_min:.0f} min) would pass the "
                                 f"{budget_s / 60:.0f}-minute budget"}
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] skip {job.name}: {job.result['skipped']}", flush=True)
        return job
    if not train and ("skipped" in job.result or "train_minutes" not in job.result and job.family != "real"):
        return job  # re-evaluate: nothing was trained
    with lock:
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] start {job.name}", flush=True)
    if not train:  # re-evaluate: keep what training recorded
        result = {k: job.result[k] for k in ("load_before", "command", "overrides", "train_minutes", "load_after") if k in job.result}
    else:
        result = {"load_before": os.getloadavg()[0]}
    if train and job.family != "real":
        command = train_command(job, run_dir)
        result["command"] = " ".join(command)
        result["overrides"] = run_overrides(job)
        t0 = time.perf_counter()
        out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        result["train_minutes"] = (time.perf_counter() - t0) / 60
        (run_dir / "train.log").write_text(out.stdout + out.stderr)
        if out.returncode != 0:
            job.result = {**result, "failed": f"training exit {out.returncode}: " + " | ".join(out.stderr.strip().splitlines()[-3:])}
            print(f"FAILED {job.name}: {job.result['failed']}", flush=True)
            return job
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(asdict(job)), "--work", str(work)],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    result["eval_minutes"] = (time.perf_counter() - t0) / 60
    (run_dir / "eval.log").write_text(out.stdout + out.stderr)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        result["failed"] = f"evaluation exit {out.returncode}: " + " | ".join(out.stderr.strip().splitlines()[-3:])
    else:
        result.update(json.loads(lines[-1][len("RESULT "):]))
    if train:
        result["load_after"] = os.getloadavg()[0]
    job.result = result
    with lock:
        summary = {k: round(v, 3) for k, v in result.items() if isinstance(v, float)}
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] done {job.name} {summary}", flush=True)
    return job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits-steps", type=int, default=1500, help="G steps of AC-GAN, DCGAN and CGAN on digits")
    parser.add_argument("--infogan-steps", type=int, default=1000, help="G steps of InfoGAN on digits (the config's 1,000)")
    parser.add_argument("--fashion-steps", type=int, default=1000, help="G steps of every Fashion-MNIST run")
    parser.add_argument("--fashion-width", type=int, default=32, help="g_width = d_width of the DCGAN-network runs on Fashion-MNIST (configs: 64)")
    parser.add_argument("--infogan-seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0, 1])
    parser.add_argument("--no-infogan-fashion", dest="infogan_fashion", action="store_false",
                        help="skip InfoGAN on Fashion-MNIST (run last, only when the budget allows)")
    parser.add_argument("--budget-minutes", type=float, default=45.0, help="wall minutes; the optional run starts only if it fits")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (one thread each)")
    parser.add_argument("--work", default="/tmp/lit_gans_auxiliary_families", help="run folders (checkpoints, logs)")
    parser.add_argument("--only", default=None, help="run only these families (comma-separated: infogan, acgan, dcgan, cgan); no reference jobs")
    parser.add_argument("--tag", default="", help="suffix of this invocation's figure names, so they do not replace the default bench's")
    parser.add_argument("--reevaluate", action="store_true", help="evaluate the checkpoints in --work again (its results.json) without training")
    parser.add_argument("--report", default=None, help="rebuild the tables from results .json files (comma-separated: merged) instead of running")
    parser.add_argument("--observations", default=None, help="with --report: a person's reading of the figures and tables (text, or a markdown file)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    if args.child:
        job = Job(**json.loads(args.child))
        print("RESULT " + json.dumps(evaluate(job, work / job.name, work)), flush=True)
        return
    if args.report:
        runs = [json.loads(Path(path).read_text()) for path in args.report.split(",")]
        if args.observations:
            given = Path(args.observations)
            runs[0]["settings"]["observations"] = given.read_text().strip() if given.is_file() else args.observations
        report(runs)
        return
    if args.reevaluate:
        saved = json.loads((work / "results.json").read_text())
        jobs = [Job(**j) for j in saved["jobs"]]
        started, lock = time.perf_counter(), threading.Lock()
        with ThreadPoolExecutor(args.jobs) as pool:
            jobs = list(pool.map(lambda j: execute(j, work, started, 0, lock, train=False), jobs))
        saved["jobs"] = [asdict(j) for j in jobs]
        saved["reevaluated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        (work / "results.json").write_text(json.dumps(saved, indent=2, default=str) + "\n")
        report([saved])
        return

    from datamodules import FashionMNISTDataModule

    FashionMNISTDataModule(data_dir="data").prepare_data()  # unpack once, before two runs race to do it
    work.mkdir(parents=True, exist_ok=True)
    jobs = plan(args)
    print(f"{len(jobs)} jobs, about {sum(j.estimate_min for j in jobs) / args.jobs:.0f} wall minutes estimated on {args.jobs} slots", flush=True)
    started, lock = time.perf_counter(), threading.Lock()
    with ThreadPoolExecutor(args.jobs) as pool:
        jobs = list(pool.map(lambda j: execute(j, work, started, args.budget_minutes * 60, lock), jobs))
    settings = {k: v for k, v in vars(args).items() if k not in ("report", "child", "work", "reevaluate", "observations")}
    saved = {"settings": settings, "argv": sys.argv[1:], "wall_minutes": (time.perf_counter() - started) / 60,
             "jobs": [asdict(j) for j in jobs]}
    (work / "results.json").write_text(json.dumps(saved, indent=2, default=str) + "\n")
    report([saved])


# ---------------------------------------------------------------------------------------------- child
def reference_datamodule(data: str) -> list[Any]:
    import datamodules

    if data == "digits":
        return [datamodules.DigitsDataModule(image_size=16)]
    # the two formats the Fashion-MNIST runs train on: padded to 32 px (DCGAN networks), native 28 px (CGAN's MLP)
    return [datamodules.FashionMNISTDataModule(data_dir="data", image_size=32, fit="pad"),
            datamodules.FashionMNISTDataModule(data_dir="data", image_size=28, fit="pad")]


class HeldOut:
    """Held-out real images in the shape of a model for ``ModelEvaluation`` (it reads ``sample`` and ``device``)."""

    def __init__(self, images: Any):
        import torch

        self.images, self.at, self.device = images, 0, torch.device("cpu")

    def sample(self, n: int) -> Any:
        part = self.images[self.at : self.at + n]
        self.at += n
        return part


def evaluate(job: Job, run_dir: Path, work: Path) -> dict[str, Any]:
    import torch

    from lit_gans.checkpoints import load_family
    from lit_gans.metrics import ModelEvaluation, class_accuracy, code_class_accuracy, load_domain_network

    torch.set_num_threads(1)
    classifier = load_domain_network(DOMAIN[job.data])
    if job.family == "real":
        out: dict[str, Any] = {}
        for dm in reference_datamodule(job.data):
            dm.setup("fit")
            order = torch.randperm(len(dm.val_set), generator=torch.Generator().manual_seed(0))[:FID_SAMPLES]
            images = torch.stack([dm.val_set[int(i)][0] for i in order])
            labels = torch.tensor([int(dm.val_set[int(i)][1]) for i in order])
            with torch.no_grad():
                predicted = torch.cat([classifier(part).argmax(1) for part in images.split(500)])
            size = dm.hparams.get("image_size")
            entry = {"held_out": len(images), "accuracy": float((predicted == labels).float().mean())}
            inside = unpadded(classifier, {"init_args": dict(dm.hparams)})
            if inside is not classifier:  # the pixels the classifier reads of a padded run's samples
                with torch.no_grad():
                    inner = torch.cat([inside(part).argmax(1) for part in images.split(500)])
                entry["accuracy_unpadded"] = float((inner == labels).float().mean())
            if job.data == "digits":  # 180 held-out digits are 18 a class: the spread is taken on the 1,617 training images
                images = torch.stack([dm.train_set[i][0] for i in range(len(dm.train_set))])
                labels = torch.tensor([int(dm.train_set[i][1]) for i in range(len(dm.train_set))])
            entry["spread"] = sum(spread(images[labels == y]) for y in range(10)) / 10
            if len(images) >= FID_SAMPLES:  # digits holds out only 180 images: too few for a comparable FID
                evaluation = ModelEvaluation(dm, metrics=["fid"], n_samples=FID_SAMPLES, n_real=FID_REAL)
                evaluation.prepare(torch.device("cpu"))
                entry["fid"] = evaluation.evaluate(HeldOut(images), seed=0)[f"{evaluation.feature}/fid"]
            out[f"{size}px"] = entry
        return {"reference": out}

    checkpoints = sorted((run_dir / "ckpt").glob("g*.ckpt"))
    final = run_dir / "ckpt" / "last.ckpt"
    model = load_family(final).eval()
    full_classifier, classifier = classifier, unpadded(classifier, datamodule_of(final)[1])
    out = {"g_step": model.g_step, "d_step": model.d_step, "curve": []}
    for path in checkpoints:
        m = load_family(path).eval()
        point: dict[str, Any] = {"g_step": m.g_step}
        if job.family == "infogan":
            point.update(code_class_accuracy(m, classifier, code=0, n_per_value=N_PER))
        elif job.family in ("acgan", "cgan"):
            point["class_accuracy"] = class_accuracy(m, classifier, n_per_class=N_PER)
        out["curve"].append(point)
    if job.family == "infogan":
        final_codes = code_class_accuracy(model, classifier, code=0, n_per_value=N_PER)
        out.update(final_codes)
        spec = model.latent_spec
        out["spread"] = within_spread(model, lambda v, n: dict(latent=spec.draw(n).replace(
            codes=torch.full((n, 1), v))), spec.categorical[0])
        out["noise_spread"] = within_spread(model, lambda v, n: dict(latent=spec.draw(n).replace(
            codes=torch.full((n, 1), v), continuous=torch.zeros(n, spec.continuous))), spec.categorical[0])
        out["figure"] = infogan_figure(model, final_codes["matching"], job)
    else:
        if job.family in ("acgan", "cgan"):
            seen = []  # the classifier's answers, in class_accuracy's order (classes 0, 0, ..., 1, 1, ...)

            def recording(x: Any) -> Any:
                logits = classifier(x)
                seen.append(logits.argmax(1))
                return logits

            out["class_accuracy"] = class_accuracy(model, recording, n_per_class=N_PER)
            hits = (torch.cat(seen) == torch.arange(model.latent_spec.num_classes).repeat_interleave(N_PER)).float()
            out["per_class_accuracy"] = hits.view(-1, N_PER).mean(1).tolist()
            out["spread"] = within_spread(model, lambda y, n: dict(labels=torch.full((n,), y)), model.latent_spec.num_classes)
        if job.family == "acgan":
            out["figure"] = class_figure(model, job)
        dm, recorded = datamodule_of(final)
        out["data"] = recorded
        if classifier is not full_classifier:  # the figure of earlier reports, for comparison
            out["class_accuracy_padded"] = class_accuracy(model, full_classifier, n_per_class=N_PER)
        evaluation = ModelEvaluation(dm, metrics=["fid"], n_samples=FID_SAMPLES, n_real=FID_REAL)
        evaluation.prepare(model.device)
        out["fid"] = evaluation.evaluate(model, seed=0)[f"{evaluation.feature}/fid"]
        out["fid_feature"] = evaluation.feature
    out["losses"] = loss_summary(run_dir)
    return out


def spread(images: Any) -> float:
    """Diversity of a set of images: the per-pixel standard deviation across them (images in [-1, 1]),
    averaged over pixels."""
    return float(images.float().std(0).mean())


def within_spread(model: Any, asked: Any, values: int) -> float:
    """Mean over the values v of a class label or code of ``spread`` of N_PER samples asked for v
    (``asked(v, n)`` gives ``model.sample``'s keyword arguments), everything else drawn at random."""
    import torch

    total = 0.0
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        for v in range(values):
            total += spread(model.sample(N_PER, **asked(v, N_PER)))
    return total / values


def loss_summary(run_dir: Path) -> dict[str, dict[str, float]]:
    """Mean of each logged quantity over the first and the last fifth of the run (CSV logger)."""
    import csv

    files = sorted((run_dir / "logs").rglob("metrics.csv"))
    if not files:
        return {}
    rows = list(csv.DictReader(files[-1].open()))
    keys = [k for k in rows[0] if k.startswith(("loss/", "d/"))] if rows else []
    summary: dict[str, dict[str, float]] = {}
    for key in keys:
        values = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
        if len(values) >= 5:
            fifth = max(1, len(values) // 5)
            summary[key] = {"first_fifth": sum(values[:fifth]) / fifth, "last_fifth": sum(values[-fifth:]) / fifth,
                            "min": min(values), "max": max(values)}
    return summary


def figure_path(job: Job, stem: str) -> Path:
    from bench.common import RESULTS

    suffix = (f"_seed{job.seed}" if job.seed != 0 else "") + (f"_{job.tag}" if job.tag else "")
    return RESULTS / f"{stem}_{job.data}{suffix}.png"


def _panel(images: Any, nrow: int) -> Any:
    import torch
    from torchvision.utils import make_grid

    if images.shape[-1] < 32:  # 16-px digits: twice as large, so that the figure is legible
        images = torch.nn.functional.interpolate(images, scale_factor=2, mode="nearest")
    grid = make_grid(images.float().clamp(-1, 1) * 0.5 + 0.5, nrow=nrow, padding=2, pad_value=1.0)
    from PIL import Image

    return Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))


def _compose(panels: list[tuple[str, Any]], row_labels: list[str], path: Path) -> str:
    """Panels side by side, a title over each and a label left of each row, on white."""
    from PIL import Image, ImageDraw

    left, top, gap = 64, 22, 18
    width = left + sum(p.width for _, p in panels) + gap * (len(panels) - 1)
    height = top + max(p.height for _, p in panels)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    x = left
    for title, panel in panels:
        canvas.paste(panel, (x, top))
        draw.text((x + 2, 4), title, fill="black")
        x += panel.width + gap
    row_height = (panels[0][1].height - 2) / len(row_labels)
    for i, label in enumerate(row_labels):
        draw.text((4, top + 2 + i * row_height + row_height / 2 - 6), label, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return str(path.relative_to(ROOT))


def infogan_figure(model: Any, matching: dict[int, int], job: Job, columns: int = 10) -> str:
    """Left: each categorical value (rows, in matched class order) with ``columns`` noise vectors, continuous
    codes 0. Then for each continuous code: rows as before, that code from -1 to 1 along the row, the noise
    (one vector per row) and the other codes fixed."""
    import torch

    spec = model.latent_spec
    size = spec.categorical[0]
    order = sorted(range(size), key=lambda v: matching.get(v, size + v))  # code values by matched class
    g = torch.Generator().manual_seed(1)
    z_columns = spec.draw(columns, generator=g).z  # panel 1: one noise vector per column
    z_rows = spec.draw(size, generator=g).z  # panels 2+: one noise vector per row
    steps = torch.linspace(-1, 1, columns)
    with torch.no_grad():
        codes = torch.tensor(order).repeat_interleave(columns)[:, None]
        first = model.sample(size * columns, latent=spec.draw(size * columns).replace(
            z=z_columns.repeat(size, 1), codes=codes, continuous=torch.zeros(size * columns, spec.continuous)))
        panels = [("categorical code (noise per column)", _panel(first, columns))]
        for c in range(spec.continuous):
            continuous = torch.zeros(size * columns, spec.continuous)
            continuous[:, c] = steps.repeat(size)
            images = model.sample(size * columns, latent=spec.draw(size * columns).replace(
                z=z_rows.repeat_interleave(columns, 0), codes=codes, continuous=continuous))
            panels.append((f"continuous code {c + 1}: -1 ... 1", _panel(images, columns)))
    labels = [f"c={v}->{matching.get(v, '?')}" for v in order]
    return _compose(panels, labels, figure_path(job, "infogan_codes"))


def class_figure(model: Any, job: Job, columns: int = 10) -> str:
    """Rows = classes 0..9 asked for, columns = noise vectors (the same in every row)."""
    import torch

    spec = model.latent_spec
    g = torch.Generator().manual_seed(1)
    z = spec.draw(columns, generator=g, labels=False).z
    with torch.no_grad():
        images = model.sample(spec.num_classes * columns, z=z.repeat(spec.num_classes, 1),
                              labels=torch.arange(spec.num_classes).repeat_interleave(columns))
    return _compose([("AC-GAN: class asked for (rows), noise per column", _panel(images, columns))],
                    [f"y={y}" for y in range(spec.num_classes)], figure_path(job, "acgan_classes"))


# ---------------------------------------------------------------------------------------------- report
def report(runs: list[dict[str, Any]]) -> None:
    """The tables of one or more invocations (the first: the default bench; later ones, e.g. longer InfoGAN
    runs, are merged in and labelled by their invocation letter)."""
    from bench.common import machine, markdown_table, write_results

    settings = runs[0]["settings"]
    letters = "ABCDEFGH"
    jobs: list[Job] = []
    label: dict[int, str] = {}
    for i, saved in enumerate(runs):
        for j in saved["jobs"]:
            job = Job(**j)
            jobs.append(job)
            label[id(job)] = letters[i]

    def met(value: Optional[float], target: float) -> str:
        return "n/a" if value is None else ("met" if value >= target else "not met")

    def run_of(family: str, data: str) -> list[Job]:
        return [j for j in jobs if j.family == family and j.data == data]

    def width(job: Job) -> str:
        return f"{job.width} (reduced)" if job.width is not None else "config's"

    def worst(shares: list[float], name: str) -> str:
        low = min(range(len(shares)), key=lambda i: shares[i])
        return f"{shares[low]:.2f} ({name}={low})"

    invocations = [f"- {letters[i]}: `" + f"python bench/auxiliary_families.py {' '.join(saved.get('argv', []))}".rstrip() + "`"
                   + f" ({len(saved['jobs'])} jobs, {saved['wall_minutes']:.1f} wall minutes"
                   + (f"; its checkpoints evaluated again with `--reevaluate` on {saved['reevaluated']}, which added the "
                      "per-class accuracy and the spread and left every other number the same)" if saved.get("reevaluated") else ")")
                   + (f". {saved['note']}" if saved.get("note") else "")
                   for i, saved in enumerate(runs)]
    loads = [j.result[k] for j in jobs for k in ("load_before", "load_after") if k in j.result]
    body = [
        f"Machine: {machine(1)}; {settings['jobs']} runs in parallel, each `OMP_NUM_THREADS=1`; the cores were "
        f"shared with other work (1-minute load averages {min(loads):.1f}-{max(loads):.1f} at the runs' starts and ends).",
        "",
        "Invocations (the first is the bench's defaults, sized for about 45 wall minutes on this loaded machine):",
        *invocations,
        "",
        "Protocol: each run is `lit-gans fit --config configs/<family>/<data>.yaml` in a subprocess, with "
        "`--model.init_args.max_g_steps N`, `--seed_everything S`, a CSV logger, `--trainer.limit_val_batches 0`, "
        "checkpoints every 500 generator iterations, in-training metrics off (`--metrics.metrics []`); every other "
        "setting (objective, optimisers, learning rates, batch size, latent) is the config's. Reductions for the CPU "
        f"budget: digits AC-GAN/DCGAN/CGAN {settings['digits_steps']:,} G steps (configs: 2,000, 2,000, 5,000), "
        "InfoGAN digits: the G steps in its rows (config: 1,000); "
        f"Fashion-MNIST {settings['fashion_steps']:,} G steps (configs: AC-GAN 12,000, DCGAN 11,700, CGAN 60,000, "
        f"InfoGAN 23,400) and `g_width = d_width = {settings['fashion_width']}` for the DCGAN-network families "
        "(configs: 64). CGAN keeps its MLP recipe as it is (digits 16 px, 512/240 units; Fashion-MNIST 28 px, "
        "1200/240 units). The checkpoints are then loaded with `lit_gans.checkpoints.load_family` and evaluated in "
        "one thread, raw generator (no EMA), seed 0:",
        f"- code accuracy: `code_class_accuracy(model, classifier, code=0, n_per_value={N_PER})`: {N_PER} samples per "
        "value of InfoGAN's categorical code (noise and continuous codes random), labelled by the shipped domain "
        "classifier; accuracy under the best one-to-one matching of code values to classes (Hungarian). "
        "The paper reports about 5 % error on MNIST (accuracy about 0.95); target here 0.85 on digits.",
        f"- class accuracy: `class_accuracy(model, classifier, n_per_class={N_PER})`: share of samples asked for class "
        "y that the classifier labels y. Target for AC-GAN: 0.90 on digits and on Fashion-MNIST. On Fashion-MNIST "
        "padded to 32 px the classifier reads the 28 px picture inside the 2-pixel border (`unpadded`), the pixels it "
        "reads of a real image (the 28 px row of the real-data table); the number in brackets is the whole padded "
        "image shrunk to 28 px, as earlier reports measured it (real images: 0.873). Rows without it were measured "
        "only that way (`padded only`).",
        f"- domain FID: `ModelEvaluation(datamodule, metrics=['fid'], n_samples={FID_SAMPLES}, n_real={FID_REAL})` "
        "in the shipped domain classifier's feature space (not comparable with Inception FIDs), against the run's "
        "own DataModule (digits 16 px: all 1,617 training images; Fashion-MNIST: 2,000 training images in the "
        "run's format, 32 px padded or CGAN's 28 px). Lower is better.",
        f"- spread (diversity): the per-pixel standard deviation (images in [-1, 1]) across {N_PER} samples asked "
        "for one class (AC-GAN, CGAN) or one value of InfoGAN's categorical code, averaged over pixels and over the "
        "10 classes or values; InfoGAN's second number fixes the continuous codes at 0, so that only the 62 noise "
        "numbers vary. The real reference: the same over the images of each class (digits: the 1,617 training "
        "images; Fashion-MNIST: the 2,000 held-out test images). Far below the real value means the samples of a "
        "class vary little (noise ignored, intra-class collapse).",
        "- real data: the same classifier on held-out real images (digits: the 180 validation images; "
        "Fashion-MNIST: 2,000 test images), and on Fashion-MNIST the FID of those 2,000 test images under the "
        "same protocol, the floor a generator can reach.",
        "",
    ]

    # ---- reference
    ref_rows = []
    for job in jobs:
        if job.family == "real":
            for fmt_name, entry in job.result.get("reference", {}).items():
                ref_rows.append([job.data, fmt_name, entry["held_out"], entry["accuracy"], entry.get("spread"), entry.get("fid")])
    body += ["## Real data (what the classifier gives real images)", "",
             *markdown_table(["data", "format", "held-out images", "classifier accuracy", "within-class spread",
                              "domain FID"], ref_rows), ""]

    # ---- InfoGAN
    rows = []
    for job in [j for j in jobs if j.family == "infogan"]:
        r = job.result
        if "accuracy" not in r:
            rows.append([label[id(job)], job.data, job.seed, job.steps, width(job), r.get("skipped") or r.get("failed"), "", "", "", "", ""])
            continue
        curve = ", ".join(f"{p['g_step']}: {p['accuracy']:.2f}" for p in r["curve"])
        counts, matching = r["counts"], {int(v): c for v, c in r["matching"].items()}  # JSON keys are strings
        shares = [counts[v][c] / sum(counts[v]) for v, c in sorted(matching.items())]
        target = TARGETS["infogan_code_accuracy"] if job.data == "digits" else None
        rows.append([label[id(job)], job.data, job.seed, r["g_step"], width(job), r["accuracy"],
                     met(r["accuracy"], target) if target else "no target", curve,
                     " ".join(f"{v}->{c}" for v, c in sorted(matching.items())), worst(shares, "c"),
                     f"{r['spread']:.3f} / {r['noise_spread']:.3f}" if "spread" in r else "n/a"])
    body += ["## InfoGAN: categorical code vs the domain classifier's class", "",
             *markdown_table(["inv.", "data", "seed", "G steps", "width", "code accuracy (matched)",
                              f"target >= {TARGETS['infogan_code_accuracy']}", "accuracy at G steps",
                              "matching (code -> class)", "worst code value: share of its matched class",
                              "within-code spread: all random / noise only"], rows), ""]
    for i in range(len(runs)):
        accs = [j.result["accuracy"] for j in run_of("infogan", "digits") if label[id(j)] == letters[i] and "accuracy" in j.result]
        if accs:
            n_met = sum(a >= TARGETS["infogan_code_accuracy"] for a in accs)
            body += [f"- {letters[i]}, digits: {n_met} of {len(accs)} seeds reach {TARGETS['infogan_code_accuracy']}; "
                     f"mean {sum(accs) / len(accs):.3f}, range {min(accs):.3f}-{max(accs):.3f}."]
    body += ["", "Every seed that ran is listed; none is left out."]
    figures = [(label[id(j)], j) for j in jobs if j.family == "infogan" and j.result.get("figure")]
    if figures:
        body += ["", "Figures (final generator): left, the 10 categorical values as rows in matched class order "
                 "(row label `c=code->class`), ten noise vectors as columns (continuous codes 0); then for each "
                 "continuous code, the same rows with one noise vector per row and that code from -1 to 1 "
                 "along the row (the other continuous code 0):", ""]
        body += [f"- {inv}, {j.data}, seed {j.seed}, {j.result['g_step']} G steps: "
                 f"[{Path(j.result['figure']).name}]({Path(j.result['figure']).name})" for inv, j in figures]
        body += [""]

    # ---- AC-GAN beside DCGAN and CGAN
    rows = []
    for data in ("digits", "fashion_mnist"):
        for family in ("acgan", "dcgan", "cgan"):
            for job in run_of(family, data):
                r = job.result
                if "fid" not in r:
                    rows.append([label[id(job)], data, family, job.steps, width(job), r.get("skipped") or r.get("failed"), "", "", "", "", ""])
                    continue
                acc = r.get("class_accuracy")
                padded_only = data == "fashion_mnist" and family != "cgan" and acc is not None and "class_accuracy_padded" not in r
                target = met(None if padded_only else acc, TARGETS["acgan_class_accuracy"]) if family == "acgan" else "no target"
                shown = (f"padded only: {acc:.3g}" if padded_only else f"{acc:.3g} ({r['class_accuracy_padded']:.3g})"
                         if "class_accuracy_padded" in r else acc)
                curve = ", ".join(f"{p['g_step']}: {p['class_accuracy']:.2f}" for p in r["curve"]) if acc is not None else "n/a"
                low = worst(r["per_class_accuracy"], "y") if r.get("per_class_accuracy") else "n/a"
                rows.append([label[id(job)], data, {"acgan": "AC-GAN", "dcgan": "DCGAN", "cgan": "CGAN"}[family], r["g_step"],
                             width(job), shown, target, curve, low, r.get("spread"), r["fid"]])
    body += ["## AC-GAN beside DCGAN and CGAN (same number of generator iterations per dataset)", "",
             *markdown_table(["inv.", "data", "family", "G steps", "width", "class accuracy",
                              f"target >= {TARGETS['acgan_class_accuracy']}", "class accuracy at G steps",
                              "worst class: its accuracy", "within-class spread", "domain FID"], rows), ""]
    per_class = [f"- {label[id(j)]}, {j.name}: " + ", ".join(f"{y}: {a:.2f}" for y, a in enumerate(j.result["per_class_accuracy"]))
                 for j in jobs if j.result.get("per_class_accuracy")]
    if per_class:
        body += ["Class accuracy per class asked for:", "", *per_class, ""]
    figures = [j.result["figure"] for j in jobs if j.family == "acgan" and j.result.get("figure")]
    if figures:
        body += ["AC-GAN class grids (rows: class asked for, columns: noise vectors, the same in every row): "
                 + ", ".join(f"[{Path(f).name}]({Path(f).name})" for f in figures), ""]

    if settings.get("observations"):
        body += ["## Reading of the figures and numbers (a person's, written after the runs)", "", settings["observations"], ""]

    # ---- per-run details
    rows = []
    for job in jobs:
        r = job.result
        losses = r.get("losses", {})
        first_last = "; ".join(f"{k} {v['first_fifth']:.2f}->{v['last_fifth']:.2f}" for k, v in losses.items()
                               if k in ("loss/d", "loss/g", "loss/d_info", "loss/d_class", "d/class_accuracy"))
        rows.append([label[id(job)], job.name, job.seed, r.get("g_step", job.steps), r.get("train_minutes"), r.get("eval_minutes"),
                     f"{r['load_before']:.1f} / {r['load_after']:.1f}" if "load_after" in r else "n/a",
                     first_last or r.get("skipped") or r.get("failed") or ""])
    body += ["## Runs", "",
             "Minutes are wall minutes of the training subprocess (start-up and data loading included) and of "
             "the evaluation subprocess; load is the 1-minute load average when the run started / ended. Losses "
             "(and AC-GAN's `d/class_accuracy` on real batches): mean over the first and the last fifth of the "
             "logged steps.", "",
             *markdown_table(["inv.", "run", "seed", "G steps", "train min", "eval min", "load",
                              "losses (first -> last fifth)"], rows), ""]
    commands = [f"- {label[id(j)]}, `{j.name}`: `{j.result['overrides']}`" for j in jobs if j.result.get("overrides")]
    body += [f"Commands: `OMP_NUM_THREADS=1 lit-gans fit <run's flags> {SHARED_FLAGS}` (also "
             "`--trainer.logger.init_args.name ''`, `--trainer.enable_model_summary false`, "
             "`--samples.dirpath RUN/samples`); the run's flags:", "", *commands]
    write_results("auxiliary_families", "InfoGAN codes and AC-GAN classes against the shipped domain classifiers", body,
                  {"machine": machine(1), "invocations": runs})


if __name__ == "__main__":
    main()
