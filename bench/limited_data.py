"""Benchmark: 10 % of Fashion-MNIST, without augmentation, with DiffAugment and with ADA, over seeds.

Every run trains ``configs/dcgan/fashion_mnist.yaml`` through the real CLI in a subprocess on a fixed,
class-stratified 10 % of the training set (``data.train_fraction: 0.1``: 6,000 images, the same for
every seed), for the same number of generator iterations with one thread, at a reduced width (``g_width = d_width``, default
32). The three settings differ only in ``model.augment``: none; ``DiffAugment`` with all its transforms
(colour, translation, cutout; Zhao et al. 2020); ``ADA`` (Karras et al. 2020) with the reference's
target 0.6 and interval 4 but a faster speed (``--ada-kimg``, default 100 thousand images for p to go
from 0 to 1; the reference's 500 suits runs of millions of images, far longer than these). The last
checkpoint (with ``--every N``, every N-th generator iteration's too: a curve per run, and its best point) is
evaluated in the shipped Fashion-MNIST classifier's feature space, 10,000 samples against 10,000 images of the
**full** training set (the distribution, not the 6,000 seen): domain FID and KID; and the critic reads 6,000 real
images it trained on and 2,000 it never saw: the gap between the shares it calls real measures how far it has
memorised its set. The table was first evaluated with 2,000 and 2,000. At that size one checkpoint's FID moves by
about 0.2 with the samples' seed (2.13, 2.58, 2.30 for seeds 0-2), as much as the settings differ. With 10,000
it moves by about 0.04 (2.08, 2.16, 2.12), at about 7 s an evaluation on one CPU thread. The table was therefore
evaluated again at 10,000: ``limited_data_10k.md``, by ``--child`` on each run's checkpoints, then
``--report JSON --name limited_data_10k``.

    python bench/limited_data.py [--steps 14400] [--every 600] [--seeds 0,1,2] [--width 32] [--jobs 2] [--max-minutes M]

The defaults are the table's: 9 runs of about 45-55 CPU minutes each, 2 at a time, about 5 wall hours on 2 cores
(it was made in four legs, 2,400, ``--resume`` to 5,400, to 9,600 and to 14,400; on a CPU that is bitwise one run).

At width 32 the unaugmented critic overfits the 6,000 images from about 2,400 iterations (its seen/unseen gap
reaches 0.50-0.63 by 9,600, 0.69-0.75 by 14,400 and 0.78-0.81 by 19,200) and its FID falls more slowly: ADA leads it by
FID at 14,400 in every seed; DiffAugment leads by KID in every seed but by FID in none, and without its colour
transform (``diffaugment_tc``) by FID in 2 of 3 (the mean of the last five checkpoints). Every run was taken on to
19,200 (``limited_data_19k.md``: ``--steps 19200 --resume``, the earlier checkpoints' evaluations reused): there both
DiffAugment policies and ADA lead by the mean of the last five in 3 of 3 seeds, ``diffaugment_tc`` and ADA by every measure.
On a GPU machine (the config's ``accelerator: auto`` takes it) the nine runs can go at once, at
the config's width, as far as the time allows (``bench/gpu_quality.sh`` with ``LIMITED=1``):

    python bench/limited_data.py --steps 20000 --every 2000 --width 64 --jobs 9 --max-minutes 5

Writes bench/results/limited_data.md and .json (``--report RESULTS.json [--observations F] [--name NAME]``
rebuilds them, or NAME.md, from saved results). Anchor (CIFAR-10, 10 % of the data, Inception FID, long
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
from runs import child_result, datamodule_of, last_lines, run_all, saved_report, scores, timed_fit  # noqa: E402

CONFIG = "configs/dcgan/fashion_mnist.yaml"
SETTINGS = ("none", "diffaugment", "ada", "diffaugment_tc")
#: DiffAugment's transforms in each of its settings: all three (the paper's policy for limited data), and without colour
DIFFAUGMENT = {"diffaugment": ["color", "translation", "cutout"], "diffaugment_tc": ["translation", "cutout"]}


def augment_override(setting: str, ada_kimg: float) -> list[str]:
    if setting == "none":
        return []
    if setting in DIFFAUGMENT:
        spec = {"class_path": "lit_gans.augment.DiffAugment", "init_args": {"policy": DIFFAUGMENT[setting]}}
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
    if args.every:
        overrides += ["--checkpoint.every_n_g_steps", str(args.every), "--checkpoint.save_top_k", "-1"]
    earlier = resumed_from(work, setting, seed) if args.resume else None
    if earlier is not None:  # on from the earlier run's last checkpoint: bitwise the same as one longer run on a CPU
        overrides += ["--ckpt_path", str(run_dir / "ckpt" / "last.ckpt")]
    result = {"setting": setting, "seed": seed,
              **timed_fit(CONFIG, run_dir, args.max_minutes, overrides, seed=seed, steps=args.steps)}
    known = []
    if earlier is not None:
        for key in ("cpu_minutes", "wall_minutes"):  # an earlier leg's unrecorded minutes leave the sum unknown
            result[key] = None if earlier.get(key) is None else result[key] + earlier[key]
        result["resumed_at"] = earlier.get("g_step")
        if (earlier.get("n_samples"), earlier.get("n_real")) == (args.n_samples, args.n_real):
            known = earlier.get("curve", [])
    if result["returncode"] != 0:
        result["failed"] = last_lines(run_dir / "train.log")
    else:
        known_file = run_dir / "known_points.json"  # the earlier legs' checkpoints, evaluated at this size already
        known_file.write_text(json.dumps(known))
        result.update(child_result(__file__, ["--child", str(run_dir / "ckpt"), "--n-samples", str(args.n_samples),
                                              "--n-real", str(args.n_real), "--known", str(known_file)]))
        result.update(ada_p(run_dir))
    with lock:
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] done {run_dir.name}: "
              f"{ {k: v for k, v in result.items() if k != 'command'} }", flush=True)
    return result


def evaluate_run(checkpoints: Path, n_samples: int, n_real: int, known: list[dict] = ()) -> dict:
    """Domain FID and KID of every checkpoint of a run against the **full** training set, and how the critic
    reads real images it trained on against real images it never saw: the share it calls real (the sign of
    its logit, ADA's r_t without augmentation) on the run's 6,000 training images and on 2,000 held-out test
    images. A critic that overfits calls its training images real and unseen ones fake (Karras et al. 2020,
    figure 1); the gap between the two shares measures that. The last checkpoint's figures are the run's.
    ``known``: points of this curve evaluated already (an earlier leg's, at the same size), taken as they are."""
    import torch

    from datamodules import FashionMNISTDataModule
    from lit_gans.checkpoints import load_family
    from lit_gans.metrics import ModelEvaluation

    torch.set_num_threads(1)
    full = FashionMNISTDataModule(data_dir="data", image_size=32, fit="pad")  # the whole distribution
    evaluation = ModelEvaluation(full, metrics=["fid", "kid"], n_samples=n_samples, n_real=n_real)
    evaluation.prepare(torch.device("cpu"))
    paths = sorted(checkpoints.glob("g*.ckpt"))
    last = checkpoints / "last.ckpt"
    seen_images = held_out = None
    curve = []
    earlier = {point["g_step"]: point for point in known}
    # the last checkpoint too, when the run stopped between periodic ones (cut by --max-minutes)
    for path in [*paths, last] if last.is_file() else paths:
        step = int(path.stem[1:]) if path.stem[1:].isdigit() else None  # g0001200.ckpt; last.ckpt: read it
        if step in earlier:
            curve.append(earlier[step])
            continue
        model = load_family(path).eval()
        if curve and model.g_step <= curve[-1]["g_step"]:
            continue
        if seen_images is None:
            own, _ = datamodule_of(path)
            own.setup("fit")
            seen_images = torch.stack([own.train_set[i][0] for i in range(len(own.train_set))])
            held_out = torch.stack([own.val_set[i][0] for i in range(min(2000, len(own.val_set)))])
        point = scores(evaluation, model)
        with torch.no_grad():
            for name, images in (("critic_real_seen", seen_images), ("critic_real_unseen", held_out)):
                logits = torch.cat([model.judge(chunk.to(model.device), None)[0].flatten() for chunk in images.split(500)])
                point[name] = float((logits > 0).float().mean())
        curve.append(point)
    final = dict(curve[-1])
    final["curve"] = curve
    return final


def resumed_from(work: Path, setting: str, seed: int) -> dict | None:
    """The earlier bench's result for this run (``work/results.json``), when its last checkpoint is there to go on
    from; its CPU minutes are added to the resumed run's."""
    saved = work / "results.json"
    if not (work / f"{setting}_seed{seed}" / "ckpt" / "last.ckpt").is_file() or not saved.is_file():
        return None
    saved = json.loads(saved.read_text())
    earlier = [r for r in saved["runs"] if r["setting"] == setting and r["seed"] == seed and r.get("returncode") == 0]
    size = {key: saved["settings"].get(key) for key in ("n_samples", "n_real")}  # what its curve was evaluated with
    return {**earlier[-1], **size} if earlier else None


def ada_p(run_dir: Path) -> dict:
    """ADA's last logged p and r_t (CSV logger), when the run logged them: the row of the highest generator step
    over every leg's metrics.csv (a resumed run logs to a new version folder, and folders come in no set order)."""
    import csv

    rows = [row for path in (run_dir / "logs").rglob("metrics.csv") for row in csv.DictReader(path.open())
            if row.get("augment/p")]
    if not rows:
        return {}
    last = max(rows, key=lambda row: float(row.get("g_step") or row.get("step") or 0))
    return {name: float(last[key]) for key, name in (("augment/p", "ada_p"), ("augment/rt", "ada_rt")) if last.get(key)}


def best_point(run: dict) -> dict:
    """The checkpoint of lowest FID along a run's curve (the last checkpoint when it has no curve)."""
    return min(run.get("curve") or [run], key=lambda point: point["fid"])


LATE = 5  # checkpoints averaged at each run's end: one checkpoint's FID moves by about 0.2-0.5 from the next one's


def late_mean(run: dict) -> float:
    """The mean FID of a run's last ``LATE`` checkpoints (the last checkpoint's when it has no curve): its level at
    the end, less the swing from one checkpoint to the next."""
    points = sorted(run.get("curve") or [run], key=lambda point: point["g_step"])[-LATE:]
    return statistics.mean(point["fid"] for point in points)


def report(saved: dict, name: str = "limited_data") -> None:
    s = saved["settings"]
    ok = [r for r in saved["runs"] if "fid" in r]
    rows, summary, curves = [], [], []
    for r in saved["runs"]:
        best = best_point(r) if "fid" in r else {}
        gap = r["critic_real_seen"] - r["critic_real_unseen"] if "critic_real_seen" in r else None
        rows.append([r["setting"], r["seed"], r.get("g_step"), r.get("resumed_at", "n/a"), r["cpu_minutes"], r.get("fid"), r.get("kid"),
                     best.get("fid"), best.get("g_step"), r.get("critic_real_seen"), r.get("critic_real_unseen"), gap,
                     r.get("ada_p"), r.get("ada_rt"), r.get("failed", "")[:100]])
    for setting in SETTINGS:
        runs = [r for r in ok if r["setting"] == setting]
        if runs:
            fids = [r["fid"] for r in runs]
            bests = [best_point(r)["fid"] for r in runs]
            gaps = [r["critic_real_seen"] - r["critic_real_unseen"] for r in runs if "critic_real_seen" in r]
            summary.append([setting, len(runs), statistics.mean(fids), statistics.stdev(fids) if len(fids) > 1 else 0.0,
                            min(fids), max(fids), statistics.mean(late_mean(r) for r in runs), statistics.mean(bests),
                            statistics.mean(gaps) if gaps else None])
    steps = sorted({point["g_step"] for r in ok for point in r.get("curve", [])})
    for r in ok:
        if r.get("curve"):
            by_step = {point["g_step"]: point for point in r["curve"]}
            curves.append([r["setting"], r["seed"], *[
                f"{by_step[k]['fid']:.1f} ({by_step[k]['critic_real_seen'] - by_step[k]['critic_real_unseen']:+.2f})"
                if k in by_step else "" for k in steps]])
    wins = []
    for label, value in (("last checkpoint", lambda r: r["fid"]), (f"mean of the last {LATE} checkpoints", late_mean),
                         ("best checkpoint", lambda r: best_point(r)["fid"]),
                         ("last checkpoint's KID", lambda r: r["kid"])):
        base = {r["seed"]: value(r) for r in ok if r["setting"] == "none"}
        for setting in SETTINGS[1:]:
            pairs = [(base[r["seed"]], value(r)) for r in ok if r["setting"] == setting and r["seed"] in base]
            if pairs:
                wins.append(f"- {setting}, {label}: lower {'KID' if 'KID' in label else 'FID'} than no augmentation in "
                            f"{sum(b > f for b, f in pairs)} of {len(pairs)} seeds.")
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
        + (f"; each run cut at {s['max_minutes']:g} wall minutes" if s.get("max_minutes") else "")
        + ("; each run went on from the last checkpoint of an earlier, shorter bench (`--resume`, G steps in the "
           "table's 'resumed at'; on a CPU the same, bitwise, as one longer run), CPU minutes adding every leg"
           if s.get("resume") else "") + "), every other setting "
        "the config's. "
        f"Settings: no augmentation; DiffAugment `[color, translation, cutout]` (`diffaugment`) and `[translation, cutout]` "
        "(`diffaugment_tc`, where run); ADA with target 0.6, interval 4 and "
        f"speed_kimg {s['ada_kimg']:g} (the reference: 500, for runs of millions of images). Evaluation"
        + (f" of a checkpoint every {s['every']} generator iterations" if s.get("every") else " of the last checkpoint")
        + f": `ModelEvaluation` in the shipped Fashion-MNIST classifier's features, {s['n_samples']} samples against "
        f"{s['n_real']} images of the full training set (lower is better); and the share of real images the critic "
        "calls real (logit > 0, no augmentation) among the run's training images (seen) and 2,000 test images (unseen). "
        "Their gap is the critic's overfitting: it grows as the critic memorises the images it trains on.",
        "",
        "## Summary (domain FID over seeds)",
        "",
        *markdown_table(["augmentation", "seeds", "mean FID (last)", "std", "min", "max",
                         f"mean FID (mean of the last {LATE} checkpoints)", "mean FID (best checkpoint)",
                         "mean critic gap (seen - unseen), last"], summary),
        "",
        *wins,
        "",
        "## Runs",
        "",
        *markdown_table(["augmentation", "seed", "G steps", "resumed at", "CPU minutes", "domain FID (last)", "KID", "best FID",
                         "at G step", "critic: seen called real", "unseen called real", "gap", "ADA p (last)",
                         "ADA r_t (last)", "failed"], rows),
    ]
    if curves:
        body += ["", "## Curves: domain FID (critic gap) at each checkpoint", "",
                 *markdown_table(["augmentation", "seed", *[f"G {k}" for k in steps]], curves)]
    if s.get("observations"):
        body += ["", "## Reading", "", s["observations"]]
    write_results(name, f"10 % of Fashion-MNIST: no augmentation, DiffAugment and ADA ({s['n_samples']:,} samples against "
                        f"{s['n_real']:,} real images an evaluation)", body, saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=14400, help="generator iterations of every run")
    parser.add_argument("--seeds", type=lambda v: [int(x) for x in v.split(",")], default=[0, 1, 2])
    parser.add_argument("--settings", default=",".join(SETTINGS[:3]), help=f"of {','.join(SETTINGS)}")
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--every", type=int, default=600,
                        help="keep a checkpoint every this many generator iterations and evaluate each (a curve per run; 0: the last only)")
    parser.add_argument("--resume", action="store_true",
                        help="go on from the runs' last checkpoints in --work (an earlier, shorter bench) to --steps")
    parser.add_argument("--ada-kimg", type=float, default=100.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="cut a run at this many wall minutes (its G steps in the table say where it stopped)")
    parser.add_argument("--n-samples", type=int, default=10000, help="generated images per evaluation (limited_data.md: 2,000)")
    parser.add_argument("--n-real", type=int, default=10000, help="real images per evaluation (limited_data.md: 2,000)")
    parser.add_argument("--work", default="/tmp/lit_gans_limited_data")
    parser.add_argument("--report", default=None, help="rebuild the tables from a results .json instead of running")
    parser.add_argument("--observations", default=None, help="with --report: a person's reading (text or a file)")
    parser.add_argument("--name", default="limited_data", help="write bench/results/NAME.md and .json")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--known", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        known = json.loads(Path(args.known).read_text()) if args.known else []
        print("RESULT " + json.dumps(evaluate_run(Path(args.child), args.n_samples, args.n_real, known)), flush=True)
        return
    if args.report:
        report(saved_report(args.report, args.observations), args.name)
        return
    from datamodules import FashionMNISTDataModule

    FashionMNISTDataModule(data_dir="data").prepare_data()
    work = Path(args.work)
    jobs = [(setting, seed) for seed in args.seeds for setting in args.settings.split(",")]
    report(run_all(lambda job, lock, started: run(job[0], job[1], args, work, lock, started), jobs, args, work, machine(1)),
           args.name)


if __name__ == "__main__":
    main()
