"""Shared by the benchmarks that train through the real CLI: one ``lit-gans fit`` run in a subprocess
for a fixed time (equal CPU minutes), and the evaluation of its last checkpoint in the domain feature
space of its data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]


def lit_gans() -> list[str]:
    """The ``lit-gans`` command of this interpreter's environment."""
    entry = Path(sys.executable).parent / "lit-gans"
    return [str(entry)] if entry.is_file() else [sys.executable, "-m", "lit_gans.cli"]


def one_thread_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"}


def timed_fit(config: str, run_dir: Path, minutes: Optional[float], overrides: Sequence[str] = (), seed: int = 0,
              steps: Optional[int] = None) -> dict[str, Any]:
    """Train ``config`` for ``minutes`` of wall time (``trainer.max_time``; the run's own length is lifted)
    or, with ``steps``, for that many generator iterations (with both: ``steps``, cut at ``minutes``), with a
    CSV logger, no validation, no progress bar, in-training metrics off and a checkpoint at the end. Returns
    the command, wall and CPU minutes (the child's user + system time) and the exit status."""
    run_dir.mkdir(parents=True, exist_ok=True)
    length = ["--model.init_args.max_g_steps", str(steps if steps is not None else 10_000_000)]
    if minutes is not None:
        seconds = int(minutes * 60)
        length += ["--trainer.max_time", f"00:{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"]
    command = lit_gans() + [
        "fit", "--config", config, "--seed_everything", str(seed), *length,
        "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.init_args.save_dir", str(run_dir / "logs"), "--trainer.logger.init_args.name", "",
        "--trainer.default_root_dir", str(run_dir),
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0",
        "--checkpoint.dirpath", str(run_dir / "ckpt"), "--checkpoint.every_n_g_steps", "100000000",
        "--samples.dirpath", str(run_dir / "samples"), "--samples.every_n_g_steps", "100000000",
        "--metrics.metrics", "[]", *overrides,
    ]
    t0 = time.perf_counter()
    with open(run_dir / "train.log", "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=one_thread_env(), stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    return {"command": " ".join(command[len(lit_gans()):]), "returncode": process.returncode,
            "wall_minutes": (time.perf_counter() - t0) / 60, "cpu_minutes": (usage.ru_utime + usage.ru_stime) / 60}


def last_lines(path: Path, n: int = 3) -> str:
    lines = path.read_text(errors="replace").strip().splitlines() if path.is_file() else []
    return " | ".join(lines[-n:])


def evaluate_checkpoint(checkpoint: Path, metrics: Sequence[str], n_samples: int = 2000, n_real: int = 2000,
                        datamodule: Optional[Any] = None) -> dict[str, Any]:
    """Load ``checkpoint`` (``lit_gans.checkpoints.load_family``; EMA generator when it has one) and compute
    ``metrics`` with ``ModelEvaluation`` in its data's domain feature space, against ``datamodule`` (by
    default the run's own, as the checkpoint records it). Class accuracy, for conditional models, is read
    by the domain classifier inside the padding of padded data, as it reads real images."""
    import torch

    from lit_gans.checkpoints import load_family
    from lit_gans.metrics import ModelEvaluation, class_accuracy, load_domain_network

    torch.set_num_threads(1)
    model = load_family(checkpoint).eval()
    own, recorded = datamodule_of(checkpoint)
    datamodule = own if datamodule is None else datamodule
    conditional = bool(model.latent_spec.num_classes)
    metrics = [m for m in metrics if conditional or m not in ("intra_fid", "class_accuracy")]
    evaluation = ModelEvaluation(datamodule, metrics=metrics, n_samples=n_samples, n_real=n_real)
    evaluation.prepare(model.device)
    out: dict[str, Any] = {**scores(evaluation, model), "feature": evaluation.feature}
    if conditional and evaluation.feature:
        classifier = unpadded(load_domain_network(evaluation.feature), recorded)
        out["class_accuracy_inside"] = class_accuracy(model, classifier, n_per_class=200)
    return out


def scores(evaluation: Any, model: Any) -> dict[str, Any]:
    """A prepared ``ModelEvaluation``'s metrics of ``model`` (seed 0) by bare name (``fid``, not
    ``fashion_mnist/fid``), with the model's step counts."""
    values = evaluation.evaluate(model, seed=0)
    return {"g_step": model.g_step, "d_step": model.d_step, **{k.split("/", 1)[1]: v for k, v in values.items()}}


def datamodule_of(checkpoint: Path) -> tuple[Any, dict[str, Any]]:
    """The DataModule a checkpoint was trained on, rebuilt from what it records, and that record."""
    import importlib

    import torch

    recorded = torch.load(checkpoint, map_location="cpu", weights_only=True)["lit_gans"]["datamodule"]
    module, _, name = recorded["class_path"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**recorded["init_args"]), recorded


def child_result(script: str, args: Sequence[str]) -> dict[str, Any]:
    """Run ``script`` with ``args`` in a fresh one-thread process and return the JSON it prints on its last
    ``RESULT `` line, or ``{"failed": ...}`` with the end of its error output."""
    child = subprocess.run([sys.executable, script, *args], cwd=ROOT, env=one_thread_env(), capture_output=True, text=True)
    lines = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
    if lines:
        return json.loads(lines[-1][len("RESULT "):])
    return {"failed": f"evaluation exit {child.returncode}: " + " | ".join(child.stderr.strip().splitlines()[-3:])}


def saved_report(path: str, observations: Optional[str]) -> dict[str, Any]:
    """A bench's saved results (``--report``), with a person's reading of them added (text or a file)."""
    saved = json.loads(Path(path).read_text())
    if observations:
        given = Path(observations)
        saved["settings"]["observations"] = given.read_text().strip() if given.is_file() else observations
    return saved


def run_all(run: Callable[[Any, threading.Lock, float], dict[str, Any]], items: Sequence[Any], args: Any,
            work: Path, machine_line: str) -> dict[str, Any]:
    """``run(item, lock, started)`` for every item, ``args.jobs`` at a time; the results with the bench's
    settings (``args`` but its report options) saved to ``work/results.json`` and returned."""
    work.mkdir(parents=True, exist_ok=True)
    started, lock = time.perf_counter(), threading.Lock()
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda item: run(item, lock, started), items))
    settings = {k: v for k, v in vars(args).items() if k not in ("child", "report", "observations", "work")}
    saved = {"machine": machine_line, "settings": settings, "argv": sys.argv[1:],
             "wall_minutes": (time.perf_counter() - started) / 60, "runs": runs}
    (work / "results.json").write_text(json.dumps(saved, indent=2, default=str) + "\n")
    return saved


def unpadded(classifier: Any, recorded: dict[str, Any]) -> Any:
    """The classifier as it reads a run's images: on data padded up from its native size (``fit: pad``)
    it reads the native-size picture inside the border, as it reads real images, instead of the whole
    padded image shrunk (which moves real Fashion-MNIST accuracy from 0.904 to 0.873). ``recorded``:
    the DataModule's ``{init_args}``."""
    args = recorded.get("init_args", {})
    size = int(args.get("image_size", classifier.native_size))
    border = (size - classifier.native_size) // 2 if args.get("fit") == "pad" else 0
    return (lambda x: classifier(x[..., border:-border, border:-border])) if border > 0 else classifier


__all__ = ["child_result", "datamodule_of", "evaluate_checkpoint", "last_lines", "lit_gans", "one_thread_env", "run_all",
           "saved_report", "timed_fit", "unpadded"]


# ---------------------------------------------------------------------------------------------- families at equal minutes
def family_bench_parser(description: str, families: Sequence[str], minutes: float, work: str) -> Any:
    """The options of a bench that trains each family's ``configs/<family>/fashion_mnist.yaml`` for the same
    wall minutes (``run_family_bench``)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--minutes", type=float, default=minutes, help="wall minutes of training per family (one thread)")
    parser.add_argument("--width", type=int, default=32, help="g_width = d_width of every run")
    parser.add_argument("--families", default=",".join(families))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel")
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--n-real", type=int, default=2000)
    parser.add_argument("--work", default=work)
    parser.add_argument("--report", default=None, help="rebuild the table from a results .json instead of running")
    parser.add_argument("--observations", default=None, help="with --report: a person's reading (text or a file)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser


def run_family_bench(script: str, args: Any, report: Callable[[dict], None], evaluate: Callable[[Path, Any], dict],
                     overrides: Callable[[str, Any], list[str]] = lambda family, args: []) -> None:
    """A bench's main: as the evaluation child (``--child CKPT``: ``evaluate(ckpt, args)`` printed as the
    ``RESULT`` line), as ``--report``, or training every family of ``args.families`` for ``args.minutes`` at
    ``args.width`` (plus ``overrides(family, args)``), ``args.jobs`` at a time, each evaluated in a child."""
    if args.child:
        print("RESULT " + json.dumps(evaluate(Path(args.child), args)), flush=True)
        return
    if args.report:
        report(saved_report(args.report, args.observations))
        return
    from datamodules import FashionMNISTDataModule

    FashionMNISTDataModule(data_dir="data").prepare_data()  # fail early, before runs start
    work = Path(args.work)
    child_args = ["--n-samples", str(args.n_samples), "--n-real", str(args.n_real)]

    def run(family: str, lock: threading.Lock, started: float) -> dict:
        run_dir, config = work / family, f"configs/{family}/fashion_mnist.yaml"
        with lock:
            print(f"[{(time.perf_counter() - started) / 60:5.1f} min] start {family}", flush=True)
        widths = ["--model.init_args.g_width", str(args.width), "--model.init_args.d_width", str(args.width)]
        result = {"family": family, "config": config,
                  **timed_fit(config, run_dir, args.minutes, [*widths, *overrides(family, args)], seed=args.seed)}
        if result["returncode"] != 0:
            result["failed"] = last_lines(run_dir / "train.log")
        else:
            result.update(child_result(script, ["--child", str(run_dir / "ckpt" / "last.ckpt"), *child_args]))
        with lock:
            print(f"[{(time.perf_counter() - started) / 60:5.1f} min] done {family}: "
                  f"{ {k: v for k, v in result.items() if k != 'command'} }", flush=True)
        return result

    from common import machine

    report(run_all(run, args.families.split(","), args, work, machine(1)))
