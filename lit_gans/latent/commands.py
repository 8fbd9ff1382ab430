"""``lit-gans interpolate``, ``lit-gans project`` and ``lit-gans inpaint``: the latent tools on a checkpoint,
each writing images and a JSON of what it measured.

    lit-gans interpolate --ckpt last.ckpt --out strips.png [--rows 8] [--steps 10] [--mode linear]
    lit-gans project --ckpt last.ckpt --target digit.png --out projected/ [--steps 300] [--restarts 4] [--encoder-steps 500]
    lit-gans inpaint --ckpt last.ckpt --image digit.png --out filled/ [--mask center|mask.png] [--prior-weight 0.003]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

import torch

from lit_gans.errors import ConfigError, LitGansError


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help="a lit-gans checkpoint of a family that generates from noise")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random starts (default 0)")
    parser.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")


def _load(args: argparse.Namespace, command: str) -> Any:
    from lit_gans.checkpoints import load_family
    from lit_gans.paths import available_device

    model = load_family(args.ckpt, map_location=available_device(args.device)).eval()
    if getattr(model, "translates", False) or getattr(model, "evaluates_itself", False):
        raise LitGansError(f"{type(model).__name__} has no latent space to {command} in (it translates or rebuilds images); "
                           "use a family that generates from noise (DCGAN, WGAN-GP, StyleGAN, ...)")
    if len(tuple(model.data_shape)) != 3:
        raise LitGansError(f"lit-gans {command} works on image generators; {type(model).__name__} makes points {tuple(model.data_shape)}")
    return model


def _images(path: str, model: Any, option: str) -> tuple[list[Path], torch.Tensor]:
    from lit_gans.translate import input_files, load_image

    files = input_files(Path(path).expanduser())
    try:
        images = torch.stack([load_image(f, model.data_shape[0], model.data_shape[-1]) for f in files])
    except OSError as err:
        raise LitGansError(f"{option} {path}: a file cannot be decoded as an image ({type(err).__name__})") from None
    return files, images


def _labels(text: str | None, n: int) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise LitGansError(f"--labels {text!r} must be comma-separated class indices, e.g. 3 or 3,5") from None
    return (values * n)[:n] if len(values) in (1, n) else values


def _write(out: Path, images: torch.Tensor, nrow: int, report: dict[str, Any], name: str) -> Path:
    from torchvision.utils import save_image

    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{name}.png"
    tmp = png.with_name(png.name + ".tmp")
    save_image((images.float().cpu().clamp(-1, 1) + 1) / 2, tmp, nrow=nrow, format="PNG")
    tmp.replace(png)
    report_path = out / f"{name}.json"
    tmp = report_path.with_name(report_path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1) + "\n")
    tmp.replace(report_path)
    return png


def interpolate_main(argv: Sequence[str]) -> int:
    """``lit-gans interpolate``: strips between random latents (slerp or linear), one strip per row."""
    from lit_gans.latent.tools import interpolate
    from lit_gans.paths import output_file

    parser = argparse.ArgumentParser(prog="lit-gans interpolate", description=interpolate_main.__doc__)
    _common(parser)
    parser.add_argument("--out", default="interpolation.png", help="the grid (.png); a .json beside it gives the settings")
    parser.add_argument("--rows", type=int, default=8, help="strips (default 8)")
    parser.add_argument("--steps", type=int, default=10, help="images per strip, both ends included (default 10)")
    parser.add_argument("--mode", default="slerp", choices=("slerp", "linear"))
    args = parser.parse_args(list(argv))
    if args.rows < 1 or args.steps < 2:
        raise LitGansError(f"--rows {args.rows} must be >= 1 and --steps {args.steps} >= 2")
    out = output_file(args.out, "--out")
    model = _load(args, "interpolate")
    g = torch.Generator().manual_seed(args.seed)
    start = model.latent_spec.draw(args.rows, generator=g).to(model.device)
    end = model.latent_spec.draw(args.rows, generator=g).to(model.device)
    images = interpolate(model, start, end, args.steps, args.mode)
    frames = images.view(args.rows, args.steps, -1)
    smooth = (frames[:, 1:] - frames[:, :-1]).abs().mean(2)  # mean pixel change between neighbouring frames
    report = {"checkpoint": args.ckpt, "g_step": model.g_step, "rows": args.rows, "steps": args.steps, "mode": args.mode,
              "seed": args.seed, "mean_step_change": float(smooth.mean()), "max_step_change": float(smooth.max())}
    png = _write(out.parent, images, args.steps, report, out.stem)
    print(f"wrote {args.rows} {args.mode} strips of {args.steps} ({type(model).__name__}, g_step {model.g_step}) to {png}")
    return 0


def project_main(argv: Sequence[str]) -> int:
    """``lit-gans project``: find the latent whose sample matches each target image (GAN inversion)."""
    from lit_gans.latent.tools import project, train_encoder
    from lit_gans.paths import make_folder

    parser = argparse.ArgumentParser(prog="lit-gans project", description=project_main.__doc__)
    _common(parser)
    parser.add_argument("--target", required=True, help="an image file or a folder of images")
    parser.add_argument("--out", required=True, help="folder for projected.png (targets above, projections below), "
                                                      "projected.json (losses, PSNR) and latents.pt")
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps (default 300)")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--restarts", type=int, default=4, help="random starts per target; the best is kept (default 4)")
    parser.add_argument("--encoder-steps", type=int, default=0, help="first train an image->z encoder this many steps and "
                                                                      "start from its guess (default 0: random starts only)")
    parser.add_argument("--feature", default=None, help="perceptual loss in this domain network's features (digits, fashion_mnist)")
    parser.add_argument("--perceptual-weight", type=float, default=0.0)
    parser.add_argument("--space", default="z", choices=("z", "w", "w+"), help="StyleGAN: project into W or W+")
    parser.add_argument("--labels", default=None, help="class of each target for a class-conditional model, e.g. 3 or 3,5")
    args = parser.parse_args(list(argv))
    if args.steps < 0 or args.restarts < 1 or args.encoder_steps < 0:
        raise LitGansError("--steps and --encoder-steps must be >= 0 and --restarts >= 1")
    out = make_folder(args.out, "--out")
    model = _load(args, "project")
    files, targets = _images(args.target, model, "--target")
    encoder = train_encoder(model, steps=args.encoder_steps, seed=args.seed, ema=not args.no_ema) if args.encoder_steps else None
    try:
        result = project(model, targets, steps=args.steps, lr=args.lr, restarts=args.restarts, feature=args.feature,
                         perceptual_weight=args.perceptual_weight, encoder=encoder, labels=_labels(args.labels, len(files)),
                         space=args.space, seed=args.seed, ema=not args.no_ema)
    except ConfigError as err:
        raise LitGansError(str(err)) from None
    report = {"checkpoint": args.ckpt, "g_step": model.g_step, "targets": [str(f) for f in files], "steps": args.steps,
              "restarts": args.restarts, "encoder_steps": args.encoder_steps, "space": args.space,
              "psnr": result.psnr.tolist(), "start_psnr": result.start_psnr.tolist(), "losses": result.losses}
    torch.save({"z": None if result.latent is None else result.latent.z.cpu(),
                "ws": None if result.ws is None else result.ws.cpu()}, out / "latents.pt")
    png = _write(out, torch.cat([targets.to(result.image), result.image]), len(files), report, "projected")
    print(f"projected {len(files)} image(s): PSNR {', '.join(f'{v:.1f}' for v in result.psnr.tolist())} dB "
          f"(best start {', '.join(f'{v:.1f}' for v in result.start_psnr.tolist())} dB); wrote {png}")
    return 0


def inpaint_main(argv: Sequence[str]) -> int:
    """``lit-gans inpaint``: fill a hole in each image by latent optimisation (Yeh et al. 2017)."""
    from lit_gans.latent.tools import center_mask, inpaint
    from lit_gans.paths import make_folder
    from lit_gans.translate import load_image

    parser = argparse.ArgumentParser(prog="lit-gans inpaint", description=inpaint_main.__doc__)
    _common(parser)
    parser.add_argument("--image", required=True, help="an image file or a folder of images (whole; the mask makes the hole)")
    parser.add_argument("--mask", default="center", help="'center' (a centred square hole of half the side) or an image "
                                                         "file: white = known, black = missing")
    parser.add_argument("--out", required=True, help="folder for inpainted.png (rows: masked, generated, filled, original) "
                                                      "and inpainted.json (losses, PSNR in the hole)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--prior-weight", type=float, default=0.003, help="lambda of the prior (critic) loss (default 0.003)")
    parser.add_argument("--window", type=int, default=7, help="neighbourhood of the contextual weights (default 7)")
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--labels", default=None, help="class of each image for a class-conditional model")
    args = parser.parse_args(list(argv))
    out = make_folder(args.out, "--out")
    model = _load(args, "inpaint")
    files, images = _images(args.image, model, "--image")
    if args.mask == "center":
        mask = center_mask(model.data_shape)
    else:
        mask_path = Path(args.mask).expanduser()
        if not mask_path.is_file():
            raise LitGansError(f"--mask {args.mask} is neither 'center' nor an image file")
        mask = (load_image(mask_path, 1, model.data_shape[-1]) > 0).float()
    if bool(mask.all()) or not bool(mask.any()):
        raise LitGansError(f"--mask {args.mask} has {'no missing' if mask.all() else 'no known'} pixels: nothing to inpaint from")
    try:
        result = inpaint(model, images, mask, steps=args.steps, lr=args.lr, prior_weight=args.prior_weight, window=args.window,
                         restarts=args.restarts, labels=_labels(args.labels, len(files)), reference=images, seed=args.seed,
                         ema=not args.no_ema)
    except ConfigError as err:
        raise LitGansError(str(err)) from None
    masked = images.to(result.filled) * mask.to(result.filled) + (mask.to(result.filled) - 1)  # missing shown black
    report = {"checkpoint": args.ckpt, "g_step": model.g_step, "images": [str(f) for f in files], "mask": args.mask,
              "steps": args.steps, "prior_weight": args.prior_weight, "psnr_hole": result.psnr_hole.tolist(),
              "losses": result.losses, "context": result.context, "prior": result.prior}
    png = _write(out, torch.cat([masked, result.generated, result.filled, images.to(result.filled)]), len(files), report, "inpainted")
    print(f"inpainted {len(files)} image(s): PSNR in the hole {', '.join(f'{v:.1f}' for v in result.psnr_hole.tolist())} dB; wrote {png}")
    return 0


__all__ = ["inpaint_main", "interpolate_main", "project_main"]
