"""``lit-gans translate``: image files through an image-to-image checkpoint (pix2pix, CycleGAN).

    lit-gans translate --ckpt runs/pix2pix/edges/.../last.ckpt --input edges/ --out translated/
    lit-gans translate --ckpt cyclegan.ckpt --input photo.png --out out/ --direction b2a --pairs

Each input image is converted to the model's input channels (grey or RGB) and resized to its image size (a
super-resolution model reads it at its own size and writes it ``scale`` times larger); its translation is written to ``--out`` under the input's name as a PNG (``--pairs``: input and output
side by side). A folder is read in name order; files in it that cannot be decoded are skipped with a
warning.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from lit_gans.errors import CheckpointError, ConfigError, DatasetNotFoundError, LitGansError
from lit_gans.paths import available_device, make_folder


def input_files(path: Path) -> list[Path]:
    """The image files to translate: ``path`` itself, or the images in the folder ``path`` (name order)."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DatasetNotFoundError(f"--input {path} does not exist; give an image file or a folder of images")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)
    if not files:
        raise DatasetNotFoundError(f"--input {path} holds no image files ({', '.join(IMG_EXTENSIONS[:4])}, ...)")
    return files


def load_image(path: Path, channels: int, size: Optional[int]) -> torch.Tensor:
    """An image file as a tensor (channels, size, size) in [-1, 1]; ``size`` None keeps the file's size."""
    with Image.open(path) as image:
        image = image.convert("L" if channels == 1 else "RGB")
        if size is not None:
            image = image.resize((size, size), Image.Resampling.BICUBIC)
        array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    tensor = torch.from_numpy(array)
    return tensor[None] if tensor.dim() == 2 else tensor.permute(2, 0, 1)


def translate_main(argv: Sequence[str]) -> int:
    """``lit-gans translate``: translate image files with a pix2pix or CycleGAN checkpoint."""
    from torchvision.utils import save_image

    from lit_gans.checkpoints import load_family

    parser = argparse.ArgumentParser(prog="lit-gans translate", description=translate_main.__doc__)
    parser.add_argument("--ckpt", required=True, help="an image-to-image lit-gans checkpoint (.ckpt)")
    parser.add_argument("--input", required=True, help="an image file or a folder of images")
    parser.add_argument("--out", required=True, help="folder for the translations (PNG, named as the inputs)")
    parser.add_argument("--direction", default="a2b", choices=("a2b", "b2a"),
                        help="a2b (default) or b2a: CycleGAN translates both ways, pix2pix a2b only")
    parser.add_argument("--pairs", action="store_true", help="write input and output side by side")
    parser.add_argument("--batch-size", type=int, default=16, help="images per forward pass (default 16)")
    parser.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(list(argv))
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size} must be at least 1")
    files = input_files(Path(args.input).expanduser())
    out = make_folder(args.out, "--out")
    device = available_device(args.device)
    model = load_family(args.ckpt, map_location=device)
    if not getattr(model, "translates", False):
        raise LitGansError(f"{type(model).__name__} generates from noise and does not translate images; use "
                           f"`lit-gans sample --ckpt {args.ckpt}`")
    model.eval()
    channels = model.input_channels(args.direction)
    # a super-resolution network reads images at their own size, one at a time; the others at their training size
    size = None if model.any_input_size else model.data_shape[-1]
    step = 1 if size is None else args.batch_size
    written, skipped = 0, []
    for start in range(0, len(files), step):
        batch, names = [], []
        for path in files[start:start + step]:
            try:
                batch.append(load_image(path, channels, size))
                names.append(path)
            except (UnidentifiedImageError, OSError) as err:
                if len(files) == 1:
                    raise DatasetNotFoundError(f"--input {path} cannot be decoded as an image ({type(err).__name__})") from None
                skipped.append(path.name)
        if not batch:
            continue
        inputs = torch.stack(batch)
        outputs = model.translate(inputs, args.direction, ema=not args.no_ema).float().cpu()
        if not torch.isfinite(outputs).all():
            raise CheckpointError(f"checkpoint {args.ckpt} (g_step {model.g_step}) makes NaN or infinite images: its "
                                  "weights diverged before it was saved; use an earlier checkpoint")
        for path, x, y in zip(names, inputs, outputs):
            if args.pairs:
                if x.shape[-1] != y.shape[-1]:  # super-resolution: the input shown at the output's size
                    x = torch.nn.functional.interpolate(x[None], size=y.shape[-2:], mode="nearest")[0]
                if x.shape[0] != y.shape[0]:
                    x, y = x.expand(3, -1, -1), y.expand(3, -1, -1)
                y = torch.cat([x, y], dim=-1)
            target = out / f"{path.stem}.png"
            tmp = target.with_name(target.name + ".tmp")
            save_image((y + 1) / 2, tmp, format="PNG")
            tmp.replace(target)
            written += 1
    if skipped:
        warnings.warn(f"skipped {len(skipped)} file(s) that cannot be decoded: {', '.join(skipped[:5])}", stacklevel=2)
    if not written:
        raise DatasetNotFoundError(f"no file of --input {args.input} can be decoded as an image")
    print(f"wrote {written} translation(s) ({args.direction}, {type(model).__name__}, g_step {model.g_step}) to {out}")
    return 0


__all__ = ["input_files", "load_image", "translate_main"]
