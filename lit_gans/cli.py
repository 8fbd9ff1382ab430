"""The ``lit-gans`` command: LightningCLI (``fit``, ``validate``) plus ``sample``.

    lit-gans fit --config configs/dcgan/digits.yaml [--trainer.devices 2 ...]
    lit-gans validate --config configs/dcgan/digits.yaml --ckpt_path last.ckpt
    lit-gans sample --ckpt runs/.../last.ckpt --n 64 --out grid.png [--labels 0,1,2] [--truncation 0.5]
    lit-gans evaluate --ckpt runs/.../last.ckpt [--metrics fid,kid,is,classifier] [--n-samples 10000] [--truncation 0.5]
    lit-gans translate --ckpt runs/.../last.ckpt --input IMAGES --out FOLDER [--direction b2a] [--pairs]
    lit-gans interpolate --ckpt runs/.../last.ckpt --out strips.png [--mode linear]
    lit-gans project --ckpt runs/.../last.ckpt --target IMAGES --out FOLDER [--restarts 4] [--encoder-steps 500]
    lit-gans inpaint --ckpt runs/.../last.ckpt --image IMAGES --out FOLDER [--mask center|MASK.png]
    lit-gans train-classifier --dataset digits --out digits.pt
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
from jsonargparse import ArgumentError, set_parsing_settings
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from datamodules.base import GANDataModule
from lit_gans.callbacks import GenerativeMetrics, GANProgressBar, GeneratorStepCheckpoint, SampleGrid, TimeReport
from lit_gans.checkpoints import check_checkpoint_file
from lit_gans.distributed import peer_failure
from lit_gans.errors import CheckpointError, ConfigError, LitGansError
from lit_gans.families.base import AdversarialModule
from lit_gans.loggers import default_logger
from lit_gans.nets.stylegan import is_style_based
from lit_gans.paths import available_device, make_folder, output_file
from lit_gans.runtime import ValidationSchedule, choose_threads

SUBCOMMANDS = ("fit", "validate")


class LitGansCLI(LightningCLI):
    """LightningCLI with omegaconf interpolation, data shapes linked to the model, checkpoints and
    sample grids counted in generator iterations, wandb (online when logged in, else offline) and a
    rich progress bar by default."""

    def __init__(self, args: Any = None, run: bool = True, **kwargs: Any):
        # "omegaconf+" resolves ${...} after command-line overrides, so an override of
        # max_g_steps reaches a scheduler that interpolates it; the setting lets configs write
        # ${model...} instead of ${fit.model...}. Errors raise (exit_on_error=False) so that
        # main() can print them as one line.
        set_parsing_settings(omegaconf_absolute_to_relative_paths=True)
        parser_options = {"parser_mode": "omegaconf+", "exit_on_error": False}
        kwargs.setdefault("parser_kwargs", {**parser_options, **{name: dict(parser_options) for name in SUBCOMMANDS}})
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        # no epoch cadence or length of validation by default: the ``validation`` settings choose them (lit_gans.runtime)
        kwargs.setdefault("trainer_defaults", {"max_epochs": -1, "logger": default_logger(), "check_val_every_n_epoch": None,
                                               "limit_val_batches": None})
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

    def _parse_ckpt_path(self) -> None:
        """Keep the config the user gave. Lightning's CLI (2.5+) would parse the checkpoint's
        hyperparameters over it, so that a resumed run silently ignored a new ``max_g_steps``, learning
        rate or even family; it has no public switch for that. What a resumed run may change is decided
        by the family (``AdversarialModule.on_load_checkpoint``); here the file is checked, so a
        missing or damaged one is one line."""
        subcommand = self.config.get("subcommand")
        path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if path and str(path) not in ("last", "best", "hpc", "registry") and "://" not in str(path):
            check_checkpoint_file(path)

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {name: LightningCLI.subcommands()[name] for name in SUBCOMMANDS}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.data_shape", "model.init_args.data_shape", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")
        parser.add_lightning_class_args(GeneratorStepCheckpoint, "checkpoint")
        parser.add_lightning_class_args(SampleGrid, "samples")
        parser.add_lightning_class_args(GenerativeMetrics, "metrics")
        parser.add_class_arguments(ValidationSchedule, "validation", instantiate=True)
        parser.add_argument("--threads", type=Optional[int], default=None,
                            help="torch's CPU threads per process (default: OMP_NUM_THREADS when set, else the cores "
                                 "divided among the run's processes on this machine)")

    def before_instantiate_classes(self) -> None:
        # the default wandb logger writes under the run's default_root_dir, not a shared runs/
        config = self.config[self.subcommand] if self.subcommand else self.config
        logger = config.trainer.get("logger")
        root = config.trainer.get("default_root_dir")
        if root and getattr(logger, "class_path", None) == "lit_gans.loggers.AutoWandbLogger":
            if logger.init_args.get("save_dir") == "runs":
                logger.init_args.save_dir = root
        check_run_config(config)
        self.threads = choose_threads(config.get("threads"), config.trainer)

    def instantiate_trainer(self, **kwargs: Any):
        config = self._get(self.config_init, "trainer", default={})
        callbacks = list(config.get("callbacks") or [])
        wants_bar = config.get("enable_progress_bar") is not False
        if wants_bar and not any(isinstance(c, ProgressBar) for c in callbacks):
            callbacks.append(GANProgressBar())
        if not any(isinstance(c, TimeReport) for c in callbacks):
            callbacks.append(TimeReport())
        kwargs["callbacks"] = callbacks
        schedule = self._get(self.config_init, "validation", default=None)
        if isinstance(schedule, ValidationSchedule):
            kwargs.update(schedule.trainer_settings(self.model, config))
        return super().instantiate_trainer(**kwargs)

    def after_fit(self) -> None:
        """Say where the run's outputs are."""
        trainer = self.trainer
        if not trainer.is_global_zero or trainer.fast_dev_run:
            return
        lines = [f"lit-gans: {type(self.model).__name__} trained {self.model.g_step} generator iterations "
                 f"({self.model.d_step} discriminator steps)"]
        for callback in trainer.callbacks:
            if isinstance(callback, SampleGrid) and callback.last_path:
                lines.append(f"  samples:    {callback.last_path}")
            if isinstance(callback, GeneratorStepCheckpoint) and callback.last_model_path:
                lines.append(f"  checkpoint: {callback.last_model_path}")
            if isinstance(callback, GenerativeMetrics) and callback.history:
                final = ", ".join(f"{k}={v:.4g}" for k, v in callback.history[-1].items() if k != "g_step")
                lines.append(f"  metrics:    {final}")
        if getattr(self.model, "translates", False):  # image-to-image families measure themselves in validation
            measured = {k: float(v) for k, v in trainer.callback_metrics.items()
                        if k.startswith("val/") and not k.endswith("_loss")}
            if measured:
                lines.append("  last validation: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(measured.items())))
        for logger in trainer.loggers:
            if isinstance(logger, CSVLogger):
                lines.append(f"  curves:     {Path(logger.log_dir) / 'metrics.csv'}")
            elif logger.save_dir:
                lines.append(f"  logs:       {logger.save_dir} ({type(logger).__name__})")
        for callback in trainer.callbacks:
            if isinstance(callback, TimeReport) and callback.report:
                lines.append(f"  time:       {callback.line()}; {self.threads} torch thread{'s' * (self.threads > 1)}")
        print("\n".join(lines))


def check_run_config(config: Any) -> None:
    """Checks of a parsed ``fit``/``validate`` config before anything is built: output folders that
    cannot be created are one clear error, and model values that the data links replace are warned
    about (the links apply at instantiation and would override them silently)."""
    root = config.trainer.get("default_root_dir")
    if root:
        make_folder(root, "trainer.default_root_dir", keep=False)
    loggers = config.trainer.get("logger")
    for logger in loggers if isinstance(loggers, list) else [loggers]:
        save_dir = getattr(getattr(logger, "init_args", None), "save_dir", None)
        if isinstance(save_dir, str) and save_dir != root:
            make_folder(save_dir, "trainer.logger.init_args.save_dir", keep=False)
    model_args = config.model.get("init_args") if config.get("model") is not None else None
    for key, unset in (("data_shape", None), ("num_classes", 0)):
        given = model_args.get(key) if model_args is not None else None
        if given != unset:
            warnings.warn(
                f"model.init_args.{key}={given} is ignored: the model is built for the DataModule's {key} "
                f"(data.{key} is linked to it); remove model.init_args.{key} from the config", stacklevel=2
            )


def _refuse_diverged(model: AdversarialModule, ckpt: str, ema: bool, samples: Optional[torch.Tensor] = None) -> None:
    """One clear error, before any output is written, when the checkpoint's generator has NaN/inf
    weights or makes non-finite samples (a run that diverged before the checkpoint was saved)."""
    net = model.sampling_generator if ema else model.network("generator")
    which = "EMA generator" if ema and model.ema_generator is not None else "generator"
    tensors = [*net.named_parameters(), *net.named_buffers()]
    bad = [name for name, t in tensors if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        what = f"the {which}'s weights are NaN or infinite ({bad[0]}{f' and {len(bad) - 1} more' if len(bad) > 1 else ''})"
    elif samples is not None and not torch.isfinite(samples).all():
        what = f"the {which} makes NaN or infinite samples"
    else:
        return
    raise CheckpointError(
        f"checkpoint {ckpt} (g_step {model.g_step}): {what}, so its weights diverged before it was saved; "
        "use an earlier checkpoint"
    )


def _check_truncation_option(truncation: Optional[float], model: Optional[AdversarialModule] = None) -> None:
    """One line for a ``--truncation`` that cannot work: not > 0 (checked before the checkpoint loads),
    or a model whose z is not normal noise."""
    if truncation is None:
        return
    if not truncation > 0 or truncation == float("inf"):
        raise LitGansError(f"--truncation {truncation} must be a finite number > 0 (the largest |z| entry kept), "
                           "e.g. --truncation 0.5; leave it out for untruncated noise")
    if model is not None and model.latent_spec.distribution != "normal":
        raise LitGansError(f"--truncation: {type(model).__name__} draws z from {model.latent_spec.distribution} "
                           "noise U(-1, 1), and truncation applies to normal noise only; leave --truncation out")


PSI_HELP = ("truncate w towards its tracked average by PSI (StyleGAN checkpoints: truncation in W; 1 keeps w, "
            "0.7 is StyleGAN's, 0 gives the average image)")


def _check_psi_option(psi: Optional[float], model: Optional[AdversarialModule] = None) -> None:
    """One line for a ``--psi`` that cannot work: negative, or a model without a style-based generator."""
    if psi is None:
        return
    if not 0 <= psi < float("inf"):
        raise LitGansError(f"--psi {psi} must be a number >= 0 (1 keeps w as it is), e.g. --psi 0.7")
    if model is not None and not is_style_based(model.network("generator")):
        raise LitGansError(f"--psi truncates w, and {type(model).__name__} has no mapping network (StyleGAN has); "
                           "use --truncation to truncate z")


def _refuse_translation(model: AdversarialModule, ckpt: str) -> None:
    """One line for an image-to-image checkpoint given to a command that samples from noise."""
    if getattr(model, "translates", False):
        raise LitGansError(f"{type(model).__name__} translates images and does not sample from noise; use "
                           f"`lit-gans translate --ckpt {ckpt} --input IMAGES --out FOLDER`")


def _refuse_self_measuring(model: AdversarialModule, ckpt: str) -> None:
    """One line for ``lit-gans evaluate`` on a family that measures itself in validation (image-to-image families,
    SinGAN): the dataset metrics of samples from noise do not apply to it."""
    if getattr(model, "evaluates_itself", False):
        raise LitGansError(f"{type(model).__name__} measures itself in validation (the val/... values of its logs); measure "
                           f"a checkpoint with `lit-gans validate --config CONFIG --ckpt_path {ckpt}`")


def sample_main(argv: Sequence[str]) -> int:
    """``lit-gans sample``: a grid (or a 2-D scatter, or a .pt tensor) from a checkpoint."""
    from lit_gans.checkpoints import load_family
    from lit_gans.plotting import save_samples
    from lit_gans.sampling import Truncated

    parser = argparse.ArgumentParser(prog="lit-gans sample", description=sample_main.__doc__)
    parser.add_argument("--ckpt", required=True, help="a lit-gans checkpoint (.ckpt)")
    parser.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    parser.add_argument("--out", default="samples.png", help="output: .png grid/scatter or .pt tensor")
    parser.add_argument("--labels", default=None, help="class labels for conditional families, e.g. 0,1,2 (cycled to n)")
    parser.add_argument("--codes", default=None, help="values of the first categorical code (InfoGAN), e.g. 0,1,2 (cycled to n)")
    parser.add_argument("--nrow", type=int, default=8, help="images per grid row")
    parser.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent draw")
    parser.add_argument("--truncation", type=float, default=None, metavar="T",
                        help="draw z truncated at T (BigGAN's truncation trick: every entry within [-T, T]; "
                             "smaller T, less varied but more typical samples), e.g. 0.5; normal noise only")
    parser.add_argument("--psi", type=float, default=None, help=PSI_HELP)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(list(argv))
    _check_truncation_option(args.truncation)
    _check_psi_option(args.psi)
    if args.n < 1:
        raise LitGansError(f"--n {args.n} must be at least 1")
    if args.nrow < 1:
        raise LitGansError(f"--nrow {args.nrow} must be at least 1 (images per grid row), e.g. --nrow 8")
    device = available_device(args.device)
    model = load_family(args.ckpt, map_location=device)
    _refuse_translation(model, args.ckpt)
    _check_truncation_option(args.truncation, model)
    _check_psi_option(args.psi, model)
    labels: Optional[torch.Tensor] = None
    if args.labels:
        try:
            given = [int(v) for v in args.labels.split(",")]
        except ValueError:
            raise LitGansError(f"--labels {args.labels!r} must be comma-separated class indices, e.g. 0,1,2") from None
        labels = torch.tensor(given).repeat(args.n // len(given) + 1)[: args.n]
    torch.manual_seed(args.seed)
    latent = model.latent_spec.draw(args.n, model.device, labels=False, truncation=args.truncation)
    if args.codes:
        if not model.latent_spec.categorical:
            raise LitGansError(f"--codes: {type(model).__name__} has no categorical code; sample without --codes")
        try:
            given = torch.tensor([int(v) for v in args.codes.split(",")])
        except ValueError:
            raise LitGansError(f"--codes {args.codes!r} must be comma-separated code values, e.g. 0,1,2") from None
        latent.codes[:, 0] = given.repeat(args.n // len(given) + 1)[: args.n].to(latent.codes.device)
    sampled = model if args.psi is None else Truncated(model, psi=args.psi)
    samples = sampled.sample(args.n, labels=labels, codes=latent.codes, z=latent.z, continuous=latent.continuous,
                             ema=not args.no_ema).float().cpu()
    _refuse_diverged(model, args.ckpt, ema=not args.no_ema, samples=samples)
    out = output_file(args.out)
    if out.suffix == ".pt":
        torch.save(samples, out)
    else:
        save_samples(samples, out, nrow=args.nrow, reference=None)
    which = "EMA generator" if (model.ema_generator is not None and not args.no_ema) else "generator"
    truncated = f", z truncated at {args.truncation:g}" if args.truncation is not None else ""
    truncated += f", w truncated by psi {args.psi:g}" if args.psi is not None else ""
    print(f"wrote {args.n} samples of {type(model).__name__} (g_step {model.g_step}, {which}{truncated}) to {out}")
    return 0


def evaluate_main(argv: Sequence[str]) -> int:
    """``lit-gans evaluate``: metrics of a checkpoint's samples, printed as a table and written as JSON."""
    import importlib
    import json
    import time

    from lit_gans.metrics.evaluation import METRICS, ModelEvaluation
    from lit_gans.checkpoints import load_family
    from lit_gans.sampling import Truncated

    parser = argparse.ArgumentParser(prog="lit-gans evaluate", description=evaluate_main.__doc__)
    parser.add_argument("--ckpt", required=True, help="a lit-gans checkpoint (.ckpt)")
    parser.add_argument("--metrics", default=None, help=f"comma-separated, from {','.join(METRICS)} (default: what suits the data)")
    parser.add_argument("--feature", default="auto", help="feature space: auto, inception, digits, fashion_mnist or a classifier weights file")
    parser.add_argument("--inception-weights", default=None, help="torch-fidelity's Inception weights file (for --feature inception)")
    parser.add_argument("--n-samples", type=int, default=10_000, help="generated samples (default 10,000; 2,500 is PacGAN's toy protocol)")
    parser.add_argument("--n-real", type=int, default=10_000, help="real samples of the reference statistics (cached)")
    parser.add_argument("--batch-size", type=int, default=250, help="images per feature-network batch")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent draw")
    parser.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    parser.add_argument("--truncation", type=float, default=None, metavar="T",
                        help="evaluate samples of z truncated at T (BigGAN's truncation trick: every entry within "
                             "[-T, T]), e.g. 0.5; normal noise only")
    parser.add_argument("--out", default=None,
                        help="JSON output (default: <checkpoint>.metrics.json; with --truncation T, <checkpoint>.truncT.metrics.json; "
                             "with --psi P, <checkpoint>.psiP.metrics.json)")
    parser.add_argument("--psi", type=float, default=None, help=PSI_HELP)
    parser.add_argument("--ppl", default=None, metavar="SPACES",
                        help="also the perceptual path length in z and/or w (StyleGAN), e.g. --ppl z,w, over --ppl-samples pairs, "
                             "measured in the feature network of the other metrics (not comparable with VGG-based figures); "
                             "always untruncated")
    parser.add_argument("--ppl-samples", type=int, default=2000, help="pairs of latents for --ppl (default 2,000)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(list(argv))
    _check_truncation_option(args.truncation)
    _check_psi_option(args.psi)
    spaces = [s.strip() for s in (args.ppl or "").split(",") if s.strip()]
    if any(space not in ("z", "w") for space in spaces) or args.ppl_samples < 1:
        raise LitGansError(f"--ppl {args.ppl} must list z and/or w (e.g. --ppl z,w) and --ppl-samples {args.ppl_samples} be >= 1")
    device = available_device(args.device)
    model = load_family(args.ckpt, map_location=device)
    _refuse_self_measuring(model, args.ckpt)
    _check_truncation_option(args.truncation, model)
    _check_psi_option(args.psi, model)
    recorded = torch.load(args.ckpt, map_location="cpu", weights_only=True).get("lit_gans", {}).get("datamodule")
    if not recorded:
        raise LitGansError(f"checkpoint {args.ckpt} does not record its data (written before lit-gans 0.2); retrain or resume it once to record it")
    module_name, _, class_name = recorded["class_path"].rpartition(".")
    try:
        datamodule = getattr(importlib.import_module(module_name), class_name)(**recorded["init_args"])
    except (ImportError, AttributeError) as err:
        raise LitGansError(f"checkpoint {args.ckpt} was trained on {recorded['class_path']}, which cannot be built here: {err}") from None
    if args.no_ema:
        model.ema_generator = None
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    evaluation = ModelEvaluation(
        datamodule, metrics=metrics, feature=args.feature, inception_weights=args.inception_weights,
        n_samples=args.n_samples, n_real=args.n_real, batch_size=args.batch_size,
    )
    if not evaluation.metrics:
        raise LitGansError(f"no metric applies to {class_name}; pass --metrics and, for images, --feature")
    # what the metrics sample from: the model, or the model drawing truncated z
    sampled = model if args.truncation is None and args.psi is None else Truncated(model, args.truncation, args.psi)
    torch.manual_seed(args.seed)  # a probe batch, before the real-data statistics are computed
    _refuse_diverged(model, args.ckpt, ema=True, samples=sampled.sample(min(args.n_samples, 256)).float())
    suffix = "" if args.truncation is None else f".trunc{args.truncation:g}"
    suffix += "" if args.psi is None else f".psi{args.psi:g}"
    suffix += ".metrics.json"
    out = output_file(args.out) if args.out else Path(args.ckpt).with_suffix(suffix)
    start = time.perf_counter()
    evaluation.prepare(model.device)
    values = evaluation.evaluate(sampled, seed=args.seed)
    if spaces:
        from lit_gans.metrics.features import feature_network
        from lit_gans.metrics.ppl import perceptual_path_length

        if evaluation.feature is None:
            raise LitGansError(f"--ppl needs images judged by a feature network; {class_name} has none")
        features = feature_network(evaluation.feature, args.inception_weights).to(model.device)
        for space in spaces:
            try:
                ppl = perceptual_path_length(model, features, space, n_samples=args.ppl_samples, seed=args.seed)
            except ConfigError as err:
                raise LitGansError(f"--ppl {space}: {err}") from None
            values.update({f"{evaluation.feature}/{key}_{space}": value for key, value in ppl.items()})
    seconds = time.perf_counter() - start
    which = "generator" if model.ema_generator is None else "EMA generator"
    truncated = f", z truncated at {args.truncation:g}" if args.truncation is not None else ""
    truncated += f", w truncated by psi {args.psi:g}" if args.psi is not None else ""
    print(f"{type(model).__name__} at g_step {model.g_step} ({which}{truncated}), {args.n_samples} samples, {class_name}, {seconds:.1f} s")
    width = max(len(k) for k in values)
    print(f"{'metric':<{width}}  value")
    for key, value in values.items():
        print(f"{key:<{width}}  {value:.6g}")
    report = {
        "checkpoint": str(args.ckpt), "family": type(model).__name__, "g_step": model.g_step, "generator": which,
        "data": recorded, "feature": evaluation.feature, "n_samples": args.n_samples, "seed": args.seed,
        "truncation": args.truncation, "psi": args.psi, "seconds": seconds, "metrics": values,
    }
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


_PARSER_NOISE = ("Does not validate", "Subtypes:", "Errors:", "Given value type", "Expected a <class 'NoneType'>")


def one_line(message: str) -> str:
    """jsonargparse's multi-line validation report, condensed to its informative lines."""
    lines = [line.strip().lstrip("- ").rstrip(":") for line in message.splitlines()]
    kept = [line for line in lines if line and not line.startswith(_PARSER_NOISE)]
    return "; ".join(dict.fromkeys(kept))


# what each config section is built from, for "did you mean" on a misspelt key
_SECTIONS: dict[str, Any] = {
    "trainer": "lightning.pytorch.Trainer", "checkpoint": GeneratorStepCheckpoint, "samples": SampleGrid,
    "metrics": GenerativeMetrics,
}
_TOP_LEVEL = ("config", "seed_everything", "trainer", "model", "data", "checkpoint", "samples", "metrics",
              "optimizer", "lr_scheduler", "ckpt_path")
_CLASS_OPTION = re.compile(
    r"Parser key \"(?P<section>[\w.]+)\".*?Problem with given class_path '(?P<cls>[\w.]+)':\s*"
    r"Option '(?P<key>\w+)' is not accepted", re.S,
)
_PLAIN_OPTION = re.compile(r"(?:does not accept option '|unrecognized arguments: --)(?P<key>[\w.]+)")


def _init_options(cls: Any) -> list[str]:
    """The ``__init__`` arguments of ``cls`` (a class or its import path), following ``**kwargs`` up
    the class hierarchy as jsonargparse does."""
    if isinstance(cls, str):
        import importlib

        module, _, name = cls.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            return []
    names: list[str] = []
    for klass in getattr(cls, "__mro__", ()):
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names += [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return list(dict.fromkeys(names))


def _did_you_mean(key: str, options: Sequence[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.6)
    return f"; did you mean {prefix}{close[0]}?" if close else ""


def unknown_option(message: str) -> Optional[str]:
    """jsonargparse's report of a misspelt config key, as one short line with a "did you mean"
    instead of the whole section's values; None for other errors."""
    match = _CLASS_OPTION.search(message)
    if match:
        section, cls, key = match["section"], match["cls"], match["key"]
        return (f"{section}.init_args.{key} is not an option of {cls.rpartition('.')[2]}"
                + _did_you_mean(key, _init_options(cls)))
    match = _PLAIN_OPTION.search(message)
    if match:
        key = match["key"]
        first, _, rest = key.partition(".")
        if first not in _TOP_LEVEL:
            return f"{key} is not an option: {first} is not a config section" + _did_you_mean(first, _TOP_LEVEL)
        if first in _SECTIONS and rest and "." not in rest:
            return f"{key} is not an option" + _did_you_mean(rest, _init_options(_SECTIONS[first]), prefix=f"{first}.")
    return None


def check_config_files(args: Sequence[str]) -> None:
    """``--config`` files that are empty or not a mapping, as one line naming the file (jsonargparse
    says only "Unexpected config")."""
    import yaml

    for i, arg in enumerate(args):
        if arg in ("--config", "-c") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--config="):
            value = arg.partition("=")[2]
        else:
            continue
        path = Path(value).expanduser()
        if not path.is_file():
            continue  # jsonargparse reports a missing file (or reads the value as YAML text)
        try:
            content = yaml.safe_load(path.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # jsonargparse reports these
        if content is None:
            raise ConfigError(f"config {value} is empty; it needs the sections model: and data: (and usually trainer:), "
                              "as in configs/quickstart.yaml")
        if not isinstance(content, dict):
            raise ConfigError(f"config {value} holds a {type(content).__name__}, not a mapping of sections; write "
                              "model:, data: and trainer: at its top level, as in configs/quickstart.yaml")


def _user_error(err: BaseException) -> Optional[LitGansError]:
    seen: set[int] = set()
    current: Optional[BaseException] = err
    while current is not None and id(current) not in seen:
        if isinstance(current, LitGansError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "sample":
            return sample_main(args[1:])
        if args and args[0] == "evaluate":
            return evaluate_main(args[1:])
        if args and args[0] == "translate":
            from lit_gans.translate import translate_main

            return translate_main(args[1:])
        if args and args[0] in ("interpolate", "project", "inpaint"):
            from lit_gans.latent import commands

            return getattr(commands, f"{args[0]}_main")(args[1:])
        if args and args[0] == "train-classifier":
            from lit_gans.metrics.train_classifier import main as train_classifier_main

            return train_classifier_main(args[1:])
        check_config_files(args)
        LitGansCLI(args=None if argv is None else args)
        return 0
    except (LitGansError, ValueError) as err:
        # jsonargparse wraps errors raised while instantiating classes; report ours as they are
        cause = _user_error(err)
        if cause is None:
            raise
        print(f"lit-gans: error: {cause}", file=sys.stderr)
        return 2
    except ArgumentError as err:
        command = args[0] if args and args[0] in SUBCOMMANDS else "fit"
        message = unknown_option(str(err)) or one_line(str(err))
        print(f"lit-gans: error: {message} (see `lit-gans {command} --help`)", file=sys.stderr)
        return 2
    except RuntimeError as err:
        # another rank of a distributed run stopped: one line, not gloo's traceback (lit_gans/distributed.py)
        message = peer_failure(err)
        if message is None:
            raise
        print(f"lit-gans: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["LitGansCLI", "main"]
