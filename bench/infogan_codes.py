"""Benchmark: what do InfoGAN's continuous codes vary in its digits?

Each seed trains ``configs/infogan/digits.yaml`` (62 noise numbers, one 10-way categorical code, two
continuous codes in U(-1, 1), 1,000 generator iterations on 16-px digits) through the real CLI in a
subprocess (``runs.timed_fit``: ``lit-gans fit --config ... --seed_everything S --model.init_args.max_g_steps
N``, a CSV logger, no validation, in-training metrics off, ``OMP_NUM_THREADS=1``), one run at a time. Its last
checkpoint is loaded (``lit_gans.checkpoints.load_family``) and each continuous code measured with
``lit_gans.metrics.shape.code_property_effects``: 256 latents drawn at random, the code set to 9 values from
-1 to 1 with everything else fixed per sample, and per image-moment property (ink, width, height, slant,
centroid x/y, upright width) the standardised effect (mean per-sample slope / the property's spread across
samples at code 0) and the share of samples whose slope has the majority sign. Beside it: the categorical
code's accuracy (``code_class_accuracy``, as in ``bench/auxiliary_families.py``) and how often the shipped
digits classifier gives the same class at code -1, 0 and 1 (does the code change the digit?).

    OMP_NUM_THREADS=1 python bench/infogan_codes.py [--seeds 0,1,2] [--steps 1000] [--n 256]
    python bench/infogan_codes.py --measure-only   # measure the checkpoints already in --work again
    python bench/infogan_codes.py --report /tmp/lit_gans_infogan_codes/results.json --observations FILE

Writes bench/results/infogan_codes.md and .json, and the figure bench/results/infogan_codes.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, machine, markdown_table, write_results  # noqa: E402
from runs import ROOT, last_lines, saved_report, timed_fit  # noqa: E402

sys.path.insert(0, str(ROOT))

CONFIG = "configs/infogan/digits.yaml"
VALUES = 9  # code values from -1 to 1
N_PER_VALUE = 200  # categorical code accuracy: samples per code value


def measure(checkpoint: Path, n: int) -> dict[str, Any]:
    """Both continuous codes of the checkpoint's generator: ``code_property_effects`` per code, the share of
    samples whose class (shipped digits classifier) is the same at code -1, 0 and 1, the correlation of Q's
    estimate of the code with the code (all codes random), the categorical code's accuracy, and one row of
    samples per code (for the figure)."""
    import torch

    from lit_gans.checkpoints import load_family
    from lit_gans.metrics import code_class_accuracy, load_domain_network
    from lit_gans.metrics.shape import code_property_effects

    torch.set_num_threads(1)
    model = load_family(checkpoint).eval()
    classifier = load_domain_network("digits")
    spec, values = model.latent_spec, torch.linspace(-1, 1, VALUES)
    out: dict[str, Any] = {"g_step": model.g_step,
                           "code_accuracy": code_class_accuracy(model, classifier, code=0, n_per_value=N_PER_VALUE)["accuracy"],
                           "codes": []}
    latent = spec.draw(n, generator=torch.Generator().manual_seed(0))  # the latents code_property_effects draws
    row = spec.draw(1, generator=torch.Generator().manual_seed(1))  # the figure's noise vector
    with torch.no_grad():  # Q's estimates of the continuous codes follow the categorical logits
        estimates = model.judge(model.sample(n, latent=latent), None)[1][:, sum(spec.categorical):]
    for code in range(spec.continuous):
        effects = code_property_effects(model, code, values=values, n=n, seed=0)
        classes = []
        for value in (-1.0, 0.0, 1.0):
            continuous = latent.continuous.clone()
            continuous[:, code] = value
            with torch.no_grad():
                classes.append(classifier(model.sample(n, latent=latent.replace(continuous=continuous))).argmax(1))
        continuous = row.continuous.repeat(VALUES, 1)
        continuous[:, code] = values
        images = model.sample(VALUES, latent=row.replace(z=row.z.repeat(VALUES, 1), codes=row.codes.repeat(VALUES, 1),
                                                         continuous=continuous))
        q = float(torch.corrcoef(torch.stack([estimates[:, code].double(), latent.continuous[:, code].double()]))[0, 1])
        out["codes"].append({"code": code + 1, "effects": effects, "q_correlation": q,
                             "class_kept": float(((classes[0] == classes[1]) & (classes[2] == classes[1])).double().mean()),
                             "row": images[:, 0].tolist()})
    return out


def ranked(effects: dict[str, dict[str, Any]]) -> list[str]:
    """Property names by the size of their standardised effect, largest first."""
    return sorted(effects, key=lambda name: -abs(effects[name]["effect"]))


def figure(runs: list[dict[str, Any]], path: Path) -> None:
    """Per seed and code: the mean of the strongest property against the code value (band: +- the spread
    at code 0), and one row of samples varying that code for one noise vector."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from torchvision.utils import make_grid

    rows = [(run, code) for run in runs if "codes" in run for code in run["codes"]]
    fig, axes = plt.subplots(len(rows), 2, figsize=(7.2, 1.3 * len(rows)), gridspec_kw={"width_ratios": [1, 2.4]},
                             squeeze=False)
    for (run, code), (plot, strip) in zip(rows, axes):
        name = ranked(code["effects"])[0]
        effect = code["effects"][name]
        mean, spread = torch.tensor(effect["mean"]), effect["spread"]
        plot.plot(effect["values"], mean, "o-", ms=2.5, lw=1)
        plot.fill_between(effect["values"], mean - spread, mean + spread, alpha=0.2, lw=0)
        plot.set_ylabel(name.replace("_", " "), fontsize=7, labelpad=1)
        plot.tick_params(labelsize=6, pad=1)
        plot.set_title(f"seed {run['seed']}, c{code['code']}: {name} (effect {effect['effect']:+.2f})", fontsize=7, pad=2)
        images = torch.tensor(code["row"])[:, None]
        grid = make_grid(images.clamp(-1, 1) * 0.5 + 0.5, nrow=len(images), padding=1, pad_value=1.0)
        strip.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
        strip.set_axis_off()
        strip.set_title(f"c{code['code']} from -1 to 1, one noise vector", fontsize=7, pad=2)
    axes[-1][0].set_xlabel("code value", fontsize=7, labelpad=1)
    fig.tight_layout(pad=0.3, h_pad=0.6, w_pad=0.8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(saved: dict[str, Any]) -> None:
    runs, settings = saved["runs"], saved["settings"]
    measured = [run for run in runs if "codes" in run]
    invocation = "OMP_NUM_THREADS=1 python bench/infogan_codes.py " + " ".join(saved.get("argv", []))
    summary, detail = [], []
    for run in measured:
        for code in run["codes"]:
            order = ranked(code["effects"])
            first, second = code["effects"][order[0]], code["effects"][order[1]]
            summary.append([run["seed"], f"c{code['code']}", order[0], f"{first['effect']:+.2f}", f"{2 * abs(first['effect']):.2f}",
                            f"{first['consistency']:.2f}", f"{order[1]} ({second['effect']:+.2f})", f"{code['class_kept']:.2f}",
                            f"{code['q_correlation']:.3f}"])
            for name in order:
                e = code["effects"][name]
                detail.append([run["seed"], f"c{code['code']}", name + (" (strongest)" if name == order[0] else ""),
                               f"{e['effect']:+.2f}", f"{e['consistency']:.2f}", f"{e['slope']:+.3g}", f"{e['spread']:.3g}"])
    strongest = {}
    for run in measured:
        for code in run["codes"]:
            strongest.setdefault(code["code"], []).append(f"{ranked(code['effects'])[0]} (seed {run['seed']})")
    runs_rows = [[run["seed"], run.get("g_step", "n/a"), f"{run['wall_minutes']:.1f}" if "wall_minutes" in run else "n/a",
                  f"{run['measure_minutes']:.1f}" if "measure_minutes" in run else "n/a",
                  f"{run['code_accuracy']:.3f}" if "code_accuracy" in run else run.get("failed", "n/a")] for run in runs]
    body = [
        f"Invocation: `{invocation.strip()}` ({saved['wall_minutes']:.1f} wall minutes).",
        "",
        f"Machine: {saved['machine']}; one training run at a time, `OMP_NUM_THREADS=1`, the cores shared with other work.",
        "",
        f"Protocol: `lit-gans fit --config {CONFIG} --seed_everything S --model.init_args.max_g_steps {settings['steps']}` "
        "(every other setting the config's) through `bench/runs.timed_fit` (CSV logger, no validation, in-training "
        "metrics off, a checkpoint at the end); the last checkpoint loaded with `load_family`, raw generator (the config "
        f"has no EMA). Each continuous code: `code_property_effects(model, code, values=linspace(-1, 1, {VALUES}), "
        f"n={settings['n']}, seed=0)` (`lit_gans/metrics/shape.py`): {settings['n']} latents drawn from the latent spec, "
        "the code set to each value with the noise, the categorical code and the other continuous code fixed per sample. "
        "Properties from the image moments of the ink `(x + 1) / 2`, in pixels of the 16-px image, y upward: ink (mean "
        "ink per pixel), width `sqrt(mu20/mu00)`, height `sqrt(mu02/mu00)`, slant `mu11/mu02` (> 0 leans right like "
        "`/`), centroid x/y, upright width (the width after deskewing, `sqrt((mu20 - mu11^2/mu02)/mu00)`).",
        "",
        "- standardised effect: the mean over samples of the least-squares slope of the property against the code "
        "value, divided by the property's standard deviation across the samples at code 0 (digits of every class); "
        "from code -1 to 1 the property moves about 2 x |effect| of those spreads. The sign of a code is arbitrary "
        "(codes are learnt without labels), so only the property, not the sign, can agree across seeds.",
        "- sign consistency: the share of samples whose slope has the majority sign (1.0: every sample moves the same "
        "way; 0.5: no common direction).",
        "- class kept: the share of samples the shipped digits classifier gives the same class at code -1, 0 and 1.",
        f"- Q's r: the correlation of Q's estimate of the code with the code over the {settings['n']} samples, every "
        "part of the latent random (Q in eval mode): how much of the code the images carry for Q.",
        "",
        "## Strongest property per seed and code",
        "",
        *markdown_table(["seed", "code", "strongest property", "standardised effect", "move -1 -> 1 (spreads)",
                         "sign consistency", "second strongest (effect)", "class kept", "Q's r"], summary),
        "",
        *[f"- c{code}: strongest " + ", ".join(names) for code, names in sorted(strongest.items())],
        "",
        "Figure [infogan_codes.png](infogan_codes.png): per seed and code, left the mean of the strongest property "
        f"over the {settings['n']} samples at each code value (band: +- its spread at code 0), right one noise vector "
        "(the same for all rows) with that code from -1 to 1.",
        "",
    ]
    if settings.get("observations"):
        body += ["## Reading (a person's, written after the run)", "", settings["observations"], ""]
    body += [
        "## Every property",
        "",
        *markdown_table(["seed", "code", "property", "standardised effect", "sign consistency", "mean slope (px or ink per unit code)",
                         "spread at code 0"], detail),
        "",
        "## Runs",
        "",
        "Train minutes: wall minutes of the training subprocess (start-up included); measure minutes: the "
        f"measurements of both codes. Code accuracy: `code_class_accuracy(model, digits classifier, n_per_value={N_PER_VALUE})`, "
        "the categorical code's accuracy under the best matching of code values to classes (as in "
        "`bench/results/auxiliary_families.md`).",
        "",
        *markdown_table(["seed", "G steps", "train min", "measure min", "categorical code accuracy"], runs_rows),
    ]
    clean = {**saved, "runs": [{**run, "codes": [{k: v for k, v in code.items() if k != "row"} for code in run.get("codes", [])]}
                               for run in runs]}
    write_results("infogan_codes", "InfoGAN's continuous codes: what image property each one varies (digits)", body, clean)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1000, help="generator iterations (the config's 1,000)")
    parser.add_argument("--n", type=int, default=256, help="latents per code measurement")
    parser.add_argument("--work", default="/tmp/lit_gans_infogan_codes", help="run folders (checkpoints, logs)")
    parser.add_argument("--measure-only", action="store_true", help="measure the checkpoints already in --work, no training")
    parser.add_argument("--report", default=None, help="rebuild the .md/.json from a saved results.json (the figure stays)")
    parser.add_argument("--observations", default=None, help="with --report: a person's reading (text or a file)")
    args = parser.parse_args()
    if args.report:
        report(saved_report(args.report, args.observations))
        return
    work, started, runs = Path(args.work), time.perf_counter(), []
    earlier = work / "results.json"  # --measure-only keeps what training recorded
    trained = {r["seed"]: r for r in json.loads(earlier.read_text())["runs"]} if args.measure_only and earlier.is_file() else {}
    for seed in args.seeds:
        run_dir = work / f"seed{seed}"
        run: dict[str, Any] = {"seed": seed, **{k: v for k, v in trained.get(seed, {}).items()
                                                if k in ("command", "returncode", "wall_minutes", "cpu_minutes")}}
        if not args.measure_only:
            print(f"[{(time.perf_counter() - started) / 60:5.1f} min] train seed {seed}", flush=True)
            run.update(timed_fit(CONFIG, run_dir, None, seed=seed, steps=args.steps))
            if run["returncode"] != 0:
                run["failed"] = last_lines(run_dir / "train.log")
                print(f"FAILED seed {seed}: {run['failed']}", flush=True)
                runs.append(run)
                continue
        t0 = time.perf_counter()
        run.update(measure(run_dir / "ckpt" / "last.ckpt", args.n))
        run["measure_minutes"] = (time.perf_counter() - t0) / 60
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] seed {seed}: code accuracy {run['code_accuracy']:.3f}; "
              + "; ".join(f"c{c['code']} {ranked(c['effects'])[0]} {c['effects'][ranked(c['effects'])[0]]['effect']:+.2f}"
                          for c in run["codes"]), flush=True)
        runs.append(run)
    if any("codes" in run for run in runs):
        figure(runs, RESULTS / "infogan_codes.png")
    settings = {k: v for k, v in vars(args).items() if k not in ("report", "observations", "work")}
    saved = {"machine": machine(1), "settings": settings, "argv": sys.argv[1:],
             "wall_minutes": (time.perf_counter() - started) / 60, "runs": runs}
    work.mkdir(parents=True, exist_ok=True)
    (work / "results.json").write_text(json.dumps(saved, indent=2, default=str) + "\n")
    report(saved)


if __name__ == "__main__":
    main()
