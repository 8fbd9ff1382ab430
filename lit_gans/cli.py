"""The ``lit-gans`` command: LightningCLI (``fit``, ``validate``) plus ``sample``.

    lit-gans fit --config configs/dcgan/digits.yaml [--trainer.devices 2 ...]
    lit-gans validate --config configs/dcgan/digits.yaml --ckpt_path last.ckpt
    lit-gans sample --ckpt runs/.../last.ckpt --n 64 --out grid.png [--labels 0,1,2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from datamodules.base import GANDataModule
from lit_gans.callbacks import GeneratorStepCheckpoint, SampleGrid
from lit_gans.errors import LitGansError
from lit_gans.families.base import AdversarialModule
from lit_gans.loggers import default_logger

SUBCOMMANDS = ("fit", "validate")


class LitGansCLI(LightningCLI):
    """LightningCLI with omegaconf interpolation, data shapes linked to the model, checkpoints and
    sample grids counted in generator iterations, wandb (online when logged in, else offline) and a
    rich progress bar by default."""

    def __init__(self, args: Any = None, run: bool = True, **kwargs: Any):
        parser_kwargs = {name: {"parser_mode": "omegaconf"} for name in SUBCOMMANDS}
        kwargs.setdefault("parser_kwargs", {"parser_mode": "omegaconf", **parser_kwargs})
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("trainer_defaults", {"max_epochs": -1, "logger": default_logger()})
        kwargs.setdefault("auto_configure_optimizers", False)
        super().__init__(
            AdversarialModule,
            GANDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=args,
            run=run,
            **kwargs,
        )

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {name: LightningCLI.subcommands()[name] for name in SUBCOMMANDS}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.data_shape", "model.init_args.data_shape", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")
        parser.add_lightning_class_args(GeneratorStepCheckpoint, "checkpoint")
        parser.add_lightning_class_args(SampleGrid, "samples")

    def instantiate_trainer(self, **kwargs: Any):
        config = self._get(self.config_init, "trainer", default={})
        callbacks = list(config.get("callbacks") or [])
        wants_bar = config.get("enable_progress_bar") is not False
        if wants_bar and not any(isinstance(c, ProgressBar) for c in callbacks):
            kwargs["callbacks"] = callbacks + [RichProgressBar()]
        return super().instantiate_trainer(**kwargs)


def sample_main(argv: Sequence[str]) -> int:
    """``lit-gans sample``: a grid (or a 2-D scatter, or a .pt tensor) from a checkpoint."""
    from lit_gans.checkpoints import load_family
    from lit_gans.plotting import save_samples

    parser = argparse.ArgumentParser(prog="lit-gans sample", description=sample_main.__doc__)
    parser.add_argument("--ckpt", required=True, help="a lit-gans checkpoint (.ckpt)")
    parser.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    parser.add_argument("--out", default="samples.png", help="output: .png grid/scatter or .pt tensor")
    parser.add_argument("--labels", default=None, help="class labels for conditional families, e.g. 0,1,2 (cycled to n)")
    parser.add_argument("--nrow", type=int, default=8, help="images per grid row")
    parser.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent draw")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(list(argv))
    if args.n < 1:
        raise LitGansError(f"--n {args.n} must be at least 1")
    model = load_family(args.ckpt, map_location=args.device)
    labels: Optional[torch.Tensor] = None
    if args.labels:
        try:
            given = [int(v) for v in args.labels.split(",")]
        except ValueError:
            raise LitGansError(f"--labels {args.labels!r} must be comma-separated class indices, e.g. 0,1,2") from None
        labels = torch.tensor(given).repeat(args.n // len(given) + 1)[: args.n]
    torch.manual_seed(args.seed)
    samples = model.sample(args.n, labels=labels, ema=not args.no_ema).float().cpu()
    out = Path(args.out)
    if out.suffix == ".pt":
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save(samples, out)
    else:
        save_samples(samples, out, nrow=args.nrow, reference=None)
    which = "EMA generator" if (model.ema_generator is not None and not args.no_ema) else "generator"
    print(f"wrote {args.n} samples of {type(model).__name__} (g_step {model.g_step}, {which}) to {out}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "sample":
            return sample_main(args[1:])
        LitGansCLI(args=None if argv is None else args)
        return 0
    except LitGansError as err:
        print(f"lit-gans: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["LitGansCLI", "main"]
