"""Where a default run's time goes: every config under ``configs/`` through ``lit-gans fit`` for a few
generator iterations with its default callbacks (metrics, sample grids, checkpoints, validation on their
config's schedules), split by the run's own time report (``<log_dir>/time_report.json``), with the
process's user and system CPU time.

    PYTHONPATH=. python bench/run_costs.py                      # every config, 200 generator iterations
    PYTHONPATH=. python bench/run_costs.py --configs cgan/digits --steps 0 --tag full   # its full length

A config whose data is not on this machine (CIFAR-10, MNIST, image folders) is listed with the one-line
error it stops with. Results: ``bench/results/run_costs.md`` and ``.json`` (``--tag`` adds a suffix).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, markdown_table, write_results  # noqa: E402
from bench.runs import ROOT, lit_gans, run_all, saved_report  # noqa: E402

BUDGET = 0.10
PARTS = ("start-up", "training", "validation", "evaluation", "sample grids", "checkpoints")


def run_config(config: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    name = config.replace("/", "_")
    run_dir = work / name
    if args.reuse and (run_dir / "row.json").is_file():  # a run of an earlier invocation with the same settings
        return json.loads((run_dir / "row.json").read_text())
    length = ["--model.init_args.max_g_steps", str(args.steps)] if args.steps else []
    if args.max_minutes:  # the configs that take longest stop early: their evaluation share is then an upper bound
        seconds = int(args.max_minutes * 60)
        length += ["--trainer.max_time", f"00:{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"]
    command = lit_gans() + [
        "fit", "--config", f"configs/{config}.yaml", *length,
        "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.init_args.save_dir", str(run_dir), "--trainer.logger.init_args.name", "",
        "--trainer.default_root_dir", str(run_dir), "--trainer.enable_progress_bar", "false",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    else:
        env.pop("OMP_NUM_THREADS", None)  # lit-gans chooses (the cores divided among the run's processes)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    import subprocess

    with open(run_dir / "fit.log", "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    row: dict[str, Any] = {"config": config, "returncode": code, "wall": time.perf_counter() - started,
                           "user": usage.ru_utime, "sys": usage.ru_stime, "command": " ".join(command[len(lit_gans()):])}
    text = (run_dir / "fit.log").read_text(errors="replace")
    reports = sorted(run_dir.rglob("time_report.json"))
    if code != 0 or not reports:
        errors = [line for line in text.splitlines() if line.startswith("lit-gans: error:")]
        row["failed"] = errors[-1][len("lit-gans: error: "):] if errors else " | ".join(text.strip().splitlines()[-3:])
        return row
    row["report"] = json.loads(reports[-1].read_text())
    trained = re.search(r"trained (\d+) generator iterations", text)
    row["g_steps"] = int(trained.group(1)) if trained else None
    metrics = re.search(r"^\s+(metrics|last validation):\s+(.*)$", text, re.M)
    row["measured"] = metrics.group(2) if metrics else ""
    row["warned"] = "spends" in text and "budget" in text
    (run_dir / "row.json").write_text(json.dumps(row, indent=1) + "\n")
    return row


def measures_itself(config: str) -> bool:
    """Whether the config's family measures itself in validation (``evaluates_itself``: the image-to-image
    families, SinGAN), so that its validation is its evaluation."""
    import importlib

    import yaml

    path = (ROOT / "configs" / f"{config}.yaml")
    module, _, name = yaml.safe_load(path.read_text())["model"]["class_path"].rpartition(".")
    return bool(getattr(getattr(importlib.import_module(module), name), "evaluates_itself", False))


def shares(row: dict[str, Any], steps: int) -> tuple[float, float, bool]:
    """The share of the wall time spent evaluating (metrics, plus validation for a family that measures itself
    there), that share extrapolated to ``steps`` generator iterations for a run the time cap stopped early (its
    training time scaled up, everything else as measured), and whether it was capped."""
    rep = row["report"]
    spent = rep["evaluation"] + (rep["validation"] if measures_itself(row["config"]) else 0.0)
    capped = bool(steps) and row["g_steps"] is not None and 0 < row["g_steps"] < steps
    wall = rep["wall"] + (rep["training"] * (steps / row["g_steps"] - 1) if capped else 0.0)
    return spent / rep["wall"], spent / wall, capped


def report(saved: dict[str, Any], tag: str) -> None:
    runs = saved["runs"]
    steps = saved["settings"].get("steps") or 0
    done = [r for r in runs if "report" in r]
    rows, over = [], []
    for r in done:
        rep = r["report"]
        wall = rep["wall"]
        share, full, capped = shares(r, steps)
        if full >= BUDGET:
            over.append(r["config"])
        rows.append([r["config"], f"{r['g_steps']}{' (time cap)' if capped else ''}", f"{wall:.1f}",
                     *(f"{rep[p]:.1f}" for p in PARTS), f"{100 * share:.1f} %", f"{100 * full:.1f} %" if capped else "",
                     f"{100 * r['sys'] / max(r['user'] + r['sys'], 1e-9):.1f} %", "yes" if full < BUDGET else "**no**"])
    failed = [[r["config"], r["failed"][:220]] for r in runs if "failed" in r]
    body = [
        f"Machine: {saved['machine']}.",
        "",
        f"Command: `python bench/run_costs.py {' '.join(saved['argv'])}` ({saved['wall_minutes']:.1f} wall minutes, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}).",
        "",
        "Protocol: each config through `lit-gans fit --config configs/<config>.yaml` in its own process"
        + (f", `--model.init_args.max_g_steps {saved['settings']['steps']}`" if saved["settings"]["steps"] else " at its own length")
        + (f" or at most {saved['settings']['max_minutes']:g} minutes of training (`trainer.max_time`; a run stopped by it "
           "trained fewer iterations, so its evaluation share is an upper bound of the share at full length)"
           if saved["settings"].get("max_minutes") else "")
        + ", a CSV logger instead of wandb, no progress bar, everything else the config's and lit-gans' defaults: "
        "metrics (FID, KID, IS, classifier scores, or mode coverage on the 2-D mixtures) every `metrics.every_n_g_steps` "
        "and when training stops, sample grids, checkpoints, validation every `validation.every_n_g_steps` (or the "
        "config's own Lightning cadence) and when training stops. "
        + (f"`OMP_NUM_THREADS={saved['settings']['threads']}` per run, {saved['settings']['jobs']} runs at a time. "
           if saved["settings"]["threads"] else f"{saved['settings']['jobs']} run(s) at a time, threads chosen by lit-gans. ")
        + "The split is the run's own time report (`time_report.json`): wall = process start to the end of `fit`; "
        "start-up = imports, data preparation, building, Lightning's sanity check; evaluation = the metrics "
        "callback; validation = Lightning's validation loop (the losses; the image-to-image families and SinGAN "
        "measure themselves there, so for them the evaluation share counts their validation). For a run the time cap "
        "stopped, the share is also given at the full length: its training time scaled to the iterations it missed, "
        "every other part as measured. sys = the process's system CPU time over its user + system time. "
        f"Budget: evaluation under {100 * BUDGET:.0f} % of the wall time. Seconds:",
        "",
        *markdown_table(["config", "G steps", "wall", *PARTS, "evaluation share", f"at {steps} iterations (extrapolated)",
                         "sys / CPU", f"evaluation < {100 * BUDGET:.0f} %"], rows),
        "",
        f"{len(done)} configs ran; evaluation took under {100 * BUDGET:.0f} % of the wall time in "
        f"{len(done) - len(over)} of them" + (f"; over it: {', '.join(over)}." if over else "."),
    ]
    if failed:
        body += ["", f"Not run here ({len(failed)}): the data is not on this machine (each stops with this line):", "",
                 *markdown_table(["config", "lit-gans: error:"], failed)]
    measured = [[r["config"], r.get("measured", "")[:300]] for r in done if r.get("measured")]
    if measured:
        body += ["", "What each run measured at its end (from its closing lines):", "", *markdown_table(["config", "values"], measured)]
    if saved["settings"].get("observations"):
        body += ["", "## Reading", "", saved["settings"]["observations"]]
    write_results(f"run_costs{('_' + tag) if tag else ''}", "Where a default run's time goes", body, saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="", help="comma-separated <family>/<name> (default: every config)")
    parser.add_argument("--steps", type=int, default=200, help="generator iterations per run (0: the config's length)")
    parser.add_argument("--max-minutes", type=float, default=2.0, help="cap on each run's training time (0: none)")
    parser.add_argument("--reuse", action="store_true", help="keep the rows of runs already in --work")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS per run (0: lit-gans chooses)")
    parser.add_argument("--work", default="/tmp/lit_gans_run_costs")
    parser.add_argument("--tag", default="")
    parser.add_argument("--report", default=None, help="write the tables from a saved results.json")
    parser.add_argument("--observations", default=None, help="a reading of the results (text or a file)")
    args = parser.parse_args()
    if args.report:
        report(saved_report(args.report, args.observations), args.tag)
        return
    configs = [c for c in args.configs.split(",") if c] or sorted(
        str(p.relative_to(ROOT / "configs").with_suffix("")) for p in (ROOT / "configs").glob("*/*.yaml"))
    work = Path(args.work)

    def run(config: str, lock: Any, started: float) -> dict[str, Any]:
        row = run_config(config, args, work)
        with lock:
            state = row.get("failed", "")[:100] or f"{row['report']['evaluation'] / row['report']['wall']:.1%} evaluation"
            print(f"[{(time.perf_counter() - started) / 60:5.1f} min] {config}: {row['wall']:.0f} s, {state}", flush=True)
        return row

    saved = run_all(run, configs, args, work, machine(args.threads or None))
    report(saved, args.tag)


if __name__ == "__main__":
    main()
