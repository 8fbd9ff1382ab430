"""The adversarial training loop, written once for every family.

A family declares its **networks** (``build_networks``: a name for each), which **optimizer** steps
which of them (``optimizer_groups``), the **phases** the loop runs on each batch (``phases``: a name,
the optimizers it steps, its loss, how often), the **penalties** joining the phases' losses
(``lit_gans.penalties``, listed in YAML) and its **latent spec** (``make_latent_spec``: what one sample
needs). Roles name the networks that other parts of the suite look for: ``generator`` (what samples)
and ``critic`` (what judges). The common case needs none of this: one generator, one discriminator,
a critic phase on every batch and a generator phase after every ``n_critic`` critic steps, each on a
fresh real batch (Arjovsky et al. 2017, Algorithm 1).

Optimisation is manual (``automatic_optimization = False``): each phase freezes the parameters of the
other optimizers, computes its loss, and steps through ``manual_backward`` and Lightning's optimizer
wrappers (or straight through what they end in, where their layers have nothing to do for the run:
``lit_gans.stepping``), so mixed precision and DDP work. Losses see the batch by name
(``lit_gans.loop.Batch``) and return what they made (``StepOutput``), so a family extends one through
``super()``.

Step counts: Lightning's ``trainer.global_step`` counts every ``optimizer.step()`` (Lightning issue
17958). lit-gans counts each phase's steps (``steps``); ``g_step`` (generator iterations, the unit papers
use) and ``d_step`` are logged, shown in the progress bar, written into checkpoints and restored on
resume. ``max_g_steps`` ends training after that many generator iterations.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Optional, Sequence

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities.seed import isolate_rng
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from lit_gans.augment import Augment
from lit_gans.distributed import detect_unused_parameters, synchronize_buffers
from lit_gans.ema import ema_decay_at, ema_of, update_ema
from lit_gans.errors import ConfigError
from lit_gans.guards import DivergenceGuard, PendingLosses
from lit_gans.latent import LatentSpec
from lit_gans.loop import Batch, Phase, StepOutput, check_loop_arguments
from lit_gans.losses import ObjectiveName, get_objective
from lit_gans.nets.factory import Architecture, build_networks
from lit_gans.nets.packing import Packed, packed_shape
from lit_gans.penalties import R1, R2, GradientPenalty, Penalty
from lit_gans.regularizers import apply_spectral_norm, clip_weights
from lit_gans.resume import RESUMABLE, ResumableModule
from lit_gans.sampling import Sampling
from lit_gans.specs import build
from lit_gans.stepping import LightningSteps, steps_for


def adam(lr: float, betas: tuple[float, float] = (0.5, 0.999)) -> Callable:
    """A picklable Adam factory, for families' paper defaults."""
    return partial(torch.optim.Adam, lr=lr, betas=betas)


def rmsprop(lr: float) -> Callable:
    """A picklable RMSProp factory, for families' paper defaults."""
    return partial(torch.optim.RMSprop, lr=lr)


class AdversarialModule(Sampling, DivergenceGuard, ResumableModule, L.LightningModule):
    """Base of every GAN family: the phase loop, penalties, EMA and logging (sampling: ``lit_gans.sampling``).

    A family passes the paper's defaults here and overrides a method (``build_networks``,
    ``optimizer_groups``, ``phases``, ``make_latent_spec``, ``discriminator_loss``, ``generator_loss``)
    only where the paper changes the loop.

    Args:
        data_shape: shape of one sample, linked from the DataModule.
        num_classes: classes in the data, linked from the DataModule (0 when unlabelled).
        architecture: networks from ``lit_gans.nets``: ``mlp``, ``dcgan``, ``resnet``, ``biggan``, ``progan``
            (growing networks; ``ProGAN`` sets their stage) or ``stylegan``.
        latent_dim: size of z.
        g_width: generator width (MLP units, DCGAN features, ResNet channels); None takes the
            architecture's default (400, 64, 256, 256, 512, 512).
        d_width: discriminator width; None takes the architecture's default (200, 64, 128, 128, 512, 512).
        d_batch_norm: batch norm in the DCGAN discriminator (off for gradient penalties).
        conditional: condition both networks on class labels (cGAN).
        objective: ``minimax``, ``non_saturating``, ``wasserstein``, ``least_squares`` or ``hinge``.
        g_optimizer: optimizer factory for the generator (YAML ``class_path``/``init_args``).
        d_optimizer: optimizer factory for the discriminator.
        g_scheduler: optional LR scheduler factory for the generator, stepped once per generator iteration.
        d_scheduler: optional LR scheduler factory for the discriminator, stepped once per generator iteration.
        n_critic: discriminator steps per generator step, each on a fresh real batch.
        clip_value: clamp critic weights to [-c, c] after each critic step (WGAN); None disables.
        gradient_penalty: shorthand for the penalty ``GradientPenalty(weight)`` (WGAN-GP); 0 adds none.
        r1_gamma: shorthand for ``R1(gamma)`` on real data (applied as gamma / 2); 0 adds none.
        r2_gamma: shorthand for ``R2(gamma)`` on generated data (applied as gamma / 2); 0 adds none.
        penalties: penalties from ``lit_gans.penalties``, each with its weight, phase and interval
            (``{class_path: lit_gans.penalties.R1, init_args: {gamma: 10, every: 16}}``).
        augment: what the critic sees of every image it judges, real or generated, in training
            (``lit_gans.augment.DiffAugment``: ``{class_path: lit_gans.augment.DiffAugment}``); None sees them as they are.
        spectral_norm: spectrally normalise every critic layer (SNGAN).
        pack: samples the discriminator judges together (PacGAN, Lin et al. 2018): m consecutive real or
            generated samples are concatenated into one input and get one logit; 1 disables. The batch
            size must be a multiple of it; unconditional families only.
        ema_decay: decay of an exponential moving average of the generator weights, used for
            sampling and evaluation; None disables.
        ema_start: generator iteration from which the average starts (before it, the EMA copies G).
        ema_rampup: cap the average's half-life at this share of the generator iterations so far (StyleGAN2-ADA's,
            0.05 there), so that a young EMA follows G instead of its first weights; None: ``ema_decay`` throughout.
        max_g_steps: stop after this many generator iterations; None leaves the length to the Trainer.
        max_weight: a weight whose magnitude passes this (or is not finite) means training diverged: the run
            stops, naming the last good checkpoint, and no checkpoint is written with it. Checked whenever
            values are logged and before every checkpoint; None disables.
        compile: compile the networks with ``torch.compile`` (opt-in; first steps pay the compilation).
        compile_options: ``torch.compile`` arguments, e.g. ``{mode: max-autotune-no-cudagraphs}``.
        n_fixed_samples: size of the fixed latent batch used for sample grids throughout a run.
        seed: seed of the fixed latent batch.
    """

    #: model arguments a resumed run may change (``lit_gans.resume``); a family adds its own training-only ones
    resumable_args: frozenset[str] = RESUMABLE
    #: role -> network name: what samples, and what judges
    roles: dict[str, str] = {"generator": "generator", "critic": "discriminator"}
    #: numbers the critic returns per sample: 1 (logits) or a feature vector (MMD GAN, Cramér GAN, McGAN)
    critic_outputs: int = 1

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
        penalties: Optional[list[Penalty]] = None,
        augment: Optional[Augment] = None,
        spectral_norm: bool = False,
        pack: int = 1,
        ema_decay: Optional[float] = None,
        ema_start: int = 0,
        ema_rampup: Optional[float] = None,
        max_g_steps: Optional[int] = None,
        max_weight: Optional[float] = 1e4,
        compile: bool = False,
        compile_options: Optional[dict[str, Any]] = None,
        n_fixed_samples: int = 64,
        seed: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["penalties", "augment"])
        for key in [k for k, v in self.hparams.items() if callable(v)]:
            del self.hparams[key]  # Python factories are not YAML; the CLI stores its config instead
        self.automatic_optimization = False
        check_loop_arguments(latent_dim=latent_dim, n_critic=n_critic, ema_decay=ema_decay, ema_rampup=ema_rampup,
                             max_g_steps=max_g_steps, conditional=conditional, num_classes=num_classes, pack=pack,
                             max_weight=max_weight, gradient_penalty=gradient_penalty, r1_gamma=r1_gamma, r2_gamma=r2_gamma)
        self.objective = get_objective(objective)
        self.latent_dim, self.data_shape = latent_dim, tuple(int(d) for d in data_shape)
        self.num_classes, self.conditional, self.pack = num_classes, conditional, pack
        self.latent_spec = self.make_latent_spec()
        networks = self.build_networks(architecture, g_width, d_width, d_batch_norm)
        if spectral_norm:
            apply_spectral_norm(networks[self.roles["critic"]])
        for name, network in networks.items():
            setattr(self, name, network)
        self.network_names = tuple(networks)
        self.g_optimizer, self.d_optimizer = g_optimizer or adam(2e-4), d_optimizer or adam(2e-4)
        self.g_scheduler, self.d_scheduler = g_scheduler, d_scheduler
        self.n_critic, self.clip_value = n_critic, clip_value
        shorthands = [GradientPenalty(gradient_penalty)] if gradient_penalty else []
        shorthands += [R1(r1_gamma)] if r1_gamma else []
        shorthands += [R2(r2_gamma)] if r2_gamma else []
        listed = [build(p, Penalty, "model.penalties") for p in penalties or []]  # a checkpoint records specs
        self.penalties = nn.ModuleList(shorthands + listed)
        self.hparams["penalties"] = [p.spec() for p in listed]  # rebuilt on load, compared on resume
        self.augment = None if augment is None else build(augment, Augment, "model.augment")
        self.hparams["augment"] = None if augment is None else self.augment.spec()
        self.ema_decay, self.ema_start, self.ema_rampup, self.max_g_steps = ema_decay, ema_start, ema_rampup, max_g_steps
        self.max_weight, self.compile_options = max_weight, (compile_options or {}) if compile else None
        self._cuda_graphs = "reduce-overhead" in str((self.compile_options or {}).get("mode", ""))  # CUDA graph trees
        self.ema_generator: Optional[AveragedModel] = None
        if ema_decay is not None:
            self.ema_generator = ema_of(self.network("generator"), ema_decay)
        self.steps: dict[str, int] = {}  # steps taken by each phase
        self.batches = 0  # training batches seen
        self.batch_fields: tuple[str, ...] = ("image", "label")
        self._phases: Optional[list[Phase]] = None
        self._logs: dict[str, Tensor] = {}
        self._finite = PendingLosses()  # losses kept on accelerators (``DivergenceGuard``)
        self._stepper: Optional[LightningSteps] = None  # backward and step calls (``lit_gans.stepping``)
        self.register_fixed_latent(n_fixed_samples, seed)

    # ------------------------------------------------------------------ what a family declares
    def make_latent_spec(self) -> LatentSpec:
        """What one sample needs: z of ``latent_dim`` N(0, 1) numbers, and a class label when conditional."""
        return LatentSpec(self.latent_dim, num_classes=self.num_classes if self.conditional else 0)

    def build_networks(
        self, architecture: Architecture, g_width: Optional[int], d_width: Optional[int], d_batch_norm: bool,
        input_dim: Optional[int] = None, critic_classes: Optional[int] = None,
    ) -> dict[str, nn.Module]:
        """The networks by name: the generator (reading ``input_dim`` numbers, by default the latent spec's)
        and the discriminator (packed when ``pack > 1``; ``critic_classes`` sets its classes apart from G's)."""
        generator, discriminator = build_networks(
            architecture, input_dim or self.latent_spec.input_dim, self.data_shape, num_classes=self.num_classes if self.conditional else 0,
            g_width=g_width, d_width=d_width, d_batch_norm=d_batch_norm, d_num_classes=critic_classes, d_outputs=self.critic_outputs,
            # a packed critic is built for m samples concatenated along the first axis
            d_shape=packed_shape(self.data_shape, self.pack) if self.pack > 1 else None,
        )
        return {"generator": generator, "discriminator": Packed(discriminator, self.pack) if self.pack > 1 else discriminator}

    def optimizer_groups(self) -> dict[str, tuple[Callable, tuple[str, ...], Optional[Callable]]]:
        """Optimizer name -> (factory, the networks it steps, an optional LR scheduler factory)."""
        return {"generator": (self.g_optimizer, (self.roles["generator"],), self.g_scheduler),
                "discriminator": (self.d_optimizer, (self.roles["critic"],), self.d_scheduler)}

    def phases(self) -> list[Phase]:
        """The critic phase on every batch, then the generator phase after every ``n_critic`` critic steps."""
        clip = (partial(clip_weights, self.network("critic"), self.clip_value),) if self.clip_value is not None else ()
        return [Phase("discriminator", ("discriminator",), self.discriminator_loss, after_step=clip),
                Phase("generator", ("generator",), self.generator_loss, every=self.n_critic, of="discriminator",
                      after_step=(self._after_generator_step,))]

    def network(self, role: str) -> nn.Module:
        """A network by role (``generator``, ``critic``) or by name."""
        return getattr(self, self.roles.get(role, role))

    # ------------------------------------------------------------------ step counts
    @property
    def g_step(self) -> int:
        return self.steps.get("generator", 0)

    @property
    def d_step(self) -> int:
        return self.steps.get("discriminator", 0)

    # ------------------------------------------------------------------ losses
    def judge(self, x: Tensor, labels: Optional[Tensor]) -> tuple[Tensor, Any]:
        """The critic's logits and its extra outputs: None, unless its network returns ``(logits, features)``;
        then the network with the ``auxiliary`` role (InfoGAN's Q, AC-GAN's classifier) reads the features."""
        if self.augment is not None and self.training:  # DiffAugment: real and fake alike, in every phase
            x = self.augment(x)
        out = self.network("critic")(x, labels)
        if not isinstance(out, tuple):
            return out, None
        logits, features = out
        return logits, self.network("auxiliary")(features) if "auxiliary" in self.roles else features

    def critic_fn(self, labels: Optional[Tensor]) -> Callable[[Tensor], Tensor]:
        """The critic as a function of samples alone (its logits), for penalties."""
        return lambda x: self.judge(x, labels)[0]

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        """The critic's objective on the real batch and as many fresh fakes."""
        latent = self.latent_spec.draw(len(batch), self.device)
        with torch.no_grad():
            fake = self.generate(latent)
        real_labels = batch.label if self.conditional else None
        real_logits, real_aux = self.judge(batch.image, real_labels)
        fake_logits, fake_aux = self.judge(fake, latent.labels)
        loss = self.objective.d_loss(real_logits, fake_logits)
        logs = {"loss/d": loss.detach(), "d/real": real_logits.mean().detach(), "d/fake": fake_logits.mean().detach()}
        if self.augment is not None and self.training:  # ADA tunes its strength from the critic's real logits
            logs.update(self.augment.observe(real_logits.detach(), images=len(batch)))
        return StepOutput(loss, logs, latent, fake, fake_logits, fake_aux, batch.image, real_labels, real_logits, real_aux)

    def generator_loss(self, batch: Batch) -> StepOutput:
        """The generator's objective on a fresh batch of fakes, as many as the real batch."""
        latent = self.latent_spec.draw(len(batch), self.device)
        fake = self.generate(latent)
        fake_logits, fake_aux = self.judge(fake, latent.labels)
        loss = self.objective.g_loss(fake_logits)
        return StepOutput(loss, {"loss/g": loss.detach()}, latent, fake, fake_logits, fake_aux)

    # ------------------------------------------------------------------ the loop
    def training_step(self, batch: Any, batch_idx: int) -> None:
        batch = Batch.of(batch, self.batch_fields)
        if self._phases is None:
            self._prepare_phases()
        stepped: set[str] = set()
        for phase, penalties, (trainable, frozen), optimizers in self._phases:
            count = self.batches + 1 if phase.of is None else self.steps.get(phase.of, 0)
            if count % phase.every or (phase.of is not None and phase.of not in stepped) or (phase.when and not phase.when()):
                continue
            for p in frozen:  # the backward pass then computes only this phase's weight gradients
                p.requires_grad_(False)
            for p in trainable:
                p.requires_grad_(True)
            step = self.steps.get(phase.name, 0)
            if self._cuda_graphs:  # each phase is a new step of CUDA graph trees: earlier outputs may be overwritten
                torch.compiler.cudagraph_mark_step_begin()
            out = phase.loss(batch)
            for penalty in penalties:
                if penalty.due(step):
                    out.add(f"penalty/{penalty.name}", penalty(self, out, batch), penalty.weight * penalty.every)
            self._check_finite(out.loss, phase.name)
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)
            self._stepper.backward(out.loss)  # ``manual_backward``, or what it ends in (``lit_gans.stepping``)
            for optimizer in optimizers:
                self._stepper.step(optimizer)
            self.steps[phase.name] = step + 1
            stepped.add(phase.name)
            self._logs.update(out.logs)
            for action in phase.after_step:
                action()
        for p in self._trainable:
            p.requires_grad_(True)
        self.batches += 1
        trainer = self.trainer
        # the batches whose values Lightning writes to the loggers (its own test is private); ``self.log``
        # costs about half a millisecond per value on a CPU, a tenth of a small network's step, so others skip it
        if self.batches % max(trainer.log_every_n_steps, 1) == 0 or trainer.should_stop or trainer.fast_dev_run:
            self._logs["weights/max_abs"] = self.check_weights()
            # a phase's terms are those of its latest step (an earlier batch when it does not run on every batch)
            self.log_dict(self._logs, prog_bar=False)
            # CPU tensors: Lightning turns progress-bar values into numbers after every batch until they are next
            # logged, and a number on an accelerator (as it would make of a float) makes each such batch wait for it
            self.log_dict({"g_step": torch.tensor(float(self.g_step)), "d_step": torch.tensor(float(self.d_step))}, prog_bar=True)

    def _prepare_phases(self) -> None:
        """Each phase with its penalties, the parameters it trains and freezes, and its optimizers (once)."""
        phases = self.phases()
        names = {phase.name for phase in phases}
        for penalty in self.penalties:
            if penalty.phase not in names:
                raise ConfigError(f"penalty {type(penalty).__name__} joins phase {penalty.phase!r}, but "
                                  f"{type(self).__name__} runs the phases {sorted(names)}; set its phase to one of them")
        optimizers = self.optimizers()
        by_name = dict(zip(self.optimizer_groups(), optimizers if isinstance(optimizers, list) else [optimizers]))
        self._trainable = [p for o in by_name.values() for group in o.optimizer.param_groups for p in group["params"]]
        self._phases = []
        for phase in phases:
            steps = [by_name[name] for name in phase.optimizers]
            own = {id(p) for o in steps for group in o.optimizer.param_groups for p in group["params"]}
            split = ([p for p in self._trainable if id(p) in own], [p for p in self._trainable if id(p) not in own])
            self._phases.append((phase, [p for p in self.penalties if p.phase == phase.name], split, steps))
        self._stepper = steps_for(self.trainer, self, list(by_name.values()))

    def _after_generator_step(self) -> None:
        self._update_ema()
        for config in self.trainer.lr_scheduler_configs:
            config.scheduler.step()
        if self.max_g_steps is not None and self.g_step >= self.max_g_steps:
            self.trainer.should_stop = True
            self.synchronize_buffers()

    def _update_ema(self) -> None:
        if self.ema_generator is not None:  # a copy up to ema_start (and at the first step), then the average
            update_ema(self.ema_generator, self.network("generator"), copy=self.g_step <= max(self.ema_start, 1),
                       decay=ema_decay_at(self.ema_decay, self.g_step, self.ema_rampup))

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        # validation draws its own fakes from a separate random stream, so that whether and when it runs
        # leaves training's random numbers (and an exact resume) untouched
        with isolate_rng():
            torch.manual_seed(self.g_step * 1_000_003 + batch_idx)
            self._validate(Batch.of(batch, self.batch_fields))

    def _validate(self, batch: Batch) -> None:
        n = len(batch) - len(batch) % self.pack  # a packed critic judges whole packs only
        if n == 0:
            return
        latent = self.latent_spec.draw(n, self.device)
        real_logits, _ = self.judge(batch.image[:n], batch.label[:n] if self.conditional else None)
        fake_logits, _ = self.judge(self.sample(n, latent=latent), latent.labels)
        self.log_dict({"val/d_loss": self.objective.d_loss(real_logits, fake_logits),
                       "val/g_loss": self.objective.g_loss(fake_logits)}, batch_size=n, sync_dist=True)

    # ------------------------------------------------------------------ Lightning plumbing
    def configure_optimizers(self):
        configs = []
        for factory, names, scheduler in self.optimizer_groups().values():
            optimizer = factory([p for name in names for p in getattr(self, name).parameters()])
            configs.append({"optimizer": optimizer, **({"lr_scheduler": scheduler(optimizer)} if scheduler else {})})
        return configs

    def configure_model(self) -> None:
        if self.compile_options is not None:
            for name in self.network_names:  # in place: parameter names and checkpoints stay as they are
                getattr(self, name).compile(**self.compile_options)

    def setup(self, stage: str) -> None:
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        self.batch_fields = tuple(getattr(datamodule, "batch_fields", self.batch_fields))
        if self._trainer is not None:
            detect_unused_parameters(self.trainer.strategy)

    def on_fit_start(self) -> None:
        self._phases = None  # built at the first step, from this fit's optimizers
        if self.trainer.world_size > 1 and self.trainer.ckpt_path is None:
            # every process is seeded alike (seed_everything); without this offset the ranks would draw the same
            # latents, so the fakes of a global batch would repeat world_size times
            torch.manual_seed(torch.initial_seed() + self.global_rank)

    @torch.no_grad()
    def synchronize_buffers(self) -> None:
        """Give every process rank 0's buffers (``lit_gans.distributed.synchronize_buffers``)."""
        synchronize_buffers(self)

    def forward(self, z: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        return self.network("generator")(z, labels)

    def extra_repr(self) -> str:
        return f"objective={self.objective.name}, n_critic={self.n_critic}, latent_dim={self.latent_dim}"


__all__ = ["AdversarialModule", "adam", "rmsprop"]
