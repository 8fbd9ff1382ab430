"""The adversarial training loop, written once for every family.

One ``training_step`` takes one real batch and makes one discriminator (critic) step; after every
``n_critic`` critic steps it also makes one generator step (Arjovsky et al. 2017, Algorithm 1), so
each critic step sees a fresh real batch. Optimisation is manual (``automatic_optimization =
False``) with ``toggled_optimizer`` around each network's loss and ``manual_backward``, so mixed precision and DDP work.

Step counts: Lightning's ``trainer.global_step`` counts every ``optimizer.step()`` of both
optimisers (Lightning issue 17958). lit-gans counts ``g_step`` (generator iterations, the unit
papers use) and ``d_step`` (critic steps); both are logged, shown in the progress bar, written into
checkpoints and restored on resume. ``max_g_steps`` ends training after that many generator
iterations.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Optional, Sequence

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.seed import isolate_rng
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from lit_gans.errors import ConfigError, DivergenceError, NonFiniteLossError
from lit_gans.nets.factory import Architecture, build_networks
from lit_gans.nets.packing import Packed, packed_shape
from lit_gans.losses import ObjectiveName, get_objective
from lit_gans.regularizers import apply_spectral_norm, clip_weights, gradient_penalty, r1_penalty, r2_penalty
from lit_gans.resume import RESUMABLE, apply_optimizer_settings, check_resumable, collect_rng_states, restore_rng_state


def adam(lr: float, betas: tuple[float, float] = (0.5, 0.999)) -> Callable:
    """A picklable Adam factory, for families' paper defaults."""
    return partial(torch.optim.Adam, lr=lr, betas=betas)


def rmsprop(lr: float) -> Callable:
    """A picklable RMSProp factory, for families' paper defaults."""
    return partial(torch.optim.RMSprop, lr=lr)


class AdversarialModule(L.LightningModule):
    """Base of every GAN family: the alternating critic/generator loop, EMA, sampling and logging.

    A family passes the paper's defaults here; it overrides a method (``build_networks``,
    ``discriminator_loss``, ``generator_loss``) only where the paper changes the loop.

    Args:
        data_shape: shape of one sample, linked from the DataModule.
        num_classes: classes in the data, linked from the DataModule (0 when unlabelled).
        architecture: networks from ``lit_gans.nets``: ``mlp``, ``dcgan`` or ``resnet``.
        latent_dim: size of z.
        g_width: generator width (MLP units, DCGAN features, ResNet channels); None takes the
            architecture's default (400, 64, 256).
        d_width: discriminator width; None takes the architecture's default (200, 64, 128).
        d_batch_norm: batch norm in the DCGAN discriminator (off for gradient penalties).
        conditional: condition both networks on class labels (cGAN).
        objective: ``minimax``, ``non_saturating``, ``wasserstein``, ``least_squares`` or ``hinge``.
        g_optimizer: optimizer factory for the generator (YAML ``class_path``/``init_args``).
        d_optimizer: optimizer factory for the discriminator.
        g_scheduler: optional LR scheduler factory for the generator, stepped once per generator iteration.
        d_scheduler: optional LR scheduler factory for the discriminator, stepped once per generator iteration.
        n_critic: discriminator steps per generator step, each on a fresh real batch.
        clip_value: clamp critic weights to [-c, c] after each critic step (WGAN); None disables.
        gradient_penalty: weight lambda of the WGAN-GP penalty on interpolates; 0 disables.
        r1_gamma: weight gamma of the R1 penalty on real data (applied as gamma / 2); 0 disables.
        r2_gamma: weight gamma of the R2 penalty on generated data (applied as gamma / 2); 0 disables.
        spectral_norm: spectrally normalise every critic layer (SNGAN).
        pack: samples the discriminator judges together (PacGAN, Lin et al. 2018): m consecutive real or
            generated samples are concatenated into one input and get one logit; 1 disables. The batch
            size must be a multiple of it; unconditional families only.
        ema_decay: decay of an exponential moving average of the generator weights, used for
            sampling and evaluation; None disables.
        ema_start: generator iteration from which the average starts (before it, the EMA copies G).
        max_g_steps: stop after this many generator iterations; None leaves the length to the Trainer.
        max_weight: a weight whose magnitude passes this (or is not finite) means training diverged: the run
            stops, naming the last good checkpoint, and no checkpoint is written with it. Checked whenever
            values are logged and before every checkpoint; None disables.
        n_fixed_samples: size of the fixed latent batch used for sample grids throughout a run.
        seed: seed of the fixed latent batch.
    """

    #: model arguments a resumed run may change (``lit_gans.resume``); a family adds its own training-only ones
    resumable_args: frozenset[str] = RESUMABLE

    def __init__(
        self,
        data_shape: Sequence[int],
        num_classes: int = 0,
        architecture: Architecture = "dcgan",
        latent_dim: int = 100,
        g_width: Optional[int] = None,
        d_width: Optional[int] = None,
        d_batch_norm: bool = True,
        conditional: bool = False,
        objective: ObjectiveName = "non_saturating",
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        g_scheduler: Optional[LRSchedulerCallable] = None,
        d_scheduler: Optional[LRSchedulerCallable] = None,
        n_critic: int = 1,
        clip_value: Optional[float] = None,
        gradient_penalty: float = 0.0,
        r1_gamma: float = 0.0,
        r2_gamma: float = 0.0,
        spectral_norm: bool = False,
        pack: int = 1,
        ema_decay: Optional[float] = None,
        ema_start: int = 0,
        max_g_steps: Optional[int] = None,
        max_weight: Optional[float] = 1e4,
        n_fixed_samples: int = 64,
        seed: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        for key in [k for k, v in self.hparams.items() if callable(v)]:
            del self.hparams[key]  # Python factories are not YAML; the CLI stores its config instead
        self.automatic_optimization = False
        if latent_dim < 1:
            raise ConfigError(f"model.latent_dim={latent_dim} must be at least 1 (the size of z; DCGAN uses 100)")
        if n_critic < 1:
            raise ConfigError(f"model.n_critic={n_critic} must be at least 1 (critic steps per generator step)")
        if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
            raise ConfigError(f"model.ema_decay={ema_decay} must be in [0, 1), e.g. 0.999, or null to disable")
        if max_g_steps is not None and max_g_steps < 1:
            raise ConfigError(f"model.max_g_steps={max_g_steps} must be a positive number of generator iterations")
        if conditional and num_classes < 1:
            raise ConfigError("a conditional family needs labelled data: the DataModule reports num_classes=0")
        if pack < 1:
            raise ConfigError(f"model.pack={pack} must be at least 1 (1 disables packing; PacGAN uses 2 to 4)")
        if pack > 1 and conditional:
            raise ConfigError(f"model.pack={pack} needs an unconditional family: packing class labels is not supported")
        for name, value in (("gradient_penalty", gradient_penalty), ("r1_gamma", r1_gamma), ("r2_gamma", r2_gamma)):
            if value < 0:
                raise ConfigError(f"model.{name}={value} must be >= 0 (0 disables it)")
        self.objective = get_objective(objective)
        self.latent_dim = latent_dim
        self.data_shape = tuple(int(d) for d in data_shape)
        self.num_classes, self.conditional = num_classes, conditional
        self.pack = pack
        self.generator, discriminator = self.build_networks(architecture, g_width, d_width, d_batch_norm)
        self.discriminator = apply_spectral_norm(discriminator) if spectral_norm else discriminator
        self.g_optimizer = g_optimizer or adam(2e-4)
        self.d_optimizer = d_optimizer or adam(2e-4)
        self.g_scheduler, self.d_scheduler = g_scheduler, d_scheduler
        self.n_critic, self.clip_value = n_critic, clip_value
        self.gp_weight, self.r1_gamma, self.r2_gamma = gradient_penalty, r1_gamma, r2_gamma
        self.ema_decay, self.ema_start, self.max_g_steps = ema_decay, ema_start, max_g_steps
        if max_weight is not None and not max_weight > 0:
            raise ConfigError(f"model.max_weight={max_weight} must be positive (e.g. 1e4), or null to disable the check")
        self.max_weight = max_weight
        self.ema_generator: Optional[AveragedModel] = None
        if ema_decay is not None:
            self.ema_generator = AveragedModel(
                self.generator, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True
            ).requires_grad_(False)
        self.g_step = 0
        self.d_step = 0
        self._resume_rng: Optional[list] = None
        self._resume_changes: list[str] = []
        self._g_logs: dict[str, Tensor] = {}
        fixed = torch.Generator().manual_seed(seed)
        self.register_buffer("fixed_z", torch.randn(n_fixed_samples, latent_dim, generator=fixed))
        self.register_buffer(
            "fixed_labels",
            torch.arange(n_fixed_samples) % max(num_classes, 1) if conditional else torch.zeros(0, dtype=torch.long),
        )

    def build_networks(
        self, architecture: Architecture, g_width: Optional[int], d_width: Optional[int], d_batch_norm: bool
    ) -> tuple[nn.Module, nn.Module]:
        """The generator and discriminator (packed when ``pack > 1``); a family overrides this where the
        paper adds networks."""
        generator, discriminator = build_networks(
            architecture, self.latent_dim, self.data_shape, num_classes=self.num_classes if self.conditional else 0,
            g_width=g_width, d_width=d_width, d_batch_norm=d_batch_norm,
            # a packed critic is built for m samples concatenated along the first axis
            d_shape=packed_shape(self.data_shape, self.pack) if self.pack > 1 else None,
        )
        return generator, (Packed(discriminator, self.pack) if self.pack > 1 else discriminator)

    # ------------------------------------------------------------------ sampling
    @property
    def sampling_generator(self) -> nn.Module:
        """The EMA generator when enabled, else the generator."""
        return self.ema_generator.module if self.ema_generator is not None else self.generator

    def sample_latent(self, n: int) -> Tensor:
        return torch.randn(n, self.latent_dim, device=self.device)

    def sample_labels(self, n: int) -> Optional[Tensor]:
        """Uniform random class labels for generated samples (None for unconditional families)."""
        return torch.randint(self.num_classes, (n,), device=self.device) if self.conditional else None

    @torch.no_grad()
    def sample(
        self, n: int, labels: Optional[Tensor | Sequence[int]] = None, z: Optional[Tensor] = None, ema: bool = True
    ) -> Tensor:
        """``n`` samples from the (EMA, when enabled and ``ema``) generator in eval mode.

        Images come in [-1, 1]; 2-D toys as points. ``labels`` (conditional families only) default to
        classes 0, 1, 2, ... in turn.
        """
        if labels is not None and not self.conditional:
            raise ConfigError(f"{type(self).__name__} is unconditional: sample without labels")
        if self.conditional:
            labels = torch.arange(n) % self.num_classes if labels is None else torch.as_tensor(labels)
            if labels.shape != (n,):
                raise ConfigError(f"labels must be {n} class indices (one per sample), got shape {tuple(labels.shape)}")
            bad = labels[(labels < 0) | (labels >= self.num_classes)].unique().tolist()
            if bad:  # only the bad values: a message listing every label grows with n
                shown = ", ".join(str(v) for v in bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
                raise ConfigError(f"labels outside this {self.num_classes}-class model: {shown}; "
                                  f"use class indices 0 to {self.num_classes - 1}")
            labels = labels.to(self.device)
        z = self.sample_latent(n) if z is None else z.to(self.device)
        net = self.sampling_generator if ema else self.generator
        was_training = net.training
        net.eval()
        try:
            return net(z, labels)
        finally:
            net.train(was_training)

    def fixed_samples(self) -> Tensor:
        """Samples from the fixed latent batch, for grids comparable across a run."""
        labels = self.fixed_labels if self.conditional else None
        return self.sample(len(self.fixed_z), labels=labels, z=self.fixed_z)

    # ------------------------------------------------------------------ losses
    def _critic(self, labels: Optional[Tensor]) -> Callable[[Tensor], Tensor]:
        return lambda x: self.discriminator(x, labels)

    def discriminator_loss(self, real: Tensor, labels: Optional[Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """The critic's objective plus its penalties, and the terms to log."""
        n = real.shape[0]
        fake_labels = self.sample_labels(n)
        with torch.no_grad():
            fake = self.generator(self.sample_latent(n), fake_labels)
        real_labels = labels if self.conditional else None
        real_logits = self.discriminator(real, real_labels)
        fake_logits = self.discriminator(fake, fake_labels)
        loss = self.objective.d_loss(real_logits, fake_logits)
        logs = {"loss/d": loss.detach(), "d/real": real_logits.mean().detach(), "d/fake": fake_logits.mean().detach()}
        if self.gp_weight > 0:
            # interpolates mix real and fake samples, so their labels are taken from the real batch
            gp = gradient_penalty(self._critic(real_labels), real, fake)
            loss = loss + self.gp_weight * gp
            logs["penalty/gp"] = gp.detach()
        if self.r1_gamma > 0:
            r1 = r1_penalty(self._critic(real_labels), real)
            loss = loss + 0.5 * self.r1_gamma * r1
            logs["penalty/r1"] = r1.detach()
        if self.r2_gamma > 0:
            r2 = r2_penalty(self._critic(fake_labels), fake)
            loss = loss + 0.5 * self.r2_gamma * r2
            logs["penalty/r2"] = r2.detach()
        return loss, logs

    def generator_loss(self, n: int) -> tuple[Tensor, dict[str, Tensor]]:
        """The generator's objective on a fresh batch of ``n`` samples, and the terms to log."""
        labels = self.sample_labels(n)
        fake = self.generator(self.sample_latent(n), labels)
        loss = self.objective.g_loss(self.discriminator(fake, labels))
        return loss, {"loss/g": loss.detach()}

    # ------------------------------------------------------------------ the loop
    def training_step(self, batch: Any, batch_idx: int) -> None:
        real, labels = batch
        g_opt, d_opt = self.optimizers()
        # each network's optimizer is toggled before its loss is computed, so the backward pass
        # never computes the other network's weight gradients
        with self.toggled_optimizer(d_opt):
            d_loss, logs = self.discriminator_loss(real, labels)
            self._optimize(d_opt, d_loss, "discriminator")
        if self.clip_value is not None:
            clip_weights(self.discriminator, self.clip_value)
        self.d_step += 1
        if self.d_step % self.n_critic == 0:
            with self.toggled_optimizer(g_opt):
                g_loss, self._g_logs = self.generator_loss(real.shape[0])
                self._optimize(g_opt, g_loss, "generator")
            self.g_step += 1
            self._update_ema()
            for scheduler in self._schedulers():
                scheduler.step()
            if self.max_g_steps is not None and self.g_step >= self.max_g_steps:
                self.trainer.should_stop = True
                self.synchronize_buffers()
        if self._log_due():
            logs["weights/max_abs"] = self.check_weights()
            # the generator's terms are those of its latest step (an earlier batch when n_critic > 1)
            self.log_dict({**logs, **self._g_logs}, prog_bar=False)
            self.log_dict({"g_step": float(self.g_step), "d_step": float(self.d_step)}, prog_bar=True)

    def _log_due(self) -> bool:
        """Whether Lightning writes this batch's values to the loggers: every ``log_every_n_steps``
        batches, when training stops, and under ``fast_dev_run``. ``self.log`` costs about half a
        millisecond per value on a CPU, a tenth of a small network's step
        (``bench/results/throughput.md``), so the other batches skip it."""
        trainer = self.trainer
        connector = getattr(trainer, "_logger_connector", None)  # Lightning's own test, where it has one
        return bool(getattr(connector, "should_update_logs", True)) or bool(trainer.fast_dev_run)

    def _optimize(self, optimizer, loss: Tensor, who: str) -> None:
        """One step of ``optimizer`` on ``loss`` (its network toggled by the caller), unless the loss
        is not finite."""
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"the {who} loss became {loss.item()} at generator step {self.g_step}, discriminator step "
                f"{self.d_step}; training stopped before the weights took it. {self._last_good_checkpoint()}"
            )
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()

    def check_weights(self) -> Tensor:
        """The largest weight magnitude; raises ``DivergenceError`` when it passes ``max_weight`` or is
        not finite (a run can diverge without a NaN loss: Adam at a huge learning rate drives weights
        to 1e30 behind batch norm and tanh)."""
        params = [p.detach() for p in self.parameters()]
        largest = torch.stack([p.abs().max() for p in params if p.numel()]).max()
        if self.max_weight is not None and not bool(largest <= self.max_weight):  # NaN fails <= too
            networks = [name for name, net in self.named_children() if any(
                not bool(p.detach().abs().max() <= self.max_weight) for p in net.parameters() if p.numel())]
            raise DivergenceError(
                f"training diverged: {' and '.join(networks) or 'the'} weights reached {largest.item():.3g} at generator "
                f"step {self.g_step} (model.max_weight={self.max_weight:g}). {self._last_good_checkpoint()}"
            )
        return largest

    @torch.no_grad()
    def synchronize_buffers(self) -> None:
        """Give every process rank 0's buffers (batch-norm statistics, EMA counters). DDP does so at the
        start of each step; since each rank draws its own latents, the last step leaves them differing,
        which would make ranks sample from slightly different generators. Called when training stops
        and before each evaluation; one broadcast per buffer, nothing on one process."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return
        if torch.distributed.get_world_size() > 1:
            for buffer in self.buffers():
                torch.distributed.broadcast(buffer, src=0)

    def _last_good_checkpoint(self) -> str:
        """Which checkpoint to resume from, for divergence messages (every checkpoint written passed
        ``check_weights``)."""
        callback = self.trainer.checkpoint_callback if self._trainer is not None else None
        # the newest step-named file (last.ckpt is overwritten by the next run that resumes from it)
        path = getattr(callback, "best_model_path", "") or getattr(callback, "last_model_path", "")
        advice = "Lower the learning rates or add a regulariser"
        if not path:
            return f"No checkpoint was written before it. {advice} and start again"
        return f"The last good checkpoint is {path}. {advice}, then resume from it (--ckpt_path)"

    def _schedulers(self) -> list:
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return []
        return schedulers if isinstance(schedulers, list) else [schedulers]

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema_generator is None:
            return
        if self.g_step <= self.ema_start:
            self.ema_generator.n_averaged.zero_()  # the next update copies the generator
        self.ema_generator.update_parameters(self.generator)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        # validation draws its own fakes from a separate random stream, so that whether and when it runs
        # leaves training's random numbers (and an exact resume) untouched
        with isolate_rng():
            torch.manual_seed(self.g_step * 1_000_003 + batch_idx)
            self._validate(batch)

    def _validate(self, batch: Any) -> None:
        real, labels = batch
        n = real.shape[0] - real.shape[0] % self.pack  # a packed critic judges whole packs only
        if n == 0:
            return
        real, labels = real[:n], labels[:n]
        fake_labels = self.sample_labels(n)
        fake = self.sample(n, labels=fake_labels)
        real_logits = self.discriminator(real, labels if self.conditional else None)
        fake_logits = self.discriminator(fake, fake_labels)
        self.log_dict(
            {
                "val/d_loss": self.objective.d_loss(real_logits, fake_logits),
                "val/g_loss": self.objective.g_loss(fake_logits),
            },
            batch_size=n,
            sync_dist=True,
        )

    # ------------------------------------------------------------------ Lightning plumbing
    def configure_optimizers(self):
        g_opt = self.g_optimizer(self.generator.parameters())
        d_opt = self.d_optimizer(self.discriminator.parameters())
        g_conf: dict[str, Any] = {"optimizer": g_opt}
        d_conf: dict[str, Any] = {"optimizer": d_opt}
        if self.g_scheduler is not None:
            g_conf["lr_scheduler"] = self.g_scheduler(g_opt)
        if self.d_scheduler is not None:
            d_conf["lr_scheduler"] = self.d_scheduler(d_opt)
        return g_conf, d_conf

    def on_fit_start(self) -> None:
        if self.trainer.world_size > 1 and self.trainer.ckpt_path is None:
            # every process is seeded alike (seed_everything); without this offset the ranks would draw the same
            # latents, so the fakes of a global batch would repeat world_size times
            torch.manual_seed(torch.initial_seed() + self.global_rank)

    def on_train_start(self) -> None:
        if self._resume_rng is not None:
            # restored here, after everything between the checkpoint's load and the first step that drew numbers
            if not restore_rng_state(self._resume_rng, self.global_rank):
                rank_zero_info("lit-gans: the checkpoint has no random state for this many processes; the resumed run is not exact")
            self._resume_rng = None
        if self.trainer.ckpt_path is not None:
            named = zip(("generator", "discriminator"), self.optimizers(), self._scheduler_pairs())
            changes = self._resume_changes + apply_optimizer_settings((n, o.optimizer, s) for n, o, s in named)
            if changes:
                rank_zero_info(f"lit-gans: resuming at generator step {self.g_step} with the config's {'; '.join(changes)}")

    def _scheduler_pairs(self) -> list:
        """The generator's and the discriminator's scheduler (None where absent), in optimizer order."""
        configs = self.trainer.lr_scheduler_configs
        by_optimizer = {id(c.scheduler.optimizer): c.scheduler for c in configs}
        return [by_optimizer.get(id(o.optimizer)) for o in self.optimizers()]

    def setup(self, stage: str) -> None:
        strategy = self.trainer.strategy if self._trainer is not None else None
        if isinstance(strategy, DDPStrategy) and not strategy._ddp_kwargs.get("find_unused_parameters"):
            # A critic step leaves the generator's parameters without gradients and vice versa; plain DDP
            # then fails (Lightning issue 20328). Unused-parameter detection makes it work for every family.
            strategy._ddp_kwargs["find_unused_parameters"] = True
            rank_zero_info("lit-gans: DDP with find_unused_parameters=True (G and D are stepped in turn)")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["lit_gans"] = {
            "family": self._family_name(),
            "g_step": self.g_step,
            "d_step": self.d_step,
            "rng": collect_rng_states(),  # every process's generators, for an exact resume
        }
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is not None and hasattr(datamodule, "hparams"):
            # the data this model learnt, so that `lit-gans evaluate` can rebuild the reference set
            checkpoint["lit_gans"]["datamodule"] = {
                "class_path": f"{type(datamodule).__module__}.{type(datamodule).__qualname__}",
                "init_args": {k: v for k, v in datamodule.hparams.items() if not k.startswith("_")},
            }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("lit_gans", {})
        if self._trainer is not None:  # a run resumed (or validated) from it; load_from_checkpoint builds from it
            self._resume_changes = check_resumable(
                state.get("family"), self._family_name(), checkpoint.get("hyper_parameters", {}), self.hparams,
                self.resumable_args,
            )
        self.g_step = int(state.get("g_step", 0))
        self.d_step = int(state.get("d_step", 0))
        self._resume_rng = state.get("rng")

    def _family_name(self) -> str:
        return f"{type(self).__module__}.{type(self).__qualname__}"

    def forward(self, z: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        return self.generator(z, labels)

    def extra_repr(self) -> str:
        return f"objective={self.objective.name}, n_critic={self.n_critic}, latent_dim={self.latent_dim}"


__all__ = ["AdversarialModule", "adam", "rmsprop"]
