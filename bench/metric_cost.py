"""Benchmark: the cost of one evaluation (FID + KID + IS + classifier scores) per 1,000 generated
samples, in a shipped domain feature network and in Inception v3.

Inception's real weights cannot be downloaded here; its architecture with random weights costs the
same time and memory, so it is timed with them (pass --inception-weights to use the real file).
Timing covers the feature pass over the generated images and compute(); real features are cached
and not counted. Each setting runs in its own process; peak memory is that process's peak resident
set size, and its growth during the evaluation (CPU), or torch's peak allocated memory (GPU).

    python bench/metric_cost.py [--n 1000] [--inception-n 50]

Writes bench/results/metric_cost.md and .json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import machine, markdown_table, write_results  # noqa: E402
from lit_gans.metrics.evaluator import Evaluator  # noqa: E402
from lit_gans.metrics.features import InceptionFeatures, feature_network  # noqa: E402


def random_inception_file(folder: Path) -> Path:
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: None), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda *a, **k: None):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    path = folder / "random-inception.pth"
    torch.save(net.state_dict(), path)
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(network: torch.nn.Module, images: torch.Tensor, n_real: int, device: torch.device) -> dict:
    network = network.to(device)
    evaluator = Evaluator(network, kid_subset_size=min(1000, len(images))).to(device)
    real = images[torch.randperm(len(images))][:n_real]
    evaluator.add_real_features(torch.cat([evaluator.features(b)[0] for b in real.split(100)]))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        torch.cuda.synchronize(device)
    rss_before = peak_rss_mb()
    start = time.perf_counter()
    for batch in images.split(100):
        evaluator.update_fake(batch.to(device))
    values = evaluator.compute()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    memory = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else peak_rss_mb() - rss_before
    return {"seconds": seconds, "peak_memory_mb": memory, "fid": values.get("fid")}


def child(feature: str, shape: tuple[int, ...], n: int, inception_weights: str | None) -> dict:
    """One setting, in this process (run as a child so that peak memory is its own)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    images = torch.rand(n, *shape) * 2 - 1
    with tempfile.TemporaryDirectory() as tmp:
        if feature == "inception":
            network = InceptionFeatures(inception_weights or random_inception_file(Path(tmp)))
        else:
            network = feature_network(feature)
        result = measure(network, images, n_real=min(n, 500), device=device)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="generated samples for the domain networks")
    parser.add_argument("--inception-n", type=int, default=50, help="generated samples timed with Inception (scaled to 1,000)")
    parser.add_argument("--inception-weights", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = {"digits": ((1, 16, 16), args.n), "fashion_mnist": ((1, 32, 32), args.n), "inception": ((3, 32, 32), args.inception_n)}
    if args.child:
        shape, n = settings[args.child]
        print(json.dumps(child(args.child, shape, n, args.inception_weights)))
        return
    rows, data = [], []
    for feature, (shape, n) in settings.items():
        command = [sys.executable, __file__, "--child", feature, "--n", str(args.n), "--inception-n", str(args.inception_n), "--threads", str(args.threads)]
        if args.inception_weights:
            command += ["--inception-weights", args.inception_weights]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        weights = "shipped" if feature != "inception" else ("given file" if args.inception_weights else "random (same cost)")
        row = {"feature network": feature, "weights": weights, "image shape": "x".join(map(str, shape)), "samples timed": n,
               "seconds": result["seconds"], "seconds per 1,000": result["seconds"] * 1000 / n,
               "memory growth MB": result["peak_memory_mb"], "process peak MB": result["peak_rss_mb"]}
        data.append(row)
        rows.append(list(row.values()))
        print(row, flush=True)
    body = [
        f"Machine: {machine(args.threads)}.",
        "One evaluation = the feature pass over the generated images + FID, KID (100 subsets of up to 1,000), IS "
        "and classifier scores' compute(); real features are cached, so not counted. Inception times fewer samples "
        "and is scaled linearly to 1,000 (its cost is the per-image forward pass at 299x299). Each setting runs in "
        "its own process: memory growth = rise of the peak resident set during the evaluation; process peak = the "
        "whole process (Python, torch, the network).",
        "",
        *markdown_table(list(data[0]), rows),
    ]
    write_results("metric_cost", "Metric cost: one evaluation per 1,000 samples", body, {"rows": data, "machine": machine(args.threads)})


if __name__ == "__main__":
    main()
