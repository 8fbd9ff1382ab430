"""StyleGAN (Karras, Laine & Aila 2019) and StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the
Image Quality of StyleGAN")."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Literal, Optional, Sequence

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.families.base import AdversarialModule, adam
from lit_gans.losses import ObjectiveName
from lit_gans.nets.factory import Architecture
from lit_gans.nets.packing import Packed, packed_shape
from lit_gans.nets.stylegan import StyleGANDiscriminator, StyleGANGenerator
from lit_gans.penalties import R1, PathLength, Penalty


class LazyAdjusted:
    """An optimizer factory whose optimizer steps as if the lazy penalties of its phase were applied every
    step (StyleGAN2, appendix B): with a penalty every k steps, ``c = k / (k + 1)``, the learning rate is
    multiplied by c and Adam's betas raised to the power c. A picklable wrapper of the config's factory."""

    def __init__(self, factory: Callable, ratio: float):
        self.factory, self.ratio = factory, ratio

    def __call__(self, params: Any) -> torch.optim.Optimizer:
        optimizer = self.factory(params)
        for settings in (optimizer.defaults, *optimizer.param_groups):  # defaults: what a resumed run puts back
            settings["lr"] = settings["lr"] * self.ratio
            if "betas" in settings:
                settings["betas"] = tuple(beta**self.ratio for beta in settings["betas"])
        return optimizer


class StyleGAN(AdversarialModule):
    """StyleGAN2 by default (``style: modulated``), StyleGAN with ``style: adain``
    (``lit_gans.nets.stylegan``): a mapping network z -> w (``mapping_layers`` layers, learning rate x0.01),
    a synthesis network from a learnt 4x4 constant styled by w at every layer, per-layer noise inputs,
    style-mixing regularisation (``mixing_prob``), a tracked average of w for truncation in W, and
    StyleGAN2's residual discriminator with the minibatch standard deviation.

    The StyleGAN2 recipe: the non-saturating loss, R1 on real images (gamma 10) every 16 critic steps and
    the path-length regulariser (weight 2, decay 0.01, in W) every 4 generator steps (lazy
    regularisation, each scaled by its interval; the learning rates and Adam's betas adjusted for the
    intervals, ``LazyAdjusted``), Adam with lr 0.002 and betas (0, 0.99), generator EMA.

    Args:
        architecture: ``stylegan``.
        style: ``modulated`` (StyleGAN2: modulated and demodulated convolutions) or ``adain`` (StyleGAN).
        w_dim: size of w; None takes ``latent_dim``.
        mapping_layers: layers of the mapping network (the paper's 8; stylegan2-ada-pytorch's small-data
            ``cifar`` setting uses 2).
        mapping_lr_mul: learning-rate multiplier of the mapping network.
        mixing_prob: share of training batches whose styles switch from one z to another at a random layer.
        w_avg_beta: decay of the tracked average of w.
        penalties: None takes StyleGAN2's ``[R1(gamma=10, every=16), PathLength(weight=2, every=4)]``; a list
            replaces it.
        lazy_adjust: adjust each optimizer for the lazy penalties of its phase (``LazyAdjusted``).
        d_batch_norm: unused (the critic has no normalisation); kept so saved hyperparameters load.
        kwargs: the loop's other arguments (``AdversarialModule``); ``g_width``/``d_width`` are the channels up
            to 32 px (the papers' 512), halved per doubling above.
    """

    clamp_samples = True  # linear output (``lit_gans.sampling.Sampling``)

    def __init__(
        self,
        architecture: Architecture = "stylegan",
        style: Literal["modulated", "adain"] = "modulated",
        w_dim: Optional[int] = None,
        mapping_layers: int = 8,
        mapping_lr_mul: float = 0.01,
        mixing_prob: float = 0.9,
        w_avg_beta: float = 0.995,
        objective: ObjectiveName = "non_saturating",
        penalties: Optional[list[Penalty]] = None,
        lazy_adjust: bool = True,
        latent_dim: int = 512,
        g_width: Optional[int] = 512,
        d_width: Optional[int] = 512,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        ema_decay: Optional[float] = 0.999,
        d_batch_norm: bool = False,
        **kwargs: Any,
    ):
        if architecture != "stylegan":
            raise ConfigError(f"StyleGAN builds its own networks: model.architecture={architecture!r} must be 'stylegan'")
        self.style_args = dict(style=style, w_dim=w_dim or latent_dim, mapping_layers=mapping_layers,
                               mapping_lr_mul=mapping_lr_mul, mixing_prob=mixing_prob, w_avg_beta=w_avg_beta)
        default = [R1(gamma=10.0, every=16), PathLength(weight=2.0, every=4)]
        super().__init__(
            architecture=architecture, objective=objective, penalties=default if penalties is None else penalties,
            latent_dim=latent_dim, g_width=g_width, d_width=d_width, d_batch_norm=d_batch_norm,
            g_optimizer=g_optimizer or adam(2e-3, (0.0, 0.99)), d_optimizer=d_optimizer or adam(2e-3, (0.0, 0.99)),
            ema_decay=ema_decay, **kwargs,
        )
        if lazy_adjust:
            self.g_optimizer = self._adjusted(self.g_optimizer, "generator")
            self.d_optimizer = self._adjusted(self.d_optimizer, "discriminator")

    def build_networks(self, architecture: Architecture, g_width: Optional[int], d_width: Optional[int],
                       d_batch_norm: bool, **_: Any) -> dict[str, nn.Module]:
        if self.conditional:
            raise ConfigError("StyleGAN is unconditional here: set model.conditional: false")
        args = self.style_args
        g_width, d_width = g_width or 512, d_width or 512
        generator = StyleGANGenerator(self.latent_spec.input_dim, self.data_shape, width=g_width, w_dim=args["w_dim"],
                                      mapping_layers=args["mapping_layers"], mapping_lr_mul=args["mapping_lr_mul"],
                                      style=args["style"], w_avg_beta=args["w_avg_beta"], mixing_prob=args["mixing_prob"])
        shape = packed_shape(self.data_shape, self.pack) if self.pack > 1 else self.data_shape
        discriminator = StyleGANDiscriminator(shape, width=d_width)
        return {"generator": generator, "discriminator": Packed(discriminator, self.pack) if self.pack > 1 else discriminator}

    def _adjusted(self, factory: Callable, phase: str) -> Callable:
        lazy = [p.every for p in self.penalties if p.phase == phase and p.every > 1]
        if not lazy:
            return factory
        if len(set(lazy)) > 1:
            raise ConfigError(f"the {phase} phase has lazy penalties with different intervals {sorted(lazy)}; give them "
                              "one interval, or set model.lazy_adjust: false and adjust the optimizer yourself")
        return LazyAdjusted(factory, lazy[0] / (lazy[0] + 1))

    def _update_ema(self) -> None:
        super()._update_ema()
        if self.ema_generator is not None:  # the reference copies buffers into its EMA generator, w_avg among them
            self.ema_generator.module.mapping.w_avg.copy_(self.network("generator").mapping.w_avg)

    # ------------------------------------------------------------------ truncation in W
    @contextmanager
    def truncated(self, psi: Optional[float], cutoff: Optional[int] = None) -> Iterator[None]:
        """Within the block, the generators (raw and EMA) truncate w towards the tracked average by ``psi``
        in the first ``cutoff`` layers (None: all); ``psi`` None or 1 changes nothing."""
        if psi is not None and not 0 <= psi < float("inf"):
            raise ConfigError(f"psi={psi} must be a number >= 0: 1 keeps w as it is, 0.7 is StyleGAN's truncation, 0 gives "
                              "the average image")
        networks = [self.network("generator"), *([self.ema_generator.module] if self.ema_generator is not None else [])]
        before = [(n.truncation_psi, n.truncation_cutoff) for n in networks]
        for network in networks:
            network.truncation_psi, network.truncation_cutoff = (1.0 if psi is None else float(psi)), cutoff
        try:
            yield
        finally:
            for network, (p, c) in zip(networks, before):
                network.truncation_psi, network.truncation_cutoff = p, c

    def sample(self, n: int, *args: Any, psi: Optional[float] = None, cutoff: Optional[int] = None, **kwargs: Any) -> Tensor:
        """``AdversarialModule.sample``, with truncation in W: ``psi`` (StyleGAN used 0.7) in the first ``cutoff``
        of ``network("generator").num_ws`` layers (None: all; StyleGAN used 8 of 18)."""
        with self.truncated(psi, cutoff):
            return super().sample(n, *args, **kwargs)

    def style_mixing(self, rows: Sequence[Tensor], columns: Sequence[Tensor], layers: tuple[int, int],
                     ema: bool = True) -> Tensor:
        """StyleGAN's figure 3 as a tensor ``[len(rows) * len(columns), C, S, S]``: the image of row i, column j
        takes the styles of ``layers = (start, stop)`` from ``rows[i]`` and every other layer's from
        ``columns[j]``; each entry is one z of shape ``[latent_dim]``. Of ``num_ws`` layers, the first two
        (4x4) are the coarse styles (pose, shape), the last ones the fine styles (texture, colour)."""
        net = self.sampling_generator if ema else self.network("generator")
        start, stop = layers
        if not 0 <= start < stop <= net.num_ws:
            raise ConfigError(f"layers={tuple(layers)} must be (start, stop) with 0 <= start < stop <= {net.num_ws}")
        was_training = net.training
        net.eval()
        try:
            with torch.no_grad():
                row_ws = net.mapping(torch.stack([r for r in rows for _ in columns]).to(self.device), num_ws=net.num_ws)
                ws = net.mapping(torch.stack([c for _ in rows for c in columns]).to(self.device), num_ws=net.num_ws)
                ws[:, start:stop] = row_ws[:, start:stop]
                return net.synthesis(ws, "const").clamp(-1, 1)
        finally:
            net.train(was_training)

    def interpolate_w(self, start: Tensor, end: Tensor, steps: int = 10, ema: bool = True) -> Tensor:
        """Images along straight lines in W (``[len(start) * steps, C, S, S]``, row-major): row i goes from
        the w of ``start[i]`` to that of ``end[i]`` (z batches ``[N, latent_dim]``) in ``steps`` images, with the
        noise inputs fixed. The paper interpolates in W linearly (in Z spherically, ``lit_gans.latent.slerp``)."""
        if steps < 2:
            raise ConfigError(f"steps={steps} must be at least 2 (both ends of the path)")
        net = self.sampling_generator if ema else self.network("generator")
        was_training = net.training
        net.eval()
        try:
            with torch.no_grad():
                w_a, w_b = (net.mapping(z.to(self.device))[:, 0] for z in (start, end))
                t = torch.linspace(0, 1, steps, device=self.device)[None, :, None]
                path = torch.lerp(w_a[:, None], w_b[:, None], t).reshape(-1, w_a.shape[1])
                return net.synthesis(path[:, None].repeat(1, net.num_ws, 1), "const").clamp(-1, 1)
        finally:
            net.train(was_training)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, style={self.style_args['style']}, mapping_layers={self.style_args['mapping_layers']}"


__all__ = ["LazyAdjusted", "StyleGAN"]
