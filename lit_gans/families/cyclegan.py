"""CycleGAN (Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks")."""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.families.base import adam
from lit_gans.families._translation import TranslationModule, as_rgb
from lit_gans.loop import Batch, Phase, StepOutput
from lit_gans.losses import ObjectiveName
from lit_gans.nets.translation import CycleGANGenerator, ImagePool, PatchDiscriminator, init_weights, patch_layers_for

DIRECTIONS = ("a2b", "b2a")


class CycleGAN(TranslationModule):
    """CycleGAN: two generators, G_AB: A -> B and G_BA: B -> A, learnt from unpaired images of two domains, each
    judged by a PatchGAN of its target domain (``d_b`` judges B and G_AB's outputs, ``d_a`` A and G_BA's).

    The generators minimise the least-squares GAN loss of both directions, plus ``cycle_weight`` (lambda, 10)
    times the cycle-consistency L1 errors ||G_BA(G_AB(a)) - a|| and ||G_AB(G_BA(b)) - b||, plus
    ``identity_weight`` (0.5) times lambda times the identity errors ||G_AB(b) - b|| and ||G_BA(a) - a||, which
    keep colours; one Adam steps both generators, another both critics. The critics judge fakes drawn from a
    history of the last ``pool_size`` (50) generated images (Shrivastava et al. 2017), half the time a
    past one; each critic's loss is halved. Per batch the generators step first, then the critics on the
    generators' fakes (the reference's order). Generators: ResNet-style (two stride-2 downsamplings,
    ``n_blocks`` residual blocks: 9 at 256 px, 6 at 128 px and below), instance norm; Adam lr 2e-4, betas (0.5,
    0.999), constant then linearly decaying to 0 (``lit_gans.schedules.LinearDecay``).

    Validation logs ``val/cycle_l1`` (both cycles' mean L1 error, in [-1, 1] units) and, on data of two classes of
    a dataset with a shipped domain classifier (``datamodules.ClassPairDataModule``: Fashion-MNIST or the digits),
    ``val/target_accuracy``: the share of translations the classifier labels as the target domain's class (A->B
    as ``class_b``, B->A as ``class_a``; on padded images it reads the picture inside the border, as it reads real
    ones), and ``val/a2b_accuracy``, ``val/b2a_accuracy`` apart.

    Args:
        data_shape: shape of an image of domain A (C, S, S), linked from the DataModule.
        channels_b: channels of domain B; None: as many as A. The identity term needs them equal.
        g_width: generator channels of its first layer (64), doubled at each downsampling.
        d_width: PatchGAN channels of its first layer (64).
        n_blocks: residual blocks of each generator (9; the reference uses 6 at 128 px).
        norm: ``instance`` (the paper) or ``batch``.
        d_layers: PatchGAN stride-2 layers (3: 70x70 patches); None takes 3, or fewer on small images.
        cycle_weight: lambda of the cycle-consistency terms (10).
        identity_weight: the identity terms' weight, as a multiple of lambda (0.5; 0 disables).
        pool_size: past fakes kept for the critics (50; 0 judges only the current ones).
        objective: ``least_squares`` (the paper) or ``non_saturating``.
        g_optimizer, d_optimizer, g_scheduler, d_scheduler: as ``AdversarialModule``'s; each steps both networks of
            its kind.
        Others: ``TranslationModule``'s and ``AdversarialModule``'s.
    """

    needs_fields = ("image", "image_b")
    roles = {"generator": "g_ab", "critic": "d_b"}

    def __init__(
        self,
        data_shape: Any,
        num_classes: int = 0,
        channels_b: Optional[int] = None,
        g_width: int = 64,
        d_width: int = 64,
        n_blocks: int = 9,
        norm: Literal["instance", "batch"] = "instance",
        d_layers: Optional[int] = None,
        cycle_weight: float = 10.0,
        identity_weight: float = 0.5,
        pool_size: int = 50,
        objective: ObjectiveName = "least_squares",
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        g_scheduler: Optional[LRSchedulerCallable] = None,
        d_scheduler: Optional[LRSchedulerCallable] = None,
        **kwargs: Any,
    ):
        channels_b = channels_b or int(data_shape[0])
        for name, value in (("cycle_weight", cycle_weight), ("identity_weight", identity_weight), ("pool_size", pool_size)):
            if value < 0:
                raise ConfigError(f"model.{name}={value} must be >= 0 (0 disables it)")
        if identity_weight and channels_b != int(data_shape[0]):
            raise ConfigError(f"model.identity_weight={identity_weight} compares images of both domains, but A has "
                              f"{int(data_shape[0])} channels and B {channels_b}; set model.identity_weight: 0")
        self.translation_args = dict(channels_b=channels_b, n_blocks=n_blocks, norm=norm, d_layers=d_layers)
        self.cycle_weight, self.identity_weight = float(cycle_weight), float(identity_weight)
        super().__init__(
            data_shape=data_shape, num_classes=num_classes, g_width=g_width, d_width=d_width, objective=objective,
            g_optimizer=g_optimizer or adam(2e-4), d_optimizer=d_optimizer or adam(2e-4),
            g_scheduler=g_scheduler, d_scheduler=d_scheduler, **kwargs,
        )
        self.pool_a, self.pool_b = ImagePool(pool_size), ImagePool(pool_size)
        self._fakes: Optional[tuple[Tensor, Tensor]] = None
        self._classifier: list[nn.Module] = []  # the domain classifier, kept out of the state dict
        self._classes: Optional[tuple[int, int]] = None
        self._border = 0

    def build_networks(self, architecture: Any, g_width: Optional[int], d_width: Optional[int], d_batch_norm: bool,
                       **_: Any) -> dict[str, nn.Module]:
        args, (channels_a, size, width) = self.translation_args, self.data_shape
        channels_b = args["channels_b"]
        d_layers = args["d_layers"] if args["d_layers"] is not None else patch_layers_for(min(size, width))
        g_width, d_width = g_width or 64, d_width or 64
        networks = {
            "g_ab": CycleGANGenerator(channels_a, channels_b, width=g_width, n_blocks=args["n_blocks"], norm=args["norm"]),
            "g_ba": CycleGANGenerator(channels_b, channels_a, width=g_width, n_blocks=args["n_blocks"], norm=args["norm"]),
            "d_a": PatchDiscriminator(channels_a, width=d_width, n_layers=d_layers, norm=args["norm"]),
            "d_b": PatchDiscriminator(channels_b, width=d_width, n_layers=d_layers, norm=args["norm"]),
        }
        return {name: init_weights(net) for name, net in networks.items()}

    def optimizer_groups(self) -> dict[str, tuple]:
        """One optimizer for both generators, one for both critics (the reference's)."""
        return {"generator": (self.g_optimizer, ("g_ab", "g_ba"), self.g_scheduler),
                "discriminator": (self.d_optimizer, ("d_a", "d_b"), self.d_scheduler)}

    def phases(self) -> list[Phase]:
        """The generators, then the critics on the fakes the generators just made; the end-of-iteration actions
        (EMA, learning-rate schedules, ``max_g_steps``) follow the critics' step, once both optimizers stepped."""
        return [Phase("generator", ("generator",), self.generator_loss),
                Phase("discriminator", ("discriminator",), self.discriminator_loss, after_step=(self._after_generator_step,))]

    def generator_loss(self, batch: Batch) -> StepOutput:
        a, b = batch.image, batch.image_b
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        adv_b = self.g_scale * self.objective.g_loss(self.d_b(fake_b))
        adv_a = self.g_scale * self.objective.g_loss(self.d_a(fake_a))
        cycle_a, cycle_b = F.l1_loss(self.g_ba(fake_b), a), F.l1_loss(self.g_ab(fake_a), b)
        loss = adv_a + adv_b + self.cycle_weight * (cycle_a + cycle_b)
        logs = {"loss/g_adv_a": adv_a.detach(), "loss/g_adv_b": adv_b.detach(),
                "loss/cycle_a": cycle_a.detach(), "loss/cycle_b": cycle_b.detach()}
        if self.identity_weight:
            identity_b, identity_a = F.l1_loss(self.g_ab(b), b), F.l1_loss(self.g_ba(a), a)
            loss = loss + self.identity_weight * self.cycle_weight * (identity_a + identity_b)
            logs.update({"loss/identity_a": identity_a.detach(), "loss/identity_b": identity_b.detach()})
        logs["loss/g"] = loss.detach()
        self._fakes = (fake_a.detach(), fake_b.detach())
        return StepOutput(loss, logs, fake=fake_b)

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        if self._fakes is None:  # only when a family reorders the phases: make this batch's fakes
            with torch.no_grad():
                self._fakes = (self.g_ba(batch.image_b), self.g_ab(batch.image))
        fake_a, fake_b = self.pool_a.query(self._fakes[0]), self.pool_b.query(self._fakes[1])
        self._fakes = None
        real_a, real_b = self.d_a(batch.image), self.d_b(batch.image_b)
        judged_a, judged_b = self.d_a(fake_a), self.d_b(fake_b)
        loss_a = self.d_scale * self.objective.d_loss(real_a, judged_a)
        loss_b = self.d_scale * self.objective.d_loss(real_b, judged_b)
        loss = loss_a + loss_b
        logs = {"loss/d": loss.detach(), "loss/d_a": loss_a.detach(), "loss/d_b": loss_b.detach(),
                "d/real": real_b.mean().detach(), "d/fake": judged_b.mean().detach()}
        return StepOutput(loss, logs, fake=fake_b, fake_logits=judged_b, real=batch.image_b, real_logits=real_b)

    # ------------------------------------------------------------------ translation and its measures
    def translate(self, x: Tensor, direction: str = "a2b", ema: bool = True) -> Tensor:
        """Translations of images of domain A (``a2b``) or B (``b2a``), (N, C, S, S) in [-1, 1], in eval mode."""
        if direction not in DIRECTIONS:
            raise ConfigError(f"direction={direction!r} must be 'a2b' or 'b2a'")
        net = self.g_ab if direction == "a2b" else self.g_ba
        if ema and self.ema_generator is not None and direction == "a2b":
            net = self.ema_generator.module
        return self._translated(net, x)

    def input_channels(self, direction: str = "a2b") -> int:
        """Channels of the images ``translate`` reads in ``direction`` (A's for ``a2b``, B's for ``b2a``)."""
        if direction not in DIRECTIONS:
            raise ConfigError(f"direction={direction!r} must be 'a2b' or 'b2a'")
        return int(self.data_shape[0]) if direction == "a2b" else self.translation_args["channels_b"]

    def setup(self, stage: str) -> None:
        super().setup(stage)
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        self._classifier, self._classes = [], None
        domain = getattr(datamodule, "dataset", None)
        if domain in ("fashion_mnist", "digits") and hasattr(datamodule, "class_a"):
            from lit_gans.metrics.domain import load_domain_network

            self._classifier = [load_domain_network(domain)]
            self._classes = (int(datamodule.class_a), int(datamodule.class_b))
            # on images padded up from the classifier's size, it reads the picture inside the border, as it reads
            # real ones (shrinking the whole padded image costs real Fashion-MNIST 3 points of accuracy)
            fit = getattr(getattr(datamodule, "source", datamodule), "fit", None)
            size, native = int(self.data_shape[-1]), self._classifier[0].native_size
            self._border = (size - native) // 2 if fit == "pad" and size > native else 0

    def _validate(self, batch: Batch) -> None:
        a, b = batch.image, batch.image_b
        fake_b, fake_a = self.translate(a, "a2b"), self.translate(b, "b2a")
        cycle = 0.5 * (F.l1_loss(self.translate(fake_b, "b2a"), a) + F.l1_loss(self.translate(fake_a, "a2b"), b))
        scores = {"val/cycle_l1": cycle}
        if self._classifier:
            network, border = self._classifier[0].to(self.device), self._border

            def classifier(x: Tensor) -> Tensor:
                return network(x[..., border:-border, border:-border] if border else x)

            class_a, class_b = self._classes
            a2b = (classifier(fake_b).argmax(1) == class_b).float().mean()
            b2a = (classifier(fake_a).argmax(1) == class_a).float().mean()
            scores.update({"val/a2b_accuracy": a2b, "val/b2a_accuracy": b2a, "val/target_accuracy": (a2b + b2a) / 2})
        self.log_dict(scores, batch_size=len(batch), sync_dist=True)

    def translation_grid(self) -> tuple[Tensor, int]:
        """Six rows: inputs A, G_AB(A), G_BA(G_AB(A)); inputs B, G_BA(B), G_AB(G_BA(B))."""
        fixed = self.fixed_inputs()
        fake_b, fake_a = self.translate(fixed.image, "a2b"), self.translate(fixed.image_b, "b2a")
        rows = [fixed.image, fake_b, self.translate(fake_b, "b2a"), fixed.image_b, fake_a, self.translate(fake_a, "a2b")]
        if any(r.shape[1] != rows[0].shape[1] for r in rows):
            rows = [as_rgb(r) for r in rows]
        return torch.cat(rows), len(fixed)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, cycle_weight={self.cycle_weight}, identity_weight={self.identity_weight}"


__all__ = ["CycleGAN"]
