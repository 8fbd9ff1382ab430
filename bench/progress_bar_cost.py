"""Benchmark: what the progress bar's redraws cost a run whose steps take milliseconds.

``lit-gans fit`` differs from a bare ``L.Trainer`` by its progress bar (``GANProgressBar``), its logger
and its callbacks. On an H100 the default way ran at 0.91-0.93x of a hand-written loop where the bare
Trainer ran at 0.93-1.00x (``throughput_gpu_eager.md``): such a loop is bound by the host, so any
work the process does beside its steps shows in its speed. This bench takes the default way apart:
the bare Trainer, then the default way with the bar redrawn ``r`` times a second for each ``r`` of
``--rates`` (0: no bar; the logger and callbacks stay), on ``bench/throughput.py``'s GPU setting
(DCGAN, random images through the suite's pinned DataLoader, 64 batches an epoch as there).

- ``--device cuda``: that setting at full size (64 px, batch 128, 64 features, 2 workers);
- ``--device cpu`` (default): its tiny sizes (16 px, batch 8, 8 features, no workers), 512 images
  so that an epoch is 64 batches as at full size. A step takes about 6 ms on a 2-core CPU, as many
  as on the GPU, most of it Python: the host-bound regime of the GPU run.

Each round runs every way once, in a rotating order, for 20 untimed and ``--steps`` timed generator
iterations; the figures are the median over rounds of milliseconds per iteration and of each way's
difference from the bare Trainer in the same round.

    PYTHONPATH=. python bench/progress_bar_cost.py [--device cpu] [--rounds 5] [--steps 400] [--rates 0,1,2,4,10]
    python bench/progress_bar_cost.py --report bench/results/progress_bar_cost.json --observations FILE

Writes bench/results/progress_bar_cost.md and .json (``progress_bar_cost_gpu`` with ``--device cuda``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# rich draws the bar as in a terminal even when the output goes to a file (what users pay)
os.environ.setdefault("TTY_COMPATIBLE", "1")
os.environ.setdefault("TTY_INTERACTIVE", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import throughput as tp  # noqa: E402
from common import machine, markdown_table, write_results  # noqa: E402

from lit_gans.callbacks import GANProgressBar  # noqa: E402


def overrides(rate: int) -> dict[str, Any]:
    """The default way's trainer settings with the bar at ``rate`` redraws a second (0: no bar)."""
    if rate == 0:
        return {"enable_progress_bar": False}
    return {"callbacks": [{"class_path": "lit_gans.callbacks.GANProgressBar", "init_args": {"refresh_rate": rate}}]}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("bench/progress_bar_cost.py --device cuda: no CUDA device is visible; leave --device out for the CPU setting")
    rates = [int(r) for r in args.rates.split(",")]
    if device.type == "cuda":
        setting = tp.GpuSetting(device)
    else:
        setting = tp.GpuSetting.tiny(device)
        setting.n_images = 64 * setting.batch_size  # 64 batches an epoch, as at full size
    setting.steps, setting.warmup = args.steps, 20
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ways = ["bare", *[f"default, bar {r}/s" if r else "default, no bar" for r in rates]]
    ms: dict[str, list[float]] = {w: [] for w in ways}
    started = time.perf_counter()
    setting.dm()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = ways[r % len(ways):] + ways[: r % len(ways)]
            for way in order:
                cell = tp.Cell("32-true", "eager", "bare" if way == "bare" else "default")
                extra = None if way == "bare" else overrides(rates[ways.index(way) - 1])
                with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # the bar still renders
                    _, seconds = tp.gpu_suite(setting, cell, Path(tmp), extra)
                ms[way].append(seconds / setting.steps * 1e3)
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{w} {ms[w][-1]:.2f}" for w in ways), flush=True)
    return {"machine": machine(1), "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "no GPU",
            "setting": setting.label, "rounds": args.rounds, "steps": setting.steps, "ms": ms,
            "wall_s": time.perf_counter() - started, "date": time.strftime("%Y-%m-%d"),
            "argv": [a for a in sys.argv[1:]], "default_rate": GANProgressBar().refresh_rate}


def report(saved: dict[str, Any], observations: str | None) -> None:
    ms = saved["ms"]
    rows = []
    for way, values in ms.items():
        extra = [a - b for a, b in zip(values, ms["bare"])]
        median, extra_median = statistics.median(values), statistics.median(extra)
        rows.append([way, median, extra_median, 100 * extra_median / statistics.median(ms["bare"]),
                     ", ".join(f"{v:.2f}" for v in values)])
    body = [
        f"Machine: {saved['machine']}; device {saved['device']}. {saved['setting']}; {saved['rounds']} rounds, 20 untimed "
        f"+ {saved['steps']} timed generator iterations a block, 32-true. Total wall time {saved['wall_s']:.0f} s, {saved['date']}.",
        "",
        f"Command: `PYTHONPATH=. python bench/progress_bar_cost.py {' '.join(saved['argv'])}`",
        "",
        *markdown_table(["way", "ms per G iteration (median)", "minus bare, same round (median)",
                         "cost, % of bare's time", "per round"], rows),
        "",
        "bare: the family under `L.Trainer` alone; default: as `lit-gans fit` builds it with a CSVLogger, "
        "its callbacks and the progress bar at the given redraws per second (`GANProgressBar(refresh_rate)`, default "
        f"{saved['default_rate']} when measured); no bar: `trainer.enable_progress_bar: false`. The bar draws to stdout, "
        "sent to /dev/null, as in a terminal (TTY_COMPATIBLE=1).",
    ]
    if observations:
        text = Path(observations).read_text() if Path(observations).is_file() else observations
        body += ["", "## Reading", "", text.strip()]
        saved = {**saved, "observations": text.strip()}
    name = "progress_bar_cost_gpu" if saved["device"] != "no GPU" else "progress_bar_cost"
    write_results(name, "What the progress bar's redraws cost a host-bound run", body, saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=400, help="timed generator iterations per block")
    parser.add_argument("--rates", default="0,1,2,4,10", help="the bar's redraws per second (0: no bar)")
    parser.add_argument("--report", default=None, help="rebuild the report from a results .json instead of measuring")
    parser.add_argument("--observations", default=None, help="with --report: a person's reading (text or a file)")
    args = parser.parse_args()
    if args.report:
        report(json.loads(Path(args.report).read_text()), args.observations)
    else:
        report(measure(args), None)


if __name__ == "__main__":
    main()
