"""Figures of a trained StyleGAN2: the style-mixing grid (StyleGAN's figure 3) and the truncation sweep in W.

The generator is a checkpoint (``--ckpt``) or one trained here: ``lit-gans fit --config <config>`` for
``--steps`` generator iterations (default ``configs/stylegan/digits.yaml`` at ``g_width = d_width = 32``,
seed 0, one thread, ``bench/runs.timed_fit``). Then, with the EMA generator and the noise inputs fixed:

* ``<name>_mixing.png``: three panels, for the coarse (4x4), middle (8x8) and fine (16x16 and above)
  styles. In each, the top row holds the column sources, the left column the row sources, and the cell of
  row i, column j is column j's image with the panel's layers' styles taken from row i
  (``StyleGAN.style_mixing``).
* ``<name>_truncation.png``: a row per psi (``--psis``), the same z in each column, w pulled towards the
  tracked average by psi (``StyleGAN.sample(psi=...)``); and a table of domain FID, the classifier's
  confidence and classes, and the pixel spread at each psi (``ModelEvaluation`` on ``--n-samples``
  samples against ``--n-real`` training images, in the data's shipped domain network).

    python bench/stylegan_figures.py [--steps 1500] [--ckpt run/.../last.ckpt] [--psis 1,0.8,0.6,0.4,0.2,0]

Writes bench/results/<name>.md and .json (``--name``, default ``stylegan_digits``) and the two figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, markdown_table, write_results  # noqa: E402
from runs import datamodule_of, last_lines, timed_fit  # noqa: E402
from truncation import RESULTS_DIR, _font, variety  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def train(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    run_dir = Path(args.work)
    widths = ["--model.init_args.g_width", str(args.width), "--model.init_args.d_width", str(args.width)] if args.width else []
    run = timed_fit(args.config, run_dir, None, widths, seed=args.seed, steps=args.steps)
    if run["returncode"] != 0:
        raise SystemExit(f"training failed (exit {run['returncode']}): {last_lines(run_dir / 'train.log')}")
    return run_dir / "ckpt" / "last.ckpt", {"command": "OMP_NUM_THREADS=1 lit-gans " + run["command"].replace(str(run_dir), "RUN"),
                                            "train_minutes": run["wall_minutes"], "cpu_minutes": run["cpu_minutes"]}


def _image(tensor: Any) -> Any:
    from PIL import Image

    array = (tensor.clamp(-1, 1) * 0.5 + 0.5).permute(1, 2, 0).numpy()
    return Image.fromarray((array * 255).round().astype("uint8")).convert("RGB")


def _grid(images: Any, nrow: int) -> Any:
    import torch
    from torchvision.utils import make_grid

    if images.shape[-1] < 48:
        images = torch.nn.functional.interpolate(images, scale_factor=48 // images.shape[-1], mode="nearest")
    return make_grid(images, nrow=nrow, padding=2, pad_value=1.0)


def mixing_figure(model: Any, path: Path, rows: int = 4, columns: int = 6) -> str:
    import torch
    from PIL import Image, ImageDraw

    net = model.sampling_generator
    torch.manual_seed(7)
    row_z, col_z = list(torch.randn(rows, model.latent_dim)), list(torch.randn(columns, model.latent_dim))
    n = net.num_ws
    panels = {"coarse styles (4x4) from the row": (0, 2), "middle styles (8x8) from the row": (2, min(4, n - 1)),
              "fine styles (16x16 and up) from the row": (min(4, n - 1), n)}
    with torch.no_grad():
        sources = lambda zs: net.synthesis(net.mapping(torch.stack(zs), num_ws=n), "const").clamp(-1, 1)  # noqa: E731
        row_images, col_images = sources(row_z), sources(col_z)
    blank = torch.ones_like(row_images[:1])
    pictures = []
    for title, layers in panels.items():
        cells = model.style_mixing(row_z, col_z, layers)
        tiles = [blank, col_images] + [t for i in range(rows) for t in (row_images[i:i + 1], cells[i * columns:(i + 1) * columns])]
        grid = _image(_grid(torch.cat(tiles), columns + 1))
        canvas = Image.new("RGB", (grid.width, grid.height + 22), "white")
        canvas.paste(grid, (0, 22))
        ImageDraw.Draw(canvas).text((4, 4), f"{title} (layers {layers[0]}-{layers[1] - 1} of {n})", fill="black", font=_font(13))
        pictures.append(canvas)
    figure = Image.new("RGB", (sum(p.width for p in pictures) + 20 * (len(pictures) - 1), max(p.height for p in pictures)), "white")
    x = 0
    for picture in pictures:
        figure.paste(picture, (x, 0))
        x += picture.width + 20
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.save(path)
    return str(path.relative_to(ROOT))


def truncation_figure(model: Any, psis: list[float], path: Path, columns: int = 10) -> str:
    import torch
    from PIL import Image, ImageDraw

    z = torch.randn(columns, model.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        images = torch.cat([model.sample(columns, z=z, psi=psi) for psi in psis])
    grid = _image(_grid(images, columns))
    left, top = 70, 24
    canvas = Image.new("RGB", (left + grid.width, top + grid.height), "white")
    canvas.paste(grid, (left, top))
    draw = ImageDraw.Draw(canvas)
    draw.text((left, 4), f"{type(model).__name__}, g_step {model.g_step}: w truncated by psi (rows); the same z in each column",
              fill="black", font=_font(13))
    height = (grid.height - 2) / len(psis)
    for i, psi in enumerate(psis):
        draw.text((6, top + 2 + i * height + height / 2 - 8), f"psi = {psi:g}", fill="black", font=_font(13))
    canvas.save(path)
    return str(path.relative_to(ROOT))


def sweep(args: argparse.Namespace, checkpoint: Path) -> dict[str, Any]:
    import torch

    from lit_gans.checkpoints import load_family
    from lit_gans.metrics import ModelEvaluation, load_domain_network
    from lit_gans.nets.stylegan import is_style_based
    from lit_gans.sampling import Truncated

    torch.set_num_threads(1)
    model = load_family(checkpoint).eval()
    if not is_style_based(model.network("generator")):
        raise SystemExit(f"{checkpoint} holds a {type(model).__name__}; these figures need a StyleGAN")
    datamodule, recorded = datamodule_of(checkpoint)
    evaluation = ModelEvaluation(datamodule, metrics=["fid", "classifier"], n_samples=args.n_samples, n_real=args.n_real)
    evaluation.prepare(model.device)
    network = load_domain_network(evaluation.feature)
    psis = [float(p) for p in args.psis.split(",")]
    rows = []
    for psi in psis:
        sampled = Truncated(model, psi=psi)
        values = evaluation.evaluate(sampled, seed=0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            images = torch.cat([sampled.sample(250) for _ in range(args.n_diversity // 250)])
        rows.append({"psi": psi, **{k.split("/", 1)[1]: v for k, v in values.items()}, **variety(images, network)})
        print(f"psi {psi:g}: {rows[-1]}", flush=True)
    results = RESULTS_DIR()
    return {"checkpoint": str(checkpoint), "g_step": model.g_step, "feature": evaluation.feature, "data": recorded,
            "num_ws": model.network("generator").num_ws, "rows": rows,
            "mixing_figure": mixing_figure(model, results / f"{args.name}_mixing.png"),
            "truncation_figure": truncation_figure(model, psis, results / f"{args.name}_truncation.png")}


def report(saved: dict[str, Any]) -> None:
    result, s = saved["result"], saved["settings"]
    rows = [[r["psi"], r.get("fid"), r.get("confidence"), r.get("classes"), r.get("class_kl"), r["pixel_spread"],
             r.get("feature_distance")] for r in result["rows"]]
    training = saved.get("training")
    body = [
        f"Machine: {saved['machine']}.",
        "",
        f"Command: `python bench/stylegan_figures.py {' '.join(saved['argv'])}` ({saved['wall_minutes']:.1f} wall minutes, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}).",
        "",
        (f"Generator: trained here, `{training['command']}` ({training['train_minutes']:.1f} wall minutes); " if training else
         f"Generator: `{result['checkpoint']}`; ") + f"g_step {result['g_step']}, EMA generator, constant noise in the figures, "
        f"{result['num_ws']} style layers.",
        "",
        f"Truncation in W: for each psi, {s['n_samples']} samples (`StyleGAN.sample(psi=...)`) measured in the shipped "
        f"`{result['feature']}` network against {s['n_real']} training images: domain FID, the classifier's mean top "
        "probability (confidence), the classes it predicts and the KL of their histogram to uniform; pixel spread is the "
        f"per-pixel standard deviation over {s['n_diversity']} samples, feature distance their mean pairwise distance in "
        "the network's features.",
        "",
        *markdown_table(["psi", "domain FID", "confidence", "classes", "class KL", "pixel spread", "feature distance"], rows),
        "",
        f"Figures: [style mixing]({Path(result['mixing_figure']).name}), [truncation in W]({Path(result['truncation_figure']).name}).",
    ]
    if s.get("observations"):
        body += ["", "## Reading", "", s["observations"]]
    write_results(s["name"], "StyleGAN2: style mixing and truncation in W", body, saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default=None, help="a StyleGAN checkpoint instead of training one")
    parser.add_argument("--config", default="configs/stylegan/digits.yaml")
    parser.add_argument("--steps", type=int, default=1500, help="generator iterations of the run trained here")
    parser.add_argument("--width", type=int, default=32, help="g_width = d_width of the run (0: the config's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--psis", default="1,0.8,0.6,0.4,0.2,0")
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--n-real", type=int, default=1617)
    parser.add_argument("--n-diversity", type=int, default=500)
    parser.add_argument("--name", default="stylegan_digits")
    parser.add_argument("--work", default="/tmp/lit_gans_stylegan_figures")
    parser.add_argument("--report", default=None, help="rebuild the report from a saved results.json")
    parser.add_argument("--observations", default=None, help="with --report: a person's reading (text or a file)")
    args = parser.parse_args()
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        if args.observations:
            given = Path(args.observations)
            saved["settings"]["observations"] = given.read_text().strip() if given.is_file() else args.observations
        report(saved)
        return
    started = time.perf_counter()
    checkpoint, training = (Path(args.ckpt), None) if args.ckpt else train(args)
    result = sweep(args, checkpoint)
    settings = {k: v for k, v in vars(args).items() if k not in ("report", "observations")}
    saved = {"machine": machine(1), "argv": sys.argv[1:], "settings": settings, "training": training, "result": result,
             "wall_minutes": (time.perf_counter() - started) / 60}
    Path(args.work).mkdir(parents=True, exist_ok=True)
    (Path(args.work) / "results.json").write_text(json.dumps(saved, indent=2, default=str) + "\n")
    report(saved)


if __name__ == "__main__":
    main()
