"""The report of class-conditional Fashion-MNIST runs on a GPU: bench/results/gpu_class_accuracy.md and .png from
bench/results/gpu_class_accuracy.json (what ``bench/gpu_class_accuracy.py`` measured on the device, the legs'
results merged with each run's length and time, as ``gpu_quality.sh`` logged them). Another ``--json`` (runs of
``gpu_quality.sh`` with ``ACC=cpu``, say) gets its .md and .png beside it; its optional ``title``, ``machine`` and
``where`` replace the GPU report's heading, machine line and where the runs went.

    python bench/gpu_class_accuracy_report.py [--json bench/results/gpu_class_accuracy.json] [--observations FILE]

Figure: class accuracy and domain FID of each run's last checkpoint against the truncation threshold, raw
generator (solid) and EMA (dashed)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fmt, markdown_table  # noqa: E402

TARGET = 0.90
CLASSES = "T-shirt, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot"


def threshold(t) -> str:
    return "none" if t is None else fmt(t)


def best(curve: list[dict], which: str) -> tuple[float, int]:
    rows = [(r[which]["accuracy"], r["g_step"]) for r in curve if which in r]
    return max(rows) if rows else (None, None)


def summary(data: dict) -> list[str]:
    rows = []
    for run in data["runs"].values():
        last = run["curve"][-1]
        untruncated = {r["generator"]: r for r in run["sweep"] if r["truncation"] is None}
        raw, ema = last["raw"]["accuracy"], last.get("ema", {}).get("accuracy")
        (b_raw, at_raw), (b_ema, at_ema) = best(run["curve"], "raw"), best(run["curve"], "ema")
        met = [w for w, v in (("raw", raw), ("EMA", ema)) if v is not None and v >= TARGET]
        rows.append([run["family"], run["seed"], f"{run['g_steps']:,}", f"{run['training_s']:.0f} ({run['g_steps'] / run['training_s']:.1f})",
                     run["stopped"], fmt(raw, 4), fmt(ema, 4),
                     f"{fmt(b_raw, 4)} at {at_raw:,} / " + (f"{fmt(b_ema, 4)} at {at_ema:,}" if b_ema is not None else "n/a"),
                     f"{fmt(untruncated['raw']['fid'])} / {fmt(untruncated.get('ema', {}).get('fid'))}",
                     f"{fmt(untruncated['raw']['intra_fid'])} / {fmt(untruncated.get('ema', {}).get('intra_fid'))}",
                     f"met ({', '.join(met)})" if met else "not met"])
    return markdown_table(["family", "seed", "G iterations", "training s (G it/s)", "stopped by", "class accuracy, raw G (last)",
                           "EMA (last)", "best checkpoint, raw / EMA", "domain FID raw / EMA (last)", "intra-class FID raw / EMA",
                           "target >= 0.90"], rows)


def curves(data: dict) -> list[str]:
    rows = [[name, ", ".join(f"{r['g_step']}: {fmt(r['raw']['accuracy'])}" + (f" / {fmt(r['ema']['accuracy'])}" if "ema" in r else "")
                             for r in run["curve"])] for name, run in data["runs"].items()]
    return markdown_table(["run", "G step: raw / EMA"], rows)


def sweeps(data: dict) -> list[str]:
    rows = []
    for name, run in data["runs"].items():
        legs = [(name, run["curve"][-1]["g_step"], run["sweep"])]
        earlier = [k for k in run if k.startswith("sweep_leg") and not k.endswith("_g_step")]
        for key in sorted(earlier, key=lambda k: int(k[len("sweep_leg"):]), reverse=True):
            legs.append((f"{name} (leg {key[len('sweep_leg'):]})", run[f"{key}_g_step"], run[key]))  # earlier legs' sweeps
        rows += [[label, f"{step:,}", r["generator"], threshold(r["truncation"]), fmt(r["accuracy"], 4), fmt(r["fid"]), fmt(r["intra_fid"])]
                 for label, step, sweep in legs for r in sweep]
    return markdown_table(["run", "G step", "generator", "truncation", "class accuracy", "domain FID", "intra-class FID"], rows)


def per_class(data: dict) -> list[str]:
    lines = []
    for name, run in data["runs"].items():
        last = run["curve"][-1]
        for which in ("raw", "ema"):
            if which in last:
                lines.append(f"- {name}, {which}, G step {last['g_step']:,}: " + ", ".join(fmt(v, 3) for v in last[which]["per_class"]))
    return lines


def figure(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    none_at = 2.5
    for i, (name, run) in enumerate(data["runs"].items()):
        colour = f"C{i}"
        for which, style in (("raw", "-"), ("ema", "--")):
            rows = sorted((r for r in run["sweep"] if r["generator"] == which), key=lambda r: none_at if r["truncation"] is None else r["truncation"])
            if not rows:
                continue
            x = [none_at if r["truncation"] is None else r["truncation"] for r in rows]
            label = f"{name} ({which})"
            axes[0].plot(x, [r["accuracy"] for r in rows], style, marker="o", color=colour, label=label)
            axes[1].plot(x, [r["fid"] for r in rows], style, marker="o", color=colour, label=label)
    axes[0].axhline(TARGET, color="grey", lw=0.8, ls=":")
    axes[0].set_ylabel("class accuracy (shipped classifier)")
    axes[1].set_ylabel("domain FID (log scale)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xticks([0.5, 1.0, 1.5, 2.0, none_at], ["0.5", "1", "1.5", "2", "none"])
        ax.set_xlabel("truncation threshold of z")
    axes[0].legend(fontsize=7, ncol=2)
    fig.suptitle(f"Class-conditional Fashion-MNIST on {data['device']}: last checkpoints against truncation")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="bench/results/gpu_class_accuracy.json")
    parser.add_argument("--observations", default=None, help="a person's reading of the figures (a file; kept in the .json)")
    args = parser.parse_args()
    source = Path(args.json)
    data = json.loads(source.read_text())
    if args.observations:
        data["observations"] = Path(args.observations).read_text().strip()
        source.write_text(json.dumps(data, indent=1))
    figure(data, source.with_suffix(".png"))
    legs = [f"- leg {k}: {v}" for k, v in data["legs"].items()]
    options = [f"- {k}: {v}" for k, v in data["options"].items()]
    command = f"python bench/gpu_class_accuracy_report.py --json {args.json}"
    body = [
        "# " + data.get("title", "Class-conditional Fashion-MNIST on a GPU: AC-GAN over 3 seeds, cGAN-PD and BigGAN (issues 7 and 8)"), "",
        "Machine: " + data.get("machine", f"a lent {data['device']} (16 CPU cores; the device image's torch 2.11.0+cu130 and "
                                           "lightning 2.6.6)")
        + f", {data['date']}, lit-gans at commit {data['commit']}. Built by `{command}` from `{source.name}`.", "",
        "Protocol: `lit-gans fit --config configs/<family>/fashion_mnist.yaml` with every setting of the config "
        "(but the options below), a CSV logger, every checkpoint kept (`--checkpoint.save_top_k -1`), "
        + data.get("where", "runs at once on the one GPU") + ":", "", *legs, "",
        "Options beside the configs:", "", *options, "",
        "An EMA does not change training (the raw generator's weights are the same with or without it), so each run is read "
        "two ways: its raw generator and its EMA. Class accuracy: `bench/gpu_class_accuracy.py`, 200 samples asked for each "
        "class (seed 0), labelled by the shipped Fashion-MNIST classifier reading the 28 px picture inside the padding "
        "(real test images: 0.904). Domain FID and intra-class FID: `ModelEvaluation`, 2,000 samples against 2,000 "
        "training images in the classifier's feature space (not comparable with Inception FIDs). Truncation: z drawn with "
        "every entry within [-t, t] (`sample(n, truncation=t)`).", "",
        "## Last checkpoints, untruncated", "", *summary(data), "",
        "## Class accuracy at every checkpoint", "", *curves(data), "",
        "## Truncation sweep of the last checkpoints", "",
        f"Figure: [{source.with_suffix('.png').name}]({source.with_suffix('.png').name}) (solid: raw generator, dashed: EMA; "
        "the dotted line is the 0.90 target).", "", *sweeps(data), "",
        f"## Per class (last checkpoint; {CLASSES})", "", *per_class(data), "",
        "Class grids of the last checkpoints (row y: samples asked for class y; EMA where the run keeps one): "
        + ", ".join(f"[{n}]({source.stem}_{n}.png)" for n in data["runs"]), "",
    ]
    if data.get("observations"):
        body += ["## Reading", "", data["observations"], ""]
    source.with_suffix(".md").write_text("\n".join(body))
    print(source.with_suffix(".md"))


if __name__ == "__main__":
    main()
